//! The durable job stores behind the async queue, behind one handle: [`JobStore`].
//!
//! - [`sqlite`]: an embedded SQLite database (WAL) in a data directory, the default;
//! - [`postgres`]: a PostgreSQL database shared by any number of `serve` instances.
//!
//! Both keep the same rows (trace id, route, payload, state, attempts, lease, timestamps,
//! error, output), answer an enqueue only after its commit, and lease one job to one worker at a
//! time. The memory queue (`--jobs memory`) is not a store: it lives in `super::jobs`.
//!
//! Each store is behind the crate feature of its name (`sqlite` is on by default), so a server
//! that needs neither compiles neither database client.

// Built with neither store, the durable path type-checks but never runs.
#![cfg_attr(
    not(any(feature = "sqlite", feature = "postgres")),
    allow(unreachable_code, dead_code, unused_variables)
)]

#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sqlite")]
pub mod sqlite;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{Value, json};

#[cfg(feature = "postgres")]
pub use postgres::{PgStore, PgUrl};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

/// A job's state. Both stores keep it as text (`queued`, …), the same word
/// `GET /api/jobs/<traceId>` and `workerflow jobs` show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting to run (again, after a transient failure).
    Queued,
    /// Leased by a worker.
    Running,
    Succeeded,
    /// A permanent failure: never retried (`workerflow jobs retry` queues it again).
    Failed,
    /// A transient failure whose attempts are used up.
    Dead,
}

impl JobState {
    /// As stored and shown.
    pub const fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Dead => "dead",
        }
    }

    /// Done: neither queued nor running.
    pub const fn is_final(self) -> bool {
        !matches!(self, JobState::Queued | JobState::Running)
    }
}

/// The job states' words, in their order (`workerflow jobs list --state`).
pub const STATES: [&str; 5] = [
    JobState::Queued.as_str(),
    JobState::Running.as_str(),
    JobState::Succeeded.as_str(),
    JobState::Failed.as_str(),
    JobState::Dead.as_str(),
];

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored state that is none of the five: a row this server did not write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown job state {0:?}")]
pub struct UnknownJobState(String);

impl FromStr for JobState {
    type Err = UnknownJobState;

    fn from_str(text: &str) -> Result<JobState, UnknownJobState> {
        [
            JobState::Queued,
            JobState::Running,
            JobState::Succeeded,
            JobState::Failed,
            JobState::Dead,
        ]
        .into_iter()
        .find(|state| state.as_str() == text)
        .ok_or_else(|| UnknownJobState(text.to_owned()))
    }
}

/// Why the store could not be opened or used; the message names the file or database (never a
/// password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

/// Why a job was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EnqueueError {
    /// As many jobs as the capacity are queued or running.
    Full(usize),
    /// The database refused the write (disk full, database down, …).
    Unavailable(String),
}

/// One leased job, as a worker runs it.
pub(crate) struct Leased {
    pub trace_id: String,
    pub route: String,
    /// The stored payload, or why it cannot be read back (a damaged row).
    pub payload: Result<Value, String>,
    pub attempts: u32,
}

/// How an attempt ended.
pub(crate) enum Outcome {
    Succeeded(Value),
    /// Transient: queued again after `delay`.
    Retry {
        class: String,
        message: String,
        delay: Duration,
    },
    /// Permanent: never retried.
    Failed {
        class: String,
        message: String,
    },
    /// Transient, but the attempts are used up.
    Dead {
        class: String,
        message: String,
    },
}

/// How an outcome is written: the row's next state, output, error and due time.
pub(crate) struct Finished {
    pub state: JobState,
    pub output: Option<String>,
    pub class: Option<String>,
    pub message: Option<String>,
    /// From now until the job may run again (retries only).
    pub delay: Duration,
}

impl Outcome {
    pub(crate) fn into_finished(self) -> Finished {
        let (state, output, class, message, delay) = match self {
            Outcome::Succeeded(output) => (
                JobState::Succeeded,
                Some(output.to_string()),
                None,
                None,
                Duration::ZERO,
            ),
            Outcome::Retry {
                class,
                message,
                delay,
            } => (JobState::Queued, None, Some(class), Some(message), delay),
            Outcome::Failed { class, message } => (
                JobState::Failed,
                None,
                Some(class),
                Some(message),
                Duration::ZERO,
            ),
            Outcome::Dead { class, message } => (
                JobState::Dead,
                None,
                Some(class),
                Some(message),
                Duration::ZERO,
            ),
        };
        Finished {
            state,
            output,
            class,
            message,
            delay,
        }
    }
}

impl Finished {
    /// Whether the job is done (no longer queued or running).
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    pub(crate) fn is_final(&self) -> bool {
        self.state.is_final()
    }
}

/// What `workerflow jobs retry` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryResult {
    /// The dead or failed job is queued again with fresh attempts.
    Queued,
    /// No job has that trace id.
    NotFound,
    /// The job is in this state, which is not dead or failed.
    NotRetryable(JobState),
}

/// One job as both stores read it: everything but its payload.
pub(crate) struct JobRecord {
    pub trace_id: String,
    pub route: String,
    pub state: JobState,
    pub attempts: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub finished_at_ms: Option<i64>,
    pub next_run_at_ms: i64,
    pub error_class: Option<String>,
    pub error_message: Option<String>,
    pub output: Option<String>,
    /// The worker holding a running job (`host:pid:id`), and when its lease runs out.
    pub lease_owner: Option<String>,
    pub lease_until_ms: Option<i64>,
}

impl JobRecord {
    /// The JSON of `GET /api/jobs/<traceId>` and `workerflow jobs show`.
    pub(crate) fn into_json(self) -> Value {
        let error = self
            .error_class
            .map(|class| json!({ "class": class, "message": self.error_message }));
        // A lease past its expiry is a worker that stopped renewing: a crashed instance, whose
        // job the next lease takes over.
        let lease = self.lease_owner.map(|owner| {
            json!({
                "owner": owner,
                "expiresAtMs": self.lease_until_ms,
                "expired": self.lease_until_ms.is_some_and(|until| until <= now_ms()),
            })
        });
        json!({
            "traceId": self.trace_id,
            "route": self.route,
            "state": self.state,
            "attempts": self.attempts,
            "createdAtMs": self.created_at_ms,
            "updatedAtMs": self.updated_at_ms,
            "finishedAtMs": self.finished_at_ms,
            "nextRunAtMs": self.next_run_at_ms,
            "error": error,
            "lease": lease,
            "output": self.output.and_then(|text| serde_json::from_str::<Value>(&text).ok()),
        })
    }
}

/// Where `--jobs` points, for the stores that persist.
#[derive(Debug, Clone)]
pub enum StoreLocation {
    /// The data directory holding `jobs.sqlite3`.
    Sqlite(PathBuf),
    /// A PostgreSQL database.
    #[cfg(feature = "postgres")]
    Postgres(PgUrl),
}

/// A durable job store: SQLite or PostgreSQL, one interface.
#[derive(Debug)]
pub enum JobStore {
    #[cfg(feature = "sqlite")]
    Sqlite(SqliteStore),
    // Boxed: it holds its connections' state; the enum stays the size of a SQLite handle.
    #[cfg(feature = "postgres")]
    Postgres(Box<PgStore>),
    /// Built with neither store: no value of this type exists.
    #[cfg(not(any(feature = "sqlite", feature = "postgres")))]
    #[doc(hidden)]
    None(std::convert::Infallible),
}

/// `$body` for whichever store `$self` is, with the store bound to `$store`.
macro_rules! each_store {
    ($self:expr, $store:ident => $body:expr) => {
        match $self {
            #[cfg(feature = "sqlite")]
            JobStore::Sqlite($store) => $body,
            #[cfg(feature = "postgres")]
            JobStore::Postgres($store) => $body,
            #[cfg(not(any(feature = "sqlite", feature = "postgres")))]
            JobStore::None(never) => match *never {},
        }
    };
}

impl JobStore {
    /// Opens the store (creating the file, the tables or the schema as needed) or says why not.
    /// `capacity` bounds the jobs queued or running at once.
    pub async fn open(location: &StoreLocation, capacity: usize) -> Result<JobStore, StoreError> {
        match location {
            #[cfg(feature = "sqlite")]
            StoreLocation::Sqlite(dir) => SqliteStore::open(dir, capacity).map(JobStore::Sqlite),
            #[cfg(not(feature = "sqlite"))]
            StoreLocation::Sqlite(_) => {
                let _ = capacity;
                Err(StoreError(
                    "this server was built without the SQLite job store (the `sqlite` feature of workerflow-server); use --jobs memory or build it with that feature".to_owned(),
                ))
            }
            #[cfg(feature = "postgres")]
            StoreLocation::Postgres(url) => PgStore::connect(url, capacity)
                .await
                .map(|store| JobStore::Postgres(Box::new(store))),
        }
    }

    /// `sqlite` or `postgres`, as `/health/config` names it.
    pub fn kind(&self) -> &'static str {
        match self {
            #[cfg(feature = "sqlite")]
            JobStore::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            JobStore::Postgres(_) => "postgres",
            #[cfg(not(any(feature = "sqlite", feature = "postgres")))]
            JobStore::None(never) => match *never {},
        }
    }

    /// The file, or the database without its password.
    pub fn location(&self) -> String {
        match self {
            #[cfg(feature = "sqlite")]
            JobStore::Sqlite(store) => store.path().display().to_string(),
            #[cfg(feature = "postgres")]
            JobStore::Postgres(store) => store.target().to_owned(),
            #[cfg(not(any(feature = "sqlite", feature = "postgres")))]
            JobStore::None(never) => match *never {},
        }
    }

    pub fn capacity(&self) -> usize {
        each_store!(self, store => store.capacity())
    }

    /// The SQLite file, when that is the store.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            #[cfg(feature = "sqlite")]
            JobStore::Sqlite(store) => Some(store.path()),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// Stores a new job; `Ok` only once it is committed.
    pub(crate) async fn enqueue(
        &self,
        trace_id: &str,
        route: &str,
        payload: &Value,
    ) -> Result<(), EnqueueError> {
        each_store!(self, store => store.enqueue(trace_id, route, payload).await)
    }

    /// Takes the next due job (or one whose lease expired) for `owner`, for `lease`.
    pub(crate) async fn lease(
        &self,
        owner: &str,
        lease: Duration,
    ) -> Result<Option<Leased>, StoreError> {
        each_store!(self, store => store.lease(owner, lease).await)
    }

    /// Extends `owner`'s lease of a running job; a lost lease is left lost.
    pub(crate) async fn renew(&self, trace_id: &str, owner: &str, lease: Duration) {
        match self {
            #[cfg(feature = "sqlite")]
            JobStore::Sqlite(store) => store.renew(trace_id, owner, lease),
            #[cfg(feature = "postgres")]
            JobStore::Postgres(store) => store.renew(trace_id, owner, lease).await,
            #[cfg(not(any(feature = "sqlite", feature = "postgres")))]
            JobStore::None(never) => match *never {},
        }
    }

    /// Records the attempt's outcome; `false` when the lease was lost meanwhile.
    pub(crate) async fn finish(
        &self,
        trace_id: &str,
        owner: &str,
        outcome: Outcome,
    ) -> Result<bool, StoreError> {
        each_store!(self, store => store.finish(trace_id, owner, outcome).await)
    }

    /// Gives the jobs `owner` still holds back to the queue (at the drain deadline).
    pub(crate) async fn release(&self, owner: &str) -> Result<usize, StoreError> {
        each_store!(self, store => store.release(owner).await)
    }

    /// One job by trace id, as JSON (never its payload).
    pub async fn get(&self, trace_id: &str) -> Result<Option<Value>, StoreError> {
        let record: Result<Option<JobRecord>, StoreError> =
            each_store!(self, store => store.get(trace_id).await);
        Ok(record?.map(JobRecord::into_json))
    }

    /// The jobs, oldest first, optionally in one state.
    pub async fn list(&self, state: Option<JobState>) -> Result<Vec<Value>, StoreError> {
        let records: Result<Vec<JobRecord>, StoreError> =
            each_store!(self, store => store.list(state).await);
        Ok(records?.into_iter().map(JobRecord::into_json).collect())
    }

    /// Queues a dead or failed job again with fresh attempts.
    pub async fn retry(&self, trace_id: &str) -> Result<RetryResult, StoreError> {
        each_store!(self, store => store.retry(trace_id).await)
    }

    /// Jobs queued or running.
    pub async fn depth(&self) -> Result<usize, StoreError> {
        each_store!(self, store => store.depth().await)
    }

    /// Deletes the finished jobs (succeeded, failed, dead) that finished more than `older_than`
    /// ago; returns how many.
    pub async fn purge(&self, older_than: Duration) -> Result<usize, StoreError> {
        each_store!(self, store => store.purge(older_than).await)
    }
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}

pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
