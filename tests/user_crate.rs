//! The path a user takes: `tests/user-crate` is a crate of its own (own workspace, own registry,
//! one-line `build.rs`, two connectors). This test builds it with the same cargo and target
//! directory, runs its tests, and runs its binary with secrets from the environment.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

/// `cargo <args>` on the user crate, sharing this workspace's target directory so the
/// dependencies built for the workspace are reused.
fn cargo(subcommand: &str, args: &[&str], secrets: &[(&str, &str)]) -> Output {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args([subcommand, "--quiet", "--manifest-path"])
        .arg(root().join("tests/user-crate/Cargo.toml"))
        .args(args)
        .env("CARGO_TARGET_DIR", target_dir())
        // Variables cargo set for this test must not leak into the nested build.
        .env_remove("OUT_DIR")
        .env_remove("CARGO_MANIFEST_DIR")
        .env_remove("CARGO_PRIMARY_PACKAGE")
        .env_remove("CARGO_TARGET_TMPDIR")
        .env_remove("COUNTER_KEY")
        .env_remove("LEGACY_COUNTER_KEY")
        .env_remove("GREETER_TOKEN");
    for (name, value) in secrets {
        command.env(name, value);
    }
    match command.output() {
        Ok(output) => output,
        Err(error) => panic!("cannot run cargo: {error}"),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_user_crate_builds_tests_and_dispatches_both_connectors() {
    let tested = cargo("test", &[], &[]);
    assert!(
        tested.status.success(),
        "cargo test in tests/user-crate failed:\n{}\n{}",
        text(&tested.stdout),
        text(&tested.stderr)
    );

    let secrets = [("GREETER_TOKEN", "tok_env"), ("COUNTER_KEY", "key_env")];
    let greeted = cargo(
        "run",
        &["--", "greet", r#"{"body":{"name":"Grace"}}"#],
        &secrets,
    );
    assert_eq!(
        text(&greeted.stdout).trim(),
        r#"{"ok":true,"route":"greet","greeting":"Hello, Grace!","token_from":"GREETER_TOKEN"}"#,
        "{}",
        text(&greeted.stderr)
    );
    let counted = cargo(
        "run",
        &["--", "word_count", r#"{"text":"a b c d"}"#],
        &secrets,
    );
    assert!(counted.status.success(), "{}", text(&counted.stderr));
    assert!(
        text(&counted.stdout).contains(r#""words":4"#),
        "{}",
        text(&counted.stdout)
    );

    let unconfigured = cargo("run", &["--", "check-config"], &[]);
    assert_eq!(unconfigured.status.code(), Some(1));
    assert_eq!(
        text(&unconfigured.stdout),
        "greet: missing Greeter token. Checked: GREETER_TOKEN\n\
         word_count: missing counter key. Checked: COUNTER_KEY, LEGACY_COUNTER_KEY\n"
    );
}

/// Renaming a contract field in the registry breaks the handler that uses it, at the handler's
/// use: the generated `Input` is the contract, so the two cannot drift apart silently.
#[test]
fn renaming_a_contract_field_fails_to_compile_at_the_handler() {
    let scratch = target_dir().join("user-crate-renamed");
    let _ = std::fs::remove_dir_all(&scratch);
    copy_tree(&root().join("tests/user-crate"), &scratch);
    // The copy lives elsewhere: its path dependencies point back at this checkout.
    let manifest = scratch.join("Cargo.toml");
    let cargo_toml = std::fs::read_to_string(&manifest).expect("Cargo.toml");
    let root_path = root().display().to_string();
    std::fs::write(
        &manifest,
        cargo_toml.replace("path = \"../../", &format!("path = \"{root_path}/")),
    )
    .expect("rewrite Cargo.toml");
    let registry = scratch.join("connector-registry/services.json");
    let declared = std::fs::read_to_string(&registry).expect("services.json");
    assert!(
        declared.contains("\"name\""),
        "the greet contract declares `name`"
    );
    std::fs::write(&registry, declared.replace("\"name\"", "\"fullName\"")).expect("rename");

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let built = Command::new(cargo)
        .args(["build", "--quiet", "--lib", "--manifest-path"])
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", target_dir())
        .env_remove("OUT_DIR")
        .env_remove("CARGO_MANIFEST_DIR")
        .env_remove("CARGO_PRIMARY_PACKAGE")
        .output()
        .expect("cargo build");
    let stderr = text(&built.stderr);
    assert!(!built.status.success(), "the renamed field still compiled");
    assert!(
        stderr.contains("error[E0609]: no field `name` on type `Input`"),
        "{stderr}"
    );
    // At the handler's use of the field.
    assert!(stderr.contains("input.name.trim()"), "{stderr}");
    assert!(stderr.contains("--> src/lib.rs:"), "{stderr}");
    assert!(
        stderr.contains("available field is: `full_name`"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&scratch);
}

/// Copies a directory tree (files and folders only; the copy's `target/` is left out).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy");
    for entry in std::fs::read_dir(from).expect("read the crate") {
        let entry = entry.expect("entry");
        let path = entry.path();
        if entry.file_name() == "target" {
            continue;
        }
        let destination = to.join(entry.file_name());
        if path.is_dir() {
            copy_tree(&path, &destination);
        } else {
            std::fs::copy(&path, &destination).expect("copy a file");
        }
    }
}
