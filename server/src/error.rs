//! The one error shape of the server: `{ok: false, error: {code, message, route, traceId}}`
//! (plus `problems` for invalid input), as the router answers it ([`ApiError`]) and as the bytes
//! written below the router ([`raw_error`]: a request hyper could not parse, a connection over
//! the cap), and the `x-trace-id` header every answer carries.

use axum::Json;
use axum::http::header::{CONNECTION, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use workerflow_runtime::{ConnectorError, DispatchError, TraceId};

/// The response header that carries the trace id of every request.
pub const TRACE_HEADER: HeaderName = HeaderName::from_static("x-trace-id");

/// Route ids come from callers; long ones are cut in error bodies (as the runtime does).
pub(crate) const MAX_ECHOED_ROUTE: usize = 80;

/// The error body every failure has: `{ok: false, error: {code, message, route, traceId}}`,
/// plus `problems` (each with its field, JSON pointer and message) for invalid input.
fn error_body(
    code: &str,
    message: &str,
    route: Option<&str>,
    problems: Option<&Value>,
    trace_id: &TraceId,
) -> Value {
    let mut body = json!({
        "ok": false,
        "error": {
            "code": code,
            "message": message,
            "route": route,
            "traceId": trace_id,
        },
    });
    if let (Some(problems), Some(error)) = (problems, body["error"].as_object_mut()) {
        error.insert("problems".to_owned(), problems.clone());
    }
    body
}

/// A complete HTTP/1.1 error answer as bytes, for the answers written below the router (a
/// request hyper could not parse, a connection over the cap): the documented body,
/// `x-trace-id`, `connection: close`, and `Retry-After: 1` on 503.
pub(crate) fn raw_error(
    status: StatusCode,
    code: &str,
    message: &str,
    trace_id: &TraceId,
) -> Vec<u8> {
    let body = error_body(code, message, None, None, trace_id).to_string();
    let retry = if status == StatusCode::SERVICE_UNAVAILABLE {
        "retry-after: 1\r\n"
    } else {
        ""
    };
    format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         {TRACE_HEADER}: {trace_id}\r\n{retry}connection: close\r\n\r\n{body}",
        status.as_str(),
        status.canonical_reason().unwrap_or("Error"),
        body.len(),
    )
    .into_bytes()
}

/// An error answer: `{ok: false, error: {code, message, route, traceId}}` with `status`.
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    route: Option<String>,
    /// The invalid-input problems (`[{field, pointer, message}]`), the same list `call` prints.
    problems: Option<Value>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            route: None,
            problems: None,
        }
    }

    pub(crate) fn route(mut self, route: &str) -> Self {
        self.route = Some(route.chars().take(MAX_ECHOED_ROUTE).collect());
        self
    }

    /// A runtime failure, with the runtime's status mapping (docs/ROUTES.md 1.7).
    pub(crate) fn dispatch(error: &DispatchError, route: &str) -> Self {
        let status =
            StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut answer = ApiError::new(status, error.class(), error.to_string()).route(route);
        if let Some(ConnectorError::InvalidInput { problems, .. }) = error.as_connector() {
            answer.problems = serde_json::to_value(problems).ok();
        }
        answer
    }

    pub(crate) fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or invalid bearer token",
        )
    }

    pub(crate) fn respond(self, trace_id: &TraceId) -> Response {
        let body = error_body(
            self.code,
            &self.message,
            self.route.as_deref(),
            self.problems.as_ref(),
            trace_id,
        );
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        match self.status {
            StatusCode::UNAUTHORIZED => {
                headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
            }
            // The rest of a body that came too slowly is not waited for.
            StatusCode::REQUEST_TIMEOUT => {
                headers.insert(CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        response
    }
}

/// The code and message of an answer hyper gave to a request it could not parse (and of the
/// router's own header-size refusal, so both read the same).
pub(crate) fn parser_refusal(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::URI_TOO_LONG => ("uri_too_long", "the request target is too long"),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => (
            "header_fields_too_large",
            "the request headers are too large or too many",
        ),
        _ => (
            "bad_request",
            "the request is not valid HTTP/1.1 (this server speaks HTTP/1 only)",
        ),
    }
}
