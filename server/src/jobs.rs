//! The one worker loop, for every job store: lease a job, prepare the call again (secrets are
//! resolved now, never stored), run it in its own task while renewing the lease, record the
//! outcome (succeeded, a retry after a backoff, failed or dead), log it and count it.
//!
//! The loop stops leasing once the server is closing, except that the memory store's jobs are
//! worked off first: nothing else would ever run them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::task::JoinSet;
use workerflow_runtime::{DispatchError, TraceId};

use crate::state::AppState;
use crate::store::{Leased, Outcome};

/// How the workers retry.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; a transient failure on the last one is `dead`.
    pub max_attempts: u32,
    /// The wait before the second attempt; doubled for each next one.
    pub backoff: Duration,
    /// The longest wait between attempts.
    pub max_backoff: Duration,
    /// How long a lease lasts without renewal (renewed every third of it while the job runs).
    /// At least [`RetryPolicy::MIN_LEASE`]: [`serve`](fn@crate::serve) refuses a shorter one.
    pub lease: Duration,
}

impl RetryPolicy {
    /// The shortest lease: a renewal (a third of the lease) must have time to reach the store
    /// before the lease runs out, even on a loaded machine or a remote database; shorter leases
    /// let another worker take a job that is still running, and deliver it twice.
    pub const MIN_LEASE: Duration = Duration::from_secs(1);
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            lease: Duration::from_secs(30),
        }
    }
}

pub(crate) fn start_workers(
    state: &Arc<AppState>,
    policy: RetryPolicy,
    workers: usize,
) -> JoinSet<()> {
    let mut set = JoinSet::new();
    for _ in 0..workers.max(1) {
        let state = Arc::clone(state);
        set.spawn(async move {
            let (store, control) = (&state.store, &state.control);
            loop {
                // Registered before looking, so a wake-up meanwhile is not missed.
                let woken = control.wake.notified();
                tokio::pin!(woken);
                woken.as_mut().enable();
                if control.is_closing() && !work_left(&state).await {
                    break;
                }
                match store.lease(&control.owner, policy.lease).await {
                    Ok(Some(job)) => run(&state, policy, job).await,
                    Ok(None) => {
                        // Nothing due here; another instance, a retry's backoff or an expired
                        // lease can make a job due without a local wake-up.
                        let _ = tokio::time::timeout(Duration::from_millis(200), woken).await;
                    }
                    Err(error) => {
                        tracing::warn!(
                            target: "workerflow::serve",
                            error = %error,
                            "cannot lease a job; retrying in 500 ms"
                        );
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        });
    }
    set
}

/// Once closing: a durable store keeps what is left for the next start; the memory store's
/// jobs (queued, running elsewhere, or waiting for a retry) run now or are lost.
async fn work_left(state: &AppState) -> bool {
    !state.store.is_durable() && state.store.depth().await.is_ok_and(|depth| depth > 0)
}

fn backoff(policy: RetryPolicy, attempts: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(20));
    policy
        .backoff
        .saturating_mul(factor)
        .min(policy.max_backoff)
}

/// A failure's outcome: never retried when permanent, `dead` when the attempts are used up.
fn classify(
    class: String,
    message: String,
    transient: bool,
    attempts: u32,
    policy: RetryPolicy,
) -> Outcome {
    if !transient {
        Outcome::Failed { class, message }
    } else if attempts >= policy.max_attempts {
        Outcome::Dead { class, message }
    } else {
        Outcome::Retry {
            class,
            message,
            delay: backoff(policy, attempts),
        }
    }
}

/// How one attempt ended, before it is classified.
enum Ran {
    Output(Value),
    Failed(DispatchError),
    Panicked,
    /// The stored job cannot be run at all (a bad trace id or payload): failed, never retried.
    Unrunnable {
        class: &'static str,
        message: String,
    },
}

async fn run(state: &AppState, policy: RetryPolicy, job: Leased) {
    let started = Instant::now();
    let Leased {
        trace_id,
        route,
        payload,
        attempts,
    } = job;
    let ran = attempt(state, policy, &trace_id, &route, payload).await;
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    let outcome = match &ran {
        Ran::Output(output) => Outcome::Succeeded(output.clone()),
        Ran::Failed(error) => classify(
            error.class().to_owned(),
            error.to_string(),
            error.is_transient(),
            attempts,
            policy,
        ),
        Ran::Panicked => Outcome::Failed {
            class: "internal".into(),
            message: "the handler panicked".into(),
        },
        Ran::Unrunnable { class, message } => Outcome::Failed {
            class: (*class).to_owned(),
            message: message.clone(),
        },
    };
    let (state_name, done) = match &outcome {
        Outcome::Succeeded(_) => ("succeeded", Some(true)),
        Outcome::Retry { .. } => ("retrying", None),
        Outcome::Failed { .. } => ("failed", Some(false)),
        Outcome::Dead { .. } => ("dead", Some(false)),
    };
    // Only the route, trace id, attempt, state, status and error class: never the payload, the
    // output or the message (a provider may echo the payload in its error body).
    match &ran {
        Ran::Output(_) => tracing::info!(
            target: "workerflow::serve",
            route = %route,
            trace_id = %trace_id,
            attempt = attempts,
            state = state_name,
            status = 200,
            duration_ms,
            "job done"
        ),
        Ran::Failed(error) => tracing::warn!(
            target: "workerflow::serve",
            route = %route,
            trace_id = %trace_id,
            attempt = attempts,
            state = state_name,
            status = error.status(),
            code = error.class(),
            transient = error.is_transient(),
            duration_ms,
            "job failed"
        ),
        Ran::Panicked => tracing::error!(
            target: "workerflow::serve",
            route = %route,
            trace_id = %trace_id,
            attempt = attempts,
            state = state_name,
            duration_ms,
            "job failed: the handler panicked"
        ),
        Ran::Unrunnable { class, .. } => tracing::warn!(
            target: "workerflow::serve",
            route = %route,
            trace_id = %trace_id,
            attempt = attempts,
            state = state_name,
            code = class,
            duration_ms,
            "job failed"
        ),
    }
    let (store, control) = (&state.store, &state.control);
    match store.finish(&trace_id, &control.owner, outcome).await {
        Ok(true) => {
            if let Some(succeeded) = done {
                control.finished(succeeded);
            }
        }
        Ok(false) => tracing::warn!(
            target: "workerflow::serve",
            route = %route,
            trace_id = %trace_id,
            "job outcome not recorded: its lease expired and another worker took it"
        ),
        Err(error) => tracing::error!(
            target: "workerflow::serve",
            route = %route,
            trace_id = %trace_id,
            error = %error,
            "job outcome not recorded; the job runs again when its lease expires"
        ),
    }
    if control.is_closing() {
        // Idle workers waiting for the last jobs of the memory store look again now.
        control.wake.notify_waiters();
    }
}

/// Prepares the stored call again and runs it in its own task (so a panicking handler fails
/// its job, not the worker), renewing the lease every third of it.
async fn attempt(
    state: &AppState,
    policy: RetryPolicy,
    trace_id: &str,
    route: &str,
    payload: Result<Value, String>,
) -> Ran {
    let trace = match TraceId::new(trace_id.to_owned()) {
        Ok(trace) => trace,
        Err(_) => {
            return Ran::Unrunnable {
                class: "invalid_trace_id",
                message: "the stored trace id is not valid".into(),
            };
        }
    };
    // Never run with a stand-in input: the job fails, and says why, in the store and the log.
    let payload = match payload {
        Ok(payload) => payload,
        Err(reason) => {
            tracing::error!(
                target: "workerflow::serve",
                route = %route,
                trace_id = %trace_id,
                reason = %reason,
                "job failed: its stored payload cannot be read back"
            );
            return Ran::Unrunnable {
                class: "unreadable_payload",
                message: format!("the stored payload cannot be read back: {reason}"),
            };
        }
    };
    // The same trace id on every attempt, so the idempotency keys derived from it are too.
    let prepared = match state
        .registry
        .prepare_with_trace(route, payload, &*state.secrets, trace)
    {
        Ok(prepared) => prepared,
        Err(error) => return Ran::Failed(error),
    };
    let mut task = AbortOnDrop(tokio::spawn(std::future::IntoFuture::into_future(prepared)));
    let mut renew = tokio::time::interval(policy.lease / 3);
    renew.tick().await;
    loop {
        tokio::select! {
            joined = &mut task.0 => break match joined {
                Ok(Ok(output)) => Ran::Output(output),
                Ok(Err(error)) => Ran::Failed(error),
                Err(_) => Ran::Panicked,
            },
            _ = renew.tick() => {
                state.store.renew(trace_id, &state.control.owner, policy.lease).await;
            }
        }
    }
}

/// Aborts the job's task when the worker is aborted at the drain deadline, so a job left undone
/// does not keep running (and sending) after it was counted.
struct AbortOnDrop(tokio::task::JoinHandle<Result<Value, DispatchError>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
