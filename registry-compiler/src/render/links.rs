//! The leaf every renderer and the search rule share: HTML escaping, the rule for which URLs
//! may become links (`https://` only), and the anchors headings and route sections carry.
//! It imports nothing of the renderers, so they depend on it and not on each other.

/// The `rel` every outbound link carries: the target gets no handle on this page, and no referrer.
pub(crate) const LINK_REL: &str = "noopener noreferrer";

/// Appends `text` with `& < > " '` escaped, so it is safe in element content and in quoted
/// attribute values alike.
pub(crate) fn escape_into(out: &mut String, text: &str) {
    let bytes = text.as_bytes();
    let mut start = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        let entity = match byte {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.push_str(&text[start..index]);
        out.push_str(entity);
        start = index + 1;
    }
    out.push_str(&text[start..]);
}

pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text);
    out
}

/// Whether a URL may become a link: only `https://`, so `javascript:`, `data:` and plain-http
/// values stay text.
pub(crate) fn is_linkable(url: &str) -> bool {
    let scheme = url
        .get(..8)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"));
    // Printable ASCII is the common case; anything else gets the full Unicode check.
    let clean = url.bytes().all(|b| b.is_ascii_graphic())
        || !url.contains(|c: char| c.is_whitespace() || c.is_control());
    scheme && clean
}

/// An outbound link to `url` showing `text`, or the escaped text alone when `url` is not https.
pub(crate) fn link(url: &str, text: &str) -> String {
    let mut out = String::with_capacity(url.len() + text.len() + 48);
    link_into(&mut out, url, text);
    out
}

pub(crate) fn link_into(out: &mut String, url: &str, text: &str) {
    if is_linkable(url) {
        out.push_str("<a href=\"");
        escape_into(out, url);
        out.push_str("\" rel=\"");
        out.push_str(LINK_REL);
        out.push_str("\">");
        escape_into(out, text);
        out.push_str("</a>");
    } else {
        escape_into(out, text);
    }
}

/// The `id` of an HTML anchor placed before a heading: the service id when it is a slug (the
/// registry guarantees it), else a slug made from it, so no value reaches the raw HTML.
pub(crate) fn anchor(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    anchor_into(&mut out, id);
    out
}

pub(crate) fn anchor_into(out: &mut String, id: &str) {
    if id.is_empty() {
        out.push_str("service");
    }
    out.extend(id.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            c.to_ascii_lowercase()
        } else {
            '-'
        }
    }));
}

/// The HTML id of a route's contract section, which the table's route badges link to.
pub(crate) fn route_anchor(route_id: &str) -> String {
    format!("route-{}", anchor(route_id))
}

/// What a secret requirement marked `unlessConnection` is called in both pages.
pub(crate) const ONLY_WITHOUT_CONNECTION: &str = "only without a connection";

/// The anchor of a service's OAuth app section: `oauth-hubspot`.
pub(crate) fn oauth_anchor(service_id: &str) -> String {
    format!("oauth-{}", anchor(service_id))
}
