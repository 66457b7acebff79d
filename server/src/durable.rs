//! The workers of the durable store: lease a job, prepare it again (secrets are resolved now,
//! never stored), run it while renewing the lease, record the outcome.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio::task::JoinSet;
use workerflow_runtime::{DispatchError, TraceId};

use super::AppState;
use super::store::{JobStore, Leased, Outcome};

/// How the durable workers retry.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; a transient failure on the last one is `dead`.
    pub max_attempts: u32,
    /// The wait before the second attempt; doubled for each next one.
    pub backoff: Duration,
    /// The longest wait between attempts.
    pub max_backoff: Duration,
    /// How long a lease lasts without renewal (renewed every third of it while the job runs).
    /// At least [`RetryPolicy::MIN_LEASE`]: [`serve`](crate::serve) refuses a shorter one.
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

/// Shared by the workers: stop leasing once set.
pub(crate) struct Control {
    pub closing: AtomicBool,
    pub wake: Notify,
    /// Woken once by `close`, for the tasks that sleep long (the retention purge).
    pub stopped: Notify,
    pub owner: String,
}

impl Control {
    pub fn new() -> Self {
        Control {
            closing: AtomicBool::new(false),
            wake: Notify::new(),
            stopped: Notify::new(),
            owner: format!(
                "{}:{}:{}",
                host_name(),
                std::process::id(),
                TraceId::generate()
            ),
        }
    }

    pub fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        self.wake.notify_waiters();
        self.stopped.notify_waiters();
    }
}

/// This machine's name, so a lease owner says where its worker ran (`unknown` when not known).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_graphic()))
        .unwrap_or_else(|| "unknown".to_owned())
}

pub(crate) fn start_workers(
    state: &Arc<AppState>,
    store: &Arc<JobStore>,
    control: &Arc<Control>,
    policy: RetryPolicy,
    workers: usize,
) -> JoinSet<()> {
    let mut set = JoinSet::new();
    for _ in 0..workers.max(1) {
        let state = Arc::clone(state);
        let store = Arc::clone(store);
        let control = Arc::clone(control);
        set.spawn(async move {
            while !control.closing.load(Ordering::SeqCst) {
                let woken = control.wake.notified();
                tokio::pin!(woken);
                woken.as_mut().enable();
                match store.lease(&control.owner, policy.lease).await {
                    Ok(Some(job)) => run(&state, &store, &control.owner, policy, job).await,
                    Ok(None) => {
                        // Nothing ready here; another instance, a retry's backoff or an expired
                        // lease can make a job ready without a local wake-up.
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

fn backoff(policy: RetryPolicy, attempts: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(20));
    policy
        .backoff
        .saturating_mul(factor)
        .min(policy.max_backoff)
}

fn classify(error: &DispatchError, attempts: u32, policy: RetryPolicy) -> Outcome {
    let class = error.class().to_owned();
    let message = error.to_string();
    if !error.is_transient() {
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

async fn run(state: &AppState, store: &JobStore, owner: &str, policy: RetryPolicy, job: Leased) {
    let started = Instant::now();
    let Leased {
        trace_id,
        route,
        payload,
        attempts,
    } = job;
    let outcome = match (TraceId::new(trace_id.clone()), payload) {
        (Err(_), _) => Outcome::Failed {
            class: "invalid_trace_id".into(),
            message: "the stored trace id is not valid".into(),
        },
        // Never run with a stand-in input: the job fails, and says why, in the store and the log.
        (Ok(_), Err(reason)) => {
            tracing::error!(
                target: "workerflow::serve",
                route = %route,
                trace_id = %trace_id,
                reason = %reason,
                "job failed: its stored payload cannot be read back"
            );
            Outcome::Failed {
                class: "unreadable_payload".into(),
                message: format!("the stored payload cannot be read back: {reason}"),
            }
        }
        // The same trace id on every attempt, so the idempotency keys derived from it are too.
        (Ok(trace), Ok(payload)) => {
            match state
                .registry
                .prepare_with_trace(&route, payload, &*state.secrets, trace)
            {
                Err(error) => classify(&error, attempts, policy),
                Ok(prepared) => {
                    let mut task =
                        AbortOnDrop(tokio::spawn(std::future::IntoFuture::into_future(prepared)));
                    let mut renew = tokio::time::interval(policy.lease / 3);
                    renew.tick().await;
                    loop {
                        tokio::select! {
                            joined = &mut task.0 => break match joined {
                                Ok(Ok(output)) => Outcome::Succeeded(output),
                                Ok(Err(error)) => classify(&error, attempts, policy),
                                Err(_) => Outcome::Failed {
                                    class: "internal".into(),
                                    message: "the handler panicked".into(),
                                },
                            },
                            _ = renew.tick() => store.renew(&trace_id, owner, policy.lease).await,
                        }
                    }
                }
            }
        }
    };
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    let (state_name, class) = match &outcome {
        Outcome::Succeeded(_) => ("succeeded", None),
        Outcome::Retry { class, .. } => ("retrying", Some(class.clone())),
        Outcome::Failed { class, .. } => ("failed", Some(class.clone())),
        Outcome::Dead { class, .. } => ("dead", Some(class.clone())),
    };
    match store.finish(&trace_id, owner, outcome).await {
        Ok(true) => {}
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
    // Only the route, trace id, state and error class: never the payload, output or message.
    tracing::info!(
        target: "workerflow::serve",
        route = %route,
        trace_id = %trace_id,
        attempt = attempts,
        state = state_name,
        code = class.as_deref().unwrap_or(""),
        duration_ms,
        "job attempt done"
    );
}

struct AbortOnDrop(tokio::task::JoinHandle<Result<serde_json::Value, DispatchError>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
