//! What the root package's job and server tests share that needs this package's binary
//! (`CARGO_BIN_EXE_workerflow`); the rest is the `workerflow-test-support` crate.

// Each test binary uses its own part.
#![allow(dead_code)]

pub(crate) mod job_server;
