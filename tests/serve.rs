//! `workerflow serve` end to end on loopback: the library function with the connectors pointed
//! at a wiremock upstream, and the real binary with SIGTERM. Every response (headers and body)
//! and every log line is checked for the secret sentinel.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use workerflow_runtime::MapSecrets;
use workerflow_runtime::http::{HttpClient, HttpPolicy};
use workerflow_server::{ServeConfig, ServeReport};

mod common;
use child_output::stderr_lines;
use common::job_server;
use job_server::{SLACK_PATH, TOKEN, slack_upstream};
use log_capture::{init_logs, logs};
use workerflow_test_support::{child_output, log_capture};

/// Every secret value (and the API token) contains this; nothing users see may.
const SENTINEL: &str = "SECRET";
/// Put in request payloads; must never reach a log line.
const PAYLOAD_MARKER: &str = "payload-marker-7f3a";

fn assert_logs_clean() {
    for line in logs().lines() {
        assert!(
            !line.contains(SENTINEL),
            "a secret reached a log line: {line}"
        );
        assert!(
            !line.contains(PAYLOAD_MARKER),
            "a payload reached a log line: {line}"
        );
        assert!(
            !line.contains("Bearer"),
            "a token reached a log line: {line}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// A server on loopback.

fn fast_policy() -> HttpPolicy {
    HttpPolicy {
        attempt_timeout: Duration::from_secs(10),
        deadline: Duration::from_secs(20),
        max_retries: 2,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
        jitter: Duration::ZERO,
    }
}

/// Secrets for the routes the tests use, pointing at `upstream`.
fn secrets(upstream: &MockServer) -> MapSecrets {
    let base = upstream.uri();
    MapSecrets::new()
        .with("GOOGLEAI_API_KEY", "google-SECRET-1")
        .with(
            "SLACK_WEBHOOK_URL",
            format!("{base}{SLACK_PATH}?token=SECRETTOKEN"),
        )
        .with("OPENAI_API_KEY", "sk-openai-SECRET-2")
        .with("NOTION_TOKEN", "ntn_SECRET_3")
        .with("WORKERFLOW_NOTION_BASE_URL", base.clone())
        .with("WORKERFLOW_OPENAI_BASE_URL", base)
}

struct Server {
    base: String,
    client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    handle: JoinHandle<std::io::Result<ServeReport>>,
}

async fn start(config: ServeConfig, secrets: MapSecrets) -> Server {
    init_logs();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let registry = workerflow::registry::linked()
        .expect("linked")
        .with_http(HttpClient::new(fast_policy()).expect("client"));
    let (stop, stopped) = oneshot::channel::<()>();
    let handle = tokio::spawn(workerflow_server::serve(
        listener,
        workerflow_server::Api {
            routes: registry,
            openapi_json: workerflow::registry::OPENAPI_JSON,
        },
        Arc::new(secrets),
        config,
        async move {
            let _ = stopped.await;
        },
    ));
    Server {
        base,
        client: reqwest::Client::new(),
        stop: Some(stop),
        handle,
    }
}

fn config() -> ServeConfig {
    ServeConfig {
        token: Some(TOKEN.into()),
        ..ServeConfig::default()
    }
}

/// A response as the tests look at it, already checked for the sentinel.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn trace_id(&self) -> String {
        let trace = self
            .header("x-trace-id")
            .expect("every response has x-trace-id");
        assert!(trace.starts_with("wf-"), "{trace}");
        trace.to_owned()
    }

    /// The error body every failure has.
    fn assert_error(&self, status: u16, code: &str, message: &str, route: Option<&str>) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(
            self.body,
            json!({
                "ok": false,
                "error": {"code": code, "message": message, "route": route, "traceId": self.trace_id()},
            })
        );
    }
}

impl Server {
    async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(SENTINEL), "a secret reached a body: {text}");
        for (name, value) in &headers {
            let value = String::from_utf8_lossy(value.as_bytes());
            assert!(
                !value.contains(SENTINEL),
                "a secret reached {name}: {value}"
            );
        }
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::String(text.into_owned()));
        Answer {
            status,
            headers,
            body,
        }
    }

    fn post(&self, route: &str) -> reqwest::RequestBuilder {
        self.client
            .post(format!("{}/api/{route}", self.base))
            .bearer_auth(TOKEN)
    }

    async fn call(&self, route: &str, input: Value) -> Answer {
        self.send(
            self.post(route)
                .header("content-type", "application/json")
                .body(input.to_string()),
        )
        .await
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        self.send(request).await
    }

    /// Signals shutdown and waits for the report.
    async fn shutdown(mut self) -> ServeReport {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let report = self.handle.await.expect("serve task").expect("serve");
        assert_logs_clean();
        report
    }
}

/// Waits until the upstream has received `count` requests (or fails after 10 s).
async fn wait_for_requests(upstream: &MockServer, count: usize) -> Vec<wiremock::Request> {
    let started = Instant::now();
    loop {
        let received = upstream.received_requests().await.unwrap_or_default();
        if received.len() >= count {
            return received;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the upstream got {} of {count} requests",
            received.len()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The endpoints.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_needs_no_token() {
    let upstream = MockServer::start().await;
    let server = start(config(), secrets(&upstream)).await;
    let answer = server.get("/health", None).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, json!({"ok": true}));
    answer.trace_id();
    assert_eq!(server.shutdown().await.undone, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_the_right_bearer_token_are_401() {
    let upstream = MockServer::start().await;
    let server = start(config(), secrets(&upstream)).await;
    let input = json!({"firstName": "Ava"}).to_string();
    let post = || {
        server
            .client
            .post(format!("{}/api/lead_normalizer", server.base))
            .header("content-type", "application/json")
            .body(input.clone())
    };
    let refused = [
        post(),
        post().bearer_auth("api-token-SECRET-"),
        post().bearer_auth("api-token-SECRET-00"),
        post().bearer_auth("API-TOKEN-SECRET-0"),
        post().header("authorization", format!("Basic {TOKEN}")),
        post().header("authorization", TOKEN),
        // An unknown route is still 401 first: nothing is revealed without the token.
        server
            .client
            .post(format!("{}/api/no_such_route", server.base))
            .header("content-type", "application/json")
            .body("{}"),
        server.client.get(format!("{}/api/routes", server.base)),
        server
            .client
            .get(format!("{}/health/config", server.base))
            .bearer_auth("wrong"),
    ];
    for request in refused {
        let answer = server.send(request).await;
        answer.assert_error(401, "unauthorized", "missing or invalid bearer token", None);
        assert_eq!(answer.header("www-authenticate"), Some("Bearer"));
    }
    // The scheme is case-insensitive; the token is not.
    let accepted = post().header("authorization", format!("bearer {TOKEN}"));
    assert_eq!(server.send(accepted).await.status, 200);
    assert_eq!(server.get("/api/routes", Some(TOKEN)).await.status, 200);
    assert_eq!(server.get("/health/config", Some(TOKEN)).await.status, 200);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_route_answers_200_with_its_output() {
    let upstream = MockServer::start().await;
    let server = start(config(), secrets(&upstream)).await;
    let input = json!({
        "firstName": "Ava", "lastName": "Ng", "email": " AVA@Example.COM ",
        "phone": "(555) 111-2222", "notes": PAYLOAD_MARKER,
    });
    let answer = server.call("lead_normalizer", input).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(
        answer.body,
        json!({
            "ok": true,
            "route": "lead_normalizer",
            "normalized": {
                "fullName": "Ava Ng", "email": "ava@example.com",
                "phone": "5551112222", "source": "unspecified",
            },
        })
    );
    // One log line for the request: method, path, status, duration and trace id.
    let trace = answer.trace_id();
    let line = logs()
        .lines()
        .find(|line| line.contains(&trace))
        .map(str::to_owned)
        .expect("a log line for the request");
    assert!(
        line.contains("request method=POST path=/api/lead_normalizer status=200 duration_us="),
        "{line}"
    );
    // A field named `body` is input, not an envelope.
    let answer = server
        .call(
            "lead_normalizer",
            json!({"body": {"fullName": "X"}, "fullName": "Bo"}),
        )
        .await;
    assert_eq!(answer.body["normalized"]["fullName"], "Bo");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_is_400_with_line_and_column() {
    let upstream = MockServer::start().await;
    let server = start(config(), secrets(&upstream)).await;
    let request = server
        .post("lead_normalizer")
        .header("content-type", "application/json")
        .body("{\n  \"firstName\": \"Ava\",\n  \"email\": nope\n}");
    server.send(request).await.assert_error(
        400,
        "malformed_json",
        "request body is not valid JSON: expected ident (line 3, column 13)",
        Some("lead_normalizer"),
    );
    let empty = server
        .post("lead_normalizer")
        .header("content-type", "application/json");
    server.send(empty).await.assert_error(
        400,
        "malformed_json",
        "request body is not valid JSON: EOF while parsing a value (line 1, column 0)",
        Some("lead_normalizer"),
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_is_not_declared_json_is_415() {
    let upstream = MockServer::start().await;
    let server = start(config(), secrets(&upstream)).await;
    for content_type in [Some("text/plain"), Some("application/jsonx"), None] {
        let mut request = server.post("lead_normalizer").body("{}");
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        server.send(request).await.assert_error(
            415,
            "unsupported_media_type",
            "expected content-type: application/json",
            Some("lead_normalizer"),
        );
    }
    let with_charset = server
        .post("lead_normalizer")
        .header("content-type", "Application/JSON; charset=utf-8")
        .body("{}");
    assert_eq!(server.send(with_charset).await.status, 200);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_is_413() {
    let upstream = MockServer::start().await;
    let config = ServeConfig {
        body_limit: 1024,
        ..config()
    };
    let server = start(config, secrets(&upstream)).await;
    let at_limit = json!({"notes": "x".repeat(1024 - 12)}).to_string();
    assert_eq!(at_limit.len(), 1024);
    let answer = server
        .send(
            server
                .post("lead_normalizer")
                .header("content-type", "application/json")
                .body(at_limit),
        )
        .await;
    assert_eq!(answer.status, 200);
    let over = json!({"notes": "x".repeat(1024 - 11)}).to_string();
    server
        .send(
            server
                .post("lead_normalizer")
                .header("content-type", "application/json")
                .body(over),
        )
        .await
        .assert_error(
            413,
            "payload_too_large",
            "request body exceeds the limit of 1024 bytes",
            Some("lead_normalizer"),
        );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_and_paths_are_404_and_wrong_methods_405() {
    let upstream = MockServer::start().await;
    let server = start(config(), secrets(&upstream)).await;
    server.call("slak_message", json!({})).await.assert_error(
        404,
        "unknown_route",
        "unknown route \"slak_message\"; did you mean \"slack_message\"?",
        Some("slak_message"),
    );
    server.call("zzz", json!({})).await.assert_error(
        404,
        "unknown_route",
        "unknown route \"zzz\"",
        Some("zzz"),
    );
    server.get("/nowhere", None).await.assert_error(
        404,
        "not_found",
        "no such endpoint; see GET /api/routes",
        None,
    );
    server
        .get("/api/lead_normalizer", Some(TOKEN))
        .await
        .assert_error(
            405,
            "method_not_allowed",
            "method GET is not allowed on this endpoint",
            None,
        );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_errors_keep_the_runtime_statuses() {
    let upstream = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/pages/missing"))
        .respond_with(ResponseTemplate::new(404).set_body_raw(
            json!({"object": "error", "code": "object_not_found", "message": "Could not find page"})
                .to_string(),
            "application/json",
        ))
        .mount(&upstream)
        .await;
    let mut secrets = secrets(&upstream);
    // Nothing listens on port 9 of loopback (discard): connection refused.
    secrets.insert("WORKERFLOW_OPENAI_BASE_URL", "http://127.0.0.1:9");
    let server = start(config(), secrets).await;

    // Invalid input also lists every problem with its field and JSON pointer.
    let refused = server
        .call("openai_chat", json!({"prompt": 5, "temperature": "hot"}))
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(
        refused.body,
        json!({
            "ok": false,
            "error": {
                "code": "invalid_input",
                "message": "openai_chat: \"prompt\" must be a string or null; openai_chat: \"temperature\" must be a number or null",
                "route": "openai_chat",
                "traceId": refused.trace_id(),
                "problems": [
                    {"field": "prompt", "pointer": "/prompt", "message": "openai_chat: \"prompt\" must be a string or null"},
                    {"field": "temperature", "pointer": "/temperature", "message": "openai_chat: \"temperature\" must be a number or null"},
                ],
            },
        })
    );
    server
        .call("stripe_customer_upsert", json!({"email": "a@example.com"}))
        .await
        .assert_error(
            500,
            "config",
            "route \"stripe_customer_upsert\": missing Stripe API key. Checked: STRIPE_API_KEY",
            Some("stripe_customer_upsert"),
        );
    server
        .call("notion_database_item_get", json!({"pageId": "missing"}))
        .await
        .assert_error(
            404,
            "provider",
            "Notion request failed: 404 object_not_found Could not find page",
            Some("notion_database_item_get"),
        );
    server
        .call("openai_chat", json!({"prompt": "hi"}))
        .await
        .assert_error(
            502,
            "gateway",
            "OpenAI chat completion failed: connection failed (127.0.0.1:9): connection refused",
            Some("openai_chat"),
        );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_and_config_name_requirements_never_values() {
    let upstream = MockServer::start().await;
    let server = start(config(), secrets(&upstream)).await;
    let routes = server.get("/api/routes", Some(TOKEN)).await;
    assert_eq!(routes.status, 200);
    assert_eq!(routes.body["ok"], true);
    let listed = routes.body["routes"].as_array().expect("routes");
    assert_eq!(listed.len(), workerflow::registry::ALL.len());
    let slack = listed
        .iter()
        .find(|route| route["route"] == "slack_message")
        .expect("slack_message");
    assert_eq!(
        slack,
        &json!({
            "route": "slack_message",
            "service": "slack",
            "requestType": "async",
            "summary": "Post one line of text to a Slack incoming webhook.",
            "enabled": true,
            "disabledBy": null,
            "secrets": [{"label": "Slack webhook URL", "anyOf": ["SLACK_WEBHOOK_URL"]}],
            "settings": [],
        })
    );
    // Issue 32: the runtime's `RouteInfo` answers this through its view, with the fields (and
    // their order) the endpoint always had: no `serviceName`, nothing the environment sets.
    assert_eq!(
        serde_json::to_string(slack).expect("text"),
        "{\"route\":\"slack_message\",\"service\":\"slack\",\"requestType\":\"async\",\
         \"summary\":\"Post one line of text to a Slack incoming webhook.\",\"enabled\":true,\
         \"disabledBy\":null,\"secrets\":[{\"label\":\"Slack webhook URL\",\
         \"anyOf\":[\"SLACK_WEBHOOK_URL\"]}],\"settings\":[]}"
    );

    let config = server.get("/health/config", Some(TOKEN)).await;
    assert_eq!(config.status, 200);
    assert_eq!(config.body["ok"], false);
    let report = config.body["routes"].as_array().expect("routes");
    assert_eq!(report.len(), workerflow::registry::ALL.len());
    let entry = |id: &str| {
        report
            .iter()
            .find(|route| route["route"] == id)
            .cloned()
            .expect("route in report")
    };
    assert_eq!(
        entry("slack_message"),
        json!({"route": "slack_message", "service": "slack", "enabled": true, "disabledBy": null,
               "implemented": true, "configured": true, "missing": []})
    );
    assert_eq!(
        entry("stripe_customer_upsert"),
        json!({"route": "stripe_customer_upsert", "service": "stripe", "enabled": true,
               "disabledBy": null, "implemented": true, "configured": false,
               "missing": [{"kind": "missing", "label": "Stripe API key", "checked": ["STRIPE_API_KEY"]}]})
    );
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Async routes and the job queue.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_route_is_queued_202_and_its_request_arrives() {
    let upstream = slack_upstream(Duration::ZERO).await;
    let server = start(config(), secrets(&upstream)).await;
    let answer = server
        .call(
            "slack_message",
            json!({"text": format!(" deploy {PAYLOAD_MARKER} ")}),
        )
        .await;
    let trace = answer.trace_id();
    assert_eq!(answer.status, 202);
    assert_eq!(
        answer.body,
        json!({"ok": true, "route": "slack_message", "traceId": trace, "status": "queued"})
    );
    let received = wait_for_requests(&upstream, 1).await;
    assert_eq!(received[0].url.query(), Some("token=SECRETTOKEN"));
    assert_eq!(
        String::from_utf8_lossy(&received[0].body),
        json!({"text": format!("[WorkerFlow:{trace}] deploy {PAYLOAD_MARKER}")}).to_string()
    );
    let report = server.shutdown().await;
    assert_eq!(report.undone, 0);
    assert_eq!(report.jobs.accepted, 1);
    assert_eq!(report.jobs.succeeded, 1);
    assert!(
        logs()
            .lines()
            .any(|line| line.contains("job done") && line.contains(&trace)),
        "a log line for the job"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_route_without_its_secret_is_500_and_not_queued() {
    let upstream = slack_upstream(Duration::ZERO).await;
    let mut secrets = secrets(&upstream);
    secrets.remove("SLACK_WEBHOOK_URL");
    secrets.insert("SLACK_WEBHOOK_URL", " \u{feff} ");
    let server = start(config(), secrets).await;
    server
        .call("slack_message", json!({"text": "hi"}))
        .await
        .assert_error(
            500,
            "config",
            "route \"slack_message\": missing Slack webhook URL. Checked: SLACK_WEBHOOK_URL",
            Some("slack_message"),
        );
    let report = server.shutdown().await;
    assert_eq!(report.jobs.accepted, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_is_503_with_retry_after_and_accepted_jobs_still_run() {
    let upstream = slack_upstream(Duration::from_millis(400)).await;
    let config = ServeConfig {
        workers: 1,
        queue_capacity: 1,
        ..config()
    };
    let server = start(config, secrets(&upstream)).await;
    assert_eq!(
        server
            .call("slack_message", json!({"text": "a"}))
            .await
            .status,
        202
    );
    // The one worker has taken the first job: the queue is empty again.
    wait_for_requests(&upstream, 1).await;
    assert_eq!(
        server
            .call("slack_message", json!({"text": "b"}))
            .await
            .status,
        202
    );
    let refused = server.call("slack_message", json!({"text": "c"})).await;
    refused.assert_error(
        503,
        "queue_full",
        "the async job queue is full (1 jobs waiting); retry later",
        Some("slack_message"),
    );
    assert_eq!(refused.header("retry-after"), Some("1"));
    let report = server.shutdown().await;
    assert_eq!(report.undone, 0);
    assert_eq!(report.jobs.accepted, 2);
    assert_eq!(report.jobs.succeeded, 2);
    let texts: Vec<String> = upstream
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|request| String::from_utf8_lossy(&request.body).into_owned())
        .collect();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(
        texts[0].ends_with("] a\"}") && texts[1].ends_with("] b\"}"),
        "{texts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_every_queued_job() {
    let upstream = slack_upstream(Duration::from_millis(50)).await;
    let config = ServeConfig {
        workers: 1,
        ..config()
    };
    let server = start(config, secrets(&upstream)).await;
    for n in 0..5 {
        let answer = server
            .call("slack_message", json!({"text": format!("job {n}")}))
            .await;
        assert_eq!(answer.status, 202);
    }
    let report = server.shutdown().await;
    assert_eq!(report.undone, 0);
    assert!(!report.requests_cut);
    assert_eq!(report.jobs.accepted, 5);
    assert_eq!(report.jobs.succeeded, 5);
    assert_eq!(
        upstream.received_requests().await.unwrap_or_default().len(),
        5
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_left_at_the_drain_deadline_are_counted_and_logged() {
    let upstream = slack_upstream(Duration::from_secs(5)).await;
    let config = ServeConfig {
        workers: 1,
        drain_timeout: Duration::from_millis(300),
        ..config()
    };
    let server = start(config, secrets(&upstream)).await;
    let mut traces = Vec::new();
    for n in 0..3 {
        let answer = server
            .call("slack_message", json!({"text": format!("job {n}")}))
            .await;
        assert_eq!(answer.status, 202);
        traces.push(answer.trace_id());
    }
    wait_for_requests(&upstream, 1).await;
    let started = Instant::now();
    let report = server.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(report.undone, 3);
    assert_eq!(report.jobs.accepted, 3);
    assert_eq!(report.jobs.succeeded + report.jobs.failed, 0);
    let logs = logs();
    // The first job was running at the deadline, the others were still queued: every one is
    // named with its route and trace id.
    for (n, trace) in traces.iter().enumerate() {
        let state = if n == 0 {
            "still running"
        } else {
            "still queued"
        };
        assert!(
            logs.lines().any(|line| line.contains("job left undone")
                && line.contains(state)
                && line.contains("route=slack_message")
                && line.contains(trace.as_str())),
            "no undone line for {trace}: {}",
            logs.lines()
                .filter(|l| l.contains("undone"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    assert!(logs.contains("drain deadline passed: 3 accepted jobs left undone"));
}

// ---------------------------------------------------------------------------------------------
// The binary.

/// Runs `workerflow serve --jobs memory` with exactly `env`; stderr lines arrive on the
/// returned channel. These tests are about the in-memory queue; `tests/jobs.rs` covers the
/// durable store.
fn spawn_binary(args: &[&str], env: &[(&str, &str)]) -> (Child, std::sync::mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_workerflow"))
        .args(["serve", "--jobs", "memory"])
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let received = stderr_lines(&mut child);
    (child, received)
}

/// Reads stderr until the `listening on http://…` line; returns the base URL and the lines.
fn wait_listening(lines: &std::sync::mpsc::Receiver<String>) -> (String, Vec<String>) {
    child_output::wait_listening(lines)
        .unwrap_or_else(|seen| panic!("no listening line; stderr so far: {seen:#?}"))
}

/// Sends SIGTERM and collects the exit code and all of stderr.
fn terminate(
    mut child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    mut seen: Vec<String>,
) -> (Option<i32>, String) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let exit = child.wait().expect("the binary exits");
    seen.extend(lines.iter());
    let stderr = seen.join("\n");
    assert!(
        !stderr.contains(SENTINEL),
        "a secret reached the log: {stderr}"
    );
    assert!(
        !stderr.contains(PAYLOAD_MARKER),
        "a payload reached the log: {stderr}"
    );
    (exit.code(), stderr)
}

#[test]
fn the_binary_refuses_to_start_without_a_token() {
    let output = Command::new(env!("CARGO_BIN_EXE_workerflow"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env_clear()
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: WORKERFLOW_API_TOKEN is not set; set it to the bearer token callers must send, \
         or pass --no-auth to serve without authentication on a loopback address\n"
    );
    let output = Command::new(env!("CARGO_BIN_EXE_workerflow"))
        .args(["serve", "--addr", "0.0.0.0:0", "--no-auth"])
        .env_clear()
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: --no-auth is allowed only on a loopback address (got 0.0.0.0:0); set WORKERFLOW_API_TOKEN instead\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_drains_its_queue_on_sigterm_and_exits_0() {
    let upstream = slack_upstream(Duration::from_millis(200)).await;
    let webhook = format!("{}{SLACK_PATH}?token=SECRETTOKEN", upstream.uri());
    let (child, lines) = spawn_binary(
        &["--addr", "127.0.0.1:0", "--workers", "1"],
        &[
            ("WORKERFLOW_API_TOKEN", TOKEN),
            ("SLACK_WEBHOOK_URL", &webhook),
        ],
    );
    let (base, seen) = tokio::task::spawn_blocking(move || {
        let (base, seen) = wait_listening(&lines);
        (base, (seen, lines))
    })
    .await
    .expect("listening");
    let (seen, lines) = seen;
    let client = reqwest::Client::new();
    for n in 0..3 {
        let response = client
            .post(format!("{base}/api/slack_message"))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(json!({"text": format!("{PAYLOAD_MARKER} {n}")}).to_string())
            .send()
            .await
            .expect("answer");
        assert_eq!(response.status().as_u16(), 202);
    }
    let (code, stderr) = tokio::task::spawn_blocking(move || terminate(child, lines, seen))
        .await
        .expect("terminated");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains(
            "drained: every accepted job ran, 0 left undone accepted=3 succeeded=3 failed=0"
        ),
        "{stderr}"
    );
    assert_eq!(
        upstream.received_requests().await.unwrap_or_default().len(),
        3
    );
}

/// `ENABLED_HTTP_ROUTES` / `DISABLED_HTTP_ROUTES`: the binary serves three of the twelve routes
/// with only their secrets set; a disabled route is 404 `route_disabled` (not `unknown_route`)
/// in the usual error body, and the reports say which routes are enabled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_only_the_enabled_routes() {
    let (child, lines) = spawn_binary(
        &["--addr", "127.0.0.1:0"],
        &[
            ("WORKERFLOW_API_TOKEN", TOKEN),
            (
                "ENABLED_HTTP_ROUTES",
                "slack_message, lead_normalizer,chat_notify,openai_chat",
            ),
            ("DISABLED_HTTP_ROUTES", "openai_chat"),
            ("SLACK_WEBHOOK_URL", "http://127.0.0.1:9/SECRET"),
            ("GOOGLEAI_API_KEY", "google-SECRET-1"),
            ("CHAT_WEBHOOK_URL", "http://127.0.0.1:9/chat-SECRET"),
        ],
    );
    let (base, seen) = tokio::task::spawn_blocking(move || {
        let (base, seen) = wait_listening(&lines);
        (base, (seen, lines))
    })
    .await
    .expect("listening");
    let (seen, lines) = seen;
    // The binary's server, with the request helpers (and their sentinel checks) of the library
    // tests; it is stopped with SIGTERM below, not with `shutdown`.
    let server = Server {
        base,
        client: reqwest::Client::new(),
        stop: None,
        handle: tokio::spawn(std::future::pending()),
    };
    server
        .call("openai_chat", json!({"prompt": "hi"}))
        .await
        .assert_error(
            404,
            "route_disabled",
            "route \"openai_chat\" is disabled in this deployment (in DISABLED_HTTP_ROUTES)",
            Some("openai_chat"),
        );
    server
        .call("stripe_customer_upsert", json!({"email": "a@example.com"}))
        .await
        .assert_error(
            404,
            "route_disabled",
            "route \"stripe_customer_upsert\" is disabled in this deployment (not in ENABLED_HTTP_ROUTES)",
            Some("stripe_customer_upsert"),
        );
    // Unknown stays unknown.
    server.call("slak_message", json!({})).await.assert_error(
        404,
        "unknown_route",
        "unknown route \"slak_message\"; did you mean \"slack_message\"?",
        Some("slak_message"),
    );
    // An enabled route runs (the lead normaliser sends nothing for an empty lead).
    let answer = server.call("lead_normalizer", json!({})).await;
    assert_eq!(
        (answer.status, &answer.body["ok"]),
        (200, &json!(true)),
        "{}",
        answer.body
    );

    let config = server.get("/health/config", Some(TOKEN)).await;
    assert_eq!(config.status, 200);
    assert_eq!(config.body["ok"], true, "{}", config.body);
    let report = config.body["routes"].as_array().expect("routes");
    let states: Vec<(String, bool, Value)> = report
        .iter()
        .map(|r| {
            let id = r["route"].as_str().unwrap_or_default().to_owned();
            (id, r["enabled"] == true, r["disabledBy"].clone())
        })
        .collect();
    let enabled: Vec<&str> = states
        .iter()
        .filter(|(_, on, _)| *on)
        .map(|(id, _, _)| id.as_str())
        .collect();
    assert_eq!(enabled, ["slack_message", "chat_notify", "lead_normalizer"]);
    let by = |id: &str| {
        states
            .iter()
            .find(|(route, _, _)| route == id)
            .map(|(_, _, by)| by.clone())
            .expect("listed")
    };
    assert_eq!(by("openai_chat"), json!("DISABLED_HTTP_ROUTES"));
    assert_eq!(by("stripe_customer_upsert"), json!("ENABLED_HTTP_ROUTES"));
    assert_eq!(by("slack_message"), Value::Null);
    // A disabled route's missing secret is reported but does not fail the check.
    let stripe = report
        .iter()
        .find(|r| r["route"] == "stripe_customer_upsert")
        .expect("stripe");
    assert_eq!(
        stripe,
        &json!({"route": "stripe_customer_upsert", "service": "stripe", "enabled": false,
                "disabledBy": "ENABLED_HTTP_ROUTES", "implemented": true, "configured": false,
                "missing": [{"kind": "missing", "label": "Stripe API key", "checked": ["STRIPE_API_KEY"]}]})
    );

    let routes = server.get("/api/routes", Some(TOKEN)).await;
    let listed = routes.body["routes"].as_array().expect("routes");
    let openai = listed
        .iter()
        .find(|r| r["route"] == "openai_chat")
        .expect("listed");
    assert_eq!(
        (&openai["enabled"], &openai["disabledBy"]),
        (&json!(false), &json!("DISABLED_HTTP_ROUTES"))
    );
    let (code, stderr) = tokio::task::spawn_blocking(move || terminate(child, lines, seen))
        .await
        .expect("terminated");
    assert_eq!(code, Some(0), "{stderr}");
}

/// An unknown name in the settings stops the binary before it listens.
#[test]
fn the_binary_refuses_an_unknown_route_in_the_enablement_settings() {
    let output = Command::new(env!("CARGO_BIN_EXE_workerflow"))
        .args(["serve", "--jobs", "memory", "--addr", "127.0.0.1:0"])
        .env_clear()
        .env("WORKERFLOW_API_TOKEN", TOKEN)
        .env(
            "DISABLED_HTTP_ROUTES",
            "stripe_customer_upsert,githb_issue_create",
        )
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: DISABLED_HTTP_ROUTES names unknown route \"githb_issue_create\"; did you mean \"github_issue_create\"?\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_exits_1_when_the_drain_deadline_leaves_jobs_undone() {
    let upstream = slack_upstream(Duration::from_secs(10)).await;
    let webhook = format!("{}{SLACK_PATH}?token=SECRETTOKEN", upstream.uri());
    let (child, lines) = spawn_binary(
        &[
            "--addr",
            "127.0.0.1:0",
            "--workers",
            "1",
            "--drain-timeout",
            "300ms",
        ],
        &[
            ("WORKERFLOW_API_TOKEN", TOKEN),
            ("SLACK_WEBHOOK_URL", &webhook),
        ],
    );
    let (base, (seen, lines)) = tokio::task::spawn_blocking(move || {
        let (base, seen) = wait_listening(&lines);
        (base, (seen, lines))
    })
    .await
    .expect("listening");
    let client = reqwest::Client::new();
    for n in 0..2 {
        let response = client
            .post(format!("{base}/api/slack_message"))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(json!({"text": format!("job {n}")}).to_string())
            .send()
            .await
            .expect("answer");
        assert_eq!(response.status().as_u16(), 202);
    }
    wait_for_requests(&upstream, 1).await;
    let started = Instant::now();
    let (code, stderr) = tokio::task::spawn_blocking(move || terminate(child, lines, seen))
        .await
        .expect("terminated");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("drain deadline passed: 2 accepted jobs left undone"),
        "{stderr}"
    );
    assert!(
        stderr.ends_with("error: 2 accepted async jobs were left undone at the drain deadline"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------------------------
// Hardening (issue 11): timeouts, the connection cap, shutdown with open connections, input
// checks before queueing, answers written below the router, HTTP/1 only.

/// An answer read off a raw socket.
struct RawAnswer {
    status: u16,
    head: String,
    body: Value,
}

impl RawAnswer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then_some(value.trim())
        })
    }

    /// hyper's own answer to a request it cannot parse at all: the status, no body.
    fn assert_bare(&self, status: u16) {
        assert_eq!(self.status, status, "{}\n{}", self.head, self.body);
        assert_eq!(self.body, json!(""), "{}", self.head);
    }

    /// The documented error body, with the `x-trace-id` header's id.
    fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}\n{}", self.head, self.body);
        let trace = self.header("x-trace-id").expect("x-trace-id");
        assert!(trace.starts_with("wf-"), "{trace}");
        assert_eq!(self.body["ok"], json!(false), "{}", self.body);
        assert_eq!(self.body["error"]["code"], json!(code), "{}", self.body);
        assert_eq!(self.body["error"]["traceId"], json!(trace), "{}", self.body);
        assert!(self.body["error"]["message"].is_string(), "{}", self.body);
    }
}

fn addr_of(base: &str) -> String {
    base.trim_start_matches("http://").to_owned()
}

/// Writes `request` on a fresh connection and reads until the server closes it (5 s at most).
async fn raw_bytes(base: &str, request: &[u8]) -> Vec<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr_of(base))
        .await
        .expect("connect");
    // The server may answer (and close) before it has read everything; that is fine.
    let _ = stream.write_all(request).await;
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 8192];
    // Generous: on a loaded machine an answer can take seconds; a server that never answers is
    // still caught (the header timeout would close without the documented body).
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server kept the connection open");
    bytes
}

/// [`raw_bytes`], parsed as an HTTP/1.1 answer.
async fn raw(base: &str, request: &[u8]) -> RawAnswer {
    let bytes = raw_bytes(base, request).await;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    assert!(
        !text.contains(SENTINEL),
        "a secret reached an answer: {text}"
    );
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP/1.1 answer: {text:?}"));
    RawAnswer {
        status,
        head: head.to_owned(),
        body: serde_json::from_str(body).unwrap_or(Value::String(body.to_owned())),
    }
}

/// How long until the server closes `stream` (reads until EOF or an error), at most 10 s.
async fn time_to_close(stream: &mut tokio::net::TcpStream) -> Duration {
    use tokio::io::AsyncReadExt;
    let started = Instant::now();
    let mut chunk = [0u8; 1024];
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    started.elapsed()
}

fn tight_config() -> ServeConfig {
    ServeConfig {
        header_timeout: Duration::from_millis(600),
        body_timeout: Duration::from_millis(600),
        keep_alive_timeout: Duration::from_millis(400),
        ..config()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_slow_connections_are_closed_within_their_limits() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let upstream = MockServer::start().await;
    let server = start(tight_config(), secrets(&upstream)).await;
    let addr = addr_of(&server.base);
    let limit = Duration::from_millis(1500);

    // A socket that never sends a byte: the keep-alive timeout.
    let mut idle = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let idle_closed = tokio::spawn(async move { time_to_close(&mut idle).await });

    // A header trickling in one byte every 100 ms: the header timeout, whatever the trickle.
    let trickle = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let (mut trickle_read, mut trickle_write) = trickle.into_split();
    tokio::spawn(async move {
        for byte in b"GET /health HTTP/1.1\r\nx-a: ".iter().cycle().take(200) {
            if trickle_write.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let trickle_closed = tokio::spawn(async move {
        let started = Instant::now();
        let mut chunk = [0u8; 256];
        while let Ok(n) = trickle_read.read(&mut chunk).await {
            if n == 0 {
                break;
            }
        }
        started.elapsed()
    });

    // An authenticated body trickling in: 408 with the documented body, then closed.
    let mut slow_body = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    slow_body
        .write_all(
            format!(
                "POST /api/lead_normalizer HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {TOKEN}\r\n\
                 content-type: application/json\r\ncontent-length: 1000\r\n\r\n{{"
            )
            .as_bytes(),
        )
        .await
        .expect("write");
    let (mut body_read, mut body_write) = slow_body.into_split();
    tokio::spawn(async move {
        for _ in 0..200 {
            if body_write.write_all(b" ").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let started = Instant::now();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), body_read.read_to_end(&mut answer)).await;
    let body_elapsed = started.elapsed();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"request_timeout\""), "{answer}");
    assert!(answer.contains("x-trace-id: wf-"), "{answer}");
    assert!(body_elapsed < limit, "slow body held for {body_elapsed:?}");

    // A keep-alive connection that went quiet after one request.
    let mut kept = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    kept.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("write");
    let mut first = [0u8; 512];
    let n = kept.read(&mut first).await.expect("read");
    assert!(first[..n].starts_with(b"HTTP/1.1 200"));
    let kept_elapsed = time_to_close(&mut kept).await;
    assert!(
        kept_elapsed < limit,
        "idle keep-alive held for {kept_elapsed:?}"
    );

    let idle_elapsed = idle_closed.await.expect("idle");
    assert!(
        idle_elapsed < limit,
        "idle socket held for {idle_elapsed:?}"
    );
    let trickle_elapsed = trickle_closed.await.expect("trickle");
    assert!(
        trickle_elapsed < limit,
        "trickled header held for {trickle_elapsed:?}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_connection_cap_new_connections_get_503_and_health_comes_back() {
    let upstream = MockServer::start().await;
    let config = ServeConfig {
        max_connections: 3,
        ..tight_config()
    };
    let server = start(config, secrets(&upstream)).await;
    let addr = addr_of(&server.base);
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(
            tokio::net::TcpStream::connect(&addr)
                .await
                .expect("connect"),
        );
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let refused = raw(&server.base, b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n").await;
    refused.assert_error(503, "too_many_connections");
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert_eq!(
        refused.body["error"]["message"],
        json!("the server has 3 connections open; retry later")
    );
    // Once the idle sockets time out, /health answers again.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let health = server.get("/health", None).await;
    assert_eq!(health.status, 200);
    drop(idle);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_idle_and_half_sent_connections_at_once() {
    use tokio::io::AsyncWriteExt;
    let upstream = MockServer::start().await;
    // The default timeouts (10 s header, 5 s keep-alive) and drain (30 s): none may be waited for.
    let server = start(config(), secrets(&upstream)).await;
    let addr = addr_of(&server.base);
    let _idle = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let mut half = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    half.write_all(b"POST /api/lead_norm").await.expect("write");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let report = server.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "shutdown took {:?}",
        started.elapsed()
    );
    assert!(!report.requests_cut);
    assert!(time_to_close(&mut half).await < Duration::from_secs(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_exits_at_once_on_sigterm_with_idle_and_half_sent_connections() {
    use std::io::Write as _;
    let (child, lines) = spawn_binary(
        &["--addr", "127.0.0.1:0"],
        &[("WORKERFLOW_API_TOKEN", TOKEN)],
    );
    let (base, (seen, lines)) = tokio::task::spawn_blocking(move || {
        let (base, seen) = wait_listening(&lines);
        (base, (seen, lines))
    })
    .await
    .expect("listening");
    let addr = addr_of(&base);
    let _idle = std::net::TcpStream::connect(&addr).expect("connect");
    let mut half = std::net::TcpStream::connect(&addr).expect("connect");
    half.write_all(b"GET /hea").expect("write");
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    let (code, stderr) = tokio::task::spawn_blocking(move || terminate(child, lines, seen))
        .await
        .expect("terminated");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "exit took {:?}: {stderr}",
        started.elapsed()
    );
    assert_eq!(code, Some(0), "{stderr}");
}

/// Secrets for `github_issue_create`, pointed at `upstream`.
fn github_secrets(upstream: &MockServer) -> MapSecrets {
    secrets(upstream)
        .with("GITHUB_TOKEN", "ghp_SECRET_4")
        .with("WORKERFLOW_GITHUB_BASE_URL", upstream.uri())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_calls_certain_to_fail_are_400_before_anything_is_queued_or_sent() {
    let upstream = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&upstream)
        .await;
    let server = start(config(), github_secrets(&upstream)).await;
    let registry = workerflow::registry::linked().expect("linked");
    let cases = [
        (
            "slack_message",
            json!({"text": "hi", "webhookUrl": "https://example.com/hook"}),
        ),
        ("github_issue_create", json!({"repo": "a/b", "title": " "})),
    ];
    for (route, input) in cases {
        // The error a sync call (dispatch) gets for the same input.
        let expected = registry
            .dispatch(
                route,
                json!({"body": input.clone()}),
                &github_secrets(&upstream),
            )
            .await
            .expect_err("the input is refused");
        assert_eq!(expected.status(), 400, "{expected}");
        let problems = match expected.as_connector() {
            Some(workerflow_runtime::ConnectorError::InvalidInput { problems, .. }) => {
                serde_json::to_value(problems).expect("problems serialize")
            }
            other => panic!("not invalid input: {other:?}"),
        };
        let answer = server.call(route, input).await;
        assert_eq!(answer.status, 400, "{}", answer.body);
        assert_eq!(
            answer.body,
            json!({
                "ok": false,
                "error": {
                    "code": "invalid_input",
                    "message": expected.to_string(),
                    "route": route,
                    "traceId": answer.trace_id(),
                    "problems": problems,
                },
            })
        );
    }
    // A valid call still goes through.
    let accepted = server
        .call("github_issue_create", json!({"repo": "a/b", "title": "t"}))
        .await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    // Only the schema is checked up front, no handler code: a malformed repo is the handler's
    // refusal, when the job runs, and it sends nothing either.
    let handler_refuses = server
        .call(
            "github_issue_create",
            json!({"repo": "a/b/../../c", "title": "t"}),
        )
        .await;
    assert_eq!(handler_refuses.status, 202, "{}", handler_refuses.body);
    let report = server.shutdown().await;
    assert_eq!(report.jobs.accepted, 2);
    let received = upstream.received_requests().await.unwrap_or_default();
    assert_eq!(received.len(), 1, "only the valid call was sent");
    assert_eq!(received[0].url.path(), "/repos/a/b/issues");
}

#[test]
fn the_binary_refuses_weak_configuration() {
    // A server that starts instead of refusing is killed after 10 s and fails the test.
    let run = |args: &[&str], token: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_workerflow"))
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(args)
            .env_clear()
            .env("WORKERFLOW_API_TOKEN", token)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("runs");
        let started = Instant::now();
        while child.try_wait().expect("status").is_none() {
            if started.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let output = child.wait_with_output().expect("output");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    assert_eq!(
        run(&[], " \u{feff} "),
        (
            Some(2),
            "error: WORKERFLOW_API_TOKEN is blank; generate one with `openssl rand -hex 32`\n"
                .to_owned()
        )
    );
    assert_eq!(
        run(&[], "short-token"),
        (
            Some(2),
            "error: WORKERFLOW_API_TOKEN is 11 characters long; use at least 16 \
             (generate one with `openssl rand -hex 32`)\n"
                .to_owned()
        )
    );
    // Issue 30.8: sixteen zero-width spaces are no token; invisible characters do not count.
    assert_eq!(
        run(&[], &"\u{200b}".repeat(16)),
        (
            Some(2),
            "error: WORKERFLOW_API_TOKEN is 16 invisible characters (zero-width or format \
             characters); generate one with `openssl rand -hex 32`\n"
                .to_owned()
        )
    );
    assert_eq!(
        run(&[], &format!("abc{}", "\u{2060}".repeat(20))),
        (
            Some(2),
            "error: WORKERFLOW_API_TOKEN is 3 characters long; use at least 16 \
             (generate one with `openssl rand -hex 32`)\n"
                .to_owned()
        )
    );
    let (code, stderr) = run(&["--queue-capacity", "0"], TOKEN);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.starts_with("error: invalid value '0' for '--queue-capacity <N>'"),
        "{stderr}"
    );
    let (code, stderr) = run(&["--header-timeout", "0s"], TOKEN);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("must be more than zero"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_below_the_router_have_the_documented_body() {
    let upstream = MockServer::start().await;
    let server = start(config(), secrets(&upstream)).await;
    // A request line hyper cannot parse: hyper's own 400, without a body (issue 32: the server
    // no longer rewrites hyper's answers).
    raw(&server.base, b"BAD REQUEST LINE\r\n\r\n")
        .await
        .assert_bare(400);
    // A URI over the server's limit (32 KiB); one over what hyper can hold at all (64 KiB),
    // hyper's own bare 414; and a long one under both (the router's 404).
    let long = format!("GET /{} HTTP/1.1\r\nhost: x\r\n\r\n", "a".repeat(40_000));
    raw(&server.base, long.as_bytes())
        .await
        .assert_error(414, "uri_too_long");
    let long = format!("GET /{} HTTP/1.1\r\nhost: x\r\n\r\n", "a".repeat(70_000));
    raw(&server.base, long.as_bytes()).await.assert_bare(414);
    let long = format!(
        "GET /{} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        "a".repeat(20_000)
    );
    raw(&server.base, long.as_bytes())
        .await
        .assert_error(404, "not_found");
    // Too many headers, and headers too large.
    let many: String = (0..200).map(|n| format!("x-h{n}: v\r\n")).collect();
    let request = format!("GET /health HTTP/1.1\r\nhost: x\r\n{many}\r\n");
    raw(&server.base, request.as_bytes())
        .await
        .assert_error(431, "header_fields_too_large");
    // Over the router's 64 KiB and under hyper's buffer (512 KiB): the router's answer, however
    // the bytes arrive.
    let request = format!(
        "GET /health HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "v".repeat(100_000)
    );
    raw(&server.base, request.as_bytes())
        .await
        .assert_error(431, "header_fields_too_large");
    let request = format!(
        "GET /health HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "v".repeat(500_000)
    );
    raw(&server.base, request.as_bytes())
        .await
        .assert_error(431, "header_fields_too_large");
    // A 5,000-character method: 405, the method cut in the message.
    let request = format!(
        "{} /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        "M".repeat(5_000)
    );
    let answer = raw(&server.base, request.as_bytes()).await;
    answer.assert_error(405, "method_not_allowed");
    assert_eq!(
        answer.body["error"]["message"],
        json!(format!(
            "method {}… is not allowed on this endpoint",
            "M".repeat(20)
        ))
    );
    assert!(
        !logs().contains(&"M".repeat(21)),
        "the method is cut in the log"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_is_not_served() {
    let upstream = MockServer::start().await;
    let server = start(config(), secrets(&upstream)).await;
    // An h2c prior-knowledge preface followed by an empty SETTINGS frame.
    let mut preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    preface.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
    // Before: an HTTP/2 SETTINGS frame came back. Now hyper's HTTP/1 connection recognises the
    // preface and closes without a byte (an HTTP/2 client could not read an HTTP/1 answer).
    let answer = raw_bytes(&server.base, &preface).await;
    assert_eq!(answer, b"", "{answer:?}");
    // An HTTP/1.1 request line naming HTTP/2 is an HTTP/1 request hyper refuses (its own bare
    // 400).
    raw(&server.base, b"GET /health HTTP/2.0\r\nhost: x\r\n\r\n")
        .await
        .assert_bare(400);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_file_descriptors_the_binary_neither_spins_nor_dies_and_health_comes_back() {
    // 64 descriptors and a cap above that: accept fails with EMFILE while the idle sockets
    // are open; the server must wait, not spin or exit, and answer once they time out.
    let command = "ulimit -n 64 && exec \"$0\" serve --jobs memory --addr 127.0.0.1:0 --max-connections 1000 \
         --keep-alive-timeout 300ms --header-timeout 300ms";
    let mut child = Command::new("sh")
        .args(["-c", command, env!("CARGO_BIN_EXE_workerflow")])
        .env_clear()
        .env("WORKERFLOW_API_TOKEN", TOKEN)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    let received = stderr_lines(&mut child);
    let (base, (seen, received)) = tokio::task::spawn_blocking(move || {
        let (base, seen) = wait_listening(&received);
        (base, (seen, received))
    })
    .await
    .expect("listening");
    let addr = addr_of(&base);
    let mut idle = Vec::new();
    for _ in 0..150 {
        if let Ok(stream) = tokio::net::TcpStream::connect(&addr).await {
            idle.push(stream);
        }
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        child.try_wait().expect("status").is_none(),
        "the server exited"
    );
    let client = reqwest::Client::new();
    let started = Instant::now();
    let health = loop {
        let answer = client
            .get(format!("{base}/health"))
            .timeout(Duration::from_secs(2))
            .send()
            .await;
        match answer {
            Ok(response) => break response.status().as_u16(),
            Err(_) if started.elapsed() < Duration::from_secs(10) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => panic!("/health never came back: {error}"),
        }
    };
    assert_eq!(health, 200);
    drop(idle);
    let (code, stderr) = tokio::task::spawn_blocking(move || terminate(child, received, seen))
        .await
        .expect("terminated");
    assert_eq!(code, Some(0), "{stderr}");
    let retries = stderr
        .lines()
        .filter(|line| line.contains("cannot accept a connection"))
        .count();
    assert!(retries > 0, "EMFILE was never hit: {stderr}");
    // At most one retry per 100 ms over the few seconds of the test: no busy loop.
    assert!(retries < 200, "{retries} accept retries: the loop spins");
}

/// `GET /openapi.json` answers the bytes of the committed `docs/openapi.json`, behind the
/// bearer check like the rest of the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_json_is_the_committed_document() {
    let upstream = MockServer::start().await;
    let server = start(config(), secrets(&upstream)).await;
    assert_eq!(server.get("/openapi.json", None).await.status, 401);
    let response = server
        .client
        .get(format!("{}/openapi.json", server.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    let bytes = response.bytes().await.expect("body");
    let committed = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json"))
        .expect("docs/openapi.json exists");
    assert!(
        bytes == committed,
        "GET /openapi.json differs from docs/openapi.json"
    );
    assert_eq!(server.shutdown().await.undone, 0);
}
