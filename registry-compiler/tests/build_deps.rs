//! `build.rs` runs the registry compiler on every `cargo build`, so what it compiles is paid by
//! every user's clean build. It must never pull an HTTP or TLS stack (those belong to the `cli`
//! feature's `check-urls` and to the runtime).

use std::process::Command;

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
];

#[test]
fn the_build_script_dependency_tree_has_no_network_stack() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "tree",
            "--locked",
            "-p",
            "workerflow-registry",
            "--no-default-features",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tree = String::from_utf8(output.stdout).expect("UTF-8");
    let crates: Vec<&str> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert!(crates.contains(&"jsonschema"), "unexpected tree:\n{tree}");
    let found: Vec<&&str> = FORBIDDEN
        .iter()
        .filter(|name| crates.contains(name))
        .collect();
    assert!(
        found.is_empty(),
        "build.rs would compile {found:?}; keep them behind the `cli` feature:\n{tree}"
    );
}
