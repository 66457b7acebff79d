//! The connection rows of a SQLite job store: tables `connections` and `connection_flows` in
//! `connections.sqlite3` (WAL) beside the jobs' file, in the same data directory. A row is held
//! during a refresh with `BEGIN IMMEDIATE`, which is the whole file's write lock (taken within
//! a busy timeout) and so also serializes processes sharing the directory; in a file of its own
//! that lock, held across the token request, never delays a job being queued. Each operation
//! opens its own connection on a blocking thread.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, params};

use super::rows::LockError;
use super::rows::{FlowRow, StoredRow};
use crate::error::StoreError;

/// How long a plain read or write waits for the write lock.
const BUSY: Duration = Duration::from_secs(5);

const COLUMNS: &str = "name, service, state, key_id, access_token, refresh_token, expires_at, \
                       scopes, created_at, updated_at, refreshed_at, refresh_count";

/// The connection store's file in the job store's data directory.
pub(crate) const FILE_NAME: &str = "connections.sqlite3";

pub(crate) struct SqliteRows {
    path: PathBuf,
    /// Kept open for the reads every OAuth call makes (opening a connection costs more than
    /// the read); in WAL mode a reader never waits for a writer.
    reader: Arc<Mutex<Connection>>,
}

fn connect(path: &Path, busy: Duration) -> Result<Connection, StoreError> {
    let connection = Connection::open(path)
        .map_err(|error| StoreError::sqlite(format!("cannot open {}", path.display()), error))?;
    connection
        .busy_timeout(busy)
        .map_err(|error| StoreError::sqlite(format!("cannot set up {}", path.display()), error))?;
    Ok(connection)
}

fn read_row(row: &Row<'_>) -> rusqlite::Result<StoredRow> {
    Ok(StoredRow {
        name: row.get(0)?,
        service: row.get(1)?,
        state: row.get(2)?,
        key_id: row.get(3)?,
        access_token: row.get(4)?,
        refresh_token: row.get(5)?,
        expires_at: row.get(6)?,
        scopes: row.get(7)?,
        created_at: row.get(8)?,
        updated_at: row.get(9)?,
        refreshed_at: row.get(10)?,
        refresh_count: row.get(11)?,
    })
}

fn select(connection: &Connection, name: &str) -> rusqlite::Result<Option<StoredRow>> {
    connection
        .query_row(
            &format!("SELECT {COLUMNS} FROM connections WHERE name = ?1"),
            [name],
            read_row,
        )
        .optional()
}

fn upsert(connection: &Connection, row: &StoredRow) -> rusqlite::Result<()> {
    connection.execute(
        &format!(
            "INSERT INTO connections ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
             ON CONFLICT (name) DO UPDATE SET service = excluded.service, state = excluded.state,
                 key_id = excluded.key_id, access_token = excluded.access_token,
                 refresh_token = excluded.refresh_token, expires_at = excluded.expires_at,
                 scopes = excluded.scopes, created_at = excluded.created_at,
                 updated_at = excluded.updated_at, refreshed_at = excluded.refreshed_at,
                 refresh_count = excluded.refresh_count"
        ),
        params![
            row.name,
            row.service,
            row.state,
            row.key_id,
            row.access_token,
            row.refresh_token,
            row.expires_at,
            row.scopes,
            row.created_at,
            row.updated_at,
            row.refreshed_at,
            row.refresh_count
        ],
    )?;
    Ok(())
}

/// Runs `work` on a blocking thread (SQLite calls block, up to the busy timeout).
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|_| Err(StoreError::Closed("a connection store thread stopped")))
}

impl SqliteRows {
    /// Creates `FILE_NAME` beside the job store's file `jobs`, and its tables, when missing.
    pub(crate) async fn open(jobs: &Path) -> Result<SqliteRows, StoreError> {
        let owned = jobs.with_file_name(FILE_NAME);
        blocking(move || {
            // 0600 like the jobs' file (SQLite gives its `-wal` and `-shm` the same mode): the
            // tokens are encrypted, the names, services and times are not.
            crate::store::sqlite::create_private_file(&owned).map_err(|error| {
                StoreError::io(format!("cannot create {}", owned.display()), error)
            })?;
            let connection = connect(&owned, BUSY)?;
            connection
                .execute_batch(
                    "PRAGMA journal_mode = WAL;
                     BEGIN IMMEDIATE;
                     CREATE TABLE IF NOT EXISTS connections (
                         name TEXT PRIMARY KEY,
                         service TEXT NOT NULL,
                         state TEXT NOT NULL,
                         key_id TEXT NOT NULL,
                         access_token BLOB,
                         refresh_token BLOB,
                         expires_at INTEGER,
                         scopes TEXT NOT NULL,
                         created_at INTEGER NOT NULL,
                         updated_at INTEGER NOT NULL,
                         refreshed_at INTEGER,
                         refresh_count INTEGER NOT NULL DEFAULT 0
                     );
                     CREATE TABLE IF NOT EXISTS connection_flows (
                         state_hash TEXT PRIMARY KEY,
                         connection TEXT NOT NULL,
                         service TEXT NOT NULL,
                         key_id TEXT NOT NULL,
                         pkce_verifier BLOB,
                         redirect_uri TEXT NOT NULL,
                         created_at INTEGER NOT NULL,
                         expires_at INTEGER NOT NULL
                     );
                     COMMIT;",
                )
                .map_err(|error| {
                    StoreError::sqlite(
                        format!("cannot set up the connection tables in {}", owned.display()),
                        error,
                    )
                })?;
            let reader = Arc::new(Mutex::new(connect(&owned, BUSY)?));
            Ok(SqliteRows {
                path: owned,
                reader,
            })
        })
        .await
    }

    fn failed(&self, what: &str) -> impl Fn(rusqlite::Error) -> StoreError + use<> {
        let context = format!("cannot {what} in {}", self.path.display());
        move |error| StoreError::sqlite(context.clone(), error)
    }

    pub(crate) async fn get(&self, name: &str) -> Result<Option<StoredRow>, StoreError> {
        let (reader, name, failed) = (
            Arc::clone(&self.reader),
            name.to_owned(),
            self.failed("read a connection"),
        );
        blocking(move || {
            let reader = reader
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            select(&reader, &name).map_err(failed)
        })
        .await
    }

    pub(crate) async fn list(&self) -> Result<Vec<StoredRow>, StoreError> {
        let (path, failed) = (self.path.clone(), self.failed("list the connections"));
        blocking(move || {
            let connection = connect(&path, BUSY)?;
            let rows = connection
                .prepare(&format!("SELECT {COLUMNS} FROM connections ORDER BY name"))
                .and_then(|mut statement| {
                    statement
                        .query_map([], read_row)?
                        .collect::<Result<Vec<_>, _>>()
                })
                .map_err(failed)?;
            Ok(rows)
        })
        .await
    }

    pub(crate) async fn put_flow(
        &self,
        flow: FlowRow,
        expired_before: i64,
    ) -> Result<(), StoreError> {
        let (path, failed) = (
            self.path.clone(),
            self.failed("store an authorization flow"),
        );
        blocking(move || {
            let mut connection = connect(&path, BUSY)?;
            let transaction = connection
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(&failed)?;
            transaction
                .execute(
                    "DELETE FROM connection_flows WHERE expires_at < ?1",
                    [expired_before],
                )
                .map_err(&failed)?;
            transaction
                .execute(
                    "INSERT INTO connection_flows (state_hash, connection, service, key_id,
                         pkce_verifier, redirect_uri, created_at, expires_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        flow.state_hash,
                        flow.connection,
                        flow.service,
                        flow.key_id,
                        flow.pkce_verifier,
                        flow.redirect_uri,
                        flow.created_at,
                        flow.expires_at
                    ],
                )
                .map_err(&failed)?;
            transaction.commit().map_err(&failed)
        })
        .await
    }

    pub(crate) async fn take_flow(&self, state_hash: &str) -> Result<Option<FlowRow>, StoreError> {
        let (path, hash, failed) = (
            self.path.clone(),
            state_hash.to_owned(),
            self.failed("read an authorization flow"),
        );
        blocking(move || {
            let mut connection = connect(&path, BUSY)?;
            let transaction = connection
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(&failed)?;
            let flow = transaction
                .query_row(
                    "SELECT state_hash, connection, service, key_id, pkce_verifier, redirect_uri,
                            created_at, expires_at
                     FROM connection_flows WHERE state_hash = ?1",
                    [&hash],
                    |row| {
                        Ok(FlowRow {
                            state_hash: row.get(0)?,
                            connection: row.get(1)?,
                            service: row.get(2)?,
                            key_id: row.get(3)?,
                            pkce_verifier: row.get(4)?,
                            redirect_uri: row.get(5)?,
                            created_at: row.get(6)?,
                            expires_at: row.get(7)?,
                        })
                    },
                )
                .optional()
                .map_err(&failed)?;
            if flow.is_some() {
                transaction
                    .execute(
                        "DELETE FROM connection_flows WHERE state_hash = ?1",
                        [&hash],
                    )
                    .map_err(&failed)?;
            }
            transaction.commit().map_err(&failed)?;
            Ok(flow)
        })
        .await
    }

    /// `BEGIN IMMEDIATE` within `wait`, then the row.
    pub(crate) async fn lock(&self, name: &str, wait: Duration) -> Result<SqliteLocked, LockError> {
        let (path, name, failed) = (
            self.path.clone(),
            name.to_owned(),
            self.failed("lock a connection"),
        );
        let outcome = tokio::task::spawn_blocking(move || {
            let connection = connect(&path, wait)?;
            match connection.execute_batch("BEGIN IMMEDIATE") {
                Ok(()) => {}
                Err(rusqlite::Error::SqliteFailure(error, _))
                    if matches!(
                        error.code,
                        ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked
                    ) =>
                {
                    return Ok(None);
                }
                Err(error) => return Err(failed(error)),
            }
            let row = select(&connection, &name).map_err(failed)?;
            Ok(Some(SqliteLocked {
                connection: Some(connection),
                row,
                path,
            }))
        })
        .await
        .unwrap_or_else(|_| Err(StoreError::Closed("a connection store thread stopped")))?;
        outcome.ok_or(LockError::Timeout)
    }
}

/// A connection in a `BEGIN IMMEDIATE` transaction, with the row it read. Dropped without a
/// commit, the connection closes and the transaction rolls back.
pub(crate) struct SqliteLocked {
    connection: Option<Connection>,
    pub(crate) row: Option<StoredRow>,
    path: PathBuf,
}

impl SqliteLocked {
    pub(crate) async fn write(mut self, row: StoredRow) -> Result<(), StoreError> {
        let connection = self.connection.take();
        let context = format!("cannot write a connection in {}", self.path.display());
        blocking(move || {
            let connection = connection.ok_or(StoreError::Closed("the connection is gone"))?;
            upsert(&connection, &row)
                .and_then(|()| connection.execute_batch("COMMIT"))
                .map_err(|error| StoreError::sqlite(context, error))
        })
        .await
    }

    pub(crate) async fn release(mut self) {
        if let Some(connection) = self.connection.take() {
            let _ = blocking(move || {
                let _ = connection.execute_batch("ROLLBACK");
                Ok(())
            })
            .await;
        }
    }
}
