//! The `workerflow-registry` binary as users run it: exit codes, output formats, every fixture.

mod common;
use common::{check_summary, fixtures, run_in, text, workspace_root};

fn invalid_fixture_count() -> usize {
    std::fs::read_dir(fixtures().join("invalid"))
        .expect("fixtures/invalid exists")
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_name().to_string_lossy().ends_with(".json"))
        .count()
}

#[test]
fn there_are_at_least_forty_invalid_fixtures() {
    assert!(invalid_fixture_count() >= 40, "{}", invalid_fixture_count());
}

/// `check` of one fixture, as `(exit status, stdout, stderr)`, with its path relative to
/// `fixtures/` as users would type it.
fn check_fixture(path: &std::path::Path) -> (Option<i32>, String, String, String) {
    let relative = path
        .strip_prefix(fixtures())
        .expect("a fixture")
        .to_string_lossy()
        .replace('\\', "/");
    let output = run_in(&fixtures(), &["check", &relative]);
    (
        output.status.code(),
        text(&output.stdout),
        text(&output.stderr),
        relative,
    )
}

/// Every invalid fixture exits 1 (never 101), prints a `file:line:col` location, and its exact
/// diagnostics are locked in a snapshot (`snapshots/cli__invalid@<fixture>.json.snap`).
#[test]
fn invalid() {
    insta::glob!("fixtures/invalid/*.json", |path| {
        let (status, stdout, stderr, relative) = check_fixture(path);
        assert_eq!(
            status,
            Some(1),
            "{relative}: exit status; stderr:\n{stderr}"
        );
        assert!(stdout.is_empty(), "{relative}: nothing on stdout");
        let location = format!("--> {relative}:");
        let has_location = stderr.lines().any(|line| {
            line.trim_start()
                .strip_prefix(&location)
                .is_some_and(|rest| {
                    let mut parts = rest.split(':');
                    parts.next().is_some_and(|l| l.parse::<u32>().is_ok())
                        && parts.next().is_some_and(|c| c.parse::<u32>().is_ok())
                })
        });
        assert!(
            has_location,
            "{relative}: no file:line:col location in\n{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{relative}: panicked");
        insta::assert_snapshot!(stderr);
    });
}

/// Fixtures with warnings only (invisible and mixed-script names): exit 0, the registry is
/// usable, and the exact warnings are locked in a snapshot.
#[test]
fn warning() {
    insta::glob!("fixtures/warning/*.json", |path| {
        let (status, _, stderr, relative) = check_fixture(path);
        assert_eq!(status, Some(0), "{relative}: {stderr}");
        assert!(stderr.contains("warning[WF31"), "{relative}: {stderr}");
        insta::assert_snapshot!(stderr);
    });
}

#[test]
fn bundled_registry_is_valid() {
    let output = run_in(&workspace_root(), &["check"]);
    assert_eq!(
        text(&output.stdout),
        check_summary(&workspace_root().join("connector-registry/services.json"))
    );
    assert_eq!(text(&output.stderr), "");
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn default_path_is_found_from_a_subdirectory() {
    let output = run_in(&workspace_root().join("registry-compiler/src"), &["check"]);
    assert_eq!(
        text(&output.stdout),
        check_summary(&workspace_root().join("connector-registry/services.json"))
    );
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn upstream_dataset_validates_unchanged() {
    // The fixture is the upstream top-100 dataset itself, byte for byte: its SHA-256 is the one
    // the upstream file was published with.
    use sha2::{Digest, Sha256};
    let bytes =
        std::fs::read(fixtures().join("upstream/workerflow-services.v1.json")).expect("fixture");
    let digest: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        digest, "8165fa177cabae0f287ba8f5b3da728a406f56907c337692dbf407f0d25f0eaf",
        "the fixture drifted from the upstream file"
    );
    let output = run_in(
        &fixtures(),
        &["check", "upstream/workerflow-services.v1.json"],
    );
    assert_eq!(text(&output.stdout), "ok: 100 services, 0 runtime routes\n");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
}

#[test]
fn byte_order_mark_is_a_warning_only() {
    let output = run_in(&fixtures(), &["check", "valid/bom.json"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(text(&output.stdout), "ok: 3 services, 3 runtime routes\n");
    insta::assert_snapshot!("check__valid_bom", text(&output.stderr));
}

#[test]
fn json_format_is_stable() {
    let output = run_in(
        &fixtures(),
        &[
            "check",
            "--format",
            "json",
            "invalid/combo_schema_and_rules.json",
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stderr.is_empty());
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("valid JSON");
    // WF306 on the unranked service is a warning.
    assert_eq!(report["errors"], 6);
    assert_eq!(report["warnings"], 1);
    insta::assert_snapshot!("check_json__combo_schema_and_rules", text(&output.stdout));
}

#[test]
fn json_format_on_a_valid_registry_reports_zero_problems() {
    let output = run_in(
        &fixtures(),
        &["check", "--format", "json", "valid/minimal.json"],
    );
    assert_eq!(output.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("valid JSON");
    assert_eq!(report["errors"], 0);
    assert_eq!(report["diagnostics"], serde_json::json!([]));
}

#[test]
fn github_format_emits_workflow_commands() {
    let output = run_in(
        &fixtures(),
        &[
            "check",
            "--format",
            "github",
            "invalid/rule_duplicate_rank.json",
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    insta::assert_snapshot!("check_github__rule_duplicate_rank", text(&output.stdout));
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let plain = run_in(&fixtures(), &["check", "invalid/rule_duplicate_rank.json"]);
    assert!(!text(&plain.stderr).contains('\x1b'));
    let forced = run_in(
        &fixtures(),
        &[
            "check",
            "--color",
            "always",
            "invalid/rule_duplicate_rank.json",
        ],
    );
    assert!(text(&forced.stderr).contains("\x1b["));
    // NO_COLOR is respected by `auto` (run_in sets it); a pipe is not a terminal either way.
    let auto = run_in(
        &fixtures(),
        &[
            "check",
            "--color",
            "auto",
            "invalid/rule_duplicate_rank.json",
        ],
    );
    assert!(!text(&auto.stderr).contains('\x1b'));
}

#[test]
fn usage_and_io_errors_exit_2() {
    let missing = run_in(&fixtures(), &["check", "no/such/file.json"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing.stderr).starts_with("error: cannot read no/such/file.json: "),
        "{}",
        text(&missing.stderr)
    );

    let nowhere = std::env::temp_dir();
    let not_found = run_in(&nowhere, &["check"]);
    assert_eq!(not_found.status.code(), Some(2));
    assert!(text(&not_found.stderr).contains("no connector-registry/services.json"));

    let bad_flag = run_in(&fixtures(), &["check", "--format", "yaml"]);
    assert_eq!(bad_flag.status.code(), Some(2));
}

#[test]
fn explain_prints_rule_rationale_and_fix() {
    let output = run_in(&fixtures(), &["explain", "WF301"]);
    assert_eq!(output.status.code(), Some(0));
    insta::assert_snapshot!("explain__wf301", text(&output.stdout));

    let lower = run_in(&fixtures(), &["explain", "wf301"]);
    assert_eq!(lower.stdout, output.stdout);

    let unknown = run_in(&fixtures(), &["explain", "WF999"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(text(&unknown.stderr).contains("unknown diagnostic code `WF999`"));
}

#[test]
fn explain_lists_every_code() {
    let output = run_in(&fixtures(), &["explain"]);
    assert_eq!(output.status.code(), Some(0));
    insta::assert_snapshot!("explain__list", text(&output.stdout));
}

/// `--help` of the binary and of every subcommand it lists, so a new subcommand gets a snapshot
/// without anyone remembering to add one.
#[test]
fn help_is_complete() {
    let top = run_in(&fixtures(), &["--help"]);
    assert_eq!(top.status.code(), Some(0));
    let top = text(&top.stdout);
    insta::assert_snapshot!("help__help", top);
    let subcommands: Vec<&str> = top
        .split("Commands:\n")
        .nth(1)
        .expect("a Commands section")
        .lines()
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|&name| name != "help")
        .collect();
    assert!(subcommands.len() >= 5, "{subcommands:?}");
    for name in subcommands {
        let output = run_in(&fixtures(), &[name, "--help"]);
        assert_eq!(output.status.code(), Some(0), "{name} --help");
        insta::assert_snapshot!(format!("help__{name}_--help"), text(&output.stdout));
    }
}

/// A registry with an OAuth 2.0 app and a route taking a connection (`valid/oauth2.json`) is
/// valid, with no warning.
#[test]
fn oauth_fixture_is_valid() {
    let output = run_in(&fixtures(), &["check", "valid/oauth2.json"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout).trim(),
        "ok: 3 services, 3 runtime routes"
    );
    assert!(text(&output.stderr).is_empty(), "{}", text(&output.stderr));

    // llms.txt: a line per OAuth app, one per route taking a connection.
    let out = std::env::temp_dir().join(format!("wf-cli-oauth-{}", std::process::id()));
    let out_arg = out.to_str().expect("a UTF-8 temp dir");
    let build = run_in(
        &fixtures(),
        &["build", "--registry", "valid/oauth2.json", "--out", out_arg],
    );
    assert_eq!(build.status.code(), Some(0), "{}", text(&build.stderr));
    let llms = std::fs::read_to_string(out.join("llms.txt")).expect("llms.txt");
    let _ = std::fs::remove_dir_all(&out);
    let start = llms.find("## OAuth connections").expect("an OAuth section");
    insta::assert_snapshot!("llms_oauth", &llms[start..]);
}

/// `explain` of each OAuth 2.0 code: the rules (WF324 to WF329) and the changes `diff` reports
/// (WF412 to WF415, WF426, WF427).
#[test]
fn explain_oauth_codes() {
    for code in [
        "WF324", "WF325", "WF326", "WF327", "WF328", "WF329", "WF412", "WF413", "WF414", "WF415",
        "WF426", "WF427",
    ] {
        let output = run_in(&fixtures(), &["explain", code]);
        assert_eq!(output.status.code(), Some(0), "{code}");
        insta::assert_snapshot!(
            format!("explain__{}", code.to_lowercase()),
            text(&output.stdout)
        );
    }
}
