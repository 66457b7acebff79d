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
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
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

use self::backend::{Backend, LockError, Locked};
use self::rows::{FlowRow, StoredRow, now_secs, rfc3339};
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

struct Inner {
    backend: Arc<Backend>,
    keys: KeyRing,
    http: HttpClient,
    secrets: Arc<dyn SecretSource>,
    services: Vec<&'static ServiceSpec>,
    flights: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
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

    /// Starts an authorization: stores the flow (state hash, encrypted PKCE verifier) and
    /// returns the provider's authorization URL. An existing connection of that name keeps
    /// its tokens until the callback succeeds.
    pub async fn start_flow(
        &self,
        name: &ConnectionName,
        service: &str,
        redirect_uri: &str,
    ) -> Result<FlowStart, ManageError> {
        let inner = &*self.inner;
        let spec = self
            .service(service)
            .ok_or_else(|| ManageError::UnknownService {
                service: service.chars().take(80).collect(),
            })?;
        let app = spec.oauth2.ok_or_else(|| ManageError::UnknownService {
            service: spec.id.to_owned(),
        })?;
        let config = |message: String| ManageError::Config {
            service: spec.id.to_owned(),
            message,
        };
        let endpoints = Endpoints::resolve(spec.id, app, &*inner.secrets)
            .map_err(|message| config(format!("misconfigured: {message}")))?;
        let client = token::Client::resolve(app, &*inner.secrets).map_err(config)?;
        let key = |source| ManageError::Key {
            connection: name.to_string(),
            source,
        };
        let state = crypto::random_token(32).map_err(key)?;
        let verifier = if app.pkce {
            Some(crypto::random_token(32).map_err(key)?)
        } else {
            None
        };
        let now = now_secs();
        let expires_at = now + i64::try_from(FLOW_LIFETIME.as_secs()).unwrap_or(600);
        let pkce_verifier = verifier
            .as_deref()
            .map(|verifier| {
                inner
                    .keys
                    .encrypt(name.as_str(), VERIFIER, verifier.as_bytes())
            })
            .transpose()
            .map_err(key)?;
        let flow = FlowRow {
            state_hash: hash_state(&state),
            connection: name.to_string(),
            service: spec.id.to_owned(),
            key_id: inner.keys.current_id().to_owned(),
            pkce_verifier,
            redirect_uri: redirect_uri.to_owned(),
            created_at: now,
            expires_at,
        };
        inner
            .backend
            .put_flow(flow, now)
            .await
            .map_err(ManageError::Store)?;
        let mut url = endpoints.authorization;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", client.id.expose())
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("scope", &app.scopes.join(app.scope_separator))
                .append_pair("state", &state);
            if let Some(verifier) = &verifier {
                let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
                query
                    .append_pair("code_challenge", &challenge)
                    .append_pair("code_challenge_method", "S256");
            }
            for (param, value) in app.authorization_params {
                query.append_pair(param, value);
            }
        }
        tracing::info!(
            target: "workerflow::connections",
            connection = %name,
            service = spec.id,
            "authorization started"
        );
        Ok(FlowStart {
            connection: name.to_string(),
            service: spec.id.to_owned(),
            authorization_url: url.to_string(),
            expires_at,
        })
    }

    /// Completes a flow from its callback: the state is consumed (whatever follows), the code
    /// exchanged, and the connection written `active` with its new tokens. A failure leaves an
    /// existing connection as it was.
    pub async fn finish_flow(&self, callback: Callback) -> Result<ConnectionInfo, CallbackError> {
        let inner = &*self.inner;
        let state = callback
            .state
            .as_deref()
            .filter(|state| !state.is_empty() && state.len() <= 512)
            .ok_or(CallbackError::UnknownState)?;
        let flow = inner
            .backend
            .take_flow(&hash_state(state))
            .await
            .map_err(ManageError::Store)?
            .ok_or(CallbackError::UnknownState)?;
        let connection = flow.connection.clone();
        if let Some(error) = callback.error {
            tracing::warn!(
                target: "workerflow::connections",
                connection = %connection,
                "authorization refused by the provider"
            );
            return Err(CallbackError::Denied {
                error: printable(&error, 100),
                description: callback
                    .error_description
                    .map(|description| printable(&description, 300)),
            });
        }
        if flow.expires_at < now_secs() {
            return Err(CallbackError::Expired { connection });
        }
        let code = callback
            .code
            .filter(|code| !code.is_empty())
            .ok_or_else(|| CallbackError::MissingCode {
                connection: connection.clone(),
            })?;
        let spec = self
            .service(&flow.service)
            .ok_or_else(|| ManageError::UnknownService {
                service: flow.service.clone(),
            })?;
        let app = spec.oauth2.ok_or_else(|| ManageError::UnknownService {
            service: flow.service.clone(),
        })?;
        let config = |message: String| ManageError::Config {
            service: spec.id.to_owned(),
            message,
        };
        let endpoints = Endpoints::resolve(spec.id, app, &*inner.secrets)
            .map_err(|message| config(format!("misconfigured: {message}")))?;
        let client = token::Client::resolve(app, &*inner.secrets).map_err(config)?;
        let verifier = flow
            .pkce_verifier
            .as_deref()
            .map(|stored| {
                inner
                    .keys
                    .decrypt(&flow.key_id, &connection, VERIFIER, stored)
                    .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            })
            .transpose()
            .map_err(|source| ManageError::Key {
                connection: connection.clone(),
                source,
            })?;
        let mut grant = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", flow.redirect_uri.as_str()),
        ];
        if let Some(verifier) = &verifier {
            grant.push(("code_verifier", verifier.as_str()));
        }
        let trace = TraceId::generate();
        let tokens = token::request_tokens(
            &inner.http,
            &endpoints.token,
            &client,
            &grant,
            trace.as_str(),
        )
        .await
        .map_err(|error| CallbackError::Exchange {
            connection: connection.clone(),
            reason: match error {
                TokenError::InvalidGrant => {
                    "the token endpoint refused the code (invalid_grant)".to_owned()
                }
                TokenError::Failed(reason) => reason,
            },
        })?;
        let _flight = self.lock_flight(&connection).await?;
        let locked = self.lock_row(&connection).await?;
        let now = now_secs();
        let previous = locked.row().cloned();
        let row = self
            .sealed_row(
                &connection,
                spec.id,
                &tokens.access_token,
                tokens.refresh_token.as_ref(),
                StoredRow {
                    name: connection.clone(),
                    service: spec.id.to_owned(),
                    state: ConnectionState::Active.as_str().to_owned(),
                    key_id: String::new(),
                    access_token: None,
                    refresh_token: None,
                    expires_at: expiry(now, &tokens),
                    scopes: scopes_json(tokens.scope.as_deref(), app),
                    created_at: previous.as_ref().map_or(now, |row| row.created_at),
                    updated_at: now,
                    refreshed_at: None,
                    refresh_count: 0,
                },
            )
            .map_err(ManageError::from)?;
        let info = ConnectionInfo::of(&row);
        locked.write(row).await.map_err(ManageError::Store)?;
        tracing::info!(
            target: "workerflow::connections",
            connection = %connection,
            service = spec.id,
            reauthorized = previous.is_some(),
            "connection authorized"
        );
        Ok(info)
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
    async fn lock_flight(
        &self,
        name: &str,
    ) -> Result<tokio::sync::OwnedMutexGuard<()>, ManageError> {
        let flight = {
            let mut flights = self
                .inner
                .flights
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            Arc::clone(flights.entry(name.to_owned()).or_default())
        };
        let wait = self.inner.lock_wait;
        tokio::time::timeout(wait, flight.lock_owned())
            .await
            .map_err(|_| ManageError::Busy {
                connection: name.to_owned(),
                waited_ms: millis(wait),
            })
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
        _service: &str,
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

    /// The refresh protocol of the module docs, for one call.
    async fn access_token_for(
        &self,
        service: &'static ServiceSpec,
        name: String,
        route: &'static str,
        trace_id: String,
        rejected: Option<SecretValue>,
    ) -> Result<SecretValue, ConnectionError> {
        let inner = &*self.inner;
        let app = service.oauth2.ok_or_else(|| ConnectionError::NotOAuth {
            connection: name.clone(),
        })?;
        let store = |reason: String| ConnectionError::Store {
            connection: name.clone(),
            reason,
        };
        let row = inner
            .backend
            .get(&name)
            .await
            .map_err(|error| store(error.to_string()))?;
        let token = self.usable_token(row.as_ref(), service, app, &name, rejected.as_ref())?;
        if let Some(token) = token {
            return Ok(token);
        }
        // One refresh per connection in this process; the others wait, then read its result.
        let started = Instant::now();
        let deadline = started + inner.lock_wait;
        let busy = || ConnectionError::LockTimeout {
            connection: name.clone(),
            waited_ms: millis(started.elapsed()),
        };
        let flight = {
            let mut flights = inner
                .flights
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            Arc::clone(flights.entry(name.clone()).or_default())
        };
        let _flight = timeout_at(deadline, flight.lock_owned())
            .await
            .map_err(|_| busy())?;
        // The call this one waited for may have refreshed already: no transaction needed.
        let row = inner
            .backend
            .get(&name)
            .await
            .map_err(|error| store(error.to_string()))?;
        if let Some(token) =
            self.usable_token(row.as_ref(), service, app, &name, rejected.as_ref())?
        {
            return Ok(token);
        }
        let wait = deadline.saturating_duration_since(Instant::now());
        let locked = match inner.backend.lock(&name, wait).await {
            Ok(locked) => locked,
            Err(LockError::Timeout) => return Err(busy()),
            Err(LockError::Store(error)) => return Err(store(error.to_string())),
        };
        let row = locked.row().cloned();
        let token = match self.usable_token(row.as_ref(), service, app, &name, rejected.as_ref()) {
            Ok(token) => token,
            Err(error) => {
                locked.release().await;
                return Err(error);
            }
        };
        if let Some(token) = token {
            // Someone refreshed while this call waited.
            locked.release().await;
            return Ok(token);
        }
        let Some(row) = row else {
            locked.release().await;
            return Err(ConnectionError::Unknown { connection: name });
        };
        let refresh = match row
            .refresh_token
            .as_deref()
            .map(|stored| inner.keys.decrypt(&row.key_id, &name, REFRESH, stored))
            .transpose()
        {
            Ok(refresh) => refresh,
            Err(error) => {
                locked.release().await;
                return Err(store(error.to_string()));
            }
        };
        let Some(refresh) = refresh.map(|bytes| SecretValue::new(String::from_utf8_lossy(&bytes)))
        else {
            // Nothing to refresh with: only a new authorization helps.
            let now = now_secs();
            let marked = StoredRow {
                state: ConnectionState::NeedsReauth.as_str().to_owned(),
                updated_at: now,
                ..row
            };
            locked
                .write(marked)
                .await
                .map_err(|error| store(error.to_string()))?;
            return Err(ConnectionError::NeedsReauth { connection: name });
        };
        let failed = |reason: String| ConnectionError::Refresh {
            connection: name.clone(),
            reason,
        };
        let endpoints = match Endpoints::resolve(service.id, app, &*inner.secrets) {
            Ok(endpoints) => endpoints,
            Err(reason) => {
                locked.release().await;
                return Err(failed(reason));
            }
        };
        let client = match token::Client::resolve(app, &*inner.secrets) {
            Ok(client) => client,
            Err(reason) => {
                locked.release().await;
                return Err(failed(format!(
                    "the OAuth client of {} is {reason}",
                    service.id
                )));
            }
        };
        let grant = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.expose()),
        ];
        let answer =
            token::request_tokens(&inner.http, &endpoints.token, &client, &grant, &trace_id).await;
        let now = now_secs();
        match answer {
            Ok(tokens) => {
                let kept = tokens.refresh_token.as_ref().unwrap_or(&refresh);
                let template = StoredRow {
                    state: ConnectionState::Active.as_str().to_owned(),
                    expires_at: expiry(now, &tokens),
                    scopes: match tokens.scope.as_deref() {
                        Some(scope) => scopes_json(Some(scope), app),
                        None => row.scopes.clone(),
                    },
                    updated_at: now,
                    refreshed_at: Some(now),
                    refresh_count: row.refresh_count.saturating_add(1),
                    ..row
                };
                let sealed = match self.sealed_row(
                    &name,
                    service.id,
                    &tokens.access_token,
                    Some(kept),
                    template,
                ) {
                    Ok(sealed) => sealed,
                    Err((_, error)) => {
                        locked.release().await;
                        return Err(store(error.to_string()));
                    }
                };
                locked
                    .write(sealed)
                    .await
                    .map_err(|error| store(error.to_string()))?;
                tracing::info!(
                    target: "workerflow::connections",
                    connection = %name,
                    route,
                    trace_id = %trace_id,
                    rotated = tokens.refresh_token.is_some(),
                    "access token refreshed"
                );
                Ok(tokens.access_token)
            }
            Err(TokenError::InvalidGrant) => {
                let marked = StoredRow {
                    state: ConnectionState::NeedsReauth.as_str().to_owned(),
                    updated_at: now,
                    ..row
                };
                locked
                    .write(marked)
                    .await
                    .map_err(|error| store(error.to_string()))?;
                tracing::warn!(
                    target: "workerflow::connections",
                    connection = %name,
                    route,
                    trace_id = %trace_id,
                    "the provider refused the refresh token (invalid_grant): connection needs re-authorization"
                );
                Err(ConnectionError::NeedsReauth { connection: name })
            }
            Err(TokenError::Failed(reason)) => {
                locked.release().await;
                tracing::warn!(
                    target: "workerflow::connections",
                    connection = %name,
                    route,
                    trace_id = %trace_id,
                    reason = %reason,
                    "access token refresh failed"
                );
                Err(failed(reason))
            }
        }
    }

    /// `Some(token)` when the row's token may be used as it is, `None` when it must be
    /// refreshed, or the error that no refresh can mend.
    fn usable_token(
        &self,
        row: Option<&StoredRow>,
        service: &'static ServiceSpec,
        app: &OAuthApp,
        name: &str,
        rejected: Option<&SecretValue>,
    ) -> Result<Option<SecretValue>, ConnectionError> {
        let Some(row) = row else {
            return Err(ConnectionError::Unknown {
                connection: name.to_owned(),
            });
        };
        if row.service != service.id {
            return Err(ConnectionError::WrongService {
                connection: name.to_owned(),
                service: row.service.clone(),
                expected: service.id.to_owned(),
            });
        }
        match ConnectionState::parse(&row.state) {
            Some(ConnectionState::Active) => {}
            Some(ConnectionState::NeedsReauth) => {
                return Err(ConnectionError::NeedsReauth {
                    connection: name.to_owned(),
                });
            }
            Some(ConnectionState::Revoked) => {
                return Err(ConnectionError::Revoked {
                    connection: name.to_owned(),
                });
            }
            None => {
                return Err(ConnectionError::Store {
                    connection: name.to_owned(),
                    reason: format!(
                        "the stored state {:?} is not one this server writes",
                        row.state.chars().take(32).collect::<String>()
                    ),
                });
            }
        }
        let Some(stored) = row.access_token.as_deref() else {
            return Ok(None);
        };
        let plain = self
            .inner
            .keys
            .decrypt(&row.key_id, name, ACCESS, stored)
            .map_err(|error| ConnectionError::Store {
                connection: name.to_owned(),
                reason: error.to_string(),
            })?;
        let was_rejected =
            rejected.is_some_and(|rejected| bool::from(rejected.expose().as_bytes().ct_eq(&plain)));
        let buffer = i64::from(app.refresh_buffer_seconds);
        let fresh = row
            .expires_at
            .is_none_or(|expires_at| expires_at > now_secs().saturating_add(buffer));
        if fresh && !was_rejected {
            Ok(Some(SecretValue::new(String::from_utf8_lossy(&plain))))
        } else {
            Ok(None)
        }
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

impl ConnectionStore for Connections {
    fn access_token<'a>(&'a self, request: TokenRequest<'a>) -> TokenFuture<'a> {
        let this = self.clone();
        let service = request.service;
        let name = request.connection.to_string();
        let route = request.route;
        let trace_id = request.trace_id.to_string();
        let rejected = request.rejected.cloned();
        Box::pin(async move {
            let connection = name.clone();
            let work = async move {
                this.access_token_for(service, name, route, trace_id, rejected)
                    .await
            };
            // Its own task: a caller that goes away mid-refresh cannot leave a rotated
            // refresh token unwritten. (Outside a tokio runtime, inline.)
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => runtime.spawn(work).await.unwrap_or_else(|_| {
                    Err(ConnectionError::Store {
                        connection,
                        reason: "the refresh task stopped".to_owned(),
                    })
                }),
                Err(_) => work.await,
            }
        })
    }
}

#[cfg(test)]
mod tests;
