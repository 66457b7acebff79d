//! Connections: each accepted socket is served by hyper's HTTP/1 connection (HTTP/2 is never
//! spoken), with hyper's header-read timeout, an idle keep-alive timeout, a cap on open
//! connections, shutdown that closes idle and half-read connections at once, and the JSON error
//! body on the answers hyper writes itself (400, 414, 431).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::http::{Method, Request, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use workerflow_runtime::TraceId;

use super::error::{parser_refusal, raw_error};

/// How long a closing connection (shutdown, keep-alive timeout) may take to write what it has
/// before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_millis(250);
/// Connections refused over the cap that may be answering at once; beyond, refused silently.
const MAX_REFUSING: usize = 64;
/// A response head longer than this is not ours to inspect (ours are a few hundred bytes).
const MAX_INSPECTED_HEAD: usize = 16 * 1024;

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
    pub fn new(app: Router, limits: Limits) -> Self {
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
    pub fn accept(&mut self, stream: TcpStream) {
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
    pub async fn reap(&mut self) {
        if self.tasks.join_next().await.is_none() {
            std::future::pending::<()>().await;
        }
    }

    /// Tells every connection to close: idle and half-read ones at once, those with a request
    /// in progress once its response is written.
    pub fn close(&self) {
        self.stop.send_replace(true);
    }

    /// Waits until every connection is closed.
    pub async fn closed(&mut self) {
        while self.tasks.join_next().await.is_some() {}
    }

    pub fn abort(&mut self) {
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
    /// Whether the request being answered is a HEAD (its response head announces a body that
    /// is not sent).
    head_request: AtomicBool,
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
        head_request: AtomicBool::new(false),
    });
    let io = TokioIo::new(Wire::new(stream, Arc::clone(&activity)));
    let shared = Arc::clone(&activity);
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let mut app = app.clone();
        let activity = Arc::clone(&shared);
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        activity
            .head_request
            .store(request.method() == Method::HEAD, Ordering::Release);
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
        .keep_alive(true);
    let connection = builder.serve_connection(io, service);
    let mut connection = std::pin::pin!(connection);
    let mut closing = false;
    // When a closing connection with no request in progress is dropped.
    let mut drop_at: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = connection.as_mut() => return,
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

/// The socket as hyper sees it: reads mark activity; writes pass through, except a response
/// head without `x-trace-id` and a 4xx/5xx status, which only hyper writes (for a request it
/// could not parse): it is replaced by the documented JSON error answer. hyper has no hook for
/// those answers, so the outgoing stream is followed head by head; only heads (and what hyper
/// writes together with them) are buffered, bodies of known length are written through.
struct Wire {
    stream: TcpStream,
    activity: Arc<Activity>,
    /// Bytes accepted from hyper and not yet written to the socket, from `sent` on.
    out: Vec<u8>,
    sent: usize,
    state: Outgoing,
}

/// Where the outgoing byte stream is.
enum Outgoing {
    /// At (or inside) a response head: the bytes so far.
    Head(Vec<u8>),
    /// Inside a body of known length: the bytes left.
    Body(u64),
    /// Past what can be followed (a chunked body, a replaced answer): bytes pass unchanged.
    Verbatim,
}

impl Wire {
    fn new(stream: TcpStream, activity: Arc<Activity>) -> Self {
        Wire {
            stream,
            activity,
            out: Vec::new(),
            sent: 0,
            state: Outgoing::Head(Vec::new()),
        }
    }

    /// Follows the responses in `bytes` and queues them (or their replacement) in `out`.
    fn take(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match &mut self.state {
                Outgoing::Verbatim => {
                    self.out.extend_from_slice(bytes);
                    return;
                }
                Outgoing::Body(left) => {
                    let take = usize::try_from(*left).map_or(bytes.len(), |l| l.min(bytes.len()));
                    self.out.extend_from_slice(&bytes[..take]);
                    *left -= take as u64;
                    if *left == 0 {
                        self.state = Outgoing::Head(Vec::new());
                    }
                    bytes = &bytes[take..];
                }
                Outgoing::Head(head) => {
                    let before = head.len();
                    head.extend_from_slice(bytes);
                    let from = before.saturating_sub(3);
                    match find(&head[from..], b"\r\n\r\n") {
                        Some(at) => {
                            let end = from + at + 4;
                            let complete: Vec<u8> = head[..end].to_vec();
                            bytes = &bytes[end - before..];
                            self.state = self.finish_head(&complete);
                        }
                        None => {
                            if head.len() > MAX_INSPECTED_HEAD {
                                let head = std::mem::take(head);
                                self.out.extend_from_slice(&head);
                                self.state = Outgoing::Verbatim;
                            }
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Queues a complete response head (or its replacement) and says what follows it.
    fn finish_head(&mut self, head: &[u8]) -> Outgoing {
        let status = head
            .get(9..12)
            .and_then(|code| std::str::from_utf8(code).ok())
            .and_then(|code| code.parse::<u16>().ok())
            .filter(|_| head.starts_with(b"HTTP/1."));
        let Some(status) = status else {
            self.out.extend_from_slice(head);
            return Outgoing::Verbatim;
        };
        let lower = head.to_ascii_lowercase();
        let ours = find(&lower, b"\r\nx-trace-id:").is_some();
        if !ours && status >= 400 {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            let trace_id = TraceId::generate();
            let (code, message) = parser_refusal(status);
            tracing::info!(
                target: "workerflow::serve",
                status = status.as_u16(),
                trace_id = %trace_id,
                "request refused by the HTTP parser"
            );
            self.out
                .extend_from_slice(&raw_error(status, code, message, &trace_id));
            // hyper closes the connection after this answer; whatever it adds passes through.
            return Outgoing::Verbatim;
        }
        self.out.extend_from_slice(head);
        if status < 200 {
            return Outgoing::Head(Vec::new()); // `100 Continue`: the real head follows
        }
        if find(&lower, b"\r\ntransfer-encoding:").is_some() {
            return Outgoing::Verbatim;
        }
        if self.activity.head_request.load(Ordering::Acquire) {
            return Outgoing::Head(Vec::new());
        }
        match content_length(&lower) {
            Some(0) => Outgoing::Head(Vec::new()),
            Some(length) => Outgoing::Body(length),
            None => Outgoing::Verbatim,
        }
    }

    /// Writes `out` to the socket.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.out.len() {
            let written =
                ready!(Pin::new(&mut self.stream).poll_write(cx, &self.out[self.sent..]))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += written;
        }
        self.out.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// The `content-length` of a lower-cased response head.
fn content_length(head: &[u8]) -> Option<u64> {
    let at = find(head, b"\r\ncontent-length:")? + b"\r\ncontent-length:".len();
    let rest = &head[at..];
    let end = find(rest, b"\r\n").unwrap_or(rest.len());
    std::str::from_utf8(&rest[..end]).ok()?.trim().parse().ok()
}

impl AsyncRead for Wire {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.stream).poll_read(cx, buf))?;
        if buf.filled().len() > before {
            this.activity.touch();
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Wire {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // What was queued before goes first; until it is written, hyper waits (back-pressure).
        ready!(this.poll_drain(cx))?;
        // Only response heads are inspected (and so copied); bodies go straight to the socket.
        let direct = match this.state {
            Outgoing::Verbatim => buf.len(),
            Outgoing::Body(left) => usize::try_from(left).map_or(buf.len(), |l| l.min(buf.len())),
            Outgoing::Head(_) => 0,
        };
        if direct > 0 {
            let written = ready!(Pin::new(&mut this.stream).poll_write(cx, &buf[..direct]))?;
            if let Outgoing::Body(left) = &mut this.state {
                *left -= written as u64;
                if *left == 0 {
                    this.state = Outgoing::Head(Vec::new());
                }
            }
            return Poll::Ready(Ok(written));
        }
        this.take(buf);
        // Start writing now; hyper flushes (and so finishes the drain) after every write.
        if let Poll::Ready(Err(error)) = this.poll_drain(cx) {
            return Poll::Ready(Err(error));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_is_read_from_a_lower_cased_head() {
        let head = b"http/1.1 200 ok\r\ncontent-type: x\r\ncontent-length: 42\r\n\r\n";
        assert_eq!(content_length(head), Some(42));
        assert_eq!(content_length(b"http/1.1 200 ok\r\n\r\n"), None);
    }
}
