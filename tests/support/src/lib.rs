//! What the workspace's test binaries share, in one home instead of files included by path: a
//! throwaway PostgreSQL cluster (`pg_cluster`), a `workerflow serve` child's stderr
//! (`child_output`), a package's linked crates (`cargo_tree`), log capture (`log_capture`) and the configuration the loopback harness
//! derives from a registry (`registry_config`). A dev-dependency only; nothing ships it.

pub mod cargo_tree;
pub mod child_output;
pub mod log_capture;
pub mod pg_cluster;
pub mod registry_config;
