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
        "  created docs/SERVICE_API_INDEX.md\n  created docs/SERVICE_API_INDEX.html\n  created docs/openapi.json\n  created docs/llms.txt\n"
    );
    insta::assert_snapshot!(
        "llms_of_a_small_registry",
        fs::read_to_string(root.join("docs/llms.txt")).unwrap()
    );
    let markdown = fs::read_to_string(root.join("docs/SERVICE_API_INDEX.md")).unwrap();
    assert!(markdown.contains("| 2 | [Acme Mail](#acme_mail) | Acme Corp |"));
    let html = fs::read_to_string(root.join("docs/SERVICE_API_INDEX.html")).unwrap();
    assert!(html.contains("<tr id=\"acme_mail\""));
    let openapi: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(root.join("docs/openapi.json")).unwrap()).unwrap();
    assert_eq!(openapi["openapi"], "3.1.0");

    let modified = fs::metadata(root.join("docs/SERVICE_API_INDEX.html"))
        .unwrap()
        .modified()
        .unwrap();
    let second = run_in(&root, &["build"]);
    assert_eq!(second.status.code(), Some(0));
    assert_eq!(
        text(&second.stdout),
        "unchanged docs/SERVICE_API_INDEX.md\nunchanged docs/SERVICE_API_INDEX.html\nunchanged docs/openapi.json\nunchanged docs/llms.txt\n"
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
        stderr.contains("error: docs/openapi.json is missing"),
        "{stderr}"
    );
    assert!(
        stderr.contains("help: regenerate the docs with `workerflow-registry build`"),
        "{stderr}"
    );
    assert!(!root.join("docs").exists(), "--check writes nothing");

    assert_eq!(run_in(&root, &["build"]).status.code(), Some(0));
    let fresh = run_in(&root, &["build", "--check"]);
    assert_eq!(fresh.status.code(), Some(0), "{}", text(&fresh.stderr));
    assert_eq!(
        text(&fresh.stdout),
        "up to date docs/SERVICE_API_INDEX.md\nup to date docs/SERVICE_API_INDEX.html\nup to date docs/openapi.json\nup to date docs/llms.txt\n"
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
        stderr.ends_with("help: regenerate the docs with `workerflow-registry build`\n"),
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

#[test]
fn a_rewritten_page_keeps_its_mode_and_a_symlinked_page_stays_a_link() {
    use std::os::unix::fs::{PermissionsExt, symlink};
    let root = checkout("mode", SMALL);
    fs::create_dir_all(root.join("docs")).unwrap();
    fs::create_dir_all(root.join("pages")).unwrap();
    let markdown = root.join("docs/SERVICE_API_INDEX.md");
    fs::write(&markdown, "# stale\n").unwrap();
    fs::set_permissions(&markdown, fs::Permissions::from_mode(0o444)).unwrap();
    // The HTML page is a link into another directory.
    let target = root.join("pages/index.html");
    fs::write(&target, "stale\n").unwrap();
    fs::set_permissions(&target, fs::Permissions::from_mode(0o640)).unwrap();
    symlink(
        "../pages/index.html",
        root.join("docs/SERVICE_API_INDEX.html"),
    )
    .unwrap();

    let output = run_in(&root, &["build"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        "  updated docs/SERVICE_API_INDEX.md\n  updated docs/SERVICE_API_INDEX.html\n  created docs/openapi.json\n  created docs/llms.txt\n"
    );
    let mode = |path: &std::path::Path| fs::metadata(path).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&markdown), 0o444, "a read-only page stays read-only");
    assert!(fs::read_to_string(&markdown).unwrap().contains("Acme Mail"));
    let link = root.join("docs/SERVICE_API_INDEX.html");
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        fs::read_to_string(&target)
            .unwrap()
            .contains("<tr id=\"acme_mail\"")
    );
    assert_eq!(mode(&target), 0o640);
    // No temp file was left in either directory.
    for dir in ["docs", "pages"] {
        let names: Vec<_> = fs::read_dir(root.join(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names.len(),
            if dir == "docs" { 4 } else { 1 },
            "{dir}: {names:?}"
        );
    }
    fs::remove_dir_all(root).unwrap();
}

/// A 100 MB `notes` string is refused by its cap (WF209) before any page is rendered, and the
/// whole run stays within a few times the file's size.
#[test]
fn a_huge_text_field_fails_cleanly_with_bounded_memory() {
    let notes = "x".repeat(100_000_000);
    let registry = SMALL.replacen("\"notes\": null", &format!("\"notes\": \"{notes}\""), 1);
    assert_ne!(
        registry.len(),
        SMALL.len(),
        "the fixture has a null note to replace"
    );
    let root = checkout("huge-notes", &registry);
    drop(registry);
    let time = std::path::Path::new("/usr/bin/time");
    let output = if time.exists() {
        std::process::Command::new(time)
            .arg("-v")
            .arg(env!("CARGO_BIN_EXE_workerflow-registry"))
            .arg("build")
            .current_dir(&root)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    } else {
        run_in(&root, &["build"])
    };
    let stderr = text(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        &stderr[..stderr.len().min(2000)]
    );
    assert!(
        stderr.starts_with("error[WF209]: ")
            && stderr.contains("is 100000000 characters long; the limit is 4096"),
        "{}",
        &stderr[..stderr.len().min(500)]
    );
    assert!(!root.join("docs").exists(), "no page was written");
    if let Some(line) = stderr
        .lines()
        .find(|l| l.contains("Maximum resident set size"))
    {
        let kib: u64 = line.rsplit(' ').next().unwrap().trim().parse().unwrap();
        assert!(kib < 600 * 1024, "max RSS {kib} KiB");
    }
    fs::remove_dir_all(root).unwrap();
}
