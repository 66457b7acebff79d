//! The embedded job store: a SQLite database (WAL) in a data directory, the default.
//!
//! One writer thread owns the connection and applies every operation (enqueue, lease, renew,
//! finish, read) in batches: whatever is waiting when it wakes goes into one transaction, and
//! each caller is answered only after that transaction is committed. So `202` always means
//! "on disk", and a burst of calls costs one `fsync`, not one each (group commit).

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, ToSql, TransactionBehavior, params};
use serde_json::Value;
use tokio::sync::oneshot;

use super::job::{EnqueueError, JobRecord, JobState, Leased, Outcome, RetryResult, millis, now_ms};
use crate::error::StoreError;

/// The database file inside the data directory.
pub const FILE_NAME: &str = "jobs.sqlite3";
/// Bumped with every change to the tables; a newer file is refused, an older one migrated.
const SCHEMA_VERSION: i64 = 1;
/// The most operations committed in one transaction.
const MAX_BATCH: usize = 1024;

/// Answers one operation's caller once its batch's commit is known.
type Done = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

enum Op {
    Enqueue {
        trace_id: String,
        route: String,
        payload: String,
        reply: oneshot::Sender<Result<(), EnqueueError>>,
    },
    Lease {
        owner: String,
        lease: Duration,
        reply: oneshot::Sender<Result<Option<Leased>, StoreError>>,
    },
    Renew {
        trace_id: String,
        owner: String,
        lease: Duration,
    },
    Finish {
        trace_id: String,
        owner: String,
        outcome: Outcome,
        reply: oneshot::Sender<Result<bool, StoreError>>,
    },
    Release {
        owner: String,
        reply: oneshot::Sender<Result<usize, StoreError>>,
    },
    Get {
        trace_id: String,
        reply: oneshot::Sender<Result<Option<JobRecord>, StoreError>>,
    },
    List {
        state: Option<JobState>,
        reply: oneshot::Sender<Result<Vec<JobRecord>, StoreError>>,
    },
    Retry {
        trace_id: String,
        reply: oneshot::Sender<Result<RetryResult, StoreError>>,
    },
    Depth {
        reply: oneshot::Sender<Result<usize, StoreError>>,
    },
    Purge {
        older_than: Duration,
        reply: oneshot::Sender<Result<usize, StoreError>>,
    },
}

/// The SQLite store of one data directory, shared by the handlers and the workers.
pub struct SqliteStore {
    path: PathBuf,
    capacity: usize,
    ops: mpsc::Sender<Op>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("capacity", &self.capacity)
            .finish()
    }
}

/// Opens (or creates) the store in `dir`: creates the directory, refuses a file that is not a
/// SQLite database or belongs to something else (nothing written to it), turns WAL on and
/// creates or migrates the tables.
/// Creates the data directory (and its missing parents) readable by this user only: the store
/// holds payloads and provider errors.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Creates the database file mode 0600 before SQLite opens it (an empty file is an empty
/// database); SQLite gives its `-wal` and `-shm` files the database file's mode.
pub(crate) fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
    }
}

/// A store created by an earlier version (mode 0644) is narrowed to 0600 with its journal files.
#[cfg(unix)]
fn make_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        match std::fs::metadata(&file) {
            Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
            }
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

fn open_connection(dir: &Path) -> Result<(PathBuf, Connection), StoreError> {
    create_private_dir(dir).map_err(|error| {
        StoreError::io(
            format!("cannot create the data directory {}", dir.display()),
            error,
        )
    })?;
    let path = dir.join(FILE_NAME);
    let shown = path.display().to_string();
    create_private_file(&path)
        .map_err(|error| StoreError::io(format!("cannot create the job store {shown}"), error))?;
    let connection = Connection::open(&path)
        .map_err(|error| StoreError::sqlite(format!("cannot open the job store {shown}"), error))?;
    // Read before anything is written, so a foreign or corrupt file is left as it was.
    let tables: Vec<String> = connection
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .and_then(|mut statement| {
            statement
                .query_map([], |row| row.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(|error| StoreError::NotADatabase {
            location: shown.clone(),
            source: error.into(),
        })?;
    let ours = tables.iter().any(|name| name == "workerflow_schema");
    if !tables.is_empty() && !ours {
        return Err(StoreError::ForeignTables {
            location: shown,
            tables: tables.join(", "),
        });
    }
    if ours {
        let version: Option<i64> = connection
            .query_row("SELECT MAX(version) FROM workerflow_schema", [], |row| {
                row.get(0)
            })
            .map_err(|error| {
                StoreError::sqlite(format!("cannot read the schema of {shown}"), error)
            })?;
        if version.unwrap_or(0) > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                location: shown,
                what: "schema",
                version: version.unwrap_or(0),
                known: SCHEMA_VERSION,
            });
        }
    }
    // Ours (or new): only now is anything about the file changed.
    #[cfg(unix)]
    make_private(&path).map_err(|error| {
        StoreError::io(format!("cannot make {shown} private (mode 0600)"), error)
    })?;
    let setup = || -> rusqlite::Result<()> {
        connection.busy_timeout(Duration::from_secs(5))?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        // With WAL, NORMAL still never loses a committed transaction on a process crash
        // (SIGKILL, OOM kill); only a power loss can cost the last commits.
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.execute_batch(
            "BEGIN IMMEDIATE;
             CREATE TABLE IF NOT EXISTS workerflow_schema (version INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS jobs (
                 id INTEGER PRIMARY KEY,
                 trace_id TEXT NOT NULL UNIQUE,
                 route TEXT NOT NULL,
                 payload TEXT NOT NULL,
                 state TEXT NOT NULL,
                 attempts INTEGER NOT NULL DEFAULT 0,
                 lease_owner TEXT,
                 lease_until INTEGER,
                 next_run_at INTEGER NOT NULL,
                 created_at INTEGER NOT NULL,
                 updated_at INTEGER NOT NULL,
                 finished_at INTEGER,
                 error_class TEXT,
                 error_message TEXT,
                 output TEXT
             );
             CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, next_run_at);
             INSERT INTO workerflow_schema (version)
                 SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM workerflow_schema);
             COMMIT;",
        )
    };
    setup().map_err(|error| {
        StoreError::sqlite(format!("cannot set up the job store {shown}"), error)
    })?;
    Ok((path, connection))
}

impl SqliteStore {
    /// Opens the store in `dir` and starts its writer thread.
    pub fn open(dir: &Path, capacity: usize) -> Result<SqliteStore, StoreError> {
        let (path, connection) = open_connection(dir)?;
        let depth = count_open(&connection).map_err(|error| {
            StoreError::sqlite(format!("cannot read {}", path.display()), error)
        })?;
        let (ops, received) = mpsc::channel();
        std::thread::Builder::new()
            .name("workerflow-jobs".into())
            .spawn(move || writer(connection, received, depth, capacity))
            .map_err(|error| StoreError::io("cannot start the job store thread", error))?;
        Ok(SqliteStore {
            path,
            capacity,
            ops,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many jobs may be leased at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn send(&self, op: Op) -> bool {
        self.ops.send(op).is_ok()
    }

    pub(crate) async fn enqueue(
        &self,
        trace_id: &str,
        route: &str,
        payload: &Value,
    ) -> Result<(), EnqueueError> {
        let (reply, answer) = oneshot::channel();
        let sent = self.send(Op::Enqueue {
            trace_id: trace_id.to_owned(),
            route: route.to_owned(),
            payload: payload.to_string(),
            reply,
        });
        if !sent {
            return Err(EnqueueError::Unavailable(StoreError::Closed(
                "the job store is closed",
            )));
        }
        answer.await.unwrap_or_else(|_| {
            Err(EnqueueError::Unavailable(StoreError::Closed(
                "the job store stopped before committing",
            )))
        })
    }

    async fn ask<T>(
        &self,
        op: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Op,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        if !self.send(op(reply)) {
            return Err(StoreError::Closed("the job store is closed"));
        }
        answer
            .await
            .unwrap_or_else(|_| Err(StoreError::Closed("the job store stopped")))
    }

    pub(crate) async fn lease(
        &self,
        owner: &str,
        lease: Duration,
    ) -> Result<Option<Leased>, StoreError> {
        self.ask(|reply| Op::Lease {
            owner: owner.to_owned(),
            lease,
            reply,
        })
        .await
    }

    pub(crate) fn renew(&self, trace_id: &str, owner: &str, lease: Duration) {
        self.send(Op::Renew {
            trace_id: trace_id.to_owned(),
            owner: owner.to_owned(),
            lease,
        });
    }

    /// Records the attempt's outcome; `false` when the lease was lost meanwhile.
    pub(crate) async fn finish(
        &self,
        trace_id: &str,
        owner: &str,
        outcome: Outcome,
    ) -> Result<bool, StoreError> {
        self.ask(|reply| Op::Finish {
            trace_id: trace_id.to_owned(),
            owner: owner.to_owned(),
            outcome,
            reply,
        })
        .await
    }

    /// Gives the jobs `owner` still holds back to the queue (at the drain deadline).
    pub(crate) async fn release(&self, owner: &str) -> Result<usize, StoreError> {
        self.ask(|reply| Op::Release {
            owner: owner.to_owned(),
            reply,
        })
        .await
    }

    pub(crate) async fn get(&self, trace_id: &str) -> Result<Option<JobRecord>, StoreError> {
        self.ask(|reply| Op::Get {
            trace_id: trace_id.to_owned(),
            reply,
        })
        .await
    }

    pub(crate) async fn list(&self, state: Option<JobState>) -> Result<Vec<JobRecord>, StoreError> {
        self.ask(|reply| Op::List { state, reply }).await
    }

    pub(crate) async fn retry(&self, trace_id: &str) -> Result<RetryResult, StoreError> {
        self.ask(|reply| Op::Retry {
            trace_id: trace_id.to_owned(),
            reply,
        })
        .await
    }

    /// Jobs queued or running.
    pub(crate) async fn depth(&self) -> Result<usize, StoreError> {
        self.ask(|reply| Op::Depth { reply }).await
    }

    pub(crate) async fn purge(&self, older_than: Duration) -> Result<usize, StoreError> {
        self.ask(|reply| Op::Purge { older_than, reply }).await
    }
}

fn count_open(connection: &Connection) -> rusqlite::Result<usize> {
    let count: i64 = connection.query_row(
        "SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')",
        [],
        |row| row.get(0),
    )?;
    Ok(usize::try_from(count).unwrap_or(0))
}

/// The writer thread: takes what is waiting, applies it in one transaction, commits, answers.
fn writer(mut connection: Connection, ops: mpsc::Receiver<Op>, mut depth: usize, capacity: usize) {
    while let Ok(first) = ops.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match ops.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let mut done: Vec<Done> = Vec::with_capacity(batch.len());
        // IMMEDIATE: take the write lock up front, so a `workerflow jobs` writing meanwhile
        // makes this wait (busy timeout) instead of failing on a stale snapshot.
        let committed = match connection.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(transaction) => {
                for op in batch {
                    done.push(apply(&transaction, op, &mut depth, capacity));
                }
                transaction.commit().map_err(StoreError::from)
            }
            Err(error) => {
                let error = StoreError::from(error);
                for op in batch {
                    done.push(refuse(op, &error));
                }
                Err(error)
            }
        };
        if committed.is_err() {
            // What the batch counted did not happen.
            depth = count_open(&connection).unwrap_or(depth);
        }
        for answer in done {
            answer(committed.clone());
        }
    }
}

/// Answers `op` with `error` without touching the database.
fn refuse(op: Op, error: &StoreError) -> Done {
    let error = error.clone();
    Box::new(move |_| match op {
        Op::Enqueue { reply, .. } => {
            let _ = reply.send(Err(EnqueueError::Unavailable(error)));
        }
        Op::Lease { reply, .. } => {
            let _ = reply.send(Err(error));
        }
        Op::Finish { reply, .. } => {
            let _ = reply.send(Err(error));
        }
        Op::Release { reply, .. } | Op::Depth { reply } | Op::Purge { reply, .. } => {
            let _ = reply.send(Err(error));
        }
        Op::Get { reply, .. } => {
            let _ = reply.send(Err(error));
        }
        Op::List { reply, .. } => {
            let _ = reply.send(Err(error));
        }
        Op::Retry { reply, .. } => {
            let _ = reply.send(Err(error));
        }
        Op::Renew { .. } => {}
    })
}

/// Sends `result` once the commit is known: an `Ok` becomes the commit's error if it failed.
fn after_commit<T: Send + 'static>(
    reply: oneshot::Sender<Result<T, StoreError>>,
    result: Result<T, StoreError>,
) -> Done {
    Box::new(move |committed| {
        let _ = reply.send(committed.and(result));
    })
}

/// Takes one job for `owner`: first one whose lease expired (its worker died), then the
/// queued job due first. Two index lookups (`state, next_run_at`), never a scan of the table.
fn lease_one(
    connection: &Connection,
    owner: &str,
    now: i64,
    until: i64,
) -> rusqlite::Result<Option<Leased>> {
    let expired: Option<i64> = connection
        .prepare_cached("SELECT id FROM jobs WHERE state = 'running' AND lease_until < ?1 LIMIT 1")?
        .query_row(params![now], |row| row.get(0))
        .optional()?;
    let id = match expired {
        Some(id) => Some(id),
        None => connection
            .prepare_cached(
                "SELECT id FROM jobs WHERE state = 'queued' AND next_run_at <= ?1
                 ORDER BY next_run_at LIMIT 1",
            )?
            .query_row(params![now], |row| row.get(0))
            .optional()?,
    };
    let Some(id) = id else {
        return Ok(None);
    };
    connection
        .prepare_cached(
            "UPDATE jobs SET state = 'running', lease_owner = ?1, lease_until = ?2,
                 attempts = attempts + 1, updated_at = ?3
             WHERE id = ?4
             RETURNING trace_id, route, payload, attempts",
        )?
        .query_row(params![owner, until, now, id], |row| {
            let payload: String = row.get(2)?;
            let attempts: i64 = row.get(3)?;
            Ok(Leased {
                trace_id: row.get(0)?,
                route: row.get(1)?,
                // Written by `enqueue` from a `Value` the runtime accepted (nested well below
                // serde_json's limit); a row that still cannot be read fails its job loudly.
                payload: serde_json::from_str(&payload).map_err(|error| error.to_string()),
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
            })
        })
        .optional()
}

fn apply(connection: &Connection, op: Op, depth: &mut usize, capacity: usize) -> Done {
    let now = now_ms();
    match op {
        Op::Enqueue {
            trace_id,
            route,
            payload,
            reply,
        } => {
            if *depth >= capacity {
                // The count may be stale (`workerflow jobs purge` or `retry` meanwhile): look
                // before refusing.
                *depth = count_open(connection).unwrap_or(*depth);
            }
            let result = if *depth >= capacity {
                Err(EnqueueError::Full(capacity))
            } else {
                connection
                    .prepare_cached(
                        "INSERT INTO jobs (trace_id, route, payload, state, next_run_at, created_at, updated_at)
                         VALUES (?1, ?2, ?3, 'queued', ?4, ?4, ?4)",
                    )
                    .and_then(|mut insert| insert.execute(params![trace_id, route, payload, now]))
                    .map(|_| *depth += 1)
                    .map_err(|error| EnqueueError::Unavailable(error.into()))
            };
            Box::new(move |committed| {
                let _ = reply.send(committed.map_err(EnqueueError::Unavailable).and(result));
            })
        }
        Op::Lease {
            owner,
            lease,
            reply,
        } => {
            let result = lease_one(connection, &owner, now, now.saturating_add(millis(lease)))
                .map_err(StoreError::from);
            after_commit(reply, result)
        }
        Op::Renew {
            trace_id,
            owner,
            lease,
        } => {
            let _ = connection.execute(
                "UPDATE jobs SET lease_until = ?1 WHERE trace_id = ?2 AND lease_owner = ?3 AND state = 'running'",
                params![now.saturating_add(millis(lease)), trace_id, owner],
            );
            Box::new(|_| {})
        }
        Op::Finish {
            trace_id,
            owner,
            outcome,
            reply,
        } => {
            let finished = outcome.into_finished();
            let next_run_at = now.saturating_add(millis(finished.delay));
            let finished_at = finished.is_final().then_some(now);
            let result = connection
                .execute(
                    "UPDATE jobs SET state = ?1, output = ?2, error_class = ?3, error_message = ?4,
                         next_run_at = ?5, finished_at = ?6, updated_at = ?7,
                         lease_owner = NULL, lease_until = NULL
                     WHERE trace_id = ?8 AND lease_owner = ?9 AND state = 'running'",
                    params![
                        finished.state,
                        finished.output,
                        finished.class,
                        finished.message,
                        next_run_at,
                        finished_at,
                        now,
                        trace_id,
                        owner
                    ],
                )
                .map(|changed| {
                    if changed > 0 && finished_at.is_some() {
                        *depth = depth.saturating_sub(1);
                    }
                    changed > 0
                })
                .map_err(StoreError::from);
            after_commit(reply, result)
        }
        Op::Release { owner, reply } => {
            let result = connection
                .execute(
                    "UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_until = NULL,
                         attempts = MAX(attempts - 1, 0), updated_at = ?1
                     WHERE lease_owner = ?2 AND state = 'running'",
                    params![now, owner],
                )
                .map_err(StoreError::from);
            after_commit(reply, result)
        }
        Op::Get { trace_id, reply } => {
            let result = show(connection, &trace_id).map_err(StoreError::from);
            after_commit(reply, result)
        }
        Op::Depth { reply } => {
            let result = count_open(connection).map_err(StoreError::from);
            if let Ok(count) = result {
                *depth = count;
            }
            after_commit(reply, result)
        }
        Op::Purge { older_than, reply } => {
            let result = purge(connection, older_than).map_err(StoreError::from);
            after_commit(reply, result)
        }
        Op::List { state, reply } => {
            let result = list(connection, state).map_err(StoreError::from);
            after_commit(reply, result)
        }
        Op::Retry { trace_id, reply } => {
            let result = retry(connection, &trace_id).map_err(StoreError::from);
            if matches!(result, Ok(RetryResult::Queued)) {
                *depth += 1;
            }
            after_commit(reply, result)
        }
    }
}

const COLUMNS: &str = "trace_id, route, state, attempts, created_at, updated_at, finished_at, \
                       next_run_at, error_class, error_message, output, \
                       CASE WHEN state = 'running' THEN lease_owner END, \
                       CASE WHEN state = 'running' THEN lease_until END";

fn record(row: &rusqlite::Row<'_>) -> rusqlite::Result<JobRecord> {
    Ok(JobRecord {
        trace_id: row.get(0)?,
        route: row.get(1)?,
        state: row.get(2)?,
        attempts: row.get(3)?,
        created_at_ms: row.get(4)?,
        updated_at_ms: row.get(5)?,
        finished_at_ms: row.get(6)?,
        next_run_at_ms: row.get(7)?,
        error_class: row.get(8)?,
        error_message: row.get(9)?,
        output: row.get(10)?,
        lease_owner: row.get(11)?,
        lease_until_ms: row.get(12)?,
    })
}

/// One job by trace id (never its payload).
fn show(connection: &Connection, trace_id: &str) -> rusqlite::Result<Option<JobRecord>> {
    connection
        .query_row(
            &format!("SELECT {COLUMNS} FROM jobs WHERE trace_id = ?1"),
            params![trace_id],
            record,
        )
        .optional()
}

/// The jobs, oldest first, optionally in one state.
fn list(connection: &Connection, state: Option<JobState>) -> rusqlite::Result<Vec<JobRecord>> {
    let mut statement = connection.prepare(&format!(
        "SELECT {COLUMNS} FROM jobs WHERE ?1 IS NULL OR state = ?1 ORDER BY id"
    ))?;
    statement
        .query_map(params![state], record)?
        .collect::<Result<Vec<_>, _>>()
}

/// Queues a `dead` or `failed` job again with fresh attempts.
fn retry(connection: &Connection, trace_id: &str) -> rusqlite::Result<RetryResult> {
    let state: Option<JobState> = connection
        .query_row(
            "SELECT state FROM jobs WHERE trace_id = ?1",
            params![trace_id],
            |row| row.get(0),
        )
        .optional()?;
    match state {
        Some(JobState::Dead | JobState::Failed) => {
            let now = now_ms();
            connection.execute(
                "UPDATE jobs SET state = 'queued', attempts = 0, next_run_at = ?1, updated_at = ?1,
                     finished_at = NULL
                 WHERE trace_id = ?2 AND state IN ('dead', 'failed')",
                params![now, trace_id],
            )?;
            Ok(RetryResult::Queued)
        }
        Some(state) => Ok(RetryResult::NotRetryable(state)),
        None => Ok(RetryResult::NotFound),
    }
}

/// Deletes the finished jobs (succeeded, failed, dead) that finished more than `older_than` ago.
fn purge(connection: &Connection, older_than: Duration) -> rusqlite::Result<usize> {
    connection.execute(
        "DELETE FROM jobs WHERE state IN ('succeeded', 'failed', 'dead') AND finished_at < ?1",
        params![now_ms().saturating_sub(millis(older_than))],
    )
}

/// Stored as its word (`queued`, …): the column stays `TEXT` and the bytes stay the same.
impl ToSql for JobState {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for JobState {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        value
            .as_str()?
            .parse()
            .map_err(|error| FromSqlError::Other(Box::new(error)))
    }
}
