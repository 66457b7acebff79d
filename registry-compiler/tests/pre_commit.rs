//! The pre-commit hooks with the real `pre-commit` tool: the repository's
//! `.pre-commit-hooks.yaml` is a valid manifest, and in a temporary git repository a `repo:
//! local` configuration with the same hooks (running this test's already built binary, so
//! nothing is rebuilt) refuses a commit of a bad registry, showing the diagnostics, and lets a
//! good one through; the diff hook refuses an unacknowledged breaking change and accepts it once
//! the registry acknowledges it.
//!
//! Needs `pre-commit` (`pip install pre-commit`) and git. When they are missing the test is
//! skipped with a message, except on CI (`CI` set), where it fails: `.ci/run` installs them.
//!
//! The hook script's first-use build runs here with a stand-in `cargo` (the real one is measured
//! in bench/first_run.sh): hooks started at once build once, and the temporary target directory
//! is gone afterwards, after a failed or interrupted build too, so the hook checkout (in
//! pre-commit's cache) keeps only the installed binary.

use std::fs::Permissions;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

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
    // With the profile made for it (compile time first), which the workspace must define.
    assert!(script.contains("--profile hook"), "{script}");
    let manifest = std::fs::read_to_string(workspace_root().join("Cargo.toml")).expect("read");
    assert!(
        manifest.contains("\n[profile.hook]\n"),
        "Cargo.toml has no [profile.hook]"
    );
}

/// A stand-in for `cargo install`: logs its arguments, writes a file into the target directory
/// it is given, waits `FAKE_CARGO_SLEEP` seconds, then fails if `FAKE_CARGO_FAIL` is set or
/// installs a stand-in binary (renamed into place, as cargo does) that prints its arguments.
const FAKE_CARGO: &str = r#"#!/bin/sh
echo "$*" >>"$FAKE_CARGO_LOG"
root=
target=
while [ $# -gt 0 ]; do
    case $1 in
    --root) root=$2; shift ;;
    --target-dir) target=$2; shift ;;
    esac
    shift
done
mkdir -p "$target/hook/deps"
echo object >"$target/hook/deps/libbig.rlib"
sleep "${FAKE_CARGO_SLEEP:-1}"
if [ -n "${FAKE_CARGO_FAIL:-}" ]; then exit 101; fi
mkdir -p "$root/bin"
printf '#!/bin/sh\necho "installed: $*"\n' >"$root/bin/.workerflow-registry.new"
chmod +x "$root/bin/.workerflow-registry.new"
mv "$root/bin/.workerflow-registry.new" "$root/bin/workerflow-registry"
"#;

/// A directory holding links to the tools the hook script and the stand-in cargo use, `flock`
/// not among them, for a `PATH` on which the script falls back to its lock directory.
fn path_without_flock(dir: &Path) -> PathBuf {
    let tools = dir.join("tools");
    std::fs::create_dir_all(&tools).expect("mkdir");
    for tool in [
        "dirname", "mkdir", "mktemp", "rm", "cat", "sleep", "chmod", "mv",
    ] {
        let found = ["/usr/bin", "/bin"]
            .iter()
            .map(|d| Path::new(d).join(tool))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("no {tool} in /usr/bin or /bin"));
        std::os::unix::fs::symlink(found, tools.join(tool)).expect("symlink");
    }
    tools
}

/// Files and directories under `dir`, relative to it, sorted.
fn tree(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).expect("read_dir") {
            let path = entry.expect("entry").path();
            found.push(
                path.strip_prefix(dir)
                    .expect("under dir")
                    .display()
                    .to_string(),
            );
            if path.is_dir() {
                pending.push(path);
            }
        }
    }
    found.sort();
    found
}

#[test]
fn the_hook_script_builds_once_in_a_temporary_target_directory() {
    let has_flock = Command::new("sh")
        .args(["-c", "command -v flock"])
        .output()
        .is_ok_and(|o| o.status.success());
    let mut lock_kinds = vec!["lock directory"];
    if has_flock {
        lock_kinds.push("flock");
    }
    for lock in lock_kinds {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "hook-script-{}-{}",
            lock.replace(' ', "-"),
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let checkout = dir.join("checkout");
        let tmp = dir.join("tmp");
        let fake = dir.join("fake");
        for d in [checkout.join("hooks"), tmp.clone(), fake.clone()] {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        let script = checkout.join("hooks/workerflow-registry");
        std::fs::copy(workspace_root().join("hooks/workerflow-registry"), &script)
            .expect("copy the hook script");
        std::fs::write(fake.join("cargo"), FAKE_CARGO).expect("write");
        std::fs::set_permissions(fake.join("cargo"), Permissions::from_mode(0o755)).expect("chmod");
        let rest = if lock == "flock" {
            std::env::var("PATH").expect("PATH")
        } else {
            path_without_flock(&dir).display().to_string()
        };
        let log = dir.join("cargo.log");
        let hook = |sleep: &str, fail: bool| {
            let mut command = Command::new(&script);
            command
                .args(["check", "--color", "never"])
                .env("PATH", format!("{}:{rest}", fake.display()))
                .env("TMPDIR", &tmp)
                .env("FAKE_CARGO_LOG", &log)
                .env("FAKE_CARGO_SLEEP", sleep)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            if fail {
                command.env("FAKE_CARGO_FAIL", "1");
            }
            command
        };
        let builds = || {
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .lines()
                .count()
        };
        let leftovers = |when: &str| {
            assert_eq!(
                tree(&tmp),
                Vec::<String>::new(),
                "{lock}, {when}: temporary files left"
            );
            assert!(
                !checkout.join("target/pre-commit/.build.lock.d").exists(),
                "{lock}, {when}: the lock directory is left"
            );
        };

        // A failed build: its exit status, nothing left, and the next hook builds again.
        let failed = hook("0", true).output().expect("run the hook script");
        assert_eq!(failed.status.code(), Some(101), "{lock}: {}", text(&failed));
        assert_eq!(builds(), 1);
        leftovers("after a failed build");

        // An interrupted build (Ctrl-C reaches the hook's process group): nothing left.
        let started = Instant::now();
        let mut interrupted = hook("30", false)
            .process_group(0)
            .spawn()
            .expect("run the hook script");
        while builds() < 2 {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{lock}: no build"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let group = -i32::try_from(interrupted.id()).expect("pid");
        // SAFETY: kill(2) with a process group this test created; no memory is involved.
        assert_eq!(unsafe { libc::kill(group, libc::SIGINT) }, 0);
        let status = interrupted.wait().expect("wait");
        assert!(!status.success(), "{lock}: {status}");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{lock}: the interrupt did not stop the build"
        );
        leftovers("after an interrupted build");

        // Three hooks at once: one build, each hook runs the installed binary.
        let hooks: Vec<_> = (0..3)
            .map(|_| hook("1", false).spawn().expect("run the hook script"))
            .collect();
        for running in hooks {
            let output = running.wait_with_output().expect("wait");
            assert!(output.status.success(), "{lock}: {}", text(&output));
            assert_eq!(
                String::from_utf8_lossy(&output.stdout),
                "installed: check --color never\n",
                "{lock}"
            );
        }
        assert_eq!(
            builds(),
            3,
            "{lock}: hooks started at once built more than once"
        );
        let install = std::fs::read_to_string(&log).expect("read");
        let install = install.lines().last().expect("a build");
        for expected in [
            "install ".to_owned(),
            "--profile hook".to_owned(),
            format!("--path {}/registry-compiler", checkout.display()),
            format!("--target-dir {}/workerflow-registry-hook.", tmp.display()),
        ] {
            assert!(install.contains(&expected), "{lock}: {install}");
        }
        leftovers("after the build");
        // The checkout keeps the installed binary and no build.
        let kept: Vec<String> = tree(&checkout.join("target"))
            .into_iter()
            .filter(|p| !p.starts_with("pre-commit/.build.lock"))
            .collect();
        assert_eq!(
            kept,
            [
                "pre-commit",
                "pre-commit/bin",
                "pre-commit/bin/workerflow-registry"
            ],
            "{lock}"
        );

        // Later hooks start the binary without building.
        let later = hook("0", false).output().expect("run the hook script");
        assert!(later.status.success(), "{lock}: {}", text(&later));
        assert_eq!(builds(), 3, "{lock}");
        let _ = std::fs::remove_dir_all(&dir);
    }
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
