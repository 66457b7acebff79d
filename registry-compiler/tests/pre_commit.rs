//! The pre-commit hooks with the real `pre-commit` tool: the repository's
//! `.pre-commit-hooks.yaml` is a valid manifest, and in a temporary git repository a `repo:
//! local` configuration with the same hooks (running this test's already built binary, so
//! nothing is rebuilt) refuses a commit of a bad registry, showing the diagnostics, and lets a
//! good one through; the diff hook refuses an unacknowledged breaking change and accepts it once
//! the registry acknowledges it.
//!
//! Needs `pre-commit` (`pip install pre-commit`) and git. When they are missing the test is
//! skipped with a message, except on CI (`CI` set), where it fails: `.ci/run` installs them.

use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::workspace_root;

use workerflow_registry::build_script::on_ci;

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

/// The hooks of the manifest, each as its `key: value` lines in order (the manifest is a flat
/// YAML list of maps, so no YAML parser is needed).
fn manifest_hooks() -> Vec<Vec<(String, String)>> {
    let manifest =
        std::fs::read_to_string(workspace_root().join(".pre-commit-hooks.yaml")).expect("read");
    let mut hooks: Vec<Vec<(String, String)>> = Vec::new();
    for line in manifest.lines() {
        let entry = if let Some(first) = line.strip_prefix("- ") {
            hooks.push(Vec::new());
            first
        } else if let Some(more) = line.strip_prefix("  ") {
            more
        } else {
            continue;
        };
        let (key, value) = entry.split_once(": ").expect("key: value");
        hooks
            .last_mut()
            .expect("a hook")
            .push((key.to_owned(), value.to_owned()));
    }
    hooks
}

fn field<'a>(hook: &'a [(String, String)], key: &str) -> &'a str {
    hook.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("hook without {key}: {hook:?}"))
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
    let hooks = manifest_hooks();
    let ids: Vec<&str> = hooks.iter().map(|hook| field(hook, "id")).collect();
    assert_eq!(
        ids,
        [
            "workerflow-registry-check",
            "workerflow-registry-fmt",
            "workerflow-registry-docs",
            "workerflow-registry-diff"
        ]
    );
    // Every hook runs the lean CLI through the script, which `cargo install`s the registry
    // crate alone (the root package would compile the server and the connectors too).
    for hook in &hooks {
        assert_eq!(field(hook, "language"), "script", "{hook:?}");
        assert!(
            field(hook, "entry").starts_with("hooks/workerflow-registry "),
            "{hook:?}"
        );
    }
    let script =
        std::fs::read_to_string(workspace_root().join("hooks/workerflow-registry")).expect("read");
    assert!(
        script.contains("--path \"$here/registry-compiler\""),
        "the hook script must install the registry crate: {script}"
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

    // The manifest's hooks as they are, run as local hooks: their script comes along, with this
    // test's binary where the script installs the CLI on first use (installing it is measured
    // in bench/first_run.sh, not here).
    let binary = env!("CARGO_BIN_EXE_workerflow-registry");
    std::fs::create_dir_all(dir.join("hooks")).expect("mkdir");
    std::fs::copy(
        workspace_root().join("hooks/workerflow-registry"),
        dir.join("hooks/workerflow-registry"),
    )
    .expect("copy the hook script");
    std::fs::create_dir_all(dir.join("target/pre-commit/bin")).expect("mkdir");
    std::fs::copy(
        binary,
        dir.join("target/pre-commit/bin/workerflow-registry"),
    )
    .expect("copy");
    std::fs::write(dir.join(".gitignore"), "/target/\n/hooks/\n").expect("gitignore");
    let mut config = String::from("repos:\n  - repo: local\n    hooks:\n");
    for hook in manifest_hooks() {
        let mut key_prefix = "      - ";
        for (key, value) in hook {
            config.push_str(&format!("{key_prefix}{key}: {value}\n"));
            key_prefix = "        ";
        }
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
    for hook in manifest_hooks() {
        let name = field(&hook, "name");
        let line = good_text
            .lines()
            .find(|l| l.starts_with(&format!("{name}...")))
            .unwrap_or_else(|| panic!("hook {name} ran: {good_text}"));
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
            .any(|l| l.starts_with("workerflow-registry check...") && l.ends_with("Failed")),
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

    // A breaking change (a service removed), canonical and with fresh docs: the diff hook
    // refuses it until the registry acknowledges it, then the commit goes through.
    let mut registry_json: serde_json::Value = serde_json::from_str(&valid).expect("json");
    let services = registry_json["services"].as_array_mut().expect("services");
    let before = services.len();
    services.retain(|service| service["id"] != "beta");
    assert_eq!(
        services.len(),
        before - 1,
        "the fixture has a service `beta`"
    );
    let commit_edited = |registry_json: &serde_json::Value, message: &str| {
        std::fs::write(
            &registry,
            serde_json::to_string(registry_json).expect("text"),
        )
        .expect("write");
        for command in [&["fmt"][..], &["build"][..]] {
            let done = run(&dir, binary, command);
            assert!(done.status.success(), "{}", text(&done));
        }
        assert!(git(&dir, &["add", "-A"]).status.success());
        let commit = git(&dir, &["commit", "-q", "-m", message]);
        (commit.status.success(), text(&commit))
    };
    let (committed, removed_text) = commit_edited(&registry_json, "remove beta");
    assert!(
        !committed,
        "an unacknowledged breaking change went through: {removed_text}"
    );
    assert!(removed_text.contains("WF410"), "{removed_text}");
    assert!(
        removed_text
            .lines()
            .any(|l| l.starts_with("workerflow-registry diff...") && l.ends_with("Failed")),
        "{removed_text}"
    );
    registry_json["changes"] = serde_json::json!([{
        "code": "WF410",
        "subject": "beta",
        "reason": "Beta shut its API down.",
        "migration": "Move the Beta routes to Alpha."
    }]);
    let (committed, acknowledged_text) = commit_edited(&registry_json, "remove beta, acknowledged");
    assert!(committed, "{acknowledged_text}");
    let log = git(&dir, &["log", "--format=%s"]);
    assert_eq!(
        String::from_utf8_lossy(&log.stdout),
        "remove beta, acknowledged\ngood registry\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
