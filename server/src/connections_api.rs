//! The OAuth connections' endpoints: `POST /api/connections` (start an authorization),
//! `GET /api/connections`, `GET` and `DELETE /api/connections/{name}` (bearer-protected like
//! the rest of `/api`), and `GET /oauth/callback`, which the provider sends the person back to
//! (bound to its single-use state, no bearer) and which answers a small HTML page.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use workerflow_runtime::{ConnectionError, ConnectionName, TraceId};

use crate::connections::{Callback, CallbackError, Connections, ManageError};
use crate::error::ApiError;
use crate::state::AppState;

/// The trace id the front door attached (a fresh one if a handler ever runs without it).
fn trace_of(request_trace: Option<axum::Extension<TraceId>>) -> TraceId {
    request_trace.map_or_else(TraceId::generate, |axum::Extension(trace)| trace)
}

/// The connections, or the error a server without connection keys answers.
// One error per request, answered at once: boxing it would buy nothing.
#[allow(clippy::result_large_err)]
fn connections(state: &AppState, name: &str) -> Result<Connections, ApiError> {
    state.connections.clone().ok_or_else(|| {
        let error = ConnectionError::NoStore {
            connection: name.to_owned(),
        };
        let message = if name.is_empty() {
            "this server keeps no OAuth connections (no connection key is configured)".to_owned()
        } else {
            error.to_string()
        };
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, error.code(), message)
    })
}

fn manage_error(error: &ManageError) -> ApiError {
    let (status, code) = match error {
        ManageError::UnknownService { .. } => (StatusCode::NOT_FOUND, "unknown_service"),
        ManageError::Config { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "config"),
        ManageError::UnknownConnection { .. } => (StatusCode::NOT_FOUND, "unknown_connection"),
        ManageError::Key { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "connection_key"),
        ManageError::Busy { .. } => (StatusCode::SERVICE_UNAVAILABLE, "connection_busy"),
        ManageError::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
    };
    if status.is_server_error() {
        tracing::error!(target: "workerflow::connections", error = %error, "connection request failed");
    }
    ApiError::new(status, code, error.to_string())
}

fn name_error() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_connection_name",
        workerflow_runtime::InvalidConnectionName.to_string(),
    )
}

#[allow(clippy::result_large_err)]
fn checked_name(name: &str) -> Result<ConnectionName, ApiError> {
    ConnectionName::new(name).map_err(|_| name_error())
}

/// `POST /api/connections` `{"name","service"}`: 201 with the authorization URL.
pub(crate) async fn create(
    State(state): State<Arc<AppState>>,
    trace: Option<axum::Extension<TraceId>>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    let trace_id = trace_of(trace);
    match start(&state, &headers, request).await {
        Ok(response) => response,
        Err(error) => error.respond(&trace_id),
    }
}

async fn start(
    state: &AppState,
    headers: &HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    let input = crate::api::json_body(state, headers, request).await?;
    let name = input
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(name_error)?;
    let name = checked_name(name)?;
    let service = input.get("service").and_then(Value::as_str).unwrap_or("");
    let connections = connections(state, name.as_str())?;
    let redirect_uri = format!("{}/oauth/callback", state.public_url.trim_end_matches('/'));
    let flow = connections
        .start_flow(&name, service, &redirect_uri)
        .await
        .map_err(|error| manage_error(&error))?;
    let body = json!({
        "ok": true,
        "connection": flow.connection,
        "service": flow.service,
        "authorizationUrl": flow.authorization_url,
        "expiresAt": flow.expires_at_rfc3339(),
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `GET /api/connections`: every connection, sorted by name (never a token).
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    trace: Option<axum::Extension<TraceId>>,
) -> Response {
    let trace_id = trace_of(trace);
    let listed = async {
        let connections = connections(&state, "")?;
        connections
            .list()
            .await
            .map_err(|error| manage_error(&error))
    }
    .await;
    match listed {
        Ok(listed) => {
            let listed: Vec<Value> = listed.iter().map(|info| info.to_json()).collect();
            Json(json!({ "ok": true, "connections": listed })).into_response()
        }
        Err(error) => error.respond(&trace_id),
    }
}

/// `GET /api/connections/{name}`.
pub(crate) async fn show(
    State(state): State<Arc<AppState>>,
    trace: Option<axum::Extension<TraceId>>,
    name: Result<Path<String>, PathRejection>,
) -> Response {
    let trace_id = trace_of(trace);
    let shown = async {
        let Path(name) = name.map_err(|_| name_error())?;
        let name = checked_name(&name)?;
        let connections = connections(&state, name.as_str())?;
        match connections
            .get(name.as_str())
            .await
            .map_err(|error| manage_error(&error))?
        {
            Some(info) => Ok(info),
            None => Err(manage_error(&ManageError::UnknownConnection {
                connection: name.to_string(),
            })),
        }
    }
    .await;
    match shown {
        Ok(info) => Json(json!({ "ok": true, "connection": info.to_json() })).into_response(),
        Err(error) => error.respond(&trace_id),
    }
}

/// `DELETE /api/connections/{name}`: revoked at the provider when it can be, tokens wiped.
pub(crate) async fn delete(
    State(state): State<Arc<AppState>>,
    trace: Option<axum::Extension<TraceId>>,
    name: Result<Path<String>, PathRejection>,
) -> Response {
    let trace_id = trace_of(trace);
    let deleted = async {
        let Path(name) = name.map_err(|_| name_error())?;
        let name = checked_name(&name)?;
        let connections = connections(&state, name.as_str())?;
        connections
            .delete(name.as_str())
            .await
            .map_err(|error| manage_error(&error))
    }
    .await;
    match deleted {
        Ok((info, revoked)) => Json(json!({
            "ok": true,
            "connection": info.to_json(),
            "revokedAtProvider": revoked,
        }))
        .into_response(),
        Err(error) => error.respond(&trace_id),
    }
}

/// `GET /oauth/callback?state&code` (or `error`): a page saying the connection is ready, or
/// what went wrong. A failure leaves an existing connection as it was.
pub(crate) async fn callback(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Response {
    let mut received = Callback::default();
    for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        // The first of each counts; the values are short (a long one is no real answer).
        let value = Some(value.chars().take(2048).collect::<String>());
        let slot = match &*name {
            "state" => &mut received.state,
            "code" => &mut received.code,
            "error" => &mut received.error,
            "error_description" => &mut received.error_description,
            _ => continue,
        };
        if slot.is_none() {
            *slot = value;
        }
    }
    let Some(connections) = state.connections.clone() else {
        return page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "OAuth connections are not available",
            "This server keeps no OAuth connections: no connection key is configured.",
        );
    };
    match connections.finish_flow(received).await {
        Ok(info) => page(
            StatusCode::OK,
            "Connection ready",
            &format!(
                "Connection {} is ready. You can close this page.",
                info.name
            ),
        ),
        Err(error) => {
            tracing::warn!(
                target: "workerflow::connections",
                error = %error,
                "authorization callback failed"
            );
            let status = match &error {
                CallbackError::Manage(ManageError::Store(_) | ManageError::Busy { .. }) => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                CallbackError::Manage(ManageError::Config { .. } | ManageError::Key { .. }) => {
                    StatusCode::INTERNAL_SERVER_ERROR
                }
                _ => StatusCode::BAD_REQUEST,
            };
            page(status, "Authorization failed", &format!("{error}."))
        }
    }
}

/// `text` with `& < > " '` escaped for HTML.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A small HTML page; no script, nothing loaded, not framed, not cached, no referrer (the
/// callback's URL held a code).
fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title></head>\
         <body><h1>{}</h1><p>{}</p></body></html>\n",
        escape(title),
        escape(title),
        escape(message)
    );
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for (name, value) in [
        (
            "content-security-policy",
            "default-src 'none'; frame-ancestors 'none'",
        ),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
    ] {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_escape_what_they_show() {
        assert_eq!(
            escape("<script>\"a\" & 'b'</script>\u{1b}"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt; "
        );
    }
}
