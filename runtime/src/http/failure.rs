//! What a request that did not end in a usable 2xx response becomes: the route's
//! [`ConnectorError`], with provider texts redacted and messages that name only the host.

use std::fmt;

use http::{HeaderMap, StatusCode};
use serde_json::{Map, Value};

use super::OutboundRequest;
use super::excerpt::{self, MAX_EXCERPT, Redactor};
use crate::error::{ConfigProblem, ConnectorError, GatewayError, GatewayKind, ProviderError};

/// A 2xx response.
pub struct HttpResponse {
    /// The response's status, always 2xx.
    pub status: StatusCode,
    /// The response's headers.
    pub headers: HeaderMap,
    /// The whole body (at most 8 MiB; a longer one is an invalid response).
    pub body: Vec<u8>,
    pub(super) host: String,
    pub(super) attempts: u32,
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
    pub(super) host: String,
    pub(super) attempts: u32,
    pub(super) kind: FailureKind,
}

pub(super) enum FailureKind {
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
    /// Refused before anything was sent: the host is not one the route may reach (POLICY.md 2.8).
    EgressDenied {
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
            FailureKind::EgressDenied { reason } => debug.field("egress_denied", reason),
        };
        debug.finish()
    }
}

/// A provider's non-2xx answer, as a route's `describe` function sees it.
pub struct ProviderReply<'a> {
    /// The provider's status (not 2xx).
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
    /// `<label>: <status> <reason> <excerpt>` (chat, incident, Slack, GitHub, OpenAI, Stripe).
    #[default]
    Generic,
    /// `<label>: <status> <code> <message>`, from the provider's JSON error (Notion, HubSpot).
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

    /// A request refused before anything was sent (POLICY.md 2.8): it names the host only.
    pub(crate) fn egress_denied(request: &OutboundRequest, reason: &'static str) -> Self {
        HttpFailure {
            host: request.host(),
            attempts: 0,
            kind: FailureKind::EgressDenied { reason },
        }
    }

    /// The provider's status, when the failure is a non-2xx answer.
    pub fn status(&self) -> Option<StatusCode> {
        match &self.kind {
            FailureKind::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// How many attempts were made (0 for a refused host or when there was no HTTP client).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The route's error: `Provider` for a non-2xx answer (described by `describe`, every text
    /// taken from the provider redacted by `redactor`), `Config` with an `egress_denied` problem
    /// for a refused host, `Gateway` otherwise. Messages start with `label` (but a refusal's,
    /// which is configuration's) and name the host only.
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
            // Which hosts a route reaches is configuration, not a provider's doing.
            FailureKind::EgressDenied { reason } => {
                return ConnectorError::config(
                    route,
                    ConfigProblem::EgressDenied {
                        host,
                        reason: reason.to_owned(),
                    },
                );
            }
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
