//! The docs step: load a registry file once (validated model plus content hash), then render
//! the two pages and `openapi.json` from that one [`Docs`] value and write or check them. The CLI's `build` and the `build.rs` entry
//! point both go through here, so they write the same bytes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::Registry;
use crate::parallel;
pub use crate::render::{Page, Prepared, RenderError, Renderer, SourceInfo};
use crate::write;
pub use crate::write::{Freshness, Written};

/// A valid registry, ready to render the docs from: [`Source::docs`](crate::Source::docs).
#[derive(Debug)]
pub struct Docs {
    /// The validated model.
    pub registry: Arc<Registry>,
    /// The registry path and content hash, as the pages show them.
    pub source: SourceInfo,
    /// The registry file that was read.
    pub registry_path: PathBuf,
}

/// Why generation failed after the registry loaded.
#[derive(Debug, thiserror::Error)]
pub enum DocsError {
    #[error(transparent)]
    /// A template failed to render.
    Render(#[from] RenderError),
    #[error("cannot write {path}")]
    /// A generated file could not be written.
    Write {
        /// The file, as shown to users.
        path: String,
        #[source]
        /// What the operating system said.
        source: std::io::Error,
    },
    #[error("cannot read {path}")]
    /// A file on disk could not be read to compare it.
    Read {
        /// The file, as shown to users.
        path: String,
        #[source]
        /// What the operating system said.
        source: std::io::Error,
    },
}

/// One page's outcome in `--check` mode.
#[derive(Debug)]
pub struct PageFreshness {
    /// The page, or `None` for `openapi.json` and `llms.txt`.
    pub page: Option<Page>,
    /// Where the file is.
    pub path: PathBuf,
    /// Whether its bytes are what the registry produces.
    pub freshness: Freshness,
}

impl Docs {
    /// The docs step's input for `registry`, hashed as `source`, read from `registry_path`.
    pub(crate) fn new(registry: Registry, source: SourceInfo, registry_path: &Path) -> Docs {
        Docs {
            registry: Arc::new(registry),
            source,
            registry_path: registry_path.to_owned(),
        }
    }

    /// The default docs directory: `docs/` beside the registry's `connector-registry/`.
    pub fn default_docs_dir(&self) -> PathBuf {
        default_docs_dir(&self.registry_path)
    }

    /// Renders each page, `openapi.json` and `llms.txt`, and writes each when its bytes
    /// changed. `openapi.json` is streamed on its own thread (then `llms.txt`) while the pages
    /// render on theirs.
    pub fn write_docs(
        &self,
        renderer: &Renderer,
        out_dir: &Path,
    ) -> Result<Vec<(PathBuf, Written)>, DocsError> {
        let path = out_dir.join(crate::openapi::FILE_NAME);
        let write_openapi = || -> Result<Written, DocsError> {
            let write_error = |source| DocsError::Write {
                path: crate::display_path(&path),
                source,
            };
            // The same compare-then-write writer as the pages.
            let mut writer = write::FileWriter::new(&path).map_err(write_error)?;
            crate::openapi::write_to(&self.registry, &mut writer).map_err(write_error)?;
            writer.finish().map_err(write_error)
        };
        let llms_path = out_dir.join(crate::llms::FILE_NAME);
        let write_llms = || -> Result<Written, DocsError> {
            let text = crate::llms::render(&self.registry, out_dir);
            write::write_if_changed(&llms_path, text.as_bytes()).map_err(|source| {
                DocsError::Write {
                    path: crate::display_path(&llms_path),
                    source,
                }
            })
        };
        let (openapi, pages) = parallel::join(
            || (write_openapi(), write_llms()),
            || {
                self.each_page(renderer, out_dir, |prepared, page, path| {
                    let write_error = |source| DocsError::Write {
                        path: crate::display_path(path),
                        source,
                    };
                    let mut writer = write::FileWriter::new(path).map_err(write_error)?;
                    match prepared.render_to(page, &mut writer) {
                        Ok(()) => writer.finish().map_err(write_error),
                        // A failed write surfaces as a template error; report the write.
                        Err(error) => Err(writer
                            .take_error()
                            .map_or(DocsError::Render(error), write_error)),
                    }
                })
            },
        );
        // A panic there would be a bug; write the document here rather than propagate it.
        let (openapi, llms) = openapi.unwrap_or_else(|_| (write_openapi(), write_llms()));
        let mut written = pages?;
        written.push((path.clone(), openapi?));
        written.push((llms_path.clone(), llms?));
        Ok(written)
    }

    /// Compares each page, `openapi.json` and `llms.txt` on disk with what the registry produces; writes
    /// nothing.
    pub fn check_docs(
        &self,
        renderer: &Renderer,
        out_dir: &Path,
    ) -> Result<Vec<PageFreshness>, DocsError> {
        let pages = self.each_page(renderer, out_dir, |prepared, page, path| {
            let text = prepared.render(page)?;
            write::check(path, &text).map_err(|source| DocsError::Read {
                path: crate::display_path(path),
                source,
            })
        })?;
        let mut checked: Vec<PageFreshness> = Page::ALL
            .into_iter()
            .zip(pages)
            .map(|(page, (path, freshness))| PageFreshness {
                page: Some(page),
                path,
                freshness,
            })
            .collect();
        for (name, text) in [
            (
                crate::openapi::FILE_NAME,
                crate::openapi::render(&self.registry),
            ),
            (
                crate::llms::FILE_NAME,
                crate::llms::render(&self.registry, out_dir),
            ),
        ] {
            let path = out_dir.join(name);
            let freshness = write::check(&path, &text).map_err(|source| DocsError::Read {
                path: crate::display_path(&path),
                source,
            })?;
            checked.push(PageFreshness {
                page: None,
                path,
                freshness,
            });
        }
        Ok(checked)
    }

    /// Handles each page on its own thread (they share only the read-only registry) and
    /// returns the results in [`Page::ALL`] order. For a 100,000-service registry this halves
    /// the wall time of rendering.
    fn each_page<T: Send>(
        &self,
        renderer: &Renderer,
        out_dir: &Path,
        handle: impl Fn(&Prepared<'_>, Page, &Path) -> Result<T, DocsError> + Sync,
    ) -> Result<Vec<(PathBuf, T)>, DocsError> {
        let prepared = renderer.prepare(self.registry.clone(), self.source.clone());
        let one = |page: Page| -> Result<(PathBuf, T), DocsError> {
            let path = out_dir.join(page.file_name());
            let result = handle(&prepared, page, &path)?;
            Ok((path, result))
        };
        // The pages on their own threads; a panic there would be a bug: redo them here rather
        // than propagate it.
        parallel::map(&Page::ALL, 1, |_, &page| one(page))
            .unwrap_or_else(|_| Page::ALL.into_iter().map(&one).collect())
            .into_iter()
            .collect()
    }
}

/// `docs/` beside the directory that holds the registry (`connector-registry/`).
pub(crate) fn default_docs_dir(registry_path: &Path) -> PathBuf {
    let root = registry_path
        .parent()
        .and_then(Path::parent)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    root.join("docs")
}

/// The registry path as the pages print it: its directory and file name only
/// (`connector-registry/services.json`), so output does not depend on where the checkout is.
pub(crate) fn shown_path(path: &Path) -> String {
    let name = |p: Option<&Path>| {
        p.and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
    };
    match (name(path.parent()), name(Some(path))) {
        (Some(dir), Some(file)) => format!("{dir}/{file}"),
        (None, Some(file)) => file,
        _ => crate::REGISTRY_PATH.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_show_a_machine_independent_path() {
        assert_eq!(
            shown_path(Path::new("/home/me/repo/connector-registry/services.json")),
            "connector-registry/services.json"
        );
        assert_eq!(shown_path(Path::new("services.json")), "services.json");
    }

    #[test]
    fn docs_go_beside_the_registry_directory() {
        assert_eq!(
            default_docs_dir(Path::new("/r/connector-registry/services.json")),
            Path::new("/r/docs")
        );
        assert_eq!(
            default_docs_dir(Path::new("connector-registry/services.json")),
            Path::new("./docs")
        );
    }
}
