//! Bad input through all three entry points users have: `workerflow-registry check`,
//! `workerflow-registry build` and the `build.rs` entry point (`build_script::run`, what the
//! root `build.rs` calls). Each must exit 1 (never 101) with a located diagnostic and leave
//! existing docs byte-identical; huge and deeply nested registries are refused without using
//! much memory; an unwritable docs directory is an error for the CLI and a warning for `build.rs`.
//!
//! The `build.rs` entry point is run the honest way: this test binary re-runs itself with
//! `WF_TEST_BUILD_SCRIPT_CHILD` set and only the test `build_script_child`, which calls
//! `build_script::run()` in the environment Cargo gives a build script (`CARGO_MANIFEST_DIR`,
//! `OUT_DIR`). Its exit status is the build script's: 1 for an invalid registry, 101 for a panic.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{run_in, text};

const SMALL: &str = include_str!("fixtures/render/small.json");
const CHILD: &str = "WF_TEST_BUILD_SCRIPT_CHILD";
const DOCS: [&str; 2] = ["SERVICE_API_INDEX.md", "SERVICE_API_INDEX.html"];
/// What the docs hold before each run; any change to them is a failure.
const OLD_DOCS: [&str; 2] = [
    "# previous index\n",
    "<!doctype html><p>previous index</p>\n",
];
const STOPS: &str = "error: the connector registry is invalid; the build stops here\n";

/// Runs the `build.rs` entry point when a test below asks for it; otherwise does nothing.
#[test]
fn build_script_child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    workerflow_registry::build_script::run();
    std::process::exit(0);
}

/// A crate directory: `connector-registry/services.json` and `docs/` with [`OLD_DOCS`].
fn crate_dir(name: &str, registry: &[u8]) -> PathBuf {
    let root = std::env::temp_dir().join(format!("wf-bad-input-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&root);
    fs::create_dir_all(root.join("connector-registry")).unwrap();
    fs::write(root.join("connector-registry/services.json"), registry).unwrap();
    fs::create_dir_all(root.join("docs")).unwrap();
    for (name, old) in DOCS.iter().zip(OLD_DOCS) {
        fs::write(root.join("docs").join(name), old).unwrap();
    }
    root
}

/// The `build.rs` entry point for the crate at `dir`, as Cargo runs a build script (outside CI,
/// docs enabled).
fn build_script(dir: &Path) -> Output {
    let out_dir = dir.join("out");
    fs::create_dir_all(&out_dir).unwrap();
    Command::new(std::env::current_exe().unwrap())
        .args([
            "build_script_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .current_dir(dir)
        .env(CHILD, "1")
        .env("CARGO_MANIFEST_DIR", dir)
        .env("OUT_DIR", &out_dir)
        .env_remove("CI")
        .env_remove("WORKERFLOW_NO_DOCS")
        .output()
        .expect("the test binary runs")
}

/// The `cargo::` lines a build script printed (libtest prints its own lines around them).
fn directives(output: &Output) -> Vec<String> {
    text(&output.stdout)
        .lines()
        .filter(|line| line.starts_with("cargo::warning="))
        .map(str::to_owned)
        .collect()
}

/// Whether `stderr` has a `--> connector-registry/services.json:<line>:<column>` location.
fn has_location(stderr: &str) -> bool {
    stderr.lines().any(|line| {
        line.trim_start()
            .strip_prefix("--> connector-registry/services.json:")
            .is_some_and(|rest| {
                let mut parts = rest.split(':');
                parts.next().is_some_and(|l| l.parse::<u32>().is_ok())
                    && parts.next().is_some_and(|c| c.parse::<u32>().is_ok())
            })
    })
}

fn assert_docs_untouched(root: &Path, context: &str) {
    let mut entries: Vec<String> = fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(
        entries,
        ["SERVICE_API_INDEX.html", "SERVICE_API_INDEX.md"],
        "{context}"
    );
    for (name, old) in DOCS.iter().zip(OLD_DOCS) {
        assert_eq!(
            fs::read(root.join("docs").join(name)).unwrap(),
            old.as_bytes(),
            "{context}: docs/{name} changed"
        );
    }
}

fn invalid_fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid");
    let mut fixtures: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, fs::read(&p).unwrap())
        })
        .collect();
    fixtures.sort();
    fixtures
}

/// `check` prints the report (its exact text is snapshotted in `cli.rs`); `build` prints the
/// same report, and the `build.rs` entry point the same report and one closing line. All three
/// exit 1, and none of them touches the docs.
#[test]
fn every_invalid_fixture_fails_all_three_entry_points_and_keeps_the_docs() {
    let fixtures = invalid_fixtures();
    assert!(fixtures.len() >= 70, "{} fixtures", fixtures.len());
    for (name, bytes) in fixtures {
        let root = crate_dir(&format!("fixture-{name}"), &bytes);

        let check = run_in(&root, &["check"]);
        let report = text(&check.stderr);
        assert_eq!(check.status.code(), Some(1), "{name}: check\n{report}");
        assert!(has_location(&report), "{name}: no location in\n{report}");
        assert_docs_untouched(&root, &format!("{name}: check"));

        let build = run_in(&root, &["build"]);
        assert_eq!(build.status.code(), Some(1), "{name}: build");
        assert_eq!(text(&build.stderr), report, "{name}: build");
        assert!(
            build.stdout.is_empty(),
            "{name}: build wrote {:?}",
            text(&build.stdout)
        );
        assert_docs_untouched(&root, &format!("{name}: build"));

        let script = build_script(&root);
        assert_eq!(
            script.status.code(),
            Some(1),
            "{name}: build.rs\n{}",
            text(&script.stderr)
        );
        assert_eq!(
            text(&script.stderr),
            format!("{report}{STOPS}"),
            "{name}: build.rs"
        );
        assert_docs_untouched(&root, &format!("{name}: build.rs"));
        assert_eq!(
            fs::read_dir(root.join("out")).unwrap().count(),
            0,
            "{name}: no module"
        );
        fs::remove_dir_all(root).unwrap();
    }
}

/// Peak resident memory of this process's largest finished child, in KiB.
fn children_max_rss_kib() -> i64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let status = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(status, 0, "getrusage");
    usage.ru_maxrss
}

/// A 200 MiB registry is refused from its size (file metadata) before a byte is read. The file
/// is sparse, so the test costs no disk space: a registry-looking start, then zeros.
#[test]
fn a_200_mib_registry_is_refused_by_size_with_little_memory() {
    let root = crate_dir("huge", b"");
    let registry = root.join("connector-registry/services.json");
    let file = fs::File::create(&registry).unwrap();
    use std::io::Write;
    (&file)
        .write_all(br#"{"version": 1, "updatedAt": "2026-03-01", "notes": null, "services": ["#)
        .unwrap();
    file.set_len(200 * 1024 * 1024).unwrap();
    drop(file);
    let expected = concat!(
        "error[WF114]: the registry is 200 MiB; the limit is 128 MiB\n",
        "  --> connector-registry/services.json:1:1\n",
        "  |\n",
        "1 | \n",
        "  | ^ file too large\n",
        "  |\n",
        "  = help: a registry of 100,000 services is about 85 MiB; check that this is the right file\n",
        "\n",
        "error: 1 problem in connector-registry/services.json\n",
    );
    let check = run_in(&root, &["check"]);
    assert_eq!(check.status.code(), Some(1));
    assert_eq!(text(&check.stderr), expected);
    let build = run_in(&root, &["build"]);
    assert_eq!(build.status.code(), Some(1));
    assert_eq!(text(&build.stderr), expected);
    let script = build_script(&root);
    assert_eq!(script.status.code(), Some(1));
    assert_eq!(text(&script.stderr), format!("{expected}{STOPS}"));
    assert_docs_untouched(&root, "200 MiB registry");
    fs::remove_dir_all(root).unwrap();
    // Every child of this test binary so far (this test's and the other tests') stayed far
    // below the file's size: none of them read it.
    let peak = children_max_rss_kib();
    assert!(peak < 64 * 1024, "a child peaked at {peak} KiB");
}

/// 100,000 nested arrays on one line: refused at the 129th level by the iterative scanner (no
/// stack overflow), with the location of the container that is too deep.
#[test]
fn a_registry_nested_100_000_levels_is_refused_at_the_limit() {
    let depth = 100_000;
    let prefix = r#"{"version": 1, "updatedAt": "2026-03-01", "services": [], "notes": "#;
    let registry = format!("{prefix}{}{}}}\n", "[".repeat(depth), "]".repeat(depth));
    let root = crate_dir("deep", registry.as_bytes());
    // The 129th container: the root object is level 1, so this is the 128th `[`.
    let column = prefix.chars().count() + 128;
    let heading = format!(
        "error[WF113]: nesting is deeper than 128 levels\n  --> connector-registry/services.json:1:{column}\n"
    );
    let tail = "  = help: a registry needs about six levels; flatten the data\n\n\
                error: 1 problem in connector-registry/services.json\n";
    let check = run_in(&root, &["check"]);
    let report = text(&check.stderr);
    assert_eq!(check.status.code(), Some(1), "{report}");
    assert!(
        report.starts_with(&heading),
        "{}",
        &report[..report.len().min(400)]
    );
    assert!(
        report.ends_with(tail),
        "{}",
        &report[report.len().saturating_sub(400)..]
    );
    // The snippet quotes the one long line once; nothing grows with the depth beyond that.
    assert!(report.len() < 3 * registry.len(), "{} bytes", report.len());

    let build = run_in(&root, &["build"]);
    assert_eq!(build.status.code(), Some(1));
    assert_eq!(text(&build.stderr), report);
    let script = build_script(&root);
    assert_eq!(script.status.code(), Some(1), "{}", text(&script.stderr));
    assert_eq!(text(&script.stderr), format!("{report}{STOPS}"));
    assert_docs_untouched(&root, "deep registry");

    // Objects nest the same way.
    let objects = format!(
        "{prefix}{}1{}}}\n",
        r#"{"a": "#.repeat(depth),
        "}".repeat(depth)
    );
    fs::write(root.join("connector-registry/services.json"), &objects).unwrap();
    let check = run_in(&root, &["check"]);
    assert_eq!(check.status.code(), Some(1));
    let column = prefix.chars().count() + 127 * r#"{"a": "#.len() + 1;
    assert!(
        text(&check.stderr).starts_with(&format!(
            "error[WF113]: nesting is deeper than 128 levels\n  --> connector-registry/services.json:1:{column}\n"
        )),
        "{}",
        &text(&check.stderr)[..400]
    );
    fs::remove_dir_all(root).unwrap();
}

/// Whether permission bits stop this process (they do not for root or CAP_DAC_OVERRIDE, as in
/// CI containers): tried on a real read-only directory.
fn permissions_are_enforced(dir: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let probe = dir.join("probe");
    fs::create_dir_all(&probe).unwrap();
    fs::set_permissions(&probe, fs::Permissions::from_mode(0o555)).unwrap();
    let enforced = fs::write(probe.join("x"), "").is_err();
    fs::set_permissions(&probe, fs::Permissions::from_mode(0o755)).unwrap();
    fs::remove_dir_all(&probe).unwrap();
    enforced
}

/// A docs directory that cannot be written: an error (exit 2) for `build`, a warning for the
/// `build.rs` entry point, which still generates the module (the crate must compile).
///
/// Permission bits do not stop root, so the failure is made in a way that binds everyone: the
/// docs path lies under a regular file (creating it fails with ENOTDIR), or is itself a regular
/// file. When permission bits are enforced, a real `chmod 555` directory is tested too.
#[test]
fn an_unwritable_docs_directory_is_a_cli_error_and_a_build_script_warning() {
    let root = crate_dir("read-only", SMALL.as_bytes());
    fs::write(root.join("blocked"), "a regular file\n").unwrap();

    let under_file = run_in(&root, &["build", "--out", "blocked/docs"]);
    assert_eq!(under_file.status.code(), Some(2));
    assert_eq!(
        text(&under_file.stderr),
        "error: cannot write blocked/docs/SERVICE_API_INDEX.md: Not a directory (os error 20)\n"
    );
    assert!(under_file.stdout.is_empty());

    // `docs` itself a regular file, for the CLI and for build.rs.
    fs::remove_dir_all(root.join("docs")).unwrap();
    fs::write(root.join("docs"), "not a directory\n").unwrap();
    let file_cli = run_in(&root, &["build"]);
    assert_eq!(file_cli.status.code(), Some(2));
    assert_eq!(
        text(&file_cli.stderr),
        "error: cannot write docs/SERVICE_API_INDEX.md: Not a directory (os error 20)\n"
    );
    let script = build_script(&root);
    assert_eq!(script.status.code(), Some(0), "{}", text(&script.stderr));
    assert_eq!(
        directives(&script),
        [
            "cargo::warning=docs not written: cannot write docs/SERVICE_API_INDEX.md: Not a directory (os error 20)",
            "cargo::warning=run `workerflow-registry build` where the docs directory is writable, or set WORKERFLOW_NO_DOCS=1",
        ]
    );
    assert!(root.join("out/workerflow_registry.rs").is_file());
    assert_eq!(fs::read(root.join("docs")).unwrap(), b"not a directory\n");

    if permissions_are_enforced(&root) {
        use std::os::unix::fs::PermissionsExt;
        fs::remove_file(root.join("docs")).unwrap();
        let fresh = crate_dir("read-only-chmod", SMALL.as_bytes());
        fs::set_permissions(fresh.join("docs"), fs::Permissions::from_mode(0o555)).unwrap();
        let denied = run_in(&fresh, &["build"]);
        assert_eq!(denied.status.code(), Some(2));
        assert_eq!(
            text(&denied.stderr),
            "error: cannot write docs/SERVICE_API_INDEX.md: Permission denied (os error 13)\n"
        );
        let script = build_script(&fresh);
        assert_eq!(script.status.code(), Some(0));
        assert_eq!(
            directives(&script)[0],
            "cargo::warning=docs not written: cannot write docs/SERVICE_API_INDEX.md: Permission denied (os error 13)"
        );
        assert_docs_untouched(&fresh, "chmod 555 docs");
        fs::set_permissions(fresh.join("docs"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::remove_dir_all(fresh).unwrap();
    } else {
        eprintln!("permission bits are not enforced for this user (root?); chmod case skipped");
    }
    fs::remove_dir_all(root).unwrap();
}

/// Issue 30.6: a FIFO (or any file that is not a regular file) at the registry path is refused
/// before it is opened, so `check` never blocks on a read that only a writer would end.
#[test]
fn a_fifo_at_the_registry_path_is_refused_without_blocking() {
    let dir = std::env::temp_dir().join(format!("wf-fifo-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("mkdir");
    let fifo = dir.join("services.json");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo")
            .success()
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_workerflow-registry"))
        .args(["check", "--color", "never"])
        .arg(&fifo)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    let started = std::time::Instant::now();
    while child.try_wait().expect("status").is_none() {
        if started.elapsed() > std::time::Duration::from_secs(10) {
            let _ = child.kill();
            panic!("check blocked on the FIFO");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("output");
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("not a regular file (a FIFO)"),
        "{}",
        text(&output.stderr)
    );
    let _ = fs::remove_dir_all(&dir);
}
