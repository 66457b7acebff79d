//! The retry policy of POLICY.md 2.1–2.4: timeouts, which outcomes are retried, and how long
//! to wait between attempts.

use std::time::Duration;

use http::StatusCode;

/// The six settings of POLICY.md 2.1. `Default` is the production policy; tests use small
/// values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpPolicy {
    /// Limit for one attempt: connecting, sending and reading the whole response body.
    pub attempt_timeout: Duration,
    /// Limit for one logical request: every attempt and every wait, from the first attempt on.
    pub deadline: Duration,
    /// Retries after the first attempt; 0 disables retries.
    pub max_retries: u32,
    /// The first backoff step; below 1 ms counts as 1 ms.
    pub base_delay: Duration,
    /// Cap for any wait; below the base delay counts as the base delay.
    pub max_delay: Duration,
    /// Backoff waits add a uniformly random whole number of milliseconds below this; zero adds
    /// none.
    pub jitter: Duration,
}

impl Default for HttpPolicy {
    fn default() -> Self {
        HttpPolicy {
            attempt_timeout: Duration::from_secs(10),
            deadline: Duration::from_secs(30),
            max_retries: 2,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(3),
            jitter: Duration::from_millis(75),
        }
    }
}

impl HttpPolicy {
    fn base(&self) -> Duration {
        self.base_delay.max(Duration::from_millis(1))
    }

    /// The cap for every wait, never below the base delay.
    pub(crate) fn cap(&self) -> Duration {
        self.max_delay.max(self.base())
    }

    /// `min(cap, min(cap, base · 2^attempt) + jitter)` for the attempt with index `attempt`
    /// (0 for the first), with the jitter given.
    pub(crate) fn backoff(&self, attempt: u32, jitter: Duration) -> Duration {
        let factor = 1u32.checked_shl(attempt).unwrap_or(u32::MAX);
        let cap = self.cap();
        let step = self.base().saturating_mul(factor).min(cap);
        step.saturating_add(jitter).min(cap)
    }

    /// A random jitter below [`HttpPolicy::jitter`], in whole milliseconds.
    pub(crate) fn sample_jitter(&self) -> Duration {
        let bound = u64::try_from(self.jitter.as_millis()).unwrap_or(u64::MAX);
        if bound == 0 {
            Duration::ZERO
        } else {
            Duration::from_millis(fastrand::u64(0..bound))
        }
    }
}

/// 408, 425, 429, 500, 502, 503, 504 (POLICY.md 2.2).
pub(crate) fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 425 | 429 | 500 | 502 | 503 | 504)
}

/// Whether a non-2xx answer is retried. A request that is not idempotent is retried only when
/// the provider cannot have acted on it (POLICY.md 2.3).
pub(crate) fn retries_status(status: StatusCode, idempotent: bool) -> bool {
    if idempotent {
        is_retryable_status(status)
    } else {
        matches!(status.as_u16(), 408 | 425 | 429 | 503)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_backoff_steps() {
        let policy = HttpPolicy::default();
        assert_eq!(
            policy.backoff(0, Duration::ZERO),
            Duration::from_millis(200)
        );
        assert_eq!(
            policy.backoff(1, Duration::from_millis(74)),
            Duration::from_millis(474)
        );
        assert_eq!(policy.backoff(10, Duration::ZERO), Duration::from_secs(3));
        assert_eq!(
            policy.backoff(40, Duration::from_millis(74)),
            Duration::from_secs(3)
        );
        for _ in 0..200 {
            assert!(policy.sample_jitter() < Duration::from_millis(75));
        }
    }

    #[test]
    fn degenerate_settings_are_raised() {
        let policy = HttpPolicy {
            base_delay: Duration::ZERO,
            max_delay: Duration::ZERO,
            jitter: Duration::ZERO,
            ..HttpPolicy::default()
        };
        assert_eq!(policy.cap(), Duration::from_millis(1));
        assert_eq!(policy.backoff(3, Duration::ZERO), Duration::from_millis(1));
        assert_eq!(policy.sample_jitter(), Duration::ZERO);
    }

    #[test]
    fn non_idempotent_requests_retry_only_where_nothing_happened() {
        for code in [408, 425, 429, 503] {
            let status = StatusCode::from_u16(code).expect("valid");
            assert!(retries_status(status, false), "{code}");
            assert!(retries_status(status, true), "{code}");
        }
        for code in [500, 502, 504] {
            let status = StatusCode::from_u16(code).expect("valid");
            assert!(!retries_status(status, false), "{code}");
            assert!(retries_status(status, true), "{code}");
        }
        for code in [400, 404, 501, 505, 302] {
            let status = StatusCode::from_u16(code).expect("valid");
            assert!(!retries_status(status, true), "{code}");
        }
    }
}
