//! What a handler receives besides its input: its route, the call's trace id, its secrets.

use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};

use ref_cast::{RefCastCustom, ref_cast_custom};

use crate::connection::{
    ConnectionError, ConnectionName, ConnectionStore, OAuthRoute, TokenRequest,
};
use crate::error::ConnectorError;
#[cfg(feature = "http")]
use crate::http::{HttpClient, HttpFailure, HttpResponse, OutboundRequest, Redactor};
use crate::route::AuthType;
#[cfg(feature = "http")]
use crate::route::SettingKind;
use crate::route::{DeclaredRoute, RouteSpec, SecretOf, Setting, SettingOf};
use crate::secret_value::SecretValue;
use crate::secrets::{Secret, SecretSource, resolve_route};
use crate::settings::{ResolvedSetting, resolve_settings};
use crate::trace_id::TraceId;

/// The context of one call of a route's handler. `R` is the route's marker type
/// (`registry::routes::slack_message::Route`): it decides which secrets [`RouteContext::secret`]
/// accepts.
// `repr(transparent)` over `CallEnv` (checked by `ref-cast`), so a `&CallEnv` is lent as a
// `&RouteContext<R>` (`from_env`) instead of building one context per route type. The custom
// derive keeps the cast private to this crate.
#[derive(RefCastCustom)]
#[repr(transparent)]
pub struct RouteContext<R> {
    call: CallEnv,
    marker: PhantomData<fn() -> R>,
}

/// Everything a call has besides its payload: resolved before the handler runs. Public only
/// for generated code (`__private`), with no public fields or methods.
pub struct CallEnv {
    pub(crate) route: &'static RouteSpec,
    pub(crate) trace_id: TraceId,
    pub(crate) secrets: Vec<Secret>,
    pub(crate) settings: Vec<ResolvedSetting>,
    /// The OAuth connection the caller named, checked against the route's `auth`.
    pub(crate) connection: Option<ConnectionName>,
    pub(crate) connections: Option<Arc<dyn ConnectionStore>>,
    /// The access tokens this call was handed, so [`RouteContext::redactor`] hides them too.
    pub(crate) tokens: std::sync::Mutex<Vec<SecretValue>>,
    #[cfg(feature = "http")]
    pub(crate) http: Option<HttpClient>,
}

impl CallEnv {
    /// Checks the connection against the route's `auth`, then resolves the route's secrets,
    /// then its settings (docs/ROUTES.md 1.1 steps 1 and 2): a missing credential fails before
    /// any setting is looked at.
    pub(crate) fn resolve(
        route: &'static RouteSpec,
        trace_id: TraceId,
        source: &dyn SecretSource,
        connection: Option<ConnectionName>,
    ) -> Result<CallEnv, ConnectorError> {
        let connection_error = |error| ConnectorError::Connection {
            route: route.id,
            error,
        };
        let oauth = route.auth == Some(AuthType::Oauth2);
        match &connection {
            Some(name) if !oauth => {
                return Err(connection_error(ConnectionError::NotOAuth {
                    connection: name.to_string(),
                }));
            }
            // Without a fallback credential, an OAuth route has nothing to call with.
            None if oauth && !route.secrets.iter().any(|s| s.unless_connection) => {
                return Err(connection_error(ConnectionError::Missing));
            }
            _ => {}
        }
        let config = |problems| ConnectorError::Config {
            route: route.id,
            problems,
        };
        let secrets = resolve_route(route, source, connection.is_some()).map_err(config)?;
        let settings = resolve_settings(route.settings, source).map_err(config)?;
        Ok(CallEnv {
            route,
            trace_id,
            secrets,
            settings,
            connection,
            connections: None,
            tokens: std::sync::Mutex::new(Vec::new()),
            #[cfg(feature = "http")]
            http: None,
        })
    }

    /// What the operator pointed the call at, for the egress check (POLICY.md 2.8): every
    /// secret's value (only URL-valued ones count there) and the base-URL settings that are set.
    #[cfg(feature = "http")]
    fn configured_values(&self) -> impl Iterator<Item = &str> {
        let base_urls = self
            .settings
            .iter()
            .filter(|setting| setting.kind == SettingKind::BaseUrl)
            .filter_map(|setting| setting.value.as_deref());
        self.secrets.iter().map(Secret::expose).chain(base_urls)
    }
}

impl<R> RouteContext<R> {
    pub(crate) fn new(call: CallEnv) -> Self {
        RouteContext {
            call,
            marker: PhantomData,
        }
    }

    /// A context for calling a handler directly (in tests, or from code that does its own
    /// routing): resolves the route's secrets and the settings its linked handler declares from
    /// `secrets` exactly as dispatch does, and fails with the same configuration error. HTTP goes
    /// through the shared default client unless [`RouteContext::with_http`] sets another.
    pub fn resolve(
        route: &'static DeclaredRoute<R>,
        trace_id: TraceId,
        secrets: &dyn SecretSource,
    ) -> Result<Self, ConnectorError> {
        let spec = route.spec();
        #[cfg_attr(not(feature = "reqwest"), allow(unused_mut))]
        let mut call = CallEnv::resolve(spec, trace_id, secrets, None)?;
        #[cfg(feature = "reqwest")]
        {
            call.http = HttpClient::shared();
        }
        Ok(RouteContext::new(call))
    }

    /// [`RouteContext::resolve`] for a call through OAuth connection `connection`, whose
    /// tokens come from `store`: checked against the route's `auth`, and the requirements marked
    /// `unlessConnection` are not read, as dispatch does for a caller's connection.
    pub fn resolve_with_connection(
        route: &'static DeclaredRoute<R>,
        trace_id: TraceId,
        secrets: &dyn SecretSource,
        connection: ConnectionName,
        store: Arc<dyn ConnectionStore>,
    ) -> Result<Self, ConnectorError> {
        #[cfg_attr(not(feature = "reqwest"), allow(unused_mut))]
        let mut call = CallEnv::resolve(route.spec(), trace_id, secrets, Some(connection))?;
        call.connections = Some(store);
        #[cfg(feature = "reqwest")]
        {
            call.http = HttpClient::shared();
        }
        Ok(RouteContext::new(call))
    }

    /// The same context sending its requests through `client` (a test policy, say).
    #[cfg(feature = "http")]
    pub fn with_http(mut self, client: HttpClient) -> Self {
        self.call.http = Some(client);
        self
    }

    /// The route being called, as the registry declares it.
    pub fn route(&self) -> &'static RouteSpec {
        self.call.route
    }

    /// The route id, for error messages (`slack_message`).
    pub fn route_id(&self) -> &'static str {
        self.call.route.id
    }

    /// The trace id of this call.
    pub fn trace_id(&self) -> &TraceId {
        &self.call.trace_id
    }

    /// An optional setting the route's contract declares (`ctx.setting(github_issue_create::GITHUB_REPO)`):
    /// its trimmed value, else its default. Dispatch already checked it (a bad base URL fails the
    /// call before the handler runs). Only the route's own setting types compile.
    pub fn setting<S: SettingOf<R>>(&self, _setting: S) -> Option<&str> {
        setting_at(&self.call, S::INDEX)
    }

    /// The declaration of a setting of this route (name, label, kind, default), for messages.
    pub fn declared_setting<S: SettingOf<R>>(&self, _setting: S) -> Option<&'static Setting> {
        self.call.route.settings.get(S::INDEX)
    }

    /// Redacts every secret value of this call and every access token it was handed; add a
    /// webhook with [`Redactor::webhook`].
    #[cfg(feature = "http")]
    pub fn redactor(&self) -> Redactor {
        let redactor = self
            .call
            .secrets
            .iter()
            .fold(Redactor::new(), |redactor, secret| {
                redactor.secret(secret.expose())
            });
        match self.call.tokens.lock() {
            Ok(tokens) => tokens
                .iter()
                .fold(redactor, |redactor, token| redactor.secret(token.expose())),
            Err(_) => redactor,
        }
    }

    /// Sends a request under the client's policy (runtime/src/http/POLICY.md section 2); log records carry
    /// this call's route and trace id.
    ///
    /// A request to a host the route may not reach (POLICY.md 2.8) fails before anything is
    /// sent; its error is a configuration error with an `egress_denied` problem.
    #[cfg(feature = "http")]
    pub async fn send(&self, request: &OutboundRequest) -> Result<HttpResponse, HttpFailure> {
        let reach = crate::http::egress::check_call(
            self.call.route,
            self.trace_id().as_str(),
            self.call.configured_values(),
            request,
        )?;
        match &self.call.http {
            Some(client) => {
                client
                    .send_reaching(request, self.route_id(), self.trace_id().as_str(), reach)
                    .await
            }
            None => Err(HttpFailure::unavailable(request)),
        }
    }

    /// The OAuth connection the caller named, if any. A route whose contract says `oauth2` and
    /// declares a fallback secret (`unlessConnection`) reads that secret only when this is `None`.
    pub fn connection(&self) -> Option<&ConnectionName> {
        self.call.connection.as_ref()
    }

    /// The access token of the caller's connection, fresh for at least the service's refresh
    /// buffer (the connection store refreshes it first when needed). Only handlers of routes whose
    /// contract says `auth: "oauth2"` compile this.
    ///
    /// Prefer [`RouteContext::send_with_access_token`], which also retries once after a 401.
    pub async fn access_token(&self) -> Result<SecretValue, ConnectorError>
    where
        R: OAuthRoute,
    {
        token_of(&self.call, None).await
    }

    /// Sends `request` with `Authorization: Bearer <the connection's access token>`. When the
    /// provider answers 401 to a token the store thought valid, the store refreshes it once
    /// (unless another call already did) and the request is sent once more.
    #[cfg(feature = "http")]
    pub async fn send_with_access_token(
        &self,
        request: &OutboundRequest,
    ) -> Result<HttpResponse, AuthorizedSendError>
    where
        R: OAuthRoute,
    {
        let route = self.route_id();
        let connection = self.connection();
        let token = token_of(&self.call, None)
            .await
            .map_err(AuthorizedSendError::Connection)?;
        let first = self
            .send(&bearer(route, request, connection, &token)?)
            .await;
        match first {
            Err(failure) if failure.status() == Some(http::StatusCode::UNAUTHORIZED) => {
                let fresh = token_of(&self.call, Some(&token))
                    .await
                    .map_err(AuthorizedSendError::Connection)?;
                self.send(&bearer(route, request, connection, &fresh)?)
                    .await
                    .map_err(AuthorizedSendError::Http)
            }
            other => other.map_err(AuthorizedSendError::Http),
        }
    }

    /// A secret the route declares, already resolved (dispatch fails before the handler runs when
    /// one is missing). Only the route's own secret types compile here. A requirement marked
    /// `unlessConnection` is empty when the call names a connection ([`RouteContext::connection`]).
    pub fn secret<S: SecretOf<R>>(&self, _requirement: S) -> &Secret {
        // The generic part is this one call: every route and secret type instantiates it, so
        // the work lives in a function compiled once.
        secret_at(&self.call, S::INDEX)
    }

    /// The context of a call, borrowed from its environment.
    #[ref_cast_custom]
    pub(crate) fn from_env(env: &CallEnv) -> &Self;
}

/// The connection's token from the store; `rejected` is a token the provider refused.
async fn token_of(
    call: &CallEnv,
    rejected: Option<&SecretValue>,
) -> Result<SecretValue, ConnectorError> {
    let error = |error| ConnectorError::Connection {
        route: call.route.id,
        error,
    };
    let Some(connection) = &call.connection else {
        return Err(error(ConnectionError::Missing));
    };
    let Some(store) = &call.connections else {
        return Err(error(ConnectionError::NoStore {
            connection: connection.to_string(),
        }));
    };
    // A call's later requests reuse the token its first one got: the store handed it out fresh
    // for at least the refresh buffer, far longer than one call lasts, unless it was refused.
    if rejected.is_none()
        && let Some(token) = call
            .tokens
            .lock()
            .ok()
            .and_then(|tokens| tokens.last().cloned())
    {
        return Ok(token);
    }
    let token = store
        .access_token(TokenRequest {
            service: &call.route.service,
            connection,
            route: call.route.id,
            trace_id: &call.trace_id,
            rejected,
        })
        .await
        .map_err(error)?;
    if let Ok(mut tokens) = call.tokens.lock() {
        tokens.push(token.clone());
    }
    Ok(token)
}

/// Why [`RouteContext::send_with_access_token`] failed: no token, or the request's own failure.
#[cfg(feature = "http")]
#[derive(Debug)]
pub enum AuthorizedSendError {
    /// The connection gave no token (unknown, needing re-authorization, busy, …).
    Connection(ConnectorError),
    /// The request failed as [`RouteContext::send`] fails.
    Http(HttpFailure),
}

/// `request` with its `Authorization` set to the bearer token.
#[cfg(feature = "http")]
fn bearer(
    route: &'static str,
    request: &OutboundRequest,
    connection: Option<&ConnectionName>,
    token: &SecretValue,
) -> Result<OutboundRequest, AuthorizedSendError> {
    let value = crate::http::header::HeaderValue::from_str(&format!("Bearer {}", token.expose()))
        .map_err(|_| {
        AuthorizedSendError::Connection(ConnectorError::Connection {
            route,
            error: ConnectionError::Refresh {
                connection: connection.map(ToString::to_string).unwrap_or_default(),
                reason: "the provider issued an access token that is not a valid header value"
                    .into(),
            },
        })
    })?;
    Ok(request.with_header(crate::http::header::AUTHORIZATION, value))
}

/// Generated `SettingOf` impls index the route's settings, which dispatch resolved in the same
/// order; a hand-written impl that misses reads as unset.
fn setting_at(call: &CallEnv, index: usize) -> Option<&str> {
    call.settings
        .get(index)
        .and_then(|resolved| resolved.value.as_deref())
        .or_else(|| {
            call.route
                .settings
                .get(index)
                .and_then(|setting| setting.default)
        })
}

/// Generated `SecretOf` impls index the route's requirements, which dispatch resolved in the
/// same order; only a hand-written impl could miss, and it gets an empty value.
fn secret_at(call: &CallEnv, index: usize) -> &Secret {
    match call.secrets.get(index) {
        Some(secret) => secret,
        None => empty_secret(),
    }
}

fn empty_secret() -> &'static Secret {
    static EMPTY: OnceLock<Secret> = OnceLock::new();
    EMPTY.get_or_init(|| Secret::new("", "", SecretValue::new("")))
}

impl<R> fmt::Debug for RouteContext<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouteContext")
            .field("route", &self.call.route.id)
            .field("trace_id", &self.call.trace_id)
            .field("secrets", &self.call.secrets)
            .field("settings", &self.call.settings)
            .finish()
    }
}
