//! Issue 8, secrets: every secret holds the sentinel; every route is driven through every
//! failure path, directly and through `workerflow serve`; the sentinel shows up in no error
//! (`Display`, `Debug`, serialized), no log line and no HTTP response (headers or body).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};
use workerflow_runtime::MapSecrets;
use workerflow_runtime::http::{HttpClient, HttpPolicy};
use workerflow_server::ServeConfig;

use crate::support::*;

/// Every route with a valid input and the names of its own secrets.
const ROUTES: &[(&str, &str, &[&str])] = &[
    ("chat_notify", r#"{"text": "hello"}"#, &["CHAT_WEBHOOK_URL"]),
    (
        "incident_create",
        r#"{"title": "Disk"}"#,
        &["CHAT_WEBHOOK_URL"],
    ),
    ("slack_message", r#"{"text": "hi"}"#, &["SLACK_WEBHOOK_URL"]),
    (
        "github_issue_create",
        r#"{"title": "T", "repo": "acme/widgets"}"#,
        &["GITHUB_TOKEN"],
    ),
    ("openai_chat", "{}", &["OPENAI_API_KEY"]),
    (
        "stripe_payment_intent_create",
        r#"{"amount": 13}"#,
        &["STRIPE_API_KEY"],
    ),
    (
        "stripe_customer_upsert",
        r#"{"email": "a@b.co"}"#,
        &["STRIPE_API_KEY"],
    ),
    (
        "notion_database_item_create",
        r#"{"databaseId": "db1", "properties": {"Name": {"title": []}}}"#,
        &["NOTION_TOKEN"],
    ),
    (
        "notion_database_item_get",
        r#"{"pageId": "abc-123"}"#,
        &["NOTION_TOKEN"],
    ),
    (
        "hubspot_contact_upsert",
        r#"{"email": "ava@example.com"}"#,
        &["HUBSPOT_ACCESS_TOKEN"],
    ),
    (
        "hubspot_deal_upsert",
        r#"{"idProperty": "workerflow_external_id", "idValue": "D-1"}"#,
        &["HUBSPOT_ACCESS_TOKEN"],
    ),
    (
        "lead_normalizer",
        r#"{"name": "Ava Ng"}"#,
        &["GOOGLEAI_API_KEY"],
    ),
];

/// The serve API token: a secret too.
const API_TOKEN: &str = "api-token-SECRET_7";

/// Answers every request with `status` and a body that echoes the whole request: method, URL
/// with query, every header (authorization included) and the body.
struct Echo {
    status: u16,
    delay: Duration,
}

impl Respond for Echo {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut echo = format!("{} {}\n", request.method, request.url);
        for (name, value) in &request.headers {
            echo.push_str(&format!(
                "{name}: {}\n",
                String::from_utf8_lossy(value.as_bytes())
            ));
        }
        echo.push_str(&String::from_utf8_lossy(&request.body));
        ResponseTemplate::new(self.status)
            .set_body_string(echo)
            .set_delay(self.delay)
    }
}

async fn echo_server(status: u16, delay: Duration) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(Echo { status, delay })
        .mount(&server)
        .await;
    server
}

/// One way for a call to fail: the secrets it runs with, the input, and the client policy.
struct FailurePath {
    name: &'static str,
    secrets: MapSecrets,
    input: Value,
    policy: HttpPolicy,
}

fn failure_paths(input: &Value, own: &[&str], bases: &Bases) -> Vec<FailurePath> {
    let short = HttpPolicy {
        attempt_timeout: Duration::from_millis(100),
        deadline: Duration::from_millis(400),
        max_retries: 1,
        ..fast_policy()
    };
    let mut without_own = secrets_for(&bases.echo_400);
    for name in own {
        without_own.remove(name);
    }
    vec![
        FailurePath {
            name: "provider 4xx echoing the request",
            secrets: secrets_for(&bases.echo_400),
            input: input.clone(),
            policy: fast_policy(),
        },
        FailurePath {
            name: "provider 5xx echoing the request",
            secrets: secrets_for(&bases.echo_500),
            input: input.clone(),
            policy: fast_policy(),
        },
        FailurePath {
            name: "network error",
            secrets: secrets_for(&bases.closed),
            input: input.clone(),
            policy: fast_policy(),
        },
        FailurePath {
            name: "timeout",
            secrets: secrets_for(&bases.slow),
            input: input.clone(),
            policy: short,
        },
        FailurePath {
            name: "invalid input",
            secrets: secrets_for(&bases.echo_400),
            input: json!(["not", "an", "object"]),
            policy: fast_policy(),
        },
        FailurePath {
            name: "its own secret missing, every other one set",
            secrets: without_own,
            input: input.clone(),
            policy: fast_policy(),
        },
    ]
}

struct Bases {
    echo_400: String,
    echo_500: String,
    slow: String,
    closed: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sentinel_reaches_no_error_log_debug_output_or_response() {
    let servers = [
        echo_server(400, Duration::ZERO).await,
        echo_server(500, Duration::ZERO).await,
        echo_server(200, Duration::from_secs(2)).await,
    ];
    let bases = Bases {
        echo_400: servers[0].uri(),
        echo_500: servers[1].uri(),
        slow: servers[2].uri(),
        closed: format!("http://127.0.0.1:{}", closed_port()),
    };
    let mut succeeded = Vec::new();
    for (route, input, own) in ROUTES {
        let input: Value = serde_json::from_str(input).expect("valid JSON");
        for path in failure_paths(&input, own, &bases) {
            let what = format!("{route}, {}", path.name);
            assert!(
                !format!("{:?}", path.secrets).contains(SENTINEL),
                "Debug of the secrets shows a value"
            );

            // Directly: call_with checks the error (Display, Debug, JSON) and the logs.
            let registry = registry(path.policy.clone());
            let result = call_with(&registry, route, path.input.clone(), &path.secrets).await;
            if result.is_ok() {
                succeeded.push(what.clone());
            }

            // Through `serve`: every response header and body.
            let text = through_serve(route, &path).await;
            assert!(
                !text.contains(SENTINEL),
                "{what}: a secret in a response: {text}"
            );
        }
    }
    // Every path fails but lead_normalizer's: it makes no request (docs/ROUTES.md 3.12). Its
    // contract refuses a non-object input like every other route's.
    let lead = |path: &str| format!("lead_normalizer, {path}");
    assert_eq!(
        succeeded,
        [
            lead("provider 4xx echoing the request"),
            lead("provider 5xx echoing the request"),
            lead("network error"),
            lead("timeout"),
        ]
    );
    assert_logs_clean();
}

/// Serves the routes with `path`'s secrets and policy, sends the route call and a few other
/// requests, and returns the responses as text (every header, then the body), after shutting
/// the server down (so queued async jobs have run).
async fn through_serve(route: &str, path: &FailurePath) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let registry = workerflow::registry::linked()
        .expect("one handler per route")
        .with_http(HttpClient::new(path.policy.clone()).expect("client"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = ServeConfig {
        token: Some(API_TOKEN.into()),
        drain_timeout: Duration::from_secs(5),
        ..ServeConfig::default()
    };
    let server = tokio::spawn(workerflow_server::serve(
        listener,
        workerflow_server::Api {
            routes: registry,
            openapi_json: workerflow::registry::OPENAPI_JSON,
        },
        Arc::new(path.secrets.clone()),
        config,
        async move {
            let _ = stopped.await;
        },
    ));
    let client = reqwest::Client::new();
    let body = json!({ "body": path.input }).to_string();
    let mut text = String::new();
    // The route call, a wrong token (which must not be echoed), and the config report.
    for request in [
        client
            .post(format!("{base}/api/{route}"))
            .bearer_auth(API_TOKEN)
            .header("content-type", "application/json")
            .body(body.clone()),
        client
            .post(format!("{base}/api/{route}"))
            .bearer_auth(format!("{API_TOKEN}x"))
            .header("content-type", "application/json")
            .body(body.clone()),
        client
            .get(format!("{base}/health/config"))
            .bearer_auth(API_TOKEN),
        client
            .get(format!("{base}/api/routes"))
            .bearer_auth(API_TOKEN),
    ] {
        let response = request.send().await.expect("the server answers");
        for (name, value) in response.headers() {
            text.push_str(&format!(
                "{name}: {}\n",
                String::from_utf8_lossy(value.as_bytes())
            ));
        }
        text.push_str(&response.text().await.expect("body"));
        text.push('\n');
    }
    let _ = stop.send(());
    let _ = server.await;
    text
}
