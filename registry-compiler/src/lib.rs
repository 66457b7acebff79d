//! The WorkerFlow registry compiler.
//!
//! It reads `connector-registry/services.json`, checks it (JSON syntax with exact positions, the
//! JSON Schema `services.schema.json`, and the semantic rules a schema cannot express), reports
//! every problem the way rustc does, and turns a valid registry into the typed [`Registry`] model
//! that the docs renderer, the code generator and the runtime share.
//!
//! [`Source`] is the way in: a registry file (or text) with its schema, whose methods give the
//! check report, the compiled model, the docs and the generated code. `build.rs` calls
//! [`codegen::build_script`]; the `workerflow-registry` binary and pre-commit hooks run the same
//! code.
//!
//! ```
//! use workerflow_registry::{Registry, Source};
//!
//! let text = r#"{"version": 1, "updatedAt": "2026-03-01", "notes": null, "services": []}"#;
//! let registry = Registry::from_str(text).expect("valid registry");
//! assert_eq!(registry.services.len(), 0);
//!
//! let broken = r#"{"version": 1, "updatedAt": "2026-02-30", "notes": null, "services": []}"#;
//! let checked = Source::from_text("services.json", broken).unwrap().check();
//! assert_eq!(checked.diagnostics[0].code.as_str(), "WF307");
//! ```
//!
//! # Stability
//!
//! The names at the crate root and these modules are the API: [`model`] (every type of the
//! registry model), [`docs`] (the pages, `openapi.json` and `llms.txt` of a valid registry), [`search`] (the ranking rule the docs page and the MCP server share),
//! [`codegen`] and [`build_script`] (the build step `build.rs` calls) and, with
//! the `scaffold` feature, `scaffold` (the plan behind `new` and the MCP server's `plan_connector`).
//! With the `unstable-internals` feature, `internals` exposes machinery for the fuzz targets and
//! the workspace's tests; it changes with the implementation, as minijinja's `machinery` does.
//!
//! It is not a general JSON library: the loader is tuned for one format and refuses deep or huge
//! input.

mod build_step;
mod canonical;
#[cfg(feature = "cli")]
mod cli;
mod codes;
mod compile;
mod diagnostics;
#[cfg(feature = "cli")]
mod diff;
pub mod docs;
mod generate;
#[cfg(feature = "cli")]
mod init;
mod json_tree;
mod llms;
mod load;
pub mod model;
mod numbers;
mod openapi;
mod parallel;
mod render;
mod rules;
#[cfg(feature = "scaffold")]
pub mod scaffold;
mod schema;
pub mod search;
mod source;
mod write;

use std::path::{Path, PathBuf};

pub use canonical::FormatError;
#[cfg(feature = "cli")]
pub use cli::run as run_cli;
pub use codes::{ChangeClass, Code};
pub use compile::{Checked, Compiled};
pub use diagnostics::{Diagnostic, Format, Report, Severity, Span};
pub use model::{Registry, Route, Service};
pub use schema::{Schema, SchemaError};
pub use source::Source;
pub use workerflow_names::ErrorChain;

/// The build step of a connector crate: `init` writes
/// `workerflow_registry::codegen::build_script("connector-registry/services.json")` into
/// `build.rs`. It validates the registry (failing the build with its diagnostics) and writes the
/// generated module to `OUT_DIR`.
pub mod codegen {
    pub use crate::build_step::build_script;
}

/// The build step with the docs, for the crate that owns the registry and its pages (this
/// repository's own `build.rs` calls [`build_script::run`]), and the CI rule it follows.
pub mod build_script {
    pub use crate::build_step::{on_ci, run};
}

/// Machinery for the fuzz targets, benchmarks and the workspace's own tests, with no
/// stability promise: it changes with the implementation.
#[cfg(feature = "unstable-internals")]
pub mod internals {
    pub use crate::generate::{OPENAPI_FILE_NAME, generate};
    pub use crate::load::{NodeKind, check_utf8, scan};
    pub use crate::openapi::render as render_openapi;
    pub use crate::render::html::csp_hash;
    pub use crate::rules::URL_FIELDS;
}

/// The registry path relative to a crate or repository root.
pub const REGISTRY_PATH: &str = "connector-registry/services.json";
/// The schema's file name, looked for beside the registry.
pub const SCHEMA_FILE_NAME: &str = "services.schema.json";

/// Why a registry could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The registry or its schema could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The file, as shown to users.
        path: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The schema is not a usable JSON Schema.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error("{} in {}", plural(.0.error_count(), "problem"), .0.path)]
    /// The registry has errors (or is too large, or not UTF-8): located diagnostics.
    Invalid(Invalid),
}

/// A registry with errors: its text and diagnostics, ready to print with [`Invalid::report`].
#[derive(Debug)]
pub struct Invalid {
    /// The path as shown to users.
    pub path: String,
    /// The registry's text, for the excerpts.
    pub source: String,
    /// Every diagnostic, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
}

impl Invalid {
    /// The diagnostics as a report to print.
    pub fn report(&self) -> Report<'_> {
        Report {
            path: &self.path,
            source: &self.source,
            diagnostics: &self.diagnostics,
        }
    }

    /// How many of the diagnostics are errors.
    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// `path` relative to the current directory when it is inside it, as users typed it otherwise.
pub fn display_path(path: &Path) -> String {
    let relative = std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(&cwd).ok().map(Path::to_path_buf))
        .filter(|p| !p.as_os_str().is_empty());
    relative.as_deref().unwrap_or(path).display().to_string()
}

/// The nearest `connector-registry/services.json` from `start` upwards.
pub(crate) fn find_registry(start: &Path) -> Option<PathBuf> {
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
