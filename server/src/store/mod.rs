//! The job stores behind the async queue, behind one handle: [`JobStore`]. The one worker loop
//! (`crate::jobs`) leases, runs and finishes jobs through it, whichever store it is:
//!
//! - `memory`: the jobs kept in this process (`--jobs memory`), lost on a crash;
//! - `sqlite`: an embedded SQLite database (WAL) in a data directory, the default;
//! - `postgres`: a PostgreSQL database shared by any number of `serve` instances.
//!
//! Every store takes a job only when there is room, leases one job to one worker at a time (and
//! a job whose lease expired to the next worker), retries after a backoff and says what it
//! holds. The durable ones keep the same rows (trace id, route, payload, state, attempts, lease,
//! timestamps, error, output), answer an enqueue only after its commit and keep finished jobs
//! until they are purged; the memory store forgets a job once it is done.
//!
//! Each durable store is behind the crate feature of its name (`sqlite` is on by default), so a
//! server that needs neither compiles neither database client.

#[cfg(any(test, feature = "testing"))]
pub mod conformance;
mod job;
pub mod memory;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sqlite")]
pub mod sqlite;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

pub use crate::error::{StoreError, UnknownJobState};
pub(crate) use job::{EnqueueError, JobRecord, Leased, Outcome};
pub use job::{JobState, RetryResult, STATES};
pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::{PgStore, PgUrl};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

/// Where `--jobs` points, for the stores that persist.
#[derive(Debug, Clone)]
pub enum StoreLocation {
    /// The data directory holding `jobs.sqlite3`.
    Sqlite(PathBuf),
    /// A PostgreSQL database.
    #[cfg(feature = "postgres")]
    Postgres(PgUrl),
}

/// A job store: memory, SQLite or PostgreSQL, one interface.
#[derive(Debug)]
pub enum JobStore {
    /// In memory: accepted jobs are lost on a crash.
    Memory(MemoryStore),
    #[cfg(feature = "sqlite")]
    /// A SQLite file in a data directory.
    Sqlite(SqliteStore),
    // Boxed: it holds its connections' state; the enum stays the size of a SQLite handle.
    #[cfg(feature = "postgres")]
    /// A PostgreSQL database, shared by instances.
    Postgres(Box<PgStore>),
}

/// `$body` for whichever store `$self` is, with the store bound to `$store`.
macro_rules! each_store {
    ($self:expr, $store:ident => $body:expr) => {
        match $self {
            JobStore::Memory($store) => $body,
            #[cfg(feature = "sqlite")]
            JobStore::Sqlite($store) => $body,
            #[cfg(feature = "postgres")]
            JobStore::Postgres($store) => $body,
        }
    };
}

impl JobStore {
    /// The in-memory store, holding at most `capacity` jobs waiting to run.
    pub fn memory(capacity: usize) -> JobStore {
        JobStore::Memory(MemoryStore::new(capacity))
    }

    /// Opens a durable store (creating the file, the tables or the schema as needed) or says
    /// why not. `capacity` bounds the jobs queued or running at once.
    pub async fn open(location: &StoreLocation, capacity: usize) -> Result<JobStore, StoreError> {
        match location {
            #[cfg(feature = "sqlite")]
            StoreLocation::Sqlite(dir) => SqliteStore::open(dir, capacity).map(JobStore::Sqlite),
            #[cfg(not(feature = "sqlite"))]
            StoreLocation::Sqlite(_) => {
                let _ = capacity;
                Err(StoreError::SqliteNotBuilt)
            }
            #[cfg(feature = "postgres")]
            StoreLocation::Postgres(url) => PgStore::connect(url, capacity)
                .await
                .map(|store| JobStore::Postgres(Box::new(store))),
        }
    }

    /// `memory`, `sqlite` or `postgres`, as `/health/config` names it.
    pub fn kind(&self) -> &'static str {
        match self {
            JobStore::Memory(_) => "memory",
            #[cfg(feature = "sqlite")]
            JobStore::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            JobStore::Postgres(_) => "postgres",
        }
    }

    /// Whether accepted jobs outlive this process. At shutdown a durable store keeps what is
    /// left for the next start, while the memory store's jobs run now or are lost; and only a
    /// durable store keeps a finished job's record.
    pub fn is_durable(&self) -> bool {
        !matches!(self, JobStore::Memory(_))
    }

    /// The file, or the database without its password (`memory` for the memory store).
    pub fn location(&self) -> String {
        match self {
            JobStore::Memory(_) => "memory".to_owned(),
            #[cfg(feature = "sqlite")]
            JobStore::Sqlite(store) => store.path().display().to_string(),
            #[cfg(feature = "postgres")]
            JobStore::Postgres(store) => store.target().to_owned(),
        }
    }

    /// How many jobs may wait at once (memory) or be leased at once (durable stores).
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
            JobStore::Memory(store) => store.renew(trace_id, owner, lease).await,
            #[cfg(feature = "sqlite")]
            JobStore::Sqlite(store) => store.renew(trace_id, owner, lease),
            #[cfg(feature = "postgres")]
            JobStore::Postgres(store) => store.renew(trace_id, owner, lease).await,
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
        Ok(self
            .records(state)
            .await?
            .into_iter()
            .map(JobRecord::into_json)
            .collect())
    }

    /// [`JobStore::list`], as records.
    pub(crate) async fn records(
        &self,
        state: Option<JobState>,
    ) -> Result<Vec<JobRecord>, StoreError> {
        each_store!(self, store => store.list(state).await)
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
