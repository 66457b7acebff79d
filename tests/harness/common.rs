//! docs/ROUTES.md 4.1: the checks every route that makes requests goes through.

use std::time::Duration;

use serde_json::{Value, json};
use workerflow_runtime::http::HttpPolicy;
use workerflow_runtime::{ConnectorError, GatewayKind};

use crate::support::*;

/// A route, a valid input, and its first request.
struct Route {
    id: &'static str,
    input: Value,
    method: &'static str,
    path: &'static str,
    idempotent: bool,
    label: &'static str,
    /// Notion and HubSpot messages have the coded shape.
    coded: bool,
}

fn routes() -> Vec<Route> {
    let route = |id, input, method, path, idempotent, label, coded| Route {
        id,
        input,
        method,
        path,
        idempotent,
        label,
        coded,
    };
    vec![
        route(
            "chat_notify",
            json!({"text": "hello"}),
            "POST",
            CHAT_PATH,
            false,
            "Chat webhook failed",
            false,
        ),
        route(
            "incident_create",
            json!({"title": "Disk"}),
            "POST",
            CHAT_PATH,
            false,
            "Incident webhook failed",
            false,
        ),
        route(
            "slack_message",
            json!({"text": "hi"}),
            "POST",
            SLACK_PATH,
            false,
            "Slack webhook failed",
            false,
        ),
        route(
            "github_issue_create",
            json!({"title": "T", "repo": "acme/widgets"}),
            "POST",
            "/repos/acme/widgets/issues",
            false,
            "GitHub issue create failed",
            false,
        ),
        route(
            "openai_chat",
            json!({}),
            "POST",
            "/v1/chat/completions",
            false,
            "OpenAI chat completion failed",
            false,
        ),
        route(
            "stripe_payment_intent_create",
            json!({"amount": 13}),
            "POST",
            "/v1/payment_intents",
            true,
            "Stripe request failed",
            false,
        ),
        route(
            "stripe_customer_upsert",
            json!({"email": "a@b.co"}),
            "GET",
            "/v1/customers",
            true,
            "Stripe request failed",
            false,
        ),
        route(
            "notion_database_item_create",
            json!({"databaseId": "db1", "properties": {"Name": {"title": []}}}),
            "POST",
            "/v1/pages",
            false,
            "Notion request failed",
            true,
        ),
        route(
            "notion_database_item_get",
            json!({"pageId": "abc-123"}),
            "GET",
            "/v1/pages/abc-123",
            true,
            "Notion request failed",
            true,
        ),
        route(
            "hubspot_contact_upsert",
            json!({"email": "ava@example.com"}),
            "POST",
            "/crm/v3/objects/contacts/search",
            false,
            "HubSpot request failed",
            true,
        ),
        route(
            "hubspot_deal_upsert",
            json!({"idProperty": "workerflow_external_id", "idValue": "D-1"}),
            "POST",
            "/crm/v3/objects/deals/search",
            false,
            "HubSpot request failed",
            true,
        ),
    ]
}

/// The requirement of each of the 12 routes: the names to unset and the exact message.
const MISSING: &[(&str, &[&str], &str)] = &[
    (
        "chat_notify",
        &["CHAT_WEBHOOK_URL"],
        "missing chat webhook URL. Checked: CHAT_WEBHOOK_URL, GCHAT_ALERTS_WEBHOOK_URL, GCHAT_ALERTS_WEBHOOK",
    ),
    (
        "incident_create",
        &["CHAT_WEBHOOK_URL"],
        "missing chat webhook URL. Checked: CHAT_WEBHOOK_URL, GCHAT_ALERTS_WEBHOOK_URL, GCHAT_ALERTS_WEBHOOK",
    ),
    (
        "slack_message",
        &["SLACK_WEBHOOK_URL"],
        "missing Slack webhook URL. Checked: SLACK_WEBHOOK_URL",
    ),
    (
        "github_issue_create",
        &["GITHUB_TOKEN"],
        "missing GitHub token. Checked: GITHUB_TOKEN",
    ),
    (
        "openai_chat",
        &["OPENAI_API_KEY"],
        "missing OpenAI API key. Checked: OPENAI_API_KEY",
    ),
    (
        "stripe_payment_intent_create",
        &["STRIPE_API_KEY"],
        "missing Stripe API key. Checked: STRIPE_API_KEY",
    ),
    (
        "stripe_customer_upsert",
        &["STRIPE_API_KEY"],
        "missing Stripe API key. Checked: STRIPE_API_KEY",
    ),
    (
        "notion_database_item_create",
        &["NOTION_TOKEN"],
        "missing Notion token. Checked: NOTION_TOKEN",
    ),
    (
        "notion_database_item_get",
        &["NOTION_TOKEN"],
        "missing Notion token. Checked: NOTION_TOKEN",
    ),
    (
        "hubspot_contact_upsert",
        &["HUBSPOT_ACCESS_TOKEN"],
        "missing HubSpot access token. Checked: HUBSPOT_ACCESS_TOKEN",
    ),
    (
        "hubspot_deal_upsert",
        &["HUBSPOT_ACCESS_TOKEN"],
        "missing HubSpot access token. Checked: HUBSPOT_ACCESS_TOKEN",
    ),
    (
        "lead_normalizer",
        &["GOOGLEAI_API_KEY"],
        "missing Google AI key. Checked: GOOGLEAI_API_KEY, LEAD_NORMALIZER_API_KEY",
    ),
];

fn valid_input(route: &str) -> Value {
    routes()
        .into_iter()
        .find(|r| r.id == route)
        .map_or_else(|| json!({}), |r| r.input)
}

fn assert_config(result: Result<Value, workerflow_runtime::DispatchError>, expected: &str) {
    let error = connector_error(result);
    assert!(matches!(error, ConnectorError::Config { .. }), "{error:?}");
    assert_eq!(error.to_string(), expected);
    assert_eq!(error.status(), 500);
    assert!(!error.is_transient());
}

/// C2 (unset, and blank) and C5 (unset with invalid input: the secret is reported).
#[tokio::test]
async fn c2_c5_missing_secrets_fail_before_any_request() {
    let harness = Harness::start().await;
    for (route, names, message) in MISSING {
        let expected = format!("route \"{route}\": {message}");
        let mut unset = harness.secrets();
        let mut blank = harness.secrets();
        for name in *names {
            unset.remove(name);
            blank.insert(*name, "   ");
        }
        assert_config(call(route, valid_input(route), &unset).await, &expected);
        assert_config(call(route, valid_input(route), &blank).await, &expected);
        assert_config(call(route, json!("not an object"), &unset).await, &expected);
        assert_config(
            call(route, json!({"amount": "x", "text": 5}), &unset).await,
            &expected,
        );
    }
    harness.assert_untouched();
}

/// C3: a token with surrounding whitespace is sent trimmed.
#[tokio::test]
async fn c3_tokens_are_trimmed() {
    let cases = [
        ("github_issue_create", "GITHUB_TOKEN"),
        ("openai_chat", "OPENAI_API_KEY"),
        ("stripe_payment_intent_create", "STRIPE_API_KEY"),
        ("stripe_customer_upsert", "STRIPE_API_KEY"),
        ("notion_database_item_create", "NOTION_TOKEN"),
        ("notion_database_item_get", "NOTION_TOKEN"),
        ("hubspot_contact_upsert", "HUBSPOT_ACCESS_TOKEN"),
        ("hubspot_deal_upsert", "HUBSPOT_ACCESS_TOKEN"),
    ];
    for (route, name) in cases {
        let value = secret_value(name);
        let harness = Harness::start().await;
        let first = routes().into_iter().find(|r| r.id == route).expect("route");
        harness.on(
            first.method,
            first.path,
            vec![json_response(400, json!({}))],
        );
        let secrets = harness.secrets().with(name, format!("  {value} \n"));
        let _ = call(route, first.input, &secrets).await;
        let requests = harness.requests();
        assert_eq!(requests.len(), 1, "{route}");
        assert_eq!(
            requests[0].header("authorization"),
            Some(format!("Bearer {value}").as_str()),
            "{route}"
        );
    }
    // Webhook secrets too: the post goes to the trimmed URL.
    let harness = Harness::start().await;
    harness.on("POST", SLACK_PATH, vec![text_response(200, "ok")]);
    let secrets = harness.secrets().with(
        "SLACK_WEBHOOK_URL",
        format!("\u{feff} {} \n", harness.slack_webhook()),
    );
    call("slack_message", json!({"text": "hi"}), &secrets)
        .await
        .expect("delivered");
    assert_eq!(harness.requests()[0].query.as_deref(), Some(WEBHOOK_QUERY));
}

/// A token that cannot be a header value, and a webhook that is not a URL, are configuration
/// errors before any request (docs/ROUTES.md 1.6). Base URLs are checked by the runtime before
/// the input; secret values by the handler, after the runtime's schema check (1.1).
#[tokio::test]
async fn unusable_secrets_and_base_urls_are_configuration_errors() {
    let harness = Harness::start().await;
    let cases = [
        (
            "openai_chat",
            "OPENAI_API_KEY",
            "sk-SECRET\nx",
            "route \"openai_chat\": invalid OpenAI API key (from OPENAI_API_KEY): not a valid header value",
        ),
        (
            "chat_notify",
            "CHAT_WEBHOOK_URL",
            "not a url",
            "route \"chat_notify\": invalid chat webhook URL (from CHAT_WEBHOOK_URL): not an absolute http(s) URL",
        ),
        (
            "slack_message",
            "SLACK_WEBHOOK_URL",
            "ftp://SECRET.example/x",
            "route \"slack_message\": invalid Slack webhook URL (from SLACK_WEBHOOK_URL): not an absolute http(s) URL",
        ),
        (
            "stripe_customer_upsert",
            "WORKERFLOW_STRIPE_BASE_URL",
            "http://127.0.0.1:9/x?q=1",
            "route \"stripe_customer_upsert\": invalid Stripe base URL (from WORKERFLOW_STRIPE_BASE_URL): not an absolute http(s) URL",
        ),
        (
            "github_issue_create",
            "WORKERFLOW_GITHUB_BASE_URL",
            "api.github.com",
            "route \"github_issue_create\": invalid GitHub base URL (from WORKERFLOW_GITHUB_BASE_URL): not an absolute http(s) URL",
        ),
    ];
    for (route, name, value, expected) in cases {
        let secrets = harness.secrets().with(name, value);
        assert_config(call(route, valid_input(route), &secrets).await, expected);
        let with_bad_input = connector_error(call(route, json!("invalid input"), &secrets).await);
        let class = if name.starts_with("WORKERFLOW_") {
            "config"
        } else {
            "invalid_input"
        };
        assert_eq!(with_bad_input.class(), class, "{route}: {with_bad_input}");
    }
    // The first non-blank name wins even when unusable: no fall-through to the next name.
    let secrets = harness
        .secrets()
        .with("CHAT_WEBHOOK_URL", "nope")
        .with("GCHAT_ALERTS_WEBHOOK_URL", harness.chat_webhook());
    assert_config(
        call("chat_notify", json!({"text": "x"}), &secrets).await,
        "route \"chat_notify\": invalid chat webhook URL (from CHAT_WEBHOOK_URL): not an absolute http(s) URL",
    );
    harness.assert_untouched();
}

/// C6 (503 then 2xx), C7/C9 (500, 502, 504: once without a key, three times with one) and C10
/// (400, 404, 501: once), on the first request of every route.
#[tokio::test]
async fn c6_c7_c9_c10_statuses_on_the_first_request() {
    for route in routes() {
        for status in [500u16, 502, 504, 400, 404, 501] {
            let harness = Harness::start().await;
            harness.on(
                route.method,
                route.path,
                vec![text_response(status, "nope")],
            );
            let error =
                provider_error(call(route.id, route.input.clone(), &harness.secrets()).await);
            let retried = route.idempotent && matches!(status, 500 | 502 | 504);
            let expected = if retried { 3 } else { 1 };
            let requests = harness.requests();
            assert_eq!(requests.len(), expected, "{} {status}", route.id);
            assert_eq!(
                (error.status, error.attempts),
                (status, expected as u32),
                "{}",
                route.id
            );
            // Retried requests are identical, byte for byte.
            for request in &requests[1..] {
                assert_eq!(request.body, requests[0].body);
                assert_eq!(request.headers, requests[0].headers);
                assert_eq!(request.query, requests[0].query);
            }
        }
    }
}

#[tokio::test]
async fn c6_a_503_is_retried_on_every_first_request() {
    for route in routes() {
        let harness = Harness::start().await;
        let success = match route.id {
            "stripe_customer_upsert" => json_response(200, json!({"data": [{"id": "cus_1"}]})),
            "hubspot_contact_upsert" | "hubspot_deal_upsert" => {
                json_response(200, json!({"results": [{"id": "c1"}]}))
            }
            _ => json_response(200, json!({})),
        };
        harness.on(
            route.method,
            route.path,
            vec![text_response(503, "busy"), success],
        );
        harness
            .on(
                "POST",
                "/v1/customers/cus_1",
                vec![json_response(200, json!({}))],
            )
            .on(
                "PATCH",
                "/crm/v3/objects/contacts/c1",
                vec![json_response(200, json!({}))],
            )
            .on(
                "PATCH",
                "/crm/v3/objects/deals/c1",
                vec![json_response(200, json!({}))],
            );
        let output = call(route.id, route.input.clone(), &harness.secrets()).await;
        assert!(output.is_ok(), "{}: {output:?}", route.id);
        let first: Vec<_> = harness
            .requests()
            .into_iter()
            .filter(|r| r.path == route.path)
            .collect();
        assert_eq!(first.len(), 2, "{}", route.id);
    }
}

/// C11: a 10 KiB error body gives an excerpt of at most 2048 bytes and the exact shape.
#[tokio::test]
async fn c11_long_error_bodies_are_cut() {
    let body = "x".repeat(10 * 1024);
    for route in routes() {
        let harness = Harness::start().await;
        harness.on(route.method, route.path, vec![text_response(400, &body)]);
        let error = provider_error(call(route.id, route.input.clone(), &harness.secrets()).await);
        assert_eq!(error.excerpt, "x".repeat(2048));
        let expected = if route.id.starts_with("notion") {
            format!("{}: 400 notion_error Unknown Notion error", route.label)
        } else if route.coded {
            // HubSpot falls back to the excerpt when the body has no message.
            format!("{}: 400 hubspot_error {}", route.label, error.excerpt)
        } else {
            format!("{}: 400 Bad Request {}", route.label, error.excerpt)
        };
        assert_eq!(error.message, expected, "{}", route.id);
        assert!(!error.message.contains("  ") && !error.message.ends_with(' '));
    }
}

/// C12: a provider body that echoes the route's credentials shows `[REDACTED]`.
#[tokio::test]
async fn c12_echoed_secrets_are_redacted() {
    for route in routes() {
        let harness = Harness::start().await;
        let echo = match route.id {
            "chat_notify" | "incident_create" => format!(
                "url={} path={CHAT_PATH} query={WEBHOOK_QUERY}",
                harness.chat_webhook()
            ),
            "slack_message" => format!(
                "url={} path={SLACK_PATH} query={WEBHOOK_QUERY}",
                harness.slack_webhook()
            ),
            id => {
                // The route's own token, as the registry declares it.
                let declared = workerflow::registry::ALL
                    .iter()
                    .find(|spec| spec.id == id)
                    .expect("a declared route");
                let token = secret_value(declared.secrets[0].any_of[0]);
                format!("authorization: Bearer {token}; key {token}")
            }
        };
        harness.on(route.method, route.path, vec![text_response(400, &echo)]);
        // call() fails the test if a secret of this route reaches the error.
        let error = provider_error(call(route.id, route.input.clone(), &harness.secrets()).await);
        assert!(
            error.excerpt.contains("[REDACTED]"),
            "{}: {}",
            route.id,
            error.excerpt
        );
    }
}

/// C13: connection refused is retried even for POSTs (nothing was sent), then a gateway error
/// naming only the host.
#[tokio::test]
async fn c13_connection_refused() {
    let port = closed_port();
    let secrets = secrets_for(&format!("http://127.0.0.1:{port}"));
    for route in routes() {
        let error = gateway_error(call(route.id, route.input.clone(), &secrets).await);
        assert_eq!(error.kind, GatewayKind::Connect, "{}", route.id);
        assert_eq!(error.attempts, 3, "{}", route.id);
        assert_eq!(error.host, format!("127.0.0.1:{port}"));
        assert_eq!(
            error.message,
            format!(
                "{}: connection failed (127.0.0.1:{port}): connection refused",
                route.label
            )
        );
    }
}

/// C14: a server that reads the request and hangs up: idempotent requests are tried three
/// times, a POST without a key once.
#[tokio::test]
async fn c14_connection_closed_without_answer() {
    for (route, expected) in [
        ("notion_database_item_get", 3),
        ("stripe_payment_intent_create", 3),
        ("slack_message", 1),
        ("openai_chat", 1),
    ] {
        let (base, count) = hang_up_server().await;
        let secrets = secrets_for(&base);
        let error = gateway_error(call(route, valid_input(route), &secrets).await);
        assert_eq!(error.kind, GatewayKind::Connect, "{route}");
        assert_eq!(error.attempts, expected, "{route}");
        assert_eq!(
            count.load(std::sync::atomic::Ordering::SeqCst),
            expected as usize,
            "{route}"
        );
        assert!(
            error.message.ends_with("connection closed before response"),
            "{}",
            error.message
        );
        assert!(!error.message.contains("http://") && !error.message.contains('/'));
    }
}

/// C15: answers slower than the attempt timeout.
#[tokio::test]
async fn c15_attempt_timeout() {
    let policy = HttpPolicy {
        attempt_timeout: Duration::from_millis(200),
        ..fast_policy()
    };
    let cases = [
        ("notion_database_item_get", "GET", "/v1/pages/abc-123", 3),
        (
            "stripe_payment_intent_create",
            "POST",
            "/v1/payment_intents",
            3,
        ),
        ("openai_chat", "POST", "/v1/chat/completions", 1),
    ];
    let runs = cases.map(|(route, method, path, expected)| {
        let policy = policy.clone();
        async move {
            let harness = Harness::start().await;
            harness.on(
                method,
                path,
                vec![json_response(200, json!({})).set_delay(Duration::from_millis(800))],
            );
            let registry = registry(policy);
            let error = gateway_error(
                call_with(&registry, route, valid_input(route), &harness.secrets()).await,
            );
            assert_eq!(error.kind, GatewayKind::Timeout, "{route}");
            assert_eq!(error.attempts, expected, "{route}");
            assert!(
                error
                    .message
                    .ends_with(&format!("timed out after 200 ms ({})", harness.host())),
                "{}",
                error.message
            );
            assert_eq!(harness.requests().len(), expected as usize, "{route}");
        }
    });
    let [a, b, c] = runs;
    tokio::join!(a, b, c);
}

/// C16: no wait crosses the deadline.
#[tokio::test]
async fn c16_deadline() {
    let harness = Harness::start().await;
    harness.on(
        "GET",
        "/v1/pages/abc-123",
        vec![text_response(503, "busy").insert_header("retry-after", "1")],
    );
    let policy = HttpPolicy {
        deadline: Duration::from_millis(300),
        max_delay: Duration::from_secs(1),
        ..fast_policy()
    };
    let started = std::time::Instant::now();
    let error = provider_error(
        call_with(
            &registry(policy),
            "notion_database_item_get",
            json!({"pageId": "abc-123"}),
            &harness.secrets(),
        )
        .await,
    );
    assert_eq!((error.status, error.attempts), (503, 1));
    assert_eq!(harness.requests().len(), 1);
    assert!(started.elapsed() < Duration::from_millis(900));
}

/// C17: a 2xx body that is not JSON, for routes that read it; webhooks do not read it.
#[tokio::test]
async fn c17_non_json_success_bodies() {
    for route in routes() {
        let harness = Harness::start().await;
        harness.on(route.method, route.path, vec![text_response(200, "<html>")]);
        let result = call(route.id, route.input.clone(), &harness.secrets()).await;
        if is_webhook_path(route.path) {
            assert!(result.is_ok(), "{}", route.id);
            continue;
        }
        let error = connector_error(result);
        assert!(!error.is_transient());
        let ConnectorError::Gateway(gateway) = error else {
            panic!("{}: expected a gateway error", route.id);
        };
        assert_eq!(gateway.kind, GatewayKind::InvalidResponse);
        assert_eq!(
            gateway.message,
            format!(
                "{}: invalid response body ({}): not JSON",
                route.label,
                harness.host()
            )
        );
    }
    // Valid JSON that is not an object reads as {}: every field takes its default.
    let harness = Harness::start().await;
    harness.on(
        "GET",
        "/v1/pages/abc-123",
        vec![json_response(200, json!([1, 2]))],
    );
    let output = harness
        .dispatch("notion_database_item_get", json!({"pageId": "abc-123"}))
        .await
        .expect("defaults");
    assert_eq!(output["pageId"], "");
    assert_eq!(output["propertyCount"], 0);
}

/// C18: redirects are not followed; a 3xx is a provider error reported as 502.
#[tokio::test]
async fn c18_redirects_are_not_followed() {
    for route in routes() {
        let harness = Harness::start().await;
        harness.on(
            route.method,
            route.path,
            vec![
                wiremock::ResponseTemplate::new(302)
                    .insert_header("location", format!("{}/elsewhere", harness.url())),
            ],
        );
        let error = connector_error(call(route.id, route.input.clone(), &harness.secrets()).await);
        assert_eq!(error.status(), 502, "{}", route.id);
        let ConnectorError::Provider(provider) = error else {
            panic!("{}: expected a provider error", route.id);
        };
        assert_eq!(provider.status, 302);
        let requests = harness.requests();
        assert_eq!(requests.len(), 1, "{}", route.id);
        assert!(requests.iter().all(|r| r.path != "/elsewhere"));
    }
}

/// C20 for logs: the records name routes and hosts, never secrets (each call also checks).
#[tokio::test]
async fn c20_logs_are_captured_and_clean() {
    let harness = Harness::start().await;
    harness.on(
        "POST",
        SLACK_PATH,
        vec![text_response(503, "busy"), text_response(200, "ok")],
    );
    harness
        .dispatch("slack_message", json!({"text": "hi"}))
        .await
        .expect("delivered");
    let logs = logs();
    assert!(logs.contains("route=\"slack_message\""), "{logs}");
    assert!(logs.contains(&harness.host()));
    assert!(logs.contains("retrying"));
    assert_logs_clean();
}
