//! The typed registry: the one model every crate of the workspace uses.
//!
//! Built only from a registry that passed the schema and the rules, so its invariants hold:
//! ids, route ids and non-null ranks are unique, URLs are https, secret names are env-style.

use serde::{Deserialize, Serialize};

pub use workerflow_names::{AuthType, ClientAuth, RequestType};

/// A validated `services.json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Registry {
    /// The registry's name (top-level `name`); see [`Registry::display_name`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Format version of the registry.
    pub version: u64,
    /// Date of the last content change, YYYY-MM-DD.
    pub updated_at: String,
    /// Free text (Markdown) about the registry as a whole.
    pub notes: Option<String>,
    /// The services, ranked ones first.
    pub services: Vec<Service>,
    /// Acknowledged changes (top-level `changes`; see `workerflow-registry diff`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<ChangeNote>,
}

/// One entry of the top-level `changes` list: a change `diff` reported, acknowledged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeNote {
    /// The change's code, such as `WF401`.
    pub code: String,
    /// What changed, as `diff` prints it: a service id, a route id, `ROUTE:LABEL`, `ROUTE:NAME`,
    /// `ROUTE.input.FIELD`, `SERVICE:SCOPE` or `SERVICE.oauth2.tokenUrl`.
    pub subject: String,
    /// Why the change was made.
    pub reason: String,
    /// What callers and deployments do to keep working.
    pub migration: String,
}

/// One service of the catalogue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Service {
    /// The stable slug: the registry's `id`, or one derived from `connector_name`.
    #[serde(default)]
    pub id: String,
    /// Position in the ranked research set (1 = most requested); null for runtime-only services.
    pub rank: Option<u32>,
    /// Name of the connector as users know it.
    pub connector_name: String,
    /// Company or project that publishes the API.
    pub official_vendor_name: Option<String>,
    /// Official API documentation.
    pub official_api_docs_url: Option<String>,
    /// The best page to start reading from.
    pub best_base_link: Option<String>,
    /// How good bestBaseLink is as a starting point, 0 to 100.
    pub best_base_link_score: Option<u8>,
    /// Why bestBaseLink was chosen (Markdown).
    pub best_base_link_reason: Option<String>,
    /// How callers authenticate.
    pub auth_type: AuthType,
    /// Authentication documentation.
    pub auth_docs_url: Option<String>,
    /// Webhook documentation.
    pub webhook_docs_url: Option<String>,
    /// Rate-limit documentation.
    pub rate_limit_docs_url: Option<String>,
    /// Machine-readable OpenAPI description.
    pub openapi_url: Option<String>,
    /// Official SDK.
    pub official_sdk_url: Option<String>,
    /// API changelog.
    pub changelog_url: Option<String>,
    /// Whether reading the docs needs an account.
    pub docs_requires_login: DocsRequiresLogin,
    /// Confidence in the links and facts above.
    pub confidence: Confidence,
    /// Free text (Markdown) about the service.
    pub notes: Option<String>,
    /// Pages the facts above were taken from.
    pub sources: Vec<String>,
    /// The service's OAuth 2.0 app, for connections `workerflow serve` authorizes and refreshes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<OAuth2>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The executable side: routes a `#[connector]` handler implements.
    pub runtime: Option<ServiceRuntime>,
}

/// A service's OAuth 2.0 app (RFC 6749 authorization code grant).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OAuth2 {
    /// Where the user approves access.
    pub authorization_url: String,
    /// Where codes and refresh tokens are exchanged for access tokens.
    pub token_url: String,
    /// RFC 7009 token revocation endpoint, called when a connection is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_url: Option<String>,
    /// The scopes requested, each once.
    pub scopes: Vec<String>,
    /// How scopes are joined in the authorization URL (default one space).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_separator: Option<String>,
    /// Whether the flow sends an RFC 7636 S256 code challenge.
    pub pkce: bool,
    /// How the client authenticates at the token endpoint.
    pub client_auth: ClientAuth,
    /// Extra query parameters of the authorization URL, in the registry's order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_params: Option<serde_json::Map<String, serde_json::Value>>,
    /// Whether a refresh returns a new refresh token that replaces the old one.
    pub rotates_refresh_tokens: bool,
    /// Refresh an access token that expires within this many seconds (default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_buffer_seconds: Option<u32>,
    /// The OAuth client id, from the environment.
    pub client_id: SecretRequirement,
    /// The OAuth client secret, from the environment.
    pub client_secret: SecretRequirement,
    /// Pages of the provider's documentation the block was taken from.
    pub sources: Vec<String>,
}

impl OAuth2 {
    /// The default of `refreshBufferSeconds`.
    pub const DEFAULT_REFRESH_BUFFER_SECONDS: u32 = 300;

    /// The scope separator, one space unless the registry says otherwise.
    pub fn scope_separator(&self) -> &str {
        self.scope_separator.as_deref().unwrap_or(" ")
    }

    /// The refresh buffer in seconds, its default when the registry says none.
    pub fn refresh_buffer_seconds(&self) -> u32 {
        self.refresh_buffer_seconds
            .unwrap_or(Self::DEFAULT_REFRESH_BUFFER_SECONDS)
    }
}

/// The executable side of a service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceRuntime {
    /// The service's routes.
    pub routes: Vec<Route>,
}

/// A route: one operation a `#[connector]` handler implements.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Route {
    /// Route id, unique across the registry.
    pub id: String,
    /// One line saying what the route does.
    pub summary: String,
    /// sync: the caller waits for the output; async: the call is queued.
    pub request_type: RequestType,
    /// Contract: the scheme this route authenticates with (never `mixed` or `unknown`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthType>,
    /// Contract: the provider's page for the operation this route calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docs_url: Option<String>,
    /// Secret requirements; all must be met.
    pub secrets: Vec<SecretRequirement>,
    /// Contract: the optional, non-secret settings the route reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<Vec<RouteSetting>>,
    /// Contract: the outbound hosts reached by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Vec<String>>,
    /// Contract: JSON Schema of the unwrapped input object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<serde_json::Value>,
    /// Contract: JSON Schema of the success output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<serde_json::Value>,
    /// Contract: the error classes the route answers with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<RouteError>>,
    /// Contract: named calls with their outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub examples: Option<Vec<Example>>,
}

impl Route {
    /// The environment names a call that names no OAuth connection falls back to: those of the
    /// requirements marked `unlessConnection`, in order (empty: the route needs a connection).
    pub fn connection_fallback(&self) -> Vec<&str> {
        self.secrets
            .iter()
            .filter(|s| s.unless_connection)
            .flat_map(|s| s.any_of.iter().map(String::as_str))
            .collect()
    }

    /// Whether the route declares any part of a contract.
    pub fn has_contract(&self) -> bool {
        self.auth.is_some()
            || self.docs_url.is_some()
            || self.settings.is_some()
            || self.hosts.is_some()
            || self.input.is_some()
            || self.output.is_some()
            || self.errors.is_some()
            || self.examples.is_some()
    }
}

/// One optional setting a route reads (`workerflow_runtime::Setting` in connector code; the
/// harness ties the two).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouteSetting {
    /// The environment name.
    pub name: String,
    /// What the setting is, for messages.
    pub label: String,
    /// text: any text; base_url: an absolute http(s) URL with a host and no query or fragment.
    pub kind: SettingKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The value used when the setting is unset or blank.
    pub default: Option<String>,
}

/// How a setting's value is checked (`workerflow_runtime::SettingKind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SettingKind {
    /// Any text.
    Text,
    /// An absolute http(s) URL with a host and no query or fragment.
    BaseUrl,
}

impl SettingKind {
    /// The kind as the registry writes it (`text`, `base_url`).
    pub fn as_str(self) -> &'static str {
        match self {
            SettingKind::Text => "text",
            SettingKind::BaseUrl => "base_url",
        }
    }
}

/// The error classes of ROUTES.md 1.7, as serialized in error bodies (`error.code`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// The input does not match the route's contract.
    InvalidInput,
    /// A secret or setting is missing or invalid.
    Config,
    /// The provider answered with a non-2xx status.
    Provider,
    /// The provider could not be reached, or timed out.
    Gateway,
    /// The call's OAuth connection is unusable: unknown, needing re-authorization, revoked,
    /// busy, or its refresh failed.
    Connection,
}

impl ErrorClass {
    /// The class as error bodies write it (`invalid_input`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::InvalidInput => "invalid_input",
            ErrorClass::Config => "config",
            ErrorClass::Provider => "provider",
            ErrorClass::Gateway => "gateway",
            ErrorClass::Connection => "connection",
        }
    }
}

/// One error class of a route's contract.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouteError {
    /// The error class (ROUTES.md 1.7).
    pub class: ErrorClass,
    /// OpenAPI response keys: `400`, `4XX`.
    pub status: Vec<String>,
    /// When the class occurs and how its message reads.
    pub description: String,
    /// JSON Schema of the body, when it is not the standard error body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
}

/// A named call of a route's contract.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Example {
    /// What the example shows.
    pub name: String,
    /// The unwrapped input (the HTTP API's request body).
    pub input: serde_json::Value,
    /// The provider's answers, in the order the route sends its requests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provider: Vec<ProviderAnswer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The success output.
    pub output: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The error the example yields, when it is not a success.
    pub error: Option<ExampleError>,
}

/// One provider answer in an example.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderAnswer {
    /// The HTTP status the provider answers with.
    pub status: u16,
    /// The JSON body the provider answers with.
    pub body: serde_json::Value,
}

/// The error an example yields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExampleError {
    /// The error class the route answers with.
    pub class: ErrorClass,
    /// The HTTP status of the route's answer.
    pub status: u16,
    /// The error message, exactly.
    pub message: String,
}

/// A requirement met when any one of `any_of` is set to a non-blank value (checked in order).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretRequirement {
    /// What the secret is, for messages.
    pub label: String,
    /// Environment names, checked in order.
    pub any_of: Vec<String>,
    /// Needed only when the call names no OAuth connection (the route's `auth` is `oauth2`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unless_connection: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
/// How sure the registry is of a service's links and facts.
pub enum Confidence {
    /// Checked against the vendor's own pages.
    High,
    /// Partly checked.
    Medium,
    /// Not checked; treat as a lead.
    Low,
}

/// `docsRequiresLogin`: `true`, `false`, `"unknown"` or `null` (not stated).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DocsRequiresLogin {
    /// Reading the docs needs an account.
    Yes,
    /// The docs are public.
    No,
    /// Not known.
    Unknown,
    /// Not stated (`null`).
    NotStated,
}

impl Confidence {
    /// Every level, highest first.
    pub const ALL: [Confidence; 3] = [Confidence::High, Confidence::Medium, Confidence::Low];

    /// The level as the registry writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::High => "High",
            Confidence::Medium => "Medium",
            Confidence::Low => "Low",
        }
    }
}

impl Serialize for DocsRequiresLogin {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            DocsRequiresLogin::Yes => serializer.serialize_bool(true),
            DocsRequiresLogin::No => serializer.serialize_bool(false),
            DocsRequiresLogin::Unknown => serializer.serialize_str("unknown"),
            DocsRequiresLogin::NotStated => serializer.serialize_none(),
        }
    }
}

impl<'de> Deserialize<'de> for DocsRequiresLogin {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::Bool(true) => Ok(DocsRequiresLogin::Yes),
            serde_json::Value::Bool(false) => Ok(DocsRequiresLogin::No),
            serde_json::Value::Null => Ok(DocsRequiresLogin::NotStated),
            serde_json::Value::String(s) if s == "unknown" => Ok(DocsRequiresLogin::Unknown),
            other => Err(serde::de::Error::custom(format!(
                "invalid docsRequiresLogin {other}"
            ))),
        }
    }
}

impl Service {
    /// The executable routes of this service (empty for catalogue-only services).
    pub fn routes(&self) -> &[Route] {
        self.runtime.as_ref().map_or(&[], |runtime| &runtime.routes)
    }

    /// Every URL field with its registry name, in schema order (sources excluded), null or not:
    /// the one table `links`, the URL rules' field list and `diff` read.
    pub fn url_fields(&self) -> [(&'static str, &Option<String>); 8] {
        [
            ("officialApiDocsUrl", &self.official_api_docs_url),
            ("bestBaseLink", &self.best_base_link),
            ("authDocsUrl", &self.auth_docs_url),
            ("webhookDocsUrl", &self.webhook_docs_url),
            ("rateLimitDocsUrl", &self.rate_limit_docs_url),
            ("openapiUrl", &self.openapi_url),
            ("officialSdkUrl", &self.official_sdk_url),
            ("changelogUrl", &self.changelog_url),
        ]
    }

    /// Every non-null URL field with its registry name, in schema order (sources excluded).
    pub fn links(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.url_fields()
            .into_iter()
            .filter_map(|(name, url)| url.as_deref().map(|url| (name, url)))
    }

    /// The best link to start reading from: `bestBaseLink`, else the API docs.
    pub fn docs_url(&self) -> Option<&str> {
        self.best_base_link
            .as_deref()
            .or(self.official_api_docs_url.as_deref())
    }
}

/// What pages and the OpenAPI document call a registry without a `name`: neutral, since it may
/// belong to any crate.
pub const DEFAULT_REGISTRY_NAME: &str = "Connector registry";

impl Registry {
    /// The name pages and the OpenAPI document show: `name`, else [`DEFAULT_REGISTRY_NAME`].
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(DEFAULT_REGISTRY_NAME)
    }

    /// Every declared route with the service that owns it, in registry order.
    pub fn routes(&self) -> impl Iterator<Item = (&Service, &Route)> {
        self.services
            .iter()
            .flat_map(|service| service.routes().iter().map(move |route| (service, route)))
    }

    /// The service with `id`, if any.
    pub fn service(&self, id: &str) -> Option<&Service> {
        self.services.iter().find(|service| service.id == id)
    }
}

/// Derives a service id from a connector name: ASCII letters and digits, lower-cased, other runs
/// joined by `_` (`ChatGPT (OpenAI)` → `chatgpt_openai`). `None` when the result would not start
/// with a letter.
pub fn derive_id(connector_name: &str) -> Option<String> {
    let id = id_stem(connector_name);
    let id = if connector_name.is_ascii() {
        id
    } else {
        // From the NFKC form: a fullwidth `Ｓlack` is `slack`, not `lack`.
        use unicode_normalization::UnicodeNormalization;
        id_stem(&connector_name.nfkc().collect::<String>())
    };
    id.starts_with(|c: char| c.is_ascii_lowercase())
        .then_some(id)
}

/// The ASCII letters and digits of `connector_name`, lower-cased, runs joined by `_`: the id
/// [`derive_id`] returns when it starts with a letter.
pub fn id_stem(connector_name: &str) -> String {
    let mut id = String::with_capacity(connector_name.len());
    let mut pending_separator = false;
    for c in connector_name.chars() {
        if c.is_ascii_alphanumeric() {
            if pending_separator && !id.is_empty() {
                id.push('_');
            }
            pending_separator = false;
            id.push(c.to_ascii_lowercase());
        } else {
            pending_separator = true;
        }
    }
    id
}

#[cfg(test)]
mod tests {
    use super::derive_id;

    #[test]
    fn ids_are_derived_from_the_nfkc_form() {
        assert_eq!(derive_id("\u{ff33}lack").as_deref(), Some("slack"));
        assert_eq!(derive_id("\u{fb01}le drop").as_deref(), Some("file_drop"));
        assert_eq!(derive_id("Caf\u{e9} API").as_deref(), Some("caf_api"));
    }

    #[test]
    fn the_url_field_table_is_the_rules_list() {
        let bundled = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../connector-registry/services.json"
        );
        let registry = crate::Registry::load(bundled).expect("the bundled registry loads");
        let names: Vec<&str> = registry.services[0]
            .url_fields()
            .iter()
            .map(|(name, _)| *name)
            .collect();
        assert_eq!(names, crate::rules::URL_FIELDS);
    }

    #[test]
    fn ids_are_derived_from_names() {
        assert_eq!(
            derive_id("ChatGPT (OpenAI)").as_deref(),
            Some("chatgpt_openai")
        );
        assert_eq!(derive_id("monday.com").as_deref(), Some("monday_com"));
        assert_eq!(
            derive_id("  Google  Sheets ").as_deref(),
            Some("google_sheets")
        );
        assert_eq!(
            derive_id("Jira Software Cloud").as_deref(),
            Some("jira_software_cloud")
        );
        assert_eq!(derive_id("123"), None);
        assert_eq!(derive_id("???"), None);
    }
}
