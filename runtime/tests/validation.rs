//! The runtime checks each route's input against its contract schema before any handler runs,
//! with every problem in one error, and (in debug builds) each output against its output
//! schema. `notify`'s fixture contract: a non-blank `text`, a positive integer `count`, `fail`
//! from a list, no `webhookUrl`; the output is `{ok, route, delivered?}` and nothing else.

use serde_json::{Value, json};
use workerflow_runtime::{
    ConnectorError, DispatchError, InputProblem, MapSecrets, RouteContext, RouteTable, connector,
};

// The generated module is written for a crate's root, with `pub` items; inside this private
// module they are reachable from this crate only, which is all these tests need.
#[allow(dead_code, unreachable_pub)]
mod registry {
    include!("support/registry.rs");
}

use registry::routes::notify;

/// Answers without sending; `fail: "drift"` returns an output its contract does not allow.
#[connector(route = notify)]
fn notify_handler(
    ctx: &RouteContext<notify::Route>,
    input: Value,
) -> Result<Value, ConnectorError> {
    match input.get("fail").and_then(Value::as_str) {
        Some("drift") => Ok(json!({"ok": true, "route": ctx.route_id(), "delivered": "yes"})),
        _ => Ok(json!({"ok": true, "route": ctx.route_id(), "delivered": true})),
    }
}

fn table() -> RouteTable {
    registry::linked().expect("linked")
}

fn secrets() -> MapSecrets {
    MapSecrets::new().with("DEMO_WEBHOOK_URL", "https://hooks.example/x")
}

/// The problems of a refused call, after checking `prepare` refuses it the same way.
fn problems(payload: Value) -> (String, Vec<InputProblem>) {
    let table = table();
    let prepared = table
        .prepare("notify", payload.clone(), &secrets())
        .map(|_| ())
        .expect_err("refused by prepare");
    let error = table
        .dispatch_blocking("notify", payload, &secrets())
        .expect_err("refused by dispatch");
    assert_eq!(prepared, error);
    assert_eq!((error.status(), error.class()), (400, "invalid_input"));
    match error {
        DispatchError::Connector(ConnectorError::InvalidInput { problems, .. }) => {
            (error_message(&problems), problems)
        }
        other => panic!("expected invalid input, got {other:?}"),
    }
}

fn error_message(problems: &[InputProblem]) -> String {
    let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
    messages.join("; ")
}

#[test]
fn every_problem_is_reported_at_once_in_pointer_order() {
    let (message, problems) = problems(json!({"body": {
        "webhookUrl": "https://elsewhere.example",
        "fail": "sometimes",
        "count": 0,
    }}));
    assert_eq!(
        message,
        "notify: \"count\" must be an integer greater than 0; \
         notify: \"fail\" must be one of \"provider\", \"gateway\", \"unusable\", \"drift\"; \
         notify: \"text\" is required; \
         notify: \"webhookUrl\" is not accepted"
    );
    let pointers: Vec<&str> = problems.iter().map(|p| p.pointer.as_str()).collect();
    assert_eq!(pointers, ["/count", "/fail", "/text", "/webhookUrl"]);
}

#[test]
fn the_error_body_carries_field_and_pointer() {
    let table = table();
    let error = table
        .dispatch_blocking("notify", json!({"body": {"text": 5}}), &secrets())
        .expect_err("refused");
    insta::assert_json_snapshot!("schema_invalid_input_error", error);
    let error = table
        .dispatch_blocking("notify", json!({"body": "text"}), &secrets())
        .expect_err("refused");
    let json = serde_json::to_value(&error).expect("serializes");
    assert_eq!(
        json["problems"],
        json!([{
            "field": "body",
            "pointer": "",
            "message": "notify: payload body must be an object"
        }])
    );
}

#[test]
fn the_envelope_is_unwrapped_exactly_once() {
    let (message, _) = problems(json!({"body": {"body": {"text": "hi"}}}));
    assert_eq!(message, "notify: \"text\" is required");
    let output = table()
        .dispatch_blocking("notify", json!({"text": "hi"}), &secrets())
        .expect("an unwrapped payload is the input");
    assert_eq!(output["delivered"], true);
}

#[test]
fn null_is_not_an_absent_field_where_a_type_is_declared() {
    let (message, _) = problems(json!({"body": {"text": "hi", "count": null}}));
    assert_eq!(message, "notify: \"count\" must be an integer");
}

#[test]
fn a_100_000_deep_array_is_refused_without_overflowing_the_stack() {
    // On the default test stack: nothing may recurse per level, not even dropping the payload
    // (the runtime drops a refused one iteratively), so it is built twice, never cloned.
    let deep_payload = || {
        let mut deep = json!("leaf");
        for _ in 0..100_000 {
            deep = Value::Array(vec![deep]);
        }
        // Not `json!`, which would serialize `deep` recursively.
        let mut input = serde_json::Map::new();
        input.insert("text".into(), json!("hi"));
        input.insert("extra".into(), deep);
        let mut payload = serde_json::Map::new();
        payload.insert("body".into(), Value::Object(input));
        Value::Object(payload)
    };
    let table = table();
    let prepared = table
        .prepare("notify", deep_payload(), &secrets())
        .map(|_| ())
        .expect_err("refused by prepare");
    let error = table
        .dispatch_blocking("notify", deep_payload(), &secrets())
        .expect_err("refused by dispatch");
    assert_eq!(prepared, error);
    assert_eq!(
        error.to_string(),
        "notify: payload body is nested more than 100 levels deep"
    );
    let json = serde_json::to_value(&error).expect("serializes");
    assert_eq!(json["problems"][0]["pointer"], "");
}

#[test]
fn a_5_mb_string_is_checked_quickly_and_never_echoed() {
    let started = std::time::Instant::now();
    let blank = " ".repeat(5 << 20);
    let (message, _) = problems(json!({"body": {"text": blank}}));
    assert_eq!(message, "notify: \"text\" must not be blank");
    let long = "a".repeat(5 << 20);
    let output = table()
        .dispatch_blocking("notify", json!({"body": {"text": long}}), &secrets())
        .expect("a long text is valid");
    assert_eq!(output["ok"], true);
    let (message, _) = problems(json!({"body": {"text": "hi", "count": "9".repeat(5 << 20)}}));
    assert_eq!(message, "notify: \"count\" must be an integer");
    assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());
}

#[test]
fn a_drifting_output_fails_loudly_in_debug_builds() {
    let result = table().dispatch_blocking(
        "notify",
        json!({"body": {"text": "hi", "fail": "drift"}}),
        &secrets(),
    );
    if cfg!(debug_assertions) {
        let error = result.expect_err("the output breaks the contract");
        assert_eq!((error.status(), error.class()), (500, "output"));
        assert_eq!(
            error.to_string(),
            "route \"notify\": the handler's output breaks its output schema at \"/delivered\": \
             \"delivered\" must be a boolean"
        );
        assert!(matches!(
            &error,
            DispatchError::OutputSchema { route: "notify", pointer, .. } if pointer == "/delivered"
        ));
    } else {
        assert!(result.is_ok(), "release builds skip the output check");
    }
}
