//! docs/ROUTES.md 4.3: github_issue_create and openai_chat.

use serde_json::{Value, json};

use crate::support::*;

const ISSUES: &str = "/repos/acme/widgets/issues";

#[tokio::test]
async fn github_issue_create_request_and_output() {
    let harness = Harness::start().await;
    harness.on(
        "POST",
        ISSUES,
        vec![json_response(
            201,
            json!({"number": 77, "html_url": "https://github.example/i/77"}),
        )],
    );
    let output = harness.dispatch("github_issue_create", json!({"title": "T", "body": "  b\n", "labels": [" a ", "", "b"], "repo": " /acme/widgets/ "})).await
    .expect("created");
    assert_eq!(
        output.to_string(),
        r#"{"ok":true,"route":"github_issue_create","issueNumber":77,"issueUrl":"https://github.example/i/77","repository":"acme/widgets"}"#
    );
    let request = &harness.requests()[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", ISSUES)
    );
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {}", secret_value("GITHUB_TOKEN")).as_str())
    );
    assert_eq!(
        request.header("accept"),
        Some("application/vnd.github+json")
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("idempotency-key"), None);
    assert_eq!(
        request.body_text(),
        r#"{"title":"T","body":"  b\n","labels":["a","b"]}"#
    );
}

#[tokio::test]
async fn github_issue_create_omissions_defaults_and_repo_setting() {
    let harness = Harness::start().await;
    harness.on("POST", ISSUES, vec![json_response(201, json!({}))]);
    let secrets = harness.secrets().with("GITHUB_REPO", " acme/widgets ");
    let mut bodies = Vec::new();
    for input in [
        json!({"body": "", "labels": []}),
        json!({"body": null, "labels": ["  "]}),
        json!({"labels": null}),
    ] {
        let output = call("github_issue_create", input, &secrets)
            .await
            .expect("created");
        assert_eq!(output["issueNumber"], 0);
        assert_eq!(output["issueUrl"], "");
        assert_eq!(output["repository"], "acme/widgets");
    }
    for request in harness.requests() {
        bodies.push(request.body_text().to_owned());
    }
    let expected = r#"{"title":"WorkerFlow automation issue (trace-1)"}"#;
    assert_eq!(bodies, [expected, expected, expected]);
    // A value of another type than the contract's is refused, not read as absent (ROUTES.md 5).
    let problems = input_problems(
        call(
            "github_issue_create",
            json!({"body": 5, "labels": "ops"}),
            &secrets,
        )
        .await,
    );
    assert_eq!(
        problems,
        [
            (
                "body".to_owned(),
                "github_issue_create: \"body\" must be a string or null".to_owned()
            ),
            (
                "labels".to_owned(),
                "github_issue_create: \"labels\" must be an array or null".to_owned()
            ),
        ]
    );
    assert_eq!(harness.requests().len(), 3, "nothing more was sent");
}

#[tokio::test]
async fn github_issue_create_invalid_input() {
    let harness = Harness::start().await;
    let secrets = harness.secrets();
    // The runtime refuses what the schema says before the handler looks at the repo.
    let problems =
        input_problems(call("github_issue_create", json!({"title": "  "}), &secrets).await);
    assert_eq!(
        problems,
        [(
            "title".to_owned(),
            "github_issue_create: \"title\" must not be blank".to_owned()
        )]
    );
    let problems = input_problems(call("github_issue_create", json!({}), &secrets).await);
    assert_eq!(
        problems,
        [(
            "repo".to_owned(),
            "github_issue_create: requires \"repo\" (or GITHUB_REPO)".to_owned()
        )]
    );
    for repo in ["acme/widgets/x", "acme", "../x", "acme/.."] {
        let problems =
            input_problems(call("github_issue_create", json!({"repo": repo}), &secrets).await);
        assert_eq!(
            problems,
            [(
                "repo".to_owned(),
                "github_issue_create: \"repo\" must be \"owner/name\"".to_owned()
            )],
            "{repo}"
        );
    }
    let problems = input_problems(call("github_issue_create", json!([1]), &secrets).await);
    assert_eq!(
        problems[0].1,
        "github_issue_create: payload body must be an object"
    );
    harness.assert_untouched();
}

#[tokio::test]
async fn github_issue_create_500_is_not_retried() {
    let harness = Harness::start().await;
    harness.on(
        "POST",
        ISSUES,
        vec![json_response(500, json!({"message": "oops"}))],
    );
    let error = provider_error(
        harness
            .dispatch("github_issue_create", json!({"repo": "acme/widgets"}))
            .await,
    );
    assert_eq!(
        error.message,
        r#"GitHub issue create failed: 500 Internal Server Error {"message":"oops"}"#
    );
    assert_eq!(error.code, None);
    assert_eq!(harness.requests().len(), 1);
}

const COMPLETIONS: &str = "/v1/chat/completions";

fn completion(content: Value) -> wiremock::ResponseTemplate {
    json_response(
        200,
        json!({"model": "other", "choices": [{"message": {"content": content}}]}),
    )
}

#[tokio::test]
async fn openai_chat_defaults() {
    let harness = Harness::start().await;
    harness.on(
        "POST",
        COMPLETIONS,
        vec![completion(json!("  Harness completion "))],
    );
    let output = harness
        .dispatch("openai_chat", json!({}))
        .await
        .expect("completed");
    assert_eq!(
        output.to_string(),
        r#"{"ok":true,"route":"openai_chat","model":"gpt-4o-mini","output":"Harness completion"}"#
    );
    let request = &harness.requests()[0];
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {}", secret_value("OPENAI_API_KEY")).as_str())
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.body_text(),
        r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello from WorkerFlow."}],"temperature":0.2}"#
    );
}

#[tokio::test]
async fn openai_chat_model_prompts_and_temperature() {
    let harness = Harness::start().await;
    harness.on(
        "POST",
        COMPLETIONS,
        vec![completion(
            json!([{"text": " Hello "}, {"text": "World "}, 5]),
        )],
    );
    let with_model = harness.secrets().with("OPENAI_MODEL", " gpt-x ");
    let output = call("openai_chat", json!({"temperature": null}), &with_model)
        .await
        .expect("completed");
    assert_eq!(output["output"], "Hello World");
    assert_eq!(output["model"], "gpt-x");
    call(
        "openai_chat",
        json!({"model": " m2 ", "systemPrompt": " ", "prompt": " hi ", "temperature": 1}),
        &with_model,
    )
    .await
    .expect("completed");
    let bodies: Vec<String> = harness
        .requests()
        .iter()
        .map(|r| r.body_text().to_owned())
        .collect();
    assert_eq!(
        bodies[0],
        r#"{"model":"gpt-x","messages":[{"role":"user","content":"Say hello from WorkerFlow."}],"temperature":0.2}"#
    );
    assert_eq!(
        bodies[1],
        r#"{"model":"m2","messages":[{"role":"system","content":" "},{"role":"user","content":"hi"}],"temperature":1}"#
    );
}

#[tokio::test]
async fn openai_chat_outputs_without_choices() {
    let harness = Harness::start().await;
    harness.on(
        "POST",
        COMPLETIONS,
        vec![json_response(200, json!({"model": "x"}))],
    );
    let output = harness
        .dispatch("openai_chat", json!({}))
        .await
        .expect("completed");
    assert_eq!(output["output"], "");
    assert_eq!(output["model"], "gpt-4o-mini");
}

#[tokio::test]
async fn openai_chat_invalid_prompt_and_errors() {
    let harness = Harness::start().await;
    for (prompt, message) in [
        (json!(""), "openai_chat: \"prompt\" must not be blank"),
        (json!(3), "openai_chat: \"prompt\" must be a string or null"),
        (
            json!(" \u{feff}"),
            "openai_chat: \"prompt\" must not be blank",
        ),
    ] {
        let problems = input_problems(
            harness
                .dispatch("openai_chat", json!({"prompt": prompt}))
                .await,
        );
        assert_eq!(problems, [("prompt".to_owned(), message.to_owned())]);
    }
    // A temperature of another type is refused, not replaced by the default (ROUTES.md 5).
    let problems = input_problems(
        harness
            .dispatch("openai_chat", json!({"temperature": "0.5"}))
            .await,
    );
    assert_eq!(
        problems,
        [(
            "temperature".to_owned(),
            "openai_chat: \"temperature\" must be a number or null".to_owned()
        )]
    );
    harness.assert_untouched();
    harness.on(
        "POST",
        COMPLETIONS,
        vec![json_response(429, json!({"error": {"code": "rate_limit_exceeded", "type": "requests", "message": "slow down"}}))
            .insert_header("retry-after", "0"),
            json_response(500, json!({"error": {"type": "server_error"}}))],
    );
    let error = provider_error(harness.dispatch("openai_chat", json!({})).await);
    // 429 is retried (the provider did not act), 500 is not (a POST without a key).
    assert_eq!((error.status, error.attempts), (500, 2));
    assert_eq!(error.code.as_deref(), Some("server_error"));
    let harness = Harness::start().await;
    harness.on(
        "POST",
        COMPLETIONS,
        vec![json_response(
            400,
            json!({"error": {"code": "rate_limit_exceeded", "message": "m"}}),
        )],
    );
    let error = provider_error(harness.dispatch("openai_chat", json!({})).await);
    assert_eq!(error.code.as_deref(), Some("rate_limit_exceeded"));
    assert_eq!(
        error.message,
        r#"OpenAI chat completion failed: 400 Bad Request {"error":{"code":"rate_limit_exceeded","message":"m"}}"#
    );
}
