//! Egress (runtime/src/http/POLICY.md 2.8): a route that declares hosts reaches them and the
//! hosts the operator configured, nothing else; a refused request reaches no transport and no
//! server, and its error names the route and the host only.

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};
use workerflow_runtime::http::{
    HttpClient, HttpMethod, HttpPolicy, HttpUrl, OutboundRequest, ProviderDescription,
};
use workerflow_runtime::{
    ConfigProblem, ConnectorError, DispatchError, MapSecrets, RouteContext, RouteTable, TraceId,
    connector,
};

// The generated module is written for a crate's root, with `pub` items; inside this private
// module they are reachable from this crate only, which is all these tests need.
#[allow(dead_code, unreachable_pub)]
mod registry {
    include!("support/registry.rs");
}

use registry::routes::{echo, notify};

/// In every webhook URL: must never show in an error.
const SENTINEL: &str = "hook_SENTINEL_4711";

/// Posts to `input.url` when given (a handler building a URL from its input, as a bug or an
/// injection would), else to the configured webhook.
// `notify` declares the setting DEMO_BASE_URL: when set, its host counts as configured.
#[connector(route = notify)]
async fn notify_handler(
    ctx: &RouteContext<notify::Route>,
    input: Value,
) -> Result<Value, ConnectorError> {
    let webhook = ctx.secret(notify::DEMO_WEBHOOK_URL);
    let target = input
        .get("url")
        .and_then(Value::as_str)
        .unwrap_or(webhook.expose());
    let url = HttpUrl::parse(target)
        .map_err(|_| ConnectorError::invalid_input(ctx.route_id(), "url", "notify: bad URL"))?;
    let request = OutboundRequest::api(HttpMethod::POST, url).json(&json!({"text": "hi"}));
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

/// A loopback HTTP server that counts the connections it accepts and answers each with
/// `response`.
struct Server {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
}

impl Server {
    fn start(response: impl Fn(SocketAddr) -> String) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let response = response(addr);
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&connections);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                counted.fetch_add(1, Ordering::SeqCst);
                read_request(&mut stream);
                let _ = stream.write_all(response.as_bytes());
            }
        });
        Server { addr, connections }
    }

    fn ok() -> Server {
        Server::start(|_| {
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}".to_owned()
        })
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

include!("support/read_request.rs");

include!("support/counting.rs");

fn table() -> RouteTable {
    registry::linked().expect("linked")
}

fn secrets(webhook: &str) -> MapSecrets {
    MapSecrets::new().with("DEMO_WEBHOOK_URL", format!("{webhook}/{SENTINEL}"))
}

async fn call(
    table: &RouteTable,
    secrets: &MapSecrets,
    mut input: Value,
) -> Result<Value, DispatchError> {
    // `notify`'s input schema requires a text.
    input["text"] = json!("hi");
    table
        .dispatch("notify", json!({ "body": input }), secrets)
        .await
}

/// The refusal: a configuration error (500, not transient) whose one problem is `egress_denied`
/// for `host`, with no secret anywhere in it.
fn assert_denied(error: &DispatchError, host: &str) {
    let Some(ConnectorError::Config { route, problems }) = error.as_connector() else {
        panic!("not a configuration error: {error:?}");
    };
    assert_eq!(*route, "notify");
    assert!(
        matches!(&problems[..], [ConfigProblem::EgressDenied { host: h, .. }] if h == host),
        "{problems:?}"
    );
    assert_eq!(error.status(), 500);
    assert!(!error.is_transient());
    let json = serde_json::to_value(error).expect("json");
    assert_eq!(json["class"], "config");
    assert_eq!(json["problems"][0]["kind"], "egress_denied");
    assert_eq!(json["problems"][0]["host"], host);
    let message = error.to_string();
    assert!(
        message.starts_with(&format!("route \"notify\": egress to {host} denied: ")),
        "{message}"
    );
    for text in [message, format!("{error:?}"), json.to_string()] {
        assert!(!text.contains(SENTINEL), "secret leaked: {text}");
        assert!(!text.contains("/steal"), "a path leaked: {text}");
    }
}

#[tokio::test]
async fn an_undeclared_host_is_refused_before_the_transport_is_reached() {
    let transport = Arc::new(Counting::default());
    let client = HttpClient::with_transport(HttpPolicy::default(), transport.clone());
    let table = table().with_http(client);
    let secrets = secrets("https://hooks.demo.example/services");
    let error = call(
        &table,
        &secrets,
        json!({"url": "http://evil.example/steal?k=1"}),
    )
    .await
    .expect_err("refused");
    assert_denied(&error, "evil.example");
    let error = call(
        &table,
        &secrets,
        json!({"url": "https://hooks.demo.example:8443/steal"}),
    )
    .await
    .expect_err("a declared host on another port is refused");
    assert_denied(&error, "hooks.demo.example:8443");
    assert_eq!(
        transport.0.load(Ordering::SeqCst),
        0,
        "nothing reached the stack"
    );
    // The declared host itself passes the check and reaches the stack.
    let output = call(
        &table,
        &secrets,
        json!({"url": "https://hooks.demo.example/x"}),
    )
    .await
    .expect("sent");
    assert_eq!(output["ok"], true);
    assert_eq!(transport.0.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_metadata_service_is_refused_before_the_transport_is_reached() {
    let transport = Arc::new(Counting::default());
    let client = HttpClient::with_transport(HttpPolicy::default(), transport.clone());
    let table = table().with_http(client);
    let secrets = secrets("https://hooks.demo.example/services");
    for (url, host) in [
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254"),
        (
            "http://[::ffff:a9fe:a9fe]/latest/meta-data",
            "[::ffff:a9fe:a9fe]",
        ),
        ("http://localhost:8080/steal", "localhost:8080"),
    ] {
        let error = call(&table, &secrets, json!({ "url": url }))
            .await
            .expect_err(url);
        assert_denied(&error, host);
    }
    assert_eq!(transport.0.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_unconfigured_loopback_server_sees_no_connection() {
    let configured = Server::ok();
    let bystander = Server::ok();
    let table = table();
    let secrets = secrets(&configured.url("/hook"));
    let error = call(&table, &secrets, json!({"url": bystander.url("/steal")}))
        .await
        .expect_err("refused");
    assert_denied(&error, &bystander.addr.to_string());
    assert_eq!(bystander.connections(), 0);
    // The webhook the operator configured, on loopback too, is reached.
    let output = call(&table, &secrets, json!({})).await.expect("delivered");
    assert_eq!(output["ok"], true);
    assert_eq!(configured.connections(), 1);
}

#[tokio::test]
async fn a_configured_base_url_is_reached_and_its_neighbours_are_not() {
    let base = Server::ok();
    let neighbour = Server::ok();
    let table = table();
    let secrets = secrets("https://hooks.demo.example/services")
        .with("DEMO_BASE_URL", format!("{}/proxy", base.url("")));
    let output = call(&table, &secrets, json!({"url": base.url("/proxy/items")}))
        .await
        .expect("reached");
    assert_eq!(output["ok"], true);
    assert_eq!(base.connections(), 1);
    let other_port = format!("http://127.0.0.1:{}/items", neighbour.addr.port());
    let error = call(&table, &secrets, json!({ "url": other_port }))
        .await
        .expect_err("refused");
    assert_denied(&error, &neighbour.addr.to_string());
    assert_eq!(neighbour.connections(), 0);
}

#[tokio::test]
async fn a_redirect_to_another_host_is_not_followed() {
    let elsewhere = Server::ok();
    let target = elsewhere.url("/landing");
    let redirecting = Server::start(move |_| {
        format!(
            "HTTP/1.1 302 Found\r\nlocation: {target}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        )
    });
    let table = table();
    let secrets = secrets(&redirecting.url("/hook"));
    let error = call(&table, &secrets, json!({}))
        .await
        .expect_err("a 302 fails");
    let Some(ConnectorError::Provider(provider)) = error.as_connector() else {
        panic!("not a provider error: {error:?}");
    };
    assert_eq!(provider.status, 302);
    assert_eq!(error.status(), 502);
    assert_eq!(redirecting.connections(), 1);
    assert_eq!(elsewhere.connections(), 0, "the redirect was followed");
}

#[tokio::test]
async fn a_route_without_declared_hosts_is_unrestricted() {
    assert_eq!(echo.hosts, None);
    let server = Server::ok();
    let secrets = MapSecrets::new().with("DEMO_API_KEY", "key");
    let ctx = RouteContext::resolve(&echo, TraceId::generate(), &secrets).expect("resolved");
    let url = HttpUrl::parse(&server.url("/anything")).expect("url");
    let response = ctx
        .send(&OutboundRequest::api(HttpMethod::GET, url))
        .await
        .expect("sent");
    assert_eq!(response.status.as_u16(), 200);
    assert_eq!(server.connections(), 1);
}
