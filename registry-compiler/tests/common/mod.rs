//! Helpers shared by the tests that run the `workerflow-registry` binary.

// Each test binary uses its own subset of these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_owned()
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Runs the binary in `dir` with colour off, as a user in that directory would.
pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_workerflow-registry"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .output()
        .expect("the binary runs")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What `check` prints for the valid registry at `path`, its counts taken from the model
/// (`Registry::load`), so no test states how many services or routes a registry has.
pub fn check_summary(path: &Path) -> String {
    let registry = workerflow_registry::Registry::load(path).expect("the registry is valid");
    format!(
        "ok: {} services, {} runtime routes\n",
        registry.services.len(),
        registry.routes().count()
    )
}
