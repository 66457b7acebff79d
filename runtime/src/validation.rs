//! A route's contract schemas, compiled once, and jsonschema's errors turned into the readable
//! problems of docs/ROUTES.md 1.3 (`"text" is required`), each with its field and JSON pointer.
//!
//! Bounded on any input: values nested deeper than [`MAX_DEPTH`] are refused before the
//! validator sees them, at most [`MAX_PROBLEMS`] problems are reported, and no message echoes
//! the input: only names (cut at [`MAX_NAME`]) and the schema's own limits and values.

use std::fmt::Write;

use jsonschema::Validator;
use jsonschema::error::{TypeKind, ValidationError, ValidationErrorKind};
use jsonschema::paths::LocationSegment;
use jsonschema::types::{JsonType, JsonTypeSet};
use serde_json::Value;

/// The deepest nesting of a payload (its envelope included) the runtime accepts; deeper values
/// are refused unread. Well below serde_json's own limit (127 levels), so a payload accepted
/// here can always be written to a job store and read back.
pub(crate) const MAX_DEPTH: usize = 100;
/// Problems reported per call; the rest are counted in one last problem.
pub(crate) const MAX_PROBLEMS: usize = 20;
/// Property names and schema values are cut to this many characters in messages.
const MAX_NAME: usize = 64;

/// A compiled contract schema and its JSON, which messages consult for a keyword's siblings.
pub(crate) struct Schema {
    validator: Validator,
    json: Value,
}

impl Schema {
    /// Compiles schema text as draft 2020-12, the dialect the registry compiler checks (WF317).
    /// Remote references are never fetched (the crate is built without resolvers).
    pub(crate) fn compile(text: &str) -> Result<Schema, String> {
        let json: Value = serde_json::from_str(text).map_err(|error| error.to_string())?;
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&json)
            .map_err(|error| cut(&error.to_string(), 200))?;
        Ok(Schema { validator, json })
    }

    /// Every problem of `value`, sorted by pointer, then in the validator's keyword order;
    /// empty when it is valid. `whole` names the value as a whole (`payload body`, `output`).
    /// The caller has checked [`too_deep`] first (on the value or one that contains it).
    pub(crate) fn problems(&self, value: &Value, whole: &str) -> Vec<Problem> {
        if self.validator.is_valid(value) {
            return Vec::new();
        }
        let mut found: Vec<(Vec<Segment>, Problem)> = Vec::new();
        for error in self.validator.iter_errors(value) {
            self.translate(&error, whole, &mut found);
        }
        // Stable: problems at one place keep the validator's keyword order.
        found.sort_by(|a, b| a.0.cmp(&b.0));
        let mut seen = std::collections::HashSet::new();
        found.retain(|(_, problem)| seen.insert((problem.pointer.clone(), problem.text.clone())));
        let total = found.len();
        let mut problems: Vec<Problem> = found
            .into_iter()
            .take(MAX_PROBLEMS)
            .map(|(_, problem)| problem)
            .collect();
        if total > MAX_PROBLEMS {
            problems.push(Problem {
                pointer: String::new(),
                field: "body".to_owned(),
                text: format!("and {} more problems", total - MAX_PROBLEMS),
            });
        }
        problems
    }

    fn translate(
        &self,
        error: &ValidationError<'_>,
        whole: &str,
        out: &mut Vec<(Vec<Segment>, Problem)>,
    ) {
        let at: Vec<Segment> = error
            .instance_path()
            .segments()
            .map(|segment| match segment {
                LocationSegment::Property(name) => Segment::Key(name.into_owned()),
                LocationSegment::Index(index) => Segment::Index(index),
            })
            .collect();
        let here = Place::new(at.clone(), whole);
        let mut push = |place: Place, text: String| {
            let problem = Problem {
                pointer: place.pointer(),
                field: place.field(),
                text,
            };
            out.push((place.segments, problem));
        };
        let subject = here.subject();
        // An empty string also breaks a sibling non-blank pattern, whose "must not be blank"
        // says it.
        if matches!(error.kind(), ValidationErrorKind::MinLength { limit: 1 })
            && self
                .sibling(error, "pattern")
                .and_then(Value::as_str)
                .is_some_and(is_non_blank_pattern)
        {
            return;
        }
        match error.kind() {
            ValidationErrorKind::Required { property } => {
                let name = property.as_str().unwrap_or_default();
                let place = here.child(name);
                let text = format!("{} is required", place.subject());
                push(place, text);
            }
            ValidationErrorKind::AdditionalProperties { unexpected }
            | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
                for name in unexpected {
                    let place = here.child(name);
                    let text = format!("{} is not accepted", place.subject());
                    push(place, text);
                }
            }
            // `required` holds for any non-object, so `not: {required}` refuses every one.
            ValidationErrorKind::Not { schema }
                if forbidden_names(schema).is_some() && !error.instance().is_object() =>
            {
                push(here, format!("{subject} must be an object"));
            }
            ValidationErrorKind::Not { schema } => match forbidden_names(schema) {
                Some([name]) => {
                    let place = here.child(name.as_str().unwrap_or_default());
                    let text = format!("{} is not accepted", place.subject());
                    push(place, text);
                }
                Some(names) => {
                    let names: Vec<String> = names
                        .iter()
                        .map(|name| quoted(name.as_str().unwrap_or_default()))
                        .collect();
                    let text = format!("{subject} must not have {} together", names.join(" and "));
                    push(here, text);
                }
                None => push(
                    here,
                    format!("{subject} matches a schema it must not match"),
                ),
            },
            ValidationErrorKind::Type { kind } => {
                let expected = match kind {
                    TypeKind::Single(single) => type_name(*single).to_owned(),
                    TypeKind::Multiple(set) => type_names(*set),
                };
                push(here, format!("{subject} must be {expected}"));
            }
            kind => {
                let text = self.describe(error, kind, &subject);
                push(here, text);
            }
        }
    }

    /// The message of a keyword that is about the value at the error's own place.
    fn describe(
        &self,
        error: &ValidationError<'_>,
        kind: &ValidationErrorKind,
        subject: &str,
    ) -> String {
        use ValidationErrorKind as K;
        match kind {
            K::MinLength { limit } => {
                format!("{subject} must be at least {}", count(*limit, "character"))
            }
            K::MaxLength { limit } => {
                format!("{subject} must be at most {}", count(*limit, "character"))
            }
            K::Pattern { pattern } if is_non_blank_pattern(pattern) => {
                format!("{subject} must not be blank")
            }
            K::Pattern { pattern } => {
                format!("{subject} must match the pattern {}", quoted(pattern))
            }
            K::Minimum { limit } => {
                format!("{subject} must be {}at least {limit}", self.kind_of(error))
            }
            K::ExclusiveMinimum { limit } => {
                format!(
                    "{subject} must be {}greater than {limit}",
                    self.kind_of(error)
                )
            }
            K::Maximum { limit } => {
                format!("{subject} must be {}at most {limit}", self.kind_of(error))
            }
            K::ExclusiveMaximum { limit } => {
                format!("{subject} must be {}less than {limit}", self.kind_of(error))
            }
            K::MultipleOf { multiple_of } => {
                format!("{subject} must be a multiple of {multiple_of}")
            }
            K::Enum { options } => {
                let options = options.as_array().map_or(&[][..], Vec::as_slice);
                match options {
                    [only] => format!("{subject} must be {}", shown(only)),
                    _ => format!("{subject} must be one of {}", shown_list(options)),
                }
            }
            K::Constant { expected_value } => {
                format!("{subject} must be {}", shown(expected_value))
            }
            K::MinProperties { limit } => {
                format!("{subject} must have at least {}", count(*limit, "property"))
            }
            K::MaxProperties { limit } => {
                format!("{subject} must have at most {}", count(*limit, "property"))
            }
            K::MinItems { limit } => {
                format!("{subject} must have at least {}", count(*limit, "item"))
            }
            K::MaxItems { limit } => {
                format!("{subject} must have at most {}", count(*limit, "item"))
            }
            K::UniqueItems => format!("{subject} must not contain the same item twice"),
            K::Contains => format!("{subject} must contain a matching item"),
            K::Format { format } => format!("{subject} must be a valid {}", cut(format, MAX_NAME)),
            K::AnyOf { .. } | K::OneOfNotValid { .. } => {
                format!("{subject} must match one of the allowed forms")
            }
            K::OneOfMultipleValid { .. } => {
                format!("{subject} must match exactly one of the allowed forms")
            }
            K::FalseSchema => format!("{subject} is not accepted"),
            K::PropertyNames { .. } => {
                format!("{subject} has a property name that is not accepted")
            }
            K::AdditionalItems { .. } | K::UnevaluatedItems { .. } => {
                format!("{subject} has more items than accepted")
            }
            K::BacktrackLimitExceeded { .. } | K::RegexEngineFailure { .. } => {
                format!("{subject} could not be checked against its pattern")
            }
            // Keywords the translation has no sentence for: name the keyword, never the value.
            other => format!(
                "{subject} does not satisfy the schema's \"{}\" rule",
                cut(other.keyword(), MAX_NAME)
            ),
        }
    }

    /// `an integer ` or `a number ` when the keyword's schema declares that type, else nothing.
    fn kind_of(&self, error: &ValidationError<'_>) -> &'static str {
        match self.sibling(error, "type") {
            Some(Value::String(kind)) if kind == "integer" => "an integer ",
            Some(Value::String(kind)) if kind == "number" => "a number ",
            _ => "",
        }
    }

    /// The keyword `name` beside the one that failed, in the same schema object.
    fn sibling(&self, error: &ValidationError<'_>, name: &str) -> Option<&Value> {
        let path = error.schema_path().as_str();
        let parent = path.rsplit_once('/').map_or("", |(parent, _)| parent);
        self.json.pointer(parent)?.get(name)
    }
}

/// One problem: where (RFC 6901 pointer, and the dotted field such as `items[0].name`, `body`
/// for the value as a whole) and what, without the route prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub(crate) pointer: String,
    pub(crate) field: String,
    pub(crate) text: String,
}

/// A step of an instance path; indices sort before names, and numerically.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Segment {
    Index(usize),
    Key(String),
}

/// A place in the validated value, and what the value as a whole is called.
struct Place<'a> {
    segments: Vec<Segment>,
    whole: &'a str,
}

impl<'a> Place<'a> {
    fn new(segments: Vec<Segment>, whole: &'a str) -> Self {
        Place { segments, whole }
    }

    fn child(&self, name: &str) -> Place<'a> {
        let mut segments = self.segments.clone();
        segments.push(Segment::Key(name.to_owned()));
        Place::new(segments, self.whole)
    }

    fn pointer(&self) -> String {
        let mut pointer = String::new();
        for segment in &self.segments {
            pointer.push('/');
            match segment {
                Segment::Index(index) => {
                    let _ = write!(pointer, "{index}");
                }
                Segment::Key(key) => {
                    pointer.push_str(&cut(key, MAX_NAME).replace('~', "~0").replace('/', "~1"))
                }
            }
        }
        pointer
    }

    fn field(&self) -> String {
        if self.segments.is_empty() {
            return "body".to_owned();
        }
        let mut field = String::new();
        for segment in &self.segments {
            match segment {
                Segment::Index(index) => {
                    let _ = write!(field, "[{index}]");
                }
                Segment::Key(key) => {
                    if !field.is_empty() {
                        field.push('.');
                    }
                    field.push_str(&cut(key, MAX_NAME));
                }
            }
        }
        field
    }

    /// `"items[0].name"`, or the name of the whole value at the root.
    fn subject(&self) -> String {
        if self.segments.is_empty() {
            self.whole.to_owned()
        } else {
            format!("\"{}\"", self.field())
        }
    }
}

/// `not: {required: [...]}`: the property names whose presence is refused.
fn forbidden_names(schema: &Value) -> Option<&[Value]> {
    let object = schema.as_object()?;
    let names = object.get("required")?.as_array()?;
    let only_required = object.keys().all(|key| {
        matches!(
            key.as_str(),
            "required" | "description" | "title" | "$comment"
        )
    });
    (only_required && !names.is_empty() && names.iter().all(Value::is_string))
        .then_some(names.as_slice())
}

fn type_name(kind: JsonType) -> &'static str {
    match kind {
        JsonType::Array => "an array",
        JsonType::Boolean => "a boolean",
        JsonType::Integer => "an integer",
        JsonType::Null => "null",
        JsonType::Number => "a number",
        JsonType::Object => "an object",
        JsonType::String => "a string",
    }
}

/// `a string or null`, `a string, a number or null`.
fn type_names(set: JsonTypeSet) -> String {
    // `null` last: "a string or null" reads better than the set's own order.
    let mut names: Vec<&str> = set.iter().map(type_name).collect();
    names.sort_by_key(|name| *name == "null");
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        Some((last, _)) => (*last).to_owned(),
        None => "nothing".to_owned(),
    }
}

/// `1 character`, `3 characters`, `1 property`, `2 properties`.
fn count(n: u64, noun: &str) -> String {
    match (n, noun.strip_suffix('y')) {
        (1, _) => format!("1 {noun}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        (_, None) => format!("{n} {noun}s"),
    }
}

fn quoted(text: &str) -> String {
    format!("\"{}\"", cut(text, MAX_NAME))
}

/// A schema value as JSON, cut: enum and const values come from the registry, not the caller,
/// but may still be long.
fn shown(value: &Value) -> String {
    cut(&value.to_string(), MAX_NAME)
}

/// `"usd", "eur"`; at most ten options, then `…`.
fn shown_list(options: &[Value]) -> String {
    let mut list: Vec<String> = options.iter().take(10).map(shown).collect();
    if options.len() > 10 {
        list.push("…".to_owned());
    }
    list.join(", ")
}

/// At most `max` characters, with `…` when cut.
fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// The one problem of a value that [`too_deep`] refuses.
pub(crate) fn depth_problem(whole: &str) -> Problem {
    Problem {
        pointer: String::new(),
        field: "body".to_owned(),
        text: format!("{whole} is nested more than {MAX_DEPTH} levels deep"),
    }
}

/// Whether `value` nests deeper than [`MAX_DEPTH`]; iterative, so any depth is safe to ask.
pub(crate) fn too_deep(value: &Value) -> bool {
    let mut stack = vec![(value, 1usize)];
    while let Some((value, depth)) = stack.pop() {
        let deeper = depth + 1;
        match value {
            Value::Array(_) | Value::Object(_) if depth > MAX_DEPTH => return true,
            Value::Array(items) => stack.extend(items.iter().map(|child| (child, deeper))),
            Value::Object(map) => stack.extend(map.values().map(|child| (child, deeper))),
            _ => {}
        }
    }
    false
}

/// Drops `value` without recursion: serde_json's own drop recurses once per level, and a
/// refused input may be far deeper than the stack allows.
pub(crate) fn drop_iteratively(value: Value) {
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.into_iter().map(|(_, child)| child)),
            _ => {}
        }
    }
}

/// The patterns that say "not blank": `\S`, or `[^\s\uFEFF]` (non-blank after the trimming of
/// docs/ROUTES.md 1.3, which also removes U+FEFF).
fn is_non_blank_pattern(pattern: &str) -> bool {
    matches!(pattern, r"\S" | r"[^\s\uFEFF]")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema(json: Value) -> Schema {
        Schema::compile(&json.to_string()).expect("compiles")
    }

    fn texts(schema: &Schema, value: Value) -> Vec<(String, String, String)> {
        schema
            .problems(&value, "payload body")
            .into_iter()
            .map(|p| (p.pointer, p.field, p.text))
            .collect()
    }

    fn slack() -> Schema {
        schema(json!({
            "type": "object",
            "required": ["text"],
            "properties": {"text": {"type": "string", "minLength": 1, "pattern": "\\S"}},
            "not": {"required": ["webhookUrl"], "description": "refused"}
        }))
    }

    fn p(pointer: &str, field: &str, text: &str) -> (String, String, String) {
        (pointer.to_owned(), field.to_owned(), text.to_owned())
    }

    #[test]
    fn the_whole_input_must_be_an_object() {
        assert_eq!(
            texts(&slack(), json!("hi")),
            [p("", "body", "payload body must be an object")]
        );
        assert_eq!(texts(&slack(), json!({"text": "ok"})), []);
    }

    #[test]
    fn required_type_length_blank_and_refused_fields() {
        assert_eq!(
            texts(&slack(), json!({"webhookUrl": "x"})),
            [
                p("/text", "text", "\"text\" is required"),
                p(
                    "/webhookUrl",
                    "webhookUrl",
                    "\"webhookUrl\" is not accepted"
                ),
            ]
        );
        assert_eq!(
            texts(&slack(), json!({"text": 5})),
            [p("/text", "text", "\"text\" must be a string")]
        );
        assert_eq!(
            texts(&slack(), json!({"text": "  "})),
            [p("/text", "text", "\"text\" must not be blank")]
        );
        assert_eq!(
            texts(&slack(), json!({"text": ""})),
            [p("/text", "text", "\"text\" must not be blank")]
        );
        // The bundled contracts' pattern: blank after trimming, U+FEFF included.
        let trimmed = schema(json!({
            "properties": {"text": {"type": "string", "minLength": 1, "pattern": "[^\\s\\uFEFF]"}}
        }));
        for blank in ["", " \u{feff}\u{3000}\n"] {
            assert_eq!(
                texts(&trimmed, json!({ "text": blank })),
                [p("/text", "text", "\"text\" must not be blank")],
                "{blank:?}"
            );
        }
        assert_eq!(texts(&trimmed, json!({"text": "\u{feff}x"})), []);
        let short =
            schema(json!({"properties": {"code": {"minLength": 1}, "pin": {"minLength": 4}}}));
        assert_eq!(
            texts(&short, json!({"code": "", "pin": "12"})),
            [
                p("/code", "code", "\"code\" must be at least 1 character"),
                p("/pin", "pin", "\"pin\" must be at least 4 characters"),
            ]
        );
    }

    #[test]
    fn numbers_say_their_type_and_bound() {
        let amount = schema(json!({
            "type": "object",
            "properties": {
                "amount": {"type": "integer", "exclusiveMinimum": 0, "maximum": 10},
                "count": {"type": "number", "minimum": 1},
                "ratio": {"exclusiveMaximum": 1}
            }
        }));
        assert_eq!(
            texts(&amount, json!({"amount": 0, "count": 0, "ratio": 2})),
            [
                p(
                    "/amount",
                    "amount",
                    "\"amount\" must be an integer greater than 0"
                ),
                p("/count", "count", "\"count\" must be a number at least 1"),
                p("/ratio", "ratio", "\"ratio\" must be less than 1"),
            ]
        );
        assert_eq!(
            texts(&amount, json!({"amount": 11})),
            [p(
                "/amount",
                "amount",
                "\"amount\" must be an integer at most 10"
            )]
        );
    }

    #[test]
    fn enums_consts_and_nested_paths() {
        let nested = schema(json!({
            "type": "object",
            "properties": {
                "currency": {"enum": ["usd", "eur"]},
                "mode": {"const": "live"},
                "items": {"type": "array", "items": {
                    "type": "object", "required": ["name"], "additionalProperties": false,
                    "properties": {"name": {"type": ["string", "null"]}}
                }},
                "properties": {"type": "object", "minProperties": 1}
            }
        }));
        assert_eq!(
            texts(
                &nested,
                json!({
                    "currency": "gbp", "mode": "test", "properties": {},
                    "items": [{"name": 1}, {"extra/x": true}]
                })
            ),
            [
                p(
                    "/currency",
                    "currency",
                    "\"currency\" must be one of \"usd\", \"eur\""
                ),
                p(
                    "/items/0/name",
                    "items[0].name",
                    "\"items[0].name\" must be a string or null"
                ),
                p(
                    "/items/1/extra~1x",
                    "items[1].extra/x",
                    "\"items[1].extra/x\" is not accepted"
                ),
                p(
                    "/items/1/name",
                    "items[1].name",
                    "\"items[1].name\" is required"
                ),
                p("/mode", "mode", "\"mode\" must be \"live\""),
                p(
                    "/properties",
                    "properties",
                    "\"properties\" must have at least 1 property"
                ),
            ]
        );
    }

    #[test]
    fn indices_sort_numerically_and_the_count_is_capped() {
        let strings = schema(json!({"type": "array", "items": {"type": "string"}}));
        let found = texts(&strings, json!((0..30).collect::<Vec<_>>()));
        assert_eq!(found.len(), MAX_PROBLEMS + 1);
        assert_eq!(found[2], p("/2", "[2]", "\"[2]\" must be a string"));
        assert_eq!(found[10].0, "/10");
        assert_eq!(found[MAX_PROBLEMS], p("", "body", "and 10 more problems"));
    }

    #[test]
    fn other_keywords_fall_back_without_echoing_the_value() {
        let other = schema(json!({"properties": {"x": {"uniqueItems": true, "oneOf": [
            {"type": "string"}, {"type": "array"}
        ]}, "y": {"pattern": "^a+$"}}}));
        let long = "b".repeat(10_000);
        let found = texts(&other, json!({"x": [1, 1], "y": long}));
        assert_eq!(
            found,
            [
                p("/x", "x", "\"x\" must not contain the same item twice"),
                p("/y", "y", "\"y\" must match the pattern \"^a+$\""),
            ]
        );
        let long_key = "k".repeat(1000);
        let closed = schema(json!({"additionalProperties": false}));
        let found = texts(&closed, json!({ long_key: 1 }));
        assert!(found[0].2.len() < 100, "{found:?}");
    }

    #[test]
    fn deep_values_are_refused_unread() {
        let mut deep = json!(1);
        for _ in 0..100_000 {
            deep = Value::Array(vec![deep]);
        }
        assert!(too_deep(&deep));
        drop_iteratively(deep);
        let mut limit = json!(1);
        for _ in 0..MAX_DEPTH {
            limit = json!({ "a": limit });
        }
        assert!(!too_deep(&limit));
        assert!(too_deep(&json!([limit])));
    }

    #[test]
    fn a_bad_schema_is_an_error_not_a_panic() {
        assert!(Schema::compile("{\"type\": 5}").is_err());
        assert!(Schema::compile("not json").is_err());
    }
}
