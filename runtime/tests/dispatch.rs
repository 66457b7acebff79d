//! Dispatch, configuration report and linking, through real `#[connector]` handlers written
//! against the test registry (`tests/fixtures/services.json`).

use std::cell::Cell;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use workerflow_runtime::{
    ConfigProblem, ConnectorError, DisabledBy, DispatchError, GatewayError, GatewayKind,
    MapSecrets, ProviderError, RouteContext, SecretSource, TraceId, connector,
};

// The generated module is written for a crate's root, with `pub` items; inside this private
// module they are reachable from this crate only, which is all these tests need.
#[allow(dead_code, unreachable_pub)]
mod registry {
    include!("support/registry.rs");
}

use registry::routes::{echo, notify, pair};

/// A value that must never show up in any output.
const SENTINEL: &str = "sk_test_SENTINEL_d41d8cd9";

thread_local! {
    /// Calls of `echo_handler` on this thread. Per thread because the test harness runs tests
    /// in parallel and `dispatch_blocking` runs the handler on the calling thread.
    static ECHO_CALLS: Cell<usize> = const { Cell::new(0) };
}

#[derive(Deserialize)]
struct EchoInput {
    text: String,
    #[serde(default)]
    tags: Vec<Tag>,
}

#[derive(Deserialize)]
struct Tag {
    #[allow(dead_code)]
    name: String,
}

#[derive(Serialize)]
struct EchoOutput {
    ok: bool,
    route: &'static str,
    text: String,
    key_from: &'static str,
    key_length: usize,
    trace_id: String,
}

/// A sync handler: upper-cases the text and reports which secret name supplied the key.
#[connector(route = echo)]
fn echo_handler(
    ctx: &RouteContext<echo::Route>,
    input: EchoInput,
) -> Result<EchoOutput, ConnectorError> {
    ECHO_CALLS.set(ECHO_CALLS.get() + 1);
    let key = ctx.secret(echo::DEMO_API_KEY);
    if input.text == "fail" {
        return Err(ConnectorError::invalid_input(
            ctx.route_id(),
            "text",
            "echo: \"text\" must not be fail",
        ));
    }
    Ok(EchoOutput {
        ok: true,
        route: ctx.route_id(),
        text: format!(
            "{}{}",
            input.text.to_uppercase(),
            "!".repeat(input.tags.len())
        ),
        key_from: key.name(),
        key_length: key.expose().len(),
        trace_id: ctx.trace_id().to_string(),
    })
}

/// An async handler that fails the way a provider call would, with a redacted excerpt.
#[connector(route = notify)]
async fn notify_handler(
    ctx: &RouteContext<notify::Route>,
    input: Value,
) -> Result<Value, ConnectorError> {
    let url = ctx.secret(notify::DEMO_WEBHOOK_URL);
    std::future::ready(()).await;
    match input.get("fail").and_then(Value::as_str) {
        Some("provider") => Err(ConnectorError::Provider(Box::new(ProviderError {
            route: ctx.route_id(),
            prefix: "Demo webhook failed".into(),
            status: 503,
            code: None,
            provider_message: None,
            excerpt: "echoed [REDACTED]".into(),
            details: None,
            attempts: 3,
            message: "Demo webhook failed: 503 Service Unavailable echoed [REDACTED]".into(),
        }))),
        Some("gateway") => Err(ConnectorError::Gateway(Box::new(GatewayError {
            route: ctx.route_id(),
            prefix: "Demo webhook failed".into(),
            host: "127.0.0.1:9".into(),
            kind: GatewayKind::Connect,
            attempts: 3,
            message: "Demo webhook failed: connection failed (127.0.0.1:9): connection refused"
                .into(),
        }))),
        Some("unusable") => Err(ConnectorError::config(
            ctx.route_id(),
            url.unusable("not an absolute http(s) URL"),
        )),
        _ => {
            Ok(json!({"ok": true, "route": ctx.route_id(), "delivered": !url.expose().is_empty()}))
        }
    }
}

#[connector(route = pair)]
fn pair_handler(ctx: &RouteContext<pair::Route>, _input: Value) -> Result<Value, ConnectorError> {
    Ok(json!({"token_from": ctx.secret(pair::PAIR_TOKEN).name()}))
}

fn secrets() -> MapSecrets {
    MapSecrets::new()
        .with("DEMO_KEY_FALLBACK", format!("  {SENTINEL}\n"))
        .with("DEMO_API_KEY", "   ")
        .with(
            "DEMO_WEBHOOK_URL",
            format!("https://hooks.example/{SENTINEL}"),
        )
}

fn dispatch(
    route: &str,
    payload: Value,
    secrets: &dyn SecretSource,
) -> Result<Value, DispatchError> {
    let registry = registry::linked().expect("no duplicate handlers");
    registry.dispatch_blocking(route, payload, secrets)
}

fn assert_no_sentinel(error: &DispatchError) {
    for text in workerflow_runtime::testing::shown_forms(error) {
        assert!(!text.contains(SENTINEL), "secret leaked: {text}");
    }
}

#[test]
fn dispatch_unwraps_the_envelope_and_resolves_secrets_in_order() {
    let output = dispatch(
        "echo",
        json!({"body": {"text": "hi", "tags": [{"name": "a"}]}}),
        &secrets(),
    );
    let output = output.expect("echo succeeds");
    assert_eq!(output["text"], "HI!");
    assert_eq!(
        output["key_from"], "DEMO_KEY_FALLBACK",
        "a blank first name falls through"
    );
    assert_eq!(output["key_length"], SENTINEL.len(), "the value is trimmed");
    let keys: Vec<&str> = output
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(
        keys[..2],
        ["ok", "route"],
        "output keys keep the handler's order"
    );
}

#[test]
fn each_call_gets_a_trace_id_and_callers_may_supply_one() {
    let registry = registry::linked().expect("linked");
    let first = registry.dispatch_blocking("echo", json!({"text": "a"}), &secrets());
    let second = registry.dispatch_blocking("echo", json!({"text": "a"}), &secrets());
    let (first, second) = (first.expect("ok"), second.expect("ok"));
    assert_ne!(first["trace_id"], second["trace_id"]);
    let trace = TraceId::new("run-42").expect("valid trace id");
    let traced = pollster::block_on(registry.dispatch_with_trace(
        "echo",
        json!({"text": "a"}),
        &secrets(),
        trace,
    ));
    assert_eq!(traced.expect("ok")["trace_id"], "run-42");
}

#[test]
fn async_handlers_are_awaited() {
    let output =
        dispatch("notify", json!({"body": {"text": "hi"}}), &secrets()).expect("notify succeeds");
    assert_eq!(
        output,
        json!({"ok": true, "route": "notify", "delivered": true})
    );
}

#[test]
fn missing_secrets_fail_before_the_handler_runs() {
    let before = ECHO_CALLS.get();
    let blank = MapSecrets::new().with("DEMO_API_KEY", " \t ");
    // Invalid input too: the configuration error wins (docs/ROUTES.md 1.1).
    let error = dispatch("echo", json!({"body": 5}), &blank).expect_err("no key");
    assert_eq!(ECHO_CALLS.get(), before, "the handler must not run");
    assert_eq!(error.status(), 500);
    assert_eq!(
        error.to_string(),
        r#"route "echo": missing Demo API key. Checked: DEMO_API_KEY, DEMO_KEY_FALLBACK"#
    );
    let error = dispatch("pair", json!({}), &MapSecrets::new()).expect_err("nothing set");
    assert_eq!(
        error.to_string(),
        r#"route "pair": missing Demo API key. Checked: DEMO_API_KEY; route "pair": missing pair token. Checked: PAIR_TOKEN, PAIR_TOKEN_OLD"#
    );
    insta::assert_json_snapshot!("missing_secrets_error", error);
}

#[test]
fn invalid_input_names_the_field() {
    let error = dispatch(
        "echo",
        json!({"body": {"text": "x", "tags": [{"name": 1}]}}),
        &secrets(),
    )
    .expect_err("bad tag");
    assert_eq!(error.status(), 400);
    let Some(ConnectorError::InvalidInput { problems, .. }) = error.as_connector() else {
        panic!("expected invalid input, got {error:?}");
    };
    assert_eq!(problems[0].field, "tags[0].name");
    assert_eq!(
        error.to_string(),
        "echo: \"tags[0].name\": invalid type: integer `1`, expected a string"
    );
    let error = dispatch("echo", json!({"body": "text"}), &secrets()).expect_err("not an object");
    assert_eq!(error.as_connector().map(ConnectorError::status), Some(400));
    insta::assert_json_snapshot!("invalid_input_error", error);
    let error = dispatch("echo", json!({"text": "fail"}), &secrets()).expect_err("handler refuses");
    assert_eq!(error.to_string(), "echo: \"text\" must not be fail");
}

#[test]
fn unknown_and_unimplemented_routes() {
    let error = dispatch("ecko", json!({}), &secrets()).expect_err("unknown");
    assert_eq!(error.status(), 404);
    assert_eq!(
        error.to_string(),
        r#"unknown route "ecko"; did you mean "echo"?"#
    );
    let error = dispatch("stripe", json!({}), &secrets()).expect_err("unknown");
    assert_eq!(error.to_string(), r#"unknown route "stripe""#);
    let error = dispatch("unimplemented", json!({}), &secrets()).expect_err("not implemented");
    assert_eq!(error.status(), 501);
    insta::assert_json_snapshot!(
        "unknown_route_error",
        dispatch("ecko", json!({}), &secrets()).err()
    );
}

#[test]
fn connector_error_classes_map_to_statuses() {
    let provider = dispatch(
        "notify",
        json!({"text": "hi", "fail": "provider"}),
        &secrets(),
    )
    .expect_err("503");
    assert_eq!((provider.status(), provider.is_transient()), (503, true));
    let gateway = dispatch(
        "notify",
        json!({"text": "hi", "fail": "gateway"}),
        &secrets(),
    )
    .expect_err("502");
    assert_eq!((gateway.status(), gateway.is_transient()), (502, true));
    let unusable = dispatch(
        "notify",
        json!({"text": "hi", "fail": "unusable"}),
        &secrets(),
    )
    .expect_err("500");
    assert_eq!(unusable.status(), 500);
    assert_eq!(
        unusable.to_string(),
        r#"route "notify": invalid demo webhook URL (from DEMO_WEBHOOK_URL): not an absolute http(s) URL"#
    );
    insta::assert_json_snapshot!("provider_error", provider);
    for error in [&provider, &gateway, &unusable] {
        assert_no_sentinel(error);
    }
}

#[test]
fn the_registry_reports_missing_routes_and_configuration() {
    let registry = registry::linked().expect("linked");
    let ids: Vec<&str> = registry.routes().map(|r| r.id()).collect();
    assert_eq!(ids, ["echo", "notify", "pair"]);
    let missing: Vec<&str> = registry.missing().iter().map(|r| r.id).collect();
    assert_eq!(missing, ["unimplemented", "crm_lookup", "crm_sync"]);
    let linked_echo = registry.get("echo").expect("echo is linked");
    assert_eq!(linked_echo.function(), "dispatch::echo_handler");
    assert!(registry.get("unimplemented").is_none());

    let report = registry.check_config(&MapSecrets::new().with("DEMO_WEBHOOK_URL", SENTINEL));
    assert!(!report.ok);
    let text = report.to_string();
    assert_eq!(
        text,
        "echo: missing Demo API key. Checked: DEMO_API_KEY, DEMO_KEY_FALLBACK\n\
         notify: ok\n\
         pair: missing Demo API key. Checked: DEMO_API_KEY; missing pair token. Checked: PAIR_TOKEN, PAIR_TOKEN_OLD\n\
         unimplemented: not implemented\n\
         crm_lookup: not implemented; missing Crm token. Checked: CRM_TOKEN\n\
         crm_sync: not implemented\n"
    );
    let json = serde_json::to_string_pretty(&report).unwrap_or_default();
    assert!(!json.contains(SENTINEL) && !format!("{report:?}").contains(SENTINEL));
    insta::assert_snapshot!("config_report", json);
    assert!(matches!(
        &report.routes[0].missing[0],
        ConfigProblem::Missing { label, .. } if label == "Demo API key"
    ));
}

#[test]
fn only_enabled_routes_are_judged_and_called() {
    let settings = MapSecrets::new()
        .with("ENABLED_HTTP_ROUTES", "notify, pair,unimplemented")
        .with("DISABLED_HTTP_ROUTES", "pair,unimplemented");
    let registry = registry::linked()
        .expect("linked")
        .with_enablement(&settings)
        .expect("known routes");
    let report = registry.check_config(&MapSecrets::new().with("DEMO_WEBHOOK_URL", SENTINEL));
    assert!(report.ok, "{report}");
    assert_eq!(report.enabled_count(), 1);
    assert_eq!(
        report.to_string(),
        "echo: disabled (not in ENABLED_HTTP_ROUTES)\n\
         notify: ok\n\
         pair: disabled (in DISABLED_HTTP_ROUTES)\n\
         unimplemented: disabled (in DISABLED_HTTP_ROUTES)\n\
         crm_lookup: disabled (not in ENABLED_HTTP_ROUTES)\n\
         crm_sync: disabled (not in ENABLED_HTTP_ROUTES)\n"
    );
    let error = registry
        .dispatch_blocking("echo", json!({"body": {"text": "hi"}}), &secrets())
        .expect_err("disabled");
    assert_eq!(
        (error.status(), error.class(), error.to_string()),
        (
            404,
            "route_disabled",
            "route \"echo\" is disabled in this deployment (not in ENABLED_HTTP_ROUTES)".to_owned()
        )
    );
    assert_eq!(registry.disabled_by("pair"), Some(DisabledBy::Disabled));
    assert_eq!(registry.disabled_by("notify"), None);

    let unknown = registry::linked()
        .expect("linked")
        .with_enablement(&MapSecrets::new().with("DISABLED_HTTP_ROUTES", "ecoh"))
        .map(|_| ())
        .expect_err("unknown");
    assert_eq!(
        unknown.to_string(),
        "DISABLED_HTTP_ROUTES names unknown route \"ecoh\"; did you mean \"echo\"?"
    );
}

#[test]
fn nothing_prints_a_secret() {
    let registry = registry::linked().expect("linked");
    let source = secrets();
    let debug = [
        format!("{registry:?}"),
        format!("{source:?}"),
        format!("{:?}", registry.check_config(&source)),
    ];
    for text in debug {
        assert!(!text.contains(SENTINEL), "secret leaked: {text}");
    }
    let error = dispatch("echo", json!({"body": 1}), &source).expect_err("invalid");
    assert_no_sentinel(&error);
}

#[test]
fn handlers_stay_callable_directly() {
    // The attribute leaves the function as written: a test builds a context and calls it.
    let ctx = RouteContext::resolve(&echo, TraceId::new("direct").expect("valid"), &secrets())
        .expect("configured");
    let input = EchoInput {
        text: "direct".into(),
        tags: Vec::new(),
    };
    let output = echo_handler(&ctx, input).map_err(|e| e.to_string());
    assert_eq!(
        output.map(|o| (o.text, o.trace_id)),
        Ok(("DIRECT".into(), "direct".into()))
    );
    let missing = RouteContext::resolve(&echo, TraceId::generate(), &MapSecrets::new());
    assert_eq!(
        missing.map(|_| ()).map_err(|e| e.to_string()),
        Err(
            r#"route "echo": missing Demo API key. Checked: DEMO_API_KEY, DEMO_KEY_FALLBACK"#
                .into()
        )
    );
}
