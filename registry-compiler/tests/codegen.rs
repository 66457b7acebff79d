//! The generated registry module: deterministic, formatted as rustfmt would, and stable.

use std::path::{Path, PathBuf};
use std::process::Command;

use workerflow_registry::Registry;
use workerflow_registry::codegen::generate;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn load(path: &Path) -> Registry {
    match Registry::load(path) {
        Ok(registry) => registry,
        Err(error) => panic!("{}: {error}", path.display()),
    }
}

/// `rustfmt`'s output for `source`, or `None` when rustfmt is not installed.
fn rustfmt(name: &str, source: &str) -> Option<String> {
    let dir = std::env::temp_dir().join(format!("workerflow-codegen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let file = dir.join(format!("{name}.rs"));
    std::fs::write(&file, source).ok()?;
    let status = Command::new("rustfmt")
        .args(["--edition", "2024"])
        .arg(&file)
        .status()
        .ok()?;
    assert!(status.success(), "rustfmt failed on the generated module");
    let formatted = std::fs::read_to_string(&file).ok();
    let _ = std::fs::remove_file(&file);
    formatted
}

#[test]
fn the_bundled_registry_generates_one_item_per_route() {
    let registry = load(&root().join("connector-registry/services.json"));
    let module = generate(&registry);
    assert_eq!(module, generate(&registry), "output must be deterministic");
    for (_, route) in registry.routes() {
        assert!(
            module.contains(&format!("    routes::{}.spec(),\n", route.id)),
            "{} missing from ALL",
            route.id
        );
        assert!(module.contains(&format!("pub mod {} {{", route.id)));
    }
    assert!(module.contains("pub struct CHAT_WEBHOOK_URL;"));
    if let Some(formatted) = rustfmt("bundled", &module) {
        assert_eq!(
            module, formatted,
            "the generated module is not rustfmt-clean"
        );
    }
}

/// `runtime/tests/support/registry.rs` is the module `build.rs` would generate from
/// `runtime/tests/fixtures/services.json`; the runtime's dispatch and UI tests include it (the
/// runtime does not depend on this crate). Locally a stale file is rewritten and the test fails
/// once, so the diff can be reviewed; under `CI` it only fails.
#[test]
fn the_runtime_test_registry_is_fresh() {
    let dir = root().join("runtime/tests");
    let expected = generate(&load(&dir.join("fixtures/services.json")));
    let path = dir.join("support/registry.rs");
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    if actual != expected {
        if !workerflow_registry::build_script::on_ci() {
            std::fs::write(&path, &expected).expect("rewrite runtime/tests/support/registry.rs");
        }
        panic!("runtime/tests/support/registry.rs was stale; regenerated unless CI is set");
    }
}

#[test]
fn edge_cases_are_escaped_and_formatted() {
    let registry = load(&root().join("registry-compiler/tests/fixtures/codegen/edge-cases.json"));
    let module = generate(&registry);
    if let Some(formatted) = rustfmt("edge_cases", &module) {
        assert_eq!(
            module, formatted,
            "the generated module is not rustfmt-clean"
        );
    }
    insta::assert_snapshot!(module);
}
