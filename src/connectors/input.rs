//! Reading input fields as docs/ROUTES.md 1.2 and 1.3 say, collecting every problem.

use serde_json::{Map, Value};
use workerflow_runtime::{ConnectorError, InputProblem};

/// Removes leading and trailing Unicode whitespace and U+FEFF.
pub(crate) fn trim(text: &str) -> &str {
    text.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
}

/// The input object: the unwrapped payload when it is an object, else the route's error on
/// field `body` (docs/ROUTES.md 1.2).
pub(crate) fn object(
    route: &'static str,
    input: Value,
) -> Result<Map<String, Value>, ConnectorError> {
    match input {
        Value::Object(object) => Ok(object),
        _ => Err(ConnectorError::invalid_input(
            route,
            "body",
            format!("{route}: payload body must be an object"),
        )),
    }
}

/// The input object, or an empty one for routes that accept any input (incident, lead).
pub(crate) fn object_or_empty(input: Value) -> Map<String, Value> {
    match input {
        Value::Object(object) => object,
        _ => Map::new(),
    }
}

/// Missing or JSON `null`.
pub(crate) fn is_absent(object: &Map<String, Value>, field: &str) -> bool {
    object.get(field).is_none_or(Value::is_null)
}

/// A string field: the trimmed text when the value is a JSON string, else `None`.
pub(crate) fn string<'a>(object: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    object.get(field).and_then(Value::as_str).map(trim)
}

/// A string field that is non-blank after trimming.
pub(crate) fn non_blank<'a>(object: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    string(object, field).filter(|text| !text.is_empty())
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

    /// A required string: a non-blank JSON string, trimmed.
    pub(crate) fn required<'a>(
        &mut self,
        object: &'a Map<String, Value>,
        field: &str,
    ) -> Option<&'a str> {
        match object.get(field).and_then(Value::as_str).map(trim) {
            None => {
                self.add(field, format_args!("\"{field}\" must be a string"));
                None
            }
            Some("") => {
                self.add(field, format_args!("\"{field}\" must be at least 1 chars"));
                None
            }
            Some(text) => Some(text),
        }
    }

    /// A field that may be absent, but when present must be a required string.
    pub(crate) fn optional<'a>(
        &mut self,
        object: &'a Map<String, Value>,
        field: &str,
    ) -> Option<&'a str> {
        if is_absent(object, field) {
            None
        } else {
            self.required(object, field)
        }
    }

    /// `value` when nothing was found. Every reader above records a problem whenever it returns
    /// `None`, so a `None` here comes with one.
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
/// in input order; entries with an empty key or value dropped. A non-object yields none.
pub(crate) fn scalar_metadata(value: Option<&Value>) -> Vec<(String, String)> {
    let Some(Value::Object(entries)) = value else {
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

    fn map(value: Value) -> Map<String, Value> {
        object_or_empty(value)
    }

    #[test]
    fn trimming_includes_bom_and_unicode_spaces() {
        assert_eq!(trim("\u{feff}\u{3000} a b \n"), "a b");
    }

    #[test]
    fn required_strings() {
        let input = map(json!({"a": "  x ", "b": "  ", "c": 5, "d": null}));
        let mut problems = Problems::new("r");
        assert_eq!(problems.required(&input, "a"), Some("x"));
        assert_eq!(problems.required(&input, "b"), None);
        assert_eq!(problems.required(&input, "c"), None);
        assert_eq!(problems.optional(&input, "d"), None);
        assert_eq!(problems.optional(&input, "missing"), None);
        let Err(ConnectorError::InvalidInput { problems, .. }) = problems.finish() else {
            panic!("expected problems");
        };
        let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "r: \"b\" must be at least 1 chars",
                "r: \"c\" must be a string"
            ]
        );
    }

    #[test]
    fn metadata_keeps_scalars_as_text() {
        let metadata = json!({
            "n": 2, "f": false, "x": {"y": 1}, "z": null, " ": "v", "one": 1.0,
            "half": 0.5, "big": 1e300, "k ": " v ", "e": "", "max": 18446744073709551615u64
        });
        assert_eq!(
            scalar_metadata(Some(&metadata)),
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
        assert!(scalar_metadata(Some(&json!([1]))).is_empty());
        assert!(scalar_metadata(None).is_empty());
    }
}
