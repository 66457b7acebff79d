//! `workerflow-registry new` in a copy of `tests/fixtures/scaffold-crate`: the registry edit,
//! the refusals, `--dry-run`, and `cargo test` in the scaffolded crate (the connector works as
//! generated against a loopback server).

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{check_summary, in_scratch_crate, run_in, text, workspace_root};

// The root harness's registry-derived configuration, checked here on a registry grown by `new`.
use workerflow_test_support::registry_config;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scaffold-crate")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read fixture") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// A fresh copy of the fixture crate, with its manifest pointing at this workspace and the
/// workspace's lock file, so the same dependency versions (already built) are used.
fn scratch_crate(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wf-scaffold-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&fixture(), &dir);
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml.in")).expect("manifest");
    let root = workspace_root().display().to_string();
    std::fs::write(
        dir.join("Cargo.toml"),
        manifest.replace("@WORKSPACE@", &root),
    )
    .expect("write manifest");
    std::fs::remove_file(dir.join("Cargo.toml.in")).expect("remove template");
    std::fs::copy(workspace_root().join("Cargo.lock"), dir.join("Cargo.lock")).expect("lock");
    dir
}

const ACME: &[&str] = &[
    "new",
    "--service",
    "Acme CRM",
    "--route",
    "acme_contact_upsert",
    "--secret",
    "ACME_API_KEY",
];

#[test]
fn scaffolded_connector_passes_its_test_as_generated() {
    let dir = scratch_crate("cargo");
    let output = run_in(&dir, ACME);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    insta::assert_snapshot!("scaffold__new_output", text(&output.stdout));
    insta::assert_snapshot!(
        "scaffold__registry",
        std::fs::read_to_string(dir.join("connector-registry/services.json")).expect("registry")
    );
    insta::assert_snapshot!(
        "scaffold__connector",
        std::fs::read_to_string(dir.join("src/connectors/acme_crm.rs")).expect("connector")
    );
    insta::assert_snapshot!(
        "scaffold__examples_test",
        std::fs::read_to_string(dir.join("tests/examples.rs")).expect("examples test")
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("src/connectors/mod.rs")).expect("mod.rs"),
        "//! The crate's connectors, one file per service (`workerflow-registry new` adds them).\n\nmod acme_crm;\n"
    );
    assert!(
        std::fs::read_to_string(dir.join("src/lib.rs"))
            .expect("lib.rs")
            .ends_with("\npub mod connectors;\n")
    );
    // The edited registry is canonical and valid (one warning: the new service has no sources).
    let fmt = run_in(&dir, &["fmt", "--check"]);
    assert_eq!(fmt.status.code(), Some(0), "{}", text(&fmt.stderr));

    // `cargo test` in the scaffolded crate, sharing this workspace's target directory (as
    // tests/user_crate.rs does) so the dependencies are not built again.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let tested = in_scratch_crate(cargo, &dir)
        .args(["test", "--quiet"])
        .output()
        .expect("cargo runs");
    assert!(
        tested.status.success(),
        "cargo test in the scaffolded crate failed:\n{}\n{}",
        text(&tested.stdout),
        text(&tested.stderr)
    );
    let stdout = text(&tested.stdout);
    assert!(
        stdout.contains("test result: ok. 2 passed"),
        "the scaffolded tests ran: {stdout}"
    );
    // tests/examples.rs ran the example `new` put in the contract (the helper says so when none
    // ran).
    let examples = in_scratch_crate(
        std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()),
        &dir,
    )
    .args(["test", "--quiet", "--test", "examples", "--", "--nocapture"])
    .output()
    .expect("cargo runs");
    assert!(examples.status.success(), "{}", text(&examples.stderr));
    assert!(
        text(&examples.stdout).contains("test result: ok. 1 passed")
            && !text(&examples.stderr).contains("no contract examples ran"),
        "{}\n{}",
        text(&examples.stdout),
        text(&examples.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `tests/examples.rs` is written once: a second route leaves the file as it is (whatever it
/// holds) and `new` does not fail on it; a crate whose workerflow-runtime lacks feature `testing`
/// gets none (it would not compile), and the next steps say how to get it.
#[test]
fn the_examples_test_is_written_once_and_only_where_it_compiles() {
    let dir = scratch_crate("examples-once");
    let first = run_in(&dir, ACME);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let edited = "// Edited by hand.\n";
    std::fs::write(dir.join("tests/examples.rs"), edited).expect("edit");
    let second = run_in(
        &dir,
        &["new", "--service", "Beta Mail", "--route", "beta_mail_send"],
    );
    assert_eq!(second.status.code(), Some(0), "{}", text(&second.stderr));
    assert!(
        !text(&second.stdout).contains("tests/examples.rs"),
        "{}",
        text(&second.stdout)
    );
    assert_eq!(read(dir.join("tests/examples.rs")), edited);
    let _ = std::fs::remove_dir_all(&dir);

    let dir = scratch_crate("examples-no-testing");
    let manifest = read(dir.join("Cargo.toml"));
    let (before, _) = manifest
        .split_once("# As `workerflow-registry init` writes it")
        .expect("the dev-dependency");
    let (_, after) = manifest
        .split_once("[build-dependencies]")
        .expect("build-dependencies");
    std::fs::write(
        dir.join("Cargo.toml"),
        format!("{before}[build-dependencies]{after}"),
    )
    .expect("write");
    let output = run_in(&dir, ACME);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(!dir.join("tests/examples.rs").exists());
    assert!(
        text(&output.stdout).contains(
            "  2. give the crate's workerflow-runtime feature `testing` in [dev-dependencies] (`workerflow-registry init` adds it), then `new` writes tests/examples.rs, which runs every contract example\n"
        ),
        "{}",
        text(&output.stdout)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn refusals_are_clear_and_write_nothing() {
    let dir = scratch_crate("refuse");
    let registry = || std::fs::read(dir.join("connector-registry/services.json")).expect("read");
    let before = registry();

    let bad = run_in(
        &dir,
        &["new", "--service", "Acme CRM", "--route", "Acme-Contact"],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert_eq!(
        text(&bad.stderr),
        "error: invalid route id `Acme-Contact`\n  = help: a route id is lower-case letters, digits and `_`, starting with a letter, for example `acme_contact`\n"
    );
    let bad_secret = run_in(
        &dir,
        &[
            "new",
            "--service",
            "Acme CRM",
            "--route",
            "acme_x",
            "--secret",
            "acme-key",
        ],
    );
    assert_eq!(bad_secret.status.code(), Some(2));
    assert_eq!(
        text(&bad_secret.stderr),
        "error: invalid secret name `acme-key`\n  = help: a secret name is upper-case letters, digits and `_`, starting with a letter, for example `ACME_KEY`\n"
    );
    assert_eq!(registry(), before);

    let dry = run_in(&dir, &[ACME, &["--dry-run"]].concat());
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry.stderr));
    let shown = text(&dry.stdout);
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with('+') && l[1..].trim() == r#""id": "acme_contact_upsert","#),
        "{shown}"
    );
    assert!(shown.contains("--- would create src/connectors/acme_crm.rs ---"));
    assert!(shown.contains("--- would create tests/connector_acme_crm.rs ---"));
    assert!(shown.ends_with("\n(dry run: nothing was written)\n"));
    assert_eq!(registry(), before);
    assert!(!dir.join("src/connectors").exists());

    assert_eq!(run_in(&dir, ACME).status.code(), Some(0));
    let again = run_in(&dir, ACME);
    assert_eq!(again.status.code(), Some(2));
    assert_eq!(
        text(&again.stderr),
        "error: route `acme_contact_upsert` already exists (service `Acme CRM`)\n  = help: pick another route id, or edit the existing route in connector-registry/services.json\n"
    );
    // A second route of the same service: its connector file exists.
    let second = [
        "new",
        "--service",
        "acme crm",
        "--route",
        "acme_deal_upsert",
    ];
    let exists = run_in(&dir, &second);
    assert_eq!(exists.status.code(), Some(2));
    assert_eq!(
        text(&exists.stderr),
        "error: src/connectors/acme_crm.rs exists\n  = help: pass --force to replace it, or add the handler to it by hand\n"
    );
    let forced = run_in(&dir, &[&second[..], &["--force"]].concat());
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced.stderr));
    let registry_text =
        std::fs::read_to_string(dir.join("connector-registry/services.json")).expect("read");
    assert_eq!(
        registry_text
            .matches("\"connectorName\": \"Acme CRM\"")
            .count(),
        1
    );
    assert!(registry_text.contains("\"id\": \"acme_deal_upsert\""));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_invalid_registry_is_reported_and_left_alone() {
    let dir = scratch_crate("invalid");
    let path = dir.join("connector-registry/services.json");
    let broken = std::fs::read_to_string(&path)
        .expect("read")
        .replace("\"rank\": 1", "\"rank\": \"first\"");
    std::fs::write(&path, &broken).expect("write");
    let output = run_in(&dir, ACME);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.starts_with("error[WF201]"), "{stderr}");
    assert!(stderr.ends_with("note: nothing was written\n"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), broken);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every path under `dir` with its bytes (directories with none), sorted.
fn tree(dir: &Path) -> Vec<(PathBuf, Option<Vec<u8>>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path).expect("stat");
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).expect("read dir") {
                stack.push(entry.expect("entry").path());
            }
            out.push((path, None));
        } else {
            out.push((path.clone(), Some(std::fs::read(&path).expect("read"))));
        }
    }
    out.sort();
    out
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The text between `--- would create <name> ---` and the next section of a dry run.
fn shown_file<'a>(dry_run: &'a str, name: &str) -> &'a str {
    let header = format!("--- would create {name} ---\n");
    let start = dry_run.find(&header).expect("the file is shown") + header.len();
    let rest = &dry_run[start..];
    let end = rest
        .find("\n--- would ")
        .or_else(|| rest.find("\n(dry run"))
        .unwrap_or(rest.len());
    &rest[..end]
}

/// Parses `source` as a Rust file and returns the names of its top-level functions.
fn top_level_fns(source: &str, what: &str) -> Vec<String> {
    let file =
        syn::parse_file(source).unwrap_or_else(|e| panic!("{what} does not parse: {e}\n{source}"));
    file.items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Fn(f) => Some(f.sig.ident.to_string()),
            _ => None,
        })
        .collect()
}

/// A service name and summary that try to end the comments and strings they land in. (A bidi
/// control such as U+202E, and a line break or tab in a name or summary, are refused by the
/// registry's rules, WF312, before anything is written: see
/// `a_bidi_control_in_the_service_name_is_refused`.)
const EVIL_SERVICE: &str = "Evil } fn injected() {} /* */ ` [x] \u{2028}";
const EVIL_SUMMARY: &str = "Sum */ } fn injected_summary() {} \"";

#[test]
fn a_bidi_control_in_the_service_name_is_refused() {
    let dir = scratch_crate("bidi");
    let before = read(dir.join("connector-registry/services.json"));
    for (name, summary) in [
        ("Evil\u{202e}kcals", "A summary."),
        ("Evil\r\n}\nfn injected() {}", "A summary."),
        ("Evil", "Sum\n*/ }\nfn injected_summary() {}"),
    ] {
        let output = run_in(
            &dir,
            &[
                "new",
                "--service",
                name,
                "--route",
                "evil_send",
                "--secret",
                "EVIL_KEY",
                "--summary",
                summary,
            ],
        );
        assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
        assert!(
            text(&output.stderr).contains("error[WF312]"),
            "{}",
            text(&output.stderr)
        );
        assert_eq!(read(dir.join("connector-registry/services.json")), before);
        assert!(!dir.join("src/connectors").exists());
    }
}

#[test]
fn text_from_the_user_never_becomes_code() {
    let dir = scratch_crate("inject");
    let args = [
        "new",
        "--service",
        EVIL_SERVICE,
        "--route",
        "evil_send",
        "--secret",
        "EVIL_KEY",
        "--summary",
        EVIL_SUMMARY,
    ];
    let dry = run_in(&dir, &[&args[..], &["--dry-run"]].concat());
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry.stderr));
    let shown = text(&dry.stdout);
    let output = run_in(&dir, &args);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));

    let connector = read(dir.join("src/connectors/evil_fn_injected_x.rs"));
    let test = read(dir.join("tests/connector_evil_fn_injected_x.rs"));
    let modules = read(dir.join("src/connectors/mod.rs"));
    assert_eq!(
        shown_file(&shown, "src/connectors/evil_fn_injected_x.rs"),
        connector
    );
    assert_eq!(
        shown_file(&shown, "tests/connector_evil_fn_injected_x.rs"),
        test
    );
    assert_eq!(
        top_level_fns(&connector, "the connector"),
        ["evil_send_handler"]
    );
    assert_eq!(
        top_level_fns(&test, "the test"),
        [
            "serve_once",
            "evil_send_posts_the_payload_as_json",
            "evil_send_without_its_secret_is_a_configuration_error"
        ]
    );
    assert!(top_level_fns(&modules, "mod.rs").is_empty());
    // The name is in the comments, on one line, escaped for Markdown.
    assert!(
        connector
            .contains("//! Evil } fn injected() {} /\\* \\*/ \\` \\[x\\]: the `evil_send` route"),
        "{connector}"
    );

    // The module the build generates from the edited registry parses too, with no code from
    // the summary or the name.
    let registry =
        workerflow_registry::Registry::load(dir.join("connector-registry/services.json"))
            .expect("the edited registry is valid");
    let generated = workerflow_registry::internals::generate(&registry);
    let file = syn::parse_file(&generated).unwrap_or_else(|e| panic!("{e}\n{generated}"));
    let mut names = Vec::new();
    for item in &file.items {
        if let syn::Item::Mod(module) = item
            && let Some((_, items)) = &module.content
        {
            names.extend(items.iter().filter_map(|i| match i {
                syn::Item::Static(s) => Some(s.ident.to_string()),
                syn::Item::Mod(m) => Some(format!("mod {}", m.ident)),
                syn::Item::Use(_) => None,
                _ => Some("unexpected item".to_owned()),
            }));
        } else if let syn::Item::Fn(f) = item {
            names.push(format!("fn {}", f.sig.ident));
        }
    }
    assert!(names.contains(&"evil_send".to_owned()), "{names:?}");
    assert!(!names.iter().any(|n| n.contains("injected")), "{names:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn keywords_and_modules_new_did_not_write_are_refused() {
    let dir = scratch_crate("keywords");
    let before = tree(&dir);
    for (service, id) in [
        ("Type", "type"),
        ("Mod", "mod"),
        ("self", "self"),
        ("Crate", "crate"),
    ] {
        let refused = run_in(&dir, &["new", "--service", service, "--route", "x_send"]);
        assert_eq!(refused.status.code(), Some(2), "{service}");
        assert_eq!(
            text(&refused.stderr),
            format!(
                "error: the service id `{id}` is a Rust keyword, so it cannot name the connector module (`mod {id};`)\n  = help: use a service name whose id is not a keyword, such as `{service} API`, or give the service another `id` in connector-registry/services.json\n"
            )
        );
    }
    for route in ["self", "super", "crate"] {
        let refused = run_in(&dir, &["new", "--service", "Acme", "--route", route]);
        assert_eq!(refused.status.code(), Some(2), "{route}");
        assert_eq!(
            text(&refused.stderr),
            format!(
                "error: route id `{route}` is a Rust keyword that no identifier can spell, so no code can name the route\n  = help: pick another route id, for example `{route}_route`\n"
            )
        );
    }
    assert_eq!(tree(&dir), before, "a refusal writes nothing");

    // A keyword that a raw identifier can spell is a fine route id.
    let typed = run_in(
        &dir,
        &[
            "new",
            "--service",
            "Acme",
            "--route",
            "type",
            "--secret",
            "ACME_KEY",
        ],
    );
    assert_eq!(typed.status.code(), Some(0), "{}", text(&typed.stderr));
    let connector = read(dir.join("src/connectors/acme.rs"));
    assert_eq!(top_level_fns(&connector, "the connector"), ["type_handler"]);
    assert!(connector.contains("#[connector(route = r#type)]"));
    assert!(connector.contains("ctx.secret(r#type::ACME_KEY)"));

    // A module the crate wrote itself is never replaced, not even with --force.
    let input = dir.join("src/connectors/input.rs");
    std::fs::write(&input, "//! Hand-written.\npub fn keep() {}\n").expect("write");
    let test = dir.join("tests/connector_outbound.rs");
    std::fs::create_dir_all(dir.join("tests")).expect("mkdir");
    std::fs::write(&test, "// Hand-written test.\n").expect("write");
    let before = tree(&dir);
    for (service, path) in [
        ("Input", "src/connectors/input.rs"),
        ("Outbound", "tests/connector_outbound.rs"),
    ] {
        let refused = run_in(
            &dir,
            &["new", "--service", service, "--route", "y_send", "--force"],
        );
        assert_eq!(refused.status.code(), Some(2), "{service}");
        assert_eq!(
            text(&refused.stderr),
            format!(
                "error: {path} exists and was not written by `workerflow-registry new`\n  = help: `new` never replaces what it did not create, even with --force: pick another service name, or add the handler to the existing module by hand\n"
            )
        );
    }
    assert_eq!(tree(&dir), before, "a refusal writes nothing");
    // A file `new` wrote (its first line is the marker) is replaced with --force.
    let again = run_in(
        &dir,
        &[
            "new",
            "--service",
            "Acme",
            "--route",
            "acme_more",
            "--force",
        ],
    );
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert!(read(dir.join("src/connectors/acme.rs")).contains("route = acme_more"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_failed_write_leaves_everything_as_it_was() {
    let dir = scratch_crate("atomic");
    // `tests` is a file, so the test cannot be written (chmod would not stop root).
    std::fs::write(dir.join("tests"), "not a directory\n").expect("write");
    let before = tree(&dir);
    let failed = run_in(&dir, ACME);
    assert_eq!(failed.status.code(), Some(2));
    let stderr = text(&failed.stderr);
    assert!(
        stderr.starts_with("error: cannot write tests/connector_acme_crm.rs: "),
        "{stderr}"
    );
    assert!(
        stderr.ends_with("\n  = note: nothing was written (every change was undone)\n"),
        "{stderr}"
    );
    assert_eq!(
        tree(&dir),
        before,
        "no file, directory or temp file is left behind"
    );

    std::fs::remove_file(dir.join("tests")).expect("remove");
    let rerun = run_in(&dir, ACME);
    assert_eq!(rerun.status.code(), Some(0), "{}", text(&rerun.stderr));
    assert!(dir.join("tests/connector_acme_crm.rs").is_file());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_crate_name_is_read_as_toml() {
    let dir = scratch_crate("manifest");
    let manifest = dir.join("Cargo.toml");
    let original = read(manifest.clone());
    let dry_run = |edited: &str| {
        std::fs::write(&manifest, edited).expect("write");
        run_in(&dir, &[ACME, &["--dry-run"]].concat())
    };
    for (what, from, to, name) in [
        (
            "a trailing comment",
            "name = \"scaffold-fixture\"",
            "name = \"scaffold-fixture\" # the fixture",
            "scaffold_fixture",
        ),
        (
            "single quotes",
            "name = \"scaffold-fixture\"",
            "name = 'scaffold-fixture'",
            "scaffold_fixture",
        ),
        (
            "a [lib] name and inherited fields",
            "edition = \"2024\"",
            "edition = \"2024\"\nlicense.workspace = true\n\n[lib]\nname = 'fixture_lib' # renamed",
            "fixture_lib",
        ),
    ] {
        assert!(original.contains(from));
        let output = dry_run(&original.replacen(from, to, 1));
        assert_eq!(
            output.status.code(),
            Some(0),
            "{what}: {}",
            text(&output.stderr)
        );
        let test = shown_file(&text(&output.stdout), "tests/connector_acme_crm.rs").to_owned();
        assert!(
            test.contains(&format!("\nuse {name}::registry;\n")),
            "{what}: {test}"
        );
    }
    let inherited =
        dry_run(&original.replacen("name = \"scaffold-fixture\"", "name.workspace = true", 1));
    assert_eq!(inherited.status.code(), Some(2));
    assert_eq!(
        text(&inherited.stderr),
        "error: Cargo.toml: `package.name` is inherited, which Cargo does not allow\n  = help: write the name, as in `name = \"my-connectors\"`\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The scaffold templates are laid out as rustfmt lays them out for names of ordinary length,
/// so what `new` writes (and the snapshots above) is the same whether or not rustfmt is
/// installed; without it, `new` says so. Under `CI` rustfmt must be there, or the comparison
/// would compare nothing.
#[test]
fn the_templates_are_rustfmt_clean_without_rustfmt() {
    let rustfmt = Command::new("rustfmt").arg("--version").output();
    if !rustfmt.is_ok_and(|o| o.status.success()) {
        assert!(
            !workerflow_registry::build_script::on_ci(),
            "rustfmt is missing under CI"
        );
        eprintln!("skipped: rustfmt is not installed");
        return;
    }
    let dir = scratch_crate("rustfmt");
    let no_tools = dir.join("empty-path");
    std::fs::create_dir_all(&no_tools).expect("mkdir");
    for secret in [&["--secret", "ACME_API_KEY"][..], &[]] {
        let mut args = vec![
            "new",
            "--service",
            "Acme CRM",
            "--route",
            "acme_contact_upsert",
        ];
        args.extend_from_slice(secret);
        args.push("--dry-run");
        let formatted = run_in(&dir, &args);
        let raw = Command::new(env!("CARGO_BIN_EXE_workerflow-registry"))
            .args(&args)
            .current_dir(&dir)
            .env("PATH", &no_tools)
            .output()
            .expect("the binary runs");
        assert_eq!(
            formatted.status.code(),
            Some(0),
            "{}",
            text(&formatted.stderr)
        );
        assert_eq!(raw.status.code(), Some(0), "{}", text(&raw.stderr));
        assert_eq!(
            text(&raw.stdout),
            text(&formatted.stdout),
            "secret {secret:?}"
        );
        assert!(!text(&formatted.stderr).contains("rustfmt did not run"));
        assert!(
            text(&raw.stderr).contains("note: rustfmt did not run"),
            "{}",
            text(&raw.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// docs/AGENT_CONNECTOR_PLAYBOOK.md's commands, run as written by `sh` in a scratch crate with
/// `workerflow-registry` on the PATH: each must succeed, in order, and the contract it shows must
/// pass `check` on the route `new` declared, so the playbook an operator hands an agent stays
/// true.
#[test]
fn the_agent_playbook_runs_as_written() {
    let playbook =
        std::fs::read_to_string(workspace_root().join("docs/AGENT_CONNECTOR_PLAYBOOK.md"))
            .expect("the playbook");
    let block = playbook
        .split_once("<!-- playbook:commands -->\n```sh\n")
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .map(|(commands, _)| commands)
        .expect("the playbook's command block");
    let commands: Vec<&str> = block.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(
        commands
            .iter()
            .any(|c| c.starts_with("workerflow-registry new"))
            && commands.iter().any(|c| c.starts_with("cargo test")),
        "{commands:?}"
    );
    let dir = scratch_crate("playbook");
    let bin = dir.join("playbook-bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_workerflow-registry"),
        bin.join("workerflow-registry"),
    )
    .expect("link the CLI");
    let path = std::env::join_paths(std::iter::once(bin.clone()).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH");
    for command in commands {
        let output = in_scratch_crate("sh", &dir)
            .args(["-c", command])
            .env("PATH", &path)
            .env("NO_COLOR", "1")
            .output()
            .expect("sh runs");
        assert!(
            output.status.success(),
            "`{command}` failed:\n{}\n{}",
            text(&output.stdout),
            text(&output.stderr)
        );
    }

    // The contract of section 4, added to the route `new` declared, is valid as written.
    let contract: serde_json::Value = playbook
        .split_once("## 4. The contract to fill in")
        .and_then(|(_, rest)| rest.split_once("```json\n"))
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .map(|(json, _)| serde_json::from_str(json).expect("the contract is JSON"))
        .expect("the playbook's contract block");
    let registry_path = dir.join("connector-registry/services.json");
    let mut registry: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&registry_path).expect("registry"))
            .expect("registry JSON");
    let route = registry["services"]
        .as_array_mut()
        .into_iter()
        .flatten()
        .filter_map(|s| s.get_mut("runtime")?.get_mut("routes")?.as_array_mut())
        .flatten()
        .find(|r| r["id"] == "acme_contact_upsert")
        .expect("the route new declared");
    for (key, value) in contract.as_object().expect("an object") {
        route[key] = value.clone();
    }
    std::fs::write(
        &registry_path,
        serde_json::to_string_pretty(&registry).expect("JSON"),
    )
    .expect("write the registry");
    for args in [&["fmt"][..], &["check"]] {
        let output = run_in(&dir, args);
        assert!(
            output.status.success(),
            "{args:?} with the playbook's contract:\n{}",
            text(&output.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `new --service` without `--route`: the service's whole catalogue entry, every field of the
/// schema present (unknowns `null`), valid and canonical as written; a second time, a refusal.
#[test]
fn a_service_without_a_route_gets_its_whole_catalogue_entry() {
    let dir = scratch_crate("service-only");
    let output = run_in(&dir, &["new", "--service", "Acme CRM"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    insta::assert_snapshot!("scaffold__service_only_output", text(&output.stdout));
    let registry: serde_json::Value =
        serde_json::from_str(&read(dir.join("connector-registry/services.json"))).expect("JSON");
    let service = registry["services"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["connectorName"] == "Acme CRM"))
        .expect("the new service");
    let schema: serde_json::Value = serde_json::from_str(&read(
        workspace_root().join("connector-registry/services.schema.json"),
    ))
    .expect("schema");
    let keys: Vec<&str> = service
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    for required in schema["$defs"]["service"]["required"]
        .as_array()
        .expect("required list")
    {
        let required = required.as_str().expect("name");
        assert!(keys.contains(&required), "{required} missing: {keys:?}");
    }
    assert_eq!(service["id"], "acme_crm");
    assert!(
        !keys.contains(&"runtime"),
        "no routes, no runtime: {keys:?}"
    );
    // Valid (the one warning: no sources yet) and canonical.
    let check = run_in(&dir, &["check"]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
    assert!(
        !text(&check.stderr).contains("WF202"),
        "{}",
        text(&check.stderr)
    );
    let fmt = run_in(&dir, &["fmt", "--check"]);
    assert_eq!(fmt.status.code(), Some(0), "{}", text(&fmt.stderr));
    // A route can be added to it afterwards; the service alone again is refused.
    let again = run_in(&dir, &["new", "--service", "acme crm"]);
    assert_eq!(again.status.code(), Some(2));
    assert_eq!(
        text(&again.stderr),
        "error: service `Acme CRM` is in connector-registry/services.json already\n  = help: add a route to it with `--route ROUTE_ID`, or edit its entry in connector-registry/services.json\n"
    );
    let route = run_in(
        &dir,
        &[
            "new",
            "--service",
            "Acme CRM",
            "--route",
            "acme_contact_upsert",
        ],
    );
    assert_eq!(route.status.code(), Some(0), "{}", text(&route.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 29 point 7: the checks that depend on how many routes the bundled registry has derive
/// it from the registry, so a copy of it grown by `new` passes them too: `check`'s counts, and
/// the harness's configuration (every secret requirement, every base URL setting).
#[test]
fn count_and_configuration_checks_follow_a_registry_grown_by_new() {
    let dir = scratch_crate("grown");
    let registry = dir.join("connector-registry/services.json");
    let bundled = workspace_root().join("connector-registry/services.json");
    std::fs::copy(&bundled, &registry).expect("copy the bundled registry");
    let new = run_in(&dir, ACME);
    assert_eq!(new.status.code(), Some(0), "{}", text(&new.stderr));

    let before = workerflow_registry::Registry::load(&bundled).expect("bundled");
    let after = workerflow_registry::Registry::load(&registry).expect("grown");
    assert_eq!(after.routes().count(), before.routes().count() + 1);
    let check = run_in(&dir, &["check"]);
    assert_eq!(text(&check.stdout), check_summary(&registry));

    let base = "http://127.0.0.1:9";
    let config: std::collections::BTreeMap<String, String> =
        registry_config::harness_config(&after, base)
            .into_iter()
            .collect();
    for (_, route) in after.routes() {
        for requirement in &route.secrets {
            assert!(config.contains_key(&requirement.any_of[0]), "{}", route.id);
        }
        for setting in route.settings.iter().flatten() {
            if setting.kind == workerflow_registry::model::SettingKind::BaseUrl {
                assert_eq!(config.get(&setting.name).map(String::as_str), Some(base));
            }
        }
    }
    // The new route's own secret has its distinctive value.
    assert_eq!(
        config.get("ACME_API_KEY"),
        Some(&registry_config::secret_value("ACME_API_KEY"))
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 30.8: a service whose module name is taken by an item of `src/connectors/mod.rs` is
/// refused (it would be E0428), and `new --force` never writes through a symbolic link, nor
/// into a directory that links out of the crate. Nothing is written in any case.
#[test]
fn module_name_clashes_and_links_out_of_the_crate_are_refused() {
    let dir = scratch_crate("clash");
    std::fs::create_dir_all(dir.join("src/connectors")).expect("mkdir");
    std::fs::write(
        dir.join("src/connectors/mod.rs"),
        "//! Hand-written.\n\npub mod settings {}\n",
    )
    .expect("write");
    let lib = read(dir.join("src/lib.rs"));
    std::fs::write(
        dir.join("src/lib.rs"),
        format!("{lib}\npub mod connectors;\n"),
    )
    .expect("lib");
    let before = tree(&dir);
    let clash = run_in(
        &dir,
        &["new", "--service", "Settings", "--route", "settings_sync"],
    );
    assert_eq!(clash.status.code(), Some(2), "{}", text(&clash.stderr));
    assert_eq!(
        text(&clash.stderr),
        "error: src/connectors/mod.rs already has an item named `settings`; `mod settings;` beside it would not compile (E0428)\n  = help: pick another service name (its id names the module), or rename that item\n"
    );
    assert_eq!(tree(&dir), before, "a refusal wrote something");

    // A scaffolded connector file that is a link to a file outside the crate.
    let outside = std::env::temp_dir().join(format!("wf-outside-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&outside);
    std::fs::create_dir_all(&outside).expect("mkdir");
    let victim = outside.join("victim.rs");
    let marked = format!(
        "{}\n// someone else's file\n",
        workerflow_registry::scaffold::MARKER
    );
    std::fs::write(&victim, &marked).expect("write");
    let first = run_in(&dir, ACME);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let connector = dir.join("src/connectors/acme_crm.rs");
    std::fs::remove_file(&connector).expect("remove");
    std::os::unix::fs::symlink(&victim, &connector).expect("link");
    let mut forced = ACME.to_vec();
    forced[4] = "acme_contact_sync";
    forced.push("--force");
    let linked = run_in(&dir, &forced);
    assert_eq!(linked.status.code(), Some(2), "{}", text(&linked.stderr));
    assert!(
        text(&linked.stderr).starts_with(
            "error: src/connectors/acme_crm.rs is a symbolic link; `new` never writes through one"
        ),
        "{}",
        text(&linked.stderr)
    );
    assert_eq!(read(victim.clone()), marked);

    // A tests/ directory that is a link out of the crate.
    std::fs::remove_file(&connector).expect("remove");
    std::fs::remove_dir_all(dir.join("tests")).expect("rm tests");
    std::os::unix::fs::symlink(&outside, dir.join("tests")).expect("link");
    let out = run_in(
        &dir,
        &["new", "--service", "Beta Mail", "--route", "beta_mail_send"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("leads outside the crate"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read_dir(&outside).expect("ls").count(),
        1,
        "new wrote outside the crate"
    );
    let _ = std::fs::remove_dir_all(&outside);
    let _ = std::fs::remove_dir_all(&dir);
}
