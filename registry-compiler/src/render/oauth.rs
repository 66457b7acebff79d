//! The OAuth apps section of both pages: for each service with an `oauth2` block, its
//! endpoints, scopes, flow options, the client's environment variables and the routes that take
//! a connection. Static text in both pages (no script reads it), written in Rust like the route
//! sections; nothing at all when no service has a block.

use std::fmt::{self, Write as _};

use super::links::{self, anchor, oauth_anchor};
use super::markdown;
use crate::model::{AuthType, OAuth2, Registry, Route, SecretRequirement, Service};

/// The services with an `oauth2` block, in `order`.
fn apps<'a>(
    registry: &'a Registry,
    order: &'a [usize],
) -> impl Iterator<Item = (&'a Service, &'a OAuth2)> + 'a {
    order
        .iter()
        .filter_map(|&i| registry.services.get(i))
        .filter_map(|s| s.oauth2.as_ref().map(|app| (s, app)))
}

/// The routes of `service` whose `auth` is `oauth2`.
fn connection_routes(service: &Service) -> impl Iterator<Item = &Route> {
    service
        .routes()
        .iter()
        .filter(|r| r.auth == Some(AuthType::Oauth2))
}

fn yes_no(flag: bool) -> &'static str {
    if flag { "yes" } else { "no" }
}

/// The Markdown section, `## OAuth apps` and one subsection per app.
pub(super) fn write_markdown(
    sink: &mut dyn fmt::Write,
    registry: &Registry,
    order: &[usize],
) -> fmt::Result {
    let mut apps = apps(registry, order).peekable();
    if apps.peek().is_none() {
        return Ok(());
    }
    sink.write_str(
        "## OAuth apps\n\nThe services whose routes can use an OAuth 2.0 connection. A server built on \
         the toolkit runs each app's authorization code flow (`POST /api/connections`, then \
         `GET /oauth/callback`) and keeps and refreshes the tokens; a call names its connection \
         in the `workerflow-connection` header, never a token.\n",
    )?;
    super::write_chunked(sink, apps, |out, (service, app)| {
        let code = markdown::code_span_into;
        out.push_str("\n<a id=\"");
        out.push_str(&oauth_anchor(&service.id));
        out.push_str("\"></a>\n\n### ");
        markdown::escape_into(out, &service.connector_name, false);
        out.push_str(" OAuth app\n\n- Service: [");
        markdown::escape_into(out, &service.connector_name, false);
        out.push_str("](#");
        out.push_str(&anchor(&service.id));
        out.push_str(")\n- Authorization URL: ");
        out.push_str(&markdown::link(
            &app.authorization_url,
            &app.authorization_url,
        ));
        out.push_str("\n- Token URL: ");
        out.push_str(&markdown::link(&app.token_url, &app.token_url));
        out.push_str("\n- Revocation URL: ");
        match &app.revocation_url {
            Some(url) => out.push_str(&markdown::link(url, url)),
            None => out.push_str("none declared"),
        }
        out.push_str("\n- Scopes: ");
        if app.scopes.is_empty() {
            out.push_str("none");
        }
        for (i, scope) in app.scopes.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            code(out, scope);
        }
        out.push_str(" (joined with ");
        code(out, &format!("{:?}", app.scope_separator()));
        let _ = write!(
            out,
            ")\n- PKCE (S256): {} · client authentication: `{}` · rotates refresh tokens: {} · refreshed {} s before expiry",
            yes_no(app.pkce),
            app.client_auth.as_str(),
            yes_no(app.rotates_refresh_tokens),
            app.refresh_buffer_seconds()
        );
        if let Some(params) = app.authorization_params.as_ref().filter(|p| !p.is_empty()) {
            out.push_str("\n- Extra authorization parameters: ");
            for (i, (name, value)) in params.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let value = value.as_str().unwrap_or_default();
                code(out, &format!("{name}={value}"));
            }
        }
        for (what, requirement) in [
            ("Client id", &app.client_id),
            ("Client secret", &app.client_secret),
        ] {
            let _ = write!(out, "\n- {what}: ");
            requirement_markdown(out, requirement);
        }
        let mut routes = connection_routes(service).peekable();
        out.push_str("\n- Routes taking a connection: ");
        if routes.peek().is_none() {
            out.push_str("none");
        }
        for (i, route) in routes.enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            code(out, &route.id);
            match route.connection_fallback().as_slice() {
                [] => out.push_str(" (a connection is required)"),
                names => {
                    out.push_str(" (without one: ");
                    for (j, name) in names.iter().enumerate() {
                        if j > 0 {
                            out.push_str(" or ");
                        }
                        code(out, name);
                    }
                    out.push(')');
                }
            }
        }
        out.push_str("\n- Sources: ");
        for (i, url) in app.sources.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(&markdown::link(url, url));
        }
        out.push('\n');
    })?;
    sink.write_str("\n")
}

/// `label: `A` or `B``.
fn requirement_markdown(out: &mut String, requirement: &SecretRequirement) {
    markdown::escape_into(out, &requirement.label, false);
    out.push_str(": ");
    for (i, name) in requirement.any_of.iter().enumerate() {
        if i > 0 {
            out.push_str(" or ");
        }
        markdown::code_span_into(out, name);
    }
}

/// The HTML section, `<h2 id="oauth-apps">` and one `<section>` per app.
pub(super) fn write_html(
    sink: &mut dyn fmt::Write,
    registry: &Registry,
    order: &[usize],
) -> fmt::Result {
    let esc = links::escape;
    let mut apps = apps(registry, order).peekable();
    if apps.peek().is_none() {
        return Ok(());
    }
    sink.write_str(
        "\n<h2 id=\"oauth-apps\">OAuth apps</h2>\n<p>The services whose routes can use an OAuth 2.0 \
         connection. A server built on the toolkit runs each app&#39;s authorization code flow \
         (<code>POST /api/connections</code>, then <code>GET /oauth/callback</code>) and keeps and \
         refreshes the tokens; a call names its connection in the \
         <code>workerflow-connection</code> header, never a token.</p>\n",
    )?;
    super::write_chunked(sink, apps, |out, (service, app)| {
        let code = |text: &str| format!("<code>{}</code>", esc(text));
        let _ = write!(
            out,
            "<section class=\"oauth\" id=\"{}\">\n<h3>{} OAuth app</h3>\n<ul>\n",
            oauth_anchor(&service.id),
            esc(&service.connector_name)
        );
        let _ = writeln!(
            out,
            "<li>Authorization URL: {}</li>\n<li>Token URL: {}</li>\n<li>Revocation URL: {}</li>",
            links::link(&app.authorization_url, &app.authorization_url),
            links::link(&app.token_url, &app.token_url),
            app.revocation_url
                .as_deref()
                .map_or_else(|| "none declared".to_owned(), |url| links::link(url, url))
        );
        let scopes: Vec<String> = app.scopes.iter().map(|s| code(s)).collect();
        let _ = writeln!(
            out,
            "<li>Scopes: {} (joined with {})</li>",
            if scopes.is_empty() {
                "none".to_owned()
            } else {
                scopes.join(", ")
            },
            code(&format!("{:?}", app.scope_separator()))
        );
        let _ = writeln!(
            out,
            "<li>PKCE (S256): {} · client authentication: <code>{}</code> · rotates refresh tokens: {} · refreshed {} s before expiry</li>",
            yes_no(app.pkce),
            app.client_auth.as_str(),
            yes_no(app.rotates_refresh_tokens),
            app.refresh_buffer_seconds()
        );
        if let Some(params) = app.authorization_params.as_ref().filter(|p| !p.is_empty()) {
            let params: Vec<String> = params
                .iter()
                .map(|(name, value)| {
                    code(&format!("{name}={}", value.as_str().unwrap_or_default()))
                })
                .collect();
            let _ = writeln!(
                out,
                "<li>Extra authorization parameters: {}</li>",
                params.join(", ")
            );
        }
        for (what, requirement) in [
            ("Client id", &app.client_id),
            ("Client secret", &app.client_secret),
        ] {
            let names: Vec<String> = requirement.any_of.iter().map(|n| code(n)).collect();
            let _ = writeln!(
                out,
                "<li>{what}: {}: {}</li>",
                esc(&requirement.label),
                names.join(" or ")
            );
        }
        let routes: Vec<String> = connection_routes(service)
            .map(|route| {
                let link = format!(
                    "<a href=\"#{}\">{}</a>",
                    links::route_anchor(&route.id),
                    esc(&route.id)
                );
                match route.connection_fallback().as_slice() {
                    [] => format!("{link} (a connection is required)"),
                    names => {
                        let names: Vec<String> = names.iter().map(|n| code(n)).collect();
                        format!("{link} (without one: {})", names.join(" or "))
                    }
                }
            })
            .collect();
        let _ = writeln!(
            out,
            "<li>Routes taking a connection: {}</li>",
            if routes.is_empty() {
                "none".to_owned()
            } else {
                routes.join(", ")
            }
        );
        let sources: Vec<String> = app.sources.iter().map(|u| links::link(u, u)).collect();
        let _ = writeln!(
            out,
            "<li>Sources: {}</li>\n</ul>\n</section>",
            sources.join(", ")
        );
    })
}
