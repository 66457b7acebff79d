//! The route sections of both pages: what each route does, its auth, docs link, secrets, the
//! input and output fields of its contract, its errors and its examples as the HTTP API sees
//! them. Written in Rust like the rows; only routes have contracts, so this is never per service.

use std::fmt::{self, Write as _};

use serde_json::Value;

use super::links::{self, route_anchor};
use super::markdown;
use crate::model::{AuthType, Example, Registry, RequestType, Route, Service, SettingKind};

/// Above this many routes the HTML page's route sections are `<noscript>` text that its script
/// shows one at a time, when a link names one: 500 sections are ~1 MB of page to style and lay
/// out (the generated benchmark's 10,000 made scrolling the table miss frames).
pub(super) const ROUTE_SECTIONS_INLINE_LIMIT: usize = 500;

/// A field of an object schema: name, type, required, description.
struct Field {
    name: String,
    kind: String,
    required: bool,
    description: String,
}

/// The fields of an object schema's `properties`, in schema order.
fn fields(schema: Option<&Value>) -> Option<Vec<Field>> {
    let schema = schema?;
    let properties = schema.get("properties")?.as_object()?;
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    Some(
        properties
            .iter()
            .map(|(name, property)| Field {
                name: name.clone(),
                kind: kind(property),
                required: required.contains(&name.as_str()),
                description: property
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            })
            .collect(),
    )
}

/// `string`, `string or null`, `true` for a `const`, `any` without a type.
fn kind(property: &Value) -> String {
    if let Some(constant) = property.get("const") {
        return constant.to_string();
    }
    match property.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "any".to_owned(),
    }
}

/// The answer the HTTP API gives for an example: status and body.
fn answer(route: &Route, example: &Example) -> Option<(u16, Value)> {
    match (&example.output, &example.error) {
        (Some(output), _) => Some(match route.request_type {
            RequestType::Sync => (200, output.clone()),
            RequestType::Async => (
                202,
                serde_json::json!({"ok": true, "route": route.id, "traceId": "<trace id>", "status": "queued"}),
            ),
        }),
        (None, Some(error)) => Some((
            error.status,
            serde_json::json!({"ok": false, "error": {"code": error.class.as_str(),
                "message": error.message, "route": route.id, "traceId": "<trace id>"}}),
        )),
        (None, None) => None,
    }
}

fn pairs<'a>(registry: &'a Registry, routes: &[(usize, usize)]) -> Vec<(&'a Service, &'a Route)> {
    routes
        .iter()
        .filter_map(|&(s, r)| {
            let service = registry.services.get(s)?;
            Some((service, service.routes().get(r)?))
        })
        .collect()
}

/// A Markdown code fence longer than any backtick run in `text`, so the text cannot close it.
fn fence(text: &str) -> String {
    "`".repeat((markdown::longest_backtick_run(text) + 1).max(3))
}

/// `GitHub repository: `GITHUB_REPO`` and, for a base URL, its kind and default; `code` renders
/// a name or value, `text` escapes prose, for either page.
fn setting_items(
    route: &Route,
    code: impl Fn(&str) -> String,
    text: impl Fn(&str) -> String,
) -> Option<String> {
    let settings = route.settings.as_ref()?;
    if settings.is_empty() {
        return Some("none".to_owned());
    }
    let items: Vec<String> = settings
        .iter()
        .map(|setting| {
            let mut item = format!("{}: {}", text(&setting.label), code(&setting.name));
            match (setting.kind, &setting.default) {
                (SettingKind::BaseUrl, Some(default)) => {
                    let _ = write!(item, " (base URL, default {})", code(default));
                }
                (SettingKind::BaseUrl, None) => item.push_str(" (base URL)"),
                (SettingKind::Text, Some(default)) => {
                    let _ = write!(item, " (default {})", code(default));
                }
                (SettingKind::Text, None) => {}
            }
            item
        })
        .collect();
    Some(items.join("; "))
}

/// The Markdown route sections.
pub(super) fn write_markdown(
    sink: &mut dyn fmt::Write,
    registry: &Registry,
    routes: &[(usize, usize)],
) -> fmt::Result {
    let esc = |out: &mut String, text: &str| markdown::escape_into(out, text, false);
    for (service, route) in pairs(registry, routes) {
        let mut out = String::new();
        out.push_str("\n### Route `");
        esc(&mut out, &route.id);
        out.push_str("`\n\n");
        esc(&mut out, &route.summary);
        out.push_str("\n\n");
        out.push_str("- Service: ");
        esc(&mut out, &service.connector_name);
        let _ = write!(out, "\n- Request type: {}", route.request_type.as_str());
        let auth = route.auth.unwrap_or(service.auth_type);
        let _ = write!(out, "\n- Auth: {}", auth.as_str());
        if route.auth == Some(AuthType::Oauth2) && service.oauth2.is_some() {
            out.push_str(" (callers name a connection in the `workerflow-connection` header; [");
            esc(&mut out, &service.connector_name);
            let _ = write!(out, " OAuth app](#{}))", links::oauth_anchor(&service.id));
        }
        out.push_str("\n- Provider docs: ");
        match &route.docs_url {
            Some(url) => out.push_str(&markdown::link(url, url)),
            None => out.push_str("none declared"),
        }
        out.push_str("\n- Secrets: ");
        for (i, secret) in route.secrets.iter().enumerate() {
            if i > 0 {
                out.push_str("; ");
            }
            esc(&mut out, &secret.label);
            out.push_str(": ");
            let names: Vec<String> = secret.any_of.iter().map(|n| format!("`{n}`")).collect();
            out.push_str(&names.join(" or "));
            if secret.unless_connection {
                let _ = write!(out, " ({})", links::ONLY_WITHOUT_CONNECTION);
            }
        }
        if route.secrets.is_empty() {
            out.push_str("none");
        }
        if let Some(settings) = setting_items(route, markdown::code_span, markdown::escape) {
            out.push_str("\n- Settings: ");
            out.push_str(&settings);
        }
        if let Some(hosts) = &route.hosts {
            out.push_str("\n- Outbound hosts: ");
            if hosts.is_empty() {
                out.push_str("none");
            }
            let hosts: Vec<String> = hosts.iter().map(|h| format!("`{h}`")).collect();
            out.push_str(&hosts.join(", "));
        }
        out.push_str("\n\n");
        if !route.has_contract() {
            out.push_str("No contract declared.\n");
            sink.write_str(&out)?;
            continue;
        }
        for (title, schema) in [("Input", &route.input), ("Output", &route.output)] {
            let _ = write!(out, "{title} fields:\n\n");
            match fields(schema.as_ref()) {
                Some(list) if !list.is_empty() => {
                    out.push_str(
                        "| Field | Type | Required | Description |\n| --- | --- | --- | --- |\n",
                    );
                    for field in list {
                        out.push_str("| `");
                        esc(&mut out, &field.name);
                        out.push_str("` | ");
                        esc(&mut out, &field.kind);
                        out.push_str(if field.required {
                            " | yes | "
                        } else {
                            " | no | "
                        });
                        esc(&mut out, &field.description);
                        out.push_str(" |\n");
                    }
                }
                Some(_) | None if schema.is_some() => {
                    out.push_str("Any JSON value (see the schema in `docs/openapi.json`).\n")
                }
                _ => out.push_str("No contract declared.\n"),
            }
            out.push('\n');
        }
        if let Some(errors) = &route.errors {
            out.push_str("Errors (body `{\"ok\": false, \"error\": {\"code\", \"message\", \"route\", \"traceId\"}}`, with `problems` (`[{\"field\", \"pointer\", \"message\"}]`) for `invalid_input`):\n\n| Class | Status | When |\n| --- | --- | --- |\n");
            for error in errors {
                let _ = write!(
                    out,
                    "| `{}` | {} | ",
                    error.class.as_str(),
                    error.status.join(", ")
                );
                esc(&mut out, &error.description);
                out.push_str(" |\n");
            }
            out.push('\n');
        }
        for example in route.examples.as_deref().unwrap_or_default() {
            out.push_str("Example: ");
            esc(&mut out, &example.name);
            out.push_str("\n\n");
            let request = format!(
                "POST /api/{}\n{}",
                route.id,
                serde_json::to_string(&example.input).unwrap_or_default()
            );
            let response = answer(route, example).map(|(status, body)| {
                format!(
                    "{status}\n{}",
                    serde_json::to_string(&body).unwrap_or_default()
                )
            });
            for text in [Some(request), response].into_iter().flatten() {
                let fence = fence(&text);
                let _ = write!(out, "{fence}http\n{text}\n{fence}\n\n");
            }
        }
        sink.write_str(&out)?;
    }
    Ok(())
}

/// The HTML route sections.
pub(super) fn write_html(
    sink: &mut dyn fmt::Write,
    registry: &Registry,
    routes: &[(usize, usize)],
) -> fmt::Result {
    let esc = links::escape;
    for (service, route) in pairs(registry, routes) {
        let mut out = String::new();
        let id = route_anchor(&route.id);
        let _ = write!(
            out,
            "<section class=\"route\" id=\"{id}\">\n<h3>Route <code>{}</code></h3>\n<p>{}</p>\n<ul>\n",
            esc(&route.id),
            esc(&route.summary)
        );
        let auth = route.auth.unwrap_or(service.auth_type);
        let connection = if route.auth == Some(AuthType::Oauth2) && service.oauth2.is_some() {
            format!(
                " (callers name a connection in the <code>workerflow-connection</code> header; <a href=\"#{}\">{} OAuth app</a>)",
                links::oauth_anchor(&service.id),
                esc(&service.connector_name)
            )
        } else {
            String::new()
        };
        let _ = write!(
            out,
            "<li>Service: {}</li>\n<li>Request type: {}</li>\n<li>Auth: {}{connection}</li>\n<li>Provider docs: {}</li>\n",
            esc(&service.connector_name),
            route.request_type.as_str(),
            auth.as_str(),
            route
                .docs_url
                .as_deref()
                .map_or_else(|| "none declared".to_owned(), |url| links::link(url, url))
        );
        let secrets: Vec<String> = route
            .secrets
            .iter()
            .map(|s| {
                let names: Vec<String> = s
                    .any_of
                    .iter()
                    .map(|n| format!("<code>{}</code>", esc(n)))
                    .collect();
                let only = if s.unless_connection {
                    format!(" ({})", links::ONLY_WITHOUT_CONNECTION)
                } else {
                    String::new()
                };
                format!("{}: {}{only}", esc(&s.label), names.join(" or "))
            })
            .collect();
        let _ = writeln!(
            out,
            "<li>Secrets: {}</li>",
            if secrets.is_empty() {
                "none".to_owned()
            } else {
                secrets.join("; ")
            }
        );
        if let Some(settings) = setting_items(route, |c| format!("<code>{}</code>", esc(c)), esc) {
            let _ = writeln!(out, "<li>Settings: {settings}</li>");
        }
        if let Some(hosts) = &route.hosts {
            let hosts: Vec<String> = hosts
                .iter()
                .map(|h| format!("<code>{}</code>", esc(h)))
                .collect();
            let _ = writeln!(
                out,
                "<li>Outbound hosts: {}</li>",
                if hosts.is_empty() {
                    "none".to_owned()
                } else {
                    hosts.join(", ")
                }
            );
        }
        out.push_str("</ul>\n");
        if !route.has_contract() {
            out.push_str("<p>No contract declared.</p>\n</section>\n");
            sink.write_str(&out)?;
            continue;
        }
        for (title, schema) in [("Input", &route.input), ("Output", &route.output)] {
            let _ = writeln!(out, "<h4>{title} fields</h4>");
            match fields(schema.as_ref()) {
                Some(list) if !list.is_empty() => {
                    out.push_str("<table>\n<thead><tr><th scope=\"col\">Field</th><th scope=\"col\">Type</th><th scope=\"col\">Required</th><th scope=\"col\">Description</th></tr></thead>\n<tbody>\n");
                    for field in list {
                        let _ = writeln!(
                            out,
                            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                            esc(&field.name),
                            esc(&field.kind),
                            if field.required { "yes" } else { "no" },
                            esc(&field.description)
                        );
                    }
                    out.push_str("</tbody>\n</table>\n");
                }
                _ if schema.is_some() => out.push_str("<p>Any JSON value.</p>\n"),
                _ => out.push_str("<p>No contract declared.</p>\n"),
            }
        }
        if let Some(errors) = &route.errors {
            out.push_str("<h4>Errors</h4>\n<table>\n<thead><tr><th scope=\"col\">Class</th><th scope=\"col\">Status</th><th scope=\"col\">When</th></tr></thead>\n<tbody>\n");
            for error in errors {
                let _ = writeln!(
                    out,
                    "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                    error.class.as_str(),
                    esc(&error.status.join(", ")),
                    esc(&error.description)
                );
            }
            out.push_str("</tbody>\n</table>\n");
        }
        for example in route.examples.as_deref().unwrap_or_default() {
            let _ = writeln!(out, "<h4>Example: {}</h4>", esc(&example.name));
            let _ = writeln!(
                out,
                "<pre><code>POST /api/{}\n{}</code></pre>",
                esc(&route.id),
                esc(&serde_json::to_string(&example.input).unwrap_or_default())
            );
            if let Some((status, body)) = answer(route, example) {
                let _ = writeln!(
                    out,
                    "<pre><code>{status}\n{}</code></pre>",
                    esc(&serde_json::to_string(&body).unwrap_or_default())
                );
            }
        }
        out.push_str("</section>\n");
        sink.write_str(&out)?;
    }
    Ok(())
}
