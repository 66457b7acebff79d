//! The server's errors, in one place:
//!
//! - the one error shape of its answers, `{ok: false, error: {code, message, route, traceId}}`
//!   (plus `problems` for invalid input), as the router answers it ([`ApiError`]) and as the
//!   bytes written below the router ([`raw_error`]: a connection over the cap), and the
//!   `x-trace-id` header every answer carries (hyper's own answers to a request it cannot
//!   parse at all are hyper's: no body);
//! - why a job store could not be opened or used ([`StoreError`]), with the driver's error
//!   kept as its source.

use std::sync::Arc;

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

/// A complete HTTP/1.1 error answer as bytes, for an answer written below the router (a
/// connection over the cap): the documented body, `x-trace-id`, `connection: close`, and
/// `Retry-After: 1` on 503.
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
        // A connection error says which problem it is (`connection_needs_reauth`), as the other
        // classes' codes do.
        let code = match error.as_connector() {
            Some(ConnectorError::Connection { error, .. }) => error.code(),
            _ => error.class(),
        };
        let mut answer = ApiError::new(status, code, error.to_string()).route(route);
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

/// Why a job store could not be opened or used.
///
/// The message names the file or the database (never a password) and ends with the cause in
/// the store's words, because logs print only the message; [`std::error::Error::source`] is
/// that cause as a value (shared, so one failed commit can answer every caller of its batch).
/// A printer of error chains should stop at a `StoreError`: its message already says the rest.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// A directory or file of the SQLite store could not be made or changed, or its writer
    /// thread started.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// What the operating system said.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// SQLite refused to open or set up the store, or to run a statement or a commit.
    #[cfg(feature = "sqlite")]
    #[error("{}", Prefixed(context.as_deref(), source))]
    Sqlite {
        /// What was being done, when the message says more than SQLite's own words.
        context: Option<String>,
        /// SQLite's error.
        #[source]
        source: Arc<rusqlite::Error>,
    },
    /// The file is not a SQLite database at all; nothing was written to it.
    #[cfg(feature = "sqlite")]
    #[error(
        "{location} is not a WorkerFlow job store ({source}); move it away or pass another --data-dir"
    )]
    NotADatabase {
        /// The file.
        location: String,
        /// SQLite's error.
        #[source]
        source: Arc<rusqlite::Error>,
    },
    /// PostgreSQL, or the way to it, refused: the URL, connecting, setting up, a statement.
    #[cfg(feature = "postgres")]
    #[error("{context}: {}", postgres_reason(source))]
    Postgres {
        /// What was being done (never the URL: it may hold a password).
        context: String,
        /// The driver's error.
        #[source]
        source: Arc<tokio_postgres::Error>,
    },
    /// The PostgreSQL URL asks for what this build cannot do (the URL itself is not repeated:
    /// it may hold a password).
    #[cfg(feature = "postgres")]
    #[error("{0}")]
    UnusableUrl(&'static str),
    /// A SQLite database with someone else's tables; nothing was written to it.
    #[cfg(feature = "sqlite")]
    #[error(
        "{location} is a SQLite database of something else (tables: {tables}); move it away or pass another --data-dir"
    )]
    ForeignTables {
        /// The file.
        location: String,
        /// The tables it has, comma-separated.
        tables: String,
    },
    /// A PostgreSQL `workerflow_jobs` table that WorkerFlow did not create; left as it was.
    #[cfg(feature = "postgres")]
    #[error(
        "{location} has a table workerflow_jobs that WorkerFlow did not create (no workerflow_schema); use another database or schema"
    )]
    ForeignJobsTable {
        /// The database, without credentials.
        location: String,
    },
    /// The store was written by a newer workerflow; left as it was.
    #[error(
        "{location} has {what} version {version} but this workerflow knows up to {known}; upgrade workerflow"
    )]
    NewerSchema {
        /// The store, without credentials.
        location: String,
        /// `schema` or `job schema`.
        what: &'static str,
        /// The version the store has.
        version: i64,
        /// The newest version this build knows.
        known: i64,
    },
    /// A stored row holds a state this server does not write (someone else changed the row).
    #[error("a stored job has an {source}")]
    UnknownState {
        /// The state text that was read.
        #[source]
        source: UnknownJobState,
    },
    /// A job with this trace id is already stored.
    #[error("a job with trace id {0} is already stored")]
    Duplicate(String),
    /// The database did not answer an enqueue in time (it may still commit it: at least once).
    #[error("no commit from {location} within {} s", .after.as_secs())]
    Timeout {
        /// The database, without credentials.
        location: String,
        /// How long the enqueue waited.
        after: std::time::Duration,
    },
    /// The store's writer (SQLite's thread, PostgreSQL's batch task) is gone.
    #[error("{0}")]
    Closed(&'static str),
    /// This server was built without the SQLite store that `--jobs` asks for.
    #[cfg(not(feature = "sqlite"))]
    #[error(
        "this server was built without the SQLite job store (the `sqlite` feature of workerflow-server); use --jobs memory or build it with that feature"
    )]
    SqliteNotBuilt,
}

/// A stored state that is none of the five: a row this server did not write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown job state {0:?}")]
pub struct UnknownJobState(pub(crate) String);

/// `context: cause`, or the cause alone.
#[cfg(feature = "sqlite")]
struct Prefixed<'a, E>(Option<&'a str>, &'a E);

#[cfg(feature = "sqlite")]
impl<E: std::fmt::Display> std::fmt::Display for Prefixed<'_, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(context) => write!(f, "{context}: {}", self.1),
            None => write!(f, "{}", self.1),
        }
    }
}

#[cfg(feature = "sqlite")]
impl From<rusqlite::Error> for StoreError {
    /// SQLite's own words; a state no one of ours wrote is [`StoreError::UnknownState`].
    fn from(error: rusqlite::Error) -> StoreError {
        match error {
            rusqlite::Error::FromSqlConversionFailure(column, kind, cause) => {
                match cause.downcast::<UnknownJobState>() {
                    Ok(state) => StoreError::UnknownState { source: *state },
                    Err(cause) => StoreError::Sqlite {
                        context: None,
                        source: Arc::new(rusqlite::Error::FromSqlConversionFailure(
                            column, kind, cause,
                        )),
                    },
                }
            }
            error => StoreError::Sqlite {
                context: None,
                source: Arc::new(error),
            },
        }
    }
}

#[cfg(feature = "sqlite")]
impl StoreError {
    /// SQLite's error after what was being done.
    pub(crate) fn sqlite(context: impl Into<String>, error: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            context: Some(context.into()),
            source: Arc::new(error),
        }
    }
}

impl StoreError {
    #[cfg(feature = "sqlite")]
    pub(crate) fn io(context: impl Into<String>, error: std::io::Error) -> StoreError {
        StoreError::Io {
            context: context.into(),
            source: Arc::new(error),
        }
    }

    /// The driver's error after what was being done; a state no one of ours wrote is
    /// [`StoreError::UnknownState`].
    #[cfg(feature = "postgres")]
    pub(crate) fn postgres(context: impl Into<String>, error: tokio_postgres::Error) -> StoreError {
        let unknown = std::error::Error::source(&error)
            .and_then(|cause| cause.downcast_ref::<UnknownJobState>())
            .cloned();
        match unknown {
            Some(state) => StoreError::UnknownState { source: state },
            None => StoreError::Postgres {
                context: context.into(),
                source: Arc::new(error),
            },
        }
    }
}

/// What a PostgreSQL driver error says, with its causes: the server's severity and message for
/// a database error (the driver's own text is just "db error"), else the text and every cause
/// it does not already include.
#[cfg(feature = "postgres")]
fn postgres_reason(error: &tokio_postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return format!("{}: {}", db.severity(), db.message());
    }
    let mut text = error.to_string();
    let causes = std::iter::successors(std::error::Error::source(error), |cause| cause.source());
    for cause in causes {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}
