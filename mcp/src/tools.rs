//! The five tools: their exact input schemas, how their arguments are read, and what they answer.
//!
//! Arguments that do not fit a tool's schema are a protocol error (`-32602`, invalid params)
//! whose message names the tool and what is wrong. A tool that ran and found nothing (an unknown
//! id, a registry that does not load, a refused scaffold) answers with a tool error (`isError`)
//! whose text says why and whose structured content carries the details.

use std::path::Path;
use std::sync::Arc;

use rmcp::ErrorData;
use rmcp::model::{CallToolResult, ContentBlock, JsonObject, Tool, ToolAnnotations};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use workerflow_names::did_you_mean;
use workerflow_registry::model::{AuthType, RequestType};
use workerflow_registry::scaffold::{self, Refusal, handler_items, unified_diff};
use workerflow_registry::search::Query;
use workerflow_registry::{Route, Service, Source, display_path};

use crate::catalog::{Catalog, Checked, State, Unusable, Valid};

/// Results `search_services` returns when the caller gives no `limit`, and the most it returns.
const DEFAULT_LIMIT: u64 = 10;
const MAX_LIMIT: u64 = 100;

/// Every tool this server offers, in the order `tools/list` gives them.
pub(crate) fn definitions() -> Vec<Tool> {
    let auth_names: Vec<&str> = AuthType::ALL.iter().map(|auth| auth.as_str()).collect();
    let read_only = ToolAnnotations::new()
        .read_only(true)
        .destructive(false)
        .idempotent(true)
        .open_world(false);
    let id_schema = |what: &str| {
        schema(json!({
            "type": "object",
            "properties": {"id": {"type": "string", "description": what}},
            "required": ["id"],
            "additionalProperties": false
        }))
    };
    vec![
        Tool::new(
            "search_services",
            "Find services in the connector registry. Matches like the docs page's search box: every \
             whitespace-separated term must occur (ignoring case) in the service's name, id, \
             vendor, auth type, route ids, secret names, URLs or notes. Results are ranked: exact \
             id or name first, then names that start with the query, then name/vendor matches, then \
             the rest; ties by the registry's rank.",
            schema(json!({
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "Search terms, e.g. \"slack\" or \"crm oauth2\"; empty matches every service"},
                    "auth": {"type": "string", "enum": auth_names, "description": "Only services with this auth type"},
                    "has_routes": {"type": "boolean", "description": "true: only services with runtime routes; false: only services without"},
                    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT, "description": "At most this many results"}
                },
                "required": ["query"],
                "additionalProperties": false
            })),
        )
        .with_annotations(read_only.clone()),
        Tool::new(
            "get_service",
            "Every field of one service as the registry declares it, with its routes and their contracts.",
            id_schema("The service id, e.g. \"slack\" (search_services finds ids)"),
        )
        .with_annotations(read_only.clone()),
        Tool::new(
            "get_route",
            "One route's contract: input and output JSON Schemas, errors, examples, secrets, \
             settings, hosts, auth, docs link and request type, with the names of the generated \
             Rust items a #[connector] handler of the route uses. For a route whose auth is \
             oauth2: the service's OAuth app and how a call names its connection.",
            id_schema("The route id, e.g. \"slack_message\""),
        )
        .with_annotations(read_only.clone()),
        Tool::new(
            "check_registry",
            "Validate connector-registry/services.json as `workerflow-registry check` does (JSON \
             syntax, the schema, the rules) and return every diagnostic with its code, message, \
             line, column, JSON pointer and help. `workerflow-registry explain CODE` explains a code.",
            schema(json!({"type": "object", "properties": {}, "additionalProperties": false})),
        )
        .with_annotations(read_only.clone()),
        Tool::new(
            "scaffold_connector",
            "What `workerflow-registry new --dry-run` would do to declare a route (and its service \
             when new): the registry diff and the connector, test and module files with their \
             contents. Writes nothing; run `workerflow-registry new` with the same values to write them.",
            schema(json!({
                "type": "object",
                "properties": {
                    "service": {"type": "string", "description": "The service's connector name, e.g. \"Acme CRM\" (an existing one is matched ignoring case)"},
                    "route": {"type": "string", "description": "The new route id: lower-case letters, digits and _, e.g. \"acme_contact_upsert\""},
                    "secrets": {"type": "array", "items": {"type": "string"}, "description": "The route's secret: its env-style names, alternatives in lookup order, e.g. [\"ACME_API_KEY\"]"},
                    "auth": {"type": "string", "enum": auth_names, "description": "A new service's auth type (unknown when omitted)"},
                    "docs": {"type": "string", "description": "A new service's official API docs URL (https)"},
                    "request_type": {"type": "string", "enum": ["sync", "async"], "default": "sync", "description": "sync: callers wait for the output; async: the call is queued"},
                    "summary": {"type": "string", "description": "The route's one-line summary"}
                },
                "required": ["service", "route"],
                "additionalProperties": false
            })),
        )
        .with_annotations(read_only),
    ]
}

fn schema(value: Value) -> Arc<JsonObject> {
    match value {
        Value::Object(object) => Arc::new(object),
        _ => Arc::default(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchArgs {
    query: String,
    #[serde(default)]
    auth: Option<AuthType>,
    #[serde(default)]
    has_routes: Option<bool>,
    #[serde(default)]
    limit: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdArgs {
    id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScaffoldArgs {
    service: String,
    route: String,
    #[serde(default)]
    secrets: Vec<String>,
    #[serde(default)]
    auth: Option<AuthType>,
    #[serde(default)]
    docs: Option<String>,
    #[serde(default)]
    request_type: Option<RequestType>,
    #[serde(default)]
    summary: Option<String>,
}

fn arguments<T: DeserializeOwned>(
    tool: &str,
    arguments: Option<JsonObject>,
) -> Result<T, ErrorData> {
    let value = Value::Object(arguments.unwrap_or_default());
    serde_json::from_value(value).map_err(|error| {
        ErrorData::invalid_params(format!("invalid arguments for {tool}: {error}"), None)
    })
}

/// Runs tool `name`. Blocking (it may load the registry): the server calls it off the async
/// threads.
pub(crate) fn call(
    catalog: &Catalog,
    name: &str,
    args: Option<JsonObject>,
) -> Result<CallToolResult, ErrorData> {
    match name {
        "search_services" => {
            let args: SearchArgs = arguments(name, args)?;
            let limit = args.limit.unwrap_or(DEFAULT_LIMIT);
            if !(1..=MAX_LIMIT).contains(&limit) {
                return Err(ErrorData::invalid_params(
                    format!(
                        "invalid arguments for {name}: `limit` must be 1 to {MAX_LIMIT}, found {limit}"
                    ),
                    None,
                ));
            }
            Ok(with_valid(catalog, |valid| search(valid, &args, limit)))
        }
        "get_service" => {
            let IdArgs { id } = arguments(name, args)?;
            Ok(with_valid(catalog, |valid| get_service(valid, &id)))
        }
        "get_route" => {
            let IdArgs { id } = arguments(name, args)?;
            Ok(with_valid(catalog, |valid| get_route(valid, &id)))
        }
        "check_registry" => {
            let NoArgs {} = arguments(name, args)?;
            Ok(check_registry(catalog))
        }
        "scaffold_connector" => {
            let args: ScaffoldArgs = arguments(name, args)?;
            Ok(scaffold_connector(catalog, args))
        }
        _ => {
            let names: Vec<String> = definitions()
                .into_iter()
                .map(|t| t.name.into_owned())
                .collect();
            let hint = did_you_mean(name, names.iter().map(String::as_str))
                .map(|near| format!("; did you mean `{near}`?"))
                .unwrap_or_default();
            Err(ErrorData::invalid_params(
                format!("unknown tool `{name}`{hint} (tools: {})", names.join(", ")),
                None,
            ))
        }
    }
}

/// The tool error for a registry that is missing or unreadable.
fn unusable(why: Unusable) -> CallToolResult {
    match why {
        Unusable::NoRegistry(message) => load_failure("no_registry", &message),
        Unusable::Unreadable(message) => load_failure("unreadable", &message),
    }
}

/// Runs `answer` on the registry when it loads; otherwise a tool error that says why.
fn with_valid(catalog: &Catalog, answer: impl FnOnce(&Valid) -> CallToolResult) -> CallToolResult {
    let snapshot = match catalog.current() {
        Ok(snapshot) => snapshot,
        Err(why) => return unusable(why),
    };
    match &snapshot.state {
        State::Valid(valid) => answer(valid),
        State::Invalid(checked) => invalid(
            "the registry does not load; fix these problems (check_registry lists them)",
            checked,
        ),
    }
}

/// A tool error for a registry with errors: `headline`, then the diagnostics.
fn invalid(headline: &str, checked: &Checked) -> CallToolResult {
    let mut details = checked.report.clone();
    if let Value::Object(object) = &mut details {
        object.insert("error".into(), "invalid_registry".into());
    }
    failure(&format!("{headline}:\n{}", checked.text), details)
}

/// A tool error for a registry that cannot be used at all (`kind`: `no_registry`, `unreadable`).
fn load_failure(kind: &str, message: &str) -> CallToolResult {
    failure(message, json!({"error": kind, "message": message}))
}

/// A tool error: `message` for the model to read, `details` as structured content.
fn failure(message: &str, details: Value) -> CallToolResult {
    let mut result = CallToolResult::structured_error(details);
    result.content = vec![ContentBlock::text(message)];
    result
}

/// A result: `value` as structured content and as JSON text.
fn success(value: Value) -> CallToolResult {
    let mut result = CallToolResult::structured(value);
    if let Some(text) = result
        .structured_content
        .as_ref()
        .and_then(|v| serde_json::to_string_pretty(v).ok())
    {
        result.content = vec![ContentBlock::text(text)];
    }
    result
}

fn search(valid: &Valid, args: &SearchArgs, limit: u64) -> CallToolResult {
    let query = Query::new(&args.query);
    let services = &valid.registry.services;
    let mut found: Vec<(workerflow_registry::search::Tier, u32, usize)> = services
        .iter()
        .zip(&valid.keys)
        .enumerate()
        .filter(|(_, (service, key))| {
            args.auth.is_none_or(|auth| service.auth_type == auth)
                && args
                    .has_routes
                    .is_none_or(|wanted| wanted != service.routes().is_empty())
                && query.matches(key)
        })
        .map(|(index, (service, key))| (query.tier(key), service.rank.unwrap_or(u32::MAX), index))
        .collect();
    let total = found.len();
    let limit = usize::try_from(limit).unwrap_or(usize::MAX).min(total);
    if limit < total {
        found.select_nth_unstable(limit);
        found.truncate(limit);
    }
    found.sort_unstable();
    let results: Vec<Value> = found
        .iter()
        .map(|&(_, _, index)| summary(&services[index]))
        .collect();
    success(json!({"query": args.query, "total": total, "results": results}))
}

fn summary(service: &Service) -> Value {
    json!({
        "id": service.id,
        "name": service.connector_name,
        "vendor": service.official_vendor_name,
        "auth": service.auth_type.as_str(),
        "confidence": service.confidence.as_str(),
        "docsUrl": service.docs_url(),
        "routes": service.routes().iter().map(|route| route.id.as_str()).collect::<Vec<_>>(),
        "oauth2": service.oauth2.is_some(),
    })
}

fn get_service(valid: &Valid, id: &str) -> CallToolResult {
    match valid.service_index(id) {
        Some(index) => {
            let service = &valid.registry.services[index];
            success(serde_json::to_value(service).unwrap_or_default())
        }
        None => {
            let ids = valid.registry.services.iter().map(|s| s.id.as_str());
            let nearest = did_you_mean(id, ids).or_else(|| nearest_by_search(valid, id));
            let hint = "search_services finds services by name";
            unknown("service", id, nearest, hint)
        }
    }
}

fn get_route(valid: &Valid, id: &str) -> CallToolResult {
    let Some((s, r)) = valid.route_index(id) else {
        let hint = "get_service lists a service's routes";
        return unknown("route", id, did_you_mean(id, valid.route_ids()), hint);
    };
    let service = &valid.registry.services[s];
    let route = &service.routes()[r];
    success(route_contract(service, route))
}

fn route_contract(service: &Service, route: &Route) -> Value {
    json!({
        "id": route.id,
        "summary": route.summary,
        "requestType": route.request_type.as_str(),
        "http": {"method": "POST", "path": format!("/api/{}", route.id)},
        "service": {"id": service.id, "name": service.connector_name, "auth": service.auth_type.as_str(), "oauth2": service.oauth2},
        "contractDeclared": route.has_contract(),
        "auth": route.auth.map(AuthType::as_str),
        "connection": connection(route),
        "docsUrl": route.docs_url,
        "secrets": route.secrets,
        "settings": route.settings,
        "hosts": route.hosts,
        "input": route.input,
        "output": route.output,
        "errors": route.errors,
        "examples": route.examples,
        "rustItems": handler_items(route),
    })
}

/// How a call to a route whose `auth` is `oauth2` names its OAuth connection, and what it
/// uses without one; null for other routes.
fn connection(route: &Route) -> Value {
    if route.auth != Some(AuthType::Oauth2) {
        return Value::Null;
    }
    let fallback = route.connection_fallback();
    json!({
        "header": "workerflow-connection",
        "envelopeField": "connection",
        "required": fallback.is_empty(),
        "withoutConnection": fallback,
    })
}

/// A tool error for a `kind` id that is not in the registry, naming the `nearest` one, or
/// `hint` when none is near.
fn unknown(kind: &str, id: &str, nearest: Option<&str>, hint: &str) -> CallToolResult {
    let message = match nearest {
        Some(near) => format!("no {kind} has id `{id}`; the nearest id is `{near}`"),
        None => format!("no {kind} has id `{id}`, and none is near it; {hint}"),
    };
    failure(
        &message,
        json!({"error": format!("unknown_{kind}"), "id": id, "nearest": nearest}),
    )
}

/// When no id is a near spelling: the longest id that `id` starts with (`hubspot_crm` →
/// `hubspot`), else the best search match for `id`'s words.
fn nearest_by_search<'a>(valid: &'a Valid, id: &str) -> Option<&'a str> {
    let services = &valid.registry.services;
    let prefix = services
        .iter()
        .map(|service| service.id.as_str())
        .filter(|candidate| {
            id.strip_prefix(candidate)
                .is_some_and(|rest| rest.starts_with(['_', '-']))
        })
        .max_by_key(|candidate| candidate.len());
    if prefix.is_some() {
        return prefix;
    }
    let query = Query::new(&id.replace(['_', '-'], " "));
    valid
        .registry
        .services
        .iter()
        .zip(&valid.keys)
        .filter(|(_, key)| !query.is_empty() && query.matches(key))
        .min_by_key(|(service, key)| (query.tier(key), service.rank.unwrap_or(u32::MAX)))
        .map(|(service, _)| service.id.as_str())
}

fn check_registry(catalog: &Catalog) -> CallToolResult {
    let snapshot = match catalog.current() {
        Ok(snapshot) => snapshot,
        Err(why) => return unusable(why),
    };
    let (checked, valid) = match &snapshot.state {
        State::Valid(valid) => (&valid.checked, true),
        State::Invalid(checked) => (checked, false),
    };
    let mut answer = checked.report.clone();
    if let Value::Object(object) = &mut answer {
        object.insert("valid".into(), valid.into());
        object.insert("services".into(), checked.services.into());
        object.insert("routes".into(), checked.routes.into());
    }
    let mut result = success(answer);
    // The rustc-style text reads better than JSON for a model; the JSON stays structured.
    let headline = if valid {
        format!(
            "ok: {} services, {} runtime routes\n",
            checked.services, checked.routes
        )
    } else {
        String::new()
    };
    result.content = vec![ContentBlock::text(format!("{}{headline}", checked.text))];
    result
}

fn scaffold_connector(catalog: &Catalog, args: ScaffoldArgs) -> CallToolResult {
    let path = match catalog.location() {
        Ok(path) => path.to_path_buf(),
        Err(message) => return load_failure("no_registry", message),
    };
    let request = scaffold::Request {
        service: args.service,
        route: Some(args.route),
        auth: args.auth,
        secrets: args.secrets,
        docs: args.docs,
        request_type: args.request_type.unwrap_or(RequestType::Sync),
        summary: args.summary,
    };
    match plan(&path, &request) {
        Ok(answer) => success(answer),
        Err(result) => *result,
    }
}

/// The plan as a value, or the tool error (boxed: a result is large) that says why there is none.
fn plan(path: &Path, request: &scaffold::Request) -> Result<Value, Box<CallToolResult>> {
    let unreadable = |error: workerflow_registry::LoadError| {
        let message = workerflow_registry::ErrorChain(&error).to_string();
        Box::new(load_failure("unreadable", &message))
    };
    let file = Source::open(path).map_err(unreadable)?;
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let crate_root = scaffold::crate_root(path);
    let plan = scaffold::plan(
        request,
        path,
        file.text(),
        file.schema(),
        &crate_root,
        false,
    )
    .map_err(|refusal| match refusal {
        Refusal::Request(message) => Box::new(failure(
            &format!("{message}\nnothing was planned"),
            json!({"error": "refused", "message": message}),
        )),
        Refusal::Invalid(rejected) => Box::new(invalid(
            "the registry is invalid, or would be after the edit",
            &Checked::of(&rejected.report(), 0, 0),
        )),
    })?;
    let relative = |file: &Path| {
        file.strip_prefix(&crate_root)
            .map_or_else(|_| display_path(file), |p| p.display().to_string())
    };
    let registry = relative(&absolute);
    let files: Vec<Value> = plan
        .files
        .iter()
        .map(|file| {
            json!({
                "path": relative(&file.path),
                "action": if file.exists { "replace" } else { "create" },
                "contents": file.contents,
            })
        })
        .collect();
    Ok(json!({
        "registry": registry,
        "registryDiff": unified_diff(&plan.registry_before, &plan.registry_after, &registry),
        "files": files,
        "serviceId": plan.service_id,
        "serviceIsNew": plan.service_is_new,
        "testName": plan.test_name,
        // Why `tests/examples.rs` is or is not among the files.
        "examplesTest": match plan.examples_test {
            Some(scaffold::ExamplesTest::Planned) => "planned",
            Some(scaffold::ExamplesTest::Exists) => "exists",
            Some(scaffold::ExamplesTest::NoTestingFeature) => "noTestingFeature",
            None => "none",
        },
        "rustfmt": plan.formatted,
        "written": false,
    }))
}
