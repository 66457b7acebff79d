//! Checking and compiling a registry text: the scanner, the schema and the rules run side by
//! side (through `parallel`), and a valid document becomes the typed model. [`Source`] is the
//! way in for callers; `diff` uses the document-level functions to build only what differs.
//!
//! [`Source`]: crate::Source

use crate::load::{self, Document, NodeId, NodeKind};
use crate::{
    Code, Diagnostic, Invalid, Registry, Schema, Service, Span, model, numbers, parallel, rules,
};

/// The result of compiling a registry text: the model when it is valid, and every diagnostic
/// (warnings included) sorted by position.
#[derive(Debug)]
pub struct Compiled {
    /// The model, when the registry has no errors.
    pub registry: Option<Registry>,
    /// Every diagnostic, warnings included, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
}

impl Compiled {
    /// The registry, or its diagnostics as an [`Invalid`] of `source` shown as `path` (the text
    /// is copied only then).
    pub fn into_result(self, path: &str, source: &str) -> Result<Registry, Invalid> {
        self.registry.ok_or_else(|| Invalid {
            path: path.to_owned(),
            source: source.to_owned(),
            diagnostics: self.diagnostics,
        })
    }
}

/// What [`Source::check`](crate::Source::check) found: the diagnostics, sorted by position, and what the registry declares.
#[derive(Debug)]
pub struct Checked {
    /// Every diagnostic, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
    /// How many services the registry declares.
    pub service_count: usize,
    /// How many runtime routes its services declare.
    pub route_count: usize,
}

impl Checked {
    /// Whether no diagnostic is an error (warnings may remain).
    pub fn is_valid(&self) -> bool {
        !self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Checks a registry text (syntax, schema and rules) without building the model.
pub(crate) fn check(source: &str, schema: &Schema) -> Checked {
    // Counted alongside the validators, not after them.
    let (_, diagnostics, counts) = check_document(source, schema, count_services);
    let (service_count, route_count) = counts.unwrap_or((0, 0));
    Checked {
        diagnostics,
        service_count,
        route_count,
    }
}

/// How many services and runtime routes a document declares.
fn count_services(d: &Document<'_>) -> (usize, usize) {
    let services = d.root().and_then(|root| {
        d.get(root, "services")
            .filter(|&s| d.kind(s) == NodeKind::Array)
    });
    services.map_or((0, 0), |services| {
        d.children(services)
            .fold((0, 0), |(count, routes), service| {
                let declared = d
                    .get(service, "runtime")
                    .and_then(|runtime| d.get(runtime, "routes"))
                    .map_or(0, |r| d.children(r).count());
                (count + 1, routes + declared)
            })
    })
}

/// Scans `source`, then validates it against the schema and the rules while `alongside` runs
/// on the document too (its result is `None` when the text is not a usable document).
fn check_document<'src, T: Send>(
    source: &'src str,
    schema: &Schema,
    alongside: impl FnOnce(&Document<'src>) -> T + Send,
) -> (Option<Document<'src>>, Vec<Diagnostic>, Option<T>) {
    let scan = load::scan(source);
    let usable = scan.is_usable();
    let mut diagnostics = scan.diagnostics;
    let document = scan.document;
    if !usable {
        sort(&mut diagnostics);
        return (None, diagnostics, None);
    }
    // The rules on one thread, `alongside` on another, the schema here; a panic in any of them
    // is an internal error, never a pass.
    let (side, schema_found) = parallel::join(
        || {
            parallel::join(
                || {
                    parallel::fault_point("rules");
                    let mut found = rules::check(&document);
                    found.extend(numbers::check(&document));
                    found
                },
                || alongside(&document),
            )
        },
        || schema.validate(&document),
    );
    let (rules_found, also) = match side {
        Ok((Ok(found), also)) => (found, Some(also)),
        Ok((Err(panicked), _)) => (vec![panicked.diagnostic("the rule checks")], None),
        Err(panicked) => (vec![panicked.diagnostic("building the model")], None),
    };
    diagnostics.extend(schema_found);
    diagnostics.extend(rules_found);
    sort(&mut diagnostics);
    (Some(document), diagnostics, also)
}

fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        (a.span.start, a.code, &a.message).cmp(&(b.span.start, b.code, &b.message))
    });
}

/// Checks a registry text and, when it is valid, builds the typed model.
pub(crate) fn compile(source: &str, schema: &Schema) -> Compiled {
    compile_document(source, schema).0
}

/// [`compile`], also returning the scanned document (for spans) when the text was usable.
pub(crate) fn compile_document<'src>(
    source: &'src str,
    schema: &Schema,
) -> (Compiled, Option<Document<'src>>) {
    // The model is built while the validators run, on the core they leave idle for part of
    // the time (a third of the wall time of a 100,000-service build), and dropped when the
    // registry turns out invalid.
    let (document, mut diagnostics, model) =
        check_document(source, schema, |document| build_model(document, schema));
    let registry = match (&document, model) {
        (Some(_), Some(model)) if !diagnostics.iter().any(Diagnostic::is_error) => match model {
            Ok(registry) => Some(registry),
            Err(diagnostic) => {
                diagnostics.push(*diagnostic);
                None
            }
        },
        _ => None,
    };
    (
        Compiled {
            registry,
            diagnostics,
        },
        document,
    )
}

/// Builds the model from a document that passed validation. A schema looser than the bundled
/// one can still let through what the model cannot hold: that is reported, never a panic.
fn build_model(document: &Document<'_>, schema: &Schema) -> Result<Registry, Box<Diagnostic>> {
    model_of_services(document, schema, &|_| true).map(|(registry, _)| registry)
}

/// [`build_model`] for the services `keep` selects (by their node): the registry holds only
/// those, in order, and the second value is each one's index in the document's `services`.
/// `diff` builds only the services that differ between its two sides.
pub(crate) fn model_of_services(
    document: &Document<'_>,
    schema: &Schema,
    keep: &(dyn Fn(NodeId) -> bool + Sync),
) -> Result<(Registry, Vec<usize>), Box<Diagnostic>> {
    let mismatch = |span: Span, pointer: String, error: String| {
        let diagnostic = if schema.is_bundled() {
            // Every check passed, yet the model cannot hold the value: a bug of this crate.
            Diagnostic::error(
                Code::Internal,
                format!("internal error: value passed every check but does not fit the registry model: {error}"),
                span,
            )
            .with_help("this is a bug in workerflow-registry; please report it with the registry that triggers it")
        } else {
            Diagnostic::error(
                Code::SchemaOther,
                format!("value does not fit the registry model: {error}"),
                span,
            )
            .with_help(format!(
                "the schema {} accepts what the compiler cannot read; keep it in step with the bundled schema",
                schema.origin()
            ))
        };
        Box::new(diagnostic.with_label("here").with_pointer(pointer))
    };
    let root = document
        .root()
        .ok_or_else(|| mismatch(Span::default(), String::new(), "empty document".to_owned()))?;
    // The field's value when present, else the root's opening brace.
    let root_start = document.span(root).start;
    let field_span = |name: &str| {
        document
            .get(root, name)
            .map_or(Span::new(root_start, root_start + 1), |id| {
                document.span(id)
            })
    };
    let field = |name: &str| document.get(root, name).map(|id| document.to_value(id));
    let version = field("version").and_then(|v| v.as_u64()).ok_or_else(|| {
        mismatch(
            field_span("version"),
            "/version".into(),
            "`version` must be an integer".into(),
        )
    })?;
    let updated_at = field("updatedAt")
        .and_then(|v| v.as_str().map(str::to_owned))
        .ok_or_else(|| {
            mismatch(
                field_span("updatedAt"),
                "/updatedAt".into(),
                "`updatedAt` must be a string".into(),
            )
        })?;
    let notes = field("notes").and_then(|v| v.as_str().map(str::to_owned));
    let name = field("name").and_then(|v| v.as_str().map(str::to_owned));
    let services_node = document
        .get(root, "services")
        .filter(|&s| document.kind(s) == NodeKind::Array);
    let (indices, ids): (Vec<usize>, Vec<NodeId>) = services_node
        .into_iter()
        .flat_map(|s| document.children(s))
        .enumerate()
        .filter(|&(_, id)| keep(id))
        .unzip();
    let service_at = |index: usize, id: NodeId| -> Result<Service, Box<Diagnostic>> {
        // Straight from the source text: the document is valid JSON without duplicate keys, and
        // this skips building a `serde_json::Value` per service.
        let mut service = serde_json::from_str::<Service>(document.text(id)).map_err(|e| {
            // serde_json counts lines and columns inside the service's text: find the value
            // there so the diagnostic points at it, not at "line 2 column 34".
            let text = document.text(id);
            let base = document.span(id).start as usize;
            let offset = offset_of(text, e.line(), e.column()).map(|at| base + at);
            let (node, pointer) = offset
                .map(|at| node_at(document, id, at, format!("/services/{index}")))
                .unwrap_or_else(|| (id, format!("/services/{index}")));
            let message = e.to_string();
            let suffix = format!(" at line {} column {}", e.line(), e.column());
            let message = message.strip_suffix(&suffix).unwrap_or(&message).to_owned();
            mismatch(document.span(node), pointer, message)
        })?;
        if service.id.is_empty() {
            service.id = model::derive_id(&service.connector_name).unwrap_or_default();
        }
        Ok(service)
    };
    // Services are independent: parse them on all cores, keeping their order.
    let services = parallel::map(&ids, 1024, |at, &id| {
        parallel::fault_point("model");
        service_at(indices[at], id)
    })
    .map_err(|panicked| Box::new(panicked.diagnostic("building the model")))?
    .into_iter()
    .collect::<Result<Vec<_>, _>>()?;
    let changes = match document.get(root, "changes") {
        Some(id) => serde_json::from_str(document.text(id))
            .map_err(|e| mismatch(document.span(id), "/changes".into(), e.to_string()))?,
        None => Vec::new(),
    };
    Ok((
        Registry {
            name,
            version,
            updated_at,
            notes,
            services,
            changes,
        },
        indices,
    ))
}

/// Validates a registry text like [`check`] and returns its document (when usable) with the
/// diagnostics; no model is built.
#[cfg(feature = "cli")] // `diff`
pub(crate) fn check_to_document<'src>(
    source: &'src str,
    schema: &Schema,
) -> (Option<Document<'src>>, Vec<Diagnostic>) {
    let (document, diagnostics, _) = check_document(source, schema, |_| ());
    (document, diagnostics)
}

/// The byte offset of serde_json's 1-based `line` and `column` (the last byte read) in `text`.
fn offset_of(text: &str, line: usize, column: usize) -> Option<usize> {
    let start = if line <= 1 {
        0
    } else {
        text.match_indices('\n').nth(line - 2)?.0 + 1
    };
    Some((start + column.saturating_sub(1)).min(text.len()))
}

/// The innermost value under `top` whose span holds `offset`, with its JSON pointer.
fn node_at(
    document: &Document<'_>,
    top: NodeId,
    offset: usize,
    pointer: String,
) -> (NodeId, String) {
    let mut node = top;
    let mut pointer = pointer;
    let holds = |id: NodeId| {
        let span = document.span(id);
        (span.start as usize) <= offset && offset < span.end as usize
    };
    while let Some((index, child)) = document.children(node).enumerate().find(|&(_, c)| holds(c)) {
        let segment = match document.key(child) {
            Some(key) => load::pointer_segment(&key).into_owned(),
            None => index.to_string(),
        };
        pointer = format!("{pointer}/{segment}");
        node = child;
    }
    (node, pointer)
}
