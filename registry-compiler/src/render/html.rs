//! HTML output: escaping, links that only ever point at `https://`, registry prose rendered
//! from Markdown with any raw HTML in it turned into text, and the service table's rows.

use std::collections::HashMap;
use std::fmt::{self, Write as _};

use base64::Engine as _;
use base64::prelude::BASE64_STANDARD;
use pulldown_cmark::{CowStr, Event, LinkType, Options, Parser, Tag, TagEnd};
use sha2::{Digest, Sha256};

use super::links::{LINK_REL, link_into, route_anchor};
pub(crate) use super::links::{escape_into, is_linkable, link};
use super::write_chunked;
use crate::model::{DocsRequiresLogin, Registry, Service};

/// A linkable URL without its `https://` and a lone trailing `/`: what a narrow cell shows.
fn short_url(url: &str) -> &str {
    let rest = url.get(8..).unwrap_or(url);
    match rest.strip_suffix('/') {
        Some(trimmed) if !trimmed.contains('/') => trimmed,
        _ => rest,
    }
}

/// Renders registry prose (CommonMark) to HTML. Raw HTML in the prose becomes text, links keep
/// only `https://` targets (with `rel`), and images become links, so the page never loads
/// anything the registry names.
pub(crate) fn prose(markdown: &str) -> String {
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

/// How many services the static table (the page without script) lists at most. Above it the
/// table shows the first ones and points to `SERVICE_API_INDEX.md`: 20,000 rows are ~4 MB of a
/// table the browser only parses (as text, inside `<noscript>`) when script runs.
pub(crate) const STATIC_TABLE_LIMIT: usize = 20_000;

/// Writes the static table's `<tr>`s (the page without script), in the given order, at most
/// [`STATIC_TABLE_LIMIT`]. Each value once: the docs link shows its host and path, the full
/// URL is its `href`; the rest of each service (links, notes, sources) is in the data island
/// and in `SERVICE_API_INDEX.md`. End tags the HTML parser implies are left out.
/// Written here rather than in the template because interpreting a template per row would cost
/// ~20 µs a row, seconds for a 100,000-service registry; this takes about one.
pub(crate) fn write_static_rows(
    sink: &mut dyn fmt::Write,
    registry: &Registry,
    order: &[usize],
) -> fmt::Result {
    let services = order
        .iter()
        .take(STATIC_TABLE_LIMIT)
        .filter_map(|&i| registry.services.get(i));
    write_chunked(sink, services, static_row)
}

fn static_row(out: &mut String, s: &Service) {
    out.push_str("\n<tr id=\"");
    escape_into(out, &s.id);
    out.push_str("\"><td>");
    if let Some(rank) = s.rank {
        let _ = write!(out, "{rank}");
    }
    out.push_str("<th scope=\"row\">");
    escape_into(out, &s.connector_name);
    out.push_str(" <code>");
    escape_into(out, &s.id);
    out.push_str("</code><td>");
    if let Some(vendor) = &s.official_vendor_name {
        escape_into(out, vendor);
    }
    out.push_str("<td>");
    super::auth_with_routes(out, s);
    out.push_str("<td>");
    out.push_str(s.confidence.as_str());
    out.push_str("<td>");
    for (i, route) in s.routes().iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str("<a href=\"#");
        out.push_str(&route_anchor(&route.id));
        out.push_str("\">");
        escape_into(out, &route.id);
        out.push_str("</a>");
    }
    out.push_str("<td>");
    if let Some(url) = s.docs_url() {
        if is_linkable(url) {
            link_into(out, url, short_url(url));
        } else {
            escape_into(out, url);
        }
    }
}

/// Writes the page's data island: everything the windowed table shows and searches, each
/// value once per service, as JSON read from a `<script type="application/json">` block (never
/// run, so the Content-Security-Policy has nothing to allow). Every `<` is written as
/// `\u003c`, so no value can end the block. The shape (the script's `read` follows it):
///
/// `{"strings": [text...], "labels": [link label...], "rows": [[id, name, vendor, rank, auth,
/// confidence, docs, links, score, reason, login, routes, sources, notes]...]}`
///
/// - A text field (vendor, auth, confidence, reason, notes, a route's request type, summary,
///   auth and secret labels) that more than one service shares is written once in `strings`
///   and stands as its index there; a number where text is expected is such an index.
/// - `docs` is the docs link ([`Service::docs_url`]); `links` are the other URL fields not
///   equal to an earlier one, each `[field, url]` with `field` an index into `labels` (the
///   order of [`Service::links`]), and `bestBaseLink` as its bare index when it equals an
///   earlier one and has a score (the score is shown there).
/// - `login` is 1 (yes), 2 (no) or 0 (not known); `routes` are `[id, request type, summary,
///   [[secret label, [name...]]...], auth]`; `sources` those not among the links.
/// - Trailing empty fields are left out.
pub(crate) fn write_data_island(
    sink: &mut dyn fmt::Write,
    registry: &Registry,
    order: &[usize],
) -> fmt::Result {
    let services: Vec<&Service> = order
        .iter()
        .filter_map(|&i| registry.services.get(i))
        .collect();
    let strings = SharedStrings::of(&services);
    let mut head = String::from("{\"strings\":[");
    for (i, &(text, prose)) in strings.list.iter().enumerate() {
        if i > 0 {
            head.push(',');
        }
        if prose {
            prose_value_into(&mut head, text);
        } else {
            json_string_into(&mut head, text);
        }
    }
    head.push_str("],\n\"labels\":[");
    for (i, (_, label)) in super::context::LINK_LABELS.iter().enumerate() {
        if i > 0 {
            head.push(',');
        }
        json_string_into(&mut head, label);
    }
    head.push_str("],\n\"rows\":[");
    sink.write_str(&head)?;
    let mut first = true;
    write_chunked(sink, services, |out, service| {
        if !first {
            out.push(',');
        }
        first = false;
        island_row(out, service, &strings);
    })?;
    sink.write_str("]}")
}

/// Texts more than one service repeats, each written once at the head of the data island.
struct SharedStrings<'a> {
    /// Each text, and whether it is prose (a reason or notes, shown as Markdown).
    list: Vec<(&'a str, bool)>,
    index: HashMap<&'a str, usize>,
}

impl<'a> SharedStrings<'a> {
    fn of(services: &[&'a Service]) -> SharedStrings<'a> {
        let mut seen: HashMap<&'a str, bool> = HashMap::new();
        let mut list = Vec::new();
        let mut index = HashMap::new();
        let mut note = |text: &'a str, prose: bool| match seen.get_mut(text) {
            Some(shared) if !*shared => {
                *shared = true;
                index.insert(text, list.len());
                list.push((text, prose));
            }
            Some(_) => {}
            None => {
                seen.insert(text, false);
            }
        };
        for s in services {
            shared_fields(s, &mut note);
        }
        SharedStrings { list, index }
    }

    fn write(&self, out: &mut String, text: &str) {
        match self.index.get(text) {
            Some(i) => {
                let _ = write!(out, "{i}");
            }
            None => json_string_into(out, text),
        }
    }

    fn write_prose(&self, out: &mut String, text: &str) {
        match self.index.get(text) {
            Some(i) => {
                let _ = write!(out, "{i}");
            }
            None => prose_value_into(out, text),
        }
    }
}

/// Prose in the data island: a plain sentence as its text (the script shows it as one
/// paragraph, as [`prose`] would), anything else as `[markdown, html]`: the search matches the
/// Markdown, the row shows the HTML [`prose`] made of it.
fn prose_value_into(out: &mut String, text: &str) {
    if is_plain_sentence(text) {
        json_string_into(out, text);
    } else {
        out.push('[');
        json_string_into(out, text);
        out.push(',');
        json_string_into(out, &prose(text));
        out.push(']');
    }
}

/// The text fields of a service that may be shared, in the order the island writes them.
fn shared_fields<'a>(s: &'a Service, note: &mut impl FnMut(&'a str, bool)) {
    if let Some(vendor) = &s.official_vendor_name {
        note(vendor, false);
    }
    note(s.auth_type.as_str(), false);
    note(s.confidence.as_str(), false);
    if let Some(reason) = &s.best_base_link_reason {
        note(reason, true);
    }
    for route in s.routes() {
        note(route.request_type.as_str(), false);
        note(&route.summary, false);
        // A label marked `unlessConnection` is written with its mark, never shared.
        for secret in route.secrets.iter().filter(|s| !s.unless_connection) {
            note(&secret.label, false);
        }
        if let Some(auth) = route.auth {
            note(auth.as_str(), false);
        }
    }
    if let Some(notes) = &s.notes {
        note(notes, true);
    }
}

fn island_row(out: &mut String, s: &Service, strings: &SharedStrings<'_>) {
    out.push_str("\n[");
    json_string_into(out, &s.id);
    out.push(',');
    json_string_into(out, &s.connector_name);
    out.push(',');
    match &s.official_vendor_name {
        Some(vendor) => strings.write(out, vendor),
        None => out.push_str("null"),
    }
    match s.rank {
        Some(rank) => {
            let _ = write!(out, ",{rank},");
        }
        None => out.push_str(",null,"),
    }
    strings.write(out, s.auth_type.as_str());
    out.push(',');
    strings.write(out, s.confidence.as_str());
    // The fields from here on are optional: each is written after a comma, and the row is cut
    // back to its last non-empty one.
    let mut end = out.len();
    out.push(',');
    match s.docs_url() {
        Some(url) => {
            json_string_into(out, url);
            end = out.len();
        }
        None => out.push_str("null"),
    }
    out.push_str(",[");
    let mut shown: Vec<&str> = s.docs_url().into_iter().collect();
    let mut any = false;
    for (field, (name, url)) in s.url_fields().iter().enumerate() {
        let Some(url) = url.as_deref() else { continue };
        let separator = if any { "," } else { "" };
        if shown.contains(&url) {
            if *name == "bestBaseLink" && s.best_base_link_score.is_some() {
                let _ = write!(out, "{separator}{field}");
                any = true;
            }
            continue;
        }
        shown.push(url);
        let _ = write!(out, "{separator}[{field},");
        json_string_into(out, url);
        out.push(']');
        any = true;
    }
    if any {
        out.push(']');
        end = out.len();
    } else {
        out.push_str("0]");
    }
    out.push(',');
    match s.best_base_link_score {
        Some(score) => {
            let _ = write!(out, "{score}");
            end = out.len();
        }
        None => out.push_str("null"),
    }
    out.push(',');
    match &s.best_base_link_reason {
        Some(reason) => {
            strings.write_prose(out, reason);
            end = out.len();
        }
        None => out.push_str("null"),
    }
    match s.docs_requires_login {
        DocsRequiresLogin::Yes => out.push_str(",1"),
        DocsRequiresLogin::No => out.push_str(",2"),
        DocsRequiresLogin::Unknown | DocsRequiresLogin::NotStated => out.push_str(",0"),
    }
    if !matches!(
        s.docs_requires_login,
        DocsRequiresLogin::Unknown | DocsRequiresLogin::NotStated
    ) {
        end = out.len();
    }
    out.push_str(",[");
    for (i, route) in s.routes().iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        json_string_into(out, &route.id);
        out.push(',');
        strings.write(out, route.request_type.as_str());
        out.push(',');
        strings.write(out, &route.summary);
        out.push_str(",[");
        for (j, secret) in route.secrets.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push('[');
            if secret.unless_connection {
                // The script shows the label as it is: the mark travels in it.
                let label = format!(
                    "{} ({})",
                    secret.label,
                    super::links::ONLY_WITHOUT_CONNECTION
                );
                json_string_into(out, &label);
            } else {
                strings.write(out, &secret.label);
            }
            out.push_str(",[");
            for (k, name) in secret.any_of.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                json_string_into(out, name);
            }
            out.push_str("]]");
        }
        out.push(']');
        if let Some(auth) = route.auth {
            out.push(',');
            strings.write(out, auth.as_str());
        }
        out.push(']');
    }
    out.push(']');
    if !s.routes().is_empty() {
        end = out.len();
    }
    out.push_str(",[");
    let mut any = false;
    for url in s
        .sources
        .iter()
        .filter(|url| !shown.contains(&url.as_str()))
    {
        if any {
            out.push(',');
        }
        json_string_into(out, url);
        any = true;
    }
    out.push(']');
    if any {
        end = out.len();
    }
    if let Some(notes) = &s.notes {
        out.push(',');
        strings.write_prose(out, notes);
        end = out.len();
    }
    out.truncate(end);
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
#[cfg_attr(not(feature = "unstable-internals"), allow(unreachable_pub))] // `internals`
pub fn csp_hash(text: &str) -> String {
    format!(
        "sha256-{}",
        BASE64_STANDARD.encode(Sha256::digest(text.as_bytes()))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::links::escape;

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
