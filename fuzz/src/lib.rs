//! Helpers shared by the fuzz targets: JSON values built from fuzz input (biased towards the
//! field names the connectors read, so inputs reach past the first "missing field" check), and
//! an in-memory [`Transport`] that answers from the fuzz input, so no target touches the network.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use arbitrary::Arbitrary;
use serde_json::{Map, Number, Value};
use workerflow_runtime::http::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use workerflow_runtime::http::{
    BoxFuture, HttpStatus, OutboundRequest, RawResponse, Transport, TransportError,
};

/// Field names the connectors read or the providers answer with.
const KEYS: &[&str] = &[
    "text",
    "title",
    "description",
    "severity",
    "source",
    "email",
    "name",
    "phone",
    "fullName",
    "firstName",
    "lastName",
    "amount",
    "currency",
    "customerId",
    "idempotencyKey",
    "metadata",
    "databaseId",
    "pageId",
    "properties",
    "idProperty",
    "idValue",
    "prompt",
    "model",
    "messages",
    "systemPrompt",
    "temperature",
    "repo",
    "labels",
    "body",
    "webhookUrl",
    "content",
    "role",
    "choices",
    "message",
    "error",
    "code",
    "type",
    "status",
    "results",
    "id",
    "url",
    "html_url",
    "number",
    "category",
    "correlationId",
    "errors",
    "context",
    "subCategory",
    "total",
];

/// Texts that sit on the edges of the connectors' checks.
const TEXTS: &[&str] = &[
    "",
    " ",
    "\u{feff}",
    "usd",
    "USD",
    "eur",
    "a@b.co",
    " AVA@Example.COM ",
    "acme/widgets",
    "owner/",
    "/repo",
    "o/r/x",
    "high",
    "critical",
    "0",
    "-1",
    "1.5",
    "99999999999999999999",
    "https://example.com/x",
    "http://127.0.0.1:9/x",
    "gpt-4o-mini",
    "user",
    "system",
    "sk_test_SECRET_1",
    "[REDACTED]",
    "é",
    "\u{0}",
    "key with spaces",
    "a\nb",
];

/// A JSON value from fuzz input.
#[derive(Arbitrary, Debug, Clone)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    KnownText(u8),
    Text(String),
    Array(Vec<Json>),
    Object(Vec<(Key, Json)>),
}

#[derive(Arbitrary, Debug, Clone)]
pub enum Key {
    Known(u8),
    Other(String),
}

impl Json {
    pub fn to_value(&self) -> Value {
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Int(n) => Value::from(*n),
            Json::Uint(n) => Value::from(*n),
            // NaN and infinities are not JSON; they become null as serde_json would write them.
            Json::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Json::KnownText(n) => Value::from(TEXTS[usize::from(*n) % TEXTS.len()]),
            Json::Text(text) => Value::from(text.as_str()),
            Json::Array(items) => Value::Array(items.iter().map(Json::to_value).collect()),
            Json::Object(fields) => {
                let mut map = Map::new();
                for (key, value) in fields {
                    let key = match key {
                        Key::Known(n) => KEYS[usize::from(*n) % KEYS.len()].to_owned(),
                        Key::Other(text) => text.clone(),
                    };
                    map.insert(key, value.to_value());
                }
                Value::Object(map)
            }
        }
    }
}

/// One attempt's outcome, from fuzz input.
#[derive(Arbitrary, Debug, Clone)]
pub enum Reply {
    Response {
        status: u16,
        retry_after: Option<String>,
        body: Body,
    },
    ConnectFailed,
    Timeout,
    Interrupted,
}

#[derive(Arbitrary, Debug, Clone)]
pub enum Body {
    Json(Json),
    Bytes(Vec<u8>),
}

impl Reply {
    fn to_outcome(&self) -> Result<RawResponse, TransportError> {
        match self {
            Reply::Response {
                status,
                retry_after,
                body,
            } => {
                let status = HttpStatus::from_u16(100 + status % 500).unwrap_or(HttpStatus::OK);
                let mut headers = HeaderMap::new();
                if let Some(value) = retry_after
                    .as_deref()
                    .and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok())
                {
                    headers.insert(RETRY_AFTER, value);
                }
                let body = match body {
                    Body::Json(json) => json.to_value().to_string().into_bytes(),
                    Body::Bytes(bytes) => bytes.clone(),
                };
                Ok(RawResponse {
                    status,
                    headers,
                    body,
                    truncated: false,
                })
            }
            Reply::ConnectFailed => Err(TransportError::Connect {
                reason: "connection refused",
                timed_out: false,
            }),
            Reply::Timeout => Err(TransportError::Timeout),
            Reply::Interrupted => Err(TransportError::Interrupted {
                reason: "connection reset",
            }),
        }
    }
}

/// Answers each attempt with the next scripted reply (the last one repeats; `200 {}` when none),
/// and sleeps without waiting. It counts the attempts it saw.
#[derive(Default)]
pub struct ScriptedTransport {
    state: Mutex<(VecDeque<Reply>, u32)>,
}

impl ScriptedTransport {
    /// Replaces the script and resets the attempt count.
    pub fn script(&self, replies: &[Reply]) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        *state = (replies.iter().cloned().collect(), 0);
    }

    pub fn attempts(&self) -> u32 {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).1
    }
}

impl Transport for ScriptedTransport {
    fn send<'a>(
        &'a self,
        _request: &'a OutboundRequest,
        _timeout: Duration,
    ) -> BoxFuture<'a, Result<RawResponse, TransportError>> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.1 += 1;
        let reply = if state.0.len() > 1 {
            state.0.pop_front()
        } else {
            state.0.front().cloned()
        };
        let outcome = match reply {
            Some(reply) => reply.to_outcome(),
            None => Ok(RawResponse {
                status: HttpStatus::OK,
                headers: HeaderMap::new(),
                body: b"{}".to_vec(),
                truncated: false,
            }),
        };
        Box::pin(async move { outcome })
    }

    fn sleep(&self, _duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }
}
