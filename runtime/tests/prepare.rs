//! `RouteTable::prepare`: the route's input checks run before the call, in a check mode that
//! never sends, whatever the handler makes of the stopped `send`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use workerflow_runtime::http::{
    BoxFuture, HttpClient, HttpPolicy, HttpStatus, HttpUrl, OutboundRequest, RawResponse,
    Transport, TransportError,
};
use workerflow_runtime::{ConnectorError, DispatchError, MapSecrets, RouteContext, connector};

#[allow(dead_code)]
mod registry {
    include!("support/registry.rs");
}

use registry::routes::notify;

/// Counts the requests that reach the wire and answers each with 200.
#[derive(Default)]
struct Counting(AtomicUsize);

impl Transport for Counting {
    fn send<'a>(
        &'a self,
        _request: &'a OutboundRequest,
        _timeout: Duration,
    ) -> BoxFuture<'a, Result<RawResponse, TransportError>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(async {
            Ok(RawResponse {
                status: HttpStatus::OK,
                headers: Default::default(),
                body: b"{}".to_vec(),
                truncated: false,
            })
        })
    }

    fn sleep(&self, _duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }
}

/// Checks its input, then sends; turns any send failure into an input error on purpose, so the
/// check's stop cannot be told from the error the handler returns.
#[connector(route = notify)]
async fn notify_handler(
    ctx: &RouteContext<notify::Route>,
    input: Value,
) -> Result<Value, ConnectorError> {
    let Some(text) = input.get("text").and_then(Value::as_str) else {
        return Err(ConnectorError::invalid_input(
            ctx.route_id(),
            "text",
            "notify: requires \"text\"",
        ));
    };
    let url = HttpUrl::parse(ctx.secret(notify::DEMO_WEBHOOK_URL).expose()).map_err(|_| {
        ConnectorError::invalid_input(ctx.route_id(), "url", "notify: bad webhook URL")
    })?;
    let request = OutboundRequest::webhook(url).json(&json!({ "text": text }));
    match ctx.send(&request).await {
        Ok(_) => Ok(json!({"ok": true, "route": ctx.route_id()})),
        Err(_) => Err(ConnectorError::invalid_input(
            ctx.route_id(),
            "text",
            "notify: the send failed",
        )),
    }
}

fn setup() -> (workerflow_runtime::RouteTable, Arc<Counting>, MapSecrets) {
    let transport = Arc::new(Counting::default());
    let client = HttpClient::with_transport(HttpPolicy::default(), transport.clone());
    let registry = registry::linked().expect("linked").with_http(client);
    let secrets = MapSecrets::new().with("DEMO_WEBHOOK_URL", "https://hooks.example/x");
    (registry, transport, secrets)
}

#[tokio::test]
async fn bad_input_is_refused_by_prepare_and_nothing_is_sent() {
    let (registry, transport, secrets) = setup();
    let error = registry
        .prepare("notify", json!({"body": {}}), &secrets)
        .expect_err("refused");
    let dispatched = registry
        .dispatch("notify", json!({"body": {}}), &secrets)
        .await
        .expect_err("refused");
    assert_eq!(error.to_string(), dispatched.to_string());
    assert_eq!(error.status(), 400);
    assert_eq!(transport.0.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn good_input_passes_without_a_request_and_the_call_sends_once() {
    let (registry, transport, secrets) = setup();
    let prepared = registry
        .prepare("notify", json!({"body": {"text": "hi"}}), &secrets)
        .expect("the input passes although the handler turned the stopped send into an error");
    assert_eq!(prepared.route(), "notify");
    assert_eq!(
        transport.0.load(Ordering::SeqCst),
        0,
        "the check sent nothing"
    );
    let output = prepared.await.expect("sent");
    assert_eq!(output, json!({"ok": true, "route": "notify"}));
    assert_eq!(transport.0.load(Ordering::SeqCst), 1);
}

#[test]
fn lookup_and_configuration_errors_come_first() {
    let (registry, _transport, _secrets) = setup();
    let unknown = registry
        .prepare("notfy", json!({}), &MapSecrets::new())
        .expect_err("unknown");
    assert!(
        matches!(unknown, DispatchError::UnknownRoute { .. }),
        "{unknown}"
    );
    assert_eq!(
        registry.lookup("notfy").expect_err("unknown").to_string(),
        unknown.to_string()
    );
    let missing = registry
        .prepare("notify", json!({"body": {}}), &MapSecrets::new())
        .expect_err("missing secret");
    assert_eq!(missing.status(), 500, "{missing}");
}
