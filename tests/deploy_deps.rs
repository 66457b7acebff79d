//! The `workerflow` binary a deployment runs for `serve` (`--no-default-features`) links the 12
//! connectors, the runtime and the server, and none of the developer tools: no registry
//! compiler, no MCP SDK, no link checker. The default build (a developer's machine) has them.

use std::process::Command;

/// The crates the root package links with `args` (normal dependencies, not build.rs's).
fn linked(args: &[&str]) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["tree", "--locked", "-p", "workerflow", "-e", "normal"])
        .args(["--prefix", "none", "--format", "{p}"])
        .args(args)
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("UTF-8")
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// Crates only the developer tools need.
const DEV_TOOLS: &[&str] = &["workerflow-registry", "workerflow-mcp", "rmcp"];

#[test]
fn the_deployed_binary_links_no_developer_tools() {
    let deployed = linked(&["--no-default-features"]);
    for needed in [
        "workerflow-server",
        "workerflow-runtime",
        "rusqlite",
        "tokio-postgres",
    ] {
        assert!(
            deployed.iter().any(|c| c == needed),
            "{needed} missing: {deployed:?}"
        );
    }
    for tool in DEV_TOOLS {
        assert!(
            !deployed.iter().any(|c| c == tool),
            "{tool} is linked into the deployed binary"
        );
    }
    let developer = linked(&[]);
    for tool in DEV_TOOLS {
        assert!(
            developer.iter().any(|c| c == tool),
            "{tool} missing by default"
        );
    }
}
