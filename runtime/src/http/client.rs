//! The retry loop: one logical request sent under the policy (POLICY.md 2.1–2.5).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use http::header::RETRY_AFTER;

use super::egress::{self, Reach};
use super::failure::{FailureKind, HttpFailure, HttpResponse};
use super::transport::{RawResponse, Transport, TransportError};
#[cfg(feature = "reqwest")]
use super::transport::{ReqwestTransport, ReqwestTransportBuildError};
use super::{HttpPolicy, OutboundRequest, policy, retry_after};

/// The client: a policy and a transport. Cheap to clone; clones share connections.
#[derive(Clone)]
pub struct HttpClient {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    policy: HttpPolicy,
    transport: Arc<dyn Transport>,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("policy", &self.inner.policy)
            .finish()
    }
}

impl HttpClient {
    /// A client over [`ReqwestTransport`] with this policy.
    #[cfg(feature = "reqwest")]
    pub fn new(policy: HttpPolicy) -> Result<Self, ReqwestTransportBuildError> {
        let transport = ReqwestTransport::new(policy.attempt_timeout)?;
        Ok(HttpClient::with_transport(policy, Arc::new(transport)))
    }

    /// A client over any [`Transport`].
    pub fn with_transport(policy: HttpPolicy, transport: Arc<dyn Transport>) -> Self {
        HttpClient {
            inner: Arc::new(ClientInner { policy, transport }),
        }
    }

    /// The client dispatch uses when none is configured: the default policy over reqwest,
    /// created once per process. `None` if the HTTP stack could not be set up.
    #[cfg(feature = "reqwest")]
    pub fn shared() -> Option<HttpClient> {
        static SHARED: std::sync::OnceLock<Option<HttpClient>> = std::sync::OnceLock::new();
        SHARED
            .get_or_init(|| HttpClient::new(HttpPolicy::default()).ok())
            .clone()
    }

    /// The timeouts, retries and backoff the client sends under (POLICY.md 2.1).
    pub fn policy(&self) -> &HttpPolicy {
        &self.inner.policy
    }

    /// Sends one logical request under the policy (POLICY.md 2.1–2.5) and returns the 2xx
    /// response or the last outcome as an [`HttpFailure`]. `route` and `trace_id` only label log
    /// records.
    pub async fn send(
        &self,
        request: &OutboundRequest,
        route: &str,
        trace_id: &str,
    ) -> Result<HttpResponse, HttpFailure> {
        self.send_reaching(request, route, trace_id, Reach::Any)
            .await
    }

    /// [`HttpClient::send`] for a request that passed the egress check (POLICY.md 2.8):
    /// with [`Reach::Public`] each attempt goes through [`Transport::send_public`].
    pub(crate) async fn send_reaching(
        &self,
        request: &OutboundRequest,
        route: &str,
        trace_id: &str,
        reach: Reach,
    ) -> Result<HttpResponse, HttpFailure> {
        let policy = &self.inner.policy;
        let transport = &*self.inner.transport;
        let idempotent = request.is_idempotent();
        let host = request.host();
        let start = Instant::now();
        // A deadline too far out to represent is no deadline.
        let deadline = start.checked_add(policy.deadline);
        let mut attempts: u32 = 0;
        loop {
            attempts = attempts.saturating_add(1);
            let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let limit = remaining.map_or(policy.attempt_timeout, |r| policy.attempt_timeout.min(r));
            tracing::debug!(
                route,
                trace_id,
                method = %request.method(),
                host = %host,
                path = request.loggable_path(),
                attempt = attempts,
                "sending request"
            );
            let outcome = if limit.is_zero() {
                Err(TransportError::Timeout)
            } else if reach == Reach::Public {
                transport.send_public(request, limit).await
            } else {
                transport.send(request, limit).await
            };
            let (retryable, retry_after) = match &outcome {
                Ok(response) if response.status.is_success() => {
                    tracing::debug!(route, trace_id, host = %host, status = response.status.as_u16(), attempt = attempts, "response");
                    return finish(outcome, host, attempts, limit);
                }
                Ok(response) => (
                    policy::retries_status(response.status, idempotent),
                    response
                        .headers
                        .get(RETRY_AFTER)
                        .and_then(|value| retry_after::retry_after(value, SystemTime::now())),
                ),
                Err(TransportError::Connect { .. }) => (true, None),
                // Resolving again gives the same verdict: nothing to retry.
                Err(TransportError::Denied) => (false, None),
                Err(TransportError::Timeout | TransportError::Interrupted { .. }) => {
                    (idempotent, None)
                }
            };
            log_outcome(&outcome, route, trace_id, &host, attempts);
            if !retryable || attempts > policy.max_retries {
                return finish(outcome, host, attempts, limit);
            }
            let wait = match retry_after {
                Some(delay) => delay.min(policy.cap()),
                None => policy.backoff(attempts - 1, policy.sample_jitter()),
            };
            let resumes = Instant::now().checked_add(wait);
            let crosses_deadline = match (resumes, deadline) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some(resumes), Some(deadline)) => resumes >= deadline,
            };
            if crosses_deadline {
                tracing::debug!(route, trace_id, host = %host, wait_ms = millis(wait), "no retry: the wait would cross the deadline");
                return finish(outcome, host, attempts, limit);
            }
            tracing::debug!(route, trace_id, host = %host, attempt = attempts, wait_ms = millis(wait), "retrying");
            transport.sleep(wait).await;
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn log_outcome(
    outcome: &Result<RawResponse, TransportError>,
    route: &str,
    trace_id: &str,
    host: &str,
    attempt: u32,
) {
    match outcome {
        Ok(response) => {
            tracing::debug!(
                route,
                trace_id,
                host,
                status = response.status.as_u16(),
                attempt,
                "response"
            )
        }
        Err(error) => {
            tracing::debug!(route, trace_id, host, attempt, error = ?error, "no response")
        }
    }
}

/// The last outcome as the route sees it (POLICY.md 2.5).
fn finish(
    outcome: Result<RawResponse, TransportError>,
    host: String,
    attempts: u32,
    limit: Duration,
) -> Result<HttpResponse, HttpFailure> {
    let kind = match outcome {
        Ok(response) if response.status.is_success() && response.truncated => {
            FailureKind::InvalidResponse {
                reason: "body exceeds 8 MiB",
            }
        }
        Ok(response) if response.status.is_success() => {
            return Ok(HttpResponse {
                status: response.status,
                headers: response.headers,
                body: response.body,
                host,
                attempts,
            });
        }
        Ok(response) => FailureKind::Status {
            status: response.status,
            body: response.body,
        },
        Err(TransportError::Connect {
            timed_out: true, ..
        })
        | Err(TransportError::Timeout) => FailureKind::Timeout {
            after_ms: millis(limit),
        },
        Err(TransportError::Connect { reason, .. })
        | Err(TransportError::Interrupted { reason }) => FailureKind::Connect { reason },
        Err(TransportError::Denied) => FailureKind::EgressDenied {
            reason: egress::NON_PUBLIC,
        },
    };
    Err(HttpFailure {
        host,
        attempts,
        kind,
    })
}
