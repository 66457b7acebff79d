//! The connection rows in whichever store holds the jobs: one handle over memory, SQLite and
//! PostgreSQL, with the one locked read-modify-write the refresh, the callback, the deletion
//! and re-encryption use.

use std::time::Duration;

use super::memory::MemoryRows;
#[cfg(feature = "postgres")]
use super::postgres::{PgLocked, PgRows};
use super::rows::{FlowRow, LockError, StoredRow};
#[cfg(feature = "sqlite")]
use super::sqlite::{SqliteLocked, SqliteRows};
use crate::error::StoreError;
use crate::store::JobStore;

pub(crate) enum Backend {
    Memory(MemoryRows),
    #[cfg(feature = "sqlite")]
    Sqlite(SqliteRows),
    #[cfg(feature = "postgres")]
    Postgres(Box<PgRows>),
}

/// A row held for writing (a transaction with the row locked, or the memory store's turn):
/// [`Locked::write`] commits, [`Locked::release`] (or a drop) rolls back.
pub(crate) enum Locked {
    Memory {
        rows: MemoryRows,
        row: Option<StoredRow>,
    },
    #[cfg(feature = "sqlite")]
    Sqlite(SqliteLocked),
    #[cfg(feature = "postgres")]
    Postgres(PgLocked),
}

macro_rules! each {
    ($self:expr, $rows:ident => $body:expr) => {
        match $self {
            Backend::Memory($rows) => $body,
            #[cfg(feature = "sqlite")]
            Backend::Sqlite($rows) => $body,
            #[cfg(feature = "postgres")]
            Backend::Postgres($rows) => $body,
        }
    };
}

impl Backend {
    /// The store of the jobs' database: its tables are created beside the jobs' when missing.
    pub(crate) async fn beside(jobs: &JobStore) -> Result<Backend, StoreError> {
        match jobs {
            JobStore::Memory(_) => Ok(Backend::Memory(MemoryRows::default())),
            #[cfg(feature = "sqlite")]
            JobStore::Sqlite(store) => SqliteRows::open(store.path()).await.map(Backend::Sqlite),
            #[cfg(feature = "postgres")]
            JobStore::Postgres(store) => PgRows::open(store.url())
                .await
                .map(|rows| Backend::Postgres(Box::new(rows))),
        }
    }

    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Backend::Memory(_) => "memory",
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            Backend::Postgres(_) => "postgres",
        }
    }

    pub(crate) async fn get(&self, name: &str) -> Result<Option<StoredRow>, StoreError> {
        each!(self, rows => rows.get(name).await)
    }

    /// Every row, sorted by name.
    pub(crate) async fn list(&self) -> Result<Vec<StoredRow>, StoreError> {
        each!(self, rows => rows.list().await)
    }

    /// Stores a new flow and deletes those expired for a day (never consumed).
    pub(crate) async fn put_flow(&self, flow: FlowRow, now: i64) -> Result<(), StoreError> {
        each!(self, rows => rows.put_flow(flow, now - 86_400).await)
    }

    /// Reads and deletes a flow in one transaction: a state is used once.
    pub(crate) async fn take_flow(&self, state_hash: &str) -> Result<Option<FlowRow>, StoreError> {
        each!(self, rows => rows.take_flow(state_hash).await)
    }

    /// The row `name` (or its absence) held for writing, waiting at most `wait` for another
    /// holder.
    pub(crate) async fn lock(&self, name: &str, wait: Duration) -> Result<Locked, LockError> {
        #[cfg(not(any(feature = "sqlite", feature = "postgres")))]
        let _ = wait;
        match self {
            Backend::Memory(rows) => Ok(Locked::Memory {
                rows: rows.clone(),
                row: rows.get(name).await?,
            }),
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(rows) => rows.lock(name, wait).await.map(Locked::Sqlite),
            #[cfg(feature = "postgres")]
            Backend::Postgres(rows) => rows.lock(name, wait).await.map(Locked::Postgres),
        }
    }
}

impl Locked {
    /// The row as it is now (read under the lock).
    pub(crate) fn row(&self) -> Option<&StoredRow> {
        match self {
            Locked::Memory { row, .. } => row.as_ref(),
            #[cfg(feature = "sqlite")]
            Locked::Sqlite(locked) => locked.row.as_ref(),
            #[cfg(feature = "postgres")]
            Locked::Postgres(locked) => locked.row.as_ref(),
        }
    }

    /// Inserts or replaces the row and commits.
    pub(crate) async fn write(self, row: StoredRow) -> Result<(), StoreError> {
        match self {
            Locked::Memory { rows, .. } => {
                rows.put(row).await;
                Ok(())
            }
            #[cfg(feature = "sqlite")]
            Locked::Sqlite(locked) => locked.write(row).await,
            #[cfg(feature = "postgres")]
            Locked::Postgres(locked) => locked.write(row).await,
        }
    }

    /// Lets go without writing.
    pub(crate) async fn release(self) {
        match self {
            Locked::Memory { .. } => {}
            #[cfg(feature = "sqlite")]
            Locked::Sqlite(locked) => locked.release().await,
            #[cfg(feature = "postgres")]
            Locked::Postgres(locked) => locked.release().await,
        }
    }
}
