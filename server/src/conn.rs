//! Connections: each accepted socket is served by hyper's HTTP/1 connection (HTTP/2 is never
//! spoken), with hyper's header-read timeout and head limits (`limits.rs`), an idle keep-alive
//! timeout, a cap on open connections, and shutdown that closes idle and half-read connections
//! at once. hyper answers a request it cannot parse itself (a bare 400, 414 or 431); everything
//! it can parse reaches the router.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::http::{Request, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use workerflow_runtime::TraceId;

use crate::error::raw_error;
use crate::limits::{HYPER_MAX_BUF, HYPER_MAX_HEADERS};

/// How long a closing connection (shutdown, keep-alive timeout) may take to write what it has
/// before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_millis(250);
/// Connections refused over the cap that may be answering at once; beyond, refused silently.
const MAX_REFUSING: usize = 64;

/// The limits of every connection.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub header_timeout: Duration,
    pub keep_alive_timeout: Duration,
    pub max_connections: usize,
}

/// The open connections and what it takes to accept another.
pub(crate) struct Connections {
    tasks: JoinSet<()>,
    permits: Arc<Semaphore>,
    refusing: Arc<Semaphore>,
    stop: watch::Sender<bool>,
    limits: Limits,
    app: Router,
}

impl Connections {
    pub(crate) fn new(app: Router, limits: Limits) -> Self {
        Connections {
            tasks: JoinSet::new(),
            permits: Arc::new(Semaphore::new(limits.max_connections.max(1))),
            refusing: Arc::new(Semaphore::new(MAX_REFUSING)),
            stop: watch::channel(false).0,
            limits,
            app,
        }
    }

    /// Serves `stream`, or answers 503 when `max_connections` are open.
    pub(crate) fn accept(&mut self, stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => {
                let task = serve_connection(
                    stream,
                    self.app.clone(),
                    self.limits,
                    permit,
                    self.stop.subscribe(),
                );
                self.tasks.spawn(task);
            }
            Err(_) => refuse(stream, &self.refusing, self.limits.max_connections),
        }
    }

    /// Reaps finished connections; pending forever while none is open.
    pub(crate) async fn reap(&mut self) {
        if self.tasks.join_next().await.is_none() {
            std::future::pending::<()>().await;
        }
    }

    /// Tells every connection to close: idle and half-read ones at once, those with a request
    /// in progress once its response is written.
    pub(crate) fn close(&self) {
        self.stop.send_replace(true);
    }

    /// Waits until every connection is closed.
    pub(crate) async fn closed(&mut self) {
        while self.tasks.join_next().await.is_some() {}
    }

    pub(crate) fn abort(&mut self) {
        self.tasks.abort_all();
    }
}

/// Whether an accept error concerns only the connection being accepted (the next accept may
/// succeed at once), as opposed to the process (out of file descriptors, memory).
pub(crate) fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

/// What the connection task and its socket wrapper share.
struct Activity {
    /// The last byte read, or the last response completed.
    last: Mutex<Instant>,
    /// Requests handed to the router whose response is not complete.
    in_flight: AtomicUsize,
}

impl Activity {
    fn touch(&self) {
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
    }

    fn last(&self) -> Instant {
        *self.last.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn idle(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
    }

    /// Completes once no request is in progress and nothing was read for `limit`.
    async fn idle_for(&self, limit: Duration) {
        loop {
            let last = self.last();
            tokio::time::sleep_until(last + limit).await;
            if self.idle() && self.last() == last {
                return;
            }
        }
    }
}

async fn serve_connection(
    stream: TcpStream,
    app: Router,
    limits: Limits,
    _permit: OwnedSemaphorePermit,
    mut stop: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity {
        last: Mutex::new(Instant::now()),
        in_flight: AtomicUsize::new(0),
    });
    let io = TokioIo::new(Wire {
        stream,
        activity: Arc::clone(&activity),
    });
    let shared = Arc::clone(&activity);
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let mut app = app.clone();
        let activity = Arc::clone(&shared);
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        async move {
            let response = tower_service::Service::call(&mut app, request).await;
            activity.in_flight.fetch_sub(1, Ordering::AcqRel);
            activity.touch();
            response
        }
    });
    // HTTP/1 only: hyper's http1 connection answers an HTTP/2 preface with 400 and closes.
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_headers(HYPER_MAX_HEADERS)
        .max_buf_size(HYPER_MAX_BUF)
        .keep_alive(true);
    let connection = builder.serve_connection(io, service);
    let mut connection = std::pin::pin!(connection);
    let mut closing = false;
    // When a closing connection with no request in progress is dropped.
    let mut drop_at: Option<Instant> = None;
    loop {
        tokio::select! {
            served = connection.as_mut() => {
                if let Err(error) = served
                    && error.is_parse()
                    && !error.is_parse_version_h2()
                {
                    tracing::info!(
                        target: "workerflow::serve",
                        reason = %error,
                        "request refused by the HTTP parser"
                    );
                }
                return;
            }
            _ = stop.wait_for(|stopped| *stopped), if !closing => {
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
            () = activity.idle_for(limits.keep_alive_timeout), if !closing => {
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
            () = tokio::time::sleep(Duration::from_millis(20)), if closing => {}
        }
        // hyper closes an idle connection at once and finishes a request in progress; a
        // half-read request (not yet handed to the router) would hold the connection until the
        // header timeout, so once nothing is in progress the connection is dropped after a
        // short grace for the last response to be written.
        if closing && activity.idle() {
            let at = *drop_at.get_or_insert_with(|| Instant::now() + CLOSE_GRACE);
            if Instant::now() >= at {
                return;
            }
        }
    }
}

/// Over the cap: answers 503 (the documented body, `Retry-After: 1`) and closes, so a flood of
/// idle sockets never leaves a caller hanging; `/health` answers again as soon as they time out.
fn refuse(mut stream: TcpStream, refusing: &Arc<Semaphore>, max_connections: usize) {
    let Ok(permit) = Arc::clone(refusing).try_acquire_owned() else {
        return; // dropped: closed at once
    };
    let trace_id = TraceId::generate();
    tracing::warn!(
        target: "workerflow::serve",
        status = 503,
        trace_id = %trace_id,
        max_connections,
        "connection refused: too many open connections"
    );
    tokio::spawn(async move {
        let _permit = permit;
        let answer = raw_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_connections",
            &format!("the server has {max_connections} connections open; retry later"),
            &trace_id,
        );
        let mut scratch = [0u8; 4096];
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            stream.write_all(&answer).await?;
            stream.shutdown().await?;
            // Read what the caller sent until it closes, so the close is not a reset that
            // destroys the answer before the caller reads it.
            while stream.read(&mut scratch).await? > 0 {}
            Ok::<(), io::Error>(())
        })
        .await;
    });
}

/// The socket as hyper sees it: every byte read marks the connection active (the keep-alive
/// timer); writes pass through.
struct Wire {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Wire {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.touch();
        }
        read
    }
}

impl AsyncWrite for Wire {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
