//! What the registry declares about a route, as plain `'static` data the generated module builds.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use serde::Serialize;
pub use workerflow_names::{AuthType, ClientAuth, RequestType};

/// One route declared in `connector-registry/services.json`.
///
/// Generated code builds these as statics (see [`DeclaredRoute`]); the runtime only reads them.
#[derive(Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteSpec {
    /// The route id, unique across the registry (`slack_message`).
    pub id: &'static str,
    /// One line saying what the route does.
    pub summary: &'static str,
    /// Whether the caller waits for the output (`sync`) or the call is queued (`async`).
    pub request_type: RequestType,
    /// The service that owns the route.
    pub service: ServiceSpec,
    /// The scheme the contract says the route authenticates with (`auth`); `None` without one.
    /// With [`AuthType::Oauth2`] a call may name a connection (see [`crate::ConnectionStore`]).
    pub auth: Option<AuthType>,
    /// Every requirement must be met before the handler runs (those marked `unless_connection`
    /// only when the call names no connection).
    pub secrets: &'static [SecretRequirement],
    /// The optional, non-secret settings the contract declares (`settings`), resolved after the
    /// secrets and before the handler runs.
    pub settings: &'static [Setting],
    /// The outbound hosts the contract declares (`hosts`); `None` when it declares none, and the
    /// route's requests are then not held to a list.
    pub hosts: Option<&'static [&'static str]>,
    /// The contract's JSON Schema of the unwrapped input, as JSON text; `None` without one.
    pub input_schema: Option<&'static str>,
    /// The contract's JSON Schema of the success output, as JSON text; `None` without one.
    pub output_schema: Option<&'static str>,
}

/// The service that owns a route.
#[derive(Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    /// The registry's stable slug (`slack`).
    pub id: &'static str,
    /// The connector name (`Slack`).
    pub name: &'static str,
    /// How callers authenticate with the service.
    pub auth_type: AuthType,
    /// The best page to start reading the provider's API docs from.
    pub docs_url: Option<&'static str>,
    /// The service's OAuth 2.0 app, when the registry declares one.
    pub oauth2: Option<&'static OAuthApp>,
}

/// A service's OAuth 2.0 app, as the registry's `oauth2` block declares it.
#[derive(Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuthApp {
    /// Where the user approves access.
    pub authorization_url: &'static str,
    /// Where codes and refresh tokens are exchanged for access tokens.
    pub token_url: &'static str,
    /// The RFC 7009 revocation endpoint, when the provider has one.
    pub revocation_url: Option<&'static str>,
    /// The scopes requested.
    pub scopes: &'static [&'static str],
    /// How scopes are joined in the authorization URL.
    pub scope_separator: &'static str,
    /// Whether the flow sends an RFC 7636 S256 code challenge.
    pub pkce: bool,
    /// How the client authenticates at the token endpoint.
    pub client_auth: ClientAuth,
    /// Extra query parameters of the authorization URL.
    pub authorization_params: &'static [(&'static str, &'static str)],
    /// Whether a refresh returns a new refresh token that replaces the old one.
    pub rotates_refresh_tokens: bool,
    /// An access token expiring within this many seconds is refreshed before use.
    pub refresh_buffer_seconds: u32,
    /// The client id, from the environment.
    pub client_id: SecretRequirement,
    /// The client secret, from the environment.
    pub client_secret: SecretRequirement,
}

/// A requirement met by the first of `any_of` that has a non-blank value.
#[derive(Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretRequirement {
    /// What the secret is, for messages (`Slack webhook URL`).
    pub label: &'static str,
    /// The names to look up, in order (`SLACK_WEBHOOK_URL`).
    pub any_of: &'static [&'static str],
    /// Needed only when the call names no OAuth connection: an OAuth route's static fallback.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unless_connection: bool,
}

impl SecretRequirement {
    /// A requirement met by the first of `any_of` with a non-blank value.
    pub const fn new(label: &'static str, any_of: &'static [&'static str]) -> Self {
        SecretRequirement {
            label,
            any_of,
            unless_connection: false,
        }
    }
}

/// One optional setting: an environment-style name, a label for messages, how its value is
/// checked, and the value used when it is unset.
#[derive(PartialEq, Eq, Serialize)]
pub struct Setting {
    /// The name looked up in the secret source (`WORKERFLOW_STRIPE_BASE_URL`).
    pub name: &'static str,
    /// What the setting is, for configuration errors (`Stripe base URL`).
    pub label: &'static str,
    /// How the value is checked before the handler runs.
    pub kind: SettingKind,
    /// The value when the setting is unset or blank.
    pub default: Option<&'static str>,
}

/// How a setting's value is checked before the handler runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SettingKind {
    /// Any text.
    Text,
    /// An absolute `http`/`https` URL with a host and without query or fragment (docs/ROUTES.md
    /// 2.7); anything else is a configuration error naming the label and the setting.
    BaseUrl,
}

impl SettingKind {
    /// The kind's name in JSON output (`workerflow config`, `GET /api/routes`).
    pub const fn as_str(self) -> &'static str {
        match self {
            SettingKind::Text => "text",
            SettingKind::BaseUrl => "base_url",
        }
    }
}

impl Setting {
    /// A free-text setting (`GITHUB_REPO`).
    pub const fn text(name: &'static str, label: &'static str) -> Self {
        Setting {
            name,
            label,
            kind: SettingKind::Text,
            default: None,
        }
    }

    /// A service's base URL with its default (`https://api.stripe.com`).
    pub const fn base_url(name: &'static str, label: &'static str, default: &'static str) -> Self {
        Setting {
            name,
            label,
            kind: SettingKind::BaseUrl,
            default: Some(default),
        }
    }

    /// The same setting with a default value.
    pub const fn with_default(mut self, default: &'static str) -> Self {
        self.default = Some(default);
        self
    }
}

impl fmt::Debug for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Setting")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish()
    }
}

/// A route's spec typed with its marker `R`, the type a handler's context is generic over.
///
/// The generated `registry::routes::<id>` statics have this type, so naming a route in
/// `#[connector(route = …)]` also fixes which secrets the handler may read.
pub struct DeclaredRoute<R> {
    spec: RouteSpec,
    // `fn() -> R` keeps the marker covariant and `Send + Sync` whatever `R` is.
    marker: PhantomData<fn() -> R>,
}

impl<R> DeclaredRoute<R> {
    #[doc(hidden)]
    pub const fn new(spec: RouteSpec) -> Self {
        DeclaredRoute {
            spec,
            marker: PhantomData,
        }
    }

    /// The untyped spec, with the static's own address (the runtime matches routes by address).
    pub const fn spec(&'static self) -> &'static RouteSpec {
        &self.spec
    }
}

impl<R> Deref for DeclaredRoute<R> {
    type Target = RouteSpec;

    fn deref(&self) -> &RouteSpec {
        &self.spec
    }
}

impl<R> fmt::Debug for DeclaredRoute<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.spec.fmt(f)
    }
}

/// Implemented by the generated setting types for the one route that declares them.
///
/// `RouteContext<R>::setting` takes any `S: SettingOf<R>`, so reading a setting the route's
/// contract does not declare is a compile error.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a setting of route `{R}`",
    label = "not declared by this handler's route",
    note = "a handler reads only the settings its route declares in connector-registry/services.json \
            (`runtime.routes[].settings`); use a setting from the module of the handler's own route, \
            or declare it in that route's contract"
)]
pub trait SettingOf<R> {
    /// The setting's position in the route's `settings`.
    #[doc(hidden)]
    const INDEX: usize;
}

/// Implemented by the generated secret types for the one route that declares them.
///
/// `RouteContext<R>::secret` takes any `S: SecretOf<R>`, so reading a secret another route
/// declares is a compile error.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a secret of route `{R}`",
    label = "not declared by this handler's route",
    note = "a handler reads only the secrets its route declares in connector-registry/services.json; \
            use a secret from the module of the handler's own route, or add the requirement to that route"
)]
pub trait SecretOf<R> {
    /// The requirement's position in the route's `secrets`.
    #[doc(hidden)]
    const INDEX: usize;
}
