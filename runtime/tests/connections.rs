//! OAuth connections as the runtime sees them: the envelope names a connection, a
//! `ConnectionStore` hands out its token, and the call fails with a connection error (class
//! `connection`, its own status and code) when it cannot. The fixture's `crm` service declares
//! an `oauth2` app; `crm_lookup` falls back to a static token, `crm_sync` has none.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use workerflow_runtime::{
    ConnectionError, ConnectionName, ConnectionStore, ConnectorError, DispatchError, MapSecrets,
    RouteContext, SecretValue, TokenFuture, TokenRequest, TraceId, connector,
};

#[allow(dead_code, unreachable_pub)]
mod registry {
    include!("support/registry.rs");
}

use registry::routes::{crm_lookup, crm_sync, echo};

/// Answers the token `token-<n>` for every connection it knows, counting requests; `refuse`
/// makes it answer that error instead.
#[derive(Default)]
struct Store {
    requests: Mutex<Vec<(String, String, bool)>>,
    refuse: Option<ConnectionError>,
}

impl ConnectionStore for Store {
    fn access_token<'a>(&'a self, request: TokenRequest<'a>) -> TokenFuture<'a> {
        Box::pin(async move {
            let mut requests = self.requests.lock().expect("not poisoned");
            requests.push((
                request.connection.to_string(),
                request.service.id.to_owned(),
                request.rejected.is_some(),
            ));
            if let Some(error) = &self.refuse {
                return Err(error.clone());
            }
            Ok(SecretValue::new(format!("token-{}", requests.len())))
        })
    }
}

/// Reports which credential it would send: the connection's token or the static one.
#[connector(route = crm_lookup)]
async fn lookup(
    ctx: &RouteContext<crm_lookup::Route>,
    _input: Value,
) -> Result<Value, ConnectorError> {
    let credential = match ctx.connection() {
        Some(_) => ctx.access_token().await?.expose().to_owned(),
        None => ctx.secret(crm_lookup::CRM_TOKEN).expose().to_owned(),
    };
    let redacted = ctx.redactor().redact(&format!("sent {credential}"));
    Ok(json!({"credential": credential, "redacted": redacted}))
}

#[connector(route = crm_sync)]
async fn sync(ctx: &RouteContext<crm_sync::Route>, _input: Value) -> Result<Value, ConnectorError> {
    let token = ctx.access_token().await?;
    // A second request of the same call reuses the token: the store is asked once.
    let again = ctx.access_token().await?;
    assert_eq!(token.expose(), again.expose());
    Ok(json!({"credential": token.expose()}))
}

#[connector(route = echo)]
async fn echo_handler(
    _ctx: &RouteContext<echo::Route>,
    input: Value,
) -> Result<Value, ConnectorError> {
    Ok(input)
}

fn envelope(connection: Option<&str>) -> Value {
    match connection {
        Some(name) => json!({"body": {}, "connection": name}),
        None => json!({"body": {}}),
    }
}

fn connection_error(result: Result<Value, DispatchError>) -> (u16, Value) {
    let error = result.expect_err("the call fails");
    let serialized =
        serde_json::to_value(error.as_connector().expect("a route error")).expect("serializes");
    (error.status(), serialized)
}

#[test]
fn a_named_connection_gives_the_handler_its_token() {
    let store = Arc::new(Store::default());
    let table = registry::linked()
        .expect("links")
        .with_connections(store.clone());
    let output = table
        .dispatch_blocking("crm_lookup", envelope(Some("acme")), &MapSecrets::new())
        .expect("the call succeeds without CRM_TOKEN");
    assert_eq!(output["credential"], "token-1");
    // The redactor of the call hides the token it was handed.
    assert_eq!(output["redacted"], "sent [REDACTED]");
    let requests = store.requests.lock().expect("not poisoned").clone();
    assert_eq!(requests, [("acme".to_owned(), "crm".to_owned(), false)]);
}

#[test]
fn without_a_connection_the_fallback_secret_is_required_and_used() {
    let table = registry::linked()
        .expect("links")
        .with_connections(Arc::new(Store::default()));
    let secrets = MapSecrets::new().with("CRM_TOKEN", "static-1");
    let output = table
        .dispatch_blocking("crm_lookup", envelope(None), &secrets)
        .expect("the static token");
    assert_eq!(output["credential"], "static-1");
    let error = table
        .dispatch_blocking("crm_lookup", envelope(None), &MapSecrets::new())
        .expect_err("no credential at all");
    assert_eq!(
        error.to_string(),
        "route \"crm_lookup\": missing Crm token. Checked: CRM_TOKEN"
    );
}

#[test]
fn connection_errors_have_their_status_code_and_name() {
    let table = registry::linked()
        .expect("links")
        .with_connections(Arc::new(Store::default()));
    let none = MapSecrets::new();
    let (status, body) =
        connection_error(table.dispatch_blocking("crm_sync", envelope(None), &none));
    assert_eq!(status, 400);
    assert_eq!(body["class"], "connection");
    assert_eq!(body["connection"], json!({"code": "connection_required"}));

    let secrets = MapSecrets::new().with("DEMO_API_KEY", "k");
    let (status, body) = connection_error(table.dispatch_blocking(
        "echo",
        json!({"body": {"text": "hi"}, "connection": "acme"}),
        &secrets,
    ));
    assert_eq!(status, 400);
    assert_eq!(
        body["message"],
        "route \"echo\": connection \"acme\" was named, but this route does not use OAuth connections"
    );
    for bad in [json!("no/slash"), json!(""), json!(42)] {
        let (status, body) = connection_error(table.dispatch_blocking(
            "crm_sync",
            json!({"body": {}, "connection": bad}),
            &none,
        ));
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["connection"]["code"], "invalid_connection_name");
    }

    let refusing = registry::linked()
        .expect("links")
        .with_connections(Arc::new(Store {
            refuse: Some(ConnectionError::NeedsReauth {
                connection: "acme".into(),
            }),
            ..Store::default()
        }));
    let (status, body) =
        connection_error(refusing.dispatch_blocking("crm_sync", envelope(Some("acme")), &none));
    assert_eq!(status, 409);
    assert_eq!(body["transient"], false);
    assert_eq!(
        body["connection"],
        json!({"name": "acme", "code": "connection_needs_reauth"})
    );

    let no_store = registry::linked().expect("links");
    let (status, body) =
        connection_error(no_store.dispatch_blocking("crm_sync", envelope(Some("acme")), &none));
    assert_eq!(status, 500);
    assert_eq!(body["connection"]["code"], "connections_unavailable");
}

#[test]
fn a_bare_input_with_a_connection_field_is_input() {
    // Only an envelope names a connection: `echo`'s own input may have such a field.
    let table = registry::linked().expect("links");
    let secrets = MapSecrets::new().with("DEMO_API_KEY", "k");
    let result =
        table.dispatch_blocking("echo", json!({"text": "hi", "connection": "x"}), &secrets);
    let connector_error = result.as_ref().err().and_then(DispatchError::as_connector);
    assert!(
        !matches!(connector_error, Some(ConnectorError::Connection { .. })),
        "{result:?}"
    );
}

#[test]
fn which_routes_need_connections() {
    let table = registry::linked().expect("links");
    assert_eq!(table.connection_routes(false), ["crm_lookup", "crm_sync"]);
    assert_eq!(
        table.connection_routes(true),
        ["crm_sync"],
        "crm_sync has no fallback"
    );
    let without_sync = registry::linked()
        .expect("links")
        .with_enablement(&MapSecrets::new().with("DISABLED_HTTP_ROUTES", "crm_sync"))
        .expect("a valid setting");
    assert_eq!(without_sync.connection_routes(false), ["crm_lookup"]);
    assert!(without_sync.connection_routes(true).is_empty());
}

#[tokio::test]
async fn a_context_built_by_hand_takes_a_connection() {
    let store: Arc<dyn ConnectionStore> = Arc::new(Store::default());
    let secrets = MapSecrets::new();
    let acme = ConnectionName::new("acme").expect("a name");
    let ctx = RouteContext::resolve_with_connection(
        &crm_lookup,
        TraceId::generate(),
        &secrets,
        acme.clone(),
        store.clone(),
    )
    .expect("CRM_TOKEN is not needed with a connection");
    assert_eq!(
        ctx.access_token().await.expect("a token").expose(),
        "token-1"
    );
    let table = registry::linked()
        .expect("links")
        .with_connections(store.clone());
    let output = table
        .dispatch_blocking("crm_sync", envelope(Some("acme")), &secrets)
        .expect("a token");
    assert_eq!(
        output["credential"], "token-2",
        "one store request for the whole call"
    );
    let error = RouteContext::resolve_with_connection(
        &echo,
        TraceId::generate(),
        &MapSecrets::new().with("DEMO_API_KEY", "k"),
        acme,
        store,
    )
    .expect_err("echo does not use OAuth");
    assert_eq!(error.status(), 400);
    let error = RouteContext::resolve(&crm_sync, TraceId::generate(), &secrets)
        .expect_err("crm_sync has no credential without a connection");
    assert_eq!(error.class(), "connection");
}
