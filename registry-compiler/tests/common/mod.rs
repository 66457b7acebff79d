//! Helpers shared by the tests that run the `workerflow-registry` binary.

// Each test binary uses its own subset of these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_owned()
}

pub(crate) fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Runs the binary in `dir` with colour off, as a user in that directory would.
pub(crate) fn run_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_workerflow-registry"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .output()
        .expect("the binary runs")
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `program` run in the scratch crate `dir` as a user would run it there: sharing this
/// workspace's target directory (as tests/user_crate.rs does, so dependencies are not built
/// again), without the variables Cargo set for this test, and without the scaffolded routes'
/// secrets and settings.
pub(crate) fn in_scratch_crate(program: impl AsRef<std::ffi::OsStr>, dir: &Path) -> Command {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), PathBuf::from);
    let mut command = Command::new(program);
    command
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("OUT_DIR")
        .env_remove("CARGO_MANIFEST_DIR")
        .env_remove("CARGO_PRIMARY_PACKAGE")
        .env_remove("CARGO_TARGET_TMPDIR")
        .env_remove("ACME_API_KEY")
        .env_remove("WORKERFLOW_ACME_BASE_URL")
        .env_remove("WORKERFLOW_ACME_CRM_BASE_URL");
    command
}

/// What `check` prints for the valid registry at `path`, its counts taken from the model
/// (`Registry::load`), so no test states how many services or routes a registry has.
pub(crate) fn check_summary(path: &Path) -> String {
    let registry = workerflow_registry::Registry::load(path).expect("the registry is valid");
    format!(
        "ok: {} services, {} runtime routes\n",
        registry.services.len(),
        registry.routes().count()
    )
}
