//! The generated registry module: deterministic, valid Rust, and stable.

use std::path::{Path, PathBuf};

use workerflow_registry::Registry;
use workerflow_registry::internals::generate;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn load(path: &Path) -> Registry {
    match Registry::load(path) {
        Ok(registry) => registry,
        Err(error) => panic!("{}: {error}", path.display()),
    }
}

/// The module parses as a Rust file (prettyplease printed it; this catches a token mistake).
fn assert_parses(source: &str) {
    if let Err(error) = syn::parse_file(source) {
        panic!("the generated module does not parse: {error}");
    }
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
    // Every route with a contract has its typed input and output, named as `get_route` says.
    for (_, route) in registry.routes() {
        let items = workerflow_registry::scaffold::handler_items(route).expect("nameable");
        assert_eq!(
            items.input.as_deref(),
            route
                .input
                .as_ref()
                .map(|_| format!("registry::routes::{}::Input", route.id))
                .as_deref()
        );
        assert!(
            items
                .signature
                .contains(&format!("input: registry::routes::{}::Input", route.id))
        );
    }
    let with_input = registry.routes().filter(|(_, r)| r.input.is_some()).count();
    assert_eq!(
        module.matches("        pub struct Input {").count(),
        with_input
    );
    assert_parses(&module);
}

/// `runtime/tests/support/registry.rs` is the module `build.rs` would generate from
/// `runtime/tests/fixtures/services.json`, and `workerflow_openapi.json` beside it the OpenAPI
/// document it includes; the runtime's dispatch and UI tests include the module (the runtime
/// does not depend on this crate). Locally a stale file is rewritten and the test fails once, so
/// the diff can be reviewed; under `CI` it only fails.
#[test]
fn the_runtime_test_registry_is_fresh() {
    let dir = root().join("runtime/tests");
    let registry = load(&dir.join("fixtures/services.json"));
    let mut stale = Vec::new();
    for (name, expected) in [
        ("registry.rs", generate(&registry)),
        (
            workerflow_registry::internals::OPENAPI_FILE_NAME,
            workerflow_registry::internals::render_openapi(&registry),
        ),
    ] {
        let path = dir.join("support").join(name);
        if std::fs::read_to_string(&path).unwrap_or_default() != expected {
            if !workerflow_registry::build_script::on_ci() {
                std::fs::write(&path, &expected).expect("rewrite the runtime's test registry");
            }
            stale.push(format!("runtime/tests/support/{name}"));
        }
    }
    assert!(
        stale.is_empty(),
        "{stale:?} stale; regenerated unless CI is set"
    );
}

#[test]
fn edge_cases_are_escaped() {
    let registry = load(&root().join("registry-compiler/tests/fixtures/codegen/edge-cases.json"));
    let module = generate(&registry);
    assert_parses(&module);
    insta::assert_snapshot!(module);
}
