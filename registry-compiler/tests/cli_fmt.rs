//! `workerflow-registry fmt` as users run it: the canonical form, `--check`, and that an invalid
//! registry is never rewritten.

use std::path::PathBuf;

mod common;
use common::{fixtures, run_in, text, workspace_root};

/// A fresh directory holding a copy of `fixture` as `services.json`.
fn scratch(name: &str, fixture: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wf-fmt-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::copy(fixtures().join(fixture), dir.join("services.json")).expect("copy");
    dir
}

#[test]
fn the_bundled_registry_is_canonical() {
    let output = run_in(&workspace_root(), &["fmt", "--check"]);
    assert_eq!(text(&output.stderr), "");
    assert_eq!(
        text(&output.stdout),
        "ok: connector-registry/services.json is canonical\n"
    );
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn the_upstream_dataset_is_canonical_but_for_the_ids_fmt_freezes() {
    // The upstream file is pinned (its SHA-256 is checked elsewhere), so it keeps deriving its
    // ids; `fmt` would only write each ranked service's derived `id`, nothing else.
    let original = std::fs::read_to_string(fixtures().join("upstream/workerflow-services.v1.json"))
        .expect("read");
    let dir = scratch("upstream", "upstream/workerflow-services.v1.json");
    let output = run_in(&dir, &["fmt", "services.json"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let formatted = std::fs::read_to_string(dir.join("services.json")).expect("read");
    let (ids, rest): (Vec<&str>, Vec<&str>) = formatted
        .split_inclusive('\n')
        .partition(|line| line.starts_with("      \"id\": \""));
    assert_eq!(rest.concat(), original);
    assert_eq!(ids.len(), 100, "one frozen id per ranked service");
    assert!(
        ids.contains(&"      \"id\": \"google_sheets\",\n"),
        "{ids:?}"
    );
}

#[test]
fn fmt_rewrites_into_canonical_form_once() {
    let dir = scratch("rewrite", "fmt/messy.json");
    let output = run_in(&dir, &["fmt", "services.json"]);
    assert_eq!(text(&output.stdout), "formatted services.json\n");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let formatted = std::fs::read_to_string(dir.join("services.json")).expect("read");
    insta::assert_snapshot!("fmt__messy_canonical", formatted);

    let modified = std::fs::metadata(dir.join("services.json"))
        .and_then(|m| m.modified())
        .expect("mtime");
    let again = run_in(&dir, &["fmt", "services.json"]);
    assert_eq!(text(&again.stdout), "unchanged services.json\n");
    let after = std::fs::metadata(dir.join("services.json"))
        .and_then(|m| m.modified())
        .expect("mtime");
    assert_eq!(modified, after, "an unchanged file is not rewritten");

    let check = run_in(&dir, &["fmt", "--check", "services.json"]);
    assert_eq!(check.status.code(), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_shows_a_diff_and_writes_nothing() {
    let dir = scratch("check", "fmt/messy.json");
    let before = std::fs::read(dir.join("services.json")).expect("read");
    let output = run_in(&dir, &["fmt", "--check", "services.json"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(text(&output.stdout), "");
    insta::assert_snapshot!("fmt__check_diff", text(&output.stderr));
    assert_eq!(
        std::fs::read(dir.join("services.json")).expect("read"),
        before
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_invalid_registry_is_never_rewritten() {
    let dir = scratch("invalid", "invalid/rule_duplicate_rank.json");
    let before = std::fs::read(dir.join("services.json")).expect("read");
    for args in [
        &["fmt", "services.json"][..],
        &["fmt", "--check", "services.json"],
    ] {
        let output = run_in(&dir, args);
        assert_eq!(output.status.code(), Some(1));
        let stderr = text(&output.stderr);
        assert!(stderr.starts_with("error[WF303]"), "{stderr}");
        assert!(
            stderr.ends_with("note: services.json was not rewritten\n"),
            "{stderr}"
        );
        assert_eq!(
            std::fs::read(dir.join("services.json")).expect("read"),
            before
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_file_is_a_usage_error() {
    let output = run_in(&fixtures(), &["fmt", "nope.json"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        text(&output.stderr),
        "error: cannot read nope.json: No such file or directory (os error 2)\n"
    );
}

#[test]
fn fmt_writes_through_a_symlink_and_keeps_the_mode() {
    use std::os::unix::fs::{PermissionsExt, symlink};
    let dir = scratch("symlink", "fmt/messy.json");
    std::fs::create_dir_all(dir.join("data")).expect("dir");
    std::fs::rename(dir.join("services.json"), dir.join("data/real.json")).expect("move");
    std::fs::set_permissions(
        dir.join("data/real.json"),
        std::fs::Permissions::from_mode(0o600),
    )
    .expect("chmod");
    symlink("data/real.json", dir.join("services.json")).expect("symlink");

    let output = run_in(&dir, &["fmt", "services.json"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "formatted services.json\n");
    let link = std::fs::symlink_metadata(dir.join("services.json")).expect("link");
    assert!(link.file_type().is_symlink(), "the link is still a link");
    let check = run_in(&dir, &["fmt", "--check", "data/real.json"]);
    assert_eq!(
        check.status.code(),
        Some(0),
        "the target is formatted: {}",
        text(&check.stderr)
    );
    let mode = std::fs::metadata(dir.join("data/real.json"))
        .expect("target")
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o600);
    let _ = std::fs::remove_dir_all(&dir);
}
