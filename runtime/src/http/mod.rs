//! The outbound HTTP client every connector uses, and the policy it enforces (below).
//!
//! [`HttpClient::send`] runs one logical request under an [`HttpPolicy`]: a timeout per attempt
//! and a total deadline, retries only where they are safe (idempotent requests, or outcomes where
//! the provider cannot have acted), `Retry-After` honoured and capped, exponential backoff with
//! jitter, no redirects, bodies read up to 8 MiB. It hands the route either the 2xx response or
//! an [`HttpFailure`] (the last outcome, never swallowed), which the route turns into a
//! [`ConnectorError`] with its own failure label: a redacted body excerpt of at most 2 KiB, and
//! messages that name only the host.
//!
//! The HTTP stack sits behind [`Transport`]; [`ReqwestTransport`] (rustls, no OpenSSL) is the
//! default.
//!
#![doc = include_str!("POLICY.md")]

mod excerpt;
mod policy;
mod retry_after;
mod transport;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use http::header::{CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER};
use http::{HeaderMap, Method, StatusCode};
use serde_json::{Map, Value};
use url::Url;

use crate::error::{ConnectorError, GatewayError, GatewayKind, ProviderError};

pub use excerpt::{MAX_EXCERPT, Redactor};
pub use policy::HttpPolicy;
pub use transport::{BoxFuture, MAX_BODY, RawResponse, Transport, TransportError};
#[cfg(feature = "reqwest")]
pub use transport::{ReqwestTransport, ReqwestTransportBuildError};

/// Re-exported so connector crates name the same types the client takes.
pub use http::{Method as HttpMethod, StatusCode as HttpStatus, header};
pub use url::Url as HttpUrl;

/// The one `Retry-After` rule (policy 2.4), also used by `workerflow check-urls`.
pub use retry_after::retry_after;

/// One request, sent byte for byte the same on every attempt.
#[derive(Clone)]
pub struct OutboundRequest {
    method: Method,
    url: Url,
    headers: HeaderMap,
    body: bytes::Bytes,
    endpoint: Endpoint,
}

/// Whether the URL is a credential (a webhook) or an API endpoint whose path may be logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Endpoint {
    Api,
    Webhook,
}

impl OutboundRequest {
    /// A request to an API endpoint. Its path may appear in logs; its query never does.
    pub fn api(method: Method, url: Url) -> Self {
        OutboundRequest {
            method,
            url,
            headers: HeaderMap::new(),
            body: bytes::Bytes::new(),
            endpoint: Endpoint::Api,
        }
    }

    /// A `POST` to a webhook URL: the URL is a secret, so logs and errors show only its host.
    pub fn webhook(url: Url) -> Self {
        OutboundRequest {
            endpoint: Endpoint::Webhook,
            ..OutboundRequest::api(Method::POST, url)
        }
    }

    /// Adds a header. `authorization` values are marked sensitive so no HTTP layer prints them.
    pub fn header(mut self, name: HeaderName, mut value: HeaderValue) -> Self {
        if name == http::header::AUTHORIZATION {
            value.set_sensitive(true);
        }
        self.headers.append(name, value);
        self
    }

    /// A compact JSON body (`serde_json` order: the order the value was built in) with
    /// `content-type: application/json`.
    pub fn json(self, body: &Value) -> Self {
        self.body(
            HeaderValue::from_static("application/json"),
            body.to_string().into_bytes(),
        )
    }

    /// A form body (`application/x-www-form-urlencoded`), already serialized.
    pub fn form(self, body: String) -> Self {
        self.body(
            HeaderValue::from_static("application/x-www-form-urlencoded"),
            body.into_bytes(),
        )
    }

    /// A body with its content type.
    pub fn body(mut self, content_type: HeaderValue, body: Vec<u8>) -> Self {
        self.headers.insert(CONTENT_TYPE, content_type);
        self.body = bytes::Bytes::from(body);
        self
    }

    pub fn method(&self) -> &Method {
        &self.method
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body bytes (cheap to clone).
    pub fn body_bytes(&self) -> &bytes::Bytes {
        &self.body
    }

    /// GET, PUT, PATCH and DELETE, and a POST with an `idempotency-key` header (docs/ROUTES.md
    /// 2.3). Decided from the method and that header only.
    pub fn is_idempotent(&self) -> bool {
        match self.method {
            Method::GET | Method::PUT | Method::PATCH | Method::DELETE => true,
            Method::POST => self.headers.contains_key("idempotency-key"),
            _ => false,
        }
    }

    /// `host[:port]`, the only part of the URL errors and logs show.
    pub fn host(&self) -> String {
        endpoint_host(&self.url)
    }

    /// The path logs may show: an API request's path, never a webhook's, never a query.
    fn loggable_path(&self) -> &str {
        match self.endpoint {
            Endpoint::Api => self.url.path(),
            Endpoint::Webhook => "",
        }
    }
}

impl fmt::Debug for OutboundRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values can be credentials and webhook URLs are: names, host and sizes only.
        let names: Vec<&str> = self.headers.keys().map(HeaderName::as_str).collect();
        f.debug_struct("OutboundRequest")
            .field("method", &self.method)
            .field("host", &self.host())
            .field("path", &self.loggable_path())
            .field("headers", &names)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// `host`, plus `:port` when the URL has an explicit non-default port; IPv6 hosts keep their
/// brackets (`[::1]:8080`).
pub fn endpoint_host(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// An id encoded as one URL path segment (POLICY.md 2.7): every byte except ASCII letters,
/// digits and `-_.!~*'()` becomes `%XX`, so `cus 1/x` is `cus%201%2Fx`.
pub fn path_segment(id: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(id.len());
    for &byte in id.as_bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    out
}

/// The client: a policy and a transport. Cheap to clone; clones share connections.
#[derive(Clone)]
pub struct HttpClient {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    policy: HttpPolicy,
    transport: Arc<dyn Transport>,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("policy", &self.inner.policy)
            .finish()
    }
}

impl HttpClient {
    /// A client over [`ReqwestTransport`] with this policy.
    #[cfg(feature = "reqwest")]
    pub fn new(policy: HttpPolicy) -> Result<Self, ReqwestTransportBuildError> {
        let transport = ReqwestTransport::new(policy.attempt_timeout)?;
        Ok(HttpClient::with_transport(policy, Arc::new(transport)))
    }

    /// A client over any [`Transport`].
    pub fn with_transport(policy: HttpPolicy, transport: Arc<dyn Transport>) -> Self {
        HttpClient {
            inner: Arc::new(ClientInner { policy, transport }),
        }
    }

    /// The client dispatch uses when none is configured: the default policy over reqwest,
    /// created once per process. `None` if the HTTP stack could not be set up.
    #[cfg(feature = "reqwest")]
    pub fn shared() -> Option<HttpClient> {
        static SHARED: std::sync::OnceLock<Option<HttpClient>> = std::sync::OnceLock::new();
        SHARED
            .get_or_init(|| HttpClient::new(HttpPolicy::default()).ok())
            .clone()
    }

    pub fn policy(&self) -> &HttpPolicy {
        &self.inner.policy
    }

    /// Sends one logical request under the policy (POLICY.md 2.1–2.5) and returns the 2xx
    /// response or the last outcome as an [`HttpFailure`]. `route` and `trace_id` only label log
    /// records.
    pub async fn send(
        &self,
        request: &OutboundRequest,
        route: &str,
        trace_id: &str,
    ) -> Result<HttpResponse, HttpFailure> {
        let policy = &self.inner.policy;
        let transport = &*self.inner.transport;
        let idempotent = request.is_idempotent();
        let host = request.host();
        let start = Instant::now();
        // A deadline too far out to represent is no deadline.
        let deadline = start.checked_add(policy.deadline);
        let mut attempts: u32 = 0;
        loop {
            attempts = attempts.saturating_add(1);
            let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let limit = remaining.map_or(policy.attempt_timeout, |r| policy.attempt_timeout.min(r));
            tracing::debug!(
                route,
                trace_id,
                method = %request.method,
                host = %host,
                path = request.loggable_path(),
                attempt = attempts,
                "sending request"
            );
            let outcome = if limit.is_zero() {
                Err(TransportError::Timeout)
            } else {
                transport.send(request, limit).await
            };
            let (retryable, retry_after) = match &outcome {
                Ok(response) if response.status.is_success() => {
                    tracing::debug!(route, trace_id, host = %host, status = response.status.as_u16(), attempt = attempts, "response");
                    return finish(outcome, host, attempts, limit);
                }
                Ok(response) => (
                    policy::retries_status(response.status, idempotent),
                    response
                        .headers
                        .get(RETRY_AFTER)
                        .and_then(|value| retry_after::retry_after(value, SystemTime::now())),
                ),
                Err(TransportError::Connect { .. }) => (true, None),
                Err(TransportError::Timeout | TransportError::Interrupted { .. }) => {
                    (idempotent, None)
                }
            };
            log_outcome(&outcome, route, trace_id, &host, attempts);
            if !retryable || attempts > policy.max_retries {
                return finish(outcome, host, attempts, limit);
            }
            let wait = match retry_after {
                Some(delay) => delay.min(policy.cap()),
                None => policy.backoff(attempts - 1, policy.sample_jitter()),
            };
            let resumes = Instant::now().checked_add(wait);
            let crosses_deadline = match (resumes, deadline) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some(resumes), Some(deadline)) => resumes >= deadline,
            };
            if crosses_deadline {
                tracing::debug!(route, trace_id, host = %host, wait_ms = millis(wait), "no retry: the wait would cross the deadline");
                return finish(outcome, host, attempts, limit);
            }
            tracing::debug!(route, trace_id, host = %host, attempt = attempts, wait_ms = millis(wait), "retrying");
            transport.sleep(wait).await;
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn log_outcome(
    outcome: &Result<RawResponse, TransportError>,
    route: &str,
    trace_id: &str,
    host: &str,
    attempt: u32,
) {
    match outcome {
        Ok(response) => {
            tracing::debug!(
                route,
                trace_id,
                host,
                status = response.status.as_u16(),
                attempt,
                "response"
            )
        }
        Err(error) => {
            tracing::debug!(route, trace_id, host, attempt, error = ?error, "no response")
        }
    }
}

/// The last outcome as the route sees it (POLICY.md 2.5).
fn finish(
    outcome: Result<RawResponse, TransportError>,
    host: String,
    attempts: u32,
    limit: Duration,
) -> Result<HttpResponse, HttpFailure> {
    let kind = match outcome {
        Ok(response) if response.status.is_success() && response.truncated => {
            FailureKind::InvalidResponse {
                reason: "body exceeds 8 MiB",
            }
        }
        Ok(response) if response.status.is_success() => {
            return Ok(HttpResponse {
                status: response.status,
                headers: response.headers,
                body: response.body,
                host,
                attempts,
            });
        }
        Ok(response) => FailureKind::Status {
            status: response.status,
            body: response.body,
        },
        Err(TransportError::Connect {
            timed_out: true, ..
        })
        | Err(TransportError::Timeout) => FailureKind::Timeout {
            after_ms: millis(limit),
        },
        Err(TransportError::Connect { reason, .. })
        | Err(TransportError::Interrupted { reason }) => FailureKind::Connect { reason },
    };
    Err(HttpFailure {
        host,
        attempts,
        kind,
    })
}

/// A 2xx response.
pub struct HttpResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    host: String,
    attempts: u32,
}

impl HttpResponse {
    /// The body as a JSON object: valid JSON that is not an object reads as an empty object;
    /// anything else (including an empty body) is an invalid response (POLICY.md 2.7).
    pub fn json_object(&self) -> Result<Map<String, Value>, HttpFailure> {
        match serde_json::from_slice::<Value>(&self.body) {
            Ok(Value::Object(object)) => Ok(object),
            Ok(_) => Ok(Map::new()),
            Err(_) => Err(HttpFailure {
                host: self.host.clone(),
                attempts: self.attempts,
                kind: FailureKind::InvalidResponse { reason: "not JSON" },
            }),
        }
    }

    /// The number of attempts it took.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("host", &self.host)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// The last outcome of a request that did not end in a usable 2xx response.
pub struct HttpFailure {
    host: String,
    attempts: u32,
    kind: FailureKind,
}

enum FailureKind {
    /// A non-2xx answer.
    Status {
        status: StatusCode,
        body: Vec<u8>,
    },
    Connect {
        reason: &'static str,
    },
    Timeout {
        after_ms: u64,
    },
    InvalidResponse {
        reason: &'static str,
    },
}

impl fmt::Debug for HttpFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("HttpFailure");
        debug
            .field("host", &self.host)
            .field("attempts", &self.attempts);
        match &self.kind {
            FailureKind::Status { status, body } => {
                debug.field("status", status).field("body_len", &body.len())
            }
            FailureKind::Connect { reason } => debug.field("connect", reason),
            FailureKind::Timeout { after_ms } => debug.field("timeout_ms", after_ms),
            FailureKind::InvalidResponse { reason } => debug.field("invalid_response", reason),
        };
        debug.finish()
    }
}

/// A provider's non-2xx answer, as a route's `describe` function sees it.
pub struct ProviderReply<'a> {
    pub status: StatusCode,
    /// The body parsed as JSON, when it is JSON.
    pub json: Option<&'a Value>,
    /// The whole body decoded (invalid UTF-8 replaced) and trimmed. Not redacted: whatever the
    /// route takes from it is redacted before it reaches the error.
    pub text: &'a str,
    /// The redacted excerpt (at most 2 KiB).
    pub excerpt: &'a str,
}

/// What a route makes of a provider's error answer (docs/ROUTES.md 1.7, 1.8).
#[derive(Clone, Debug, Default)]
pub struct ProviderDescription {
    /// The provider's error code (`invalid_payload`, `rate_limit_exceeded`).
    pub code: Option<String>,
    /// The provider's message, when it can be extracted.
    pub message: Option<String>,
    /// Structured details (HubSpot's category and correlation id).
    pub details: Option<Value>,
    /// `Generic`: `<label>: <status> <reason> <excerpt>`; `Coded`: `<label>: <status> <code>
    /// <message>`.
    pub shape: MessageShape,
}

/// The two message shapes of docs/ROUTES.md 1.8.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MessageShape {
    #[default]
    Generic,
    Coded,
}

impl HttpFailure {
    /// The failure of a call that has no HTTP client (the stack could not be set up).
    pub(crate) fn unavailable(request: &OutboundRequest) -> Self {
        HttpFailure {
            host: request.host(),
            attempts: 0,
            kind: FailureKind::Connect {
                reason: "no HTTP client available",
            },
        }
    }

    /// What `send` returns in an input check: nothing was sent (the check ignores the error the
    /// handler makes of it, since reaching `send` means the input passed).
    pub(crate) fn checked(request: &OutboundRequest) -> Self {
        HttpFailure {
            host: request.host(),
            attempts: 0,
            kind: FailureKind::Connect {
                reason: "not sent: input check only",
            },
        }
    }

    /// The provider's status, when the failure is a non-2xx answer.
    pub fn status(&self) -> Option<StatusCode> {
        match &self.kind {
            FailureKind::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The route's error: `Provider` for a non-2xx answer (described by `describe`, every text
    /// taken from the provider redacted by `redactor`), `Gateway` otherwise. Messages start with
    /// `label` and name the host only.
    pub fn into_error(
        self,
        route: &'static str,
        label: &str,
        redactor: &Redactor,
        describe: impl FnOnce(&ProviderReply<'_>) -> ProviderDescription,
    ) -> ConnectorError {
        let HttpFailure {
            host,
            attempts,
            kind,
        } = self;
        let (kind, message) = match kind {
            FailureKind::Status { status, body } => {
                return ConnectorError::Provider(Box::new(provider_error(
                    route, label, status, &body, attempts, redactor, describe,
                )));
            }
            FailureKind::Connect { reason } => (
                GatewayKind::Connect,
                format!("{label}: connection failed ({host}): {reason}"),
            ),
            FailureKind::Timeout { after_ms } => (
                GatewayKind::Timeout,
                format!("{label}: timed out after {after_ms} ms ({host})"),
            ),
            FailureKind::InvalidResponse { reason } => (
                GatewayKind::InvalidResponse,
                format!("{label}: invalid response body ({host}): {reason}"),
            ),
        };
        ConnectorError::Gateway(Box::new(GatewayError {
            route,
            prefix: label.to_owned(),
            host,
            kind,
            attempts,
            message,
        }))
    }
}

fn provider_error(
    route: &'static str,
    label: &str,
    status: StatusCode,
    body: &[u8],
    attempts: u32,
    redactor: &Redactor,
    describe: impl FnOnce(&ProviderReply<'_>) -> ProviderDescription,
) -> ProviderError {
    let excerpt = redactor.excerpt(body);
    let decoded = String::from_utf8_lossy(body);
    let text = crate::secrets::trim(&decoded);
    let json = serde_json::from_slice::<Value>(body).ok();
    let description = describe(&ProviderReply {
        status,
        json: json.as_ref(),
        text,
        excerpt: &excerpt,
    });
    let code = description.code.map(|code| bounded(redactor.redact(&code)));
    let provider_message = description
        .message
        .map(|message| bounded(redactor.redact(&message)));
    let details = description.details.map(|d| redactor.redact_json(d));
    let reason = status.canonical_reason().unwrap_or_default();
    let parts: [&str; 3] = match description.shape {
        MessageShape::Generic => [status.as_str(), reason, &excerpt],
        MessageShape::Coded => [
            status.as_str(),
            code.as_deref().unwrap_or_default(),
            provider_message.as_deref().unwrap_or_default(),
        ],
    };
    let tail = parts
        .iter()
        .filter(|part| !part.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    ProviderError {
        route,
        prefix: label.to_owned(),
        status: status.as_u16(),
        code,
        provider_message,
        excerpt,
        details,
        attempts,
        message: format!("{label}: {tail}"),
    }
}

/// Provider-supplied texts are kept to the excerpt's size.
fn bounded(mut text: String) -> String {
    excerpt::cut(&mut text, MAX_EXCERPT);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments() {
        assert_eq!(path_segment("cus 1/x"), "cus%201%2Fx");
        assert_eq!(path_segment("a-b_c.d!e~f*g'h(i)"), "a-b_c.d!e~f*g'h(i)");
        assert_eq!(path_segment("é?#%"), "%C3%A9%3F%23%25");
    }

    #[test]
    fn hosts_keep_explicit_ports_and_ipv6_brackets() {
        let host = |u: &str| endpoint_host(&Url::parse(u).expect("url"));
        assert_eq!(host("http://127.0.0.1:8080/x?y"), "127.0.0.1:8080");
        assert_eq!(host("https://chat.example:443/x"), "chat.example");
        assert_eq!(host("http://[::1]:8080/"), "[::1]:8080");
    }

    #[test]
    fn idempotency_is_method_and_key() {
        let url = Url::parse("http://h/").expect("url");
        assert!(OutboundRequest::api(Method::GET, url.clone()).is_idempotent());
        assert!(OutboundRequest::api(Method::PATCH, url.clone()).is_idempotent());
        assert!(!OutboundRequest::api(Method::POST, url.clone()).is_idempotent());
        let keyed = OutboundRequest::api(Method::POST, url.clone()).header(
            HeaderName::from_static("idempotency-key"),
            HeaderValue::from_static("k"),
        );
        assert!(keyed.is_idempotent());
        assert!(!OutboundRequest::webhook(url).is_idempotent());
    }

    #[test]
    fn debug_shows_no_credentials() {
        let url = Url::parse("http://h:1/hook/SECRETPATH?token=SECRETTOKEN").expect("url");
        let request = OutboundRequest::webhook(url).header(
            http::header::AUTHORIZATION,
            HeaderValue::from_static("Bearer sk_SECRET"),
        );
        let debug = format!("{request:?}");
        assert!(!debug.contains("SECRET"), "{debug}");
        assert!(debug.contains("h:1"));
    }

    #[test]
    fn generic_and_coded_messages_leave_out_empty_parts() {
        let redactor = Redactor::new().secret("sk_1");
        let generic = provider_error(
            "r",
            "Slack webhook failed",
            StatusCode::INTERNAL_SERVER_ERROR,
            b"",
            1,
            &redactor,
            |_| ProviderDescription::default(),
        );
        assert_eq!(
            generic.message,
            "Slack webhook failed: 500 Internal Server Error"
        );
        let unknown = provider_error(
            "r",
            "X failed",
            StatusCode::from_u16(599).expect("status"),
            b" echo sk_1 ",
            3,
            &redactor,
            |reply| ProviderDescription {
                code: Some(reply.text.to_owned()),
                ..ProviderDescription::default()
            },
        );
        assert_eq!(unknown.message, "X failed: 599 echo [REDACTED]");
        assert_eq!(unknown.code.as_deref(), Some("echo [REDACTED]"));
        assert_eq!(unknown.attempts, 3);
        let coded = provider_error(
            "r",
            "Notion request failed",
            StatusCode::NOT_FOUND,
            b"{}",
            1,
            &redactor,
            |_| ProviderDescription {
                code: Some("object_not_found".into()),
                message: Some("Could not find page".into()),
                shape: MessageShape::Coded,
                ..ProviderDescription::default()
            },
        );
        assert_eq!(
            coded.message,
            "Notion request failed: 404 object_not_found Could not find page"
        );
    }
}
