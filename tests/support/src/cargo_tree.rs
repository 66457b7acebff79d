//! What a package links, from `cargo tree`: the tests that keep a build path's dependency
//! closure to what it runs (`build.rs`, the pre-commit hooks, the deployed server) ask here.

use std::path::Path;
use std::process::Command;

/// The crates `package` links (normal dependencies, not build scripts'), one per line of
/// `cargo tree` with `args` (features), and the tree's text for failure messages. `dir` is a
/// directory inside the workspace.
pub fn linked_crates(dir: &Path, package: &str, args: &[&str]) -> (Vec<String>, String) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(dir)
        .args(["tree", "--locked", "-p", package, "-e", "normal"])
        .args(["--prefix", "none", "--format", "{p}"])
        .args(args)
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tree = String::from_utf8(output.stdout).expect("UTF-8");
    let crates = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    (crates, tree)
}
