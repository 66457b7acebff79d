//! The canonical form of a registry (`workerflow-registry fmt`), so that reviews show changes of
//! data, never of layout, and `new` can add a service without reformatting the file by hand.
//!
//! Canonical means: keys in the order the schema lists them (`$schema` first), 2-space indent,
//! LF, one final newline; services sorted by rank (unranked last), then by name byte-wise; text
//! trimmed, empty optional text `null`; `sources` deduplicated and completed with every URL the
//! service names; `officialApiDocsUrl` and `bestBaseLink` filled from each other. Only a valid
//! registry is formatted, and the result is validated again before anyone writes it.

use serde_json::{Map, Value};

use crate::compile::compile;
use crate::{Invalid, Schema};

/// Top-level keys, in the order of `services.schema.json`.
pub(crate) const TOP_KEYS: &[&str] = &[
    "$schema",
    "name",
    "version",
    "updatedAt",
    "notes",
    "services",
    "changes",
];
/// Service keys, in the order of `$defs/service` in the schema.
pub(crate) const SERVICE_KEYS: &[&str] = &[
    "id",
    "rank",
    "connectorName",
    "officialVendorName",
    "officialApiDocsUrl",
    "bestBaseLink",
    "bestBaseLinkScore",
    "bestBaseLinkReason",
    "authType",
    "authDocsUrl",
    "webhookDocsUrl",
    "rateLimitDocsUrl",
    "openapiUrl",
    "officialSdkUrl",
    "changelogUrl",
    "docsRequiresLogin",
    "confidence",
    "notes",
    "sources",
    "oauth2",
    "runtime",
];
/// `oauth2` keys, in the order of `$defs/oauth2` in the schema.
pub(crate) const OAUTH2_KEYS: &[&str] = &[
    "authorizationUrl",
    "tokenUrl",
    "revocationUrl",
    "scopes",
    "scopeSeparator",
    "pkce",
    "clientAuth",
    "authorizationParams",
    "rotatesRefreshTokens",
    "refreshBufferSeconds",
    "clientId",
    "clientSecret",
    "sources",
];
pub(crate) const RUNTIME_KEYS: &[&str] = &["routes"];
pub(crate) const ROUTE_KEYS: &[&str] = &[
    "id",
    "summary",
    "requestType",
    "auth",
    "docsUrl",
    "secrets",
    "settings",
    "hosts",
    "input",
    "output",
    "errors",
    "examples",
];
pub(crate) const ROUTE_ERROR_KEYS: &[&str] = &["class", "status", "description", "body"];
pub(crate) const EXAMPLE_KEYS: &[&str] = &["name", "input", "provider", "output", "error"];
pub(crate) const PROVIDER_ANSWER_KEYS: &[&str] = &["status", "body"];
pub(crate) const EXAMPLE_ERROR_KEYS: &[&str] = &["class", "status", "message"];
pub(crate) const SECRET_KEYS: &[&str] = &["label", "anyOf", "unlessConnection"];
pub(crate) const SETTING_KEYS: &[&str] = &["name", "label", "kind", "default"];

/// The URL fields of a service, in schema order; each non-null one belongs in `sources`.
pub(crate) use crate::rules::URL_FIELDS;

/// Service text fields that may be `null`: an empty string there means "unknown".
const NULLABLE_SERVICE_TEXT: &[&str] = &[
    "officialVendorName",
    "officialApiDocsUrl",
    "bestBaseLink",
    "bestBaseLinkReason",
    "authDocsUrl",
    "webhookDocsUrl",
    "rateLimitDocsUrl",
    "openapiUrl",
    "officialSdkUrl",
    "changelogUrl",
    "notes",
];

/// Why a registry text could not be formatted.
#[derive(Debug)]
pub enum FormatError {
    /// The registry has errors; it is never rewritten.
    Invalid(Invalid),
    /// The canonical form of a valid registry does not validate (for example a name made only of
    /// spaces, which trimming empties). `source` is the canonical text the diagnostics point into.
    WouldBeInvalid(Invalid),
}

/// The canonical text of a registry, or why there is none. `path` is the name shown in
/// diagnostics.
pub(crate) fn format_registry(
    source: &str,
    schema: &Schema,
    path: &str,
) -> Result<String, FormatError> {
    compile(source, schema)
        .into_result(path, source)
        .map_err(FormatError::Invalid)?;
    // Valid means valid JSON without duplicate keys, so serde_json reads the same document.
    let value: Value =
        serde_json::from_str(source.trim_start_matches('\u{feff}')).map_err(|e| {
            FormatError::Invalid(Invalid {
                path: path.to_owned(),
                source: source.to_owned(),
                diagnostics: vec![crate::Diagnostic::error(
                    crate::Code::UnexpectedToken,
                    e.to_string(),
                    crate::Span::default(),
                )],
            })
        })?;
    let text = to_text(&canonical_value(value));
    validate_canonical(text, schema, path)
}

/// Validates a canonical text before it is written.
pub(crate) fn validate_canonical(
    text: String,
    schema: &Schema,
    path: &str,
) -> Result<String, FormatError> {
    compile(&text, schema)
        .into_result(&format!("{path} (formatted)"), &text)
        .map_err(FormatError::WouldBeInvalid)?;
    Ok(text)
}

/// A registry value as canonical text: 2-space indent, LF, one final newline.
pub(crate) fn to_text(value: &Value) -> String {
    // serde_json's pretty printer indents by two spaces and writes non-ASCII as UTF-8.
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

/// The canonical form of a registry value. Expects the shape the schema guarantees; anything
/// else is left where it is rather than guessed at.
pub(crate) fn canonical_value(value: Value) -> Value {
    let Value::Object(mut top) = value else {
        return value;
    };
    if let Some(Value::String(notes)) = top.get_mut("notes") {
        trim_in_place(notes);
        if notes.is_empty() {
            top.insert("notes".into(), Value::Null);
        }
    }
    if let Some(Value::Array(services)) = top.get_mut("services") {
        let mut taken: Vec<Value> = std::mem::take(services)
            .into_iter()
            .map(canonical_service)
            .collect();
        taken.sort_by(|a, b| service_order(a).cmp(&service_order(b)));
        *services = taken;
    }
    Value::Object(ordered(top, TOP_KEYS))
}

/// Ranked services first by rank, then unranked ones; ties by name, byte-wise.
fn service_order(service: &Value) -> (bool, u64, &[u8]) {
    let rank = service.get("rank").and_then(Value::as_u64);
    let name = service
        .get("connectorName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    (rank.is_none(), rank.unwrap_or(0), name.as_bytes())
}

fn canonical_service(service: Value) -> Value {
    let Value::Object(mut service) = service else {
        return service;
    };
    for (key, value) in service.iter_mut() {
        if key == "runtime" || key == "sources" {
            continue;
        }
        if let Value::String(text) = value {
            trim_in_place(text);
            if text.is_empty() && NULLABLE_SERVICE_TEXT.contains(&key.as_str()) {
                *value = Value::Null;
            }
        }
    }
    freeze_id(&mut service);
    fill_from_each_other(&mut service, "officialApiDocsUrl", "bestBaseLink");
    complete_sources(&mut service);
    if let Some(Value::Object(oauth2)) = service.get_mut("oauth2") {
        for key in ["clientId", "clientSecret"] {
            if let Some(Value::Object(requirement)) = oauth2.get_mut(key) {
                *requirement = ordered(std::mem::take(requirement), SECRET_KEYS);
            }
        }
        *oauth2 = ordered(std::mem::take(oauth2), OAUTH2_KEYS);
    }
    if let Some(Value::Object(runtime)) = service.get_mut("runtime") {
        if let Some(Value::Array(routes)) = runtime.get_mut("routes") {
            for route in routes.iter_mut() {
                *route = canonical_route(std::mem::take(route));
            }
        }
        *runtime = ordered(std::mem::take(runtime), RUNTIME_KEYS);
    }
    Value::Object(ordered(service, SERVICE_KEYS))
}

/// A ranked service without an `id` gets the one derived from its name, written out: from then
/// on renaming the connector leaves its docs anchor and generated item where they are, and
/// changing the `id` is a visible (breaking, for `diff`) edit. Unranked services and names that
/// derive no id are left alone (the rules ask for an explicit `id` there).
fn freeze_id(service: &mut Map<String, Value>) {
    let ranked = service.get("rank").is_some_and(|rank| !rank.is_null());
    let has_id = service
        .get("id")
        .and_then(Value::as_str)
        .is_some_and(|id| !id.trim().is_empty());
    if !ranked || has_id {
        return;
    }
    let derived = service
        .get("connectorName")
        .and_then(Value::as_str)
        .and_then(crate::model::derive_id);
    if let Some(id) = derived {
        service.insert("id".to_owned(), Value::String(id));
    }
}

/// Each of the two links is the best guess for the other when only one is known.
fn fill_from_each_other(service: &mut Map<String, Value>, a: &str, b: &str) {
    let get = |s: &Map<String, Value>, k: &str| s.get(k).filter(|v| v.is_string()).cloned();
    match (get(service, a), get(service, b)) {
        (Some(url), None) if service.contains_key(b) => {
            service.insert(b.into(), url);
        }
        (None, Some(url)) if service.contains_key(a) => {
            service.insert(a.into(), url);
        }
        _ => {}
    }
}

/// `sources` trimmed, without blanks or repeats (first kept), then every URL field not yet in it.
fn complete_sources(service: &mut Map<String, Value>) {
    let Some(Value::Array(sources)) = service.get("sources") else {
        return;
    };
    let mut seen: Vec<String> = Vec::with_capacity(sources.len());
    let mut out: Vec<Value> = Vec::with_capacity(sources.len());
    for source in sources {
        match source {
            Value::String(text) => {
                let text = text.trim();
                if !text.is_empty() && !seen.iter().any(|s| s == text) {
                    seen.push(text.to_owned());
                    out.push(Value::String(text.to_owned()));
                }
            }
            other => out.push(other.clone()),
        }
    }
    for field in URL_FIELDS {
        if let Some(Value::String(url)) = service.get(field)
            && !seen.iter().any(|s| s == url)
        {
            seen.push(url.clone());
            out.push(Value::String(url.clone()));
        }
    }
    service.insert("sources".into(), Value::Array(out));
}

fn canonical_route(route: Value) -> Value {
    let Value::Object(mut route) = route else {
        return route;
    };
    for key in ["id", "summary", "requestType"] {
        if let Some(Value::String(text)) = route.get_mut(key) {
            trim_in_place(text);
        }
    }
    if let Some(Value::Array(secrets)) = route.get_mut("secrets") {
        for secret in secrets.iter_mut() {
            if let Value::Object(requirement) = secret {
                if let Some(Value::String(label)) = requirement.get_mut("label") {
                    trim_in_place(label);
                }
                if let Some(Value::Array(names)) = requirement.get_mut("anyOf") {
                    for name in names.iter_mut() {
                        if let Value::String(name) = name {
                            trim_in_place(name);
                        }
                    }
                }
                *secret = Value::Object(ordered(std::mem::take(requirement), SECRET_KEYS));
            }
        }
    }
    // Contract objects get the schema's key order; the JSON Schemas and example values inside
    // them keep the author's.
    order_each(&mut route, "settings", SETTING_KEYS);
    order_each(&mut route, "errors", ROUTE_ERROR_KEYS);
    if let Some(Value::Array(examples)) = route.get_mut("examples") {
        for example in examples.iter_mut() {
            if let Value::Object(fields) = example {
                order_each(fields, "provider", PROVIDER_ANSWER_KEYS);
                if let Some(Value::Object(error)) = fields.get_mut("error") {
                    *error = ordered(std::mem::take(error), EXAMPLE_ERROR_KEYS);
                }
                *fields = ordered(std::mem::take(fields), EXAMPLE_KEYS);
            }
        }
    }
    Value::Object(ordered(route, ROUTE_KEYS))
}

/// Orders the keys of every object in the array `object[key]`.
fn order_each(object: &mut Map<String, Value>, key: &str, order: &[&str]) {
    if let Some(Value::Array(items)) = object.get_mut(key) {
        for item in items.iter_mut() {
            if let Value::Object(fields) = item {
                *fields = ordered(std::mem::take(fields), order);
            }
        }
    }
}

fn trim_in_place(text: &mut String) {
    let trimmed = text.trim();
    if trimmed.len() != text.len() {
        *text = trimmed.to_owned();
    }
}

/// `object` with `order`'s keys first, in that order, then any others as they were.
fn ordered(mut object: Map<String, Value>, order: &[&str]) -> Map<String, Value> {
    let mut out = Map::with_capacity(object.len());
    for key in order {
        if let Some(value) = object.remove(*key) {
            out.insert((*key).to_owned(), value);
        }
    }
    out.extend(object);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn property_names(schema: &Value, pointer: &str) -> Vec<String> {
        schema
            .pointer(pointer)
            .and_then(Value::as_object)
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    }

    #[test]
    fn key_orders_are_the_schemas() {
        let schema: Value = serde_json::from_str(crate::schema::BUNDLED_SCHEMA).expect("schema");
        assert_eq!(property_names(&schema, "/properties"), TOP_KEYS);
        assert_eq!(
            property_names(&schema, "/$defs/service/properties"),
            SERVICE_KEYS
        );
        assert_eq!(
            property_names(&schema, "/$defs/runtime/properties"),
            RUNTIME_KEYS
        );
        assert_eq!(
            property_names(&schema, "/$defs/oauth2/properties"),
            OAUTH2_KEYS
        );
        assert_eq!(
            property_names(&schema, "/$defs/route/properties"),
            ROUTE_KEYS
        );
        assert_eq!(
            property_names(&schema, "/$defs/secretRequirement/properties"),
            SECRET_KEYS
        );
        assert_eq!(
            property_names(&schema, "/$defs/routeSetting/properties"),
            SETTING_KEYS
        );
        assert_eq!(
            property_names(&schema, "/$defs/routeError/properties"),
            ROUTE_ERROR_KEYS
        );
        assert_eq!(
            property_names(&schema, "/$defs/routeExample/properties"),
            EXAMPLE_KEYS
        );
        assert_eq!(
            property_names(&schema, "/$defs/providerAnswer/properties"),
            PROVIDER_ANSWER_KEYS
        );
        assert_eq!(
            property_names(&schema, "/$defs/exampleError/properties"),
            EXAMPLE_ERROR_KEYS
        );
    }

    #[test]
    fn services_are_sorted_trimmed_and_completed() {
        let value = json!({
            "services": [
                {"connectorName": "b", "rank": null, "notes": "  ", "sources": ["x", " x ", ""],
                 "officialApiDocsUrl": null, "bestBaseLink": "https://b", "authDocsUrl": "https://a"},
                {"rank": 2, "connectorName": " A "},
                {"connectorName": "B", "rank": null},
                {"connectorName": "z", "rank": 1},
            ],
            "version": 1,
        });
        let out = canonical_value(value);
        assert_eq!(
            out,
            json!({
                "version": 1,
                "services": [
                    {"id": "z", "rank": 1, "connectorName": "z"},
                    {"id": "a", "rank": 2, "connectorName": "A"},
                    {"rank": null, "connectorName": "B"},
                    {"rank": null, "connectorName": "b", "officialApiDocsUrl": "https://b",
                     "bestBaseLink": "https://b", "authDocsUrl": "https://a", "notes": null,
                     "sources": ["x", "https://b", "https://a"]},
                ],
            })
        );
        let text = to_text(&out);
        assert!(text.starts_with("{\n  \"version\": 1,\n"), "{text}");
        assert!(text.ends_with("}\n") && !text.ends_with("\n\n"));
    }

    #[test]
    fn ranked_services_get_their_derived_id_written_once() {
        let value = json!({"services": [
            {"rank": 1, "connectorName": "Google Sheets"},
            {"id": "sheets_legacy", "rank": 2, "connectorName": "Google Sheets v2"},
            {"rank": 3, "connectorName": "7shifts"},
            {"rank": null, "connectorName": "Unranked"},
        ]});
        let ids: Vec<Value> = canonical_value(value)["services"]
            .as_array()
            .expect("services")
            .iter()
            .map(|service| service.get("id").cloned().unwrap_or(Value::Null))
            .collect();
        // Derived and written; an explicit id kept; no id from a name that starts with a digit;
        // unranked services keep deriving theirs.
        assert_eq!(
            ids,
            [
                json!("google_sheets"),
                json!("sheets_legacy"),
                Value::Null,
                Value::Null
            ]
        );
    }
}
