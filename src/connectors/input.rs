//! Input helpers for what a contract's schema cannot say (docs/ROUTES.md 1.3): trimming, and
//! the few cross-field rules handlers check themselves, every problem collected.

use serde_json::{Map, Value};
use workerflow_runtime::{ConnectorError, InputProblem};

/// Removes leading and trailing Unicode whitespace and U+FEFF.
pub(crate) fn trim(text: &str) -> &str {
    text.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
}

/// The trimmed text when it is non-blank (docs/ROUTES.md 1.3).
pub(crate) fn non_blank(text: Option<&str>) -> Option<&str> {
    text.map(trim).filter(|text| !text.is_empty())
}

/// The problems found in one input, reported together as one invalid-input error.
pub(crate) struct Problems {
    route: &'static str,
    problems: Vec<InputProblem>,
}

impl Problems {
    pub(crate) fn new(route: &'static str) -> Self {
        Problems {
            route,
            problems: Vec::new(),
        }
    }

    /// Adds `<route>: <message>` on `field`.
    pub(crate) fn add(&mut self, field: &str, message: impl std::fmt::Display) {
        self.problems.push(InputProblem::new(
            field,
            format!("{}: {message}", self.route),
        ));
    }

    /// `value` when nothing was found. Callers record a problem whenever they pass `None`.
    pub(crate) fn check<T>(self, value: Option<T>) -> Result<T, ConnectorError> {
        let route = self.route;
        self.finish()?;
        value.ok_or_else(|| {
            ConnectorError::invalid_input(route, "body", format!("{route}: invalid input"))
        })
    }

    /// Ok when nothing was found.
    pub(crate) fn finish(self) -> Result<(), ConnectorError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ConnectorError::InvalidInput {
                route: self.route,
                problems: self.problems,
            })
        }
    }
}

/// Scalar metadata (docs/ROUTES.md 1.3): string, number and boolean entries as text, trimmed,
/// in input order; entries with an empty key or value dropped (the contract admits no other
/// values but `null`).
pub(crate) fn scalar_metadata(entries: Option<&Map<String, Value>>) -> Vec<(String, String)> {
    let Some(entries) = entries else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|(key, value)| {
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Bool(flag) => flag.to_string(),
                Value::Number(number) => number_text(number),
                Value::Null | Value::Array(_) | Value::Object(_) => return None,
            };
            let (key, text) = (trim(key), trim(&text));
            (!key.is_empty() && !text.is_empty()).then(|| (key.to_owned(), text.to_owned()))
        })
        .collect()
}

/// An integral number below 2^53 in magnitude as a plain integer (`1.0` is `1`); any other
/// number in the shortest form that reads back the same `f64`.
fn number_text(number: &serde_json::Number) -> String {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    match number.as_f64() {
        #[allow(clippy::cast_possible_truncation)] // integral and below 2^53: exact
        Some(value) if value.fract() == 0.0 && value.abs() < EXACT => (value as i64).to_string(),
        Some(value) => value.to_string(),
        None => number.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn trimming_includes_bom_and_unicode_spaces() {
        assert_eq!(trim("\u{feff}\u{3000} a b \n"), "a b");
        assert_eq!(non_blank(Some(" \u{feff} ")), None);
        assert_eq!(non_blank(Some(" x ")), Some("x"));
        assert_eq!(non_blank(None), None);
    }

    #[test]
    fn problems_are_collected_with_the_route() {
        let mut problems = Problems::new("r");
        problems.add("a", "\"a\" is wrong");
        problems.add("b", "\"b\" is wrong");
        let Err(ConnectorError::InvalidInput { problems, .. }) = problems.finish() else {
            panic!("expected problems");
        };
        let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(messages, ["r: \"a\" is wrong", "r: \"b\" is wrong"]);
    }

    #[test]
    fn metadata_keeps_scalars_as_text() {
        let metadata = json!({
            "n": 2, "f": false, "z": null, " ": "v", "one": 1.0,
            "half": 0.5, "big": 1e300, "k ": " v ", "e": "", "max": 18446744073709551615u64
        });
        assert_eq!(
            scalar_metadata(metadata.as_object()),
            [
                ("n".into(), "2".into()),
                ("f".into(), "false".into()),
                ("one".into(), "1".into()),
                ("half".into(), "0.5".into()),
                ("big".into(), format!("1{}", "0".repeat(300))),
                ("k".into(), "v".into()),
                ("max".into(), "18446744073709552000".into()),
            ]
        );
        assert!(scalar_metadata(None).is_empty());
    }
}
