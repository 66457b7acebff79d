//! OAuth 2.0 connections as the runtime sees them: the name a caller gives
//! ([`ConnectionName`]) and the store that hands out access tokens ([`ConnectionStore`]) for
//! the app a service declares ([`crate::OAuthApp`]). The runtime never holds a database or talks to a token endpoint: a
//! server (`workerflow serve`) implements the store, with its refresh, locks and encryption.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use serde::Serialize;

use crate::route::ServiceSpec;
use crate::secret_value::SecretValue;
use crate::trace_id::TraceId;

/// The name a caller gives a connection: 1 to 64 characters of ASCII letters, digits, `.`, `_`
/// and `-` (it appears in URLs, logs and error messages, so nothing else is accepted).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ConnectionName(Box<str>);

/// Why a connection name was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a connection name must be 1 to 64 characters of ASCII letters, digits, `.`, `_` and `-`")]
pub struct InvalidConnectionName;

impl ConnectionName {
    /// Checks a caller's name.
    pub fn new(name: &str) -> Result<Self, InvalidConnectionName> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if name.is_empty() || name.len() > 64 || !name.chars().all(allowed) {
            return Err(InvalidConnectionName);
        }
        Ok(ConnectionName(name.into()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConnectionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a route asks a [`ConnectionStore`] for.
#[derive(Debug)]
pub struct TokenRequest<'a> {
    /// The service of the calling route; its `oauth2` says how to refresh.
    pub service: &'static ServiceSpec,
    /// The connection the caller named.
    pub connection: &'a ConnectionName,
    /// The calling route, for logs.
    pub route: &'static str,
    /// The call's trace id, for logs.
    pub trace_id: &'a TraceId,
    /// The token the provider just refused with 401: refresh unless the stored token already
    /// differs from it (another call refreshed meanwhile).
    pub rejected: Option<&'a SecretValue>,
}

/// A boxed future, so that [`ConnectionStore`] can be used as a trait object.
pub type TokenFuture<'a> =
    Pin<Box<dyn Future<Output = Result<SecretValue, ConnectionError>> + Send + 'a>>;

/// Where OAuth routes get their access tokens: implemented by a server over its database.
///
/// An implementation returns a token that is valid for at least the service's refresh buffer,
/// refreshing it first when needed; concurrent requests for one connection must lead to one
/// refresh at the provider, whatever the number of processes.
pub trait ConnectionStore: Send + Sync {
    /// A usable access token for `request.connection`.
    fn access_token<'a>(&'a self, request: TokenRequest<'a>) -> TokenFuture<'a>;
}

/// Implemented by the generated marker of every route whose contract says `auth: "oauth2"`, so
/// [`crate::RouteContext::access_token`] compiles only in their handlers.
#[diagnostic::on_unimplemented(
    message = "route `{Self}` does not authenticate with OAuth 2.0",
    label = "its contract's `auth` is not `oauth2`",
    note = "only routes whose contract in connector-registry/services.json says `\"auth\": \"oauth2\"` \
            (on a service with an `oauth2` block) read a connection's access token"
)]
pub trait OAuthRoute {}

/// Why a call could not get its connection's access token. Messages name the connection, never
/// a token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionError {
    /// An OAuth route was called without a connection, and it has no static credential to fall
    /// back to.
    #[error("this route needs an OAuth connection: name one in the call (`connection`)")]
    Missing,
    /// A connection was named on a route that does not use OAuth.
    #[error("connection \"{connection}\" was named, but this route does not use OAuth connections")]
    NotOAuth {
        /// The name given.
        connection: String,
    },
    /// The caller's connection name is not usable.
    #[error("{0}")]
    InvalidName(InvalidConnectionName),
    /// This runtime has no connection store (a server without connection keys, or a test).
    #[error(
        "connection \"{connection}\" cannot be used: this server keeps no OAuth connections (no connection key is configured)"
    )]
    NoStore {
        /// The name given.
        connection: String,
    },
    /// No connection has this name.
    #[error("no OAuth connection is named \"{connection}\"")]
    Unknown {
        /// The name given.
        connection: String,
    },
    /// The connection belongs to another service.
    #[error("connection \"{connection}\" belongs to service \"{service}\", not \"{expected}\"")]
    WrongService {
        /// The name given.
        connection: String,
        /// The connection's service.
        service: String,
        /// The route's service.
        expected: String,
    },
    /// The provider refused the refresh token (`invalid_grant`), or the connection was never
    /// authorized: a person must authorize it again.
    #[error(
        "connection \"{connection}\" needs re-authorization: the provider no longer accepts its refresh token; run the authorization flow again (POST /api/connections)"
    )]
    NeedsReauth {
        /// The connection.
        connection: String,
    },
    /// The connection was revoked.
    #[error(
        "connection \"{connection}\" was revoked; authorize it again to use it (POST /api/connections)"
    )]
    Revoked {
        /// The connection.
        connection: String,
    },
    /// Another call held the connection's refresh lock for too long.
    #[error(
        "connection \"{connection}\" is being refreshed by another call and its lock was not free within {waited_ms} ms; retry"
    )]
    LockTimeout {
        /// The connection.
        connection: String,
        /// How long the call waited.
        waited_ms: u64,
    },
    /// The refresh failed at the provider or on the way there (not `invalid_grant`).
    #[error("connection \"{connection}\" could not be refreshed: {reason}")]
    Refresh {
        /// The connection.
        connection: String,
        /// What went wrong, without any token.
        reason: String,
    },
    /// The connection store failed.
    #[error("connection \"{connection}\" could not be read: the connection store failed: {reason}")]
    Store {
        /// The connection.
        connection: String,
        /// The store's problem.
        reason: String,
    },
}

impl ConnectionError {
    /// The HTTP status a server answers with.
    pub fn status(&self) -> u16 {
        match self {
            ConnectionError::Missing
            | ConnectionError::NotOAuth { .. }
            | ConnectionError::InvalidName(_)
            | ConnectionError::WrongService { .. } => 400,
            ConnectionError::Unknown { .. } => 404,
            ConnectionError::NeedsReauth { .. } | ConnectionError::Revoked { .. } => 409,
            ConnectionError::NoStore { .. } => 500,
            ConnectionError::Refresh { .. } => 502,
            ConnectionError::LockTimeout { .. } | ConnectionError::Store { .. } => 503,
        }
    }

    /// The machine-readable code (`error.code` in a server's error body).
    pub fn code(&self) -> &'static str {
        match self {
            ConnectionError::Missing => "connection_required",
            ConnectionError::NotOAuth { .. } => "connection_not_accepted",
            ConnectionError::InvalidName(_) => "invalid_connection_name",
            ConnectionError::NoStore { .. } => "connections_unavailable",
            ConnectionError::Unknown { .. } => "unknown_connection",
            ConnectionError::WrongService { .. } => "connection_wrong_service",
            ConnectionError::NeedsReauth { .. } => "connection_needs_reauth",
            ConnectionError::Revoked { .. } => "connection_revoked",
            ConnectionError::LockTimeout { .. } => "connection_busy",
            ConnectionError::Refresh { .. } => "connection_refresh_failed",
            ConnectionError::Store { .. } => "store_unavailable",
        }
    }

    /// The connection the error is about, when one was named.
    pub fn connection(&self) -> Option<&str> {
        match self {
            ConnectionError::Missing | ConnectionError::InvalidName(_) => None,
            ConnectionError::NotOAuth { connection }
            | ConnectionError::NoStore { connection }
            | ConnectionError::Unknown { connection }
            | ConnectionError::WrongService { connection, .. }
            | ConnectionError::NeedsReauth { connection }
            | ConnectionError::Revoked { connection }
            | ConnectionError::LockTimeout { connection, .. }
            | ConnectionError::Refresh { connection, .. }
            | ConnectionError::Store { connection, .. } => Some(connection),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(ConnectionName::new("acme-hubspot.prod_1").is_ok());
        assert_eq!(ConnectionName::new(""), Err(InvalidConnectionName));
        assert_eq!(ConnectionName::new("a b"), Err(InvalidConnectionName));
        assert_eq!(ConnectionName::new("a/b"), Err(InvalidConnectionName));
        assert_eq!(ConnectionName::new("é"), Err(InvalidConnectionName));
        assert_eq!(
            ConnectionName::new(&"x".repeat(65)),
            Err(InvalidConnectionName)
        );
        assert!(ConnectionName::new(&"x".repeat(64)).is_ok());
    }

    #[test]
    fn every_error_names_its_connection_and_has_a_code() {
        let error = ConnectionError::NeedsReauth {
            connection: "acme".into(),
        };
        assert_eq!(error.status(), 409);
        assert_eq!(error.code(), "connection_needs_reauth");
        assert!(error.to_string().contains("\"acme\""), "{error}");
        let busy = ConnectionError::LockTimeout {
            connection: "acme".into(),
            waited_ms: 15_000,
        };
        assert_eq!((busy.status(), busy.code()), (503, "connection_busy"));
        let refresh = ConnectionError::Refresh {
            connection: "acme".into(),
            reason: "the token endpoint answered 500".into(),
        };
        assert_ne!(busy.code(), refresh.code());
    }
}
