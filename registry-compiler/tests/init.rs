//! `workerflow-registry init` in a crate made by `cargo new --lib`: the dry run writes nothing,
//! a second run changes nothing, the manifest's comments stay, a different `build.rs` is refused,
//! and `new` then gives a crate whose scaffold test passes (`cargo test` there, sharing this
//! workspace's target directory).

use std::path::{Path, PathBuf};

mod common;
use common::{in_scratch_crate, run_in, text, workspace_root};

fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// A new library crate, as `cargo new --lib` makes it, with comments in its manifest.
fn new_crate(name: &str) -> PathBuf {
    let parent = std::env::temp_dir().join(format!("wf-init-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&parent);
    std::fs::create_dir_all(&parent).expect("mkdir");
    let made = in_scratch_crate(cargo(), &parent)
        .args([
            "new",
            "--lib",
            "--vcs",
            "none",
            "--quiet",
            "acme-connectors",
        ])
        .output()
        .expect("cargo runs");
    assert!(made.status.success(), "{}", text(&made.stderr));
    let dir = parent.join("acme-connectors");
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    let text = text.replace(
        "[dependencies]",
        "# What the connectors need.\n[dependencies] # kept by init",
    );
    std::fs::write(&manifest, format!("# Acme's connectors.\n{text}")).expect("write");
    dir
}

/// Every file under `dir` with its bytes, sorted.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).expect("read dir") {
                stack.push(entry.expect("entry").path());
            }
        } else {
            out.push((path.clone(), std::fs::read(&path).expect("read")));
        }
    }
    out.sort();
    out
}

/// Output with this machine's paths and today's date made stable.
fn stable(output: &[u8]) -> String {
    let root = workspace_root().display().to_string();
    let text = text(output).replace(&root, "@WORKSPACE@");
    let mut lines: Vec<String> = Vec::new();
    for line in text.lines() {
        lines.push(match line.find("\"updatedAt\": \"") {
            Some(at) => format!("{}\"updatedAt\": \"@TODAY@\",", &line[..at]),
            None => line.to_owned(),
        });
    }
    lines.join("\n") + "\n"
}

#[test]
fn init_makes_a_new_crate_a_connector_crate_that_new_builds_on() {
    let dir = new_crate("flow");
    let root = workspace_root().display().to_string();
    let before = tree(&dir);
    let dry = run_in(&dir, &["init", "--path", &root, "--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry.stderr));
    assert_eq!(tree(&dir), before, "the dry run wrote something");
    insta::assert_snapshot!("init__dry_run", stable(&dry.stdout));

    let applied = run_in(&dir, &["init", "--path", &root]);
    assert_eq!(applied.status.code(), Some(0), "{}", text(&applied.stderr));
    insta::assert_snapshot!("init__output", stable(&applied.stdout));
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).expect("manifest");
    assert!(manifest.starts_with("# Acme's connectors.\n"), "{manifest}");
    assert!(
        manifest.contains("# What the connectors need.\n[dependencies] # kept by init\n"),
        "{manifest}"
    );
    insta::assert_snapshot!("init__manifest", stable(manifest.as_bytes()));
    for args in [&["check"][..], &["fmt", "--check"]] {
        let ran = run_in(&dir, args);
        assert_eq!(
            ran.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&ran.stderr)
        );
    }

    // A second run: every step is done, nothing changes.
    let done = tree(&dir);
    let again = run_in(&dir, &["init", "--path", &root]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert_eq!(tree(&dir), done, "the second init changed a file");
    assert!(
        text(&again.stdout).ends_with("\nNothing to do: this is a connector crate already.\n"),
        "{}",
        text(&again.stdout)
    );

    // `new` in the crate, then its scaffold test, as `new` prints it.
    std::fs::copy(workspace_root().join("Cargo.lock"), dir.join("Cargo.lock")).expect("lock");
    let new = run_in(&dir, &["new", "--service", "Acme", "--route", "acme_ping"]);
    assert_eq!(new.status.code(), Some(0), "{}", text(&new.stderr));
    assert!(
        text(&new.stdout).contains("  1. cargo test --test connector_acme    #"),
        "{}",
        text(&new.stdout)
    );
    let tested = in_scratch_crate(cargo(), &dir)
        .args([
            "test",
            "--quiet",
            "--test",
            "connector_acme",
            "--test",
            "examples",
        ])
        .output()
        .expect("cargo runs");
    assert!(
        tested.status.success(),
        "cargo test in the crate failed:\n{}\n{}",
        text(&tested.stdout),
        text(&tested.stderr)
    );
    // The connector's test and the examples test (`init` gave the runtime feature `testing`).
    assert_eq!(
        text(&tested.stdout)
            .matches("test result: ok. 1 passed")
            .count(),
        2,
        "{}",
        text(&tested.stdout)
    );
    let _ = std::fs::remove_dir_all(dir.parent().expect("parent"));
}

#[test]
fn a_build_script_of_its_own_is_refused_and_nothing_is_written() {
    let dir = new_crate("build-rs");
    std::fs::write(dir.join("build.rs"), "fn main() {}\n").expect("write");
    let before = tree(&dir);
    let root = workspace_root().display().to_string();
    let refused = run_in(&dir, &["init", "--path", &root]);
    assert_eq!(refused.status.code(), Some(2));
    assert_eq!(
        text(&refused.stderr),
        "error: build.rs exists and does not run the registry's build step; `init` does not replace it\n  = help: add `workerflow_registry::codegen::build_script(\"connector-registry/services.json\");` to its `fn main`, then run `workerflow-registry init` again\n"
    );
    assert_eq!(tree(&dir), before);

    let not_a_toolkit = run_in(&dir, &["init", "--path", "/nonexistent"]);
    assert_eq!(not_a_toolkit.status.code(), Some(2));
    assert!(
        text(&not_a_toolkit.stderr)
            .starts_with("error: /nonexistent is not a WorkerFlow toolkit checkout"),
        "{}",
        text(&not_a_toolkit.stderr)
    );
    let _ = std::fs::remove_dir_all(dir.parent().expect("parent"));
}
