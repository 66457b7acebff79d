//! Redaction of provider bodies before they reach an error (docs/ROUTES.md 1.8, 2.6).

use std::fmt;

use url::Url;

use crate::secrets::trim;

/// Longest excerpt kept, in bytes.
pub const MAX_EXCERPT: usize = 2048;

/// Webhook URL parts shorter than this are not redacted, so that a bare `/` is never touched.
const MIN_URL_PART: usize = 8;

/// A query value of a webhook URL is a credential from this length on (the key is not).
const MIN_QUERY_VALUE: usize = 4;

/// A path segment from this length on is a credential whatever its letters.
const LONG_SEGMENT: usize = 16;

/// The texts to replace with `[REDACTED]`: the secret values of a call and, for a webhook, its
/// URL, path and query.
#[derive(Clone, Default)]
pub struct Redactor {
    /// Kept sorted longest first, so a secret that contains another is replaced whole.
    patterns: Vec<String>,
}

impl Redactor {
    /// A redactor with nothing to replace yet.
    pub fn new() -> Self {
        Redactor::default()
    }

    /// Adds a secret value (ignored when empty).
    pub fn secret(mut self, value: &str) -> Self {
        self.add(value);
        self
    }

    /// Adds a webhook URL, whose every part may be a credential (POLICY.md 2.6): the text as
    /// configured, the parsed URL, its path and its query (each when at least 8 bytes long);
    /// every path segment that looks like a credential (see `credential_segment`); every
    /// query value of at least 4 bytes and the password of its user-info. Segments and values
    /// are added as written and percent-decoded, since a provider may echo either.
    pub fn webhook(mut self, configured: &str, url: &Url) -> Self {
        for part in [
            Some(configured),
            Some(url.as_str()),
            Some(url.path()),
            url.query(),
        ]
        .into_iter()
        .flatten()
        {
            if part.len() >= MIN_URL_PART {
                self.add(part);
            }
        }
        let segments = url.path_segments().into_iter().flatten();
        for segment in segments.filter(|segment| credential_segment(segment)) {
            self.add_with_decoded(segment);
        }
        if let Some(query) = url.query() {
            for pair in query.split('&') {
                let value = pair.split_once('=').map_or("", |(_, value)| value);
                if value.len() >= MIN_QUERY_VALUE {
                    self.add_with_decoded(value);
                }
            }
        }
        if let Some(password) = url.password().filter(|p| p.len() >= MIN_QUERY_VALUE) {
            self.add_with_decoded(password);
        }
        self
    }

    fn add_with_decoded(&mut self, part: &str) {
        self.add(part);
        let decoded = percent_encoding::percent_decode_str(&part.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned();
        if decoded != part && decoded.len() >= MIN_QUERY_VALUE {
            self.add(&decoded);
        }
    }

    fn add(&mut self, value: &str) {
        if value.is_empty() || self.patterns.iter().any(|p| p == value) {
            return;
        }
        self.patterns.push(value.to_owned());
        self.patterns
            .sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    }

    /// `text` with every pattern replaced, longest first.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for pattern in &self.patterns {
            if out.contains(pattern.as_str()) {
                out = out.replace(pattern.as_str(), "[REDACTED]");
            }
        }
        out
    }

    /// Every string inside a JSON value redacted (keys too).
    pub fn redact_json(&self, value: serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match value {
            Value::String(text) => Value::String(self.redact(&text)),
            Value::Array(items) => {
                Value::Array(items.into_iter().map(|v| self.redact_json(v)).collect())
            }
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| (self.redact(&k), self.redact_json(v)))
                    .collect(),
            ),
            other => other,
        }
    }

    /// The body excerpt of docs/ROUTES.md 1.8: decoded (invalid UTF-8 replaced), trimmed,
    /// redacted, then cut to at most 2048 bytes at a character boundary, without a marker.
    pub fn excerpt(&self, body: &[u8]) -> String {
        let decoded = String::from_utf8_lossy(body);
        let trimmed = trim(&decoded);
        // Only the start can reach the excerpt. The window leaves room for a secret that
        // straddles the cut, so it is redacted whole before cutting.
        let longest = self.patterns.first().map_or(0, String::len);
        let mut window = trimmed.len().min(MAX_EXCERPT + longest + 4);
        while !trimmed.is_char_boundary(window) {
            window += 1;
        }
        let mut text = self.redact(&trimmed[..window]);
        cut(&mut text, MAX_EXCERPT);
        text
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("patterns", &self.patterns.len())
            .finish()
    }
}

/// Whether a webhook URL's path segment may be a credential: 16 bytes or more, or 8 or more
/// unless it is a plain lowercase word (`services`, `messages`), so an error that says
/// "messages" keeps its words while `AAAA1234` or `T0123ABC` is masked.
fn credential_segment(segment: &str) -> bool {
    let plain_word = segment
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b == b'-' || b == b'_');
    segment.len() >= LONG_SEGMENT || (segment.len() >= MIN_URL_PART && !plain_word)
}

/// Cuts `text` to at most `max` bytes at a character boundary.
pub(crate) fn cut(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_webhook_parts_are_replaced_longest_first() {
        let url = Url::parse("http://127.0.0.1:9/hook/SECRETPATH?token=SECRETTOKEN").expect("url");
        let redactor = Redactor::new()
            .secret("sk_1")
            .secret("sk_1_longer")
            .webhook(url.as_str(), &url);
        let body = format!(
            "key sk_1_longer and sk_1; url {url}; path /hook/SECRETPATH; query token=SECRETTOKEN"
        );
        assert_eq!(
            redactor.redact(&body),
            "key [REDACTED] and [REDACTED]; url [REDACTED]; path [REDACTED]; query [REDACTED]"
        );
    }

    /// Issue 30.2: a provider that echoes one part of the URL (`Invalid token <token> for space
    /// <id>`) gets every part masked, in either encoding; the route's words stay.
    #[test]
    fn each_credential_part_of_a_webhook_url_is_masked_where_it_appears() {
        let url = Url::parse(
            "https://chat.example.com/v1/spaces/AAAA1234/messages?key=AIzaSyQ9&token=t%2Bk5%3D&x=1",
        )
        .expect("url");
        let redactor = Redactor::new().webhook(url.as_str(), &url);
        assert_eq!(
            redactor.redact(
                "Invalid token t%2Bk5%3D (t+k5=) for space AAAA1234 with key AIzaSyQ9 in messages"
            ),
            "Invalid token [REDACTED] ([REDACTED]) for space [REDACTED] with key [REDACTED] in messages"
        );
        // A value shorter than 4 bytes and plain words are not credentials.
        assert_eq!(redactor.redact("x=1 in v1 spaces"), "x=1 in v1 spaces");
        let slack = Url::parse(
            "https://hooks.slack.com/services/T0123ABC/B0456DEF/abcdefghijklmnopqrstuvwx",
        )
        .expect("url");
        let redactor = Redactor::new().webhook(slack.as_str(), &slack);
        assert_eq!(
            redactor.redact(
                "no_team T0123ABC, channel B0456DEF, token abcdefghijklmnopqrstuvwx for services"
            ),
            "no_team [REDACTED], channel [REDACTED], token [REDACTED] for services"
        );
        let with_user = Url::parse("https://bot:hunter22@hooks.example.com/h").expect("url");
        let redactor = Redactor::new().webhook(with_user.as_str(), &with_user);
        assert_eq!(
            redactor.redact("bad password hunter22"),
            "bad password [REDACTED]"
        );
    }

    #[test]
    fn short_url_parts_are_left_alone() {
        let url = Url::parse("http://h:1/?a=b").expect("url");
        let redactor = Redactor::new().webhook(url.as_str(), &url);
        assert_eq!(redactor.redact("/ a=b"), "/ a=b");
        assert_eq!(redactor.redact("see http://h:1/?a=b"), "see [REDACTED]");
    }

    #[test]
    fn excerpts_are_trimmed_and_cut_at_a_char_boundary() {
        let redactor = Redactor::new();
        assert_eq!(redactor.excerpt(b"  boom \n"), "boom");
        assert_eq!(redactor.excerpt(b"\xff ok"), "\u{fffd} ok");
        let body = "é".repeat(3000);
        let excerpt = redactor.excerpt(body.as_bytes());
        assert_eq!(excerpt.len(), 2048);
        assert!(excerpt.chars().all(|c| c == 'é'));
        let body = format!("a{}", "é".repeat(3000));
        assert_eq!(redactor.excerpt(body.as_bytes()).len(), 2047);
    }

    #[test]
    fn a_secret_at_the_cut_is_redacted_first() {
        let secret = "sk_test_SECRET_1";
        let body = format!("{}{secret}", "x".repeat(2040));
        let excerpt = Redactor::new().secret(secret).excerpt(body.as_bytes());
        assert_eq!(excerpt.len(), 2048);
        assert!(excerpt.ends_with("[REDACTE"), "{excerpt}");
        assert!(!excerpt.contains("sk_test"));
    }
}
