//! The WorkerFlow registry compiler.
//!
//! It reads `connector-registry/services.json`, checks it (JSON syntax with exact positions, the
//! JSON Schema `services.schema.json`, and the semantic rules a schema cannot express), reports
//! every problem the way rustc does, and turns a valid registry into the typed [`Registry`] model
//! that the docs renderer, the code generator and the runtime share.
//!
//! It is used from `build.rs` (with default features off, so no CLI or network code is
//! compiled there), from the `workerflow-registry` binary, and from pre-commit hooks. It is not
//! a general JSON library: the loader is tuned for one format and refuses deep or huge input.
//!
//! ```
//! use workerflow_registry::Registry;
//!
//! let text = r#"{"version": 1, "updatedAt": "2026-03-01", "notes": null, "services": []}"#;
//! let registry = Registry::from_str(text).expect("valid registry");
//! assert_eq!(registry.services.len(), 0);
//!
//! let broken = r#"{"version": 1, "updatedAt": "2026-02-30", "notes": null, "services": []}"#;
//! let invalid = Registry::from_str(broken).unwrap_err();
//! assert_eq!(invalid.diagnostics[0].code.as_str(), "WF307");
//! ```

// The public modules are what other crates, the binary and the fuzz targets use; the rest is
// private, so rustc reports what nothing reads.
pub mod build_script;
mod canonical;
#[cfg(feature = "cli")]
pub mod cli;
pub mod codegen;
mod codes;
mod diagnostics;
#[cfg(feature = "cli")]
mod diff;
pub mod docs;
#[cfg(feature = "cli")]
mod init;
mod json_tree;
mod llms;
// The scanner and its document, public for the fuzz targets only.
#[doc(hidden)]
pub mod load;
pub mod model;
mod numbers;
pub mod openapi;
mod parallel;
pub mod render;
mod rules;
#[cfg(feature = "scaffold")]
pub mod scaffold;
mod schema;
pub mod search;
pub mod write;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

pub use canonical::{FormatError, format_registry};
pub use codes::{ChangeClass, Code};
pub use diagnostics::{Diagnostic, Format, Report, Severity, Span};
pub use model::{
    AuthType, ChangeNote, Confidence, DocsRequiresLogin, Registry, RequestType, Route,
    SecretRequirement, Service, ServiceRuntime,
};
pub use schema::{Schema, SchemaError};
pub use workerflow_names::did_you_mean;

use load::{Document, MAX_REGISTRY_BYTES, NodeId, NodeKind};

/// The registry path relative to a crate or repository root.
pub const REGISTRY_PATH: &str = "connector-registry/services.json";
/// The schema's file name, looked for beside the registry.
pub const SCHEMA_FILE_NAME: &str = "services.schema.json";

/// The result of compiling a registry text: the model when it is valid, and every diagnostic
/// (warnings included) sorted by position.
#[derive(Debug)]
pub struct Compiled {
    pub registry: Option<Registry>,
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

/// Why a registry could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error("{} in {}", plural(.0.error_count(), "problem"), .0.path)]
    Invalid(Invalid),
}

/// An error and its causes on one line (`cannot read x: No such file or directory (os error
/// 2)`), as every command line of the project prints errors. The error types keep their causes
/// out of `Display` and return them from `source()`, so this shows each once.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(error) = cause {
            write!(f, ": {error}")?;
            cause = error.source();
        }
        Ok(())
    }
}

/// A registry with errors: its text and diagnostics, ready to print with [`Invalid::report`].
#[derive(Debug)]
pub struct Invalid {
    /// The path as shown to users.
    pub path: String,
    pub source: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl Invalid {
    pub fn report(&self) -> Report<'_> {
        Report {
            path: &self.path,
            source: &self.source,
            diagnostics: &self.diagnostics,
        }
    }

    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// A registry file read from disk (size-checked, UTF-8-checked).
#[derive(Debug)]
pub struct SourceFile {
    pub path: PathBuf,
    /// The path as shown in diagnostics.
    pub display: String,
    pub text: String,
}

impl Registry {
    /// Loads and validates the registry at `path`, with the schema beside it (or the bundled one).
    pub fn load(path: impl AsRef<Path>) -> Result<Registry, LoadError> {
        let path = path.as_ref();
        let schema = schema_for(path)?;
        let file = read_source(path)?;
        compile(&file.text, &schema)
            .into_result(&file.display, &file.text)
            .map_err(LoadError::Invalid)
    }

    /// Validates a registry text against the bundled schema.
    #[allow(clippy::should_implement_trait)] // returns diagnostics, not a FromStr error
    pub fn from_str(text: &str) -> Result<Registry, Invalid> {
        let schema = Schema::bundled().map_err(|error| Invalid {
            path: "(bundled schema)".to_owned(),
            source: String::new(),
            diagnostics: vec![Diagnostic::error(
                Code::SchemaOther,
                error.to_string(),
                Span::default(),
            )],
        })?;
        compile(text, &schema).into_result("services.json", text)
    }
}

/// The schema for a registry: `services.schema.json` beside it when present, else the bundled one.
pub fn schema_for(registry_path: &Path) -> Result<Schema, LoadError> {
    let beside = registry_path.parent().map(|dir| dir.join(SCHEMA_FILE_NAME));
    match beside {
        Some(path) if path.is_file() => {
            let text = fs::read_to_string(&path).map_err(|source| LoadError::Io {
                path: display_path(&path),
                source,
            })?;
            Ok(Schema::from_str(&text, &display_path(&path))?)
        }
        _ => Ok(Schema::bundled()?),
    }
}

/// Reads a registry file, refusing files over the size limit and reporting invalid UTF-8.
pub fn read_source(path: &Path) -> Result<SourceFile, LoadError> {
    let display = display_path(path);
    let io = |source| LoadError::Io {
        path: display.clone(),
        source,
    };
    // Before opening: opening a FIFO (or a device) for reading blocks until someone writes.
    let kind = fs::metadata(path).map_err(io)?.file_type();
    if !kind.is_file() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("not a regular file (a {})", file_kind(&kind)),
        )));
    }
    let file = fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size > MAX_REGISTRY_BYTES {
        return Err(too_large(display, size));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    // `take` guards against a file that grows while it is read.
    file.take(MAX_REGISTRY_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_REGISTRY_BYTES {
        return Err(too_large(display, bytes.len() as u64));
    }
    decode_source(path, display, bytes)
}

/// The registry text of `bytes` read from `path` (shown as `display`): UTF-8 checked, with a
/// located diagnostic when it is not. Split from [`read_source`] so the fuzz targets take the
/// same path without touching the disk.
pub fn decode_source(
    path: &Path,
    display: String,
    bytes: Vec<u8>,
) -> Result<SourceFile, LoadError> {
    match String::from_utf8(bytes) {
        Ok(text) => Ok(SourceFile {
            path: path.to_owned(),
            display,
            text,
        }),
        Err(error) => {
            let diagnostic = load::check_utf8(error.as_bytes()).err().map_or_else(
                || Diagnostic::error(Code::InvalidUtf8, "invalid UTF-8", Span::default()),
                |boxed| *boxed,
            );
            let source = String::from_utf8_lossy(error.as_bytes()).into_owned();
            Err(LoadError::Invalid(Invalid {
                path: display,
                source,
                diagnostics: vec![diagnostic],
            }))
        }
    }
}

/// What a path that is not a regular file is, for messages.
fn file_kind(kind: &fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "FIFO";
        }
        if kind.is_socket() {
            return "socket";
        }
        if kind.is_char_device() || kind.is_block_device() {
            return "device";
        }
    }
    if kind.is_dir() {
        "directory"
    } else {
        "special file"
    }
}

pub(crate) fn too_large(display: String, size: u64) -> LoadError {
    let diagnostic = Diagnostic::error(
        Code::FileTooLarge,
        format!(
            "the registry is {} MiB; the limit is {} MiB",
            size / (1024 * 1024),
            MAX_REGISTRY_BYTES / (1024 * 1024)
        ),
        Span::default(),
    )
    .with_label("file too large")
    .with_help("a registry of 100,000 services is about 85 MiB; check that this is the right file");
    LoadError::Invalid(Invalid {
        path: display,
        source: String::new(),
        diagnostics: vec![diagnostic],
    })
}

/// `path` relative to the current directory when it is inside it, as users typed it otherwise.
pub fn display_path(path: &Path) -> String {
    let relative = std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(&cwd).ok().map(Path::to_path_buf))
        .filter(|p| !p.as_os_str().is_empty());
    relative.as_deref().unwrap_or(path).display().to_string()
}

/// What [`check`] found: the diagnostics, sorted by position, and what the registry declares.
#[derive(Debug)]
pub struct Checked {
    pub diagnostics: Vec<Diagnostic>,
    pub service_count: usize,
    pub route_count: usize,
}

impl Checked {
    pub fn is_valid(&self) -> bool {
        !self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Checks a registry text (syntax, schema and rules) without building the model.
pub fn check(source: &str, schema: &Schema) -> Checked {
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
pub fn compile(source: &str, schema: &Schema) -> Compiled {
    compile_document(source, schema).0
}

/// [`compile`], also returning the scanned document (for spans) when the text was usable.
pub fn compile_document<'src>(
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
pub fn model_of_services(
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
pub fn check_to_document<'src>(
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

/// The nearest `connector-registry/services.json` from `start` upwards.
pub fn find_registry(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|dir| dir.join(REGISTRY_PATH))
        .find(|candidate| candidate.is_file())
}

/// The registry a command works on: `given`, else the nearest one from the current directory
/// upwards; the error (for a command line) says where it looked and, with `how_to_pass` (for
/// example `workerflow-registry check PATH`), how to name one.
pub fn locate_registry(given: Option<PathBuf>, how_to_pass: &str) -> Result<PathBuf, String> {
    if let Some(path) = given {
        return Ok(path);
    }
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
    find_registry(&cwd).ok_or_else(|| {
        format!(
            "no {REGISTRY_PATH} in {} or any parent directory\n  = help: pass the registry path: {how_to_pass}",
            cwd.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_chain_their_cause_and_print_it_once() {
        let error = read_source(Path::new("no/such/services.json")).unwrap_err();
        assert_eq!(error.to_string(), "cannot read no/such/services.json");
        let cause = std::error::Error::source(&error).expect("the io error is the source");
        assert!(cause.is::<std::io::Error>());
        assert_eq!(
            ErrorChain(&error).to_string(),
            format!("cannot read no/such/services.json: {cause}")
        );
    }
}
