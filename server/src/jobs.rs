//! The bounded in-memory queue of async route calls and the fixed pool that works it.
//!
//! A job is accepted only when there is room (otherwise the caller gets 503 and knows to retry),
//! and every accepted job is either run or counted and logged as undone at shutdown: nothing is
//! dropped silently.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use serde_json::Value;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use workerflow_runtime::{DispatchError, TraceId};

/// The dispatch future of one accepted call: secrets already resolved, not yet polled, so
/// nothing has been sent when it waits in the queue.
pub(crate) type JobFuture = Pin<Box<dyn Future<Output = Result<Value, DispatchError>> + Send>>;

pub(crate) struct Job {
    pub route: &'static str,
    pub trace_id: TraceId,
    pub run: JobFuture,
}

/// Why a job was not accepted.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    Full,
    ShuttingDown,
}

/// Counts for the shutdown report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JobCounts {
    /// Jobs accepted (answered 202).
    pub accepted: u64,
    /// Jobs whose route returned its output.
    pub succeeded: u64,
    /// Jobs whose route failed (or whose handler panicked); each is logged with its status.
    pub failed: u64,
}

pub(crate) struct JobQueue {
    state: Mutex<QueueState>,
    available: Notify,
    capacity: usize,
}

struct QueueState {
    waiting: VecDeque<Job>,
    /// The jobs a worker is running, by ticket: named in the report if the deadline cuts them.
    running: HashMap<u64, (&'static str, TraceId)>,
    next_ticket: u64,
    closed: bool,
    counts: JobCounts,
}

impl JobQueue {
    pub fn new(capacity: usize) -> Self {
        JobQueue {
            state: Mutex::new(QueueState {
                waiting: VecDeque::new(),
                running: HashMap::new(),
                next_ticket: 0,
                closed: false,
                counts: JobCounts::default(),
            }),
            available: Notify::new(),
            capacity,
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Jobs waiting or running.
    pub fn depth(&self) -> usize {
        let state = self.lock();
        state.waiting.len() + state.running.len()
    }

    fn lock(&self) -> MutexGuard<'_, QueueState> {
        // No code panics while holding the lock; if one ever did, the counts are still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a job when there is room and the queue is open. On refusal the job (an unpolled
    /// future) is dropped: nothing of it has run.
    pub fn push(&self, job: Job) -> Result<(), Refused> {
        {
            let mut state = self.lock();
            if state.closed {
                return Err(Refused::ShuttingDown);
            }
            if state.waiting.len() >= self.capacity {
                return Err(Refused::Full);
            }
            state.waiting.push_back(job);
            state.counts.accepted += 1;
        }
        self.available.notify_one();
        Ok(())
    }

    /// The next job and its ticket (for [`JobQueue::finish`]), or `None` once the queue is
    /// closed and empty.
    async fn next(&self) -> Option<(u64, Job)> {
        loop {
            // Registered before looking, so a push between the look and the wait is not missed.
            let notified = self.available.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut state = self.lock();
                if let Some(job) = state.waiting.pop_front() {
                    let ticket = state.next_ticket;
                    state.next_ticket += 1;
                    state
                        .running
                        .insert(ticket, (job.route, job.trace_id.clone()));
                    return Some((ticket, job));
                }
                if state.closed {
                    return None;
                }
            }
            notified.await;
        }
    }

    fn finish(&self, ticket: u64, succeeded: bool) {
        let mut state = self.lock();
        state.running.remove(&ticket);
        if succeeded {
            state.counts.succeeded += 1;
        } else {
            state.counts.failed += 1;
        }
    }

    /// Refuses new jobs; the workers finish what is queued and then stop.
    pub fn close(&self) {
        self.lock().closed = true;
        self.available.notify_waiters();
    }

    /// At the drain deadline: the queued jobs (taken out, so none starts later) and the route
    /// and trace id of each job still running (in the order they started), with the counts so
    /// far.
    pub fn abandon(&self) -> (Vec<Job>, Vec<(&'static str, TraceId)>, JobCounts) {
        let mut state = self.lock();
        state.closed = true;
        let waiting: Vec<Job> = state.waiting.drain(..).collect();
        let mut running: Vec<(u64, (&'static str, TraceId))> = state.running.drain().collect();
        running.sort_by_key(|(ticket, _)| *ticket);
        let running = running.into_iter().map(|(_, job)| job).collect();
        (waiting, running, state.counts)
    }

    pub fn counts(&self) -> JobCounts {
        self.lock().counts
    }
}

/// Starts `workers` tasks that run queued jobs one at a time each.
pub(crate) fn start_workers(queue: &Arc<JobQueue>, workers: usize) -> JoinSet<()> {
    let mut set = JoinSet::new();
    for _ in 0..workers.max(1) {
        let queue = Arc::clone(queue);
        set.spawn(async move {
            while let Some((ticket, job)) = queue.next().await {
                let succeeded = run(job).await;
                queue.finish(ticket, succeeded);
            }
        });
    }
    set
}

/// Runs one job in its own task, so a panicking handler fails that job, not the worker.
async fn run(job: Job) -> bool {
    let started = Instant::now();
    let Job {
        route,
        trace_id,
        run,
    } = job;
    let mut task = AbortOnDrop(tokio::spawn(run));
    let outcome = (&mut task.0).await;
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    // Only the route, the trace id and the error class and status: never the payload, the
    // output or the message (a provider may echo the payload in its error body).
    match outcome {
        Ok(Ok(_output)) => {
            tracing::info!(
                target: "workerflow::serve",
                route = %route,
                trace_id = %trace_id,
                status = 200,
                duration_ms,
                "job done"
            );
            true
        }
        Ok(Err(error)) => {
            tracing::warn!(
                target: "workerflow::serve",
                route = %route,
                trace_id = %trace_id,
                status = error.status(),
                code = error.class(),
                transient = error.is_transient(),
                duration_ms,
                "job failed"
            );
            false
        }
        Err(_join_error) => {
            tracing::error!(
                target: "workerflow::serve",
                route = %route,
                trace_id = %trace_id,
                duration_ms,
                "job failed: the handler panicked"
            );
            false
        }
    }
}

/// Aborts the job's task when the worker is aborted at the drain deadline, so an undone job does
/// not keep running (and sending) after the report has counted it.
struct AbortOnDrop(tokio::task::JoinHandle<Result<Value, DispatchError>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
