//! HTML output: escaping, links that only ever point at `https://`, registry prose rendered
//! from Markdown with any raw HTML in it turned into text, and the service table's rows.

use std::collections::HashMap;
use std::fmt::{self, Write as _};

use base64::Engine as _;
use base64::prelude::BASE64_STANDARD;
use pulldown_cmark::{CowStr, Event, LinkType, Options, Parser, Tag, TagEnd};
use sha2::{Digest, Sha256};

use super::context::link_label;
use super::write_chunked;
use crate::model::{Confidence, DocsRequiresLogin, Registry, Service};

/// The `rel` every outbound link carries: the target gets no handle on this page, and no referrer.
const LINK_REL: &str = "noopener noreferrer";

/// Appends `text` with `& < > " '` escaped, so it is safe in element content and in quoted
/// attribute values alike.
pub fn escape_into(out: &mut String, text: &str) {
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

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text);
    out
}

/// Whether a URL may become a link: only `https://`, so `javascript:`, `data:` and plain-http
/// values stay text.
pub fn is_linkable(url: &str) -> bool {
    let scheme = url
        .get(..8)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"));
    // Printable ASCII is the common case; anything else gets the full Unicode check.
    let clean = url.bytes().all(|b| b.is_ascii_graphic())
        || !url.contains(|c: char| c.is_whitespace() || c.is_control());
    scheme && clean
}

/// An outbound link to `url` showing `text`, or the escaped text alone when `url` is not https.
pub fn link(url: &str, text: &str) -> String {
    let mut out = String::with_capacity(url.len() + text.len() + 48);
    link_into(&mut out, url, text);
    out
}

/// Opens a row's Details; taken back off when nothing follows it.
const DETAILS_OPEN: &str = "\n<details><summary>Details</summary><dl>";

/// A linkable URL without its `https://` and a lone trailing `/`: what a narrow cell shows.
fn short_url(url: &str) -> &str {
    let rest = url.get(8..).unwrap_or(url);
    match rest.strip_suffix('/') {
        Some(trimmed) if !trimmed.contains('/') => trimmed,
        _ => rest,
    }
}

fn link_into(out: &mut String, url: &str, text: &str) {
    link_with_title_into(out, url, text, None);
}

/// [`link_into`] with a `title` (the full URL of a shortened link, shown on hover).
fn link_with_title_into(out: &mut String, url: &str, text: &str, title: Option<&str>) {
    if is_linkable(url) {
        out.push_str("<a href=\"");
        escape_into(out, url);
        if let Some(title) = title {
            out.push_str("\" title=\"");
            escape_into(out, title);
        }
        out.push_str("\" rel=\"");
        out.push_str(LINK_REL);
        out.push_str("\">");
        escape_into(out, text);
        out.push_str("</a>");
    } else {
        escape_into(out, text);
    }
}

/// Renders registry prose (CommonMark) to HTML. Raw HTML in the prose becomes text, links keep
/// only `https://` targets (with `rel`), and images become links, so the page never loads
/// anything the registry names.
pub fn prose(markdown: &str) -> String {
    if is_plain_sentence(markdown) {
        // What pulldown-cmark makes of it, without parsing: a paragraph of the text itself.
        return format!("<p>{markdown}</p>\n");
    }
    let mut open = Vec::new();
    let events =
        Parser::new_ext(markdown, Options::ENABLE_STRIKETHROUGH).filter_map(|event| match event {
            Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(raw)),
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                ..
            })
            | Event::Start(Tag::Image {
                link_type,
                dest_url,
                ..
            }) => {
                let linked = link_type != LinkType::Email && is_linkable(&dest_url);
                open.push(linked);
                linked.then(|| {
                    let mut tag = String::from("<a href=\"");
                    escape_into(&mut tag, &dest_url);
                    tag.push_str("\" rel=\"");
                    tag.push_str(LINK_REL);
                    tag.push_str("\">");
                    Event::InlineHtml(CowStr::from(tag))
                })
            }
            Event::End(TagEnd::Link) | Event::End(TagEnd::Image) => open
                .pop()
                .unwrap_or(false)
                .then_some(Event::InlineHtml(CowStr::Borrowed("</a>"))),
            other => Some(other),
        });
    let mut out = String::with_capacity(markdown.len() + 16);
    pulldown_cmark::html::push_html(&mut out, events);
    out
}

/// Whether `text` is one line of words and ordinary punctuation that CommonMark renders as a
/// single paragraph holding exactly that text (the common case for registry prose).
fn is_plain_sentence(text: &str) -> bool {
    let mut chars = text.chars();
    let starts_with_letter = chars.next().is_some_and(char::is_alphabetic);
    starts_with_letter
        && !text.ends_with(' ')
        && chars.all(|c| {
            c.is_alphanumeric()
                || matches!(
                    c,
                    ' ' | '.'
                        | ','
                        | ';'
                        | ':'
                        | '\''
                        | '"'
                        | '('
                        | ')'
                        | '/'
                        | '?'
                        | '-'
                        | '%'
                        | '+'
                        | '='
                        | '@'
                        | '$'
                )
        })
}

/// Writes the `<tr>` of each service, in the given order, to `sink`. Written here rather than in
/// the template because interpreting a template per row would cost ~20 µs a row, seconds for a
/// 100,000-service registry; this takes about one.
pub fn write_table_rows(
    sink: &mut dyn fmt::Write,
    registry: &Registry,
    order: &[usize],
) -> fmt::Result {
    let mut prose = ProseCache::default();
    let services = order.iter().filter_map(|&i| registry.services.get(i));
    write_chunked(sink, services, |out, service| {
        table_row(out, service, &mut prose);
    })
}

/// Prose repeats a lot (one reason sentence shared by many services): render each text once.
#[derive(Default)]
struct ProseCache<'a> {
    rendered: HashMap<&'a str, String>,
}

impl<'a> ProseCache<'a> {
    fn push(&mut self, out: &mut String, text: &'a str) {
        out.push_str(self.rendered.entry(text).or_insert_with(|| prose(text)));
    }
}

fn table_row<'a>(out: &mut String, s: &'a Service, prose_cache: &mut ProseCache<'a>) {
    out.push_str("\n<tr id=\"");
    escape_into(out, &s.id);
    out.push_str("\" data-rank=\"");
    if let Some(rank) = s.rank {
        let _ = write!(out, "{rank}");
    }
    out.push_str("\" data-auth=\"");
    out.push_str(s.auth_type.as_str());
    out.push_str("\" data-confidence=\"");
    out.push_str(s.confidence.as_str());
    let _ = write!(
        out,
        "\" data-routes=\"{}\">\n<td class=\"c-rank\">",
        s.routes().len()
    );
    match s.rank {
        Some(rank) => {
            let _ = write!(out, "{rank}");
        }
        None => out.push_str("<span class=\"none\">unranked</span>"),
    }
    out.push_str(
        "</td>\n<th scope=\"row\" class=\"c-name\"><a class=\"self c-name-text\" href=\"#",
    );
    escape_into(out, &s.id);
    out.push_str("\">");
    escape_into(out, &s.connector_name);
    out.push_str("</a><code class=\"c-id\">");
    escape_into(out, &s.id);
    out.push_str("</code></th>\n");
    match &s.official_vendor_name {
        Some(vendor) => {
            out.push_str("<td class=\"c-vendor\">");
            escape_into(out, vendor);
        }
        None => out.push_str("<td class=\"c-vendor none\">unknown"),
    }
    out.push_str("</td>\n<td class=\"c-auth\">");
    super::auth_with_routes(out, s);
    out.push_str("</td>\n<td class=\"c-confidence conf-");
    out.push_str(match s.confidence {
        Confidence::High => "high\">",
        Confidence::Medium => "medium\">",
        Confidence::Low => "low\">",
    });
    out.push_str(s.confidence.as_str());
    out.push_str("</td>\n<td class=\"c-routes\">");
    // A compact badge per route, linking to its contract: the id without the service's own
    // prefix (the row already names it), the whole id as the title.
    for route in s.routes() {
        out.push_str("<a class=\"badge\" href=\"#");
        out.push_str(&super::contract::route_anchor(&route.id));
        out.push_str("\" title=\"");
        escape_into(out, &route.id);
        out.push_str("\">");
        let short = route
            .id
            .strip_prefix(s.id.as_str())
            .and_then(|rest| rest.strip_prefix('_'))
            .filter(|rest| !rest.is_empty())
            .unwrap_or(&route.id);
        escape_into(out, short);
        out.push_str("</a>");
    }
    out.push_str("</td>\n<td class=\"c-docs\">");
    match s.docs_url() {
        // Host and path in the cell (the scheme is always https), the whole URL on hover.
        Some(url) if is_linkable(url) => link_with_title_into(out, url, short_url(url), Some(url)),
        Some(url) => escape_into(out, url),
        None => out.push_str("<span class=\"none\">none</span>"),
    }
    // Each URL once: the docs link above, then only links and sources not shown yet; unknown
    // values are left out.
    let mut shown: Vec<&str> = s.docs_url().into_iter().collect();
    out.push_str(DETAILS_OPEN);
    let details_start = out.len();
    for (field, url) in s.links() {
        if shown.contains(&url) {
            if let (Some(score), "bestBaseLink") = (s.best_base_link_score, field) {
                let _ = write!(out, "<dt>Base link score</dt><dd>{score}</dd>");
            }
            continue;
        }
        shown.push(url);
        out.push_str("<dt>");
        out.push_str(link_label(field));
        out.push_str("</dt><dd>");
        link_into(out, url, url);
        if let (Some(score), "bestBaseLink") = (s.best_base_link_score, field) {
            let _ = write!(out, " (score {score})");
        }
        out.push_str("</dd>");
    }
    if let Some(reason) = &s.best_base_link_reason {
        out.push_str("<dt>Why</dt><dd>");
        prose_cache.push(out, reason);
        out.push_str("</dd>");
    }
    match s.docs_requires_login {
        DocsRequiresLogin::Yes => out.push_str("<dt>Login</dt><dd>yes</dd>"),
        DocsRequiresLogin::No => out.push_str("<dt>Login</dt><dd>no</dd>"),
        DocsRequiresLogin::Unknown | DocsRequiresLogin::NotStated => {}
    }
    for route in s.routes() {
        out.push_str("<dt>Route</dt><dd><code>");
        escape_into(out, &route.id);
        out.push_str("</code> (");
        out.push_str(route.request_type.as_str());
        out.push_str("): ");
        escape_into(out, &route.summary);
        for secret in &route.secrets {
            out.push_str("<br>");
            escape_into(out, &secret.label);
            out.push_str(": ");
            for (i, name) in secret.any_of.iter().enumerate() {
                if i > 0 {
                    out.push_str(" or ");
                }
                out.push_str("<code>");
                escape_into(out, name);
                out.push_str("</code>");
            }
        }
        out.push_str("</dd>");
    }
    let sources: Vec<&String> = s
        .sources
        .iter()
        .filter(|url| !shown.contains(&url.as_str()))
        .collect();
    if !sources.is_empty() {
        out.push_str("<dt>Other sources</dt><dd>");
        for (i, url) in sources.into_iter().enumerate() {
            if i > 0 {
                out.push_str("<br>");
            }
            link_into(out, url, url);
        }
        out.push_str("</dd>");
    }
    if let Some(notes) = &s.notes {
        out.push_str("<dt>Notes</dt><dd>");
        prose_cache.push(out, notes);
        out.push_str("</dd>");
    }
    if out.len() == details_start {
        // Nothing beyond the docs link: no Details at all.
        out.truncate(details_start - DETAILS_OPEN.len());
        out.push_str("</td>\n</tr>");
    } else {
        out.push_str("\n</dl></details></td>\n</tr>");
    }
}

/// Writes the page's search index: a JSON array with one entry per table row, in the rows'
/// order, `[id, name, vendor, rank, auth, confidence, routes, text]`, where `text` is
/// [`crate::search::search_text`]: the rest of what the search box matches.
/// The page's script reads it from a `<script type="application/json">` data block (never run, so
/// the Content-Security-Policy has nothing to allow), instead of walking every row's cells.
/// Every `<` is written as `\u003c`, so no value can end the block.
pub fn write_search_index(
    sink: &mut dyn fmt::Write,
    registry: &Registry,
    order: &[usize],
) -> fmt::Result {
    let services = order.iter().filter_map(|&i| registry.services.get(i));
    sink.write_char('[')?;
    let mut first = true;
    write_chunked(sink, services, |out, service| {
        if !first {
            out.push(',');
        }
        first = false;
        index_entry(out, service);
    })?;
    sink.write_char(']')
}

fn index_entry(out: &mut String, s: &Service) {
    out.push_str("\n[");
    json_string_into(out, &s.id);
    out.push(',');
    json_string_into(out, &s.connector_name);
    out.push(',');
    match &s.official_vendor_name {
        Some(vendor) => json_string_into(out, vendor),
        None => out.push_str("null"),
    }
    match s.rank {
        Some(rank) => {
            let _ = write!(out, ",{rank},\"");
        }
        None => out.push_str(",null,\""),
    }
    out.push_str(s.auth_type.as_str());
    out.push_str("\",\"");
    out.push_str(s.confidence.as_str());
    let _ = write!(out, "\",{},", s.routes().len());
    json_string_into(out, &crate::search::search_text(s));
    out.push(']');
}

/// Appends `text` as a JSON string that is also safe inside an HTML `<script>` data block.
fn json_string_into(out: &mut String, text: &str) {
    out.push('"');
    let mut start = 0;
    for (index, byte) in text.bytes().enumerate() {
        let escaped = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'<' => "\\u003c",
            0..=0x1f => {
                out.push_str(&text[start..index]);
                let _ = write!(out, "\\u{byte:04x}");
                start = index + 1;
                continue;
            }
            _ => continue,
        };
        out.push_str(&text[start..index]);
        out.push_str(escaped);
        start = index + 1;
    }
    out.push_str(&text[start..]);
    out.push('"');
}

/// A Content-Security-Policy source for an inline script or style: `sha256-<base64>`.
pub fn csp_hash(text: &str) -> String {
    format!(
        "sha256-{}",
        BASE64_STANDARD.encode(Sha256::digest(text.as_bytes()))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_markup_character() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(escape("plain ünïcode"), "plain ünïcode");
    }

    #[test]
    fn only_https_becomes_a_link() {
        assert_eq!(
            link("https://api.slack.com/", "Slack"),
            r#"<a href="https://api.slack.com/" rel="noopener noreferrer">Slack</a>"#
        );
        assert_eq!(link("javascript:alert(1)", "x"), "x");
        assert_eq!(link("http://example.com", "<b>"), "&lt;b&gt;");
        assert_eq!(
            link("https://a.example/\"><script>", "t")
                .matches('"')
                .count(),
            4
        );
        assert!(!is_linkable("https://exa mple.com"));
        assert!(is_linkable("HTTPS://EXAMPLE.COM"));
    }

    #[test]
    fn prose_escapes_raw_html_and_unsafe_links() {
        let html = prose(
            "Use *this* <script>alert(1)</script> and [docs](https://example.com) \
             not [bad](javascript:alert(1)) ![pixel](https://tracker.example/p.png)",
        );
        assert_eq!(
            html,
            "<p>Use <em>this</em> &lt;script&gt;alert(1)&lt;/script&gt; and \
             <a href=\"https://example.com\" rel=\"noopener noreferrer\">docs</a> not bad \
             <a href=\"https://tracker.example/p.png\" rel=\"noopener noreferrer\">pixel</a></p>\n"
        );
        let block = prose("<div onclick=\"x\">\n\nhi");
        assert!(!block.contains("<div"), "{block}");
    }

    #[test]
    fn plain_sentences_render_like_pulldown_cmark() {
        for text in [
            "Official API docs landing page; central navigation toward auth/reference.",
            "Uses \"quotes\" and 'apostrophes' (and parens): 100% + a=b @ $5 - fine?",
            "Ünïcode wörds, 日本語 too",
            "a  b",
        ] {
            assert!(is_plain_sentence(text), "{text}");
            let mut slow = String::new();
            pulldown_cmark::html::push_html(
                &mut slow,
                Parser::new_ext(text, Options::ENABLE_STRIKETHROUGH),
            );
            assert_eq!(prose(text), slow, "{text}");
        }
        for text in [
            "1. list",
            "- item",
            "# heading",
            "a_b_",
            "x <b>",
            "a & b",
            "trailing ",
            "",
            "two\nlines",
            "~~gone~~",
        ] {
            assert!(!is_plain_sentence(text), "{text}");
        }
    }

    proptest::proptest! {
        #[test]
        fn the_plain_sentence_shortcut_never_changes_output(text in "[a-zA-Zé][a-zA-Z0-9é .,;:'\"()/?%+=@$-]{0,40}") {
            let mut slow = String::new();
            pulldown_cmark::html::push_html(&mut slow, Parser::new_ext(&text, Options::ENABLE_STRIKETHROUGH));
            proptest::prop_assert_eq!(prose(&text), slow);
        }
    }

    #[test]
    fn json_strings_are_valid_json_and_cannot_end_a_script_block() {
        for text in [
            "plain",
            "</script><script>alert(1)</script>",
            "<!-- <script>",
            "quote \" backslash \\ newline \n tab \t nul \u{0} bell \u{7} ünïcode \u{2028}",
        ] {
            let mut out = String::new();
            json_string_into(&mut out, text);
            assert!(!out.contains('<'), "{out}");
            assert_eq!(serde_json::from_str::<String>(&out).unwrap(), text);
        }
    }

    #[test]
    fn csp_hash_matches_a_known_digest() {
        // echo -n "alert(1)" | openssl dgst -sha256 -binary | base64
        assert_eq!(
            csp_hash("alert(1)"),
            "sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI="
        );
    }
}
