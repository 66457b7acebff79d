//! `tests/support/registry.rs` is the module `build.rs` would generate from
//! `tests/fixtures/services.json`; the UI tests and dispatch tests include it. This test keeps it
//! fresh: locally it rewrites a stale file and fails once (review the diff); under `CI` it only
//! fails.

use std::path::Path;

#[test]
fn the_generated_test_registry_is_fresh() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let registry = match workerflow_registry::Registry::load(dir.join("fixtures/services.json")) {
        Ok(registry) => registry,
        Err(error) => panic!("tests/fixtures/services.json: {error}"),
    };
    let expected = workerflow_registry::codegen::generate(&registry);
    let path = dir.join("support/registry.rs");
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    if actual != expected {
        if std::env::var_os("CI").is_none() {
            std::fs::write(&path, &expected).expect("rewrite tests/support/registry.rs");
        }
        panic!("tests/support/registry.rs was stale; it has been regenerated (unless CI is set)");
    }
}
