//! The shared job store: a PostgreSQL database that any number of `serve` instances use at once.
//!
//! - Enqueues are batched like SQLite's: one writer task takes whatever is waiting, inserts it
//!   in one statement and one commit, and answers each caller only after the commit.
//! - Workers lease with `FOR UPDATE SKIP LOCKED`: two workers (of one instance or of two) never
//!   take the same job while its lease holds, and a job whose lease expired (its worker died) is
//!   due again for anyone. A running job's `next_run_at` is its lease's expiry, so "due" is one
//!   condition and one index for both.
//! - Every time is the database's clock, so instances on hosts whose clocks differ agree on
//!   expiry.
//! - Connections are opened again on the next use after the database went away, so jobs flow
//!   again once it is back, without restarting `serve`.
//!
//! The connection is plain TCP or a Unix socket (no TLS in this build): `sslmode=require` is
//! refused at start rather than silently ignored.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use serde_json::Value;
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, Config, GenericClient, NoTls, Row, Statement};

use super::job::{EnqueueError, JobRecord, JobState, Leased, Outcome, RetryResult, millis};
use crate::error::StoreError;

/// Bumped with every change to the tables; a newer database is refused, an older one migrated.
const SCHEMA_VERSION: i32 = 1;
/// The most jobs inserted in one statement.
const MAX_BATCH: usize = 1024;
/// How long a connection attempt may take before the store counts as down.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one enqueue may wait for its commit before it is answered 503.
const ENQUEUE_TIMEOUT: Duration = Duration::from_secs(10);
/// Taken while the schema is created or migrated, so instances starting together take turns.
const SCHEMA_LOCK: i64 = 0x5746_4a4f_4253; // "WFJOBS"

/// The database clock in milliseconds since the epoch, as every statement reads it.
const NOW: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/// A `postgres://` URL (or libpq key-value string), parsed; its password never printed.
#[derive(Clone)]
pub struct PgUrl {
    config: Arc<Config>,
    target: String,
}

impl fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PgUrl").field(&self.target).finish()
    }
}

impl fmt::Display for PgUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.target)
    }
}

impl FromStr for PgUrl {
    type Err = StoreError;

    /// Parses the URL; the error never repeats it, since it may hold a password.
    fn from_str(text: &str) -> Result<PgUrl, StoreError> {
        let mut config = Config::from_str(text).map_err(|error| {
            StoreError::postgres("the PostgreSQL URL given to --jobs is not valid", error)
        })?;
        if config.get_ssl_mode() == SslMode::Require {
            return Err(StoreError::UnusableUrl(
                "--jobs asks for sslmode=require, but this build talks to PostgreSQL without TLS; \
                 use a loopback or private address, or a Unix socket (host=/run/postgresql)",
            ));
        }
        if config.get_hosts().is_empty() {
            return Err(StoreError::UnusableUrl(
                "the PostgreSQL URL given to --jobs names no host; use postgres://USER@HOST:PORT/DB",
            ));
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("workerflow");
        }
        let target = describe(&config);
        Ok(PgUrl {
            config: Arc::new(config),
            target,
        })
    }
}

impl PgUrl {
    /// A new connection to the database, its socket driven by a task of its own.
    pub(crate) async fn connect(&self) -> Result<Client, StoreError> {
        Connection::open_unprepared(self).await
    }
}

/// `postgres://user@host:port/db`, never the password.
fn describe(config: &Config) -> String {
    let user = config
        .get_user()
        .map(|user| format!("{user}@"))
        .unwrap_or_default();
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(index, host)| {
            let name = match host {
                Host::Tcp(name) => name.clone(),
                Host::Unix(path) => path.display().to_string(),
            };
            match ports.get(index).or_else(|| ports.first()) {
                Some(port) => format!("{name}:{port}"),
                None => name,
            }
        })
        .collect();
    let db = config
        .get_dbname()
        .map(|db| format!("/{db}"))
        .unwrap_or_default();
    format!("postgres://{user}{}{db}", hosts.join(","))
}

/// One connection and the statements prepared on it.
struct Connection {
    client: Client,
    lease: Statement,
    renew: Statement,
    finish: Statement,
    show: Statement,
}

const COLUMNS: &str = "trace_id, route, state, attempts, created_at, updated_at, finished_at, \
                       next_run_at, error_class, error_message, output, \
                       CASE WHEN state = 'running' THEN lease_owner END, \
                       CASE WHEN state = 'running' THEN next_run_at END";

impl Connection {
    async fn open(url: &PgUrl) -> Result<Connection, StoreError> {
        let client = Connection::open_unprepared(url).await?;
        let prepare = |sql: String| {
            let client = &client;
            async move { client.prepare(&sql).await }
        };
        let prepared = async {
            Ok::<_, tokio_postgres::Error>((
                prepare(format!(
                    "UPDATE workerflow_jobs SET state = 'running', lease_owner = $1,
                         next_run_at = {NOW} + $2, attempts = attempts + 1, updated_at = {NOW}
                     WHERE id = (
                         SELECT id FROM workerflow_jobs
                         WHERE state IN ('queued', 'running') AND next_run_at <= {NOW}
                         ORDER BY next_run_at LIMIT 1
                         FOR UPDATE SKIP LOCKED)
                     RETURNING trace_id, route, payload, attempts"
                ))
                .await?,
                prepare(format!(
                    "UPDATE workerflow_jobs SET next_run_at = {NOW} + $3
                     WHERE trace_id = $1 AND lease_owner = $2 AND state = 'running'"
                ))
                .await?,
                prepare(format!(
                    "UPDATE workerflow_jobs SET state = $3, output = $4, error_class = $5,
                         error_message = $6, next_run_at = {NOW} + $7,
                         finished_at = CASE WHEN $3 = 'queued' THEN NULL ELSE {NOW} END,
                         updated_at = {NOW}, lease_owner = NULL
                     WHERE trace_id = $1 AND lease_owner = $2 AND state = 'running'"
                ))
                .await?,
                prepare(format!(
                    "SELECT {COLUMNS} FROM workerflow_jobs WHERE trace_id = $1"
                ))
                .await?,
            ))
        }
        .await;
        let (lease, renew, finish, show) = prepared.map_err(|error| {
            StoreError::postgres(format!("cannot prepare the job statements on {url}"), error)
        })?;
        Ok(Connection {
            client,
            lease,
            renew,
            finish,
            show,
        })
    }
}

/// A connection that is opened again on the next use after it broke.
struct Slot {
    url: PgUrl,
    current: Mutex<Option<Arc<Connection>>>,
}

impl Slot {
    fn new(url: PgUrl, first: Connection) -> Slot {
        Slot {
            url,
            current: Mutex::new(Some(Arc::new(first))),
        }
    }

    /// The open connection, or a new one (one caller connects; the others wait for it).
    async fn get(&self) -> Result<Arc<Connection>, StoreError> {
        let mut current = self.current.lock().await;
        if let Some(connection) = current.as_ref()
            && !connection.client.is_closed()
        {
            return Ok(Arc::clone(connection));
        }
        *current = None;
        let connection = Arc::new(Connection::open(&self.url).await?);
        *current = Some(Arc::clone(&connection));
        Ok(connection)
    }
}

struct Pending {
    trace_id: String,
    route: String,
    payload: String,
    reply: oneshot::Sender<Result<(), EnqueueError>>,
}

/// The PostgreSQL store, shared by the handlers and the workers of one `serve`.
pub struct PgStore {
    url: PgUrl,
    capacity: usize,
    /// Leases, renewals, outcomes and reads: many at once, pipelined on one connection.
    shared: Slot,
    /// Batched enqueues, on the writer task's own connection.
    enqueues: mpsc::UnboundedSender<Pending>,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("target", &self.url.target)
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl PgStore {
    /// Connects, refuses a database whose tables belong to something else or to a newer
    /// workerflow (nothing written), creates or migrates the tables, and starts the writer.
    pub async fn connect(url: &PgUrl, capacity: usize) -> Result<PgStore, StoreError> {
        let mut setup = Connection::open_unprepared(url).await?;
        migrate(&mut setup, url).await?;
        let shared = Connection::open(url).await?;
        let writer = Connection::open_unprepared(url).await?;
        let (enqueues, received) = mpsc::unbounded_channel();
        tokio::spawn(write_batches(url.clone(), writer, received, capacity));
        Ok(PgStore {
            url: url.clone(),
            capacity,
            shared: Slot::new(url.clone(), shared),
            enqueues,
        })
    }

    /// `postgres://user@host:port/db`.
    pub fn target(&self) -> &str {
        &self.url.target
    }

    /// The database, for the connection rows kept beside the jobs.
    pub(crate) fn url(&self) -> &PgUrl {
        &self.url
    }

    /// How many jobs may be leased at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn failed(&self, what: &str, error: tokio_postgres::Error) -> StoreError {
        StoreError::postgres(format!("cannot {what} in {}", self.url), error)
    }

    pub(crate) async fn enqueue(
        &self,
        trace_id: &str,
        route: &str,
        payload: &Value,
    ) -> Result<(), EnqueueError> {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            trace_id: trace_id.to_owned(),
            route: route.to_owned(),
            payload: payload.to_string(),
            reply,
        };
        if self.enqueues.send(pending).is_err() {
            return Err(EnqueueError::Unavailable(StoreError::Closed(
                "the job store is closed",
            )));
        }
        match tokio::time::timeout(ENQUEUE_TIMEOUT, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(EnqueueError::Unavailable(StoreError::Closed(
                "the job store stopped before committing",
            ))),
            // The insert may still commit: then the job runs although the caller got 503,
            // which at-least-once delivery allows.
            Err(_) => Err(EnqueueError::Unavailable(StoreError::Timeout {
                location: self.url.to_string(),
                after: ENQUEUE_TIMEOUT,
            })),
        }
    }

    pub(crate) async fn lease(
        &self,
        owner: &str,
        lease: Duration,
    ) -> Result<Option<Leased>, StoreError> {
        let connection = self.shared.get().await?;
        let row = connection
            .client
            .query_opt(&connection.lease, &[&owner, &millis(lease)])
            .await
            .map_err(|error| self.failed("lease a job", error))?;
        Ok(row.map(|row| {
            let payload: String = row.get(2);
            let attempts: i32 = row.get(3);
            Leased {
                trace_id: row.get(0),
                route: row.get(1),
                // Written by `enqueue` from a `Value` the runtime accepted (nested well below
                // serde_json's limit); a row that still cannot be read fails its job loudly.
                payload: serde_json::from_str(&payload).map_err(|error| error.to_string()),
                attempts: u32::try_from(attempts).unwrap_or(0),
            }
        }))
    }

    pub(crate) async fn renew(&self, trace_id: &str, owner: &str, lease: Duration) {
        if let Ok(connection) = self.shared.get().await {
            let _ = connection
                .client
                .execute(&connection.renew, &[&trace_id, &owner, &millis(lease)])
                .await;
        }
    }

    pub(crate) async fn finish(
        &self,
        trace_id: &str,
        owner: &str,
        outcome: Outcome,
    ) -> Result<bool, StoreError> {
        let finished = outcome.into_finished();
        let connection = self.shared.get().await?;
        let params: [&(dyn ToSql + Sync); 7] = [
            &trace_id,
            &owner,
            &finished.state,
            &finished.output,
            &finished.class,
            &finished.message,
            &millis(finished.delay),
        ];
        let changed = connection
            .client
            .execute(&connection.finish, &params)
            .await
            .map_err(|error| self.failed("record a job's outcome", error))?;
        Ok(changed > 0)
    }

    pub(crate) async fn release(&self, owner: &str) -> Result<usize, StoreError> {
        let connection = self.shared.get().await?;
        let sql = format!(
            "UPDATE workerflow_jobs SET state = 'queued', lease_owner = NULL, next_run_at = {NOW},
                 attempts = GREATEST(attempts - 1, 0), updated_at = {NOW}
             WHERE lease_owner = $1 AND state = 'running'"
        );
        let changed = connection
            .client
            .execute(&sql, &[&owner])
            .await
            .map_err(|error| self.failed("give jobs back", error))?;
        Ok(usize::try_from(changed).unwrap_or(usize::MAX))
    }

    pub(crate) async fn get(&self, trace_id: &str) -> Result<Option<JobRecord>, StoreError> {
        let connection = self.shared.get().await?;
        let row = connection
            .client
            .query_opt(&connection.show, &[&trace_id])
            .await
            .map_err(|error| self.failed("read a job", error))?;
        row.as_ref()
            .map(record)
            .transpose()
            .map_err(|error| self.failed("read a job", error))
    }

    pub(crate) async fn list(&self, state: Option<JobState>) -> Result<Vec<JobRecord>, StoreError> {
        let connection = self.shared.get().await?;
        let sql = format!(
            "SELECT {COLUMNS} FROM workerflow_jobs WHERE $1::text IS NULL OR state = $1 ORDER BY id"
        );
        let rows = connection
            .client
            .query(&sql, &[&state])
            .await
            .map_err(|error| self.failed("list the jobs", error))?;
        rows.iter()
            .map(record)
            .collect::<Result<_, _>>()
            .map_err(|error| self.failed("list the jobs", error))
    }

    pub(crate) async fn retry(&self, trace_id: &str) -> Result<RetryResult, StoreError> {
        let connection = self.shared.get().await?;
        // One statement: the row's state before, and whether this call queued it.
        let sql = format!(
            "WITH before AS (SELECT id, state FROM workerflow_jobs WHERE trace_id = $1),
                  queued AS (
                      UPDATE workerflow_jobs SET state = 'queued', attempts = 0,
                          next_run_at = {NOW}, updated_at = {NOW}, finished_at = NULL
                      WHERE id IN (SELECT id FROM before WHERE state IN ('dead', 'failed'))
                      RETURNING id)
             SELECT before.state, EXISTS (SELECT 1 FROM queued) FROM before"
        );
        let row = connection
            .client
            .query_opt(&sql, &[&trace_id])
            .await
            .map_err(|error| self.failed("retry a job", error))?;
        Ok(match row {
            None => RetryResult::NotFound,
            Some(row) if row.get::<_, bool>(1) => RetryResult::Queued,
            Some(row) => RetryResult::NotRetryable(
                row.try_get(0)
                    .map_err(|error| self.failed("retry a job", error))?,
            ),
        })
    }

    pub(crate) async fn depth(&self) -> Result<usize, StoreError> {
        let connection = self.shared.get().await?;
        count_open(&connection.client)
            .await
            .map_err(|error| self.failed("count the jobs", error))
    }

    pub(crate) async fn purge(&self, older_than: Duration) -> Result<usize, StoreError> {
        let connection = self.shared.get().await?;
        let sql = format!(
            "DELETE FROM workerflow_jobs
             WHERE state IN ('succeeded', 'failed', 'dead') AND finished_at < {NOW} - $1"
        );
        let deleted = connection
            .client
            .execute(&sql, &[&millis(older_than)])
            .await
            .map_err(|error| self.failed("purge old jobs", error))?;
        Ok(usize::try_from(deleted).unwrap_or(usize::MAX))
    }
}

impl Connection {
    /// A connection without the prepared statements (their tables may not exist yet).
    async fn open_unprepared(url: &PgUrl) -> Result<Client, StoreError> {
        let (client, connection) = url
            .config
            .connect(NoTls)
            .await
            .map_err(|error| StoreError::postgres(format!("cannot connect to {url}"), error))?;
        // The socket is driven by its own task; it ends when the client is dropped or the
        // server goes away (then `client.is_closed()`, and the next use connects again).
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(client)
    }
}

/// A row as a record; only the state can fail to read (a word this server does not write).
fn record(row: &Row) -> Result<JobRecord, tokio_postgres::Error> {
    Ok(JobRecord {
        trace_id: row.get(0),
        route: row.get(1),
        state: row.try_get(2)?,
        attempts: i64::from(row.get::<_, i32>(3)),
        created_at_ms: row.get(4),
        updated_at_ms: row.get(5),
        finished_at_ms: row.get(6),
        next_run_at_ms: row.get(7),
        error_class: row.get(8),
        error_message: row.get(9),
        output: row.get(10),
        lease_owner: row.get(11),
        // A running job's `next_run_at` is its lease expiry.
        lease_until_ms: row.get(12),
    })
}

/// Stored as its word (`queued`, …) in a `text` column: the schema and the bytes stay the same.
impl ToSql for JobState {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        self.as_str().to_sql(ty, out)
    }

    fn accepts(ty: &Type) -> bool {
        <&str as ToSql>::accepts(ty)
    }

    to_sql_checked!();
}

impl<'a> FromSql<'a> for JobState {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<JobState, Box<dyn std::error::Error + Sync + Send>> {
        Ok(<&str as FromSql>::from_sql(ty, raw)?.parse()?)
    }

    fn accepts(ty: &Type) -> bool {
        <&str as FromSql>::accepts(ty)
    }
}

async fn count_open(client: &impl GenericClient) -> Result<usize, tokio_postgres::Error> {
    let row = client
        .query_one(
            "SELECT COUNT(*) FROM workerflow_jobs WHERE state IN ('queued', 'running')",
            &[],
        )
        .await?;
    Ok(usize::try_from(row.get::<_, i64>(0)).unwrap_or(usize::MAX))
}

/// Creates the tables, or checks and migrates them, under an advisory lock. A database whose
/// `workerflow_jobs` is not ours, or whose schema is newer, is refused with nothing written.
async fn migrate(client: &mut Client, url: &PgUrl) -> Result<(), StoreError> {
    let failed = |error: tokio_postgres::Error| {
        StoreError::postgres(format!("cannot set up the job tables in {url}"), error)
    };
    let transaction = client.transaction().await.map_err(failed)?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
        .await
        .map_err(failed)?;
    let row = transaction
        .query_one(
            "SELECT to_regclass('workerflow_schema') IS NOT NULL,
                    to_regclass('workerflow_jobs') IS NOT NULL",
            &[],
        )
        .await
        .map_err(failed)?;
    let (has_schema, has_jobs): (bool, bool) = (row.get(0), row.get(1));
    if has_jobs && !has_schema {
        return Err(StoreError::ForeignJobsTable {
            location: url.to_string(),
        });
    }
    if has_schema {
        let version: Option<i32> = transaction
            .query_one("SELECT MAX(version) FROM workerflow_schema", &[])
            .await
            .map_err(failed)?
            .get(0);
        let version = version.unwrap_or(0);
        if version > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                location: url.to_string(),
                what: "job schema",
                version: i64::from(version),
                known: i64::from(SCHEMA_VERSION),
            });
        }
    }
    transaction
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS workerflow_schema (version integer NOT NULL);
             CREATE TABLE IF NOT EXISTS workerflow_jobs (
                 id bigserial PRIMARY KEY,
                 trace_id text NOT NULL UNIQUE,
                 route text NOT NULL,
                 payload text NOT NULL,
                 state text NOT NULL,
                 attempts integer NOT NULL DEFAULT 0,
                 lease_owner text,
                 next_run_at bigint NOT NULL,
                 created_at bigint NOT NULL,
                 updated_at bigint NOT NULL,
                 finished_at bigint,
                 error_class text,
                 error_message text,
                 output text
             );
             CREATE INDEX IF NOT EXISTS workerflow_jobs_due ON workerflow_jobs (next_run_at)
                 WHERE state IN ('queued', 'running');
             INSERT INTO workerflow_schema (version)
                 SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM workerflow_schema);",
        )
        .await
        .map_err(failed)?;
    transaction.commit().await.map_err(failed)
}

/// The writer task: takes what is waiting, inserts it in one transaction (capacity checked
/// against the jobs open in the whole database), commits, answers. A broken connection fails
/// its batch with 503s and is opened again for the next one.
async fn write_batches(
    url: PgUrl,
    first: Client,
    mut received: mpsc::UnboundedReceiver<Pending>,
    capacity: usize,
) {
    let mut client = Some(first);
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while received.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let taken = match client.take() {
            Some(open) if !open.is_closed() => Ok(open),
            _ => Connection::open_unprepared(&url).await,
        };
        let mut open = match taken {
            Ok(open) => open,
            Err(error) => {
                for pending in batch.drain(..) {
                    let _ = pending
                        .reply
                        .send(Err(EnqueueError::Unavailable(error.clone())));
                }
                continue;
            }
        };
        match insert_batch(&mut open, &batch, capacity).await {
            Ok(accepted) => {
                for (index, pending) in batch.drain(..).enumerate() {
                    let result = match accepted.get(index) {
                        Some(Accepted::Stored) => Ok(()),
                        Some(Accepted::Duplicate) => Err(EnqueueError::Unavailable(
                            StoreError::Duplicate(pending.trace_id.clone()),
                        )),
                        _ => Err(EnqueueError::Full(capacity)),
                    };
                    let _ = pending.reply.send(result);
                }
            }
            Err(error) => {
                let error = StoreError::postgres(format!("cannot store jobs in {url}"), error);
                for pending in batch.drain(..) {
                    let _ = pending
                        .reply
                        .send(Err(EnqueueError::Unavailable(error.clone())));
                }
            }
        }
        client = Some(open);
    }
}

enum Accepted {
    Stored,
    Duplicate,
}

/// Inserts the batch's first jobs up to the capacity; the rest are left out (`Full`).
async fn insert_batch(
    client: &mut Client,
    batch: &[Pending],
    capacity: usize,
) -> Result<Vec<Accepted>, tokio_postgres::Error> {
    let transaction = client.transaction().await?;
    let open = count_open(&transaction).await?;
    let room = capacity.saturating_sub(open).min(batch.len());
    let taken = &batch[..room];
    let trace_ids: Vec<&str> = taken.iter().map(|job| job.trace_id.as_str()).collect();
    let routes: Vec<&str> = taken.iter().map(|job| job.route.as_str()).collect();
    let payloads: Vec<&str> = taken.iter().map(|job| job.payload.as_str()).collect();
    let sql = format!(
        "INSERT INTO workerflow_jobs
             (trace_id, route, payload, state, next_run_at, created_at, updated_at)
         SELECT trace_id, route, payload, 'queued', {NOW}, {NOW}, {NOW}
         FROM unnest($1::text[], $2::text[], $3::text[]) AS job (trace_id, route, payload)
         ON CONFLICT (trace_id) DO NOTHING
         RETURNING trace_id"
    );
    let stored: std::collections::HashSet<String> = transaction
        .query(&sql, &[&trace_ids, &routes, &payloads])
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    transaction.commit().await?;
    // A trace id twice in one batch is stored once: the second is the duplicate.
    let mut claimed = std::collections::HashSet::new();
    Ok(taken
        .iter()
        .map(|job| {
            if stored.contains(&job.trace_id) && claimed.insert(job.trace_id.as_str()) {
                Accepted::Stored
            } else {
                Accepted::Duplicate
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every message, `Debug` and cause of `error`, each as text.
    fn everything_said(error: &StoreError) -> Vec<String> {
        let mut said = vec![error.to_string(), format!("{error:?}")];
        let mut cause = std::error::Error::source(error);
        while let Some(error) = cause {
            said.push(error.to_string());
            said.push(format!("{error:?}"));
            cause = error.source();
        }
        said
    }

    #[tokio::test]
    async fn the_password_is_never_in_an_error() {
        let refused = [
            "postgres://user:SECRET@127.0.0.1:notaport/db",
            "postgres://user:SECRET@127.0.0.1:5432/db?sslmode=require",
            "postgres://user:SECRET@/db",
        ];
        for url in refused {
            let error = url.parse::<PgUrl>().expect_err(url);
            for text in everything_said(&error) {
                assert!(!text.contains("SECRET"), "{url}: {text}");
            }
        }
        // Nobody listens on port 1: the connection error names the database, not the password.
        let url: PgUrl = "postgres://user:SECRET@127.0.0.1:1/db?connect_timeout=2"
            .parse()
            .expect("a valid URL");
        assert_eq!(
            format!("{url} {url:?}"),
            "postgres://user@127.0.0.1:1/db PgUrl(\"postgres://user@127.0.0.1:1/db\")"
        );
        let error = PgStore::connect(&url, 1)
            .await
            .expect_err("nothing listens");
        assert!(matches!(error, StoreError::Postgres { .. }), "{error:?}");
        assert!(
            error
                .to_string()
                .starts_with("cannot connect to postgres://user@127.0.0.1:1/db: "),
            "{error}"
        );
        for text in everything_said(&error) {
            assert!(!text.contains("SECRET"), "{text}");
        }
    }
}
