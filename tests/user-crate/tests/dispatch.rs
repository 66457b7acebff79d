//! Both connectors are linked and dispatch, with secrets from an in-memory source.

use serde_json::json;
use workerflow_runtime::MapSecrets;
use workerflow_user_example::registry;

fn secrets() -> MapSecrets {
    MapSecrets::new()
        .with("GREETER_TOKEN", "tok_example")
        .with("COUNTER_KEY", " ")
        .with("LEGACY_COUNTER_KEY", "legacy")
}

#[test]
fn every_declared_route_is_implemented() {
    let linked = registry::linked().expect("one handler per route");
    assert!(linked.missing().is_empty(), "{:?}", linked.missing());
    let ids: Vec<&str> = linked.routes().map(|route| route.id()).collect();
    assert_eq!(ids, ["greet", "word_count"]);
    assert!(linked.check_config(&secrets()).ok);
}

#[test]
fn both_connectors_dispatch() {
    let linked = registry::linked().expect("linked");
    let greeting = linked
        .dispatch_blocking("greet", json!({"body": {"name": " Ada "}}), &secrets())
        .expect("greet");
    assert_eq!(
        greeting,
        json!({"ok": true, "route": "greet", "greeting": "Hello, Ada!", "token_from": "GREETER_TOKEN"})
    );
    let counted = linked
        .dispatch_blocking("word_count", json!({"text": "one two  three"}), &secrets())
        .expect("word_count");
    assert_eq!(counted["words"], 3);
    assert_eq!(counted["key_from"], "LEGACY_COUNTER_KEY");
}

#[test]
fn errors_are_classified() {
    let linked = registry::linked().expect("linked");
    let error = linked
        .dispatch_blocking("greet", json!({"name": "Ada"}), &MapSecrets::new())
        .expect_err("no token");
    assert_eq!(error.status(), 500);
    assert_eq!(
        error.to_string(),
        r#"route "greet": missing Greeter token. Checked: GREETER_TOKEN"#
    );
    let error = linked
        .dispatch_blocking("greet", json!({"name": "  "}), &secrets())
        .expect_err("blank name");
    assert_eq!(error.status(), 400);
    let error = linked
        .dispatch_blocking("gret", json!({}), &secrets())
        .expect_err("unknown");
    assert_eq!(
        error.to_string(),
        r#"unknown route "gret"; did you mean "greet"?"#
    );
}
