//! `RouteTable::prepare`: the input is checked against the route's schema before the call,
//! without running the handler; `notify`'s fixture contract requires a non-blank `text`.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::{Value, json};
use workerflow_runtime::http::{HttpClient, HttpPolicy, HttpUrl, OutboundRequest};
use workerflow_runtime::{ConnectorError, DispatchError, MapSecrets, RouteContext, connector};

// The generated module is written for a crate's root, with `pub` items; inside this private
// module they are reachable from this crate only, which is all these tests need.
#[allow(dead_code, unreachable_pub)]
mod registry {
    include!("support/registry.rs");
}

use registry::routes::notify;

include!("support/counting.rs");

thread_local! {
    /// Calls of `notify_handler` on this thread (`#[tokio::test]` runs on the test's thread):
    /// `prepare` must never run it.
    static HANDLER_RUNS: Cell<usize> = const { Cell::new(0) };
}

/// Checks its input again, then sends; turns any send failure into an input error.
#[connector(route = notify)]
async fn notify_handler(
    ctx: &RouteContext<notify::Route>,
    input: Value,
) -> Result<Value, ConnectorError> {
    HANDLER_RUNS.set(HANDLER_RUNS.get() + 1);
    let Some(text) = input.get("text").and_then(Value::as_str) else {
        return Err(ConnectorError::invalid_input(
            ctx.route_id(),
            "text",
            "notify: requires \"text\"",
        ));
    };
    let url = HttpUrl::parse(ctx.secret(notify::DEMO_WEBHOOK_URL).expose()).map_err(|_| {
        ConnectorError::invalid_input(ctx.route_id(), "url", "notify: bad webhook URL")
    })?;
    let request = OutboundRequest::webhook(url).json(&json!({ "text": text }));
    match ctx.send(&request).await {
        Ok(_) => Ok(json!({"ok": true, "route": ctx.route_id()})),
        Err(_) => Err(ConnectorError::invalid_input(
            ctx.route_id(),
            "text",
            "notify: the send failed",
        )),
    }
}

fn setup() -> (workerflow_runtime::RouteTable, Arc<Counting>, MapSecrets) {
    let transport = Arc::new(Counting::default());
    let client = HttpClient::with_transport(HttpPolicy::default(), transport.clone());
    let registry = registry::linked().expect("linked").with_http(client);
    let secrets = MapSecrets::new().with("DEMO_WEBHOOK_URL", "https://hooks.example/x");
    (registry, transport, secrets)
}

#[tokio::test]
async fn bad_input_is_refused_by_prepare_and_nothing_is_sent() {
    let (registry, transport, secrets) = setup();
    let error = registry
        .prepare("notify", json!({"body": {}}), &secrets)
        .expect_err("refused");
    let dispatched = registry
        .dispatch("notify", json!({"body": {}}), &secrets)
        .await
        .expect_err("refused");
    assert_eq!(error.to_string(), dispatched.to_string());
    assert_eq!(error.to_string(), "notify: \"text\" is required");
    assert_eq!(error.status(), 400);
    assert_eq!(transport.0.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn good_input_passes_without_running_the_handler_and_the_call_sends_once() {
    let (registry, transport, secrets) = setup();
    let before = HANDLER_RUNS.get();
    let prepared = registry
        .prepare("notify", json!({"body": {"text": "hi"}}), &secrets)
        .expect("the input passes");
    assert_eq!(prepared.route(), "notify");
    assert_eq!(transport.0.load(Ordering::SeqCst), 0, "nothing sent");
    assert_eq!(HANDLER_RUNS.get(), before, "no handler code ran");
    let output = prepared.await.expect("sent");
    assert_eq!(output, json!({"ok": true, "route": "notify"}));
    assert_eq!(transport.0.load(Ordering::SeqCst), 1);
    assert!(HANDLER_RUNS.get() > before);
}

#[test]
fn prepare_runs_no_handler_code() {
    let (registry, _transport, secrets) = setup();
    // The handler would refuse a missing webhook URL; `prepare` never gets that far.
    let before = HANDLER_RUNS.get();
    let refused = registry.prepare("notify", json!({"body": {"text": " "}}), &secrets);
    let passed = registry.prepare("notify", json!({"body": {"text": "x"}}), &secrets);
    assert_eq!(
        refused.map(|_| ()).map_err(|e| e.to_string()),
        Err("notify: \"text\" must not be blank".to_owned())
    );
    assert!(passed.is_ok());
    drop(passed);
    assert_eq!(HANDLER_RUNS.get(), before);
}

#[test]
fn lookup_and_configuration_errors_come_first() {
    let (registry, _transport, _secrets) = setup();
    let unknown = registry
        .prepare("notfy", json!({}), &MapSecrets::new())
        .expect_err("unknown");
    assert!(
        matches!(unknown, DispatchError::UnknownRoute { .. }),
        "{unknown}"
    );
    assert_eq!(
        registry.lookup("notfy").expect_err("unknown").to_string(),
        unknown.to_string()
    );
    let missing = registry
        .prepare("notify", json!({"body": {}}), &MapSecrets::new())
        .expect_err("missing secret");
    assert_eq!(missing.status(), 500, "{missing}");
}
