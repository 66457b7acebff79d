//! `workerflow-registry new` in a copy of `tests/fixtures/scaffold-crate`: the registry edit,
//! the refusals, `--dry-run`, and `cargo test` in the scaffolded crate (the connector works as
//! generated against a loopback server).

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{run_in, text, workspace_root};

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
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), PathBuf::from);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let tested = Command::new(cargo)
        .args(["test", "--quiet"])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("OUT_DIR")
        .env_remove("CARGO_MANIFEST_DIR")
        .env_remove("CARGO_PRIMARY_PACKAGE")
        .env_remove("CARGO_TARGET_TMPDIR")
        .env_remove("ACME_API_KEY")
        .env_remove("WORKERFLOW_ACME_CRM_BASE_URL")
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
