//! The rules of a route's contract (WF317 to WF321): its schemas compile as JSON Schema draft
//! 2020-12 with no remote `$ref`, its examples agree with them, its `docsUrl` is https and its
//! `hosts` are bare host names. Types are the schema's business and are skipped here.

use jsonschema::{Retrieve, Uri, Validator};
use rustc_hash::FxHashMap as HashMap;
use serde_json::Value;

use super::Service;
use crate::diagnostics::{Code, Diagnostic};
use crate::json_tree::{DocumentJson, TreeNode};
use crate::load::{Document, NodeId, NodeKind};

/// Compiled contract schemas by their source text: generated registries repeat one contract
/// on thousands of routes, and compiling a schema costs far more than hashing its text.
#[derive(Default)]
pub(super) struct Compiled<'src> {
    valid: HashMap<&'src str, Validator<DocumentJson>>,
}

/// Refuses every document outside the schema: the registry is checked without network
/// access, and `$ref`s to other files are reported before compiling (WF318).
struct NoRemote;

impl Retrieve for NoRemote {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        Err(format!("remote documents are not read ({})", uri.as_str()).into())
    }
}

/// Where a route sits, for messages and pointers.
pub(super) struct RoutePlace<'a, 'doc, 'src> {
    pub service: &'a Service<'doc, 'src>,
    pub pointer: &'a str,
}

impl RoutePlace<'_, '_, '_> {
    /// The start of a message: `services[3] (Slack): `.
    fn prefix(&self) -> String {
        self.service.place()
    }
}

/// WF317 to WF321 for one route.
pub(super) fn check<'src>(
    route: NodeId,
    place: &RoutePlace<'_, '_, 'src>,
    compiled: &mut Compiled<'src>,
    out: &mut Vec<Diagnostic>,
) {
    let document = place.service.document;
    let mut docs_url = None;
    let mut hosts = None;
    let mut input = None;
    let mut output = None;
    let mut errors = None;
    let mut examples = None;
    for (key, child) in document.members(route) {
        let slot = match key.as_ref() {
            "docsUrl" => &mut docs_url,
            "hosts" => &mut hosts,
            "input" => &mut input,
            "output" => &mut output,
            "errors" => &mut errors,
            "examples" => &mut examples,
            _ => continue,
        };
        *slot = Some(child);
    }
    if let Some(node) = docs_url {
        check_docs_url(document, node, place, out);
    }
    if let Some(list) = hosts.filter(|&n| document.kind(n) == NodeKind::Array) {
        for (n, host) in document.children(list).enumerate() {
            let Some(text) = document.str(host) else {
                continue;
            };
            if let Some(problem) = host_problem(&text) {
                out.push(
                    Diagnostic::error(
                        Code::InvalidHost,
                        format!(
                            "{}`hosts` entry {:?} is not a bare host name: {problem}",
                            place.prefix(),
                            text.as_ref()
                        ),
                        document.span(host),
                    )
                    .with_label("not a host name")
                    .with_pointer(format!("{}/hosts/{n}", place.pointer))
                    .with_help("write the host alone, such as `api.stripe.com`"),
                );
            }
        }
    }
    let input_ok = input.is_some_and(|n| compile(document, n, "input", place, compiled, out));
    let output_ok = output.is_some_and(|n| compile(document, n, "output", place, compiled, out));
    let mut declared: Vec<(String, Vec<String>)> = Vec::new();
    if let Some(list) = errors.filter(|&n| document.kind(n) == NodeKind::Array) {
        for (n, error) in document.children(list).enumerate() {
            if document.kind(error) != NodeKind::Object {
                continue;
            }
            if let Some(body) = document.get(error, "body") {
                compile(
                    document,
                    body,
                    &format!("errors/{n}/body"),
                    place,
                    compiled,
                    out,
                );
            }
            let class = document.get(error, "class").and_then(|c| document.str(c));
            let statuses = document
                .get(error, "status")
                .map(|s| {
                    document
                        .children(s)
                        .filter_map(|s| document.str(s))
                        .map(|s| s.into_owned())
                        .collect()
                })
                .unwrap_or_default();
            if let Some(class) = class {
                declared.push((class.into_owned(), statuses));
            }
        }
    }
    let Some(list) = examples.filter(|&n| document.kind(n) == NodeKind::Array) else {
        return;
    };
    for (n, example) in document.children(list).enumerate() {
        if document.kind(example) != NodeKind::Object {
            continue;
        }
        let name = document
            .get(example, "name")
            .and_then(|n| document.str(n))
            .map(|n| n.into_owned())
            .unwrap_or_default();
        let pointer = format!("{}/examples/{n}", place.pointer);
        let example_input = document.get(example, "input");
        let example_output = document.get(example, "output");
        // An error example's input breaks the contract on purpose, often in a way a schema
        // states too; only a successful call must match `input`.
        if let Some(value) = example_output {
            if let (true, Some(node)) = (input_ok, example_input) {
                let schema = input.map(|i| document.text(i)).unwrap_or_default();
                if let Some(validator) = compiled.valid.get(schema) {
                    mismatches(
                        document,
                        validator,
                        node,
                        &format!("{pointer}/input"),
                        &name,
                        "input",
                        place,
                        out,
                    );
                }
            }
            if output_ok {
                let schema = output.map(|o| document.text(o)).unwrap_or_default();
                if let Some(validator) = compiled.valid.get(schema) {
                    mismatches(
                        document,
                        validator,
                        value,
                        &format!("{pointer}/output"),
                        &name,
                        "output",
                        place,
                        out,
                    );
                }
            }
        }
        let Some(error) = document.get(example, "error") else {
            continue;
        };
        let (Some(class_node), Some(status)) = (
            document.get(error, "class"),
            document
                .get(error, "status")
                .and_then(|s| document.number(s))
                .and_then(|s| s.as_u64()),
        ) else {
            continue;
        };
        let Some(class) = document.str(class_node) else {
            continue;
        };
        if errors.is_none() {
            continue;
        }
        let problem = match declared.iter().find(|(c, _)| *c == class) {
            None => Some(format!("the route declares no `{class}` error")),
            Some((_, keys)) if !keys.iter().any(|k| status_matches(k, status)) => Some(format!(
                "status {status} is not among the `{class}` statuses ({})",
                keys.join(", ")
            )),
            Some(_) => None,
        };
        if let Some(problem) = problem {
            out.push(
                Diagnostic::error(
                    Code::ExampleMismatch,
                    format!("{}example {name:?}: {problem}", place.prefix()),
                    document.span(class_node),
                )
                .with_label("not in the route's `errors`")
                .with_pointer(format!("{pointer}/error/class"))
                .with_help("declare the class and status in `errors`, or correct the example"),
            );
        }
    }
}

fn check_docs_url(
    document: &Document<'_>,
    node: NodeId,
    place: &RoutePlace<'_, '_, '_>,
    out: &mut Vec<Diagnostic>,
) {
    let Some(url) = document.str(node) else {
        return;
    };
    let problem = match url.strip_prefix("https://") {
        None => Some("not an https URL"),
        Some(rest) => super::urls::url_problem(&url, rest),
    };
    if let Some(problem) = problem {
        out.push(
            Diagnostic::error(
                Code::InvalidDocsUrl,
                format!(
                    "{}route `docsUrl` {:?}: {problem}",
                    place.prefix(),
                    url.as_ref()
                ),
                document.span(node),
            )
            .with_label("not a well-formed https URL")
            .with_pointer(format!("{}/docsUrl", place.pointer))
            .with_help("link the provider's page for the operation, such as https://docs.stripe.com/api/payment_intents/create"),
        );
    }
}

/// Why `host` is not a bare DNS host name (letters, digits and `-` in dot-separated labels).
fn host_problem(host: &str) -> Option<&'static str> {
    if host.contains("://") {
        return Some("a URL, not a host");
    }
    if host.bytes().any(|b| matches!(b, b'/' | b'?' | b'#')) {
        return Some("it has a path");
    }
    if host.contains(':') {
        return Some("it has a port");
    }
    if host.contains('*') {
        return Some("wildcards are not hosts");
    }
    if host.len() > 253 {
        return Some("longer than 253 characters");
    }
    for label in host.split('.') {
        if label.is_empty() {
            return Some("it has an empty label");
        }
        if label.len() > 63 {
            return Some("a label is longer than 63 characters");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Some("only ASCII letters, digits, `-` and `.` are allowed");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Some("a label starts or ends with `-`");
        }
    }
    None
}

/// Whether an OpenAPI response key (`400`, `4XX`) covers `status`.
pub(super) fn status_matches(key: &str, status: u64) -> bool {
    let code = status.to_string();
    key.len() == 3
        && code.len() == 3
        && key
            .bytes()
            .zip(code.bytes())
            .all(|(k, c)| k == c || k == b'X')
}

/// Compiles the schema at `node` (WF317, WF318); true when it compiled.
fn compile<'src>(
    document: &Document<'src>,
    node: NodeId,
    member: &str,
    place: &RoutePlace<'_, '_, '_>,
    compiled: &mut Compiled<'src>,
    out: &mut Vec<Diagnostic>,
) -> bool {
    let kind = document.kind(node);
    if !matches!(kind, NodeKind::Object | NodeKind::Bool(_)) {
        return false; // the schema reports the type
    }
    let text = document.text(node);
    if compiled.valid.contains_key(text) {
        return true;
    }
    let base = format!("{}/{member}", place.pointer);
    let remote = remote_refs(document, node);
    if !remote.is_empty() {
        for (reference, pointer) in remote {
            let target = document
                .str(reference)
                .map(|r| r.into_owned())
                .unwrap_or_default();
            out.push(
                Diagnostic::error(
                    Code::RemoteSchemaRef,
                    format!(
                        "{}`{member}` refers to a remote document {target:?}",
                        place.prefix()
                    ),
                    document.span(reference),
                )
                .with_label("not a reference inside this schema")
                .with_pointer(format!("{base}{pointer}"))
                .with_help("copy the definition into `$defs` and refer to it as `#/$defs/<name>`"),
            );
        }
        return false;
    }
    let schema = document.to_value(node);
    let built = jsonschema::options_for::<DocumentJson>()
        .with_draft(jsonschema::Draft::Draft202012)
        .with_retriever(NoRemote)
        .build(&schema);
    match built {
        Ok(validator) => {
            compiled.valid.insert(text, validator);
            true
        }
        Err(error) => {
            let pointer = format!("{base}{}", error.instance_path().as_str());
            let span = document
                .resolve(&pointer)
                .map_or_else(|| document.span(node), |n| document.span(n));
            out.push(
                Diagnostic::error(
                    Code::InvalidContractSchema,
                    format!(
                        "{}`{member}` is not a valid JSON Schema: {}",
                        place.prefix(),
                        shorten(&error.to_string())
                    ),
                    span,
                )
                .with_label("breaks the JSON Schema meta-schema (draft 2020-12)")
                .with_pointer(pointer)
                .with_help(
                    "see https://json-schema.org/draft/2020-12 for the keywords and their values",
                ),
            );
            false
        }
    }
}

/// Every `$ref` and `$dynamicRef` under `node` that leaves the schema, with its pointer
/// relative to `node`. Iterative, like the loader: the nesting is already capped.
fn remote_refs(document: &Document<'_>, node: NodeId) -> Vec<(NodeId, String)> {
    let mut found = Vec::new();
    let mut stack = vec![(node, String::new())];
    while let Some((id, pointer)) = stack.pop() {
        match document.kind(id) {
            NodeKind::Object => {
                for (key, child) in document.members(id) {
                    let path = format!("{pointer}/{}", crate::load::pointer_segment(&key));
                    if matches!(key.as_ref(), "$ref" | "$dynamicRef")
                        && let Some(target) = document.str(child)
                        && !target.starts_with('#')
                    {
                        found.push((child, path));
                    } else {
                        stack.push((child, path));
                    }
                }
            }
            NodeKind::Array => {
                for (n, child) in document.children(id).enumerate() {
                    stack.push((child, format!("{pointer}/{n}")));
                }
            }
            _ => {}
        }
    }
    found.sort_by_key(|(id, _)| document.span(*id).start);
    found
}

/// WF319 for each way `node` breaks `validator`, at most three per value.
#[allow(clippy::too_many_arguments)]
fn mismatches(
    document: &Document<'_>,
    validator: &Validator<DocumentJson>,
    node: NodeId,
    base: &str,
    name: &str,
    member: &str,
    place: &RoutePlace<'_, '_, '_>,
    out: &mut Vec<Diagnostic>,
) {
    for error in validator.iter_errors(TreeNode::new(document, node)).take(3) {
        let pointer = format!("{base}{}", error.instance_path().as_str());
        let span = document
            .resolve(&pointer)
            .map_or_else(|| document.span(node), |n| document.span(n));
        out.push(
            Diagnostic::error(
                Code::ExampleMismatch,
                format!(
                    "{}example {name:?}: the {member} does not match the route's `{member}` schema: {}",
                    place.prefix(),
                    shorten(&error.to_string())
                ),
                span,
            )
            .with_label(format!("breaks the `{member}` schema"))
            .with_pointer(pointer)
            .with_help("correct the example, or the schema if the example shows what the handler does"),
        );
    }
}

/// A message of the validator, which quotes the value it judged, cut to a readable length.
fn shorten(message: &str) -> String {
    const LIMIT: usize = 200;
    if message.chars().count() <= LIMIT {
        return message.to_owned();
    }
    let cut: String = message.chars().take(LIMIT).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::{host_problem, status_matches};

    #[test]
    fn hosts_and_status_keys() {
        assert_eq!(host_problem("api.stripe.com"), None);
        assert_eq!(host_problem("hooks.slack.com"), None);
        assert!(host_problem("https://api.stripe.com").is_some());
        assert!(host_problem("api.stripe.com:443").is_some());
        assert!(host_problem("*.slack.com").is_some());
        assert!(host_problem("api..com").is_some());
        assert!(host_problem("api.com/v1").is_some());
        assert!(status_matches("4XX", 404));
        assert!(status_matches("502", 502));
        assert!(!status_matches("5XX", 404));
        assert!(!status_matches("40", 40));
    }
}
