//! `docs/openapi.json`: an OpenAPI 3.1 document of the HTTP API a server built on the toolkit
//! gives a registry's routes, generated from the routes and their contracts. The server answers
//! `GET /openapi.json` with the same bytes (for a crate's own routes, the generated module's
//! `registry::OPENAPI_JSON`).
//!
//! The document is streamed: `paths` and `components/schemas` serialize one route at a time,
//! borrowing the contract schemas from the registry, so a 10,000-route registry never builds
//! (or clones its schemas into) one document tree.

use std::io::{self, Write as _};

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Value, json};

use crate::model::{AuthType, OAuth2, Registry, RequestType, Route, Service};

/// The file name beside the two pages.
pub(crate) const FILE_NAME: &str = "openapi.json";

/// The document as canonical text: 2-space indent, LF, one final newline.
#[cfg_attr(not(feature = "unstable-internals"), allow(unreachable_pub))] // `internals`
pub fn render(registry: &Registry) -> String {
    let mut out = Vec::with_capacity(64 * 1024);
    // Writing to a Vec cannot fail, and serde_json writes valid UTF-8.
    let _ = write_to(registry, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// [`render`]'s bytes, written to `writer` as they are produced.
pub(crate) fn write_to(registry: &Registry, writer: impl io::Write) -> io::Result<()> {
    // The formatter writes a few bytes at a time; buffer them.
    let mut writer = io::BufWriter::with_capacity(64 * 1024, writer);
    serde_json::to_writer_pretty(&mut writer, &Document(registry)).map_err(io::Error::other)?;
    writer.write_all(b"\n")?;
    writer.flush()
}

/// The standard error body of every failure.
fn error_body() -> Value {
    json!({
        "type": "object",
        "required": ["ok", "error"],
        "properties": {
            "ok": {"const": false},
            "error": {
                "type": "object",
                "required": ["code", "message", "traceId"],
                "properties": {
                    "code": {"type": "string", "description": "The error class, such as `invalid_input`, `config`, `provider`, `gateway`, `unauthorized`."},
                    "message": {"type": "string"},
                    "route": {"type": "string", "description": "The route, when the request named one."},
                    "traceId": {"type": "string"},
                    "problems": {
                        "type": "array",
                        "description": "For `invalid_input`: every problem the route's input schema (and then its handler) found.",
                        "items": {
                            "type": "object",
                            "required": ["field", "pointer", "message"],
                            "properties": {
                                "field": {"type": "string", "description": "The field's path (`items[0].name`), or `body` for the input as a whole."},
                                "pointer": {"type": "string", "description": "The JSON pointer of the value at fault (RFC 6901; empty for the whole input)."},
                                "message": {"type": "string"}
                            }
                        }
                    }
                }
            }
        }
    })
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    })
}

/// A contract schema placed in `components/schemas`, borrowed. One with its own `$defs` gets
/// an `$id` (last, where inserting it would put it), so its `#/$defs/...` references resolve
/// inside it, not against this document.
struct Component<'a> {
    schema: &'a Value,
    name: String,
}

impl Serialize for Component<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.schema {
            Value::Object(object)
                if object.contains_key("$defs") && !object.contains_key("$id") =>
            {
                let mut map = serializer.serialize_map(Some(object.len() + 1))?;
                for (key, value) in object {
                    map.serialize_entry(key, value)?;
                }
                map.serialize_entry("$id", &format!("urn:workerflow:{}", self.name))?;
                map.end()
            }
            other => other.serialize(serializer),
        }
    }
}

/// The `components/schemas` entries a route contributes: its input schema, and a sync route's
/// output schema.
fn route_components(route: &Route) -> impl Iterator<Item = Component<'_>> {
    let input = route.input.as_ref().map(|schema| Component {
        schema,
        name: format!("{}_input", route.id),
    });
    let output = route
        .output
        .as_ref()
        .filter(|_| route.request_type == RequestType::Sync)
        .map(|schema| Component {
            schema,
            name: format!("{}_output", route.id),
        });
    input.into_iter().chain(output)
}

/// The name of a service's OAuth 2.0 security scheme in `components/securitySchemes`.
fn oauth_scheme_name(service: &Service) -> String {
    format!("oauth2_{}", service.id)
}

/// A service's OAuth 2.0 security scheme: the authorization code flow of its `oauth2` block.
fn oauth_scheme(service: &Service, app: &OAuth2) -> Value {
    let scopes: Map<String, Value> = app
        .scopes
        .iter()
        .map(|scope| (scope.clone(), Value::String(String::new())))
        .collect();
    json!({
        "type": "oauth2",
        "description": format!(
            "{}'s OAuth 2.0 app. The server runs the flow (`POST /api/connections`, then `GET /oauth/callback`) and holds and refreshes the tokens; a call names its connection in the `workerflow-connection` header and never sends a provider token.",
            service.connector_name
        ),
        "flows": {"authorizationCode": {
            "authorizationUrl": app.authorization_url,
            "tokenUrl": app.token_url,
            "refreshUrl": app.token_url,
            "scopes": scopes,
        }},
    })
}

/// The `workerflow-connection` header of a route whose `auth` is `oauth2`: required unless a
/// secret stands in for a connection (`unlessConnection`).
fn connection_parameter(route: &Route) -> Value {
    let fallback = !route.connection_fallback().is_empty();
    let description = if fallback {
        "The OAuth connection whose access token the call uses. Without one the route uses its `unlessConnection` secret."
    } else {
        "The OAuth connection whose access token the call uses."
    };
    json!({
        "name": "workerflow-connection",
        "in": "header",
        "required": !fallback,
        "description": description,
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"},
    })
}

fn operation(route: &Route, service: &Service) -> Value {
    let input_name = format!("{}_input", route.id);
    let output_name = format!("{}_output", route.id);
    let input = route.input.as_ref().map_or_else(
        || json!({"description": "No contract declared: any JSON value."}),
        |_| json!({"$ref": format!("#/components/schemas/{input_name}")}),
    );
    let mut responses = Map::new();
    match route.request_type {
        RequestType::Sync => {
            let output = route.output.as_ref().map_or_else(
                || json!({"description": "No contract declared.", "type": "object"}),
                |_| json!({"$ref": format!("#/components/schemas/{output_name}")}),
            );
            responses.insert(
                "200".to_owned(),
                json!({"description": "The route's output.", "content": {"application/json": {"schema": output}}}),
            );
        }
        RequestType::Async => {
            responses.insert(
                "202".to_owned(),
                json!({"description": "Queued: the input passed the route's checks; the output is recorded with the run.",
                       "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Queued"}}}}),
            );
        }
    }
    for error in route.errors.as_deref().unwrap_or_default() {
        for status in &error.status {
            let description = format!("`{}`: {}", error.class.as_str(), error.description);
            let entry = responses
                .entry(status.clone())
                .or_insert_with(|| error_response(""));
            if let Some(Value::String(text)) = entry.get_mut("description") {
                if !text.is_empty() {
                    text.push(' ');
                }
                text.push_str(&description);
            }
            if let Some(body) = &error.body
                && let Some(content) = entry.pointer_mut("/content/application~1json")
            {
                content["schema"] = body.clone();
            }
        }
    }
    let mut request_examples = Map::new();
    for (n, example) in route
        .examples
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let key = format!("example{}", n + 1);
        request_examples.insert(
            key.clone(),
            json!({"summary": example.name, "value": example.input}),
        );
        let (status, value) = match (&example.output, &example.error) {
            (Some(output), _) if route.request_type == RequestType::Sync => {
                ("200".to_owned(), output.clone())
            }
            (Some(_), _) => (
                "202".to_owned(),
                json!({"ok": true, "route": route.id, "traceId": "<trace id>", "status": "queued"}),
            ),
            (None, Some(error)) => (
                error.status.to_string(),
                json!({"ok": false, "error": {"code": error.class.as_str(), "message": error.message,
                    "route": route.id, "traceId": "<trace id>"}}),
            ),
            (None, None) => continue,
        };
        // The status key the example's answer falls under (`502` or `5XX`).
        let slot = responses
            .keys()
            .find(|k| **k == status)
            .cloned()
            .or_else(|| {
                responses
                    .keys()
                    .find(|k| {
                        k.ends_with("XX") && k.as_bytes().first() == status.as_bytes().first()
                    })
                    .cloned()
            });
        if let Some(content) = slot
            .and_then(|slot| responses.get_mut(&slot))
            .and_then(|r| r.pointer_mut("/content/application~1json"))
            && let Value::Object(content) = content
        {
            let examples = content
                .entry("examples")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(examples) = examples {
                examples.insert(key, json!({"summary": example.name, "value": value}));
            }
        }
    }
    // Answered by the server itself for every route.
    for (status, description) in [
        ("401", "Missing or wrong bearer token."),
        (
            "404",
            "No such route (`unknown_route`), or one this deployment does not run (`route_disabled`: ENABLED_HTTP_ROUTES / DISABLED_HTTP_ROUTES).",
        ),
        ("413", "The body is larger than the limit."),
        ("415", "The content type is not `application/json`."),
        ("503", "The server is shutting down or the queue is full."),
    ] {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| error_response(description));
    }
    if !responses.contains_key("400") {
        responses.insert("400".to_owned(), error_response("The body is not JSON."));
    }
    let mut sorted: Vec<(String, Value)> = responses.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut description = format!("Request type: {}.", route.request_type.as_str());
    if let Some(auth) = route.auth {
        description.push_str(&format!(" Provider auth: {}.", auth.as_str()));
    }
    if !route.has_contract() {
        description.push_str(" No contract declared.");
    }
    let mut op = json!({
        "operationId": route.id,
        "summary": route.summary,
        "description": description,
        "tags": [service.connector_name],
        "requestBody": {"required": true, "content": {"application/json": request_content(input, request_examples)}},
        "responses": Value::Object(sorted.into_iter().collect()),
    });
    if let Some(url) = &route.docs_url {
        op["externalDocs"] = json!({"description": "The provider's API", "url": url});
    }
    // The rules make an `oauth2` route's service have the block; without one the route is
    // described as any other.
    if route.auth == Some(AuthType::Oauth2)
        && let Some(app) = &service.oauth2
    {
        op["parameters"] = json!([connection_parameter(route)]);
        let with_connection = json!({"bearer": [], oauth_scheme_name(service): app.scopes});
        // With a fallback secret, a call naming no connection is the bearer alone.
        op["security"] = if !route.connection_fallback().is_empty() {
            json!([with_connection, {"bearer": []}])
        } else {
            json!([with_connection])
        };
    }
    op
}

fn request_content(schema: Value, examples: Map<String, Value>) -> Value {
    let mut content = json!({ "schema": schema });
    if !examples.is_empty() {
        content["examples"] = Value::Object(examples);
    }
    content
}

/// The OpenAPI 3.1 document, serialized as it is walked (see the module docs).
struct Document<'a>(&'a Registry);

impl Serialize for Document<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let registry = self.0;
        let mut map = serializer.serialize_map(Some(7))?;
        map.serialize_entry("openapi", "3.1.0")?;
        map.serialize_entry(
            "jsonSchemaDialect",
            "https://json-schema.org/draft/2020-12/schema",
        )?;
        map.serialize_entry(
            "info",
            &json!({
                "title": format!("{} API", registry.display_name()),
                "version": registry.updated_at,
                "description": "The HTTP API of a server built on the WorkerFlow toolkit that runs these routes (`workerflow serve` for the toolkit's own routes), generated from the registry by `workerflow-registry build`. Every request except `GET /health` carries `authorization: Bearer <token>`. A route's request body is its input; the server wraps it as `{\"body\": <input>}` for the handler."
            }),
        )?;
        map.serialize_entry("security", &json!([{"bearer": []}]))?;
        map.serialize_entry("paths", &Paths(registry))?;
        map.serialize_entry("components", &Components(registry))?;
        map.end()
    }
}

/// `paths`: the server's own endpoints, then `POST /api/<route>` per route, built one at a time.
struct Paths<'a>(&'a Registry);

impl Serialize for Paths<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry(
            "/health",
            &json!({"get": {"operationId": "health", "summary": "Liveness.", "security": [],
                "responses": {"200": {"description": "The server runs.", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["ok"], "properties": {"ok": {"const": true}}}}}}}}}),
        )?;
        map.serialize_entry(
            "/health/config",
            &json!({"get": {"operationId": "health_config", "summary": "Per route: enabled (ENABLED_HTTP_ROUTES / DISABLED_HTTP_ROUTES), implemented and configured, or the unmet requirements (names only, never values).",
                "responses": {"200": {"description": "The configuration report.", "content": {"application/json": {"schema": {"type": "object"}}}},
                              "401": error_response("Missing or wrong bearer token.")}}}),
        )?;
        map.serialize_entry(
            "/api/routes",
            &json!({"get": {"operationId": "list_routes", "summary": "The linked routes with their secret requirements and settings (names only), and whether each is enabled.",
                "responses": {"200": {"description": "The routes.", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["ok", "routes"], "properties": {"ok": {"const": true}, "routes": {"type": "array", "items": {"type": "object"}}}}}}},
                              "401": error_response("Missing or wrong bearer token.")}}}),
        )?;
        map.serialize_entry(
            "/openapi.json",
            &json!({"get": {"operationId": "openapi", "summary": "This document.",
                "responses": {"200": {"description": "The OpenAPI document.", "content": {"application/json": {"schema": {"type": "object"}}}},
                              "401": error_response("Missing or wrong bearer token.")}}}),
        )?;
        for (service, route) in self.0.routes() {
            let op = operation(route, service);
            map.serialize_entry(&format!("/api/{}", route.id), &json!({ "post": op }))?;
        }
        map.end()
    }
}

/// `components`: the bearer scheme, an OAuth 2.0 scheme per service with an `oauth2` block, and
/// the schemas, the contract ones borrowed.
struct Components<'a>(&'a Registry);

impl Serialize for Components<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        let mut schemes = Map::new();
        schemes.insert(
            "bearer".to_owned(),
            json!({"type": "http", "scheme": "bearer"}),
        );
        for service in &self.0.services {
            if let Some(app) = &service.oauth2 {
                schemes.insert(oauth_scheme_name(service), oauth_scheme(service, app));
            }
        }
        map.serialize_entry("securitySchemes", &schemes)?;
        map.serialize_entry("schemas", &Schemas(self.0))?;
        map.end()
    }
}

struct Schemas<'a>(&'a Registry);

impl Serialize for Schemas<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("Error", &error_body())?;
        map.serialize_entry(
            "Queued",
            &json!({"type": "object", "required": ["ok", "route", "traceId", "status"], "properties": {
                "ok": {"const": true}, "route": {"type": "string"}, "traceId": {"type": "string"}, "status": {"const": "queued"}}}),
        )?;
        for (_, route) in self.0.routes() {
            for component in route_components(route) {
                map.serialize_entry(&component.name, &component)?;
            }
        }
        map.end()
    }
}
