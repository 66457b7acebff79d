//! `RouteTable::dispatch_blocking` through the real reqwest transport, from a plain thread (no
//! tokio runtime in the test): every retry wait and timeout runs, and none panics for want of a
//! reactor (issue 29 point 5). The webhook server is a loopback `std::net::TcpListener`; its host
//! is the operator's configured webhook, so the egress check lets it through.

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use workerflow_runtime::http::{
    HttpClient, HttpMethod, HttpPolicy, HttpUrl, OutboundRequest, ProviderDescription,
};
use workerflow_runtime::{
    ConnectorError, DispatchError, GatewayError, GatewayKind, MapSecrets, RouteContext, RouteTable,
    connector,
};

// The generated module is written for a crate's root, with `pub` items; inside this private
// module they are reachable from this crate only, which is all these tests need.
#[allow(dead_code, unreachable_pub)]
mod registry {
    include!("support/registry.rs");
}

use registry::routes::notify;

/// Posts `{"text": …}` to the configured webhook (a POST without an idempotency key: retried
/// only when the provider cannot have acted, POLICY.md 2.3).
#[connector(route = notify)]
async fn notify_handler(
    ctx: &RouteContext<notify::Route>,
    input: notify::Input,
) -> Result<Value, ConnectorError> {
    let webhook = ctx.secret(notify::DEMO_WEBHOOK_URL);
    let url = HttpUrl::parse(webhook.expose())
        .map_err(|_| ConnectorError::invalid_input(ctx.route_id(), "url", "notify: bad URL"))?;
    let request = OutboundRequest::api(HttpMethod::POST, url).json(&json!({"text": input.text}));
    match ctx.send(&request).await {
        Ok(_) => Ok(json!({"ok": true, "route": ctx.route_id()})),
        Err(failure) => Err(failure.into_error(
            ctx.route_id(),
            "Demo webhook failed",
            &ctx.redactor(),
            |_| ProviderDescription::default(),
        )),
    }
}

/// Small waits, so a refused connection's retries take milliseconds; `max_delay` leaves room
/// for a `Retry-After: 1`.
fn policy(attempt_timeout: Duration) -> HttpPolicy {
    HttpPolicy {
        attempt_timeout,
        deadline: Duration::from_secs(10),
        max_retries: 2,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_secs(2),
        jitter: Duration::ZERO,
    }
}

fn table(policy: HttpPolicy) -> RouteTable {
    let client = HttpClient::new(policy).expect("client");
    registry::linked().expect("linked").with_http(client)
}

fn call(table: &RouteTable, webhook: &str) -> Result<Value, DispatchError> {
    let secrets = MapSecrets::new().with("DEMO_WEBHOOK_URL", webhook);
    table.dispatch_blocking("notify", json!({"body": {"text": "hi"}}), &secrets)
}

fn gateway(result: Result<Value, DispatchError>) -> GatewayError {
    match result {
        Err(DispatchError::Connector(ConnectorError::Gateway(error))) => *error,
        other => panic!("not a gateway error: {other:?}"),
    }
}

/// A loopback server that answers its `n`th connection with `answers[n]` (`None`: read the
/// request and never answer), and remembers when each connection arrived.
struct Server {
    addr: SocketAddr,
    arrivals: Arc<Mutex<Vec<Instant>>>,
}

impl Server {
    fn start(answers: Vec<Option<&'static str>>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&arrivals);
        std::thread::spawn(move || {
            // Unanswered connections are kept open until the server thread ends.
            let mut held = Vec::new();
            for (stream, answer) in listener.incoming().zip(answers) {
                let Ok(mut stream) = stream else { continue };
                seen.lock().expect("arrivals").push(Instant::now());
                read_request(&mut stream);
                match answer {
                    Some(answer) => {
                        let _ = stream.write_all(answer.as_bytes());
                    }
                    None => held.push(stream),
                }
            }
            std::thread::sleep(Duration::from_secs(30));
            drop(held);
        });
        Server { addr, arrivals }
    }

    fn webhook(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    fn arrivals(&self) -> Vec<Instant> {
        self.arrivals.lock().expect("arrivals").clone()
    }
}

include!("support/read_request.rs");

#[test]
fn a_refused_connection_is_retried_then_a_gateway_error() {
    // A port just released by the OS has no listener.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("port")
        .port();
    let error = gateway(call(
        &table(policy(Duration::from_secs(5))),
        &format!("http://127.0.0.1:{port}/hook"),
    ));
    assert_eq!(error.kind, GatewayKind::Connect);
    // Nothing was sent, so even a POST is retried: three attempts, two waits.
    assert_eq!(error.attempts, 3);
    assert_eq!(
        error.message,
        format!("Demo webhook failed: connection failed (127.0.0.1:{port}): connection refused")
    );
}

#[test]
fn a_429_with_retry_after_is_waited_out_then_succeeds() {
    let server = Server::start(vec![
        Some(
            "HTTP/1.1 429 Too Many Requests\r\nretry-after: 1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        ),
        Some("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}"),
    ]);
    let output = call(&table(policy(Duration::from_secs(5))), &server.webhook()).expect("sent");
    assert_eq!(output, json!({"ok": true, "route": "notify"}));
    let arrivals = server.arrivals();
    assert_eq!(arrivals.len(), 2);
    let waited = arrivals[1] - arrivals[0];
    assert!(
        waited >= Duration::from_millis(950),
        "Retry-After: 1 was not honoured: {waited:?}"
    );
}

#[test]
fn a_server_that_never_answers_is_a_gateway_timeout() {
    let server = Server::start(vec![None]);
    let started = Instant::now();
    let error = gateway(call(
        &table(policy(Duration::from_millis(300))),
        &server.webhook(),
    ));
    assert_eq!(error.kind, GatewayKind::Timeout);
    // The POST may have been acted on: not retried (POLICY.md 2.3).
    assert_eq!(error.attempts, 1);
    assert_eq!(
        error.message,
        format!(
            "Demo webhook failed: timed out after 300 ms ({})",
            server.addr
        )
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// From inside a current-thread runtime's task, whose reactor this very thread would have to
/// drive: the call's timers and sockets live on the transport's runtime, so the retries still
/// run (no deadlock, no "runtime within a runtime" panic).
#[test]
fn inside_a_tokio_task_the_call_still_retries_and_succeeds() {
    let server = Server::start(vec![
        Some("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"),
        Some("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}"),
    ]);
    let table = table(policy(Duration::from_secs(5)));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let output = runtime
        .block_on(async { call(&table, &server.webhook()) })
        .expect("sent");
    assert_eq!(output, json!({"ok": true, "route": "notify"}));
    assert_eq!(server.arrivals().len(), 2);
}
