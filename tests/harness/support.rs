//! The loopback harness of docs/ROUTES.md section 4: a wiremock server that records every request
//! and answers from per-path scripts, secrets pointing at it, fast policies, and the checks that no
//! secret ever reaches an error or a log record.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};
use workerflow_runtime::http::{HttpClient, HttpPolicy};
use workerflow_runtime::{ConnectorError, DispatchError, MapSecrets, RouteTable, TraceId};

pub(crate) use crate::log_capture::{init_logs, logs};

pub(crate) use crate::registry_config::{SENTINEL, WEBHOOK_QUERY, is_webhook_path, secret_value};

/// The webhook paths of the routes the webhook tests script (`webhook_path` of their secret;
/// `webhook_paths_follow_the_registry` ties them).
pub(crate) const CHAT_PATH: &str = "/hooks/chat_webhook_url/SECRETPATH";
pub(crate) const SLACK_PATH: &str = "/hooks/slack_webhook_url/SECRETPATH";

/// Base delay 5 ms, max delay 50 ms, no jitter: retries without waiting around.
pub(crate) fn fast_policy() -> HttpPolicy {
    HttpPolicy {
        attempt_timeout: Duration::from_secs(5),
        deadline: Duration::from_secs(10),
        max_retries: 2,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
        jitter: Duration::ZERO,
    }
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub(crate) struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Recorded {
    /// A header's value (names compared case-insensitively); `None` when absent.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn body_text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap_or("<not UTF-8>")
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// The method and path of the catch-all script.
const ANY: &str = "*";

/// Answers one method and path with `responses` in order, repeating the last.
struct Script {
    method: String,
    path: String,
    responses: VecDeque<ResponseTemplate>,
}

#[derive(Default)]
struct State {
    log: Mutex<Vec<Recorded>>,
    scripts: Mutex<Vec<Script>>,
}

struct Router(Arc<State>);

impl Respond for Router {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let recorded = Recorded {
            method: request.method.to_string(),
            path: request.url.path().to_owned(),
            query: request.url.query().map(str::to_owned),
            headers: request
                .headers
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: request.body.clone(),
            at: Instant::now(),
        };
        let mut scripts = lock(&self.0.scripts);
        // An exact script first, then the catch-all of `on_any`.
        let exact = scripts
            .iter()
            .position(|s| s.method == recorded.method && s.path == recorded.path);
        let any = scripts.iter().position(|s| s.method == ANY);
        let response = exact
            .or(any)
            .and_then(|n| scripts.get_mut(n))
            .and_then(|script| {
                if script.responses.len() > 1 {
                    script.responses.pop_front()
                } else {
                    script.responses.front().cloned()
                }
            })
            .unwrap_or_else(|| {
                ResponseTemplate::new(418).set_body_string("no script for this request")
            });
        lock(&self.0.log).push(recorded);
        response
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A loopback server with scripted answers.
pub(crate) struct Harness {
    server: MockServer,
    state: Arc<State>,
}

impl Harness {
    /// Calls `route` with this harness's secrets (see [`call`]).
    pub(crate) async fn dispatch(&self, route: &str, input: Value) -> Result<Value, DispatchError> {
        call(route, input, &self.secrets()).await
    }

    pub(crate) async fn start() -> Harness {
        init_logs();
        let server = MockServer::start().await;
        let state = Arc::new(State::default());
        Mock::given(wiremock::matchers::any())
            .respond_with(Router(state.clone()))
            .mount(&server)
            .await;
        Harness { server, state }
    }

    /// Scripts the answers to `method path` (path as sent, percent-encoding included).
    pub(crate) fn on(&self, method: &str, path: &str, responses: Vec<ResponseTemplate>) -> &Self {
        lock(&self.state.scripts).push(Script {
            method: method.to_owned(),
            path: path.to_owned(),
            responses: responses.into(),
        });
        self
    }

    /// Answers every request no other script matches with `responses` in order, repeating
    /// the last.
    /// A harness whose mock gives `example`'s provider answers, in order.
    pub(crate) async fn for_example(example: &workerflow_registry::model::Example) -> Harness {
        let harness = Harness::start().await;
        if !example.provider.is_empty() {
            harness.on_any(
                example
                    .provider
                    .iter()
                    .map(|answer| json_response(answer.status, answer.body.clone()))
                    .collect(),
            );
        }
        harness
    }

    pub(crate) fn on_any(&self, responses: Vec<ResponseTemplate>) -> &Self {
        self.on(ANY, ANY, responses)
    }

    /// `http://127.0.0.1:<port>`
    pub(crate) fn url(&self) -> String {
        self.server.uri()
    }

    /// `127.0.0.1:<port>`
    pub(crate) fn host(&self) -> String {
        self.url().trim_start_matches("http://").to_owned()
    }

    pub(crate) fn chat_webhook(&self) -> String {
        format!("{}{CHAT_PATH}?{WEBHOOK_QUERY}", self.url())
    }

    pub(crate) fn slack_webhook(&self) -> String {
        format!("{}{SLACK_PATH}?{WEBHOOK_QUERY}", self.url())
    }

    /// Every secret and every base URL pointing at this server.
    pub(crate) fn secrets(&self) -> MapSecrets {
        secrets_for(&self.url())
    }

    /// The requests received so far. Checks C19 on each: `user-agent: workerflow-runtime`, and
    /// no `authorization` on webhook posts.
    pub(crate) fn requests(&self) -> Vec<Recorded> {
        let requests = lock(&self.state.log).clone();
        for request in &requests {
            assert_eq!(
                request.header("user-agent"),
                Some("workerflow-runtime"),
                "{} {}",
                request.method,
                request.path
            );
            if is_webhook_path(&request.path) {
                assert_eq!(request.header("authorization"), None);
            }
        }
        requests
    }

    /// Asserts that no request reached the server.
    pub(crate) fn assert_untouched(&self) {
        let requests = self.requests();
        assert!(requests.is_empty(), "expected no request, got {requests:?}");
    }
}

/// The bundled registry, loaded once.
pub(crate) fn bundled() -> &'static workerflow_registry::Registry {
    static BUNDLED: std::sync::OnceLock<workerflow_registry::Registry> = std::sync::OnceLock::new();
    BUNDLED.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/connector-registry/services.json"
        );
        workerflow_registry::Registry::load(path).expect("the registry is valid")
    })
}

/// Every secret of every route (distinctive values) and every base URL at `base`, derived from
/// the registry (`registry_config::harness_config`).
pub(crate) fn secrets_for(base: &str) -> MapSecrets {
    crate::registry_config::harness_config(bundled(), base)
        .into_iter()
        .fold(MapSecrets::new(), |secrets, (name, value)| {
            secrets.with(name, value)
        })
}

pub(crate) fn registry(policy: HttpPolicy) -> RouteTable {
    let client = HttpClient::new(policy).expect("the HTTP client starts");
    workerflow::registry::linked()
        .expect("one handler per route")
        .with_http(client)
}

/// Calls `route` with `{"body": input}`, trace id `trace-1`, the fast policy.
pub(crate) async fn call(
    route: &str,
    input: Value,
    secrets: &MapSecrets,
) -> Result<Value, DispatchError> {
    call_with(&registry(fast_policy()), route, input, secrets).await
}

/// Calls `route` on `registry`; every error is checked for secrets before it is returned.
pub(crate) async fn call_with(
    registry: &RouteTable,
    route: &str,
    input: Value,
    secrets: &MapSecrets,
) -> Result<Value, DispatchError> {
    let trace = TraceId::new("trace-1").expect("valid trace id");
    let result = registry
        .dispatch_with_trace(route, json!({ "body": input }), secrets, trace)
        .await;
    if let Err(error) = &result {
        assert_no_secret(error);
    }
    assert_logs_clean();
    if let Err(problems) = crate::contracts::agreement(route, &input, &result) {
        panic!("{route}: the call disagrees with the route's contract:\n{problems}");
    }
    result
}

/// The connector error of a failed call.
pub(crate) fn connector_error(result: Result<Value, DispatchError>) -> ConnectorError {
    match result {
        Err(DispatchError::Connector(error)) => error,
        other => panic!("expected a connector error, got {other:?}"),
    }
}

/// An invalid-input error's `(field, message)` pairs.
pub(crate) fn input_problems(result: Result<Value, DispatchError>) -> Vec<(String, String)> {
    match connector_error(result) {
        ConnectorError::InvalidInput { problems, .. } => {
            problems.into_iter().map(|p| (p.field, p.message)).collect()
        }
        other => panic!("expected invalid input, got {other:?}"),
    }
}

/// The provider error of a failed call.
pub(crate) fn provider_error(
    result: Result<Value, DispatchError>,
) -> Box<workerflow_runtime::ProviderError> {
    match connector_error(result) {
        ConnectorError::Provider(error) => error,
        other => panic!("expected a provider error, got {other:?}"),
    }
}

/// The gateway error of a failed call.
pub(crate) fn gateway_error(
    result: Result<Value, DispatchError>,
) -> Box<workerflow_runtime::GatewayError> {
    match connector_error(result) {
        ConnectorError::Gateway(error) => error,
        other => panic!("expected a gateway error, got {other:?}"),
    }
}

/// C20 for errors: `Display`, `Debug` (both forms) and the serialized error contain no secret
/// value, no webhook path or query, no `Bearer` token.
pub(crate) fn assert_no_secret(error: &DispatchError) {
    for text in workerflow_runtime::testing::shown_forms(error) {
        assert!(!text.contains(SENTINEL), "a secret leaked: {text}");
        assert!(!has_bearer_token(&text), "a bearer token leaked: {text}");
    }
}

/// `Bearer` followed by anything but `[REDACTED]`.
fn has_bearer_token(text: &str) -> bool {
    text.match_indices("Bearer ")
        .any(|(at, _)| !text[at + "Bearer ".len()..].starts_with("[REDACTED]"))
}

/// C20 for logs: no record so far contains a secret.
pub(crate) fn assert_logs_clean() {
    let logs = logs();
    for line in logs.lines() {
        assert!(
            !line.contains(SENTINEL),
            "a secret reached a log record: {line}"
        );
        assert!(
            !has_bearer_token(line),
            "a bearer token reached a log record: {line}"
        );
    }
}

/// A JSON response with this status and body.
pub(crate) fn json_response(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.to_string(), "application/json")
}

/// A plain-text response.
pub(crate) fn text_response(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_string(body)
}

/// A port on which nothing listens.
pub(crate) fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    drop(listener);
    port
}

/// A server that accepts connections, reads each request head and body, then closes without
/// answering (C14). Returns its base URL and a counter of requests read.
pub(crate) async fn hang_up_server() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 4096];
                // Read until the head and its announced body are in, then hang up.
                while let Ok(read) = socket.read(&mut chunk).await {
                    if read == 0 {
                        break;
                    }
                    buffer.extend_from_slice(&chunk[..read]);
                    if request_complete(&buffer) {
                        counter.fetch_add(1, Ordering::SeqCst);
                        break;
                    }
                }
            });
        }
    });
    (format!("http://{address}"), count)
}

fn request_complete(buffer: &[u8]) -> bool {
    let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    buffer.len() >= end + 4 + length
}
