//! docs/ROUTES.md 4.3: chat_notify, incident_create, slack_message.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn chat_notify_posts_to_the_webhook_with_its_query() {
    let harness = Harness::start().await;
    harness.on(
        "POST",
        CHAT_PATH,
        vec![json_response(200, json!({"name": "m"}))],
    );
    let output = harness
        .dispatch("chat_notify", json!({"text": "  hello "}))
        .await
        .expect("delivered");
    assert_eq!(
        output.to_string(),
        json!({"ok": true, "route": "chat_notify", "delivered": true, "endpointHost": harness.host()})
            .to_string()
    );
    let requests = harness.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", CHAT_PATH)
    );
    assert_eq!(request.query.as_deref(), Some(WEBHOOK_QUERY));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.body_text(),
        r#"{"text":"[WorkerFlow:trace-1] hello"}"#
    );
}

#[tokio::test]
async fn chat_webhook_aliases_in_order() {
    let harness = Harness::start().await;
    harness.on("POST", CHAT_PATH, vec![text_response(200, "")]);
    harness.on("POST", "/second/SECRETPATH", vec![text_response(200, "")]);
    let second = format!("{}/second/SECRETPATH", harness.url());
    let mut only_last = harness.secrets();
    only_last.remove("CHAT_WEBHOOK_URL");
    only_last.insert("GCHAT_ALERTS_WEBHOOK", harness.chat_webhook());
    call("chat_notify", json!({"text": "a"}), &only_last)
        .await
        .expect("last alias");
    let blank_first = harness
        .secrets()
        .with("CHAT_WEBHOOK_URL", "  ")
        .with("GCHAT_ALERTS_WEBHOOK_URL", second.clone());
    call("chat_notify", json!({"text": "b"}), &blank_first)
        .await
        .expect("falls through");
    let mut both = harness.secrets();
    both.remove("CHAT_WEBHOOK_URL");
    both.insert("GCHAT_ALERTS_WEBHOOK_URL", second);
    both.insert("GCHAT_ALERTS_WEBHOOK", harness.chat_webhook());
    call("chat_notify", json!({"text": "c"}), &both)
        .await
        .expect("first set alias");
    let paths: Vec<String> = harness.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        [CHAT_PATH, "/second/SECRETPATH", "/second/SECRETPATH"]
    );
}

#[tokio::test]
async fn chat_notify_invalid_input_and_failures() {
    let harness = Harness::start().await;
    let secrets = harness.secrets();
    let cases = [
        (
            json!("text"),
            "body",
            "chat_notify: payload body must be an object",
        ),
        (json!({}), "text", "chat_notify: \"text\" is required"),
        (
            json!({"text": 5}),
            "text",
            "chat_notify: \"text\" must be a string",
        ),
        (
            json!({"text": "  "}),
            "text",
            "chat_notify: \"text\" must not be blank",
        ),
    ];
    for (input, field, message) in cases {
        let problems = input_problems(call("chat_notify", input, &secrets).await);
        assert_eq!(problems, [(field.to_owned(), message.to_owned())]);
    }
    harness.assert_untouched();
    harness.on("POST", CHAT_PATH, vec![text_response(500, "boom")]);
    let error = provider_error(call("chat_notify", json!({"text": "x"}), &secrets).await);
    assert_eq!(
        error.message,
        "Chat webhook failed: 500 Internal Server Error boom"
    );
    assert_eq!((error.status, error.attempts), (500, 1));
    assert_eq!(harness.requests().len(), 1);
}

#[tokio::test]
async fn chat_provider_code_is_the_error_status() {
    let harness = Harness::start().await;
    harness.on(
        "POST",
        CHAT_PATH,
        vec![json_response(
            400,
            json!({"error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}}),
        )],
    );
    let error = provider_error(harness.dispatch("chat_notify", json!({"text": "x"})).await);
    assert_eq!(error.code.as_deref(), Some("INVALID_ARGUMENT"));
    assert_eq!(error.provider_message.as_deref(), Some("bad"));
}

#[tokio::test]
async fn incident_create_formats_five_lines() {
    let harness = Harness::start().await;
    harness.on("POST", CHAT_PATH, vec![text_response(200, "")]);
    let secrets = harness.secrets();
    let output = call(
        "incident_create",
        json!({"title": " Disk ", "severity": "high", "details": "  x  "}),
        &secrets,
    )
    .await
    .expect("delivered");
    assert_eq!(
        output.to_string(),
        r#"{"ok":true,"route":"incident_create","severity":"high","delivered":true}"#
    );
    let defaults = "[WorkerFlow Incident]\ntrace=trace-1\nseverity=info\ntitle=Incident\ndetails=No details provided";
    for input in [
        json!({}),
        json!({"title": null, "details": null}),
        json!({"title": "  ", "severity": "  "}),
    ] {
        call("incident_create", input, &secrets)
            .await
            .expect("defaults");
    }
    call("incident_create", json!({"details": ""}), &secrets)
        .await
        .expect("empty details");
    let texts: Vec<String> = harness
        .requests()
        .iter()
        .map(|r| r.json()["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        harness.requests()[0].body_text(),
        r#"{"text":"[WorkerFlow Incident]\ntrace=trace-1\nseverity=high\ntitle=Disk\ndetails=  x  "}"#
    );
    assert_eq!(&texts[1..4], [defaults, defaults, defaults]);
    assert!(texts[4].ends_with("\ndetails="), "{}", texts[4]);
    // A non-object input or a field of another type is refused, nothing posted (ROUTES.md 5).
    for (input, field, message) in [
        (
            json!("just a string"),
            "body",
            "payload body must be an object",
        ),
        (
            json!({"title": 7}),
            "title",
            "\"title\" must be a string or null",
        ),
    ] {
        let problems = input_problems(call("incident_create", input, &secrets).await);
        assert_eq!(
            problems,
            [(field.to_owned(), format!("incident_create: {message}"))]
        );
    }
    assert_eq!(harness.requests().len(), 5);
}

#[tokio::test]
async fn incident_create_failures_are_not_retried_on_500() {
    let harness = Harness::start().await;
    harness.on("POST", CHAT_PATH, vec![text_response(500, "")]);
    let error = provider_error(harness.dispatch("incident_create", json!({})).await);
    assert_eq!(
        error.message,
        "Incident webhook failed: 500 Internal Server Error"
    );
    assert_eq!(harness.requests().len(), 1);
}

#[tokio::test]
async fn slack_message_posts_the_prefixed_text() {
    let harness = Harness::start().await;
    harness.on("POST", SLACK_PATH, vec![text_response(200, "ok")]);
    let output = harness
        .dispatch("slack_message", json!({"text": "hi"}))
        .await
        .expect("delivered");
    assert_eq!(
        output.to_string(),
        json!({"ok": true, "route": "slack_message", "delivered": true, "endpointHost": harness.host()})
            .to_string()
    );
    let request = &harness.requests()[0];
    assert_eq!(request.body_text(), r#"{"text":"[WorkerFlow:trace-1] hi"}"#);
    assert_eq!(request.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn slack_message_refuses_a_caller_webhook() {
    let harness = Harness::start().await;
    let evil = format!("{}/evil", harness.url());
    let problems = input_problems(
        harness
            .dispatch("slack_message", json!({"text": "hi", "webhookUrl": evil}))
            .await,
    );
    assert_eq!(
        problems,
        [(
            "webhookUrl".to_owned(),
            "slack_message: \"webhookUrl\" is not accepted".to_owned()
        )]
    );
    // Every problem at once.
    let problems = input_problems(
        harness
            .dispatch("slack_message", json!({"webhookUrl": 1}))
            .await,
    );
    assert_eq!(problems.len(), 2);
    harness.assert_untouched();
}

#[tokio::test]
async fn slack_message_errors_and_retries() {
    let harness = Harness::start().await;
    harness.on(
        "POST",
        SLACK_PATH,
        vec![text_response(400, "invalid_payload")],
    );
    let error = provider_error(
        harness
            .dispatch("slack_message", json!({"text": "hi"}))
            .await,
    );
    assert_eq!(error.code.as_deref(), Some("invalid_payload"));
    assert_eq!(
        error.message,
        "Slack webhook failed: 400 Bad Request invalid_payload"
    );
    let harness = Harness::start().await;
    harness.on(
        "POST",
        SLACK_PATH,
        vec![text_response(503, ""), text_response(200, "ok")],
    );
    harness
        .dispatch("slack_message", json!({"text": "hi"}))
        .await
        .expect("retried after 503");
    assert_eq!(harness.requests().len(), 2);
    let harness = Harness::start().await;
    harness.on("POST", SLACK_PATH, vec![text_response(500, "")]);
    let error = provider_error(
        harness
            .dispatch("slack_message", json!({"text": "hi"}))
            .await,
    );
    assert_eq!(
        error.message,
        "Slack webhook failed: 500 Internal Server Error"
    );
    assert_eq!(error.code, None);
    assert_eq!(harness.requests().len(), 1);
}

/// `dispatch_blocking` outside any tokio runtime still sends (the transport brings its own).
#[tokio::test]
async fn dispatch_blocking_works_outside_tokio() {
    let harness = Harness::start().await;
    harness.on("POST", SLACK_PATH, vec![text_response(200, "ok")]);
    let secrets = harness.secrets();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let registry = registry(fast_policy());
        let payload = json!({"body": {"text": "hi"}});
        let _ = sender.send(registry.dispatch_blocking("slack_message", payload, &secrets));
    });
    let result = tokio::task::spawn_blocking(move || receiver.recv())
        .await
        .expect("joined")
        .expect("a result");
    assert_eq!(result.expect("delivered")["delivered"], true);
    assert_eq!(harness.requests().len(), 1);
}
