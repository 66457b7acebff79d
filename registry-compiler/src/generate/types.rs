//! Rust types for a route's contract schemas: `Input` and `Output` and the structs and enums
//! nested in them.
//!
//! Only what has a faithful Rust type is typed: objects with `properties` (required → plain
//! field, optional or nullable → `Option`), strings, integers (`i64`), numbers
//! (`serde_json::Number`, so a forwarded number keeps its form), booleans, arrays,
//! string `enum`s, `const`s and `[T, "null"]`. Anything else (`anyOf`, `oneOf`, `allOf`, `$ref`,
//! an untyped value, an object without `properties`) is a `serde_json::Value` (or a map), and its
//! doc comment says so; the runtime still validates it against the schema.

use std::collections::BTreeSet;

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};
use serde_json::{Map, Value};

use workerflow_names::{PATH_KEYWORDS, RAW_KEYWORDS};

/// The path generated code names serde by, so a connector crate needs no serde dependency of
/// its own for the generated types.
const SERDE: &str = "::workerflow_runtime::__private::serde";

/// The items for one schema, rooted at a type named `root` (`Input`, `Output`).
pub(super) struct TypeSet {
    /// Every struct and enum, the root first.
    pub(super) items: Vec<TokenStream>,
    taken: BTreeSet<String>,
}

impl TypeSet {
    pub(super) fn new() -> Self {
        TypeSet {
            items: Vec::new(),
            taken: BTreeSet::new(),
        }
    }

    /// Generates the type named `root` for `schema`, with `intro` as the first doc lines. The
    /// root is always a named item: a struct for an object with properties, else an alias.
    pub(super) fn root(&mut self, root: &str, intro: &[String], schema: &Value) {
        self.taken.insert(root.to_owned());
        let name = format_ident!("{root}");
        let docs = docs(intro.iter().map(String::as_str).chain(description(schema)));
        match object_with_properties(schema) {
            Some(object) => self.push_struct(&name, docs, object),
            None => {
                let (ty, fallback) = self.type_of(schema, root);
                let docs = with_fallback(docs, fallback);
                self.items.insert(0, quote! { #docs pub type #name = #ty; });
            }
        }
    }

    /// A fresh type name: `base`, else `base2`, `base3`, ….
    fn fresh(&mut self, base: &str) -> Ident {
        let name = (1..)
            .map(|n| {
                if n == 1 {
                    base.to_owned()
                } else {
                    format!("{base}{n}")
                }
            })
            .find(|candidate| !self.taken.contains(candidate))
            .unwrap_or_default();
        self.taken.insert(name.clone());
        format_ident!("{name}")
    }

    fn push_struct(&mut self, name: &Ident, docs: TokenStream, object: &Map<String, Value>) {
        let required: BTreeSet<&str> = object
            .get("required")
            .and_then(Value::as_array)
            .map(|names| names.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let properties = object.get("properties").and_then(Value::as_object);
        // The struct goes in front of the types of its fields.
        let slot = self.items.len();
        let mut field_names = BTreeSet::new();
        let mut fields = Vec::new();
        for (json_name, schema) in properties.into_iter().flatten() {
            let field = field_ident(json_name, &mut field_names);
            let type_base = format!("{name}{}", upper_camel(json_name));
            let (ty, fallback) = self.type_of(schema, &type_base);
            let nullable = is_nullable(schema);
            let optional = nullable || !required.contains(json_name.as_str());
            let docs = with_fallback(docs_of(description(schema)), fallback);
            let rename = (field.unraw_string() != *json_name)
                .then(|| quote! { #[serde(rename = #json_name)] });
            let (ty, skip) = if optional {
                (
                    quote! { ::core::option::Option<#ty> },
                    quote! { #[serde(default, skip_serializing_if = "::core::option::Option::is_none")] },
                )
            } else {
                (ty, TokenStream::new())
            };
            fields.push(quote! { #docs #rename #skip pub #field: #ty });
        }
        let serde = SERDE;
        let serde_path: syn::Path = syn::parse_str(SERDE).expect("a path");
        let item = quote! {
            #docs
            #[derive(Clone, Debug, PartialEq, #serde_path::Deserialize, #serde_path::Serialize)]
            #[serde(crate = #serde)]
            pub struct #name {
                #(#fields,)*
            }
        };
        self.items.insert(slot, item);
    }

    /// The Rust type of `schema` (with `null` stripped from a `[T, "null"]` type: the caller
    /// makes it an `Option`), and why it fell back to a JSON value, if it did.
    fn type_of(&mut self, schema: &Value, base: &str) -> (TokenStream, Option<&'static str>) {
        let value = quote! { ::workerflow_runtime::__private::serde_json::Value };
        let Some(object) = schema.as_object() else {
            return (value, Some("the schema is a boolean"));
        };
        for keyword in ["anyOf", "oneOf", "allOf", "$ref", "if"] {
            if object.contains_key(keyword) {
                return (value, Some(fallback_reason(keyword)));
            }
        }
        if let Some(constant) = object.get("const") {
            return match constant {
                Value::Bool(_) => (quote! { bool }, None),
                Value::String(_) => (quote! { ::std::string::String }, None),
                Value::Number(n) if n.is_i64() => (quote! { i64 }, None),
                Value::Number(_) => (
                    quote! { ::workerflow_runtime::__private::serde_json::Number },
                    None,
                ),
                _ => (
                    value,
                    Some("a `const` that is not a string, number or boolean"),
                ),
            };
        }
        if let Some(values) = object.get("enum").and_then(Value::as_array) {
            return match string_enum(values) {
                Some(values) => {
                    let name = self.push_enum(base, object, &values);
                    (quote! { #name }, None)
                }
                None => (value, Some("an `enum` that is not all strings")),
            };
        }
        let Some(kind) = single_type(object) else {
            return match object_with_properties(schema) {
                Some(object) => {
                    let name = self.fresh(base);
                    self.push_struct(&name, docs_of(description(schema)), object);
                    (quote! { #name }, None)
                }
                None if object.contains_key("type") => (value, Some("a list of types")),
                None => (value, Some("the contract gives no type")),
            };
        };
        let typed = match kind {
            "string" => quote! { ::std::string::String },
            "integer" => quote! { i64 },
            // A JSON number as written: forwarded numbers keep their form (`1` stays `1`).
            "number" => quote! { ::workerflow_runtime::__private::serde_json::Number },
            "boolean" => quote! { bool },
            "array" => {
                let (item, fallback) = match object.get("items") {
                    Some(items) => self.type_of(items, &format!("{base}Item")),
                    None => (value.clone(), None),
                };
                // A fallback inside the list is documented on the list.
                return (quote! { ::std::vec::Vec<#item> }, fallback);
            }
            "object" => match object_with_properties(schema) {
                Some(object) => {
                    let name = self.fresh(base);
                    self.push_struct(&name, docs_of(description(schema)), object);
                    quote! { #name }
                }
                // Key order is kept (`preserve_order`): some routes forward objects verbatim.
                None => quote! {
                    ::workerflow_runtime::__private::serde_json::Map<
                        ::std::string::String,
                        ::workerflow_runtime::__private::serde_json::Value,
                    >
                },
            },
            _ => return (value, Some("the type `null` alone")),
        };
        (typed, None)
    }

    fn push_enum(&mut self, base: &str, object: &Map<String, Value>, values: &[&str]) -> Ident {
        let name = self.fresh(base);
        let docs = docs_of(object.get("description").and_then(Value::as_str));
        let mut taken = BTreeSet::new();
        let variants = values.iter().map(|value| {
            let mut variant = upper_camel(value);
            if variant.is_empty() || variant.starts_with(|c: char| c.is_ascii_digit()) {
                variant.insert(0, 'V');
            }
            let base = variant.clone();
            let mut n = 2;
            while !taken.insert(variant.clone()) || variant == "Self" {
                variant = format!("{base}{n}");
                n += 1;
            }
            let ident = format_ident!("{variant}");
            let doc = format!(" `{}`", value.replace('`', "'"));
            quote! { #[doc = #doc] #[serde(rename = #value)] #ident }
        });
        let serde = SERDE;
        let serde_path: syn::Path = syn::parse_str(SERDE).expect("a path");
        self.items.push(quote! {
            #docs
            #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, #serde_path::Deserialize, #serde_path::Serialize)]
            #[serde(crate = #serde)]
            pub enum #name {
                #(#variants,)*
            }
        });
        name
    }
}

fn fallback_reason(keyword: &str) -> &'static str {
    match keyword {
        "anyOf" => "`anyOf` has no faithful Rust type",
        "oneOf" => "`oneOf` has no faithful Rust type",
        "allOf" => "`allOf` has no faithful Rust type",
        "$ref" => "`$ref` is not followed",
        _ => "`if`/`then`/`else` has no faithful Rust type",
    }
}

fn object_with_properties(schema: &Value) -> Option<&Map<String, Value>> {
    let object = schema.as_object()?;
    let is_object = match object.get("type") {
        None => true,
        Some(Value::String(kind)) => kind == "object",
        Some(_) => single_type(object) == Some("object"),
    };
    (is_object && object.get("properties").is_some_and(Value::is_object)).then_some(object)
}

/// `"string"` for `"type": "string"` or `"type": ["string", "null"]`.
fn single_type(object: &Map<String, Value>) -> Option<&str> {
    match object.get("type")? {
        Value::String(kind) => Some(kind),
        Value::Array(kinds) => {
            let mut rest = kinds
                .iter()
                .filter_map(Value::as_str)
                .filter(|&kind| kind != "null");
            match (rest.next(), rest.next(), kinds.len()) {
                (Some(kind), None, 1 | 2) => Some(kind),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Whether `null` is one of the schema's types.
fn is_nullable(schema: &Value) -> bool {
    schema
        .get("type")
        .and_then(Value::as_array)
        .is_some_and(|kinds| kinds.iter().any(|kind| kind == "null"))
}

fn string_enum(values: &[Value]) -> Option<Vec<&str>> {
    let strings: Vec<&str> = values.iter().map(Value::as_str).collect::<Option<_>>()?;
    (!strings.is_empty()).then_some(strings)
}

fn description(schema: &Value) -> Option<&str> {
    schema.get("description").and_then(Value::as_str)
}

fn docs_of(description: Option<&str>) -> TokenStream {
    docs(description)
}

/// `#[doc]` attributes, one per line of each text (blank line between texts).
fn docs<'a>(texts: impl IntoIterator<Item = &'a str>) -> TokenStream {
    let mut lines: Vec<String> = Vec::new();
    for text in texts {
        if !lines.is_empty() {
            lines.push(String::new());
        }
        lines.extend(text.lines().map(super::doc_line));
    }
    quote! { #(#[doc = #lines])* }
}

fn with_fallback(docs: TokenStream, fallback: Option<&'static str>) -> TokenStream {
    match fallback {
        None => docs,
        Some(reason) => {
            let separator = (!docs.is_empty()).then(|| quote! { #[doc = ""] });
            let note = format!(
                " Any JSON value here ({reason}); the runtime checks it against the contract's schema."
            );
            quote! { #docs #separator #[doc = #note] }
        }
    }
}

/// A field name for a JSON property: snake_case, raw for keywords, unique in its struct.
fn field_ident(json_name: &str, taken: &mut BTreeSet<String>) -> Ident {
    let mut name = snake_case(json_name);
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    if name == "_" || PATH_KEYWORDS.contains(&name.as_str()) {
        name.push('_');
    }
    let base = name.clone();
    let mut n = 2;
    while !taken.insert(name.clone()) {
        name = format!("{base}_{n}");
        n += 1;
    }
    if RAW_KEYWORDS.contains(&name.as_str()) {
        Ident::new_raw(&name, Span::call_site())
    } else {
        Ident::new(&name, Span::call_site())
    }
}

trait UnrawString {
    fn unraw_string(&self) -> String;
}

impl UnrawString for Ident {
    fn unraw_string(&self) -> String {
        let text = self.to_string();
        text.strip_prefix("r#").map(str::to_owned).unwrap_or(text)
    }
}

/// `databaseId` → `database_id`, `HTTPServer` → `http_server`, `a-b c` → `a_b_c`; only ASCII
/// letters, digits and `_` survive.
fn snake_case(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    for word in words(text) {
        if !out.is_empty() {
            out.push('_');
        }
        out.push_str(&word.to_ascii_lowercase());
    }
    out
}

/// `database_id` → `DatabaseId`, `in-progress` → `InProgress`.
fn upper_camel(text: &str) -> String {
    words(text)
        .iter()
        .map(|word| {
            let lower = word.to_ascii_lowercase();
            let mut chars = lower.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// The words of a name: split at anything but ASCII letters and digits, and at case changes.
fn words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        }
        let previous = i.checked_sub(1).map(|j| chars[j]);
        let next = chars.get(i + 1);
        let boundary = c.is_ascii_uppercase()
            && previous.is_some_and(|p| {
                p.is_ascii_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_ascii_uppercase() && next.is_some_and(char::is_ascii_lowercase))
            });
        if boundary && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        current.push(c);
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(snake_case("databaseId"), "database_id");
        assert_eq!(snake_case("HTTPServer"), "http_server");
        assert_eq!(snake_case("a-b c"), "a_b_c");
        assert_eq!(snake_case("pageId2"), "page_id2");
        assert_eq!(upper_camel("in-progress"), "InProgress");
        assert_eq!(upper_camel("usd"), "Usd");
        let mut taken = BTreeSet::new();
        assert_eq!(field_ident("type", &mut taken).to_string(), "r#type");
        assert_eq!(field_ident("self", &mut taken).to_string(), "self_");
        assert_eq!(field_ident("2fa", &mut taken).to_string(), "_2fa");
        assert_eq!(field_ident("Type", &mut taken).to_string(), "type_2");
    }
}
