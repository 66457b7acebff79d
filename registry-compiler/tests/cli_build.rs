//! `workerflow-registry build` as users run it: what it writes, what `--check` reports, and
//! its exit statuses.

use std::fs;
use std::path::PathBuf;

mod common;
use common::{run_in, text};

const SMALL: &str = include_str!("fixtures/render/small.json");

/// A scratch checkout: `connector-registry/services.json` holding `registry`.
fn checkout(name: &str, registry: &str) -> PathBuf {
    let root = std::env::temp_dir().join(format!("wf-cli-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&root);
    fs::create_dir_all(root.join("connector-registry")).unwrap();
    fs::write(root.join("connector-registry/services.json"), registry).unwrap();
    root
}

#[test]
fn build_writes_both_pages_beside_the_registry_then_leaves_them_alone() {
    let root = checkout("default", SMALL);
    let first = run_in(&root, &["build"]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    assert_eq!(
        text(&first.stdout),
        "  created docs/SERVICE_API_INDEX.md\n  created docs/SERVICE_API_INDEX.html\n"
    );
    let markdown = fs::read_to_string(root.join("docs/SERVICE_API_INDEX.md")).unwrap();
    assert!(markdown.contains("| 2 | [Acme Mail](#acme_mail) | Acme Corp |"));
    let html = fs::read_to_string(root.join("docs/SERVICE_API_INDEX.html")).unwrap();
    assert!(html.contains("<tr id=\"acme_mail\""));

    let modified = fs::metadata(root.join("docs/SERVICE_API_INDEX.html"))
        .unwrap()
        .modified()
        .unwrap();
    let second = run_in(&root, &["build"]);
    assert_eq!(second.status.code(), Some(0));
    assert_eq!(
        text(&second.stdout),
        "unchanged docs/SERVICE_API_INDEX.md\nunchanged docs/SERVICE_API_INDEX.html\n"
    );
    let after = fs::metadata(root.join("docs/SERVICE_API_INDEX.html"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(modified, after, "an unchanged page is not rewritten");
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn check_passes_when_fresh_and_shows_a_diff_and_the_fix_when_stale() {
    let root = checkout("check", SMALL);
    let missing = run_in(&root, &["build", "--check"]);
    assert_eq!(missing.status.code(), Some(1));
    let stderr = text(&missing.stderr);
    assert!(
        stderr.contains("error: docs/SERVICE_API_INDEX.md is missing"),
        "{stderr}"
    );
    assert!(
        stderr
            .contains("help: regenerate the docs with `cargo run -p workerflow-registry -- build`"),
        "{stderr}"
    );
    assert!(!root.join("docs").exists(), "--check writes nothing");

    assert_eq!(run_in(&root, &["build"]).status.code(), Some(0));
    let fresh = run_in(&root, &["build", "--check"]);
    assert_eq!(fresh.status.code(), Some(0), "{}", text(&fresh.stderr));
    assert_eq!(
        text(&fresh.stdout),
        "up to date docs/SERVICE_API_INDEX.md\nup to date docs/SERVICE_API_INDEX.html\n"
    );

    // Someone renames a service in the registry but does not regenerate.
    fs::write(
        root.join("connector-registry/services.json"),
        SMALL.replace("\"Gamma CRM\"", "\"Gamma Sales\""),
    )
    .unwrap();
    let before = fs::read(root.join("docs/SERVICE_API_INDEX.md")).unwrap();
    let stale = run_in(&root, &["build", "--check"]);
    assert_eq!(stale.status.code(), Some(1));
    let stderr = text(&stale.stderr);
    assert!(
        stderr.contains("error: docs/SERVICE_API_INDEX.md is stale"),
        "{stderr}"
    );
    assert!(
        stderr.contains("error: docs/SERVICE_API_INDEX.html is stale"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "--- docs/SERVICE_API_INDEX.md (on disk)\n+++ docs/SERVICE_API_INDEX.md (expected)\n@@"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("\n-### Gamma CRM\n+### Gamma Sales\n"),
        "{stderr}"
    );
    assert!(
        stderr.ends_with(
            "help: regenerate the docs with `cargo run -p workerflow-registry -- build`\n"
        ),
        "{stderr}"
    );
    assert_eq!(
        fs::read(root.join("docs/SERVICE_API_INDEX.md")).unwrap(),
        before
    );
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn an_invalid_registry_fails_with_diagnostics_and_writes_nothing() {
    let root = checkout("invalid", &SMALL.replace("\"rank\": 3", "\"rank\": 2"));
    let out = run_in(&root, &["build"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("error[WF"),
        "rustc-style diagnostics: {stderr}"
    );
    assert!(
        stderr.contains("connector-registry/services.json:"),
        "{stderr}"
    );
    assert!(!root.join("docs").exists());
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn explicit_paths_and_template_overrides() {
    let root = checkout("paths", SMALL);
    fs::create_dir_all(root.join("tpl")).unwrap();
    fs::write(
        root.join("tpl/SERVICE_API_INDEX.md.j2"),
        "{{ counts.services }} services, hash {{ registry.sha256[:12] }}\n",
    )
    .unwrap();
    let out = run_in(
        &root,
        &[
            "build",
            "--registry",
            "connector-registry/services.json",
            "--out",
            "site",
            "--templates",
            "tpl",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let markdown = fs::read_to_string(root.join("site/SERVICE_API_INDEX.md")).unwrap();
    assert!(markdown.starts_with("4 services, hash "), "{markdown}");
    assert!(root.join("site/SERVICE_API_INDEX.html").is_file());
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn usage_and_io_errors_exit_2() {
    let root = checkout("usage", SMALL);
    fs::create_dir_all(root.join("empty")).unwrap();
    let no_templates = run_in(&root, &["build", "--templates", "empty"]);
    assert_eq!(no_templates.status.code(), Some(2));
    assert!(text(&no_templates.stderr).contains("nothing to override"));

    let broken = root.join("broken");
    fs::create_dir_all(&broken).unwrap();
    fs::write(broken.join("SERVICE_API_INDEX.html.j2"), "{% for %}").unwrap();
    let syntax = run_in(&root, &["build", "--templates", "broken"]);
    assert_eq!(syntax.status.code(), Some(2));
    assert!(
        text(&syntax.stderr).contains("error: template SERVICE_API_INDEX.html.j2: "),
        "{}",
        text(&syntax.stderr)
    );

    let missing = run_in(&root, &["build", "--registry", "nope.json"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("cannot read nope.json"));

    // The output directory is a file: the write fails, nothing panics.
    fs::write(root.join("blocked"), "").unwrap();
    let blocked = run_in(&root, &["build", "--out", "blocked"]);
    assert_eq!(blocked.status.code(), Some(2));
    assert!(text(&blocked.stderr).starts_with("error: cannot write blocked/SERVICE_API_INDEX.md"));

    let elsewhere = std::env::temp_dir();
    let none = run_in(&elsewhere, &["build", "--check"]);
    if !elsewhere.join("connector-registry/services.json").exists() {
        assert_eq!(none.status.code(), Some(2));
        assert!(text(&none.stderr).contains("workerflow-registry build --registry PATH"));
    }
    fs::remove_dir_all(root).unwrap();
}
