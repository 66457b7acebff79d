//! The in-memory job store (`--jobs memory`): the operations of the durable stores, on jobs kept
//! in this process. Accepted jobs are lost on a crash or a restart, so at shutdown the server
//! runs what is left or counts it undone; a job is forgotten once it is done.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::Value;

use super::job::{EnqueueError, JobRecord, JobState, Leased, Outcome, RetryResult, millis, now_ms};
use crate::error::StoreError;

/// The jobs of one `serve`, shared by its handlers and workers.
#[derive(Debug)]
pub struct MemoryStore {
    capacity: usize,
    jobs: Mutex<Jobs>,
}

/// The open jobs and two indexes over them, all changed together under one lock.
#[derive(Debug, Default)]
struct Jobs {
    by_trace: HashMap<String, Job>,
    /// Queued jobs by (due time, acceptance order): the next to lease is the first.
    due: BTreeMap<(i64, u64), String>,
    /// Running jobs by (lease expiry, acceptance order): an expired lease is the first.
    leases: BTreeMap<(i64, u64), String>,
    accepted: u64,
}

#[derive(Debug)]
struct Job {
    route: String,
    payload: Value,
    /// Acceptance order: `list` order, and the tie-break of both indexes.
    order: u64,
    attempts: u32,
    created_at_ms: i64,
    updated_at_ms: i64,
    /// While queued, when it is due; while running, when its lease runs out.
    at_ms: i64,
    /// The worker holding it while it runs.
    owner: Option<String>,
    /// The last attempt's error class and message (a job waiting for its retry).
    error: Option<(String, String)>,
}

impl Job {
    fn state(&self) -> JobState {
        if self.owner.is_some() {
            JobState::Running
        } else {
            JobState::Queued
        }
    }

    fn record(&self, trace_id: &str) -> JobRecord {
        let (error_class, error_message) = self.error.clone().unzip();
        JobRecord {
            trace_id: trace_id.to_owned(),
            route: self.route.clone(),
            state: self.state(),
            attempts: i64::from(self.attempts),
            created_at_ms: self.created_at_ms,
            updated_at_ms: self.updated_at_ms,
            finished_at_ms: None,
            next_run_at_ms: self.at_ms,
            error_class,
            error_message,
            output: None,
            lease_owner: self.owner.clone(),
            lease_until_ms: self.owner.as_ref().map(|_| self.at_ms),
        }
    }
}

impl MemoryStore {
    /// An empty store that holds at most `capacity` jobs waiting to run (running jobs hold a
    /// worker each and do not count, as before the store existed).
    pub fn new(capacity: usize) -> MemoryStore {
        MemoryStore {
            capacity,
            jobs: Mutex::new(Jobs::default()),
        }
    }

    /// How many jobs may wait at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn lock(&self) -> MutexGuard<'_, Jobs> {
        // Nothing panics while holding the lock; if something ever did, the jobs are still whole.
        self.jobs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) async fn enqueue(
        &self,
        trace_id: &str,
        route: &str,
        payload: &Value,
    ) -> Result<(), EnqueueError> {
        let mut jobs = self.lock();
        if jobs.due.len() >= self.capacity {
            return Err(EnqueueError::Full(self.capacity));
        }
        if jobs.by_trace.contains_key(trace_id) {
            return Err(EnqueueError::Unavailable(StoreError::Duplicate(
                trace_id.to_owned(),
            )));
        }
        let now = now_ms();
        let order = jobs.accepted;
        jobs.accepted += 1;
        jobs.due.insert((now, order), trace_id.to_owned());
        jobs.by_trace.insert(
            trace_id.to_owned(),
            Job {
                route: route.to_owned(),
                payload: payload.clone(),
                order,
                attempts: 0,
                created_at_ms: now,
                updated_at_ms: now,
                at_ms: now,
                owner: None,
                error: None,
            },
        );
        Ok(())
    }

    /// Takes a job whose lease expired, else the queued job due first.
    pub(crate) async fn lease(
        &self,
        owner: &str,
        lease: Duration,
    ) -> Result<Option<Leased>, StoreError> {
        let mut jobs = self.lock();
        let now = now_ms();
        let taken = match jobs.leases.first_key_value() {
            Some((&(until, _), _)) if until < now => jobs.leases.pop_first(),
            _ => match jobs.due.first_key_value() {
                Some((&(due, _), _)) if due <= now => jobs.due.pop_first(),
                _ => None,
            },
        };
        let Some((_, trace_id)) = taken else {
            return Ok(None);
        };
        let until = now.saturating_add(millis(lease));
        let Some(job) = jobs.by_trace.get_mut(&trace_id) else {
            return Ok(None);
        };
        job.owner = Some(owner.to_owned());
        job.attempts = job.attempts.saturating_add(1);
        job.at_ms = until;
        job.updated_at_ms = now;
        let (order, leased) = (
            job.order,
            Leased {
                trace_id: trace_id.clone(),
                route: job.route.clone(),
                payload: Ok(job.payload.clone()),
                attempts: job.attempts,
            },
        );
        jobs.leases.insert((until, order), trace_id);
        Ok(Some(leased))
    }

    /// Extends `owner`'s lease of a running job; a lost lease is left lost.
    pub(crate) async fn renew(&self, trace_id: &str, owner: &str, lease: Duration) {
        let mut jobs = self.lock();
        let until = now_ms().saturating_add(millis(lease));
        let Some(job) = jobs.by_trace.get_mut(trace_id) else {
            return;
        };
        if job.owner.as_deref() != Some(owner) {
            return;
        }
        let old = (job.at_ms, job.order);
        job.at_ms = until;
        let order = job.order;
        jobs.leases.remove(&old);
        jobs.leases.insert((until, order), trace_id.to_owned());
    }

    /// Records the attempt's outcome: a finished job is forgotten, a retry is queued again.
    pub(crate) async fn finish(
        &self,
        trace_id: &str,
        owner: &str,
        outcome: Outcome,
    ) -> Result<bool, StoreError> {
        let mut jobs = self.lock();
        let Some(job) = jobs.by_trace.get_mut(trace_id) else {
            return Ok(false);
        };
        if job.owner.as_deref() != Some(owner) {
            return Ok(false);
        }
        let lease = (job.at_ms, job.order);
        let finished = outcome.into_finished();
        if finished.is_final() {
            jobs.leases.remove(&lease);
            jobs.by_trace.remove(trace_id);
            return Ok(true);
        }
        let now = now_ms();
        let due = now.saturating_add(millis(finished.delay));
        job.owner = None;
        job.at_ms = due;
        job.updated_at_ms = now;
        job.error = finished.class.zip(finished.message);
        let order = job.order;
        jobs.leases.remove(&lease);
        jobs.due.insert((due, order), trace_id.to_owned());
        Ok(true)
    }

    /// Gives the jobs `owner` still holds back to the queue, their attempt not counted.
    pub(crate) async fn release(&self, owner: &str) -> Result<usize, StoreError> {
        let mut jobs = self.lock();
        let now = now_ms();
        let Jobs {
            by_trace,
            due,
            leases,
            ..
        } = &mut *jobs;
        let mut released = 0;
        leases.retain(|_, trace_id| {
            let Some(job) = by_trace.get_mut(trace_id) else {
                return false;
            };
            if job.owner.as_deref() != Some(owner) {
                return true;
            }
            job.owner = None;
            job.attempts = job.attempts.saturating_sub(1);
            job.at_ms = now;
            job.updated_at_ms = now;
            due.insert((now, job.order), trace_id.clone());
            released += 1;
            false
        });
        Ok(released)
    }

    /// A job still queued or running (a finished one is forgotten).
    pub(crate) async fn get(&self, trace_id: &str) -> Result<Option<JobRecord>, StoreError> {
        Ok(self
            .lock()
            .by_trace
            .get(trace_id)
            .map(|job| job.record(trace_id)))
    }

    /// The jobs queued or running, in the order they were accepted.
    pub(crate) async fn list(&self, state: Option<JobState>) -> Result<Vec<JobRecord>, StoreError> {
        let jobs = self.lock();
        let mut open: Vec<(&String, &Job)> = jobs
            .by_trace
            .iter()
            .filter(|(_, job)| state.is_none_or(|state| job.state() == state))
            .collect();
        open.sort_by_key(|(_, job)| job.order);
        Ok(open
            .into_iter()
            .map(|(trace_id, job)| job.record(trace_id))
            .collect())
    }

    /// Only a queued or running job is known, and neither can be retried.
    pub(crate) async fn retry(&self, trace_id: &str) -> Result<RetryResult, StoreError> {
        Ok(match self.lock().by_trace.get(trace_id) {
            Some(job) => RetryResult::NotRetryable(job.state()),
            None => RetryResult::NotFound,
        })
    }

    /// Jobs queued or running.
    pub(crate) async fn depth(&self) -> Result<usize, StoreError> {
        Ok(self.lock().by_trace.len())
    }

    /// Finished jobs are not kept, so there is nothing to purge.
    pub(crate) async fn purge(&self, _older_than: Duration) -> Result<usize, StoreError> {
        Ok(0)
    }
}
