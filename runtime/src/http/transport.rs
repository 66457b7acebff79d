//! The seam between the retry policy and an HTTP stack: one attempt, and a timer.
//!
//! [`ReqwestTransport`] (feature `reqwest`, on by default) is the stack used everywhere today;
//! another one (a WebAssembly host's `fetch`, a test double) implements [`Transport`] and is
//! passed to [`super::HttpClient::with_transport`].

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use http::{HeaderMap, StatusCode};

use super::OutboundRequest;

/// A boxed, `Send` future, as [`Transport`] methods return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Response bodies are read up to this many bytes (POLICY.md 2.7).
pub const MAX_BODY: usize = 8 * 1024 * 1024;

/// One HTTP stack. Implementations must not follow redirects, must send the request exactly as
/// given (method, URL, headers, body), and must never put a URL or header value in a
/// [`TransportError`].
pub trait Transport: Send + Sync {
    /// Sends one attempt and reads the whole response body (keeping at most [`MAX_BODY`] bytes),
    /// giving up after `timeout`.
    fn send<'a>(
        &'a self,
        request: &'a OutboundRequest,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<RawResponse, TransportError>>;

    /// [`Transport::send`] for a host the operator did not configure (POLICY.md 2.8): a name
    /// that resolves only to loopback, private, link-local or unspecified addresses is refused
    /// with [`TransportError::Denied`] before connecting, and such addresses among others are
    /// skipped. The default sends as `send` does, for stacks that cannot see resolved addresses
    /// (the runtime has already refused such address literals and `localhost`).
    fn send_public<'a>(
        &'a self,
        request: &'a OutboundRequest,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<RawResponse, TransportError>> {
        self.send(request, timeout)
    }

    /// Waits between attempts. The retry loop uses the stack's own timer so that it does not
    /// tie the client to one async runtime. The timer must be made when the future is first
    /// polled, not by this call: it may be called outside the runtime that will drive it
    /// (POLICY.md 2.9).
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

/// What one attempt got back.
#[derive(Clone)]
pub struct RawResponse {
    /// The response's status.
    pub status: StatusCode,
    /// The response's headers.
    pub headers: HeaderMap,
    /// At most [`MAX_BODY`] bytes.
    pub body: Vec<u8>,
    /// The body was longer than [`MAX_BODY`]; `body` holds its start.
    pub truncated: bool,
}

impl std::fmt::Debug for RawResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Bodies can echo secrets; only their size is shown.
        f.debug_struct("RawResponse")
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .field("truncated", &self.truncated)
            .finish()
    }
}

/// Why an attempt got no response. `reason` is a short fixed text, never a URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportError {
    /// No connection was made, so the request was not sent (refused, DNS, TLS, a timeout while
    /// connecting): safe to retry even when the request is not idempotent.
    Connect {
        /// What failed (`connection refused`, `dns error`, `tls handshake failed`).
        reason: &'static str,
        /// The connection attempt ran out of time (reported as a timeout, not a connect
        /// failure).
        timed_out: bool,
    },
    /// The attempt ran out of time; the request may have been sent.
    Timeout,
    /// The connection failed after the request was sent (reset, closed before a complete
    /// response).
    Interrupted {
        /// What failed (`connection closed before response`).
        reason: &'static str,
    },
    /// The host resolved only to addresses [`Transport::send_public`] may not reach; nothing was
    /// sent.
    Denied,
}

#[cfg(feature = "reqwest")]
pub(crate) use reqwest_transport::own_runtime;
#[cfg(feature = "reqwest")]
pub use reqwest_transport::{ReqwestTransport, ReqwestTransportBuildError};

#[cfg(feature = "reqwest")]
mod reqwest_transport {
    use std::error::Error as _;
    use std::sync::OnceLock;
    use std::time::Duration;

    use super::{BoxFuture, MAX_BODY, RawResponse, Transport, TransportError};
    use crate::http::OutboundRequest;
    use crate::http::egress::is_public_ip;

    /// [`Transport`] over `reqwest` with rustls: no redirects, `user-agent: workerflow-runtime`,
    /// connections pooled per client. [`Transport::send_public`] goes through a second client
    /// whose resolver drops non-public addresses (POLICY.md 2.8).
    ///
    /// It runs on the caller's `tokio` runtime when there is one; otherwise (a call through
    /// `dispatch_blocking`, another executor) on a small runtime of its own, so no call panics
    /// for want of a reactor.
    #[derive(Clone)]
    pub struct ReqwestTransport {
        client: reqwest::Client,
        /// The same client with a resolver that returns public addresses only.
        public: reqwest::Client,
    }

    impl std::fmt::Debug for ReqwestTransport {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("ReqwestTransport")
        }
    }

    /// Why the HTTP stack could not be set up (the TLS backend failed to initialise).
    #[derive(Debug, thiserror::Error)]
    #[error("the HTTP client could not be initialised")]
    pub struct ReqwestTransportBuildError;

    impl ReqwestTransport {
        /// A transport whose connection attempts give up after `connect_timeout`. A timeout
        /// while connecting is a [`TransportError::Connect`]: the request was not sent.
        pub fn new(connect_timeout: Duration) -> Result<Self, ReqwestTransportBuildError> {
            Ok(ReqwestTransport {
                client: build(connect_timeout, SystemResolver { public_only: false })?,
                public: build(connect_timeout, SystemResolver { public_only: true })?,
            })
        }
    }

    fn build(
        connect_timeout: Duration,
        resolver: SystemResolver,
    ) -> Result<reqwest::Client, ReqwestTransportBuildError> {
        reqwest::Client::builder()
            // Never followed: a redirect could carry a token or a webhook body to another host.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("workerflow-runtime")
            .connect_timeout(connect_timeout)
            .dns_resolver(std::sync::Arc::new(resolver))
            .build()
            .map_err(|_| ReqwestTransportBuildError)
    }

    /// One attempt of `request` through `client`.
    fn send_with<'a>(
        client: &reqwest::Client,
        request: &'a OutboundRequest,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<RawResponse, TransportError>> {
        match to_reqwest(client, request) {
            Some(built) => Box::pin(on_tokio(
                attempt(client.clone(), built, timeout),
                Err(UNAVAILABLE),
            )),
            None => Box::pin(async { Err(UNAVAILABLE) }),
        }
    }

    /// The request as reqwest sends it. Built with reqwest's builder, which takes user-info
    /// (`https://user:password@host/…`) out of the URL into an `Authorization: Basic` header
    /// (the request's own `Authorization`, when it has one, wins): a URL with credentials in it
    /// never reaches the connection pool, whose debug records name the URL's authority.
    pub(super) fn to_reqwest(
        client: &reqwest::Client,
        request: &OutboundRequest,
    ) -> Option<reqwest::Request> {
        let mut builder = client
            .request(request.method().clone(), request.url().clone())
            .headers(request.headers().clone());
        if !request.body_bytes().is_empty() {
            builder = builder.body(reqwest::Body::from(request.body_bytes().clone()));
        }
        builder.build().ok()
    }

    impl Transport for ReqwestTransport {
        fn send<'a>(
            &'a self,
            request: &'a OutboundRequest,
            timeout: Duration,
        ) -> BoxFuture<'a, Result<RawResponse, TransportError>> {
            send_with(&self.client, request, timeout)
        }

        fn send_public<'a>(
            &'a self,
            request: &'a OutboundRequest,
            timeout: Duration,
        ) -> BoxFuture<'a, Result<RawResponse, TransportError>> {
            send_with(&self.public, request, timeout)
        }

        fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
            // The timer is made when first polled, inside the runtime that drives it: made
            // here, outside any runtime, `tokio::time::sleep` panics (no reactor).
            Box::pin(on_tokio(
                async move { tokio::time::sleep(duration).await },
                (),
            ))
        }
    }

    const UNAVAILABLE: TransportError = TransportError::Connect {
        reason: "no async runtime available",
        timed_out: false,
    };

    async fn attempt(
        client: reqwest::Client,
        request: reqwest::Request,
        timeout: Duration,
    ) -> Result<RawResponse, TransportError> {
        match tokio::time::timeout(timeout, exchange(client, request)).await {
            Ok(result) => result,
            Err(_elapsed) => Err(TransportError::Timeout),
        }
    }

    async fn exchange(
        client: reqwest::Client,
        request: reqwest::Request,
    ) -> Result<RawResponse, TransportError> {
        let mut response = client.execute(request).await.map_err(classify)?;
        let status = response.status();
        let headers = std::mem::take(response.headers_mut());
        let mut body = Vec::new();
        let mut truncated = false;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = MAX_BODY - body.len();
                    if chunk.len() > room {
                        body.extend_from_slice(&chunk[..room]);
                        truncated = true;
                        break;
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(error) => return Err(classify(error)),
            }
        }
        Ok(RawResponse {
            status,
            headers,
            body,
            truncated,
        })
    }

    /// Turns a reqwest error into a fixed reason. The error is stripped of its URL and only its
    /// kind and causes' kinds are inspected; it is never formatted into a message.
    fn classify(error: reqwest::Error) -> TransportError {
        let error = error.without_url();
        if caused_by::<NonPublicAddress>(&error) {
            return TransportError::Denied;
        }
        if error.is_connect() {
            return TransportError::Connect {
                reason: connect_reason(&error),
                timed_out: error.is_timeout(),
            };
        }
        if error.is_timeout() {
            return TransportError::Timeout;
        }
        TransportError::Interrupted {
            reason: "connection closed before response",
        }
    }

    fn caused_by<E: std::error::Error + 'static>(error: &reqwest::Error) -> bool {
        let mut source = error.source();
        while let Some(cause) = source {
            if cause.is::<E>() {
                return true;
            }
            source = cause.source();
        }
        false
    }

    fn connect_reason(error: &reqwest::Error) -> &'static str {
        let mut source = error.source();
        while let Some(cause) = source {
            if let Some(io) = cause.downcast_ref::<std::io::Error>() {
                match io.kind() {
                    std::io::ErrorKind::ConnectionRefused => return "connection refused",
                    std::io::ErrorKind::TimedOut => return "connect timed out",
                    std::io::ErrorKind::ConnectionReset => return "connection reset",
                    // hyper-rustls reports handshake failures as invalid data.
                    std::io::ErrorKind::InvalidData => return "tls handshake failed",
                    _ => {}
                }
            }
            if cause.is::<ResolveFailure>() {
                return "dns error";
            }
            source = cause.source();
        }
        "connection failed"
    }

    /// The system resolver (getaddrinfo on a blocking thread, as reqwest's default), with its
    /// failures in a type of our own so [`connect_reason`] tells them apart by type rather than
    /// by the wording of hyper-util's messages. With `public_only`, non-public addresses are
    /// dropped here, the one place that sees them before a connection is made.
    struct SystemResolver {
        public_only: bool,
    }

    /// A name that did not resolve. Its text never reaches a message: only the type is looked at.
    #[derive(Debug, thiserror::Error)]
    #[error("dns error")]
    struct ResolveFailure(#[source] std::io::Error);

    /// A name that resolved to non-public addresses only, for a client that may not reach them.
    #[derive(Debug, thiserror::Error)]
    #[error("resolved to a non-public address")]
    struct NonPublicAddress;

    impl reqwest::dns::Resolve for SystemResolver {
        fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
            let host = name.as_str().to_owned();
            let public_only = self.public_only;
            Box::pin(async move {
                // Port 0: reqwest puts in the URL's port or the scheme's default.
                match tokio::net::lookup_host((host.as_str(), 0)).await {
                    Ok(addrs) => {
                        let mut addrs: Vec<_> = addrs.collect();
                        if public_only {
                            addrs.retain(|addr| is_public_ip(addr.ip()));
                            if addrs.is_empty() {
                                return Err(NonPublicAddress.into());
                            }
                        }
                        let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
                        Ok(addrs)
                    }
                    Err(error) => Err(ResolveFailure(error).into()),
                }
            })
        }
    }

    /// Runs `future` on the current tokio runtime, or on the transport's own one when there is
    /// none; `fallback` when neither can run it. `future` must make its timers and sockets
    /// when first polled (an `async` block), not when built: it may be built outside a runtime.
    async fn on_tokio<F>(future: F, fallback: F::Output) -> F::Output
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        if tokio::runtime::Handle::try_current().is_ok() {
            return future.await;
        }
        match own_runtime() {
            Some(handle) => handle.spawn(future).await.unwrap_or(fallback),
            None => fallback,
        }
    }

    /// A one-thread runtime started on first use, for callers outside tokio; its thread does
    /// nothing but drive its timers and sockets, so any thread may block on futures that use
    /// them (`RouteTable::dispatch_blocking` enters it).
    pub(crate) fn own_runtime() -> Option<&'static tokio::runtime::Handle> {
        static HANDLE: OnceLock<Option<tokio::runtime::Handle>> = OnceLock::new();
        HANDLE
            .get_or_init(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                let handle = runtime.handle().clone();
                std::thread::Builder::new()
                    .name("workerflow-http".to_owned())
                    .spawn(move || runtime.block_on(std::future::pending::<()>()))
                    .ok()?;
                Some(handle)
            })
            .as_ref()
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn attempt_to(url: &str) -> Result<RawResponse, TransportError> {
            let transport = ReqwestTransport::new(Duration::from_secs(5)).expect("transport");
            let url = url::Url::parse(url).expect("url");
            let request = OutboundRequest::api(http::Method::GET, url);
            pollster::block_on(transport.send(&request, Duration::from_secs(10)))
        }

        /// Issue 30.2: user-info never reaches the client's URL (nor its pool's records); it
        /// becomes a Basic header, and a request's own `Authorization` wins over it.
        #[test]
        fn user_info_leaves_the_url_for_a_basic_header() {
            let client = reqwest::Client::new();
            let url = url::Url::parse("https://bot:pa%24%24word@hooks.example.com/hook?x=1")
                .expect("url");
            let built = to_reqwest(&client, &OutboundRequest::webhook(url.clone())).expect("built");
            assert_eq!(built.url().as_str(), "https://hooks.example.com/hook?x=1");
            assert_eq!(
                built.headers()["authorization"],
                // base64("bot:pa$$word")
                "Basic Ym90OnBhJCR3b3Jk"
            );
            let own = OutboundRequest::webhook(url).header(
                http::header::AUTHORIZATION,
                http::HeaderValue::from_static("Bearer t0ken"),
            );
            let built = to_reqwest(&client, &own).expect("built");
            assert_eq!(built.url().username(), "");
            assert_eq!(built.headers().get_all("authorization").iter().count(), 1);
            assert_eq!(built.headers()["authorization"], "Bearer t0ken");
        }

        #[test]
        fn sleeping_outside_tokio_needs_no_reactor() {
            let transport = ReqwestTransport::new(Duration::from_secs(5)).expect("transport");
            pollster::block_on(transport.sleep(Duration::from_millis(1)));
        }

        #[test]
        fn unresolvable_names_are_dns_errors() {
            // `.invalid` never resolves (RFC 6761).
            assert_eq!(
                attempt_to("http://no-such-host.invalid/").map(|_| ()),
                Err(TransportError::Connect {
                    reason: "dns error",
                    timed_out: false
                })
            );
        }

        #[test]
        fn the_public_client_never_connects_to_names_of_loopback_addresses() {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
            listener.set_nonblocking(true).expect("nonblocking");
            let port = listener.local_addr().expect("addr").port();
            let transport = ReqwestTransport::new(Duration::from_secs(5)).expect("transport");
            let url = url::Url::parse(&format!("http://localhost:{port}/")).expect("url");
            let request = OutboundRequest::api(http::Method::GET, url);
            let outcome =
                pollster::block_on(transport.send_public(&request, Duration::from_secs(10)));
            assert_eq!(outcome.map(|_| ()), Err(TransportError::Denied));
            // Nothing was accepted: the connection was never made.
            assert!(listener.accept().is_err());
        }

        #[test]
        fn refused_connections_are_named_as_such() {
            // A port just released by the OS has no listener.
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|listener| listener.local_addr())
                .expect("port")
                .port();
            assert_eq!(
                attempt_to(&format!("http://127.0.0.1:{port}/")).map(|_| ()),
                Err(TransportError::Connect {
                    reason: "connection refused",
                    timed_out: false
                })
            );
        }
    }
}
