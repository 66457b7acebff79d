//! What a handler receives besides its input: its route, the call's trace id, its secrets.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::marker::PhantomData;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use crate::error::ConnectorError;
use crate::route::{DeclaredRoute, RouteSpec, SecretOf};
use crate::secrets::{Secret, SecretSource, SecretValue, resolve_route};

/// The context of one call of a route's handler. `R` is the route's marker type
/// (`registry::routes::slack_message::Route`): it decides which secrets [`RouteContext::secret`]
/// accepts.
pub struct RouteContext<R> {
    route: &'static RouteSpec,
    trace_id: TraceId,
    secrets: Vec<Secret>,
    marker: PhantomData<fn() -> R>,
}

impl<R> RouteContext<R> {
    pub(crate) fn new(route: &'static RouteSpec, trace_id: TraceId, secrets: Vec<Secret>) -> Self {
        RouteContext {
            route,
            trace_id,
            secrets,
            marker: PhantomData,
        }
    }

    /// A context for calling a handler directly (in tests, or from code that does its own
    /// routing): resolves the route's secrets from `secrets` exactly as dispatch does, and fails
    /// with the same configuration error when one is missing.
    pub fn resolve(
        route: &'static DeclaredRoute<R>,
        trace_id: TraceId,
        secrets: &dyn SecretSource,
    ) -> Result<Self, ConnectorError> {
        let spec = route.spec();
        let resolved = resolve_route(spec, secrets).map_err(|problems| ConnectorError::Config {
            route: spec.id,
            problems,
        })?;
        Ok(RouteContext::new(spec, trace_id, resolved))
    }

    /// The route being called, as the registry declares it.
    pub fn route(&self) -> &'static RouteSpec {
        self.route
    }

    /// The route id, for error messages (`slack_message`).
    pub fn route_id(&self) -> &'static str {
        self.route.id
    }

    /// The trace id of this call.
    pub fn trace_id(&self) -> &TraceId {
        &self.trace_id
    }

    /// A secret the route declares, already resolved (dispatch fails before the handler runs when
    /// one is missing). Only the route's own secret types compile here.
    pub fn secret<S: SecretOf<R>>(&self, _requirement: S) -> &Secret {
        // Generated `SecretOf` impls index this route's requirements, which dispatch resolved in
        // the same order; only a hand-written impl could miss, and it gets an empty value.
        self.secrets.get(S::INDEX).unwrap_or_else(|| empty_secret())
    }
}

fn empty_secret() -> &'static Secret {
    static EMPTY: OnceLock<Secret> = OnceLock::new();
    EMPTY.get_or_init(|| Secret::new("", "", SecretValue::new("")))
}

impl<R> fmt::Debug for RouteContext<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouteContext")
            .field("route", &self.route.id)
            .field("trace_id", &self.trace_id)
            .field("secrets", &self.secrets)
            .finish()
    }
}

/// A call's trace id: a non-empty string of printable ASCII (CONNECTORS.md 1.5).
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
