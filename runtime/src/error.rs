//! The error classes of docs/ROUTES.md 1.7, and what dispatch and linking can fail with.
//!
//! No error here holds a secret value: configuration errors name labels and variable names,
//! provider excerpts are redacted by whoever builds them (docs/ROUTES.md 1.8), and every type's
//! `Debug` prints only those fields.

use std::fmt;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use crate::connection::ConnectionError;
use crate::route::SecretRequirement;

/// What a handler fails with: one of the classes of docs/ROUTES.md 1.7.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ConnectorError {
    /// The input is unusable (status 400). `problems` is never empty.
    #[error("{}", join(problems))]
    InvalidInput {
        /// The route id.
        route: &'static str,
        /// What is wrong with the input, one entry per problem.
        problems: Vec<InputProblem>,
    },
    /// Missing or unusable configuration (status 500). `problems` is never empty.
    #[error("{}", config_message(route, problems))]
    Config {
        /// The route id.
        route: &'static str,
        /// What is missing or unusable, one entry per problem.
        problems: Vec<ConfigProblem>,
    },
    /// The provider answered with a non-2xx status.
    #[error("{}", .0.message)]
    Provider(Box<ProviderError>),
    /// No usable answer: network failure, timeout, unusable success response (status 502).
    #[error("{}", .0.message)]
    Gateway(Box<GatewayError>),
    /// The call's OAuth connection is missing or unusable (its status: 400, 404, 409, 500, 502
    /// or 503; see [`ConnectionError::status`]).
    #[error("route \"{route}\": {error}")]
    Connection {
        /// The route id.
        route: &'static str,
        /// What is wrong with the connection.
        error: ConnectionError,
    },
}

/// One invalid-input problem: the field (a path such as `items[0].name`, or `body` for the input
/// as a whole), the same place as an RFC 6901 JSON pointer (`/items/0/name`, `""` for the whole
/// input), and the message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InputProblem {
    /// Where the problem is, as a path (`items[0].name`; `body` for the whole input).
    pub field: String,
    /// Where the problem is, as an RFC 6901 JSON pointer (`/items/0/name`; `""` for the whole
    /// input).
    pub pointer: String,
    /// What is wrong there, in words.
    pub message: String,
}

impl InputProblem {
    /// A problem on `field` (`items[0].name`, or `body` for the whole input), its pointer
    /// derived from the path.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        InputProblem {
            pointer: pointer_of_field(&field),
            field,
            message: message.into(),
        }
    }
}

/// `items[0].name` → `/items/0/name`; `body` (the whole input) → `""`.
fn pointer_of_field(field: &str) -> String {
    if field == "body" || field == "." {
        return String::new();
    }
    let mut pointer = String::new();
    for part in field.split('.') {
        let (name, indices) = part.split_once('[').unwrap_or((part, ""));
        if !name.is_empty() {
            pointer.push('/');
            pointer.push_str(&name.replace('~', "~0").replace('/', "~1"));
        }
        for index in indices.split('[') {
            let index = index.trim_end_matches(']');
            if !index.is_empty() {
                pointer.push('/');
                pointer.push_str(index);
            }
        }
    }
    pointer
}

impl fmt::Display for InputProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// One configuration problem (docs/ROUTES.md 1.6). `Display` omits the `route "<id>": ` prefix,
/// which [`ConnectorError`] adds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConfigProblem {
    /// No name of the requirement has a non-blank value.
    Missing {
        /// The requirement's label (`chat webhook URL`).
        label: String,
        /// Every name checked, in declared order.
        checked: Vec<String>,
    },
    /// A value is set but cannot be used; `name` supplied it. The value itself is never kept.
    Unusable {
        /// The requirement's or setting's label (`Stripe base URL`).
        label: String,
        /// The variable that supplied the value.
        name: String,
        /// Why the value cannot be used (`not an absolute http(s) URL`).
        reason: String,
    },
    /// A request was refused before anything was sent: its host is neither declared by the
    /// route nor configured by the operator, or is a non-public address the operator did not
    /// configure (runtime/src/http/POLICY.md 2.8). `host` is `host[:port]`, never a URL.
    EgressDenied {
        /// The refused host, as `host[:port]`.
        host: String,
        /// Why the host may not be reached.
        reason: String,
    },
}

impl ConfigProblem {
    /// The problem of an unmet requirement: its label and every name it checks.
    pub fn missing(requirement: &SecretRequirement) -> Self {
        ConfigProblem::Missing {
            label: requirement.label.to_owned(),
            checked: requirement.any_of.iter().map(|&n| n.to_owned()).collect(),
        }
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigProblem::Missing { label, checked } => {
                write!(f, "missing {label}. Checked: {}", checked.join(", "))
            }
            ConfigProblem::Unusable {
                label,
                name,
                reason,
            } => write!(f, "invalid {label} (from {name}): {reason}"),
            ConfigProblem::EgressDenied { host, reason } => {
                write!(f, "egress to {host} denied: {reason}")
            }
        }
    }
}

/// A non-2xx provider answer (docs/ROUTES.md 1.7, 1.8).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderError {
    /// The route id.
    pub route: &'static str,
    /// The route's failure label (`Stripe request failed`).
    pub prefix: String,
    /// The provider's HTTP status.
    pub status: u16,
    /// The provider's error code, when it gives one (redacted).
    pub code: Option<String>,
    /// The provider's error message, when one can be extracted (redacted).
    pub provider_message: Option<String>,
    /// The redacted body excerpt, at most 2 KiB.
    pub excerpt: String,
    /// Structured details the route takes from the answer (HubSpot's category and correlation
    /// id), redacted; absent from the JSON when there are none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
    /// How many attempts were made.
    pub attempts: u32,
    /// The full message, in the route's shape (docs/ROUTES.md 1.8).
    pub message: String,
}

/// A failure without a usable provider answer (docs/ROUTES.md 1.7, 1.8).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayError {
    /// The route id.
    pub route: &'static str,
    /// The route's failure label (`Stripe request failed`).
    pub prefix: String,
    /// `host[:port]`, never a URL.
    pub host: String,
    /// What went wrong: no connection, a timeout, or an unusable answer.
    pub kind: GatewayKind,
    /// How many attempts were made (0 when there was no HTTP client to make one).
    pub attempts: u32,
    /// The full message, in the shape of docs/ROUTES.md 1.8.
    pub message: String,
}

/// What kind of gateway failure happened (docs/ROUTES.md 1.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GatewayKind {
    /// No answer: the connection could not be made or broke (refused, DNS, TLS, closed before a
    /// response); transient.
    Connect,
    /// The request ran out of time; transient.
    Timeout,
    /// A success response whose body cannot be used (not JSON, too large); not transient.
    InvalidResponse,
}

impl ConnectorError {
    /// One invalid-input problem.
    pub fn invalid_input(
        route: &'static str,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ConnectorError::InvalidInput {
            route,
            problems: vec![InputProblem::new(field, message)],
        }
    }

    /// One configuration problem.
    pub fn config(route: &'static str, problem: ConfigProblem) -> Self {
        ConnectorError::Config {
            route,
            problems: vec![problem],
        }
    }

    /// The id of the route that failed.
    pub fn route(&self) -> &'static str {
        match self {
            ConnectorError::InvalidInput { route, .. } | ConnectorError::Config { route, .. } => {
                route
            }
            ConnectorError::Provider(error) => error.route,
            ConnectorError::Gateway(error) => error.route,
            ConnectorError::Connection { route, .. } => route,
        }
    }

    /// The class name used in serialized errors.
    pub fn class(&self) -> &'static str {
        match self {
            ConnectorError::InvalidInput { .. } => "invalid_input",
            ConnectorError::Config { .. } => "config",
            ConnectorError::Provider(_) => "provider",
            ConnectorError::Gateway(_) => "gateway",
            ConnectorError::Connection { .. } => "connection",
        }
    }

    /// The HTTP-like status of docs/ROUTES.md 1.7.
    pub fn status(&self) -> u16 {
        match self {
            ConnectorError::InvalidInput { .. } => 400,
            ConnectorError::Config { .. } => 500,
            ConnectorError::Provider(error) if (400..=599).contains(&error.status) => error.status,
            ConnectorError::Provider(_) | ConnectorError::Gateway(_) => 502,
            ConnectorError::Connection { error, .. } => error.status(),
        }
    }

    /// Whether a later redelivery could succeed (docs/ROUTES.md 1.7, 2.2).
    pub fn is_transient(&self) -> bool {
        match self {
            ConnectorError::InvalidInput { .. } | ConnectorError::Config { .. } => false,
            ConnectorError::Provider(error) => {
                matches!(error.status, 408 | 425 | 429 | 500 | 502 | 503 | 504)
            }
            ConnectorError::Gateway(error) => {
                matches!(error.kind, GatewayKind::Connect | GatewayKind::Timeout)
            }
            // A busy lock, a failed store or refresh may clear; a missing or revoked
            // connection needs a person.
            ConnectorError::Connection { error, .. } => matches!(
                error,
                ConnectionError::LockTimeout { .. }
                    | ConnectionError::Store { .. }
                    | ConnectionError::Refresh { .. }
            ),
        }
    }

    fn serialize_details<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        map.serialize_entry("route", self.route())?;
        match self {
            ConnectorError::InvalidInput { problems, .. } => {
                map.serialize_entry("problems", problems)
            }
            ConnectorError::Config { problems, .. } => map.serialize_entry("problems", problems),
            ConnectorError::Provider(error) => map.serialize_entry("provider", error),
            ConnectorError::Gateway(error) => map.serialize_entry("gateway", error),
            ConnectorError::Connection { error, .. } => map.serialize_entry(
                "connection",
                &ConnectionDetails {
                    name: error.connection(),
                    code: error.code(),
                },
            ),
        }
    }
}

/// `"connection": {"name": …, "code": …}` in a serialized connection error.
#[derive(Serialize)]
struct ConnectionDetails<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    code: &'static str,
}

/// Joins problem messages with `"; "`.
fn join<T: fmt::Display>(problems: &[T]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// One `route "<id>": …` line per problem, joined with `"; "` (docs/ROUTES.md 1.6, 1.7).
fn config_message(route: &str, problems: &[ConfigProblem]) -> String {
    problems
        .iter()
        .map(|problem| format!("route \"{route}\": {problem}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Serializes as `{"ok": false, "status", "class", "transient", "message", "route", …details}`.
impl Serialize for ConnectorError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("ok", &false)?;
        map.serialize_entry("status", &self.status())?;
        map.serialize_entry("class", self.class())?;
        map.serialize_entry("transient", &self.is_transient())?;
        map.serialize_entry("message", &self.to_string())?;
        self.serialize_details(&mut map)?;
        map.end()
    }
}

/// Why [`crate::RouteTable::dispatch`] failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum DispatchError {
    /// The registry declares no such route (status 404).
    #[error("{}", unknown_route_message(route, *suggestion))]
    UnknownRoute {
        /// The id the caller asked for, as given.
        route: String,
        /// A declared route id close to it, if any ("did you mean").
        suggestion: Option<&'static str>,
    },
    /// The route is declared but this deployment does not run it (`ENABLED_HTTP_ROUTES` /
    /// `DISABLED_HTTP_ROUTES`; status 404).
    #[error("route \"{route}\" is disabled in this deployment ({by})")]
    Disabled {
        /// The route id.
        route: &'static str,
        /// The setting that disabled it.
        by: DisabledBy,
    },
    /// The route is declared but no `#[connector]` handler for it is linked (status 501).
    #[error("route \"{route}\" is declared in the registry but no #[connector] handler is linked")]
    NotImplemented {
        /// The route id.
        route: &'static str,
    },
    /// The handler's output could not be turned into JSON (status 500): a bug in the handler.
    #[error("route \"{route}\": the handler's output could not be serialized: {reason}")]
    Output {
        /// The route id.
        route: &'static str,
        /// Why serialization failed (serde_json's error).
        reason: String,
    },
    /// The handler's output breaks the route's output schema (status 500): a bug in the
    /// handler, caught in debug builds only. `pointer` is where, `problem` what.
    #[error(
        "route \"{route}\": the handler's output breaks its output schema at \"{pointer}\": {problem}"
    )]
    OutputSchema {
        /// The route id.
        route: &'static str,
        /// Where the first problem is, as a JSON pointer into the output.
        pointer: String,
        /// What the schema rejects, every problem joined with `"; "`.
        problem: String,
    },
    /// The route ran (or its secrets were resolved) and failed.
    #[error(transparent)]
    Connector(#[from] ConnectorError),
}

/// Why a route is disabled: the setting that disabled it (`enablement.rs` reads the settings;
/// the names are spelled here, once).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum DisabledBy {
    /// `ENABLED_HTTP_ROUTES` is set and does not list the route.
    #[serde(rename = "ENABLED_HTTP_ROUTES")]
    NotEnabled,
    /// `DISABLED_HTTP_ROUTES` lists the route.
    #[serde(rename = "DISABLED_HTTP_ROUTES")]
    Disabled,
}

impl DisabledBy {
    /// The setting's name.
    pub const fn setting(self) -> &'static str {
        match self {
            DisabledBy::NotEnabled => "ENABLED_HTTP_ROUTES",
            DisabledBy::Disabled => "DISABLED_HTTP_ROUTES",
        }
    }
}

/// `not in ENABLED_HTTP_ROUTES` / `in DISABLED_HTTP_ROUTES`.
impl fmt::Display for DisabledBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisabledBy::NotEnabled => write!(f, "not in {}", self.setting()),
            DisabledBy::Disabled => write!(f, "in {}", self.setting()),
        }
    }
}

/// Unknown route ids come from callers; a long one is cut so messages stay one line.
const MAX_ECHOED_ROUTE: usize = 80;

fn unknown_route_message(route: &str, suggestion: Option<&str>) -> String {
    let shown: String = route.chars().take(MAX_ECHOED_ROUTE).collect();
    let ellipsis = if shown.len() < route.len() { "…" } else { "" };
    match suggestion {
        Some(suggestion) => {
            format!("unknown route {shown:?}{ellipsis}; did you mean \"{suggestion}\"?")
        }
        None => format!("unknown route {shown:?}{ellipsis}"),
    }
}

impl DispatchError {
    /// The HTTP-like status: 404, 501 or 500 for dispatch's own failures, the connector
    /// error's otherwise (docs/ROUTES.md 1.7).
    pub fn status(&self) -> u16 {
        match self {
            DispatchError::UnknownRoute { .. } | DispatchError::Disabled { .. } => 404,
            DispatchError::NotImplemented { .. } => 501,
            DispatchError::Output { .. } | DispatchError::OutputSchema { .. } => 500,
            DispatchError::Connector(error) => error.status(),
        }
    }

    /// The class name used in serialized errors (`unknown_route`, `route_disabled`,
    /// `not_implemented`, `output`, or the connector error's class).
    pub fn class(&self) -> &'static str {
        match self {
            DispatchError::UnknownRoute { .. } => "unknown_route",
            DispatchError::Disabled { .. } => "route_disabled",
            DispatchError::NotImplemented { .. } => "not_implemented",
            DispatchError::Output { .. } | DispatchError::OutputSchema { .. } => "output",
            DispatchError::Connector(error) => error.class(),
        }
    }

    /// Whether a later redelivery could succeed: only ever for a transient connector error.
    pub fn is_transient(&self) -> bool {
        match self {
            DispatchError::Connector(error) => error.is_transient(),
            _ => false,
        }
    }

    /// The connector error, when the failure is one of the four connector classes.
    pub fn as_connector(&self) -> Option<&ConnectorError> {
        match self {
            DispatchError::Connector(error) => Some(error),
            _ => None,
        }
    }
}

/// Serializes like [`ConnectorError`]: `ok`, `status`, `class`, `transient`, `message`, details.
impl Serialize for DispatchError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if let DispatchError::Connector(error) = self {
            return error.serialize(serializer);
        }
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("ok", &false)?;
        map.serialize_entry("status", &self.status())?;
        map.serialize_entry("class", self.class())?;
        map.serialize_entry("transient", &false)?;
        map.serialize_entry("message", &self.to_string())?;
        match self {
            DispatchError::UnknownRoute { route, suggestion } => {
                let shown: String = route.chars().take(MAX_ECHOED_ROUTE).collect();
                map.serialize_entry("route", &shown)?;
                map.serialize_entry("suggestion", suggestion)?;
            }
            DispatchError::Disabled { route, by } => {
                map.serialize_entry("route", route)?;
                map.serialize_entry("disabledBy", by)?;
            }
            DispatchError::NotImplemented { route } | DispatchError::Output { route, .. } => {
                map.serialize_entry("route", route)?;
            }
            DispatchError::OutputSchema { route, pointer, .. } => {
                map.serialize_entry("route", route)?;
                map.serialize_entry("pointer", pointer)?;
            }
            DispatchError::Connector(_) => {}
        }
        map.end()
    }
}

/// Why [`crate::RouteTable::linked`] refused the linked handlers. Every problem is listed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", join(problems))]
pub struct LinkError {
    /// Every problem found, never empty.
    pub problems: Vec<LinkProblem>,
}

/// One reason the linked handlers do not match the declared routes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkProblem {
    /// More than one `#[connector]` function implements the route; `functions` are their paths.
    #[error("route \"{route}\" has {} handlers: {}; keep one", functions.len(), functions.join(", "))]
    DuplicateHandler {
        /// The route id.
        route: &'static str,
        /// The handlers' function paths.
        functions: Vec<String>,
    },
    /// The declared list names the same route id twice.
    #[error("route \"{route}\" is declared twice")]
    DuplicateRoute {
        /// The route id.
        route: &'static str,
    },
    /// A handler declares a setting whose name the registry declares as a secret: settings are
    /// not a way to read secrets.
    #[error(
        "route \"{route}\" declares the setting {setting}, which the registry declares as a secret; read it with ctx.secret"
    )]
    SettingIsSecret {
        /// The route id.
        route: &'static str,
        /// The setting's variable name.
        setting: &'static str,
    },
    /// A contract schema the runtime cannot compile. The registry compiler refuses these
    /// (WF317), so only generated code edited by hand or a diverging jsonschema gets here.
    #[error("route \"{route}\" has an {which} schema that does not compile: {reason}")]
    InvalidSchema {
        /// The route id.
        route: &'static str,
        /// `input` or `output`.
        which: &'static str,
        /// Why it does not compile.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_become_pointers() {
        for (field, pointer) in [
            ("body", ""),
            ("text", "/text"),
            ("items[0].name", "/items/0/name"),
            ("grid[1][2]", "/grid/1/2"),
            ("a/b~c", "/a~1b~0c"),
        ] {
            assert_eq!(InputProblem::new(field, "m").pointer, pointer, "{field}");
        }
    }
}
