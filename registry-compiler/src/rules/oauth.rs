//! A service's OAuth 2.0 app and the routes that use it: endpoint and source URLs well formed
//! (WF324) and free of credentials (WF325), scopes listed once (WF328), `authorizationParams`
//! leaving the flow's own parameters alone (WF329); `auth: oauth2` only on a route of a service
//! with an `oauth2` block (WF326), and `unlessConnection` only on such a route (WF327).

use std::borrow::Cow;
use std::ops::Range;

use super::{FirstSeen, Service, first_or_duplicate, inner, urls};
use crate::diagnostics::{Code, Diagnostic, Span};
use crate::load::{NodeId, NodeKind, pointer_segment};

/// The endpoints of an `oauth2` block, in the schema's order.
const ENDPOINTS: [&str; 3] = ["authorizationUrl", "tokenUrl", "revocationUrl"];

/// Query parameters that carry a secret (WF325), compared ignoring ASCII case.
const SECRET_QUERY_PARAMS: [&str; 8] = [
    "client_secret",
    "access_token",
    "refresh_token",
    "id_token",
    "code",
    "password",
    "api_key",
    "apikey",
];

/// The authorization URL's parameters the flow writes itself (WF329), compared ignoring ASCII
/// case.
const FLOW_PARAMS: [&str; 7] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
];

/// WF324 to WF329 for one service.
pub(super) fn check(service: &Service<'_, '_>, out: &mut Vec<Diagnostic>) {
    let document = service.document;
    let block = service.fields.oauth2;
    if let Some(block) = block.filter(|&b| document.kind(b) == NodeKind::Object) {
        check_block(service, block, out);
    }
    // A block of the wrong type is the schema's to report, not a missing app.
    check_routes(service, block.is_some(), out);
}

/// The `oauth2` block's URLs, scopes and authorization parameters.
fn check_block(service: &Service<'_, '_>, block: NodeId, out: &mut Vec<Diagnostic>) {
    let document = service.document;
    let index = service.index;
    for field in ENDPOINTS {
        if let Some(node) = document.get(block, field) {
            let place = Place {
                field: format!("oauth2.{field}"),
                pointer: format!("/services/{index}/oauth2/{field}"),
                endpoint: true,
            };
            check_url(service, node, &place, out);
        }
    }
    if let Some(sources) = document
        .get(block, "sources")
        .filter(|&s| document.kind(s) == NodeKind::Array)
    {
        for (n, node) in document.children(sources).enumerate() {
            let place = Place {
                field: format!("oauth2.sources[{n}]"),
                pointer: format!("/services/{index}/oauth2/sources/{n}"),
                endpoint: false,
            };
            check_url(service, node, &place, out);
        }
    }
    if let Some(scopes) = document
        .get(block, "scopes")
        .filter(|&s| document.kind(s) == NodeKind::Array)
    {
        let mut seen: FirstSeen<Cow<'_, str>> = FirstSeen::default();
        for (n, node) in document.children(scopes).enumerate() {
            let Some(scope) = document.str(node) else {
                continue;
            };
            let span = document.span(node);
            first_or_duplicate(
                &mut seen,
                scope,
                index,
                span,
                |shown, _, first_span| {
                    Diagnostic::error(
                        Code::DuplicateScope,
                        format!(
                            "{}scope {:?} is listed twice in `oauth2.scopes`",
                            service.place(),
                            shown.as_ref()
                        ),
                        span,
                    )
                    .with_label("listed again")
                    .with_secondary(first_span, "first listed here")
                    .with_pointer(format!("/services/{index}/oauth2/scopes/{n}"))
                    .with_help("remove the duplicate, or replace it with the scope that was meant")
                },
                out,
            );
        }
    }
    // The app's own credentials are needed for every connection: never optional.
    for field in ["clientId", "clientSecret"] {
        if let Some(flag) = document
            .get(block, field)
            .and_then(|requirement| document.get(requirement, "unlessConnection"))
            .filter(|&f| document.kind(f) == NodeKind::Bool(true))
        {
            out.push(
                Diagnostic::error(
                    Code::UnlessConnectionWithoutOAuth,
                    format!(
                        "{}`oauth2.{field}` is `unlessConnection`, but the app needs it for every connection",
                        service.place()
                    ),
                    document.span(flag),
                )
                .with_label("only a route's secret can stand in for a connection")
                .with_pointer(format!("/services/{index}/oauth2/{field}/unlessConnection"))
                .with_help("remove `unlessConnection`"),
            );
        }
    }
    if let Some(params) = document
        .get(block, "authorizationParams")
        .filter(|&p| document.kind(p) == NodeKind::Object)
    {
        for (name, node) in document.members(params) {
            let Some(reserved) = FLOW_PARAMS
                .iter()
                .find(|flow| flow.eq_ignore_ascii_case(&name))
            else {
                continue;
            };
            let help = if *reserved == "scope" {
                "list the scopes in `oauth2.scopes`; the flow joins them with `scopeSeparator`"
                    .to_owned()
            } else {
                format!("remove `{name}`: the flow sets `{reserved}` for every authorization")
            };
            out.push(
                Diagnostic::error(
                    Code::ReservedAuthorizationParam,
                    format!(
                        "{}`oauth2.authorizationParams` sets `{name}`, which the authorization flow sets itself",
                        service.place()
                    ),
                    document.key_span(node),
                )
                .with_label("set by the flow")
                .with_pointer(format!(
                    "/services/{index}/oauth2/authorizationParams/{}",
                    pointer_segment(&name)
                ))
                .with_help(help),
            );
        }
    }
}

/// Where a URL is, for messages and pointers.
struct Place {
    /// `oauth2.tokenUrl`, `oauth2.sources[0]`.
    field: String,
    pointer: String,
    /// An endpoint (no fragment) rather than a documentation page.
    endpoint: bool,
}

/// WF324 and WF325 for one URL.
fn check_url(service: &Service<'_, '_>, node: NodeId, place: &Place, out: &mut Vec<Diagnostic>) {
    let document = service.document;
    let Some(url) = document.str(node) else {
        return;
    };
    let Some(rest) = url.strip_prefix("https://") else {
        return; // the schema's pattern reports it
    };
    let invalid = |problem: &str, range: Option<Range<usize>>, label: &str| {
        Diagnostic::error(
            Code::InvalidOAuthUrl,
            format!(
                "{}`{}`: {problem}: {:?}",
                service.place(),
                place.field,
                url.as_ref()
            ),
            part_span(service, node, &url, range),
        )
        .with_label(label.to_owned())
        .with_pointer(place.pointer.clone())
    };
    if let Some(problem) = urls::url_problem(&url, rest) {
        out.push(
            invalid(problem, None, "not a well-formed https URL")
                .with_help("write a full URL such as https://auth.example.com/oauth/token"),
        );
        return;
    }
    if place.endpoint
        && let Some(hash) = url.find('#')
    {
        out.push(
            invalid("URL has a fragment", Some(hash..url.len()), "fragment")
                .with_help("remove the fragment: it is never sent to the provider"),
        );
    }
    for (range, what) in credentials(&url) {
        // The URL itself is not repeated: it holds the secret.
        out.push(
            Diagnostic::error(
                Code::OAuthUrlCredentials,
                format!("{}`{}` carries {what}", service.place(), place.field),
                part_span(service, node, &url, Some(range)),
            )
            .with_label("a credential in the registry")
            .with_pointer(place.pointer.clone())
            .with_help(
                "remove it: the client id and secret are read from the environment variables \
                 `clientId` and `clientSecret` name, and tokens belong to a connection",
            ),
        );
    }
}

/// The credentials in a well-formed https URL: a user name or password, and each query
/// parameter named in [`SECRET_QUERY_PARAMS`], with their byte ranges in `url`.
fn credentials(url: &str) -> Vec<(Range<usize>, String)> {
    let mut found = Vec::new();
    let start = "https://".len();
    let Some(rest) = url.get(start..) else {
        return found;
    };
    let authority_end = rest
        .bytes()
        .position(|b| matches!(b, b'/' | b'?' | b'#'))
        .map_or(url.len(), |end| start + end);
    if let Some(at) = url[start..authority_end].bytes().rposition(|b| b == b'@') {
        found.push((start..start + at + 1, "a user name or password".to_owned()));
    }
    let query_end = url.find('#').unwrap_or(url.len());
    let Some(question) = url[..query_end].find('?') else {
        return found;
    };
    let mut offset = question + 1;
    for pair in url[offset..query_end].split('&') {
        let key = pair.split('=').next().unwrap_or_default();
        let key = percent_decoded(key);
        if let Some(secret) = SECRET_QUERY_PARAMS
            .iter()
            .find(|secret| secret.eq_ignore_ascii_case(&key))
        {
            found.push((
                offset..offset + pair.len(),
                format!("the query parameter `{secret}`"),
            ));
        }
        offset += pair.len() + 1;
    }
    found
}

/// `text` with its `%XX` escapes decoded, where they decode to UTF-8 (`client%5Fsecret`).
fn percent_decoded(text: &str) -> Cow<'_, str> {
    if !text.contains('%') {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                i += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    match String::from_utf8(decoded) {
        Ok(decoded) => Cow::Owned(decoded),
        Err(_) => Cow::Borrowed(text),
    }
}

/// The span of `range` of the string at `node`, when its source text has no escapes (so that
/// bytes of the value are bytes of the file); the whole string otherwise.
fn part_span(
    service: &Service<'_, '_>,
    node: NodeId,
    url: &str,
    range: Option<Range<usize>>,
) -> Span {
    let span = service.document.span(node);
    match range {
        Some(range) if inner(service.document, span) == url => {
            let start = span.start + 1;
            Span::new(start + range.start as u32, start + range.end as u32)
        }
        _ => span,
    }
}

/// WF326 and WF327 for every route of the service; `has_app` when it has an `oauth2` block.
fn check_routes(service: &Service<'_, '_>, has_app: bool, out: &mut Vec<Diagnostic>) {
    let document = service.document;
    let index = service.index;
    for (r, route) in service.routes() {
        let auth_node = document.get(route, "auth");
        let auth = auth_node.and_then(|node| document.str(node));
        let oauth = auth.as_deref() == Some("oauth2");
        // Built only for a diagnostic.
        let route_pointer = || format!("/services/{index}/runtime/routes/{r}");
        if let Some(node) = auth_node.filter(|_| oauth && !has_app) {
            out.push(
                Diagnostic::error(
                    Code::OAuthRouteWithoutApp,
                    format!(
                        "{}route {} has `auth: oauth2`, but the service has no `oauth2` block",
                        service.place(),
                        route_name(service, route, r)
                    ),
                    document.span(node),
                )
                .with_label("takes its token from an OAuth connection")
                .with_pointer(format!("{}/auth", route_pointer()))
                .with_help(
                    "add the service's `oauth2` block (endpoints, scopes, client id and secret), \
                     or set `auth` to the scheme the route uses",
                ),
            );
        }
        if oauth {
            continue;
        }
        let Some(secrets) = document
            .get(route, "secrets")
            .filter(|&s| document.kind(s) == NodeKind::Array)
        else {
            continue;
        };
        for (s, requirement) in document.children(secrets).enumerate() {
            let Some(flag) = document
                .get(requirement, "unlessConnection")
                .filter(|&f| document.kind(f) == NodeKind::Bool(true))
            else {
                continue;
            };
            let auth_shown = match &auth {
                Some(auth) => format!("has `auth: {auth}`"),
                None => "declares no `auth`".to_owned(),
            };
            let mut diagnostic = Diagnostic::error(
                Code::UnlessConnectionWithoutOAuth,
                format!(
                    "{}a secret of route {} is `unlessConnection`, but the route {auth_shown}",
                    service.place(),
                    route_name(service, route, r)
                ),
                document.span(flag),
            )
            .with_label("only routes with `auth: oauth2` accept a connection")
            .with_pointer(format!("{}/secrets/{s}/unlessConnection", route_pointer()))
            .with_help(
                "remove `unlessConnection` (the secret is always needed), or set the route's \
                 `auth` to `oauth2`",
            );
            if let Some(node) = auth_node {
                diagnostic = diagnostic.with_secondary(document.span(node), "the route's auth");
            }
            out.push(diagnostic);
        }
    }
}

/// `` `hubspot_contact_upsert` `` or `routes[2]`, for messages.
fn route_name(service: &Service<'_, '_>, route: NodeId, r: usize) -> String {
    let document = service.document;
    match document.get(route, "id").and_then(|id| document.str(id)) {
        Some(id) => format!("`{id}`"),
        None => format!("runtime.routes[{r}]"),
    }
}

#[cfg(test)]
mod tests {
    use super::{credentials, percent_decoded};

    fn found(url: &str) -> Vec<(String, String)> {
        credentials(url)
            .into_iter()
            .map(|(range, what)| (url[range].to_owned(), what))
            .collect()
    }

    #[test]
    fn urls_without_credentials_pass() {
        assert!(found("https://app.hubspot.com/oauth/authorize").is_empty());
        assert!(found("https://example.com/token?audience=api&x=1").is_empty());
        // `@` after the authority is a path character, not a user name.
        assert!(found("https://example.com/@me/token").is_empty());
        // `codes` and `client_id` are not secrets.
        assert!(found("https://example.com/a?codes=1&client_id=abc").is_empty());
        // A `?` in the fragment starts no query.
        assert!(found("https://example.com/a#x?code=1").is_empty());
    }

    #[test]
    fn user_info_and_secret_parameters_are_found() {
        assert_eq!(
            found("https://id:pw@example.com/token"),
            [("id:pw@".to_owned(), "a user name or password".to_owned())]
        );
        assert_eq!(
            found("https://example.com/token?a=1&Client_Secret=s&code=c#f"),
            [
                (
                    "Client_Secret=s".to_owned(),
                    "the query parameter `client_secret`".to_owned()
                ),
                ("code=c".to_owned(), "the query parameter `code`".to_owned())
            ]
        );
        assert_eq!(
            found("https://example.com/?access%5Ftoken"),
            [(
                "access%5Ftoken".to_owned(),
                "the query parameter `access_token`".to_owned()
            )]
        );
    }

    #[test]
    fn percent_decoding_never_fails() {
        assert_eq!(percent_decoded("a%5Fb"), "a_b");
        assert_eq!(percent_decoded("a%"), "a%");
        assert_eq!(percent_decoded("a%zz"), "a%zz");
        assert_eq!(percent_decoded("%ff"), "%ff");
        assert_eq!(percent_decoded("%e2%82"), "%e2%82");
    }
}
