//! [`TraceId`]: the id that ties a call's log lines, errors and jobs together (docs/ROUTES.md
//! 1.5).

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// A call's trace id: a non-empty string of printable ASCII (docs/ROUTES.md 1.5).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct TraceId(String);

/// Why a caller-supplied trace id was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a trace id must be 1 to 128 characters of printable ASCII")]
pub struct InvalidTraceId;

impl TraceId {
    /// Accepts a caller's trace id: 1 to 128 characters, each printable ASCII (space to `~`).
    pub fn new(value: impl Into<String>) -> Result<Self, InvalidTraceId> {
        let value = value.into();
        let printable = value.bytes().all(|b| (0x20..=0x7e).contains(&b));
        if value.is_empty() || value.len() > 128 || !printable {
            return Err(InvalidTraceId);
        }
        Ok(TraceId(value))
    }

    /// A fresh id, unique within the process and unlikely to repeat across processes:
    /// `wf-<16 hex digits of a per-process random value>-<8 hex digits of a counter>`.
    pub fn generate() -> Self {
        static PROCESS: OnceLock<u64> = OnceLock::new();
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        // std's `RandomState` is seeded randomly per process: randomness without a dependency.
        let process = *PROCESS.get_or_init(|| {
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write_u32(std::process::id());
            hasher.finish()
        });
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        TraceId(format!("wf-{process:016x}-{count:08x}"))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_trace_ids_are_unique_printable_ascii() {
        let a = TraceId::generate();
        let b = TraceId::generate();
        assert_ne!(a, b);
        assert!(TraceId::new(a.as_str()).is_ok());
        assert!(a.as_str().starts_with("wf-"));
    }

    #[test]
    fn caller_trace_ids_are_checked() {
        assert!(TraceId::new("run-42").is_ok());
        assert_eq!(TraceId::new(""), Err(InvalidTraceId));
        assert_eq!(TraceId::new("a\nb"), Err(InvalidTraceId));
        assert_eq!(TraceId::new("é"), Err(InvalidTraceId));
        assert_eq!(TraceId::new("x".repeat(129)), Err(InvalidTraceId));
    }
}
