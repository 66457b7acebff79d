//! `workerflow-registry init`: make a crate a connector crate. It adds an empty registry
//! (`connector-registry/services.json`), the toolkit's crates to `Cargo.toml` (edited with
//! toml_edit, so the user's comments and layout stay), the one-line `build.rs` and
//! `workerflow_runtime::include_registry!();` in the library root: what `new` then builds on.
//!
//! Each step is skipped when it is done already and nothing is replaced: a `build.rs` that does
//! something else is a refusal. Like `new`, every edit is planned before anything is written,
//! and [`scaffold::write_all`](crate::scaffold::write_all) writes all of them or none.

use std::path::{Path, PathBuf};

use serde_json::json;
use toml_edit::{DocumentMut, InlineTable, Item, Value};

use crate::canonical;

/// Where the crate takes the toolkit's crates from. They are not on crates.io.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// A toolkit checkout: the directory holding `runtime/` and `registry-compiler/`.
    Path(PathBuf),
    /// A git repository of the toolkit at a revision.
    Git { url: String, rev: String },
}

impl Source {
    /// The toolkit checkout this CLI was built from, when it is still there (`cargo install
    /// --path` from a checkout, or cargo's git checkout for `cargo install --git`).
    pub(crate) fn built_from() -> Option<PathBuf> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?;
        is_toolkit(root).then(|| root.to_owned())
    }

    /// The dependency on the toolkit's package in `dir` (`runtime`, `registry-compiler`).
    fn dependency(&self, dir: &str) -> InlineTable {
        let mut table = InlineTable::new();
        match self {
            Source::Path(root) => {
                table.insert("path", root.join(dir).display().to_string().into());
            }
            Source::Git { url, rev } => {
                table.insert("git", url.as_str().into());
                table.insert("rev", rev.as_str().into());
            }
        }
        table
    }
}

fn is_toolkit(root: &Path) -> bool {
    root.join("runtime/Cargo.toml").is_file() && root.join("registry-compiler/Cargo.toml").is_file()
}

/// The edits `init` would make.
#[derive(Debug)]
pub(crate) struct Plan {
    /// Files to write, in the order they are renamed into place.
    pub edits: Vec<Edit>,
    /// The steps that are done already, one line each.
    pub done: Vec<String>,
}

/// One file `init` creates or edits.
#[derive(Debug)]
pub(crate) struct Edit {
    pub path: PathBuf,
    /// Its text now, when it exists.
    pub before: Option<String>,
    pub after: String,
}

/// The line `build.rs` holds, and the ones that mean the registry's build step runs already.
const BUILD_RS: &str = "fn main() {\n    workerflow_registry::codegen::build_script(\"connector-registry/services.json\");\n}\n";
const BUILD_STEPS: &[&str] = &[
    "workerflow_registry::codegen::build_script(",
    "workerflow_registry::build_script::run(",
];
const INCLUDE: &str = "workerflow_runtime::include_registry!();";
/// The server binary `init --server` writes, and the call that makes a file one.
const SERVER_RS: &str = "src/bin/server.rs";
const SERVER_MAIN: &str = "workerflow_server::main";
/// The schema's `maxLength` of the registry's `name`.
const MAX_NAME_CHARS: usize = 100;

/// Works out every edit for the crate at `crate_root` without writing anything. `today` is the
/// new registry's `updatedAt` (YYYY-MM-DD).
///
/// With `server`, also the dependency on `workerflow-server` and `src/bin/server.rs`, the
/// crate's own server binary (README: "Serving your own routes").
pub(crate) fn plan(
    crate_root: &Path,
    source: &Source,
    today: &str,
    server: bool,
) -> Result<Plan, String> {
    if let Source::Path(root) = source
        && !is_toolkit(root)
    {
        return Err(format!(
            "{} is not a WorkerFlow toolkit checkout (no runtime/Cargo.toml and registry-compiler/Cargo.toml)\n  = help: pass the directory of the toolkit's repository, or --git URL --rev REV",
            root.display()
        ));
    }
    if let Source::Path(root) = source
        && server
        && !root.join("server/Cargo.toml").is_file()
    {
        return Err(format!(
            "{} has no server/ (workerflow-server): it is a toolkit revision from before the server was a crate of its own\n  = help: update the checkout, or run `init` without --server",
            root.display()
        ));
    }
    let manifest_path = crate_root.join("Cargo.toml");
    let manifest_text = read(&manifest_path)?.ok_or_else(|| {
        format!(
            "no Cargo.toml in {}\n  = help: run `cargo new --lib NAME` first, or pass the crate's directory",
            match crate::display_path(crate_root) {
                shown if shown.is_empty() => "the current directory".to_owned(),
                shown => shown,
            }
        )
    })?;
    let shown = crate::display_path(&manifest_path);
    let mut manifest: DocumentMut = manifest_text.parse().map_err(|e: toml_edit::TomlError| {
        format!("cannot read {shown}: {}", e.to_string().trim_end())
    })?;
    let package = manifest.get("package").and_then(Item::as_table_like).ok_or_else(|| {
        format!(
            "{shown} has no [package]: `init` makes a crate a connector crate, not a workspace\n  = help: run it in the member crate's directory"
        )
    })?;
    let package_name = package
        .get("name")
        .and_then(Item::as_str)
        .map(str::to_owned);
    let crate_name = package_name.as_deref().unwrap_or("this crate").to_owned();
    let build_path = match package.get("build").and_then(Item::as_value) {
        None => crate_root.join("build.rs"),
        Some(Value::String(path)) => crate_root.join(path.value()),
        Some(_) => {
            return Err(format!(
                "{shown} turns the build script off (`build = false`), and the registry module is generated by one\n  = help: remove `build = false`, then run `workerflow-registry init` again"
            ));
        }
    };
    let lib_path = crate_root.join(
        manifest
            .get("lib")
            .and_then(|lib| lib.get("path"))
            .and_then(Item::as_str)
            .unwrap_or("src/lib.rs"),
    );

    let mut edits = Vec::new();
    let mut done = Vec::new();

    let registry_path = crate_root.join(crate::REGISTRY_PATH);
    let registry_shown = crate::display_path(&registry_path);
    if registry_path.symlink_metadata().is_ok() {
        done.push(format!("{registry_shown}: there already"));
    } else {
        edits.push(Edit {
            after: empty_registry(package_name.as_deref(), today, &registry_shown)?,
            path: registry_path,
            before: None,
        });
    }

    match read(&build_path)? {
        Some(text) if BUILD_STEPS.iter().any(|step| text.contains(step)) => {
            done.push(format!(
                "{}: runs the registry's build step",
                crate::display_path(&build_path)
            ));
        }
        Some(_) => {
            return Err(format!(
                "{} exists and does not run the registry's build step; `init` does not replace it\n  = help: add `workerflow_registry::codegen::build_script(\"connector-registry/services.json\");` to its `fn main`, then run `workerflow-registry init` again",
                crate::display_path(&build_path)
            ));
        }
        None => edits.push(Edit {
            path: build_path,
            before: None,
            after: BUILD_RS.to_owned(),
        }),
    }

    match read(&lib_path)? {
        Some(text) if text.contains(INCLUDE) => done.push(format!(
            "{}: includes the registry module",
            crate::display_path(&lib_path)
        )),
        Some(text) => edits.push(Edit {
            after: with_include(&text),
            path: lib_path,
            before: Some(text),
        }),
        None => edits.push(Edit {
            path: lib_path,
            before: None,
            after: format!(
                "//! The connectors of `{crate_name}`, bound to the routes of connector-registry/services.json.\n\n{INCLUDE}\n"
            ),
        }),
    }

    // serde_json: the scaffolded connector and test use it; `preserve_order` keeps JSON output
    // in the order handlers build it, as the toolkit's crates do.
    let mut serde_json = InlineTable::new();
    serde_json.insert("version", "1".into());
    serde_json.insert("features", Value::from_iter(["preserve_order"]));
    let mut registry = source.dependency("registry-compiler");
    // No clap and no CLI in build.rs.
    registry.insert("default-features", false.into());
    // `testing` for the tests only: `tests/examples.rs` (which `new` writes) runs the contract
    // examples with `workerflow_runtime::testing`.
    let mut testing = source.dependency("runtime");
    testing.insert("features", Value::from_iter(["testing"]));
    let wanted = [
        (
            "dependencies",
            "workerflow-runtime",
            source.dependency("runtime"),
        ),
        ("dependencies", "serde_json", serde_json),
        ("dev-dependencies", "workerflow-runtime", testing),
        ("build-dependencies", "workerflow-registry", registry),
    ];
    let server_dependency = server.then(|| {
        (
            "dependencies",
            "workerflow-server",
            source.dependency("server"),
        )
    });
    let mut added = false;
    for (section, name, dependency) in wanted.into_iter().chain(server_dependency) {
        if add_dependency(&mut manifest, section, name, dependency, &shown)? {
            added = true;
        } else {
            done.push(format!("{shown}: has {name} in [{section}]"));
        }
    }
    if server {
        let lib_name = manifest
            .get("lib")
            .and_then(|lib| lib.get("name"))
            .and_then(Item::as_str)
            .map(str::to_owned)
            .or_else(|| package_name.as_deref().map(|name| name.replace('-', "_")))
            .ok_or_else(|| {
                format!("{shown} names no crate (`[package] name`), so the server cannot name its routes")
            })?;
        let server_path = crate_root.join(SERVER_RS);
        match read(&server_path)? {
            Some(text) if text.contains(SERVER_MAIN) => done.push(format!(
                "{}: runs the crate's server",
                crate::display_path(&server_path)
            )),
            Some(_) => {
                return Err(format!(
                    "{} exists and does not run `{SERVER_MAIN}`; `init` does not replace it\n  = help: call `{SERVER_MAIN}({lib_name}::registry::linked, {lib_name}::registry::OPENAPI_JSON)` from its `fn main`, or run `init` without --server",
                    crate::display_path(&server_path)
                ));
            }
            None => edits.push(Edit {
                path: server_path,
                before: None,
                after: format!(
                    "//! The HTTP server for this crate's routes: `cargo run --bin server -- serve` (see `--help`).\n\nfn main() -> std::process::ExitCode {{\n    {SERVER_MAIN}({lib_name}::registry::linked, {lib_name}::registry::OPENAPI_JSON)\n}}\n"
                ),
            }),
        }
    }
    if added {
        edits.push(Edit {
            path: manifest_path,
            before: Some(manifest_text),
            after: manifest.to_string(),
        });
    }
    Ok(Plan { edits, done })
}

/// A registry with no services, named after the crate (its pages and OpenAPI document show the
/// name), in canonical form and valid (checked, so `check` and `fmt --check` pass on it). No
/// `$schema` and no copy of the schema: `check` and `build` use the schema of the toolkit they
/// are, which a copy would shadow once the toolkit moves on.
fn empty_registry(package_name: Option<&str>, today: &str, shown: &str) -> Result<String, String> {
    let crate_name = package_name.unwrap_or("this crate");
    let mut value = json!({
        "version": 1,
        "updatedAt": today,
        "notes": format!("The services `{crate_name}` connects to. `workerflow-registry new` adds services and routes."),
        "services": [],
    });
    // Without a usable package name the pages fall back to the default name.
    if let Some(name) = package_name.filter(|n| n.chars().count() <= MAX_NAME_CHARS) {
        value["name"] = json!(name);
    }
    let text = canonical::to_text(&canonical::canonical_value(value));
    let schema = crate::Schema::bundled().map_err(|e| format!("internal error: {e}"))?;
    canonical::validate_canonical(text, &schema, shown)
        .map_err(|_| "internal error: the empty registry is not valid".to_owned())
}

/// `include_registry!()` after the library root's leading inner doc comments and attributes,
/// so it comes before any test module (clippy's `items_after_test_module`).
fn with_include(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let header = lines
        .iter()
        .take_while(|l| {
            let l = l.trim_start();
            l.starts_with("//!") || l.starts_with("#![") || l.is_empty()
        })
        .count();
    // Keep the blank lines that end the header after the new line instead.
    let header = lines[..header]
        .iter()
        .rposition(|l| !l.trim().is_empty())
        .map_or(0, |last| last + 1);
    let mut out: Vec<&str> = lines[..header].to_vec();
    if header > 0 {
        out.push("");
    }
    out.push(INCLUDE);
    let rest: Vec<&str> = lines[header..]
        .iter()
        .copied()
        .skip_while(|l| l.trim().is_empty())
        .collect();
    if !rest.is_empty() {
        out.push("");
        out.extend(rest);
    }
    let mut text = out.join("\n");
    text.push('\n');
    text
}

/// Adds `name` to `[section]` unless the crate depends on it already (by key, or renamed with
/// `package = "name"`). Returns whether it was added.
fn add_dependency(
    manifest: &mut DocumentMut,
    section: &str,
    name: &str,
    dependency: InlineTable,
    shown: &str,
) -> Result<bool, String> {
    let table = manifest
        .entry(section)
        .or_insert_with(toml_edit::table)
        .as_table_like_mut()
        .ok_or_else(|| format!("{shown}: [{section}] is not a table"))?;
    let present = table
        .iter()
        .any(|(key, item)| key == name || item.get("package").and_then(Item::as_str) == Some(name));
    if present {
        return Ok(false);
    }
    table.insert(name, Item::Value(Value::InlineTable(dependency)));
    Ok(true)
}

/// A file's text, or `None` when nothing is there.
fn read(path: &Path) -> Result<Option<String>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", crate::display_path(path))),
    }
}

/// Today's date in UTC, for the new registry's `updatedAt`.
pub(crate) fn today() -> String {
    chrono::Utc::now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_include_goes_after_the_header_and_before_the_code() {
        assert_eq!(
            with_include("pub fn add() {}\n\n#[cfg(test)]\nmod tests {}\n"),
            format!("{INCLUDE}\n\npub fn add() {{}}\n\n#[cfg(test)]\nmod tests {{}}\n")
        );
        assert_eq!(
            with_include("//! Docs.\n#![forbid(unsafe_code)]\n\nmod a;\n"),
            format!("//! Docs.\n#![forbid(unsafe_code)]\n\n{INCLUDE}\n\nmod a;\n")
        );
        assert_eq!(with_include(""), format!("{INCLUDE}\n"));
        assert_eq!(
            with_include("//! Docs.\n"),
            format!("//! Docs.\n\n{INCLUDE}\n")
        );
    }

    #[test]
    fn dependencies_keep_comments_and_are_added_once() {
        let text = "[package]\nname = \"x\" # the name\n\n[dependencies]\n# serde for the model\nserde = \"1\"\njson = { package = \"serde_json\", version = \"1\" }\n";
        let mut manifest: DocumentMut = text.parse().expect("toml");
        let source = Source::Git {
            url: "https://example.com/wf".into(),
            rev: "abc".into(),
        };
        let add = |m: &mut DocumentMut, section, name, dir| {
            add_dependency(m, section, name, source.dependency(dir), "Cargo.toml").expect("added")
        };
        assert!(add(
            &mut manifest,
            "dependencies",
            "workerflow-runtime",
            "runtime"
        ));
        assert!(!add(&mut manifest, "dependencies", "serde_json", "runtime"));
        assert!(add(
            &mut manifest,
            "build-dependencies",
            "workerflow-registry",
            "x"
        ));
        assert!(!add(
            &mut manifest,
            "dependencies",
            "workerflow-runtime",
            "runtime"
        ));
        assert_eq!(
            manifest.to_string(),
            "[package]\nname = \"x\" # the name\n\n[dependencies]\n# serde for the model\nserde = \"1\"\njson = { package = \"serde_json\", version = \"1\" }\nworkerflow-runtime = { git = \"https://example.com/wf\", rev = \"abc\" }\n\n[build-dependencies]\nworkerflow-registry = { git = \"https://example.com/wf\", rev = \"abc\" }\n"
        );
    }
}
