//! What every job store keeps and hands out, whatever keeps it: a job's state, the job a worker
//! leases, the outcome of an attempt and the record `GET /api/jobs/<traceId>` shows.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{Value, json};

use crate::error::{StoreError, UnknownJobState};

/// A job's state. Both stores keep it as text (`queued`, …), the same word
/// `GET /api/jobs/<traceId>` and `workerflow jobs` show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting to run (again, after a transient failure).
    Queued,
    /// Leased by a worker.
    Running,
    /// Done; its output is stored.
    Succeeded,
    /// A permanent failure: never retried (`workerflow jobs retry` queues it again).
    Failed,
    /// A transient failure whose attempts are used up.
    Dead,
}

impl JobState {
    /// As stored and shown.
    pub const fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Dead => "dead",
        }
    }

    /// Done: neither queued nor running.
    pub const fn is_final(self) -> bool {
        !matches!(self, JobState::Queued | JobState::Running)
    }
}

/// The job states' words, in their order (`workerflow jobs list --state`).
pub const STATES: [&str; 5] = [
    JobState::Queued.as_str(),
    JobState::Running.as_str(),
    JobState::Succeeded.as_str(),
    JobState::Failed.as_str(),
    JobState::Dead.as_str(),
];

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobState {
    type Err = UnknownJobState;

    fn from_str(text: &str) -> Result<JobState, UnknownJobState> {
        [
            JobState::Queued,
            JobState::Running,
            JobState::Succeeded,
            JobState::Failed,
            JobState::Dead,
        ]
        .into_iter()
        .find(|state| state.as_str() == text)
        .ok_or_else(|| UnknownJobState(text.to_owned()))
    }
}

/// Why a job was not taken.
#[derive(Debug, Clone)]
pub(crate) enum EnqueueError {
    /// The store is at its capacity.
    Full(usize),
    /// The store refused the write (disk full, database down, …).
    Unavailable(StoreError),
}

/// One leased job, as a worker runs it.
pub(crate) struct Leased {
    pub trace_id: String,
    pub route: String,
    /// The stored payload, or why it cannot be read back (a damaged row).
    pub payload: Result<Value, String>,
    pub attempts: u32,
}

/// How an attempt ended.
pub(crate) enum Outcome {
    Succeeded(Value),
    /// Transient: queued again after `delay`.
    Retry {
        class: String,
        message: String,
        delay: Duration,
    },
    /// Permanent: never retried.
    Failed {
        class: String,
        message: String,
    },
    /// Transient, but the attempts are used up.
    Dead {
        class: String,
        message: String,
    },
}

/// How an outcome is written: the row's next state, output, error and due time.
pub(crate) struct Finished {
    pub state: JobState,
    // The memory store forgets a finished job, output and all.
    #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
    pub output: Option<String>,
    pub class: Option<String>,
    pub message: Option<String>,
    /// From now until the job may run again (retries only).
    pub delay: Duration,
}

impl Outcome {
    pub(crate) fn into_finished(self) -> Finished {
        let (state, output, class, message, delay) = match self {
            Outcome::Succeeded(output) => (
                JobState::Succeeded,
                Some(output.to_string()),
                None,
                None,
                Duration::ZERO,
            ),
            Outcome::Retry {
                class,
                message,
                delay,
            } => (JobState::Queued, None, Some(class), Some(message), delay),
            Outcome::Failed { class, message } => (
                JobState::Failed,
                None,
                Some(class),
                Some(message),
                Duration::ZERO,
            ),
            Outcome::Dead { class, message } => (
                JobState::Dead,
                None,
                Some(class),
                Some(message),
                Duration::ZERO,
            ),
        };
        Finished {
            state,
            output,
            class,
            message,
            delay,
        }
    }
}

impl Finished {
    /// Whether the job is done (no longer queued or running).
    pub(crate) fn is_final(&self) -> bool {
        self.state.is_final()
    }
}

/// What `workerflow jobs retry` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryResult {
    /// The dead or failed job is queued again with fresh attempts.
    Queued,
    /// No job has that trace id.
    NotFound,
    /// The job is in this state, which is not dead or failed.
    NotRetryable(JobState),
}

/// One job as both stores read it: everything but its payload.
pub(crate) struct JobRecord {
    pub trace_id: String,
    pub route: String,
    pub state: JobState,
    pub attempts: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub finished_at_ms: Option<i64>,
    pub next_run_at_ms: i64,
    pub error_class: Option<String>,
    pub error_message: Option<String>,
    pub output: Option<String>,
    /// The worker holding a running job (`host:pid:id`), and when its lease runs out.
    pub lease_owner: Option<String>,
    pub lease_until_ms: Option<i64>,
}

impl JobRecord {
    /// The JSON of `GET /api/jobs/<traceId>` and `workerflow jobs show`.
    pub(crate) fn into_json(self) -> Value {
        let error = self
            .error_class
            .map(|class| json!({ "class": class, "message": self.error_message }));
        // A lease past its expiry is a worker that stopped renewing: a crashed instance, whose
        // job the next lease takes over.
        let lease = self.lease_owner.map(|owner| {
            json!({
                "owner": owner,
                "expiresAtMs": self.lease_until_ms,
                "expired": self.lease_until_ms.is_some_and(|until| until <= now_ms()),
            })
        });
        json!({
            "traceId": self.trace_id,
            "route": self.route,
            "state": self.state,
            "attempts": self.attempts,
            "createdAtMs": self.created_at_ms,
            "updatedAtMs": self.updated_at_ms,
            "finishedAtMs": self.finished_at_ms,
            "nextRunAtMs": self.next_run_at_ms,
            "error": error,
            "lease": lease,
            "output": self.output.and_then(|text| serde_json::from_str::<Value>(&text).ok()),
        })
    }
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}

pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
