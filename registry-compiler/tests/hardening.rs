//! Issue 11, points 11–14: `check`, `build` and `fmt` give one verdict; a panicking validator
//! fails the run; long lines and control characters are shown the way rustc shows them.

mod common;

use std::path::Path;

use proptest::prelude::*;
use serde_json::Value;
use workerflow_registry::Source;

use common::{fixtures, run_in, text};

const VALID: &str = include_str!("fixtures/valid/minimal.json");

/// Number literals JSON Schema calls integers (or not) that serde may read differently.
const NUMBERS: &[&str] = &[
    "1",
    "0",
    "-0",
    "1.0",
    "1e0",
    "1E2",
    "100.0",
    "2.5",
    "-1",
    "-1.0",
    "1.5e1",
    "99",
    "0.0",
    "4294967295",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "1e19",
    "1e300",
];

/// Pieces of string literals, escapes included.
const PIECES: &[&str] = &[
    "a",
    "\\u0000",
    "\\ud83d\\ude00",
    "\\/",
    "\\\\",
    "\\\"",
    "é",
    "\\u001b",
    "\\u202e",
    "\\t",
    "\\u00e9",
    "\\b",
    "https://",
    "x.example.com/",
];

/// The registry with the `target`-th number or string literal replaced by `literal`.
fn mutate(target: usize, literal: &str, numbers: bool) -> String {
    let document = workerflow_registry::internals::scan(VALID).document;
    let kind = if numbers {
        workerflow_registry::internals::NodeKind::Number
    } else {
        workerflow_registry::internals::NodeKind::String
    };
    let spans: Vec<_> = document
        .nodes
        .iter()
        .filter(|node| node.kind == kind)
        .map(|node| node.span)
        .collect();
    let span = spans[target % spans.len()];
    format!(
        "{}{literal}{}",
        &VALID[..span.start as usize],
        &VALID[span.end as usize..]
    )
}

fn assert_one_verdict(text: &str) {
    let source = Source::from_text("services.json", text).expect("bundled schema");
    let checked = source.check();
    let compiled = source.compile();
    assert_eq!(
        checked.is_valid(),
        compiled.registry.is_some(),
        "check and build disagree on\n{text}\ncheck: {:?}\nbuild: {:?}",
        checked.diagnostics,
        compiled.diagnostics
    );
    let formatted = source.format();
    assert_eq!(
        checked.is_valid(),
        formatted.is_ok(),
        "check and fmt disagree on\n{text}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn mutated_numbers_get_one_verdict(target in any::<usize>(), literal in prop::sample::select(NUMBERS)) {
        assert_one_verdict(&mutate(target, literal, true));
    }

    #[test]
    fn mutated_strings_get_one_verdict(
        target in any::<usize>(),
        pieces in prop::collection::vec(prop::sample::select(PIECES), 0..6),
    ) {
        // Always some text: blank names are another rule's business.
        let literal = format!("\"a{}\"", pieces.concat());
        assert_one_verdict(&mutate(target, &literal, false));
    }
}

fn registry_dir(name: &str, text: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("wf-hardening-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("connector-registry")).expect("temp dir");
    std::fs::write(dir.join("connector-registry/services.json"), text).expect("registry");
    dir
}

#[test]
fn numbers_check_accepts_are_numbers_build_and_fmt_accept() {
    for (name, literal) in [("fraction", "1.0"), ("huge", "18446744073709551616")] {
        let registry = VALID.replacen("\"rank\": 1,", &format!("\"rank\": {literal},"), 1);
        let dir = registry_dir(name, registry.as_bytes());
        let checked = run_in(&dir, &["check"]);
        assert_eq!(checked.status.code(), Some(1), "{name}");
        insta::assert_snapshot!(format!("rank_{name}"), text(&checked.stderr));
        assert_eq!(run_in(&dir, &["build"]).status.code(), Some(1), "{name}");
        assert_eq!(
            run_in(&dir, &["fmt", "--check"]).status.code(),
            Some(1),
            "{name}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// The debug-build fault hook makes one worker panic: the run fails with WF901, exit 2.
#[cfg(debug_assertions)]
#[test]
fn a_panicking_validator_never_passes() {
    let minimal = fixtures().join("valid/minimal.json");
    let dir = registry_dir("panic", &std::fs::read(&minimal).expect("fixture"));
    for (site, command) in [
        ("rules", "check"),
        ("schema", "check"),
        ("model", "build"),
        ("rules", "fmt"),
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_workerflow-registry"))
            .arg(command)
            .current_dir(&dir)
            .env("WORKERFLOW_REGISTRY_PANIC_IN", site)
            .env("NO_COLOR", "1")
            .output()
            .expect("the binary runs");
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{site} {command}: {stderr}");
        assert!(
            stderr.contains("error[WF901]"),
            "{site} {command}: {stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn minified(mut value: Value) -> Vec<u8> {
    value.as_object_mut().expect("object").remove("$schema");
    serde_json::to_vec(&value).expect("serialises")
}

#[test]
fn a_minified_registry_with_50_errors_prints_little() {
    let mut value: Value = serde_json::from_str(VALID).expect("valid JSON");
    let template = value["services"][1].clone();
    let services: Vec<Value> = (0..10_000)
        .map(|i| {
            let mut service = template.clone();
            // Route ids are unique: the copies are catalogue-only.
            service.as_object_mut().map(|s| s.remove("runtime"));
            service["rank"] = Value::from(i + 1);
            service["connectorName"] = Value::from(format!("Service {i}"));
            service["id"] = Value::from(format!("service_{i}"));
            if i % 200 == 7 {
                service["authType"] = Value::from("bogus");
            }
            service
        })
        .collect();
    value["services"] = Value::Array(services);
    let dir = registry_dir("minified", &minified(value));
    let output = run_in(&dir, &["check"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr.matches("error[WF204]").count(),
        50,
        "{}",
        &stderr[..2000.min(stderr.len())]
    );
    assert!(stderr.len() < 200_000, "{} bytes of stderr", stderr.len());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_long_line_is_shown_as_a_window_with_the_real_position() {
    let mut value: Value = serde_json::from_str(VALID).expect("valid JSON");
    value["notes"] = Value::from("x".repeat(65_000));
    value["services"][2]["confidence"] = Value::from("high");
    let dir = registry_dir("long-line", &minified(value));
    let output = run_in(&dir, &["check"]);
    let stderr = text(&output.stderr);
    assert!(stderr.len() < 2_000, "{stderr}");
    insta::assert_snapshot!("long_line", stderr);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn lines_end_at_a_lone_carriage_return() {
    let text_cr = VALID
        .replacen("\"authType\": \"oauth2\"", "\"authType\": \"oauth\"", 1)
        .replace('\n', "\r");
    let dir = registry_dir("cr", text_cr.as_bytes());
    let output = run_in(&dir, &["check"]);
    insta::assert_snapshot!("cr_only", text(&output.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn control_characters_are_shown_escaped() {
    // A raw ESC and NUL inside strings (both invalid JSON strings), and an escaped ESC that the
    // message quotes.
    let text_bad = VALID
        .replacen(
            "A small registry for tests.",
            "A small \u{1b}[31mregistry\u{0} for tests.",
            1,
        )
        .replacen(
            "\"authType\": \"oauth2\"",
            "\"authType\": \"oauth2\\u001b[2J\"",
            1,
        );
    let dir = registry_dir("controls", text_bad.as_bytes());
    let output = run_in(&dir, &["check"]);
    let stderr = text(&output.stderr);
    assert!(!stderr.contains(['\u{1b}', '\u{0}']), "{stderr:?}");
    insta::assert_snapshot!("control_characters", stderr);
    let explain = run_in(Path::new("."), &["explain", "WF\u{1b}[31m"]);
    let explain_err = text(&explain.stderr);
    assert_eq!(explain.status.code(), Some(2));
    assert!(
        !explain_err.contains('\u{1b}') && explain_err.contains("WF\\u{1b}[31m"),
        "{explain_err:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 30.7: ESC and BEL in a path from the command line reach the terminal escaped, in
/// `check`'s errors and location lines and in every `diff` format, never raw.
#[test]
fn control_characters_in_paths_are_escaped_everywhere() {
    let dir = std::env::temp_dir().join(format!("wf-esc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let hostile = dir.join("a\u{1b}]0;pwned\u{7}");
    std::fs::create_dir_all(&hostile).expect("mkdir");
    let invalid = hostile.join("services.json");
    std::fs::write(
        &invalid,
        std::fs::read(fixtures().join("invalid/rule_duplicate_route_id.json")).expect("fixture"),
    )
    .expect("write");
    let raw = |text: &str| text.contains('\u{1b}') || text.contains('\u{7}');
    let escaped = "a\\u{1b}]0;pwned\\u{7}";

    let missing = run_in(&dir, &["check", "a\u{1b}]0;pwned\u{7}/nothing.json"]);
    assert_eq!(missing.status.code(), Some(2));
    let stderr = text(&missing.stderr);
    assert!(!raw(&stderr) && stderr.contains(escaped), "{stderr:?}");

    let checked = run_in(&dir, &["check", "a\u{1b}]0;pwned\u{7}/services.json"]);
    assert_eq!(checked.status.code(), Some(1));
    let stderr = text(&checked.stderr);
    assert!(!raw(&stderr), "{stderr:?}");
    assert!(
        stderr.contains(&format!("--> {escaped}/services.json:")),
        "{stderr}"
    );

    let valid = hostile.join("valid.json");
    std::fs::write(&valid, VALID).expect("write");
    for format in ["text", "markdown", "github", "json"] {
        let diffed = run_in(
            &dir,
            &[
                "diff",
                "a\u{1b}]0;pwned\u{7}/valid.json",
                "a\u{1b}]0;pwned\u{7}/services.json",
                "--format",
                format,
            ],
        );
        let all = text(&diffed.stdout) + &text(&diffed.stderr);
        assert!(!raw(&all), "{format}: {all:?}");
    }
    // `new` with ESC and BEL in the route id and the secret: the refusal (and the name it
    // suggests) is shown escaped.
    for (route, secret) in [("bad\u{1b}[31m", "GOOD_KEY"), ("good_route", "K\u{7}")] {
        let refused = run_in(
            &dir,
            &[
                "new",
                "--service",
                "Acme",
                "--route",
                route,
                "--secret",
                secret,
                "--registry",
                "a\u{1b}]0;pwned\u{7}/valid.json",
            ],
        );
        assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
        let stderr = text(&refused.stderr);
        assert!(!raw(&stderr) && stderr.contains("\\u{"), "{stderr:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
