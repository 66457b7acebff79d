//! A service's links: each URL well formed (WF305), `sources` not empty (WF306), and a ranked
//! service with a link to its docs (WF315).

use super::{Service, URL_FIELDS, ids};
use crate::diagnostics::{Code, Diagnostic};
use crate::load::{NodeId, NodeKind};

/// WF305, WF306 and WF315 for one service.
pub(super) fn check(service: &Service<'_, '_>, out: &mut Vec<Diagnostic>) {
    let document = service.document;
    let index = service.index;
    let fields = &service.fields;
    // A runtime-only service (no rank) may be declared before its docs are known, as
    // `workerflow-registry new` does without `--docs`; a ranked one was found through them.
    let ranked = ids::is_ranked(service);
    if ranked
        && let [Some(docs), Some(best), ..] = fields.urls
        && document.kind(docs) == NodeKind::Null
        && document.kind(best) == NodeKind::Null
    {
        out.push(
            Diagnostic::error(
                Code::RankedWithoutLink,
                format!(
                    "{}a ranked service needs an https link, but `officialApiDocsUrl` and `bestBaseLink` are both null",
                    service.place()
                ),
                document.span(docs),
            )
            .with_label("no link to the API docs")
            .with_secondary(document.span(best), "null as well")
            .with_pointer(format!("/services/{index}/officialApiDocsUrl"))
            .with_help("set `officialApiDocsUrl` (`fmt` copies it to `bestBaseLink`), or use `rank: null` for a runtime-only service"),
        );
    }

    let mut good = Good::default();
    for (field, node) in URL_FIELDS.iter().zip(fields.urls) {
        if let Some(node) = node {
            let pointer = || format!("/services/{index}/{field}");
            check_url(service, node, &mut good, pointer, out);
        }
    }
    if let Some(sources) = fields
        .sources
        .filter(|&s| document.kind(s) == NodeKind::Array)
    {
        let mut count = 0;
        for (n, source) in document.children(sources).enumerate() {
            count += 1;
            let pointer = || format!("/services/{index}/sources/{n}");
            check_url(service, source, &mut good, pointer, out);
        }
        if count == 0 {
            // Unranked: nothing is guessed, and the gap stays visible as a warning. A
            // ranked service must cite its sources.
            let diagnostic = if ranked {
                Diagnostic::error
            } else {
                Diagnostic::warning
            };
            out.push(
                diagnostic(
                    Code::EmptySources,
                    format!("{}`sources` is empty", service.place()),
                    document.span(sources),
                )
                .with_label("no source listed")
                .with_pointer(format!("/services/{index}/sources"))
                .with_help("list the pages the facts were taken from, usually the API docs URL"),
            );
        }
    }
}

/// The texts (quotes included) of this service's URLs already found well formed: `fmt` copies
/// the docs URL to `bestBaseLink`, and `sources` usually lists it again.
#[derive(Default)]
struct Good<'src> {
    texts: [&'src str; 4],
    next: usize,
}

impl<'src> Good<'src> {
    fn contains(&self, text: &str) -> bool {
        self.texts.contains(&text)
    }

    fn insert(&mut self, text: &'src str) {
        self.texts[self.next % self.texts.len()] = text;
        self.next += 1;
    }
}

/// WF305 for one URL.
fn check_url<'src>(
    service: &Service<'_, 'src>,
    node: NodeId,
    good: &mut Good<'src>,
    pointer: impl FnOnce() -> String,
    out: &mut Vec<Diagnostic>,
) {
    let document = service.document;
    let Some(url) = document.str(node) else {
        return;
    };
    let text = document.text(node);
    if good.contains(text) {
        return;
    }
    let Some(rest) = url.strip_prefix("https://") else {
        return;
    }; // the schema's pattern reports it
    if let Some(problem) = url_problem(&url, rest) {
        out.push(
            Diagnostic::error(
                Code::InvalidUrl,
                format!("{}{problem}: {:?}", service.place(), url.as_ref()),
                document.span(node),
            )
            .with_label("not a well-formed https URL")
            .with_pointer(pointer())
            .with_help("write a full URL such as https://api.example.com/docs"),
        );
    } else {
        good.insert(text);
    }
}

/// Why a URL starting with `https://` is not well formed, if it is not.
pub(super) fn url_problem(url: &str, rest: &str) -> Option<&'static str> {
    // One pass over the bytes; the rare non-ASCII URL is checked character by character.
    for &byte in url.as_bytes() {
        match byte {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => return Some("URL contains whitespace"),
            0..=0x1f | 0x7f => return Some("URL contains a control character"),
            b'<' | b'>' | b'"' | b'`' | b'\\' | b'{' | b'}' | b'|' | b'^' => {
                return Some("URL contains a character that must be percent-encoded");
            }
            _ => {}
        }
    }
    if !url.is_ascii() {
        if url.chars().any(char::is_whitespace) {
            return Some("URL contains whitespace");
        }
        if url.chars().any(char::is_control) {
            return Some("URL contains a control character");
        }
    }
    // Byte searches: this runs for every URL of a 100,000-service registry.
    let authority_end = rest
        .bytes()
        .position(|b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let host_port = match authority.bytes().rposition(|b| b == b'@') {
        Some(at) => &authority[at + 1..],
        None => authority,
    };
    let (host, port) = if host_port.starts_with('[') {
        // An IPv6 literal: `[::1]` or `[::1]:8080`.
        match host_port.bytes().position(|b| b == b']') {
            Some(end) => match &host_port[end + 1..] {
                "" => (&host_port[..=end], None),
                after => match after.strip_prefix(':') {
                    Some(port) => (&host_port[..=end], Some(port)),
                    None => return Some("URL has an invalid host name"),
                },
            },
            None => return Some("URL has an invalid host name"),
        }
    } else {
        match host_port.bytes().rposition(|b| b == b':') {
            Some(colon) => (&host_port[..colon], Some(&host_port[colon + 1..])),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return Some("URL has no host");
    }
    if let Some(port) = port
        && (port.is_empty() || port.parse::<u16>().is_err())
    {
        return Some("URL has an invalid port");
    }
    let valid_label = |label: &[u8]| {
        !label.is_empty()
            && label.first() != Some(&b'-')
            && label.last() != Some(&b'-')
            && label
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b >= 0x80)
    };
    if !host.starts_with('[') && !host.as_bytes().split(|b| *b == b'.').all(valid_label) {
        return Some("URL has an invalid host name");
    }
    // Non-ASCII host labels must be letters or digits (internationalised names).
    if !host.is_ascii()
        && !host
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.')
    {
        return Some("URL has an invalid host name");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::url_problem;

    fn problem(url: &str) -> Option<&'static str> {
        url_problem(url, url.strip_prefix("https://").unwrap())
    }

    #[test]
    fn well_formed_urls_pass() {
        assert_eq!(problem("https://api.slack.com/"), None);
        assert_eq!(
            problem("https://developers.google.com/sheets/api?x=1#y"),
            None
        );
        assert_eq!(problem("https://localhost:8443/docs"), None);
        assert_eq!(problem("https://[::1]:8080/"), None);
        assert_eq!(problem("https://[::1]/"), None);
        assert_eq!(problem("https://bücher.example/"), None);
    }

    #[test]
    fn malformed_urls_are_named() {
        assert_eq!(problem("https://"), Some("URL has no host"));
        assert_eq!(problem("https:///path"), Some("URL has no host"));
        assert_eq!(
            problem("https://exa mple.com"),
            Some("URL contains whitespace")
        );
        assert_eq!(
            problem("https://example..com/"),
            Some("URL has an invalid host name")
        );
        assert_eq!(
            problem("https://example.com:99999/"),
            Some("URL has an invalid port")
        );
        assert_eq!(
            problem("https://example.com/<script>"),
            Some("URL contains a character that must be percent-encoded")
        );
    }
}
