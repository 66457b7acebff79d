//! OAuth 2.0 connections: named, encrypted tokens in the store that holds the jobs, refreshed
//! once however many calls and instances ask at the same time.
//!
//! [`Connections`] is the runtime's [`ConnectionStore`] (what OAuth routes get their access
//! tokens from) and the management API the endpoints and the `connections` command use:
//! [`Connections::start_flow`], [`Connections::finish_flow`], [`Connections::list`],
//! [`Connections::get`], [`Connections::delete`] and [`Connections::reencrypt`].
//!
//! - Rows: `connections` (SQLite) or `workerflow_connections` (PostgreSQL) beside the jobs, or
//!   this process's memory with `--jobs memory`; tokens encrypted with the first key of the
//!   [`KeyRing`] (AES-256-GCM, bound to the connection and the column).
//! - Flows: the state is stored as its SHA-256, the PKCE verifier encrypted; a flow is read
//!   and deleted in one transaction (used once) and expires after [`FLOW_LIFETIME`].
//! - Refresh: a fresh token (expiring after now + the service's buffer) that is not the one the
//!   provider just refused is returned as it is. Otherwise one call per connection per process
//!   goes on (the others wait for it), takes the row's lock in the store (PostgreSQL `FOR
//!   UPDATE`, SQLite `BEGIN IMMEDIATE`), reads it again and refreshes only if that is still
//!   needed, writing the new tokens in the same transaction. The refresh runs in a task of its
//!   own, so a caller that goes away cannot lose a rotated refresh token halfway.

pub mod crypto;

mod backend;
mod flow;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
mod refresh;
mod rows;
#[cfg(feature = "sqlite")]
mod sqlite;
mod token;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;
use tokio::time::{Instant, timeout_at};
use workerflow_runtime::http::HttpClient;
use workerflow_runtime::{
    ConnectionError, ConnectionName, ConnectionStore, OAuthApp, SecretSource, SecretValue,
    ServiceSpec, TokenFuture, TokenRequest, TraceId,
};

use self::backend::{Backend, Locked};
use self::rows::{FlowRow, LockError, StoredRow, now_secs, rfc3339};
use self::token::{Endpoints, TokenError, Tokens};
use crate::error::StoreError;
use crate::store::JobStore;
pub use crypto::{KeyError, KeyRing};
pub use rows::ConnectionState;

/// How long an authorization flow waits for its callback.
pub const FLOW_LIFETIME: Duration = Duration::from_secs(600);
/// How long a call waits for a connection's lock (held by a refresh elsewhere).
pub const LOCK_WAIT: Duration = Duration::from_secs(15);

const ACCESS: &str = "access_token";
const REFRESH: &str = "refresh_token";
const VERIFIER: &str = "pkce_verifier";

/// A connection as listings show it: never a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// The connection's name.
    pub name: String,
    /// The service id it authorizes.
    pub service: String,
    /// `active`, `needs_reauth` or `revoked`.
    pub state: String,
    /// The scopes granted (or requested, when the provider did not say).
    pub scopes: Vec<String>,
    /// When the access token expires (unix seconds), when known.
    pub expires_at: Option<i64>,
    /// When the connection was first authorized (unix seconds).
    pub created_at: i64,
    /// When the row last changed (unix seconds).
    pub updated_at: i64,
    /// When its token was last refreshed (unix seconds).
    pub refreshed_at: Option<i64>,
    /// How many refreshes it had.
    pub refresh_count: i64,
    /// The id of the key its tokens are encrypted with.
    pub key_id: String,
}

impl ConnectionInfo {
    fn of(row: &StoredRow) -> ConnectionInfo {
        ConnectionInfo {
            name: row.name.clone(),
            service: row.service.clone(),
            state: row.state.clone(),
            scopes: serde_json::from_str(&row.scopes).unwrap_or_default(),
            expires_at: row.expires_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
            refreshed_at: row.refreshed_at,
            refresh_count: row.refresh_count,
            key_id: row.key_id.clone(),
        }
    }

    /// `{name, service, state, scopes, expiresAt, createdAt, updatedAt, refreshedAt}`, times
    /// in RFC 3339 (UTC).
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "service": self.service,
            "state": self.state,
            "scopes": self.scopes,
            "expiresAt": self.expires_at.map(rfc3339),
            "createdAt": rfc3339(self.created_at),
            "updatedAt": rfc3339(self.updated_at),
            "refreshedAt": self.refreshed_at.map(rfc3339),
        })
    }
}

/// An authorization flow just started.
#[derive(Clone, PartialEq, Eq)]
pub struct FlowStart {
    /// The connection it will create or re-authorize.
    pub connection: String,
    /// Its service.
    pub service: String,
    /// Where the person approves access (holds the state, never a secret).
    pub authorization_url: String,
    /// When the flow expires (unix seconds).
    pub expires_at: i64,
}

impl fmt::Debug for FlowStart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL holds the state, which completes the flow: not for logs.
        f.debug_struct("FlowStart")
            .field("connection", &self.connection)
            .field("service", &self.service)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl FlowStart {
    /// `expires_at` in RFC 3339.
    pub fn expires_at_rfc3339(&self) -> String {
        rfc3339(self.expires_at)
    }
}

/// What `GET /oauth/callback` received.
#[derive(Default)]
pub struct Callback {
    /// `state`.
    pub state: Option<String>,
    /// `code`.
    pub code: Option<String>,
    /// The provider's `error` (`access_denied`).
    pub error: Option<String>,
    /// The provider's `error_description`.
    pub error_description: Option<String>,
}

impl fmt::Debug for Callback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Callback")
            .field("has_state", &self.state.is_some())
            .field("has_code", &self.code.is_some())
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

/// Why a management call failed. Messages name the connection, never a token.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    /// No linked route's service with this id declares OAuth 2.0.
    #[error("no linked route's service {service:?} declares OAuth 2.0 (an oauth2 block)")]
    UnknownService {
        /// The id given.
        service: String,
    },
    /// The service's OAuth client or endpoints are not configured.
    #[error("the OAuth client of {service} is {message}")]
    Config {
        /// The service.
        service: String,
        /// What to set.
        message: String,
    },
    /// No connection has this name.
    #[error("no OAuth connection is named \"{connection}\"")]
    UnknownConnection {
        /// The name.
        connection: String,
    },
    /// A stored value of the connection cannot be decrypted or encrypted.
    #[error("connection \"{connection}\": {source}")]
    Key {
        /// The connection.
        connection: String,
        /// Which key, and what went wrong.
        #[source]
        source: KeyError,
    },
    /// Another call held the connection's lock too long.
    #[error(
        "connection \"{connection}\" is being changed by another call and its lock was not free within {waited_ms} ms; retry"
    )]
    Busy {
        /// The connection.
        connection: String,
        /// How long this call waited.
        waited_ms: u64,
    },
    /// The store failed.
    #[error("the connection store failed: {0}")]
    Store(StoreError),
}

/// Why a callback did not complete its flow (each shown on the callback's error page).
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    /// No `state`, or one that no flow has (forged, or already used: a state works once).
    #[error(
        "this authorization link is unknown or was already used; start the authorization again"
    )]
    UnknownState,
    /// The flow is older than 10 minutes.
    #[error(
        "the authorization of connection \"{connection}\" expired (flows last 10 minutes); start it again"
    )]
    Expired {
        /// The connection.
        connection: String,
    },
    /// The provider sent no `code`.
    #[error("the provider sent no authorization code for connection \"{connection}\"")]
    MissingCode {
        /// The connection.
        connection: String,
    },
    /// The provider reported an error (`access_denied`).
    #[error("the provider refused the authorization: {error}{}", description.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
    Denied {
        /// The provider's `error`.
        error: String,
        /// The provider's `error_description`.
        description: Option<String>,
    },
    /// The code could not be exchanged for tokens.
    #[error("the token exchange for connection \"{connection}\" failed: {reason}")]
    Exchange {
        /// The connection.
        connection: String,
        /// What went wrong (never a token).
        reason: String,
    },
    /// The store, the keys or the configuration failed.
    #[error(transparent)]
    Manage(#[from] ManageError),
}

/// The connections of one server (see the module docs). Cheap to clone.
#[derive(Clone)]
pub struct Connections {
    inner: Arc<Inner>,
}

/// This process's turn at one connection, and the token its last refresh got: the calls that
/// waited for that refresh take it without reading the row again.
type Flight = Arc<tokio::sync::Mutex<Option<Refreshed>>>;

/// A token a refresh in this process wrote, and when.
struct Refreshed {
    token: SecretValue,
    expires_at: Option<i64>,
    at: Instant,
}

struct Inner {
    backend: Arc<Backend>,
    keys: KeyRing,
    http: HttpClient,
    secrets: Arc<dyn SecretSource>,
    services: Vec<&'static ServiceSpec>,
    flights: std::sync::Mutex<HashMap<String, Flight>>,
    lock_wait: Duration,
}

impl fmt::Debug for Connections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connections")
            .field("store", &self.inner.backend.kind())
            .field("keys", &self.inner.keys)
            .field(
                "services",
                &self.inner.services.iter().map(|s| s.id).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// Every distinct service with an `oauth2` block among `services`.
fn oauth_services(
    services: impl IntoIterator<Item = &'static ServiceSpec>,
) -> Vec<&'static ServiceSpec> {
    let mut found: Vec<&'static ServiceSpec> = Vec::new();
    for service in services {
        if service.oauth2.is_some() && !found.iter().any(|known| known.id == service.id) {
            found.push(service);
        }
    }
    found
}

fn hash_state(state: &str) -> String {
    Sha256::digest(state.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn expiry(now: i64, tokens: &Tokens) -> Option<i64> {
    tokens
        .expires_in
        .map(|seconds| now.saturating_add(i64::try_from(seconds).unwrap_or(i64::MAX)))
}

fn scopes_json(scope: Option<&str>, app: &OAuthApp) -> String {
    let scopes: Vec<&str> = match scope {
        Some(granted) if !granted.trim().is_empty() => granted
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .collect(),
        _ => app.scopes.to_vec(),
    };
    serde_json::to_string(&scopes).unwrap_or_else(|_| "[]".to_owned())
}

impl Connections {
    /// The connections in the database of `jobs` (its tables are created when missing; with
    /// the memory job store, in memory). `services` are those of the linked routes: flows are
    /// started only for those with an `oauth2` block. The client credentials and endpoint
    /// overrides are read from `secrets`.
    pub async fn open(
        jobs: &JobStore,
        keys: KeyRing,
        secrets: Arc<dyn SecretSource>,
        services: impl IntoIterator<Item = &'static ServiceSpec>,
    ) -> Result<Connections, ManageError> {
        let backend = Arc::new(Backend::beside(jobs).await.map_err(ManageError::Store)?);
        let http = HttpClient::new(token::policy()).map_err(|_| {
            ManageError::Store(StoreError::Closed(
                "the HTTP client of the token endpoint cannot be set up",
            ))
        })?;
        Ok(Connections {
            inner: Arc::new(Inner {
                backend,
                keys,
                http,
                secrets,
                services: oauth_services(services),
                flights: std::sync::Mutex::new(HashMap::new()),
                lock_wait: LOCK_WAIT,
            }),
        })
    }

    /// The same, sending token requests through `http` (tests: another policy or transport).
    pub fn with_http(mut self, http: HttpClient) -> Connections {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.http = http;
        }
        self
    }

    /// The same, waiting at most `wait` for a connection's lock (default [`LOCK_WAIT`]).
    pub fn with_lock_wait(mut self, wait: Duration) -> Connections {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.lock_wait = wait;
        }
        self
    }

    /// The same rows and settings under another key ring (tests: rotation).
    #[cfg(test)]
    fn with_keys(&self, keys: KeyRing) -> Connections {
        let inner = &*self.inner;
        Connections {
            inner: Arc::new(Inner {
                backend: Arc::clone(&inner.backend),
                keys,
                http: inner.http.clone(),
                secrets: Arc::clone(&inner.secrets),
                services: inner.services.clone(),
                flights: std::sync::Mutex::default(),
                lock_wait: inner.lock_wait,
            }),
        }
    }

    /// The key ring (ids only in its `Debug`).
    pub fn keys(&self) -> &KeyRing {
        &self.inner.keys
    }

    /// `memory`, `sqlite` or `postgres`.
    pub fn store_kind(&self) -> &'static str {
        self.inner.backend.kind()
    }

    fn service(&self, id: &str) -> Option<&'static ServiceSpec> {
        self.inner.services.iter().copied().find(|s| s.id == id)
    }

    /// Every connection, sorted by name.
    pub async fn list(&self) -> Result<Vec<ConnectionInfo>, ManageError> {
        let rows = self
            .inner
            .backend
            .list()
            .await
            .map_err(ManageError::Store)?;
        Ok(rows.iter().map(ConnectionInfo::of).collect())
    }

    /// One connection, if it exists.
    pub async fn get(&self, name: &str) -> Result<Option<ConnectionInfo>, ManageError> {
        let row = self
            .inner
            .backend
            .get(name)
            .await
            .map_err(ManageError::Store)?;
        Ok(row.as_ref().map(ConnectionInfo::of))
    }

    /// Revokes the connection at the provider when it declares a revocation endpoint (a
    /// failure is logged and reported as `false`), then wipes its tokens and marks it
    /// `revoked`. Returns the connection as it is now and whether the provider revoked it.
    pub async fn delete(&self, name: &str) -> Result<(ConnectionInfo, bool), ManageError> {
        let inner = &*self.inner;
        let unknown = || ManageError::UnknownConnection {
            connection: name.to_owned(),
        };
        // Checked before a turn is taken, so unknown names leave nothing behind.
        if inner
            .backend
            .get(name)
            .await
            .map_err(ManageError::Store)?
            .is_none()
        {
            return Err(unknown());
        }
        let _flight = self.lock_flight(name).await?;
        let locked = self.lock_row(name).await?;
        let Some(mut row) = locked.row().cloned() else {
            locked.release().await;
            return Err(ManageError::UnknownConnection {
                connection: name.to_owned(),
            });
        };
        let mut revoked = false;
        let app = self.service(&row.service).and_then(|spec| spec.oauth2);
        let (token, hint) = match (&row.refresh_token, &row.access_token) {
            (Some(stored), _) => (Some(stored), REFRESH),
            (None, Some(stored)) => (Some(stored), ACCESS),
            (None, None) => (None, ACCESS),
        };
        if let (Some(app), Some(stored)) = (app, token) {
            let endpoints = Endpoints::resolve(&row.service, app, &*inner.secrets);
            let client = token::Client::resolve(app, &*inner.secrets);
            let plain = inner.keys.decrypt(&row.key_id, name, hint, stored);
            match (endpoints, client, plain) {
                (
                    Ok(Endpoints {
                        revocation: Some(url),
                        ..
                    }),
                    Ok(client),
                    Ok(plain),
                ) => {
                    let token = SecretValue::new(String::from_utf8_lossy(&plain));
                    let trace = TraceId::generate();
                    match token::revoke(&inner.http, &url, &client, &token, hint, trace.as_str())
                        .await
                    {
                        Ok(()) => revoked = true,
                        Err(reason) => tracing::warn!(
                            target: "workerflow::connections",
                            connection = %name,
                            reason = %reason,
                            "revocation at the provider failed; the tokens are wiped anyway"
                        ),
                    }
                }
                (
                    Ok(Endpoints {
                        revocation: None, ..
                    }),
                    _,
                    _,
                ) => {}
                (Err(reason), _, _) | (_, Err(reason), _) => tracing::warn!(
                    target: "workerflow::connections",
                    connection = %name,
                    reason = %reason,
                    "cannot revoke at the provider; the tokens are wiped anyway"
                ),
                (_, _, Err(error)) => tracing::warn!(
                    target: "workerflow::connections",
                    connection = %name,
                    error = %error,
                    "cannot revoke at the provider; the tokens are wiped anyway"
                ),
            }
        }
        row.state = ConnectionState::Revoked.as_str().to_owned();
        row.access_token = None;
        row.refresh_token = None;
        row.expires_at = None;
        row.updated_at = now_secs();
        let info = ConnectionInfo::of(&row);
        locked.write(row).await.map_err(ManageError::Store)?;
        tracing::info!(
            target: "workerflow::connections",
            connection = %name,
            revoked_at_provider = revoked,
            "connection revoked"
        );
        Ok((info, revoked))
    }

    /// Rewrites every connection with the first key (one transaction per row); returns how
    /// many. A row whose key is not configured stops it with an error naming the connection
    /// and the key id (the rows before it are already rewritten, which is harmless).
    pub async fn reencrypt(&self) -> Result<usize, ManageError> {
        let inner = &*self.inner;
        let names: Vec<String> = self
            .list()
            .await?
            .into_iter()
            .map(|info| info.name)
            .collect();
        let mut count = 0;
        for name in names {
            let _flight = self.lock_flight(&name).await?;
            let locked = self.lock_row(&name).await?;
            let Some(row) = locked.row().cloned() else {
                locked.release().await;
                continue;
            };
            let key = |source| ManageError::Key {
                connection: name.clone(),
                source,
            };
            let open = |field: &str, stored: &Option<Vec<u8>>| {
                stored
                    .as_deref()
                    .map(|stored| inner.keys.decrypt(&row.key_id, &name, field, stored))
                    .transpose()
            };
            let (access, refresh) = match (
                open(ACCESS, &row.access_token),
                open(REFRESH, &row.refresh_token),
            ) {
                (Ok(access), Ok(refresh)) => (access, refresh),
                (Err(error), _) | (_, Err(error)) => {
                    locked.release().await;
                    return Err(key(error));
                }
            };
            let seal = |field: &str, plain: &Option<Vec<u8>>| {
                plain
                    .as_deref()
                    .map(|plain| inner.keys.encrypt(&name, field, plain))
                    .transpose()
            };
            let rewritten = match (seal(ACCESS, &access), seal(REFRESH, &refresh)) {
                (Ok(access_token), Ok(refresh_token)) => StoredRow {
                    key_id: inner.keys.current_id().to_owned(),
                    access_token,
                    refresh_token,
                    ..row
                },
                (Err(error), _) | (_, Err(error)) => {
                    locked.release().await;
                    return Err(key(error));
                }
            };
            locked.write(rewritten).await.map_err(ManageError::Store)?;
            count += 1;
        }
        Ok(count)
    }

    /// This process's turn at a connection: one refresh (or change) at a time per name.
    /// Forgets the last refresh's token: the caller is about to change the row.
    async fn lock_flight(
        &self,
        name: &str,
    ) -> Result<tokio::sync::OwnedMutexGuard<Option<Refreshed>>, ManageError> {
        let flight = {
            let mut flights = self
                .inner
                .flights
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            Arc::clone(flights.entry(name.to_owned()).or_default())
        };
        let wait = self.inner.lock_wait;
        let mut guard = tokio::time::timeout(wait, flight.lock_owned())
            .await
            .map_err(|_| ManageError::Busy {
                connection: name.to_owned(),
                waited_ms: millis(wait),
            })?;
        *guard = None;
        Ok(guard)
    }

    async fn lock_row(&self, name: &str) -> Result<Locked, ManageError> {
        let wait = self.inner.lock_wait;
        self.inner
            .backend
            .lock(name, wait)
            .await
            .map_err(|error| match error {
                LockError::Timeout => ManageError::Busy {
                    connection: name.to_owned(),
                    waited_ms: millis(wait),
                },
                LockError::Store(error) => ManageError::Store(error),
            })
    }

    /// `template` with both tokens encrypted under the first key.
    fn sealed_row(
        &self,
        name: &str,
        access: &SecretValue,
        refresh: Option<&SecretValue>,
        template: StoredRow,
    ) -> Result<StoredRow, (String, KeyError)> {
        let keys = &self.inner.keys;
        let failed = |error| (name.to_owned(), error);
        let access_token = keys
            .encrypt(name, ACCESS, access.expose().as_bytes())
            .map_err(failed)?;
        let refresh_token = refresh
            .map(|token| keys.encrypt(name, REFRESH, token.expose().as_bytes()))
            .transpose()
            .map_err(failed)?;
        Ok(StoredRow {
            key_id: keys.current_id().to_owned(),
            access_token: Some(access_token),
            refresh_token,
            ..template
        })
    }
}

impl From<(String, KeyError)> for ManageError {
    fn from((connection, source): (String, KeyError)) -> ManageError {
        ManageError::Key { connection, source }
    }
}

/// The provider's text for pages and logs: control characters as spaces, at most `max`
/// characters.
fn printable(text: &str, max: usize) -> String {
    text.chars()
        .take(max)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests;
