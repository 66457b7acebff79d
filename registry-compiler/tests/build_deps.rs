//! `build.rs` runs the registry compiler on every `cargo build`, and the registry CLI is the
//! newcomer's first command and what the pre-commit hooks install: what they compile is paid by
//! every clean build. Neither may pull an HTTP, TLS or async stack (those belong to the runtime
//! and to `workerflow check-urls`).

use std::path::Path;

use workerflow_test_support::cargo_tree::linked_crates;

/// Crates that mean a network or TLS stack.
const FORBIDDEN: &[&str] = &[
    "reqwest",
    "hyper",
    "h2",
    "http",
    "rustls",
    "ring",
    "aws-lc-rs",
    "openssl",
    "native-tls",
    "tokio",
    "mio",
    "futures-util",
    "async-trait",
];

/// The crates `workerflow-registry` compiles with `features` (normal dependencies).
fn dependency_tree(features: &[&str]) -> (Vec<String>, String) {
    linked_crates(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        "workerflow-registry",
        features,
    )
}

fn assert_no_network_stack(features: &[&str], who: &str, expected: &str) {
    let (crates, tree) = dependency_tree(features);
    assert!(
        crates.iter().any(|c| c == expected),
        "unexpected tree:\n{tree}"
    );
    let found: Vec<&&str> = FORBIDDEN
        .iter()
        .filter(|name| crates.iter().any(|c| c == *name))
        .collect();
    assert!(
        found.is_empty(),
        "{who} would compile {found:?}; network code belongs to the runtime and `workerflow check-urls`:\n{tree}"
    );
}

#[test]
fn the_build_script_dependency_tree_has_no_network_stack() {
    assert_no_network_stack(&["--no-default-features"], "build.rs", "jsonschema");
}

#[test]
fn the_registry_cli_dependency_tree_has_no_network_or_async_stack() {
    assert_no_network_stack(&[], "the registry CLI (and the pre-commit hooks)", "clap");
}
