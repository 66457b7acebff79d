//! What the handlers and the workers share: the routes and secrets, the front door's settings,
//! the job store, and the control that stops the workers and counts the jobs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use workerflow_runtime::{RouteTable, SecretSource, SecretValue, TraceId};

use crate::connections::Connections;
use crate::store::JobStore;

pub(crate) struct AppState {
    pub registry: RouteTable,
    pub openapi_json: &'static str,
    pub secrets: Arc<dyn SecretSource>,
    pub token: Option<SecretValue>,
    pub body_limit: usize,
    pub body_timeout: Duration,
    pub store: Arc<JobStore>,
    pub control: Control,
    /// The OAuth connections; `None` without connection keys.
    pub connections: Option<Connections>,
    /// Where callers reach this server (`--public-url`): the OAuth redirect URI's base.
    pub public_url: String,
}

/// Counts for the shutdown report: this server's jobs, whatever the store.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JobCounts {
    /// Jobs accepted (answered 202).
    pub accepted: u64,
    /// Jobs whose route returned its output.
    pub succeeded: u64,
    /// Jobs that failed for good (or whose handler panicked); each is logged with its status.
    pub failed: u64,
}

/// Shared by the handlers and the workers: stop taking jobs once closing, wake the workers, and
/// count.
pub(crate) struct Control {
    closing: AtomicBool,
    /// Woken when a job is accepted, and when closing.
    pub wake: Notify,
    /// Woken once by `close`, for the tasks that sleep long (the retention purge).
    pub stopped: Notify,
    /// This server's name as a lease owner: `host:pid:id`.
    pub owner: String,
    accepted: AtomicU64,
    succeeded: AtomicU64,
    failed: AtomicU64,
}

impl Control {
    pub(crate) fn new() -> Self {
        Control {
            closing: AtomicBool::new(false),
            wake: Notify::new(),
            stopped: Notify::new(),
            owner: format!(
                "{}:{}:{}",
                host_name(),
                std::process::id(),
                TraceId::generate()
            ),
            accepted: AtomicU64::new(0),
            succeeded: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    /// No new jobs are accepted; workers stop once there is nothing left for them.
    pub(crate) fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        self.wake.notify_waiters();
        self.stopped.notify_waiters();
    }

    pub(crate) fn accepted(&self) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }

    /// A job done for good: succeeded or not.
    pub(crate) fn finished(&self, succeeded: bool) {
        let count = if succeeded {
            &self.succeeded
        } else {
            &self.failed
        };
        count.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn counts(&self) -> JobCounts {
        JobCounts {
            accepted: self.accepted.load(Ordering::Relaxed),
            succeeded: self.succeeded.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}

/// This machine's name, so a lease owner says where its worker ran (`unknown` when not known).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_graphic()))
        .unwrap_or_else(|| "unknown".to_owned())
}
