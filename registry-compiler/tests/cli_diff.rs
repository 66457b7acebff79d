//! `workerflow-registry diff`: the fixture pair in `fixtures/diff/` (every change code, in every
//! format), acknowledgements, the bundled registry against itself and against the upstream
//! import, and revisions of a temporary git repository read with the real `git`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{fixtures, run_in, text, workspace_root};

use workerflow_registry::Code;

fn diff_dir() -> PathBuf {
    fixtures().join("diff")
}

/// Exit status, stdout and stderr, in one text for a snapshot.
fn shown(output: &Output) -> String {
    format!(
        "status: {:?}\n--- stdout\n{}--- stderr\n{}",
        output.status.code(),
        text(&output.stdout),
        text(&output.stderr)
    )
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "diff --format json printed no JSON ({e}):\n{}",
            shown(output)
        )
    })
}

fn codes(report: &serde_json::Value) -> Vec<String> {
    let mut codes: Vec<String> = report["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| c["code"].as_str().expect("code").to_owned())
        .collect();
    if !report["staleAcknowledgements"]
        .as_array()
        .expect("stale")
        .is_empty()
    {
        codes.push(Code::StaleAcknowledgement.as_str().to_owned());
    }
    codes.sort();
    codes.dedup();
    codes
}

#[test]
fn fixture_pair_in_every_format() {
    for (name, args) in [
        ("text", &[][..]),
        ("json", &["--format", "json"][..]),
        ("github", &["--format", "github"][..]),
        ("markdown", &["--markdown"][..]),
    ] {
        let mut all = vec!["diff", "base.json", "head.json"];
        all.extend_from_slice(args);
        let output = run_in(&diff_dir(), &all);
        assert_eq!(output.status.code(), Some(1), "{name}: {}", shown(&output));
        insta::assert_snapshot!(format!("fixture_{name}"), shown(&output));
    }
}

#[test]
fn fixture_pair_covers_every_change_code() {
    let output = run_in(
        &diff_dir(),
        &["diff", "base.json", "head.json", "--format", "json"],
    );
    let found = codes(&json(&output));
    let expected: Vec<String> = Code::ALL
        .iter()
        .filter(|&&code| code.change_class().is_some() || code == Code::StaleAcknowledgement)
        .map(|code| code.as_str().to_owned())
        .collect();
    assert_eq!(found, expected);
}

#[test]
fn acknowledged_breaking_changes_pass() {
    let output = run_in(
        &diff_dir(),
        &["diff", "base.json", "head_acknowledged.json"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", shown(&output));
    let markdown = run_in(
        &diff_dir(),
        &["diff", "base.json", "head_acknowledged.json", "--markdown"],
    );
    insta::assert_snapshot!("fixture_acknowledged_markdown", shown(&markdown));
}

#[test]
fn an_invalid_side_is_reported_like_check() {
    let output = run_in(
        &fixtures(),
        &["diff", "diff/base.json", "invalid/rule_duplicate_rank.json"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", shown(&output));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("error[WF303]"), "{stderr}");
    assert!(
        stderr.contains("--> invalid/rule_duplicate_rank.json:"),
        "{stderr}"
    );
}

#[test]
fn bundled_registry_against_itself_prints_nothing() {
    let path = "connector-registry/services.json";
    for format in ["text", "github"] {
        let output = run_in(&workspace_root(), &["diff", path, path, "--format", format]);
        assert_eq!(output.status.code(), Some(0), "{}", shown(&output));
        assert_eq!(text(&output.stdout), "", "{format}");
        assert_eq!(text(&output.stderr), "", "{format}");
    }
}

/// The bundled registry is the upstream top-100 import plus the runtime services: against it,
/// the services added are notable (each has routes) and nothing is breaking.
#[test]
fn upstream_import_to_bundled_adds_runtime_services_only() {
    let upstream = fixtures().join("upstream/workerflow-services.v1.json");
    let output = run_in(
        &workspace_root(),
        &[
            "diff",
            upstream.to_str().expect("utf-8 path"),
            "connector-registry/services.json",
            "--format",
            "json",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", shown(&output));
    let report = json(&output);
    assert_eq!(report["breaking"], 0, "{report:#}");
    let changes = report["changes"].as_array().expect("changes");
    let added: Vec<&str> = changes
        .iter()
        .filter(|c| c["code"] == "WF420")
        .map(|c| c["subject"].as_str().expect("subject"))
        .collect();
    assert!(!added.is_empty(), "{report:#}");
    let bundled = workerflow_registry::Registry::load(
        workspace_root().join("connector-registry/services.json"),
    )
    .expect("bundled registry");
    for id in &added {
        let service = bundled.service(id).expect("an added service");
        assert!(!service.routes().is_empty(), "{id} has no routes");
    }
    assert!(
        changes.iter().all(|c| c["class"] == "notable"),
        "{report:#}"
    );
}

/// A throwaway git repository under the system temp directory, removed on drop.
struct Repo(PathBuf);

impl Repo {
    fn new(name: &str) -> Repo {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir =
            std::env::temp_dir().join(format!("wf-diff-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(dir.join("connector-registry")).expect("temp dir");
        let repo = Repo(dir);
        repo.git(&["init", "--quiet", "--initial-branch=main"]);
        repo
    }

    fn git(&self, args: &[&str]) -> String {
        let output = Command::new("git")
            .args([
                "-c",
                "user.name=Diff Test",
                "-c",
                "user.email=diff@example.com",
            ])
            .args(["-c", "commit.gpgsign=false"])
            .args(args)
            .current_dir(&self.0)
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .env_remove("GIT_INDEX_FILE")
            .output()
            .expect("git runs");
        assert!(output.status.success(), "git {args:?}: {}", shown(&output));
        text(&output.stdout)
    }

    fn commit(&self, fixture: &str, message: &str) {
        std::fs::copy(
            diff_dir().join(fixture),
            self.0.join("connector-registry/services.json"),
        )
        .expect("copy fixture");
        self.git(&["add", "connector-registry/services.json"]);
        self.git(&["commit", "--quiet", "-m", message]);
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Repo {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn git_available() -> bool {
    Command::new("git")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn revisions_of_a_git_repository() {
    if !git_available() {
        assert!(
            !workerflow_registry::build_script::on_ci(),
            "git is missing, and CI is set"
        );
        eprintln!("skipped: git is not installed");
        return;
    }
    let repo = Repo::new("revisions");
    repo.commit("base.json", "base");
    repo.git(&["checkout", "--quiet", "-b", "feature"]);
    repo.commit("head.json", "head");
    // Revision against revision, and a revision against the working file (the default head).
    let between = run_in(repo.path(), &["diff", "HEAD~1", "HEAD", "--format", "json"]);
    assert_eq!(between.status.code(), Some(1), "{}", shown(&between));
    let report = json(&between);
    assert_eq!(report["base"], "HEAD~1:connector-registry/services.json");
    assert_eq!(report["head"], "HEAD:connector-registry/services.json");
    assert_eq!(report["unacknowledged"], 15, "{report:#}");
    let against_working = run_in(repo.path(), &["diff", "HEAD~1", "--format", "json"]);
    assert_eq!(against_working.status.code(), Some(1));
    assert_eq!(
        json(&against_working)["head"],
        "connector-registry/services.json"
    );
    // REV:PATH, from a subdirectory.
    let explicit = run_in(
        &repo.path().join("connector-registry"),
        &[
            "diff",
            "HEAD~1:connector-registry/services.json",
            "HEAD:connector-registry/services.json",
            "--format",
            "json",
        ],
    );
    assert_eq!(json(&explicit)["changes"], report["changes"]);

    // On a branch, the default base is the merge base with `main`.
    repo.commit("head_acknowledged.json", "acknowledge");
    let default = run_in(repo.path(), &["diff"]);
    assert_eq!(default.status.code(), Some(0), "{}", shown(&default));
    assert_eq!(
        text(&default.stdout),
        "diff: 16 breaking, 8 notable, 3 cosmetic\n",
        "{}",
        shown(&default)
    );
    let from_base = run_in(repo.path(), &["diff", "HEAD~2", "--format", "json"]);
    assert_eq!(from_base.status.code(), Some(0), "{}", shown(&from_base));
    assert_eq!(json(&from_base)["breaking"], 16);

    let unknown = run_in(repo.path(), &["diff", "no-such-revision"]);
    assert_eq!(unknown.status.code(), Some(2), "{}", shown(&unknown));
    assert!(
        text(&unknown.stderr).contains("neither a file nor a git revision"),
        "{}",
        shown(&unknown)
    );
}

/// The acknowledged breaking changes become a changelog section of both pages, and `fmt`
/// keeps the `changes` list.
#[test]
fn acknowledgements_are_the_docs_changelog() {
    let repo = Repo::new("changelog");
    std::fs::copy(
        diff_dir().join("head_acknowledged.json"),
        repo.path().join("connector-registry/services.json"),
    )
    .expect("copy fixture");
    let build = run_in(repo.path(), &["build"]);
    assert_eq!(build.status.code(), Some(0), "{}", shown(&build));
    let md = std::fs::read_to_string(repo.path().join("docs/SERVICE_API_INDEX.md")).expect("md");
    assert!(md.contains("## Changelog"), "{md}");
    assert!(
        md.contains("### WF410 `beta`: service removed (breaking)\n\nBeta shut its API down.\n\nMigration: Use Gamma instead."),
        "{md}"
    );
    let html =
        std::fs::read_to_string(repo.path().join("docs/SERVICE_API_INDEX.html")).expect("html");
    assert!(
        html.contains("<h2 id=\"changelog\">Changelog</h2>"),
        "{html}"
    );
    assert_eq!(html.matches("<section class=\"change\">").count(), 16);

    let before = std::fs::read_to_string(repo.path().join("connector-registry/services.json"))
        .expect("registry");
    let fmt = run_in(repo.path(), &["fmt"]);
    assert_eq!(fmt.status.code(), Some(0), "{}", shown(&fmt));
    let after = std::fs::read_to_string(repo.path().join("connector-registry/services.json"))
        .expect("registry");
    let changes = |text: &str| {
        serde_json::from_str::<serde_json::Value>(text).expect("json")["changes"].clone()
    };
    assert_eq!(changes(&before), changes(&after));
    let path = repo.path().join("connector-registry/services.json");
    let path = path.to_str().expect("utf-8 path");
    let itself = run_in(repo.path(), &["diff", path, path]);
    assert_eq!(itself.status.code(), Some(0), "{}", shown(&itself));
    assert_eq!(text(&itself.stdout), "");
}

/// Issue 30.3: a side that starts with `-` never reaches git as an option (`--output=FILE`
/// made `git show` write a file), and a blob over the size limit is refused by its size, from
/// `git cat-file -s`, before it is read.
#[test]
fn revisions_never_become_git_options_and_big_blobs_are_refused_unread() {
    if !git_available() {
        assert!(
            !workerflow_registry::build_script::on_ci(),
            "git is missing, and CI is set"
        );
        eprintln!("skipped: git is not installed");
        return;
    }
    let repo = Repo::new("options");
    repo.commit("base.json", "base");
    let written = repo.path().join("written:by-git");
    let option = format!("--output={}", written.display());
    let refused = run_in(repo.path(), &["diff", "--", &option, "HEAD"]);
    assert_eq!(refused.status.code(), Some(2), "{}", shown(&refused));
    assert!(!written.exists(), "git wrote {}", written.display());
    assert!(
        text(&refused.stderr).contains("(a revision never starts with `-`)"),
        "{}",
        shown(&refused)
    );

    // 129 MiB of zeros: a small object in git, over the 128 MiB limit once read.
    let registry = repo.path().join("connector-registry/services.json");
    let file = std::fs::File::create(&registry).expect("create");
    file.set_len(129 * 1024 * 1024).expect("grow");
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "--quiet", "-m", "big"]);
    std::fs::copy(diff_dir().join("base.json"), &registry).expect("restore");
    let big = run_in(repo.path(), &["diff", "HEAD"]);
    assert_eq!(big.status.code(), Some(1), "{}", shown(&big));
    assert!(
        text(&big.stderr).contains("the registry is 129 MiB; the limit is 128 MiB"),
        "{}",
        shown(&big)
    );
    assert!(
        text(&big.stderr).contains("--> HEAD:connector-registry/services.json"),
        "{}",
        shown(&big)
    );
}
