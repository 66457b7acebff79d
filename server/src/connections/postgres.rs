//! The connection rows in the PostgreSQL job store's database: tables
//! `workerflow_connections` and `workerflow_connection_flows` beside `workerflow_jobs`. A row is
//! held with `SELECT … FOR UPDATE` after `SET LOCAL lock_timeout`, in a transaction on a
//! connection of its own (a small pool), so instances sharing the database refresh one at a
//! time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Row};

use super::rows::LockError;
use super::rows::{FlowRow, StoredRow};
use crate::error::StoreError;
use crate::store::PgUrl;

/// Taken while the tables are created, so instances starting together take turns.
const SCHEMA_LOCK: i64 = 0x5746_434f_4e4e; // "WFCONN"
/// Idle connections kept for the next operation: all of them, since opening one costs a SCRAM
/// handshake (milliseconds), which a burst of calls paid again and again when only 4 stayed
/// (bench/RESULTS.md, OAuth connections).
const MAX_IDLE: usize = MAX_OPEN;
/// Connections open at once per instance: a burst of calls waits for one instead of opening
/// as many connections as there are calls.
const MAX_OPEN: usize = 16;

const COLUMNS: &str = "name, service, state, key_id, access_token, refresh_token, expires_at, \
                       scopes, created_at, updated_at, refreshed_at, refresh_count";

pub(crate) struct PgRows {
    pool: Arc<Pool>,
}

/// The database and its idle connections, shared with the rows held for writing.
struct Pool {
    url: PgUrl,
    idle: Mutex<Vec<Client>>,
    open: Arc<Semaphore>,
}

/// A connection taken from the pool, with its place among the [`MAX_OPEN`].
struct Pooled {
    client: Client,
    _permit: OwnedSemaphorePermit,
}

impl std::ops::Deref for Pooled {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

fn read_row(row: &Row) -> Result<StoredRow, tokio_postgres::Error> {
    Ok(StoredRow {
        name: row.try_get(0)?,
        service: row.try_get(1)?,
        state: row.try_get(2)?,
        key_id: row.try_get(3)?,
        access_token: row.try_get(4)?,
        refresh_token: row.try_get(5)?,
        expires_at: row.try_get(6)?,
        scopes: row.try_get(7)?,
        created_at: row.try_get(8)?,
        updated_at: row.try_get(9)?,
        refreshed_at: row.try_get(10)?,
        refresh_count: row.try_get(11)?,
    })
}

impl PgRows {
    /// Creates the tables when missing.
    pub(crate) async fn open(url: &PgUrl) -> Result<PgRows, StoreError> {
        let mut client = url.connect().await?;
        let failed = |error| {
            StoreError::postgres(
                format!("cannot set up the connection tables in {url}"),
                error,
            )
        };
        let transaction = client.transaction().await.map_err(failed)?;
        transaction
            .execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
            .await
            .map_err(failed)?;
        transaction
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS workerflow_connections (
                     name text PRIMARY KEY,
                     service text NOT NULL,
                     state text NOT NULL,
                     key_id text NOT NULL,
                     access_token bytea,
                     refresh_token bytea,
                     expires_at bigint,
                     scopes text NOT NULL,
                     created_at bigint NOT NULL,
                     updated_at bigint NOT NULL,
                     refreshed_at bigint,
                     refresh_count bigint NOT NULL DEFAULT 0
                 );
                 CREATE TABLE IF NOT EXISTS workerflow_connection_flows (
                     state_hash text PRIMARY KEY,
                     connection text NOT NULL,
                     service text NOT NULL,
                     key_id text NOT NULL,
                     pkce_verifier bytea,
                     redirect_uri text NOT NULL,
                     created_at bigint NOT NULL,
                     expires_at bigint NOT NULL
                 );",
            )
            .await
            .map_err(failed)?;
        transaction.commit().await.map_err(failed)?;
        Ok(PgRows {
            pool: Arc::new(Pool {
                url: url.clone(),
                idle: Mutex::new(vec![client]),
                open: Arc::new(Semaphore::new(MAX_OPEN)),
            }),
        })
    }

    fn failed(&self, what: &str) -> impl Fn(tokio_postgres::Error) -> StoreError + use<> {
        self.pool.failed(what)
    }

    async fn client(&self) -> Result<Pooled, StoreError> {
        self.pool.client().await
    }

    fn give(&self, client: Pooled) {
        self.pool.give(client);
    }

    pub(crate) async fn get(&self, name: &str) -> Result<Option<StoredRow>, StoreError> {
        let client = self.client().await?;
        let failed = self.failed("read a connection");
        let row = client
            .query_opt(
                &format!("SELECT {COLUMNS} FROM workerflow_connections WHERE name = $1"),
                &[&name],
            )
            .await
            .map_err(&failed)?;
        let row = row.as_ref().map(read_row).transpose().map_err(&failed)?;
        self.give(client);
        Ok(row)
    }

    pub(crate) async fn list(&self) -> Result<Vec<StoredRow>, StoreError> {
        let client = self.client().await?;
        let failed = self.failed("list the connections");
        let rows = client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM workerflow_connections ORDER BY name COLLATE \"C\""
                ),
                &[],
            )
            .await
            .map_err(&failed)?;
        let rows = rows.iter().map(read_row).collect::<Result<Vec<_>, _>>();
        self.give(client);
        rows.map_err(failed)
    }

    pub(crate) async fn put_flow(
        &self,
        flow: FlowRow,
        expired_before: i64,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        let failed = self.failed("store an authorization flow");
        client
            .execute(
                "DELETE FROM workerflow_connection_flows WHERE expires_at < $1",
                &[&expired_before],
            )
            .await
            .map_err(&failed)?;
        client
            .execute(
                "INSERT INTO workerflow_connection_flows (state_hash, connection, service, key_id,
                     pkce_verifier, redirect_uri, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &flow.state_hash,
                    &flow.connection,
                    &flow.service,
                    &flow.key_id,
                    &flow.pkce_verifier,
                    &flow.redirect_uri,
                    &flow.created_at,
                    &flow.expires_at,
                ],
            )
            .await
            .map_err(&failed)?;
        self.give(client);
        Ok(())
    }

    /// `DELETE … RETURNING`: the read and the deletion are one statement, so one transaction.
    pub(crate) async fn take_flow(&self, state_hash: &str) -> Result<Option<FlowRow>, StoreError> {
        let client = self.client().await?;
        let failed = self.failed("read an authorization flow");
        let row = client
            .query_opt(
                "DELETE FROM workerflow_connection_flows WHERE state_hash = $1
                 RETURNING state_hash, connection, service, key_id, pkce_verifier, redirect_uri,
                           created_at, expires_at",
                &[&state_hash],
            )
            .await
            .map_err(&failed)?;
        let flow = row
            .map(|row| {
                Ok::<_, tokio_postgres::Error>(FlowRow {
                    state_hash: row.try_get(0)?,
                    connection: row.try_get(1)?,
                    service: row.try_get(2)?,
                    key_id: row.try_get(3)?,
                    pkce_verifier: row.try_get(4)?,
                    redirect_uri: row.try_get(5)?,
                    created_at: row.try_get(6)?,
                    expires_at: row.try_get(7)?,
                })
            })
            .transpose()
            .map_err(&failed)?;
        self.give(client);
        Ok(flow)
    }

    /// A transaction with the row locked (`FOR UPDATE` within `lock_timeout`).
    pub(crate) async fn lock(&self, name: &str, wait: Duration) -> Result<PgLocked, LockError> {
        let client = self.client().await?;
        let failed = self.failed("lock a connection");
        // Whole milliseconds, at least 1 (0 would mean no timeout at all).
        let millis = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1);
        client
            .batch_execute(&format!("BEGIN; SET LOCAL lock_timeout = {millis}"))
            .await
            .map_err(&failed)?;
        let row = match client
            .query_opt(
                &format!("SELECT {COLUMNS} FROM workerflow_connections WHERE name = $1 FOR UPDATE"),
                &[&name],
            )
            .await
        {
            Ok(row) => row,
            Err(error) if error.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) => {
                // The transaction is aborted; the connection is usable after a rollback.
                if client.batch_execute("ROLLBACK").await.is_ok() {
                    self.give(client);
                }
                return Err(LockError::Timeout);
            }
            Err(error) => return Err(LockError::Store(failed(error))),
        };
        let row = row
            .as_ref()
            .map(read_row)
            .transpose()
            .map_err(|error| LockError::Store(failed(error)))?;
        Ok(PgLocked {
            client: Some(client),
            row,
            rows: Arc::clone(&self.pool),
        })
    }
}

impl Pool {
    /// An idle connection, or a new one, once fewer than [`MAX_OPEN`] are taken.
    async fn client(&self) -> Result<Pooled, StoreError> {
        let permit = Arc::clone(&self.open)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Closed("the connection pool is closed"))?;
        loop {
            let idle = self
                .idle
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .pop();
            match idle {
                Some(client) if !client.is_closed() => {
                    return Ok(Pooled {
                        client,
                        _permit: permit,
                    });
                }
                Some(_) => {}
                None => {
                    let client = self.url.connect().await?;
                    return Ok(Pooled {
                        client,
                        _permit: permit,
                    });
                }
            }
        }
    }

    fn give(&self, pooled: Pooled) {
        let client = pooled.client;
        if client.is_closed() {
            return;
        }
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push(client);
        }
    }

    fn failed(&self, what: &str) -> impl Fn(tokio_postgres::Error) -> StoreError + use<> {
        let context = format!("cannot {what} in {}", self.url);
        move |error| StoreError::postgres(context.clone(), error)
    }
}

/// A transaction holding the row's lock. Dropped without a commit, its connection is dropped
/// (closed), which rolls it back.
pub(crate) struct PgLocked {
    client: Option<Pooled>,
    pub(crate) row: Option<StoredRow>,
    rows: Arc<Pool>,
}

impl PgLocked {
    pub(crate) async fn write(mut self, row: StoredRow) -> Result<(), StoreError> {
        let client = self
            .client
            .take()
            .ok_or(StoreError::Closed("the connection is gone"))?;
        let failed = self.rows.failed("write a connection");
        client
            .execute(
                &format!(
                    "INSERT INTO workerflow_connections ({COLUMNS})
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                     ON CONFLICT (name) DO UPDATE SET service = excluded.service,
                         state = excluded.state, key_id = excluded.key_id,
                         access_token = excluded.access_token,
                         refresh_token = excluded.refresh_token,
                         expires_at = excluded.expires_at, scopes = excluded.scopes,
                         created_at = excluded.created_at, updated_at = excluded.updated_at,
                         refreshed_at = excluded.refreshed_at,
                         refresh_count = excluded.refresh_count"
                ),
                &[
                    &row.name,
                    &row.service,
                    &row.state,
                    &row.key_id,
                    &row.access_token,
                    &row.refresh_token,
                    &row.expires_at,
                    &row.scopes,
                    &row.created_at,
                    &row.updated_at,
                    &row.refreshed_at,
                    &row.refresh_count,
                ],
            )
            .await
            .map_err(&failed)?;
        client.batch_execute("COMMIT").await.map_err(&failed)?;
        self.rows.give(client);
        Ok(())
    }

    pub(crate) async fn release(mut self) {
        if let Some(client) = self.client.take()
            && client.batch_execute("ROLLBACK").await.is_ok()
        {
            self.rows.give(client);
        }
    }
}
