//! Secret values, where they come from, and how a route's requirements are resolved.

use std::collections::HashMap;
use std::fmt;

use crate::error::ConfigProblem;
use crate::route::{RouteSpec, SecretRequirement};
use crate::secret_value::SecretValue;

/// Where secret values come from: the process environment, a map, a vault client.
///
/// `get` returns the raw value (or `None` when unset); the runtime trims it and treats a blank
/// value as unset, so sources need not. Implement it to plug in a secret store.
pub trait SecretSource: Send + Sync {
    /// The raw value of `name`, or `None` when it is unset.
    fn get(&self, name: &str) -> Option<SecretValue>;
}

impl<S: SecretSource + ?Sized> SecretSource for &S {
    fn get(&self, name: &str) -> Option<SecretValue> {
        (**self).get(name)
    }
}

impl<S: SecretSource + ?Sized> SecretSource for Box<S> {
    fn get(&self, name: &str) -> Option<SecretValue> {
        (**self).get(name)
    }
}

impl<S: SecretSource + ?Sized> SecretSource for std::sync::Arc<S> {
    fn get(&self, name: &str) -> Option<SecretValue> {
        (**self).get(name)
    }
}

/// Reads secrets from the process environment. A value that is not valid Unicode counts as unset.
#[derive(Clone, Copy, Debug, Default)]
pub struct EnvSecrets;

impl SecretSource for EnvSecrets {
    fn get(&self, name: &str) -> Option<SecretValue> {
        std::env::var_os(name)
            .and_then(|value| value.into_string().ok())
            .map(SecretValue::from)
    }
}

/// An in-memory source, for tests and for secrets fetched ahead of time.
#[derive(Clone, Default)]
pub struct MapSecrets {
    values: HashMap<String, SecretValue>,
}

impl MapSecrets {
    /// A source with no values.
    pub fn new() -> Self {
        MapSecrets::default()
    }

    /// Adds (or replaces) a value and returns the source, for chaining.
    pub fn with(mut self, name: impl Into<String>, value: impl Into<SecretValue>) -> Self {
        self.insert(name, value);
        self
    }

    /// Adds (or replaces) a value.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<SecretValue>) {
        self.values.insert(name.into(), value.into());
    }

    /// Removes a value and returns it, if it was there.
    pub fn remove(&mut self, name: &str) -> Option<SecretValue> {
        self.values.remove(name)
    }
}

impl<K: Into<String>, V: Into<SecretValue>> FromIterator<(K, V)> for MapSecrets {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        MapSecrets {
            values: iter
                .into_iter()
                .map(|(name, value)| (name.into(), value.into()))
                .collect(),
        }
    }
}

impl fmt::Debug for MapSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names only, sorted so the output is stable.
        let mut names: Vec<&str> = self.values.keys().map(String::as_str).collect();
        names.sort_unstable();
        f.debug_struct("MapSecrets").field("names", &names).finish()
    }
}

impl SecretSource for MapSecrets {
    fn get(&self, name: &str) -> Option<SecretValue> {
        self.values.get(name).cloned()
    }
}

/// Several sources asked in order: for each name, the first layer with a non-blank value wins.
#[derive(Default)]
pub struct LayeredSecrets {
    layers: Vec<Box<dyn SecretSource>>,
}

impl LayeredSecrets {
    /// A source with no layers (every name unset).
    pub fn new() -> Self {
        LayeredSecrets::default()
    }

    /// Adds a layer below the existing ones (asked after them).
    pub fn with(mut self, layer: impl SecretSource + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self
    }
}

impl fmt::Debug for LayeredSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LayeredSecrets")
            .field("layers", &self.layers.len())
            .finish()
    }
}

impl SecretSource for LayeredSecrets {
    fn get(&self, name: &str) -> Option<SecretValue> {
        // A blank value in an upper layer falls through, as it would between any-of names.
        self.layers
            .iter()
            .filter_map(|layer| layer.get(name))
            .find(|value| !trim(value.expose()).is_empty())
    }
}

/// A resolved requirement: its value and the name that supplied it.
#[derive(Clone)]
pub struct Secret {
    label: &'static str,
    name: &'static str,
    value: SecretValue,
}

impl Secret {
    pub(crate) fn new(label: &'static str, name: &'static str, value: SecretValue) -> Self {
        Secret { label, name, value }
    }

    /// The plain, trimmed value.
    pub fn expose(&self) -> &str {
        self.value.expose()
    }

    /// The trimmed value, still printed as `[REDACTED]` by `Debug` and `Display`.
    pub fn value(&self) -> &SecretValue {
        &self.value
    }

    /// The requirement's label (`Slack webhook URL`).
    pub fn label(&self) -> &'static str {
        self.label
    }

    /// The any-of name that supplied the value (`SLACK_WEBHOOK_URL`), for "invalid … (from NAME)".
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The configuration problem for a value that is set but cannot be used. It names the label
    /// and the name, never the value.
    pub fn unusable(&self, reason: impl Into<String>) -> ConfigProblem {
        ConfigProblem::Unusable {
            label: self.label.to_owned(),
            name: self.name.to_owned(),
            reason: reason.into(),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("label", &self.label)
            .field("name", &self.name)
            .field("value", &self.value)
            .finish()
    }
}

/// Trims as docs/ROUTES.md 1.3 says: Unicode whitespace and U+FEFF at both ends.
pub(crate) fn trim(value: &str) -> &str {
    value.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
}

/// Resolves one requirement: the first name with a non-blank value wins; later names are not read.
pub(crate) fn resolve_requirement(
    requirement: &'static SecretRequirement,
    source: &dyn SecretSource,
) -> Option<Secret> {
    requirement.any_of.iter().find_map(|&name| {
        let value = source.get(name)?;
        let trimmed = trim(value.expose());
        (!trimmed.is_empty())
            .then(|| Secret::new(requirement.label, name, SecretValue::new(trimmed)))
    })
}

/// Resolves every requirement of a route, or reports each unmet one, in declared order. With a
/// connection named, the requirements marked `unless_connection` are not read: each keeps its
/// place (generated `SecretOf` impls index the list) with an empty value.
pub(crate) fn resolve_route(
    route: &'static RouteSpec,
    source: &dyn SecretSource,
    with_connection: bool,
) -> Result<Vec<Secret>, Vec<ConfigProblem>> {
    let mut resolved = Vec::with_capacity(route.secrets.len());
    let mut missing = Vec::new();
    for requirement in route.secrets {
        if with_connection && requirement.unless_connection {
            resolved.push(Secret::new(requirement.label, "", SecretValue::new("")));
            continue;
        }
        match resolve_requirement(requirement, source) {
            Some(secret) => resolved.push(secret),
            None => missing.push(ConfigProblem::missing(requirement)),
        }
    }
    if missing.is_empty() {
        Ok(resolved)
    } else {
        Err(missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static CHAT: SecretRequirement = SecretRequirement::new(
        "chat webhook URL",
        &[
            "CHAT_WEBHOOK_URL",
            "GCHAT_ALERTS_WEBHOOK_URL",
            "GCHAT_ALERTS_WEBHOOK",
        ],
    );

    /// Counts lookups, to show that later names are not read.
    struct Counting(MapSecrets, std::sync::Mutex<Vec<String>>);

    impl SecretSource for Counting {
        fn get(&self, name: &str) -> Option<SecretValue> {
            if let Ok(mut seen) = self.1.lock() {
                seen.push(name.to_owned());
            }
            self.0.get(name)
        }
    }

    #[test]
    fn any_of_resolves_in_order_skipping_blank_values() {
        let source = MapSecrets::new()
            .with("CHAT_WEBHOOK_URL", "  \t")
            .with(
                "GCHAT_ALERTS_WEBHOOK_URL",
                "\u{feff} https://chat.example/hook \n",
            )
            .with("GCHAT_ALERTS_WEBHOOK", "https://other.example/");
        let counting = Counting(source, Default::default());
        let secret = resolve_requirement(&CHAT, &counting).expect("resolved");
        assert_eq!(secret.expose(), "https://chat.example/hook");
        assert_eq!(secret.name(), "GCHAT_ALERTS_WEBHOOK_URL");
        assert_eq!(secret.label(), "chat webhook URL");
        let seen = counting.1.lock().map(|s| s.clone()).unwrap_or_default();
        assert_eq!(seen, ["CHAT_WEBHOOK_URL", "GCHAT_ALERTS_WEBHOOK_URL"]);
    }

    #[test]
    fn blank_everywhere_is_unmet() {
        let source = MapSecrets::new()
            .with("CHAT_WEBHOOK_URL", "")
            .with("GCHAT_ALERTS_WEBHOOK", "\u{feff}\u{3000}");
        assert!(resolve_requirement(&CHAT, &source).is_none());
        assert!(resolve_requirement(&CHAT, &MapSecrets::new()).is_none());
    }

    #[test]
    fn layers_are_asked_in_order_and_blank_values_fall_through() {
        let layered = LayeredSecrets::new()
            .with(MapSecrets::new().with("A", "  ").with("B", "top"))
            .with(MapSecrets::new().with("A", "bottom").with("B", "ignored"));
        assert_eq!(
            layered.get("A").map(|v| v.expose().to_owned()),
            Some("bottom".into())
        );
        assert_eq!(
            layered.get("B").map(|v| v.expose().to_owned()),
            Some("top".into())
        );
        assert!(layered.get("C").is_none());
    }

    #[test]
    fn env_source_reads_the_process_environment() {
        // PATH is set in every test environment; a made-up name is not.
        assert!(EnvSecrets.get("PATH").is_some());
        assert!(
            EnvSecrets
                .get("WORKERFLOW_TEST_SURELY_UNSET_4711")
                .is_none()
        );
    }

    #[test]
    fn values_are_redacted() {
        let sentinel = "sk_test_SENTINEL_1";
        let value = SecretValue::new(sentinel);
        let map = MapSecrets::new().with("STRIPE_API_KEY", sentinel);
        let layered = LayeredSecrets::new().with(map.clone());
        static STRIPE: SecretRequirement =
            SecretRequirement::new("Stripe API key", &["STRIPE_API_KEY"]);
        let secret = resolve_requirement(&STRIPE, &map);
        let printed = [
            format!("{value}"),
            format!("{value:?}"),
            format!("{value:#?}"),
            format!("{map:?}"),
            format!("{layered:?}"),
            format!("{secret:?}"),
            format!("{secret:#?}"),
        ];
        for text in printed {
            assert!(!text.contains(sentinel), "{text}");
        }
        assert_eq!(value.expose(), sentinel);
    }
}
