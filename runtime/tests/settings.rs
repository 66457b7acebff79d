//! Optional settings (the contract's `settings`, read with `ctx.setting(<route>::<NAME>)`):
//! resolved after the secrets and before the handler, defaults, base-URL checks, direct calls.

use serde_json::{Value, json};
use workerflow_runtime::{
    ConnectorError, DispatchError, MapSecrets, RouteContext, TraceId, connector,
};

// The generated module is written for a crate's root, with `pub` items; inside this private
// module they are reachable from this crate only, which is all these tests need.
#[allow(dead_code, unreachable_pub)]
mod registry {
    include!("support/registry.rs");
}

use registry::routes::echo;

#[connector(route = echo)]
fn echo_settings(ctx: &RouteContext<echo::Route>, _input: Value) -> Result<Value, ConnectorError> {
    Ok(json!({
        "mode": ctx.setting(echo::DEMO_MODE),
        "base": ctx.setting(echo::DEMO_BASE_URL),
    }))
}

fn dispatch(secrets: &MapSecrets) -> Result<Value, DispatchError> {
    let registry = registry::linked().expect("one handler per route");
    registry.dispatch_blocking("echo", json!({}), secrets)
}

#[test]
fn settings_are_trimmed_defaulted_and_declared() {
    let secrets = MapSecrets::new()
        .with("DEMO_API_KEY", "k")
        .with("DEMO_OTHER", "x");
    assert_eq!(
        dispatch(&secrets).expect("defaults"),
        json!({"mode": "plain", "base": "https://api.example"})
    );
    let secrets = secrets
        .with("DEMO_MODE", "  loud \n")
        .with("DEMO_BASE_URL", "http://127.0.0.1:9/proxy/");
    assert_eq!(
        dispatch(&secrets).expect("set"),
        json!({"mode": "loud", "base": "http://127.0.0.1:9/proxy/"})
    );
    let linked = registry::linked().expect("linked");
    let names: Vec<&str> = linked
        .get("echo")
        .expect("echo")
        .settings()
        .iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["DEMO_MODE", "DEMO_BASE_URL"]);
}

#[test]
fn an_unusable_base_url_fails_before_the_handler_and_after_the_secrets() {
    let bad = MapSecrets::new()
        .with("DEMO_API_KEY", "k")
        .with("DEMO_BASE_URL", "ftp://sk_SECRET@x");
    let error = dispatch(&bad).expect_err("unusable");
    assert_eq!(
        error.to_string(),
        "route \"echo\": invalid Demo base URL (from DEMO_BASE_URL): not an absolute http(s) URL"
    );
    assert_eq!(error.status(), 500);
    assert!(!format!("{error:?}").contains("SECRET"));
    let mut missing_too = bad;
    missing_too.remove("DEMO_API_KEY");
    let error = dispatch(&missing_too).expect_err("missing");
    assert_eq!(
        error.to_string(),
        "route \"echo\": missing Demo API key. Checked: DEMO_API_KEY, DEMO_KEY_FALLBACK"
    );
}

#[test]
fn direct_calls_resolve_settings_too() {
    let secrets = MapSecrets::new()
        .with("DEMO_API_KEY", "k")
        .with("DEMO_MODE", "m");
    let trace = TraceId::new("t-1").expect("trace id");
    let ctx = RouteContext::resolve(&echo, trace, &secrets).expect("resolved");
    assert_eq!(ctx.setting(echo::DEMO_MODE), Some("m"));
    assert_eq!(
        ctx.declared_setting(echo::DEMO_BASE_URL).map(|s| s.label),
        Some("Demo base URL")
    );
    let bad = secrets.with("DEMO_BASE_URL", "nope");
    let trace = TraceId::new("t-2").expect("trace id");
    let error = RouteContext::resolve(&echo, trace, &bad).expect_err("unusable");
    assert!(matches!(error, ConnectorError::Config { .. }));
}
