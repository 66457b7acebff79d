//! JSON Schema validation with the `jsonschema` crate, mapped back to source positions.
//!
//! The validators walk the loader's node tree directly (see `json_tree.rs`). Services are
//! validated one at a time against the service definition, so the work splits across threads.

use jsonschema::Validator;
use jsonschema::error::{TypeKind, ValidationErrorKind};
use serde_json::Value;

use crate::diagnostics::{Code, Diagnostic, Span};
use crate::json_tree::{DocumentJson, TreeNode};
use crate::load::{Document, NodeId, NodeKind};
use workerflow_names::did_you_mean;

/// The bundled schema, used when the registry has no `services.schema.json` beside it.
pub(crate) const BUNDLED_SCHEMA: &str =
    include_str!("../../connector-registry/services.schema.json");

const BUNDLED_ORIGIN: &str = "(bundled)";

/// A compiled schema, ready to validate many registries.
pub struct Schema {
    /// The schema document, for looking up property names and descriptions.
    document: Value,
    /// The whole schema, with the items of `services` accepted as anything.
    root: Validator<DocumentJson>,
    /// The schema of one service, when the schema has a `services.items` definition.
    service: Option<Validator<DocumentJson>>,
    /// Where the schema came from: `(bundled)` or its path.
    origin: String,
}

/// Why a schema could not be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid schema {origin}: {message}")]
pub struct SchemaError {
    /// Where the schema came from: `(bundled)` or its path.
    pub origin: String,
    /// What is wrong with it.
    pub message: String,
}

impl std::fmt::Debug for Schema {
    // The validators are large and say nothing a reader needs: the origin names the schema.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schema")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl Schema {
    /// Compiles the bundled schema.
    pub fn bundled() -> Result<Schema, SchemaError> {
        Schema::from_str(BUNDLED_SCHEMA, BUNDLED_ORIGIN)
    }

    /// Compiles a schema from its JSON text; `origin` names it in errors.
    pub fn from_str(text: &str, origin: &str) -> Result<Schema, SchemaError> {
        let error = |message: String| SchemaError {
            origin: origin.to_owned(),
            message,
        };
        let document: Value = serde_json::from_str(text).map_err(|e| error(e.to_string()))?;
        let compile = |schema: &Value| {
            jsonschema::options_for::<DocumentJson>()
                .with_draft(jsonschema::Draft::Draft202012)
                .build(schema)
                .map_err(|e| error(e.to_string()))
        };
        let items = document.pointer("/properties/services/items").cloned();
        let (root, service) = match items {
            Some(items) => {
                let mut root = document.clone();
                if let Some(slot) = root.pointer_mut("/properties/services/items") {
                    *slot = Value::Bool(true);
                }
                let mut service = serde_json::Map::new();
                for keyword in ["$schema", "$id", "$defs"] {
                    if let Some(value) = document.get(keyword) {
                        service.insert(keyword.to_owned(), value.clone());
                    }
                }
                service.insert("allOf".to_owned(), Value::Array(vec![items]));
                (compile(&root)?, Some(compile(&Value::Object(service))?))
            }
            None => (compile(&document)?, None),
        };
        Ok(Schema {
            document,
            root,
            service,
            origin: origin.to_owned(),
        })
    }

    /// Where the schema came from: `(bundled)` or the path it was read from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Whether this is the schema compiled into the crate.
    pub fn is_bundled(&self) -> bool {
        self.origin == BUNDLED_ORIGIN
    }

    /// The property names the schema allows on the object at `pointer`, in schema order.
    fn allowed_keys(&self, pointer: &str) -> Vec<String> {
        let definition = match object_kind(pointer) {
            ObjectKind::Root => self.document.pointer("/properties"),
            ObjectKind::Service => self.document.pointer("/$defs/service/properties"),
            ObjectKind::Runtime => self.document.pointer("/$defs/runtime/properties"),
            ObjectKind::Route => self.document.pointer("/$defs/route/properties"),
            ObjectKind::Secret => self.document.pointer("/$defs/secretRequirement/properties"),
            ObjectKind::Other => None,
        };
        definition
            .and_then(Value::as_object)
            .map(|properties| properties.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Whether the schema lets `property` of the object at `pointer` be null.
    fn allows_null(&self, pointer: &str, property: &str) -> bool {
        let base = match object_kind(pointer) {
            ObjectKind::Root => "/properties",
            ObjectKind::Service => "/$defs/service/properties",
            ObjectKind::Runtime => "/$defs/runtime/properties",
            ObjectKind::Route => "/$defs/route/properties",
            ObjectKind::Secret => "/$defs/secretRequirement/properties",
            ObjectKind::Other => return false,
        };
        let path = format!("{base}/{}", crate::load::pointer_segment(property));
        let Some(definition) = self.document.pointer(&path) else {
            return false;
        };
        let in_type = match definition.get("type") {
            Some(Value::String(t)) => t == "null",
            Some(Value::Array(types)) => types.iter().any(|t| t == "null"),
            _ => false,
        };
        let in_enum = definition
            .get("enum")
            .and_then(Value::as_array)
            .is_some_and(|options| options.contains(&Value::Null));
        in_type || in_enum
    }

    /// Validates `document` and returns the schema diagnostics in no particular order.
    pub fn validate(&self, document: &Document<'_>) -> Vec<Diagnostic> {
        let Some(root) = document.root() else {
            return Vec::new();
        };
        let mut diagnostics = Vec::new();
        self.collect(document, &self.root, root, "", &mut diagnostics);
        let services = document
            .get(root, "services")
            .filter(|&s| document.kind(s) == NodeKind::Array);
        let (Some(service_validator), Some(services)) = (&self.service, services) else {
            return diagnostics;
        };
        let service_ids: Vec<NodeId> = document.children(services).collect();
        // Small registries are not worth a thread.
        let found = crate::parallel::map(&service_ids, 1024, |index, &id| {
            crate::parallel::fault_point("schema");
            let mut out = Vec::new();
            if !service_validator.is_valid(TreeNode::new(document, id)) {
                let prefix = format!("/services/{index}");
                self.collect(document, service_validator, id, &prefix, &mut out);
            }
            out
        });
        let found = match found {
            Ok(found) => found,
            Err(panicked) => vec![vec![
                panicked.diagnostic("the schema validation of the services"),
            ]],
        };
        diagnostics.extend(found.into_iter().flatten());
        diagnostics
    }

    fn collect(
        &self,
        document: &Document<'_>,
        validator: &Validator<DocumentJson>,
        node: NodeId,
        prefix: &str,
        out: &mut Vec<Diagnostic>,
    ) {
        for error in validator.iter_errors(TreeNode::new(document, node)) {
            let pointer = format!("{prefix}{}", error.instance_path().as_str());
            // A too-long string is never copied out of the document: it may be 100 MB.
            let null = Value::Null;
            let instance = match error.kind() {
                ValidationErrorKind::MaxLength { .. } => &null,
                _ => error.instance().as_ref(),
            };
            self.describe(document, &pointer, error.kind(), instance, out);
        }
    }

    fn describe(
        &self,
        document: &Document<'_>,
        pointer: &str,
        kind: &ValidationErrorKind,
        instance: &Value,
        out: &mut Vec<Diagnostic>,
    ) {
        let node = document.resolve(pointer);
        let span = node.map_or(Span::default(), |id| document.span(id));
        let place = place(document, pointer);
        let field = field_name(pointer);
        let found = describe_value(instance);
        let diagnostic = match kind {
            ValidationErrorKind::Type { kind } => {
                let expected = match kind {
                    TypeKind::Single(t) => t.as_str().to_owned(),
                    // "an integer or null" reads better than the crate's "null or integer".
                    TypeKind::Multiple(set) => {
                        let (nulls, others): (Vec<_>, Vec<_>) =
                            set.iter().map(|t| t.as_str()).partition(|t| *t == "null");
                        others
                            .into_iter()
                            .chain(nulls)
                            .collect::<Vec<_>>()
                            .join(" or ")
                    }
                };
                let mut d = Diagnostic::error(
                    Code::SchemaType,
                    format!(
                        "{place}{field} must be {}, found {found}",
                        article(&expected)
                    ),
                    span,
                )
                .with_label(format!("expected {expected}"));
                if expected.contains("null")
                    && matches!(instance, Value::String(s) if s.trim().is_empty())
                {
                    d = d.with_help("write an unknown value as `null`");
                } else if instance.is_string()
                    && (expected.contains("integer") || expected.contains("number"))
                {
                    d = d.with_help("write the number without quotes");
                }
                d
            }
            ValidationErrorKind::Required { property } => {
                let name = property.as_str().unwrap_or_default();
                // Point at the opening brace: the whole object would be a huge snippet.
                let brace = Span::new(span.start, span.start + 1);
                let what = object_kind(pointer).noun();
                Diagnostic::error(
                    Code::SchemaRequired,
                    format!("{place}missing required field `{name}`"),
                    brace,
                )
                .with_label(format!("this {what} has no `{name}`"))
                .with_help(if self.allows_null(pointer, name) {
                    format!("add `\"{name}\": null` if the value is unknown")
                } else {
                    format!("add the `{name}` field; it cannot be null")
                })
            }
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                let allowed = self.allowed_keys(pointer);
                for key in unexpected {
                    let child = node.and_then(|id| document.get(id, key));
                    let key_span = child.map_or(span, |c| document.key_span(c));
                    let member = format!("{pointer}/{}", crate::load::pointer_segment(key));
                    let mut d = Diagnostic::error(
                        Code::SchemaUnknownField,
                        format!("{place}unknown field `{key}`"),
                        key_span,
                    )
                    .with_label("not in the schema")
                    .with_pointer(member);
                    d = match did_you_mean(key, allowed.iter().map(String::as_str)) {
                        Some(suggestion) => d.with_help(format!("did you mean `{suggestion}`?")),
                        None => d.with_help(format!("allowed fields: {}", allowed.join(", "))),
                    };
                    out.push(d);
                }
                return;
            }
            ValidationErrorKind::Enum { options } => {
                let options: Vec<String> = options
                    .as_array()
                    .map(|a| a.iter().map(describe_option).collect())
                    .unwrap_or_default();
                let mut d = Diagnostic::error(
                    Code::SchemaEnum,
                    format!(
                        "{place}{field} must be one of {}; found {found}",
                        options.join(", ")
                    ),
                    span,
                )
                .with_label("not an allowed value");
                if let Some(text) = instance.as_str() {
                    let candidates: Vec<String> = options
                        .iter()
                        .map(|o| o.trim_matches('`').to_owned())
                        .collect();
                    if let Some(suggestion) =
                        did_you_mean(text, candidates.iter().map(String::as_str))
                    {
                        d = d.with_help(format!("did you mean `{suggestion}`?"));
                    }
                }
                d
            }
            ValidationErrorKind::Constant { expected_value } => Diagnostic::error(
                Code::SchemaConst,
                format!("{place}{field} must be {expected_value}, found {found}"),
                span,
            )
            .with_label(format!("expected {expected_value}"))
            .with_help("this compiler reads version 1 of the registry format"),
            ValidationErrorKind::Pattern { pattern } => {
                let (what, help) = describe_pattern(pattern);
                Diagnostic::error(
                    Code::SchemaPattern,
                    format!("{place}{field} must be {what}, found {found}"),
                    span,
                )
                .with_label(format!("does not match `{pattern}`"))
                .with_help(help)
            }
            ValidationErrorKind::Minimum { limit }
            | ValidationErrorKind::ExclusiveMinimum { limit } => Diagnostic::error(
                Code::SchemaRange,
                format!("{place}{field} must be at least {limit}, found {found}"),
                span,
            )
            .with_label(format!("below {limit}"))
            .with_help(range_help(pointer)),
            ValidationErrorKind::Maximum { limit }
            | ValidationErrorKind::ExclusiveMaximum { limit } => Diagnostic::error(
                Code::SchemaRange,
                format!("{place}{field} must be at most {limit}, found {found}"),
                span,
            )
            .with_label(format!("above {limit}"))
            .with_help(range_help(pointer)),
            ValidationErrorKind::MinLength { limit } => Diagnostic::error(
                Code::SchemaLength,
                format!("{place}{field} must not be empty"),
                span,
            )
            .with_label(format!(
                "at least {limit} character{} needed",
                if *limit == 1 { "" } else { "s" }
            ))
            .with_help("fill in the value, or remove the entry"),
            ValidationErrorKind::MaxLength { limit } => {
                let length = node
                    .and_then(|id| document.str(id))
                    .map_or(0, |s| s.chars().count());
                // The opening quote only: the whole value would be a huge snippet.
                Diagnostic::error(
                    Code::SchemaMaxLength,
                    format!("{place}{field} is {length} characters long; the limit is {limit}"),
                    Span::new(span.start, span.start.saturating_add(1).min(span.end)),
                )
                .with_label(format!("longer than {limit} characters"))
                .with_help(
                    "shorten it; put long text on a page of its own and list it in `sources`",
                )
            }
            ValidationErrorKind::MinItems { limit } => Diagnostic::error(
                Code::SchemaLength,
                format!(
                    "{place}{field} must have at least {limit} item{}",
                    if *limit == 1 { "" } else { "s" }
                ),
                span,
            )
            .with_label("empty list")
            .with_help("list at least one environment variable name, such as \"ACME_API_KEY\""),
            other => Diagnostic::error(
                Code::SchemaOther,
                format!("{place}{field} breaks the schema ({})", other.keyword()),
                span,
            )
            .with_label("here"),
        };
        out.push(diagnostic.with_pointer(pointer));
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ObjectKind {
    Root,
    Service,
    Runtime,
    Route,
    Secret,
    Other,
}

impl ObjectKind {
    fn noun(self) -> &'static str {
        match self {
            ObjectKind::Root => "registry",
            ObjectKind::Service => "service",
            ObjectKind::Runtime => "runtime block",
            ObjectKind::Route => "route",
            ObjectKind::Secret => "secret requirement",
            ObjectKind::Other => "object",
        }
    }
}

/// Which object of the format a pointer designates, by its shape.
fn object_kind(pointer: &str) -> ObjectKind {
    let segments: Vec<&str> = pointer.split('/').skip(1).collect();
    let is_index = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match segments.as_slice() {
        [] => ObjectKind::Root,
        ["services", i] if is_index(i) => ObjectKind::Service,
        ["services", i, "runtime"] if is_index(i) => ObjectKind::Runtime,
        ["services", i, "runtime", "routes", r] if is_index(i) && is_index(r) => ObjectKind::Route,
        ["services", i, "runtime", "routes", r, "secrets", s]
            if is_index(i) && is_index(r) && is_index(s) =>
        {
            ObjectKind::Secret
        }
        _ => ObjectKind::Other,
    }
}

/// `services[41] (HubSpot): ` for pointers inside a service, empty otherwise.
pub(crate) fn place(document: &Document<'_>, pointer: &str) -> String {
    let mut segments = pointer.split('/').skip(1);
    if segments.next() != Some("services") {
        return String::new();
    }
    let Some(index) = segments.next().and_then(|s| s.parse::<usize>().ok()) else {
        return String::new();
    };
    service_place(document, index)
}

/// `services[41] (HubSpot): `, naming the service by its connector name when it has one.
pub(crate) fn service_place(document: &Document<'_>, index: usize) -> String {
    let name = document
        .root()
        .and_then(|root| document.get(root, "services"))
        .and_then(|services| document.element(services, index))
        .and_then(|service| document.get(service, "connectorName"))
        .and_then(|name| document.str(name))
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty());
    match name {
        Some(name) => format!("services[{index}] ({name}): "),
        None => format!("services[{index}]: "),
    }
}

/// The last pointer segment as a field name (`` `authType` ``), or "the registry" for the root.
fn field_name(pointer: &str) -> String {
    match pointer.rsplit_once('/') {
        None => "the registry".to_owned(),
        Some((parent, last)) if last.bytes().all(|b| b.is_ascii_digit()) && !last.is_empty() => {
            let list = parent.rsplit('/').next().unwrap_or("list");
            format!("`{list}[{last}]`")
        }
        Some((_, last)) => format!("`{}`", last.replace("~1", "/").replace("~0", "~")),
    }
}

fn article(expected: &str) -> String {
    let first = expected.split(' ').next().unwrap_or("");
    match first {
        "integer" | "array" | "object" => format!("an {expected}"),
        "null" => expected.to_owned(),
        _ => format!("a {expected}"),
    }
}

fn describe_value(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("`{n}`"),
        Value::String(s) => {
            let shown: String = s.chars().take(60).collect();
            let ellipsis = if s.chars().count() > 60 { "…" } else { "" };
            format!("{:?}", shown + ellipsis)
        }
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

fn describe_option(value: &Value) -> String {
    match value {
        Value::String(s) => format!("`{s}`"),
        other => other.to_string(),
    }
}

fn describe_pattern(pattern: &str) -> (String, String) {
    match pattern {
        "^https://" => ("an https URL".to_owned(), "links must use https://; write the full URL".to_owned()),
        "^[a-z][a-z0-9_]*$" => (
            "a lower-case slug".to_owned(),
            "use lower-case letters, digits and `_`, starting with a letter, such as `acme_crm`".to_owned(),
        ),
        "^[A-Z][A-Z0-9_]*$" => (
            "an upper-case environment variable name".to_owned(),
            "use upper-case letters, digits and `_`, starting with a letter, such as `ACME_API_KEY`".to_owned(),
        ),
        "^[0-9]{4}-[0-9]{2}-[0-9]{2}$" => ("a date as YYYY-MM-DD".to_owned(), "write the date as 2026-03-01".to_owned()),
        other => (format!("a value matching `{other}`"), "change the value to match the pattern".to_owned()),
    }
}

fn range_help(pointer: &str) -> &'static str {
    if pointer.ends_with("/rank") {
        "ranks start at 1; use null for a service outside the ranked set"
    } else if pointer.ends_with("/bestBaseLinkScore") {
        "scores run from 0 to 100; use null when unknown"
    } else {
        "use a number within the allowed range"
    }
}
