//! The pre-commit hooks with the real `pre-commit` tool: the repository's
//! `.pre-commit-hooks.yaml` is a valid manifest, and in a temporary git repository a `repo:
//! local` configuration with the same hooks (running this test's already built binary, so
//! nothing is rebuilt) refuses a commit of a bad registry, showing the diagnostics, and lets a
//! good one through.
//!
//! Needs `pre-commit` (`pip install pre-commit`) and git. When they are missing the test is
//! skipped with a message, except on CI (`CI` set), where it fails: `.ci/run` installs them.

use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::workspace_root;

fn on_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `pre-commit --version`, or why it cannot run.
fn pre_commit_available() -> Result<(), String> {
    for tool in [["pre-commit", "--version"], ["git", "--version"]] {
        match Command::new(tool[0]).arg(tool[1]).output() {
            Ok(output) if output.status.success() => {}
            _ => return Err(format!("`{}` is not installed", tool[0])),
        }
    }
    Ok(())
}

fn require_tools() -> bool {
    match pre_commit_available() {
        Ok(()) => true,
        Err(why) if on_ci() => {
            panic!("{why}, and CI is set: .ci/run must install it (pip install pre-commit)")
        }
        Err(why) => {
            eprintln!("skipped: {why} (pip install pre-commit; on CI this test fails instead)");
            false
        }
    }
}

/// The `files:` pattern of each hook in the manifest, in order: the local configuration below
/// must match exactly the files the published hooks match.
fn manifest_hooks() -> Vec<(String, String)> {
    let manifest =
        std::fs::read_to_string(workspace_root().join(".pre-commit-hooks.yaml")).expect("read");
    let mut hooks = Vec::new();
    let mut id = None;
    for line in manifest.lines() {
        if let Some(value) = line.strip_prefix("- id: ") {
            id = Some(value.trim().to_owned());
        } else if let Some(value) = line.trim().strip_prefix("files: ") {
            hooks.push((id.take().expect("an id before files"), value.to_owned()));
        }
    }
    hooks
}

fn run(dir: &Path, program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        // pre-commit's cache (environments, `db.db`) lives under the target directory, never in
        // the directory it runs in: `validate-manifest` runs in the repository itself.
        .env(
            "PRE_COMMIT_HOME",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("pre-commit-home"),
        )
        .env("NO_COLOR", "1")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .env_remove("GIT_DIR")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_WORK_TREE")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

fn git(dir: &Path, args: &[&str]) -> Output {
    run(dir, "git", args)
}

#[test]
fn the_manifest_is_valid() {
    if !require_tools() {
        return;
    }
    let output = run(
        &workspace_root(),
        "pre-commit",
        &["validate-manifest", ".pre-commit-hooks.yaml"],
    );
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        !workspace_root().join(".pre-commit-home").exists(),
        "pre-commit left its cache in the repository"
    );
    let ids: Vec<String> = manifest_hooks().into_iter().map(|(id, _)| id).collect();
    assert_eq!(
        ids,
        [
            "workerflow-registry-check",
            "workerflow-registry-fmt",
            "workerflow-registry-docs"
        ]
    );
}

#[test]
fn a_bad_registry_is_refused_and_a_good_one_committed() {
    if !require_tools() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("wf-pre-commit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("connector-registry")).expect("mkdir");
    assert!(git(&dir, &["init", "-q", "-b", "main"]).status.success());

    // The same hooks as the manifest, with the already built binary as the entry.
    let binary = env!("CARGO_BIN_EXE_workerflow-registry");
    let commands = ["check", "fmt --check", "build --check"];
    let mut config = String::from("repos:\n  - repo: local\n    hooks:\n");
    for ((id, files), command) in manifest_hooks().iter().zip(commands) {
        config.push_str(&format!(
            "      - id: {id}\n        name: {id}\n        entry: {binary} {command} --color never\n        language: system\n        files: {files}\n        pass_filenames: false\n"
        ));
    }
    std::fs::write(dir.join(".pre-commit-config.yaml"), config).expect("config");
    let installed = run(&dir, "pre-commit", &["install"]);
    assert!(installed.status.success(), "{}", text(&installed));

    // A good registry with its docs: the commit passes every hook.
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let registry = dir.join("connector-registry/services.json");
    std::fs::copy(fixtures.join("fmt/messy.json"), &registry).expect("copy");
    let formatted = run(&dir, binary, &["fmt"]);
    assert!(formatted.status.success(), "{}", text(&formatted));
    let built = run(&dir, binary, &["build"]);
    assert!(built.status.success(), "{}", text(&built));
    assert!(git(&dir, &["add", "-A"]).status.success());
    let good = git(&dir, &["commit", "-q", "-m", "good registry"]);
    let good_text = text(&good);
    assert!(good.status.success(), "{good_text}");
    for id in ["check", "fmt", "docs"] {
        let line = good_text
            .lines()
            .find(|l| l.starts_with(&format!("workerflow-registry-{id}")))
            .unwrap_or_else(|| panic!("hook {id} ran: {good_text}"));
        assert!(line.ends_with("Passed"), "{good_text}");
    }

    // A duplicate rank: refused with the rustc-style diagnostic, nothing committed.
    let valid = std::fs::read_to_string(&registry).expect("read");
    std::fs::write(&registry, valid.replace("\"rank\": 2,", "\"rank\": 1,")).expect("write");
    assert!(git(&dir, &["add", "-A"]).status.success());
    let bad = git(&dir, &["commit", "-q", "-m", "bad registry"]);
    let bad_text = text(&bad);
    assert!(!bad.status.success(), "the commit went through: {bad_text}");
    assert!(
        bad_text
            .contains("error[WF303]: services[1] (Beta): rank 1 is already taken by services[0]"),
        "{bad_text}"
    );
    assert!(
        bad_text.contains("--> connector-registry/services.json:"),
        "{bad_text}"
    );
    assert!(
        bad_text
            .lines()
            .any(|l| l.starts_with("workerflow-registry-check") && l.ends_with("Failed")),
        "{bad_text}"
    );
    let log = git(&dir, &["log", "--format=%s"]);
    assert_eq!(String::from_utf8_lossy(&log.stdout), "good registry\n");

    // Valid but not canonical: the fmt hook refuses it with a diff.
    std::fs::write(
        &registry,
        valid.replace("  \"version\": 1,", "\"version\": 1,"),
    )
    .expect("write");
    assert!(git(&dir, &["add", "-A"]).status.success());
    let messy = git(&dir, &["commit", "-q", "-m", "messy registry"]);
    let messy_text = text(&messy);
    assert!(!messy.status.success(), "{messy_text}");
    assert!(
        messy_text.contains("error: connector-registry/services.json is not in canonical form"),
        "{messy_text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
