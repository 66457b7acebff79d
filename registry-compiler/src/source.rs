//! [`Source`]: a registry file and the schema it is checked against, the one way in for the
//! CLI, `build.rs`, the docs step, `diff`, `fmt` and the MCP server. Reading (size limit, UTF-8
//! with a located diagnostic, no FIFOs) and finding the schema happen here once.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::canonical::{self, FormatError};
use crate::compile::{self, Checked, Compiled};
use crate::docs::Docs;
use crate::load::{self, MAX_REGISTRY_BYTES};
use crate::parallel;
use crate::render::SourceInfo;
use crate::{Code, Diagnostic, Invalid, LoadError, Registry, SCHEMA_FILE_NAME, Schema, Span};

/// A registry file: its text (read once, size- and UTF-8-checked), the path it is shown as, and
/// the schema it is checked against (`services.schema.json` beside it, else the bundled one).
///
/// ```
/// use workerflow_registry::Source;
///
/// let text = r#"{"version": 1, "updatedAt": "2026-03-01", "notes": null, "services": []}"#;
/// let source = Source::from_text("services.json", text).expect("the bundled schema");
/// assert!(source.check().is_valid());
/// assert_eq!(source.registry().expect("valid").services.len(), 0);
/// ```
#[derive(Debug)]
pub struct Source {
    path: PathBuf,
    display: String,
    text: String,
    schema: Arc<Schema>,
}

impl Source {
    /// Reads the registry at `path` with the schema beside it (or the bundled one).
    pub fn open(path: impl AsRef<Path>) -> Result<Source, LoadError> {
        let path = path.as_ref();
        let schema = Source::schema_for(path)?;
        Source::open_with(path, schema)
    }

    /// Reads the registry at `path`, to be checked against `schema`.
    pub fn open_with(path: impl AsRef<Path>, schema: Arc<Schema>) -> Result<Source, LoadError> {
        let path = path.as_ref();
        let display = crate::display_path(path);
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
        Source::from_bytes(path, display, bytes, schema)
    }

    /// The registry text of `bytes` read from `path` (shown as `display`, for example a git
    /// revision): size- and UTF-8-checked, with a located diagnostic when it is not UTF-8.
    pub fn from_bytes(
        path: &Path,
        display: String,
        bytes: Vec<u8>,
        schema: Arc<Schema>,
    ) -> Result<Source, LoadError> {
        if bytes.len() as u64 > MAX_REGISTRY_BYTES {
            return Err(too_large(display, bytes.len() as u64));
        }
        match String::from_utf8(bytes) {
            Ok(text) => Ok(Source {
                path: path.to_owned(),
                display,
                text,
                schema,
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

    /// A registry text shown as `display`, checked against the bundled schema.
    pub fn from_text(
        display: impl Into<String>,
        text: impl Into<String>,
    ) -> Result<Source, LoadError> {
        let display = display.into();
        Ok(Source {
            path: PathBuf::from(&display),
            display,
            text: text.into(),
            schema: Arc::new(Schema::bundled()?),
        })
    }

    /// The schema for the registry at `path`: `services.schema.json` beside it when present,
    /// else the bundled one.
    pub fn schema_for(path: &Path) -> Result<Arc<Schema>, LoadError> {
        let beside = path.parent().map(|dir| dir.join(SCHEMA_FILE_NAME));
        let schema = match beside {
            Some(path) if path.is_file() => {
                let text = fs::read_to_string(&path).map_err(|source| LoadError::Io {
                    path: crate::display_path(&path),
                    source,
                })?;
                Schema::from_str(&text, &crate::display_path(&path))?
            }
            _ => Schema::bundled()?,
        };
        Ok(Arc::new(schema))
    }

    /// The path the registry was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path as diagnostics show it.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// The registry's text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The schema the registry is checked against.
    pub fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    /// Syntax, schema and rules, without building the model.
    pub fn check(&self) -> Checked {
        compile::check(&self.text, &self.schema)
    }

    /// The check, and the model when the registry is valid (with its warnings).
    pub fn compile(&self) -> Compiled {
        compile::compile(&self.text, &self.schema)
    }

    /// The model, or the registry's diagnostics.
    pub fn registry(&self) -> Result<Registry, Invalid> {
        self.compile().into_result(&self.display, &self.text)
    }

    /// The docs step's input: the model and the content hash the pages show (hashed while the
    /// registry is validated).
    pub fn docs(&self) -> Result<Docs, Invalid> {
        let shown = crate::docs::shown_path(&self.path);
        let hash = || SourceInfo::of_bytes(shown.clone(), self.text.as_bytes());
        let (info, compiled) = parallel::join(hash, || self.compile());
        // A panic there would be a bug; hash here rather than propagate it.
        let info = info.unwrap_or_else(|_| hash());
        let registry = compiled.into_result(&self.display, &self.text)?;
        Ok(Docs::new(registry, info, &self.path))
    }

    /// The Rust module `build.rs` writes for the registry (what
    /// `workerflow_runtime::include_registry!()` includes).
    pub fn generated_code(&self) -> Result<String, Invalid> {
        self.registry()
            .map(|registry| crate::generate::generate(&registry))
    }

    /// The registry in canonical form (`fmt`): same meaning, the project's layout and order.
    pub fn format(&self) -> Result<String, FormatError> {
        canonical::format_registry(&self.text, &self.schema, &self.display)
    }
}

impl Registry {
    /// Loads and validates the registry at `path`, with the schema beside it (or the bundled one).
    pub fn load(path: impl AsRef<Path>) -> Result<Registry, LoadError> {
        Source::open(path)?.registry().map_err(LoadError::Invalid)
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
        compile::compile(text, &schema).into_result("services.json", text)
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

/// The diagnostic of a registry over the size limit (`size` bytes), shown as `display`.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_chain_their_cause_and_print_it_once() {
        let error = Source::open("no/such/services.json").unwrap_err();
        assert_eq!(error.to_string(), "cannot read no/such/services.json");
        let cause = std::error::Error::source(&error).expect("the io error is the source");
        assert!(cause.is::<std::io::Error>());
        assert_eq!(
            crate::ErrorChain(&error).to_string(),
            format!("cannot read no/such/services.json: {cause}")
        );
    }
}
