//! `workerflow serve`: the HTTP front door to the linked routes.
//!
//! [`serve`] takes a bound listener, the registry, a secret source, a [`ServeConfig`] and a
//! shutdown future, so tests run it on loopback exactly as the binary does. Endpoints:
//!
//! - `POST /api/{route}`: a JSON body (1 MiB by default). A sync route answers 200 with its
//!   output; an async route answers 202 once the call is in the bounded job queue (503 with
//!   `Retry-After` when the queue is full).
//! - `GET /api/routes`: the linked routes and their requirements (names, never values).
//! - `GET /health/config`: the configuration report.
//! - `GET /health`: liveness, without authentication.
//! - `GET /openapi.json`: the OpenAPI 3.1 document of this API (`docs/openapi.json`).
//!
//! Everything but `/health` needs `Authorization: Bearer <token>` unless authentication is off.
//! Every response carries `x-trace-id`; errors are `{ok: false, error: {code, message, route,
//! traceId}}` with the runtime's statuses.
//!
//! Connections are HTTP/1 only (hyper's `http1` connection, driven here), with a header-read
//! timeout, a body-read timeout, an idle keep-alive timeout and a cap on open connections.
//!
//! On shutdown the server stops accepting, closes idle and half-read connections at once, lets
//! in-flight requests finish, and drains the queue until the drain deadline;
//! [`ServeReport::undone`] counts the accepted jobs it could not run.

mod api;
mod auth;
mod conn;
mod durable;
mod jobs;
pub mod store;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::time::{Instant, timeout_at};
use workerflow_runtime::{RouteTable, SecretSource, SecretValue};

pub use api::TRACE_HEADER;
pub use durable::RetryPolicy;
pub use jobs::JobCounts;
pub use store::{JobStore, StoreError, StoreLocation};

use jobs::JobQueue;

/// How the server runs. `Default` gives the documented defaults with authentication off; the
/// binary always sets `token` unless `--no-auth` on a loopback address.
#[derive(Clone)]
pub struct ServeConfig {
    /// The bearer token every `/api/*` and `/health/config` request must carry; `None` turns
    /// authentication off.
    pub token: Option<SecretValue>,
    /// The largest request body accepted, in bytes (larger: 413).
    pub body_limit: usize,
    /// How many async jobs may wait in the queue (more: 503).
    pub queue_capacity: usize,
    /// How many async jobs run at once.
    pub workers: usize,
    /// How long shutdown waits for in-flight requests and queued jobs, from the signal on.
    pub drain_timeout: Duration,
    /// How long a connection may take to send a request's headers (hyper's header-read
    /// timeout, which also runs while a connection waits for its next request).
    pub header_timeout: Duration,
    /// How long a request body may take to arrive, in total (longer: 408, connection closed).
    pub body_timeout: Duration,
    /// How long a connection with no request in progress stays open without a byte.
    pub keep_alive_timeout: Duration,
    /// How many connections may be open at once; beyond, a new one is answered 503 and closed.
    pub max_connections: usize,
    /// Where accepted async jobs are kept.
    pub jobs: JobBackend,
    /// Attempts, backoff and lease of the durable store's workers.
    pub retry: RetryPolicy,
    /// How long finished jobs stay in the durable store before they are purged.
    pub retention: Duration,
}

/// The job store behind the async queue (`--jobs`).
#[derive(Clone, Debug)]
pub enum JobBackend {
    /// The in-memory queue: accepted jobs are lost on a crash.
    Memory,
    /// A durable store: SQLite (a data directory) or PostgreSQL (shared by instances).
    Durable(Arc<JobStore>),
}

impl JobBackend {
    pub fn name(&self) -> &'static str {
        match self {
            JobBackend::Memory => "memory",
            JobBackend::Durable(store) => store.kind(),
        }
    }
}

/// The handlers' view of the job store.
pub(crate) enum Jobs {
    Memory(Arc<JobQueue>),
    Durable {
        store: Arc<JobStore>,
        control: Arc<durable::Control>,
    },
}

impl ServeConfig {
    pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;
    pub const DEFAULT_QUEUE_CAPACITY: usize = 1024;
    pub const DEFAULT_WORKERS: usize = 16;
    pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
    pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
    pub const DEFAULT_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(5);
    /// Below the usual open-file limit of 1024, so accepting never runs out of descriptors.
    pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
    pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            token: None,
            body_limit: Self::DEFAULT_BODY_LIMIT,
            queue_capacity: Self::DEFAULT_QUEUE_CAPACITY,
            workers: Self::DEFAULT_WORKERS,
            drain_timeout: Self::DEFAULT_DRAIN_TIMEOUT,
            header_timeout: Self::DEFAULT_HEADER_TIMEOUT,
            body_timeout: Self::DEFAULT_BODY_TIMEOUT,
            keep_alive_timeout: Self::DEFAULT_KEEP_ALIVE_TIMEOUT,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            jobs: JobBackend::Memory,
            retry: RetryPolicy::default(),
            retention: Self::DEFAULT_RETENTION,
        }
    }
}

impl std::fmt::Debug for ServeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `SecretValue` prints `[REDACTED]`; the token never appears.
        f.debug_struct("ServeConfig")
            .field("token", &self.token)
            .field("body_limit", &self.body_limit)
            .field("queue_capacity", &self.queue_capacity)
            .field("workers", &self.workers)
            .field("drain_timeout", &self.drain_timeout)
            .field("header_timeout", &self.header_timeout)
            .field("body_timeout", &self.body_timeout)
            .field("keep_alive_timeout", &self.keep_alive_timeout)
            .field("max_connections", &self.max_connections)
            .field("jobs", &self.jobs)
            .field("retry", &self.retry)
            .field("retention", &self.retention)
            .finish()
    }
}

/// What happened to the async jobs by the time [`serve`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServeReport {
    pub jobs: JobCounts,
    /// Accepted jobs not finished at the drain deadline (queued or still running); each was
    /// logged with its route and trace id.
    pub undone: usize,
    /// Whether requests were still in flight at the drain deadline (no longer waited for).
    pub requests_cut: bool,
    /// With a durable store: accepted jobs still queued or running at the end, kept in the
    /// store for the next start (or another instance). Not lost, so not `undone`.
    pub left_in_store: usize,
}

/// State shared by the handlers.
pub(crate) struct AppState {
    registry: RouteTable,
    secrets: Arc<dyn SecretSource>,
    token: Option<SecretValue>,
    body_limit: usize,
    body_timeout: Duration,
    jobs: Jobs,
}

/// Serves the API on `listener` until `shutdown` completes, then drains (see the module docs).
///
/// Returns the report once every job is done or the drain deadline has passed. Accept errors
/// (a connection reset before it was accepted, no file descriptors left) are logged and the
/// server goes on, so the result is always `Ok` today.
pub async fn serve<F>(
    listener: TcpListener,
    registry: RouteTable,
    secrets: Arc<dyn SecretSource>,
    config: ServeConfig,
    shutdown: F,
) -> std::io::Result<ServeReport>
where
    F: Future<Output = ()> + Send + 'static,
{
    let (jobs, queue, control) = match &config.jobs {
        JobBackend::Memory => {
            let queue = Arc::new(JobQueue::new(config.queue_capacity));
            (Jobs::Memory(Arc::clone(&queue)), Some(queue), None)
        }
        JobBackend::Durable(store) => {
            let control = Arc::new(durable::Control::new());
            (
                Jobs::Durable {
                    store: Arc::clone(store),
                    control: Arc::clone(&control),
                },
                None,
                Some((Arc::clone(store), control)),
            )
        }
    };
    let state = Arc::new(AppState {
        registry,
        secrets,
        token: config.token.clone(),
        body_limit: config.body_limit,
        body_timeout: config.body_timeout,
        jobs,
    });
    let workers = match (&queue, &control) {
        (Some(queue), _) => jobs::start_workers(queue, config.workers),
        (None, Some((store, control))) => {
            let mut workers =
                durable::start_workers(&state, store, control, config.retry, config.workers);
            let (store, control, retention) =
                (Arc::clone(store), Arc::clone(control), config.retention);
            // Retention: finished jobs older than it are deleted, checked every minute.
            workers.spawn(async move {
                loop {
                    // Registered before the check, so a `close` meanwhile is not missed.
                    let stopped = control.stopped.notified();
                    tokio::pin!(stopped);
                    stopped.as_mut().enable();
                    if control.closing.load(std::sync::atomic::Ordering::SeqCst) {
                        break;
                    }
                    if let Err(error) = store.purge(retention).await {
                        tracing::warn!(target: "workerflow::serve", error = %error, "cannot purge old jobs");
                    }
                    let _ = tokio::time::timeout(Duration::from_secs(60), stopped).await;
                }
            });
            workers
        }
        (None, None) => tokio::task::JoinSet::new(),
    };
    let app = router(state);
    let mut connections = conn::Connections::new(
        app,
        conn::Limits {
            header_timeout: config.header_timeout,
            keep_alive_timeout: config.keep_alive_timeout,
            max_connections: config.max_connections,
        },
    );

    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => connections.accept(stream),
                Err(error) if conn::is_connection_error(&error) => {}
                Err(error) => {
                    // Out of file descriptors (EMFILE) or memory: the listener is fine, so wait
                    // a little for connections to close instead of spinning or stopping.
                    tracing::warn!(
                        target: "workerflow::serve",
                        error = %error,
                        "cannot accept a connection; retrying in 100 ms"
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            () = connections.reap() => {}
        }
    }
    drop(listener);
    let deadline = Instant::now() + config.drain_timeout;
    tracing::info!(
        target: "workerflow::serve",
        drain_timeout_ms = u64::try_from(config.drain_timeout.as_millis()).unwrap_or(u64::MAX),
        "shutting down: no new connections; finishing in-flight requests and queued jobs"
    );
    connections.close();
    let mut requests_cut = false;
    if timeout_at(deadline, connections.closed()).await.is_err() {
        connections.abort();
        requests_cut = true;
        tracing::warn!(
            target: "workerflow::serve",
            "requests still in flight at the drain deadline are no longer waited for"
        );
    }

    match (queue, control) {
        (Some(queue), _) => Ok(drain_memory(&queue, workers, deadline, requests_cut).await),
        (None, Some((store, control))) => {
            Ok(drain_durable(&store, &control, workers, deadline, requests_cut).await)
        }
        (None, None) => Ok(ServeReport {
            jobs: JobCounts::default(),
            undone: 0,
            requests_cut,
            left_in_store: 0,
        }),
    }
}

/// Durable store: stop leasing, let running jobs finish until the deadline, give the leases of
/// those still running back to the store; whatever is left waits for the next start.
async fn drain_durable(
    store: &JobStore,
    control: &durable::Control,
    mut workers: tokio::task::JoinSet<()>,
    deadline: Instant,
    requests_cut: bool,
) -> ServeReport {
    control.close();
    let drained = timeout_at(deadline, async {
        while workers.join_next().await.is_some() {}
    })
    .await
    .is_ok();
    workers.abort_all();
    while workers.join_next().await.is_some() {}
    if !drained {
        match store.release(&control.owner).await {
            Ok(released) => tracing::warn!(
                target: "workerflow::serve",
                released,
                "drain deadline passed: {released} running jobs stopped and given back to the store"
            ),
            Err(error) => tracing::error!(
                target: "workerflow::serve",
                error = %error,
                "cannot give running jobs back to the store; they run again when their leases expire"
            ),
        }
    }
    let left_in_store = store.depth().await.unwrap_or(0);
    tracing::info!(
        target: "workerflow::serve",
        left_in_store,
        store = %store.location(),
        "stopped: {left_in_store} accepted jobs are kept in the store for the next start"
    );
    ServeReport {
        jobs: JobCounts::default(),
        undone: 0,
        requests_cut,
        left_in_store,
    }
}

async fn drain_memory(
    queue: &JobQueue,
    mut workers: tokio::task::JoinSet<()>,
    deadline: Instant,
    requests_cut: bool,
) -> ServeReport {
    queue.close();
    let drained = timeout_at(deadline, async {
        while workers.join_next().await.is_some() {}
    })
    .await
    .is_ok();
    let (abandoned, running, counts) = queue.abandon();
    workers.abort_all();
    let undone = if drained {
        0
    } else {
        for (route, trace_id) in &running {
            tracing::warn!(
                target: "workerflow::serve",
                route = %route,
                trace_id = %trace_id,
                "job left undone: still running at the drain deadline"
            );
        }
        for job in &abandoned {
            tracing::warn!(
                target: "workerflow::serve",
                route = %job.route,
                trace_id = %job.trace_id,
                "job left undone: still queued at the drain deadline"
            );
        }
        abandoned.len() + running.len()
    };
    if undone > 0 {
        tracing::error!(
            target: "workerflow::serve",
            undone,
            queued = abandoned.len(),
            running = running.len(),
            accepted = counts.accepted,
            succeeded = counts.succeeded,
            failed = counts.failed,
            "drain deadline passed: {undone} accepted jobs left undone"
        );
    } else {
        tracing::info!(
            target: "workerflow::serve",
            accepted = counts.accepted,
            succeeded = counts.succeeded,
            failed = counts.failed,
            "drained: every accepted job ran, 0 left undone"
        );
    }
    ServeReport {
        jobs: queue.counts(),
        undone,
        requests_cut,
        left_in_store: 0,
    }
}

fn router(state: Arc<AppState>) -> Router {
    let body_limit = state.body_limit;
    Router::new()
        .route("/health", get(api::health))
        .route("/health/config", get(api::health_config))
        .route("/api/routes", get(api::list_routes))
        .route("/api/jobs/{trace_id}", get(api::get_job))
        .route("/openapi.json", get(api::openapi))
        .route("/api/{route}", post(api::call_route))
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            api::front_door,
        ))
        .with_state(state)
}
