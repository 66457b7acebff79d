//! The `workerflow` binary a deployment runs for `serve` (`--no-default-features`) links the 12
//! connectors, the runtime and the server, and none of the developer tools: no registry
//! compiler, no MCP SDK, no link checker. The default build (a developer's machine) has them.

use std::path::Path;

use workerflow_test_support::cargo_tree::linked_crates;

/// The crates the root package links with `args` (normal dependencies, not build.rs's).
fn linked(args: &[&str]) -> Vec<String> {
    linked_crates(Path::new(env!("CARGO_MANIFEST_DIR")), "workerflow", args).0
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
