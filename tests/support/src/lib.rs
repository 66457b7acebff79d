//! What the workspace's test binaries share, in one home instead of files included by path: a
//! throwaway PostgreSQL cluster (`pg_cluster`), a `workerflow serve` child's stderr
//! (`child_output`), a package's linked crates (`cargo_tree`), log capture (`log_capture`), the
//! configuration the loopback harness derives from a registry (`registry_config`) and a loopback
//! fake OAuth 2.0 provider with a fake HubSpot API that checks its bearer tokens
//! (`oauth_provider`). A dev-dependency only; nothing ships it.

pub mod cargo_tree;
pub mod child_output;
pub mod log_capture;
pub mod oauth_provider;
pub mod pg_cluster;
pub mod registry_config;

use std::path::PathBuf;

/// A fresh directory `workerflow-<name>-<pid>-<nanos>` under the system temp dir, unique across
/// the test binaries that run at once (a passing test removes it).
pub fn scratch_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    let dir =
        std::env::temp_dir().join(format!("workerflow-{name}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}
