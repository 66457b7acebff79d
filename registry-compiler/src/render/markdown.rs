//! Markdown output: escaping that keeps every registry value inert text (no HTML, no links, no
//! code spans, no broken table), while leaving ordinary names readable in the raw file; and the
//! per-service tables and sections, written here for speed (see `html::write_table_rows`).

use std::fmt::{self, Write as _};

use super::context::link_label;
pub(crate) use super::links::anchor;
use super::links::{anchor_into, is_linkable};
use super::write_chunked;
use crate::model::{DocsRequiresLogin, Registry, Route, Service};

/// Appends `text` escaped for Markdown inline content. `\`, `` ` ``, `[`, `]`, `|`, `*` and `~`
/// get a backslash, and `_` does too unless a letter or digit precedes its run (such a run can never
/// open emphasis, so `snake_case` names stay readable in the raw file); `<` becomes `&lt;`; line
/// breaks become spaces unless `keep_newlines` (prose).
pub(crate) fn escape_into(out: &mut String, text: &str, keep_newlines: bool) {
    let bytes = text.as_bytes();
    let mut start = 0;
    // Every character escaped is ASCII, so byte offsets are always char boundaries.
    for (index, &byte) in bytes.iter().enumerate() {
        let replacement = match byte {
            b'\\' => "\\\\",
            b'`' => "\\`",
            b'[' => "\\[",
            b']' => "\\]",
            b'|' => "\\|",
            b'*' => "\\*",
            b'~' => "\\~",
            // The whole run of `_` is one delimiter: look at what precedes the run.
            b'_' if bytes[..index]
                .iter()
                .rev()
                .find(|&&b| b != b'_')
                .is_some_and(u8::is_ascii_alphanumeric) =>
            {
                continue;
            }
            b'_' => "\\_",
            b'<' => "&lt;",
            // `\r\n` and a lone `\r` both end a line.
            b'\r' if keep_newlines => {
                if bytes.get(index + 1) == Some(&b'\n') {
                    ""
                } else {
                    "\n"
                }
            }
            b'\r' | b'\n' if !keep_newlines => " ",
            _ => continue,
        };
        out.push_str(&text[start..index]);
        out.push_str(replacement);
        start = index + 1;
    }
    out.push_str(&text[start..]);
}

/// A value on one line (table cells, list items, headings).
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text, false);
    out
}

/// Multi-line prose: the same escaping, line breaks kept.
pub(crate) fn prose(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text.trim(), true);
    out
}

/// Registry notes as one line of inline text: escaped, line breaks as spaces, and a leading
/// block marker (`#`, `-`, `+`, `>`, `=`, `1.`) escaped, so data never makes a heading, list or
/// quote.
pub(crate) fn inline(text: &str) -> String {
    let text = text.trim();
    let mut out = String::with_capacity(text.len() + 8);
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    if matches!(
        text.as_bytes().first(),
        Some(b'#' | b'-' | b'+' | b'>' | b'=')
    ) {
        out.push('\\');
    } else if digits > 0 && matches!(text.as_bytes().get(digits), Some(b'.' | b')')) {
        // An ordered list marker: escape its `.` or `)`.
        out.push_str(&text[..digits]);
        out.push('\\');
        escape_into(&mut out, &text[digits..], false);
        return out;
    }
    escape_into(&mut out, text, false);
    out
}

/// Appends `text` as a code span, verbatim: the fence is longer than any backtick run in it,
/// and line breaks become spaces (a code span is one line).
pub(crate) fn code_span_into(out: &mut String, text: &str) {
    let ticks = "`".repeat(longest_backtick_run(text) + 1);
    let pad = text.starts_with('`') || text.ends_with('`');
    out.push_str(&ticks);
    if pad {
        out.push(' ');
    }
    out.extend(
        text.chars()
            .map(|c| if c == '\n' || c == '\r' { ' ' } else { c }),
    );
    if pad {
        out.push(' ');
    }
    out.push_str(&ticks);
}

/// The longest run of backticks in `text`: a code span or fence needs one more.
pub(crate) fn longest_backtick_run(text: &str) -> usize {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    longest
}

/// [`code_span_into`] as a new string.
pub(crate) fn code_span(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    code_span_into(&mut out, text);
    out
}

/// Prefixes every line with `> `, so prose stays one block quote whatever its lines start with.
pub(crate) fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for (index, line) in text.lines().enumerate() {
        if index > 0 {
            out.push('\n');
        }
        out.push('>');
        if !line.is_empty() {
            out.push(' ');
            out.push_str(line);
        }
    }
    out
}

/// A link to `url` showing `text` (both escaped), or the URL as an inert code span when it is
/// not `https://`.
pub(crate) fn link(url: &str, text: &str) -> String {
    let mut out = String::with_capacity(url.len() + text.len() + 8);
    link_into(&mut out, url, text);
    out
}

fn link_into(out: &mut String, url: &str, text: &str) {
    if is_linkable(url) && text == url {
        // An autolink reads best in the raw file, where agents read it.
        out.push('<');
        push_destination(out, url);
        out.push('>');
    } else if is_linkable(url) {
        out.push('[');
        escape_into(out, text, false);
        out.push_str("](");
        push_destination(out, url);
        out.push(')');
    } else {
        // Percent-encoding keeps backticks and pipes from ending the code span or the cell.
        out.push('`');
        push_destination(out, url);
        out.push('`');
    }
}

/// `| Service | Route | Request type | Secret requirements | Auth | Docs |` rows, to `sink`.
pub(crate) fn write_route_rows(
    sink: &mut dyn fmt::Write,
    registry: &Registry,
    routes: &[(usize, usize)],
) -> fmt::Result {
    let pairs = routes.iter().filter_map(|&(s, r)| {
        let service = registry.services.get(s)?;
        Some((service, service.routes().get(r)?))
    });
    write_chunked(sink, pairs, |out, (service, route)| {
        out.push_str("| ");
        service_link(out, service);
        out.push_str(" | ");
        code_span_into(out, &route.id);
        out.push_str(" | ");
        out.push_str(route.request_type.as_str());
        out.push_str(" | ");
        secrets(out, route, ": ", "");
        out.push_str(" | ");
        // The route's own scheme when its contract declares one (Stripe's routes use an API
        // key, though the service's scheme is OAuth 2).
        out.push_str(route.auth.unwrap_or(service.auth_type).as_str());
        out.push_str(" | ");
        docs_link(out, service);
        out.push_str(" |\n");
    })
}

/// Rows of the ranked (`with_rank`) or unranked services table, to `sink`.
pub(crate) fn write_service_rows(
    sink: &mut dyn fmt::Write,
    registry: &Registry,
    order: &[usize],
    with_rank: bool,
) -> fmt::Result {
    let services = order.iter().filter_map(|&i| registry.services.get(i));
    write_chunked(sink, services, |out, service| {
        out.push_str("| ");
        if with_rank {
            if let Some(rank) = service.rank {
                let _ = write!(out, "{rank}");
            }
            out.push_str(" | ");
        }
        service_link(out, service);
        out.push_str(" | ");
        escape_into(
            out,
            service.official_vendor_name.as_deref().unwrap_or("unknown"),
            false,
        );
        out.push_str(" | ");
        super::auth_with_routes(out, service);
        out.push_str(" | ");
        out.push_str(service.confidence.as_str());
        out.push_str(" | ");
        docs_link(out, service);
        out.push_str(" |\n");
    })
}

/// One section per service, to `sink`: anchor, heading, every non-null link, routes, sources,
/// notes.
pub(crate) fn write_sections(
    sink: &mut dyn fmt::Write,
    registry: &Registry,
    order: &[usize],
) -> fmt::Result {
    let services = order.iter().filter_map(|&i| registry.services.get(i));
    write_chunked(sink, services, section)
}

fn section(out: &mut String, s: &Service) {
    out.push_str("\n<a id=\"");
    anchor_into(out, &s.id);
    out.push_str("\"></a>\n\n### ");
    escape_into(out, &s.connector_name, false);
    out.push_str("\n\n- Id: ");
    code_span_into(out, &s.id);
    match s.rank {
        Some(rank) => {
            let _ = write!(out, " · rank {rank}");
        }
        None => out.push_str(" · unranked"),
    }
    out.push_str("\n- Vendor: ");
    escape_into(
        out,
        s.official_vendor_name.as_deref().unwrap_or("unknown"),
        false,
    );
    out.push_str("\n- Auth: ");
    super::auth_with_routes(out, s);
    out.push_str(" · confidence: ");
    out.push_str(s.confidence.as_str());
    out.push_str(" · docs require login: ");
    out.push_str(match s.docs_requires_login {
        DocsRequiresLogin::Yes => "yes",
        DocsRequiresLogin::No => "no",
        DocsRequiresLogin::Unknown => "unknown",
        DocsRequiresLogin::NotStated => "not stated",
    });
    for (field, url) in s.links() {
        out.push_str("\n- ");
        out.push_str(link_label(field));
        out.push_str(": ");
        link_into(out, url, url);
        if let (Some(score), "bestBaseLink") = (s.best_base_link_score, field) {
            let _ = write!(out, " (score {score})");
        }
    }
    if let Some(reason) = &s.best_base_link_reason {
        out.push_str("\n- Why this base link: ");
        escape_into(out, reason, false);
    }
    for route in s.routes() {
        out.push_str("\n- Route ");
        code_span_into(out, &route.id);
        out.push_str(" (");
        out.push_str(route.request_type.as_str());
        out.push_str("): ");
        escape_into(out, &route.summary, false);
        if let Some(auth) = route.auth {
            out.push_str(" Auth: ");
            out.push_str(auth.as_str());
            out.push('.');
        }
        out.push_str(" Secrets: ");
        secrets(out, route, " (", ")");
    }
    if s.oauth2.is_some() {
        out.push_str("\n- OAuth 2.0 app: [");
        escape_into(out, &s.connector_name, false);
        out.push_str(" OAuth app](#");
        out.push_str(&super::links::oauth_anchor(&s.id));
        out.push(')');
    }
    out.push_str("\n- Sources: ");
    for (i, url) in s.sources.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        link_into(out, url, url);
    }
    if let Some(notes) = &s.notes {
        out.push_str("\n\n");
        out.push_str(&quote(&inline(notes)));
    }
    out.push('\n');
}

/// `label: `A` or `B`; label2: …` (`open`/`close` go around each name list).
fn secrets(out: &mut String, route: &Route, open: &str, close: &str) {
    if route.secrets.is_empty() {
        out.push_str("none");
    }
    for (i, secret) in route.secrets.iter().enumerate() {
        if i > 0 {
            out.push_str("; ");
        }
        escape_into(out, &secret.label, false);
        out.push_str(open);
        for (j, name) in secret.any_of.iter().enumerate() {
            if j > 0 {
                out.push_str(" or ");
            }
            code_span_into(out, name);
        }
        out.push_str(close);
        if secret.unless_connection {
            out.push_str(" (");
            out.push_str(super::links::ONLY_WITHOUT_CONNECTION);
            out.push(')');
        }
    }
}

fn service_link(out: &mut String, service: &Service) {
    out.push('[');
    escape_into(out, &service.connector_name, false);
    out.push_str("](#");
    anchor_into(out, &service.id);
    out.push(')');
}

fn docs_link(out: &mut String, service: &Service) {
    match service.docs_url() {
        Some(url) => link_into(out, url, url),
        None => out.push_str("none"),
    }
}

/// Percent-encodes everything a link destination or a table cell could trip over (spaces,
/// parentheses, angle brackets, pipes, backticks, backslashes, non-ASCII).
fn push_destination(out: &mut String, url: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let keep = |b: u8| b.is_ascii_alphanumeric() || b"-._~:/?#@!$&'*+,;=%[]".contains(&b);
    let mut start = 0;
    for (index, byte) in url.bytes().enumerate() {
        if keep(byte) {
            continue;
        }
        // Only runs of kept (ASCII) bytes are copied; a multi-byte character is encoded byte by
        // byte, so `start..index` is either empty or on char boundaries.
        if start < index {
            out.push_str(&url[start..index]);
        }
        out.push('%');
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 15)]));
        start = index + 1;
    }
    out.push_str(&url[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cannot_break_a_table_or_inject_markup() {
        assert_eq!(escape("a | b"), r"a \| b");
        assert_eq!(escape("one\ntwo\r\nthree"), "one two  three");
        assert_eq!(escape("`code` <b>"), r"\`code\` &lt;b>");
        assert_eq!(
            escape(r"[x](javascript:alert(1))"),
            r"\[x\](javascript:alert(1))"
        );
        assert_eq!(escape(r"back\|slash"), r"back\\\|slash");
        assert_eq!(escape("monday.com & Co_"), "monday.com & Co_");
    }

    #[test]
    fn emphasis_and_strikethrough_markers_are_inert() {
        assert_eq!(escape("*bold* ~~gone~~"), r"\*bold\* \~\~gone\~\~");
        assert_eq!(escape("_em_ snake_case x__y"), r"\_em_ snake_case x__y");
        assert_eq!(escape("(_a_) 2_3"), r"(\_a_) 2_3");
    }

    #[test]
    fn notes_are_one_line_without_blocks() {
        assert_eq!(inline("# Title\n\nbody"), r"\# Title  body");
        assert_eq!(inline("- item"), r"\- item");
        assert_eq!(inline("1. first\n2. second"), r"1\. first 2. second");
        assert_eq!(inline("> quoted"), r"\> quoted");
        assert_eq!(inline("Plain note."), "Plain note.");
    }

    #[test]
    fn code_spans_hold_any_text() {
        assert_eq!(code_span("slack_message"), "`slack_message`");
        assert_eq!(code_span("a`b"), "``a`b``");
        assert_eq!(code_span("`x"), "`` `x ``");
    }

    #[test]
    fn prose_keeps_lines() {
        assert_eq!(prose(" a\r\nb\rc\n<x> "), "a\nb\nc\n&lt;x>");
    }

    #[test]
    fn links_are_https_only_and_encoded() {
        assert_eq!(
            link("https://api.slack.com/", "api.slack.com/"),
            "[api.slack.com/](https://api.slack.com/)"
        );
        assert_eq!(
            link("https://x.example/a\"b|(c)`", "t"),
            "[t](https://x.example/a%22b%7C%28c%29%60)"
        );
        assert_eq!(
            link("https://x.example/a b", "t"),
            "`https://x.example/a%20b`"
        );
        assert_eq!(
            link("javascript:alert(1)|`", "t"),
            "`javascript:alert%281%29%7C%60`"
        );
        assert_eq!(link("http://x.example", "t"), "`http://x.example`");
        assert_eq!(
            link("https://x.example/<a>", "https://x.example/<a>"),
            "<https://x.example/%3Ca%3E>"
        );
        assert_eq!(
            link("https://x.example/é€/ü", "t"),
            "[t](https://x.example/%C3%A9%E2%82%AC/%C3%BC)"
        );
    }

    #[test]
    fn anchors_are_slugs() {
        assert_eq!(anchor("slack"), "slack");
        assert_eq!(anchor("a\"><b"), "a---b");
        assert_eq!(anchor(""), "service");
    }
}
