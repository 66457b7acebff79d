//! The service search of the HTML page's search box, for tools that answer the same question
//! (`workerflow mcp`'s `search_services`).
//!
//! What a query matches is defined once here: [`search_text`] is what the search box matches
//! beside each service's name, id and vendor, and [`Query::matches`] applies the page's rule
//! (every whitespace-separated term, lower-cased, is a substring of the lower-cased name, id,
//! vendor or that text). [`Query::tier`] orders the matches: the closer the query is to a
//! service's own name, the earlier the service. The page's script builds the same key from its
//! data island and applies the same rule and tiers (then rank), so its results and their order
//! are `search_services`' (`tests/browser.rs` compares them).

use crate::model::Service;
use crate::render::links::is_linkable;

/// What the search box matches besides name, id and vendor, one item per line: the auth type,
/// each route id with its secret names, each https URL the row links to (once), and the notes.
pub fn search_text(service: &Service) -> String {
    let mut text = String::new();
    text.push_str(service.auth_type.as_str());
    for route in service.routes() {
        text.push('\n');
        text.push_str(&route.id);
        for name in route.secrets.iter().flat_map(|secret| &secret.any_of) {
            text.push('\n');
            text.push_str(name);
        }
    }
    // The same URL often fills several fields: once is enough, as a term never spans lines.
    let mut urls: Vec<&str> = Vec::new();
    let linked = service.docs_url().into_iter();
    let linked = linked.chain(service.links().map(|(_, url)| url));
    for url in linked.chain(service.sources.iter().map(String::as_str)) {
        if is_linkable(url) && !urls.contains(&url) {
            urls.push(url);
            text.push('\n');
            text.push_str(url);
        }
    }
    if let Some(notes) = &service.notes {
        text.push('\n');
        text.push_str(notes);
    }
    text
}

/// A service's lower-cased search key, as the page builds it: name, id, vendor, then
/// [`search_text`], one per line. Built once per service by tools that search many times.
pub fn search_key(service: &Service) -> String {
    let text = search_text(service);
    let vendor = service.official_vendor_name.as_deref().unwrap_or("");
    let parts = [service.connector_name.as_str(), &service.id, vendor, &text];
    let mut key = String::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for (index, part) in parts.into_iter().enumerate() {
        if index > 0 {
            key.push('\n');
        }
        // ASCII lower-cases byte by byte; the rest as a whole, like `toLowerCase` (final sigma).
        if part.is_ascii() {
            key.extend(part.bytes().map(|b| char::from(b.to_ascii_lowercase())));
        } else {
            key.push_str(&part.to_lowercase());
        }
    }
    key
}

/// A parsed query: its lower-cased terms.
#[derive(Clone, Debug)]
pub struct Query {
    whole: String,
    terms: Vec<String>,
}

/// How closely a matching service fits a query, best first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tier {
    /// The query is the service's id or its whole name.
    Exact,
    /// The name or the id starts with the query.
    Prefix,
    /// Every term is in the name, id or vendor.
    Name,
    /// Some term is found only in the rest (auth, routes, secrets, URLs, notes).
    Other,
}

impl Query {
    /// The query for what a user typed (case, accents and punctuation folded).
    pub fn new(text: &str) -> Query {
        let whole = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let whole = whole.to_lowercase();
        let terms = whole
            .split(' ')
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        Query {
            terms: terms.collect(),
            whole,
        }
    }

    /// Whether the query has no terms (it matches every service).
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The page's rule: every term is a substring of `key` (a [`search_key`]).
    pub fn matches(&self, key: &str) -> bool {
        self.terms.iter().all(|term| key.contains(term.as_str()))
    }

    /// How well the service with `key` (a [`search_key`] that [`Query::matches`]) fits. The
    /// key's first three lines are the lower-cased name, id and vendor, so nothing is
    /// lower-cased again.
    pub fn tier(&self, key: &str) -> Tier {
        if self.terms.is_empty() {
            return Tier::Other;
        }
        let mut lines = key.splitn(4, '\n');
        let (name, id, vendor) = (
            lines.next().unwrap_or(""),
            lines.next().unwrap_or(""),
            lines.next().unwrap_or(""),
        );
        if self.whole == id || self.whole == name {
            return Tier::Exact;
        }
        if name.starts_with(&self.whole) || id.starts_with(&self.whole) {
            return Tier::Prefix;
        }
        let in_names = |term: &String| {
            name.contains(term.as_str()) || id.contains(term.as_str()) || vendor.contains(term)
        };
        if self.terms.iter().all(in_names) {
            Tier::Name
        } else {
            Tier::Other
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Registry;

    fn registry() -> Registry {
        let text = r#"{"version": 1, "updatedAt": "2026-03-01", "notes": null, "services": [
          {"rank": 2, "connectorName": "Slack", "officialVendorName": "Salesforce", "officialApiDocsUrl": "https://api.slack.com/",
           "bestBaseLink": null, "bestBaseLinkScore": null, "bestBaseLinkReason": null, "authType": "oauth2",
           "authDocsUrl": null, "webhookDocsUrl": null, "rateLimitDocsUrl": null, "openapiUrl": null,
           "officialSdkUrl": null, "changelogUrl": null, "docsRequiresLogin": false, "confidence": "High",
           "notes": "Incoming webhooks post to a channel.", "sources": ["https://api.slack.com/"],
           "runtime": {"routes": [{"id": "slack_message", "summary": "Post.", "requestType": "async",
             "secrets": [{"label": "Webhook", "anyOf": ["SLACK_WEBHOOK_URL"]}]}]}},
          {"rank": null, "connectorName": "Slackbot Archive", "officialVendorName": null, "officialApiDocsUrl": null,
           "bestBaseLink": null, "bestBaseLinkScore": null, "bestBaseLinkReason": null, "authType": "api_key",
           "authDocsUrl": null, "webhookDocsUrl": null, "rateLimitDocsUrl": null, "openapiUrl": null,
           "officialSdkUrl": null, "changelogUrl": null, "docsRequiresLogin": "unknown", "confidence": "Low",
           "notes": null, "sources": ["https://slackbot.example/"]}
        ]}"#;
        Registry::from_str(text).expect("valid")
    }

    #[test]
    fn the_key_holds_what_the_search_box_matches() {
        let registry = registry();
        let key = search_key(&registry.services[0]);
        assert_eq!(
            key,
            "slack\nslack\nsalesforce\noauth2\nslack_message\nslack_webhook_url\nhttps://api.slack.com/\nincoming webhooks post to a channel."
        );
    }

    #[test]
    fn every_term_must_match_and_the_tier_orders_matches() {
        let registry = registry();
        let [slack, archive] = [&registry.services[0], &registry.services[1]];
        let query = Query::new("  SLACK ");
        let [slack, archive] = [search_key(slack), search_key(archive)];
        assert!(query.matches(&slack) && query.matches(&archive));
        assert_eq!(query.tier(&slack), Tier::Exact);
        assert_eq!(query.tier(&archive), Tier::Prefix);
        let query = Query::new("slack webhook_url");
        assert!(query.matches(&slack));
        assert!(!query.matches(&archive));
        assert_eq!(query.tier(&slack), Tier::Other);
        assert_eq!(Query::new("sales").tier(&slack), Tier::Name);
        assert!(Query::new(" ").is_empty() && Query::new("").matches("anything"));
    }
}
