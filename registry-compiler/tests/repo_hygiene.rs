//! What the repository itself must (not) contain, read from `git ls-files`.

use std::process::Command;

mod common;
use common::workspace_root;

fn tracked_files() -> Vec<String> {
    let output = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(workspace_root())
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git ls-files failed");
    String::from_utf8_lossy(&output.stdout)
        .split('\0')
        .filter(|path| !path.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Tool caches (pre-commit's environments and `db.db`) are machine state, never source.
#[test]
fn no_tool_cache_is_committed() {
    let cached: Vec<String> = tracked_files()
        .into_iter()
        .filter(|path| path.starts_with(".pre-commit-home/"))
        .collect();
    assert!(cached.is_empty(), "committed tool caches: {cached:?}");
    let ignore = std::fs::read_to_string(workspace_root().join(".gitignore")).expect("read");
    assert!(
        ignore.lines().any(|line| line.trim() == "/.pre-commit-home/"),
        ".gitignore must ignore /.pre-commit-home/"
    );
}
