//! The `build.rs` entry point of the crate that owns the registry: validate it (failing the
//! build with rustc-style diagnostics), generate the module the crate includes
//! (`OUT_DIR/workerflow_registry.rs`, see [`generate`](crate::generate)), and keep
//! `docs/SERVICE_API_INDEX.md` and `.html` in step with it. The registry is loaded once for all.
//!
//! ```no_run
//! // The body of `fn main` in build.rs:
//! workerflow_registry::build_script::run();
//! ```
//!
//! Docs are written only when their bytes change, atomically, and never when `CI` is set (CI
//! checks freshness instead), when `WORKERFLOW_NO_DOCS=1`, or when the docs directory cannot be
//! written: those cases print `cargo::warning` lines and never fail the build. Cargo is told to
//! re-run the script only when the registry, its schema or the templates change.

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::docs::Docs;
use crate::render::{self, REGENERATE_COMMAND, Renderer};
use crate::write::{self, Freshness};
use crate::{LoadError, Registry, Source, find_registry, generate};

/// Environment variable that turns docs generation off when set to `1`.
pub(crate) const NO_DOCS_VAR: &str = "WORKERFLOW_NO_DOCS";

/// Runs the whole build step for the crate being built: load once, then each output.
///
/// Exits the build script with status 1 after printing the diagnostics when the registry is
/// invalid or missing, or when the generated module cannot be written (the crate cannot compile
/// without it); a docs problem is at most a warning.
pub fn run() {
    let script = BuildScript::from_env();
    let loaded = script.load_or_exit();
    script.code_or_exit(&loaded);
    script.docs(&loaded);
}

/// Settings of the build step; [`BuildScript::from_env`] reads them from Cargo's environment.
#[derive(Clone, Debug)]
pub(crate) struct BuildScript {
    /// The directory the registry is searched from (`CARGO_MANIFEST_DIR`).
    pub manifest_dir: PathBuf,
    /// The registry file [default: nearest `connector-registry/services.json` upwards].
    pub registry: Option<PathBuf>,
    /// The docs directory [default: `docs/` beside `connector-registry/`].
    pub docs_dir: Option<PathBuf>,
    /// A directory of template overrides.
    pub templates: Option<PathBuf>,
    /// Why docs must not be written, if they must not.
    pub no_write: Option<String>,
    /// Whether docs are skipped entirely (`WORKERFLOW_NO_DOCS=1`).
    pub skip_docs: bool,
}

/// Whether this process runs under CI: `CI` set to anything but empty, `0` or `false` (any
/// case). The one rule for `build.rs` (docs are never written under CI) and for the tests that
/// fail instead of skipping there.
pub fn on_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| is_ci_value(&v))
}

fn is_ci_value(value: &std::ffi::OsStr) -> bool {
    let value = value.to_string_lossy();
    !value.is_empty() && value != "0" && !value.eq_ignore_ascii_case("false")
}

impl BuildScript {
    pub(crate) fn from_env() -> BuildScript {
        BuildScript::from_vars(|name| std::env::var_os(name))
    }

    /// Reads settings through `var` (tests pass a fake environment).
    pub(crate) fn from_vars(var: impl Fn(&str) -> Option<OsString>) -> BuildScript {
        let manifest_dir = var("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_else(|| PathBuf::from("."));
        let ci = var("CI").filter(|v| is_ci_value(v));
        BuildScript {
            manifest_dir,
            registry: None,
            docs_dir: None,
            templates: None,
            no_write: ci.map(|_| "CI is set".to_owned()),
            skip_docs: var(NO_DOCS_VAR).is_some_and(|v| v == "1"),
        }
    }

    /// Finds, validates and loads the registry, and tells Cargo which files to watch.
    pub(crate) fn load(&self, out: &mut dyn Write) -> Result<Docs, String> {
        let path = match &self.registry {
            Some(path) => path.clone(),
            None => find_registry(&self.manifest_dir).ok_or_else(|| {
                format!(
                    "error: no {} in {} or any parent directory\n  = help: add the registry, or call BuildScript with an explicit registry path",
                    crate::REGISTRY_PATH,
                    self.manifest_dir.display()
                )
            })?,
        };
        let mut watched = vec![path.clone()];
        // The registry's directory holds the schema; watching the directory rather than the
        // schema file also notices a schema added later.
        if let Some(dir) = path.parent().filter(|dir| dir.is_dir()) {
            watched.push(dir.to_owned());
        }
        let templates = self
            .templates
            .clone()
            .unwrap_or_else(render::embedded_templates_dir);
        // A watched path that does not exist makes Cargo re-run the script on every build.
        if templates.is_dir() {
            watched.push(templates);
        }
        let mut directives = String::new();
        for path in &watched {
            directives.push_str(&format!("cargo::rerun-if-changed={}\n", path.display()));
        }
        for var in ["CI", NO_DOCS_VAR] {
            directives.push_str(&format!("cargo::rerun-if-env-changed={var}\n"));
        }
        let _ = out.write_all(directives.as_bytes());
        Source::open(&path)
            .and_then(|source| source.docs().map_err(LoadError::Invalid))
            .map_err(|error| match error {
                LoadError::Invalid(invalid) => invalid.report().render(crate::Format::Text, false),
                other => format!("error: {}\n", crate::ErrorChain(&other)),
            })
    }

    /// [`load`](Self::load) on stdout; on failure prints to stderr and exits with status 1.
    pub(crate) fn load_or_exit(&self) -> Docs {
        match self.load(&mut std::io::stdout()) {
            Ok(loaded) => loaded,
            Err(message) => {
                eprint!("{message}");
                eprintln!("error: the connector registry is invalid; the build stops here");
                std::process::exit(1);
            }
        }
    }

    /// Writes `OUT_DIR/workerflow_registry.rs`; on failure prints why and exits with status 1.
    pub(crate) fn code_or_exit(&self, loaded: &Docs) {
        if let Err(error) = write_to_out_dir(&loaded.registry) {
            eprintln!(
                "error: cannot write the generated registry module: {}",
                crate::ErrorChain(&error)
            );
            std::process::exit(1);
        }
    }

    /// Regenerates the docs when needed, printing what happened as Cargo directives on stdout.
    pub(crate) fn docs(&self, loaded: &Docs) {
        for line in self.docs_lines(loaded) {
            println!("cargo::warning={line}");
        }
    }

    /// The docs step; returns the warnings to show (one line each): problems only, so a build
    /// that rewrote the docs, or a no-op build (Cargo replays a script's warnings), says nothing.
    /// Never fails the build.
    pub(crate) fn docs_lines(&self, loaded: &Docs) -> Vec<String> {
        if self.skip_docs {
            return Vec::new();
        }
        let renderer = match &self.templates {
            Some(dir) => Renderer::with_overrides(dir),
            None => Renderer::embedded(),
        };
        let renderer = match renderer {
            Ok(renderer) => renderer,
            Err(error) => {
                return vec![format!("docs not generated: {}", crate::ErrorChain(&error))];
            }
        };
        let out_dir = self
            .docs_dir
            .clone()
            .unwrap_or_else(|| loaded.default_docs_dir());
        if let Some(reason) = &self.no_write {
            return match loaded.check_docs(&renderer, &out_dir) {
                Ok(pages) => pages
                    .into_iter()
                    .filter(|page| page.freshness != Freshness::Fresh)
                    .map(|page| {
                        format!(
                            "{} is out of date; not rewritten because {reason}; run `{REGENERATE_COMMAND}`",
                            self.shown(&page.path)
                        )
                    })
                    .collect(),
                Err(error) => vec![format!("docs not checked: {}", crate::ErrorChain(&error))],
            };
        }
        match loaded.write_docs(&renderer, &out_dir) {
            Ok(_) => Vec::new(),
            Err(error) => vec![
                format!("docs not written: {}", crate::ErrorChain(&error)),
                format!(
                    "run `{REGENERATE_COMMAND}` where the docs directory is writable, or set {NO_DOCS_VAR}=1"
                ),
            ],
        }
    }
}

impl BuildScript {
    /// A path relative to the crate being built, as people read it in Cargo's output.
    fn shown(&self, path: &Path) -> String {
        path.strip_prefix(&self.manifest_dir)
            .unwrap_or(path)
            .display()
            .to_string()
    }
}

/// Writes `OUT_DIR/workerflow_registry.rs` and the OpenAPI document it includes
/// (`OUT_DIR/workerflow_openapi.json`, [`openapi::render`](crate::openapi::render)'s bytes), each
/// when its bytes would change (so the including crate is not rebuilt for nothing); the writes
/// are atomic. Call it from `build.rs`. Returns the module's path.
fn write_to_out_dir(registry: &Registry) -> io::Result<PathBuf> {
    let out_dir = std::env::var_os("OUT_DIR").ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            "OUT_DIR is not set: call write_to_out_dir from a build script",
        )
    })?;
    write_module(registry, Path::new(&out_dir))
}

/// [`write_to_out_dir`] into `dir`: the module and, beside it, the OpenAPI document it includes
/// (streamed, as `build` writes `docs/openapi.json`).
fn write_module(registry: &Registry, dir: &Path) -> io::Result<PathBuf> {
    let mut openapi = write::FileWriter::new(&dir.join(generate::OPENAPI_FILE_NAME))?;
    crate::openapi::write_to(registry, &mut openapi)?;
    openapi.finish()?;
    let path = dir.join(generate::FILE_NAME);
    write::write_if_changed(&path, generate::generate(registry).as_bytes())?;
    Ok(path)
}

/// The build step for a crate with connectors whose docs live elsewhere, from its `build.rs`:
///
/// ```no_run
/// // The body of `fn main` in build.rs:
/// workerflow_registry::codegen::build_script("connector-registry/services.json");
/// ```
///
/// [`run`] without the docs: the same directives to Cargo (the registry,
/// its directory where the schema lives, the templates, `CI` and `WORKERFLOW_NO_DOCS`), the
/// same validation (every diagnostic rustc-style, then exit status 1) and the same module. A
/// relative path is taken from the crate's directory.
pub fn build_script(registry_path: impl AsRef<Path>) {
    let mut script = BuildScript::from_env();
    let path = registry_path.as_ref();
    script.registry = Some(script.manifest_dir.join(path));
    script.skip_docs = true;
    let loaded = script.load_or_exit();
    script.code_or_exit(&loaded);
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::fs;

    use super::*;

    const SMALL: &str = include_str!("../tests/fixtures/render/small.json");

    /// A crate directory holding `connector-registry/services.json` (and the bundled schema).
    fn crate_dir(name: &str, registry: &str) -> PathBuf {
        let root =
            std::env::temp_dir().join(format!("wf-build-script-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("connector-registry")).unwrap();
        fs::write(root.join("connector-registry/services.json"), registry).unwrap();
        fs::write(
            root.join("connector-registry/services.schema.json"),
            include_str!("../../connector-registry/services.schema.json"),
        )
        .unwrap();
        root
    }

    fn script(root: &Path, vars: &[(&str, &str)]) -> BuildScript {
        let mut env: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        env.insert("CARGO_MANIFEST_DIR".into(), root.as_os_str().to_owned());
        BuildScript::from_vars(|name| env.get(name).cloned())
    }

    #[test]
    fn ci_and_the_opt_out_come_from_the_environment() {
        let root = Path::new("/nowhere");
        assert_eq!(script(root, &[]).no_write, None);
        assert_eq!(
            script(root, &[("CI", "true")]).no_write.as_deref(),
            Some("CI is set")
        );
        assert_eq!(
            script(root, &[("CI", "1")]).no_write.as_deref(),
            Some("CI is set")
        );
        assert_eq!(script(root, &[("CI", "false")]).no_write, None);
        assert_eq!(script(root, &[("CI", "")]).no_write, None);
        assert!(script(root, &[(NO_DOCS_VAR, "1")]).skip_docs);
        assert!(!script(root, &[(NO_DOCS_VAR, "0")]).skip_docs);
        assert_eq!(script(root, &[]).manifest_dir, root);
    }

    #[test]
    fn cargo_watches_the_registry_its_directory_and_the_templates_only() {
        let root = crate_dir("watch", SMALL);
        let mut out = Vec::new();
        script(&root, &[]).load(&mut out).unwrap();
        let registry = root.join("connector-registry/services.json");
        let schema = root.join("connector-registry");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(
                "cargo::rerun-if-changed={}\ncargo::rerun-if-changed={}\ncargo::rerun-if-changed={}\n\
                 cargo::rerun-if-env-changed=CI\ncargo::rerun-if-env-changed={NO_DOCS_VAR}\n",
                registry.display(),
                schema.display(),
                render::embedded_templates_dir().display()
            )
        );
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn an_invalid_or_missing_registry_is_an_error_with_its_report() {
        let root = crate_dir("invalid", &SMALL.replace("\"rank\": 3", "\"rank\": 2"));
        let message = script(&root, &[]).load(&mut Vec::new()).unwrap_err();
        assert!(message.contains("error[WF"), "{message}");
        assert!(message.contains("services.json:"), "{message}");
        fs::remove_dir_all(&root).unwrap();

        let empty =
            std::env::temp_dir().join(format!("wf-build-script-none-{}", std::process::id()));
        fs::create_dir_all(&empty).unwrap();
        let mut settings = script(&empty, &[]);
        settings.registry = Some(empty.join("missing.json"));
        let message = settings.load(&mut Vec::new()).unwrap_err();
        assert!(message.starts_with("error: cannot read"), "{message}");
        fs::remove_dir_all(empty).unwrap();
    }

    #[test]
    fn docs_are_written_once_then_left_alone() {
        let root = crate_dir("write", SMALL);
        let settings = script(&root, &[]);
        let loaded = settings.load(&mut Vec::new()).unwrap();
        // Writing the docs is no problem, so no warning; the files are there.
        assert!(settings.docs_lines(&loaded).is_empty());
        for page in [
            "SERVICE_API_INDEX.md",
            "SERVICE_API_INDEX.html",
            "openapi.json",
            "llms.txt",
        ] {
            assert!(root.join("docs").join(page).is_file(), "{page} written");
        }
        let written = fs::read(root.join("docs/llms.txt")).unwrap();
        assert!(
            settings.docs_lines(&loaded).is_empty(),
            "no-op when unchanged"
        );
        assert_eq!(fs::read(root.join("docs/llms.txt")).unwrap(), written);
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn ci_only_warns_about_stale_docs() {
        let root = crate_dir("ci", SMALL);
        let settings = script(&root, &[("CI", "true")]);
        let loaded = settings.load(&mut Vec::new()).unwrap();
        let lines = settings.docs_lines(&loaded);
        assert_eq!(lines.len(), 4);
        assert_eq!(
            lines[0],
            "docs/SERVICE_API_INDEX.md is out of date; not rewritten because CI is set; \
             run `workerflow-registry build`"
        );
        assert!(!root.join("docs").exists(), "nothing written under CI");
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn the_opt_out_skips_docs_entirely() {
        let root = crate_dir("opt-out", SMALL);
        let settings = script(&root, &[(NO_DOCS_VAR, "1")]);
        let loaded = settings.load(&mut Vec::new()).unwrap();
        assert!(settings.docs_lines(&loaded).is_empty());
        assert!(!root.join("docs").exists());
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn an_unwritable_docs_directory_is_a_warning_not_a_failure() {
        let root = crate_dir("read-only", SMALL);
        // A file where the directory should be: writing fails for root users too.
        fs::write(root.join("docs"), "").unwrap();
        let settings = script(&root, &[]);
        let loaded = settings.load(&mut Vec::new()).unwrap();
        let lines = settings.docs_lines(&loaded);
        assert!(
            lines[0].starts_with("docs not written: cannot write "),
            "{lines:?}"
        );
        assert!(lines[1].contains("WORKERFLOW_NO_DOCS=1"), "{lines:?}");
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn the_module_is_written_with_its_openapi_document_once() {
        let dir = std::env::temp_dir().join(format!("wf-codegen-out-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("mkdir");
        let registry = Registry::from_str(
            r#"{"name": "Acme", "version": 1, "updatedAt": "2026-03-01", "notes": null, "services": []}"#,
        )
        .expect("valid");
        let path = write_module(&registry, &dir).expect("written");
        assert_eq!(path, dir.join(generate::FILE_NAME));
        let module = fs::read_to_string(&path).expect("module");
        assert!(module.contains(&format!(
            "pub const OPENAPI_JSON: &str = include_str!(\"{}\");",
            generate::OPENAPI_FILE_NAME
        )));
        let openapi = dir.join(generate::OPENAPI_FILE_NAME);
        assert_eq!(
            fs::read_to_string(&openapi).expect("document"),
            crate::openapi::render(&registry)
        );
        // Unchanged bytes are not rewritten, so cargo sees nothing new.
        let modified = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).expect("mtime");
        let before = (modified(&path), modified(&openapi));
        std::thread::sleep(std::time::Duration::from_millis(20));
        write_module(&registry, &dir).expect("written again");
        assert_eq!((modified(&path), modified(&openapi)), before);
        let _ = fs::remove_dir_all(&dir);
    }
}
