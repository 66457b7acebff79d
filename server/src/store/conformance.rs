//! What every job store does for the worker loop, checked the same way on each (memory, SQLite,
//! PostgreSQL): capacity, duplicates, leases in due order, outcomes, retries with a backoff,
//! an expired lease taken over, renewal, release, listing and lookup. Feature `testing` (and
//! this crate's own tests) only.

use std::time::Duration;

use serde_json::json;

use super::{EnqueueError, JobState, JobStore, Outcome, RetryResult};

/// Panics with what differs unless `store` behaves as the worker loop expects. `store` must be
/// empty, with a capacity of 3.
pub async fn check(store: &JobStore) {
    let kind = store.kind();
    let long = Duration::from_secs(3600);
    let short = Duration::from_millis(1);
    assert_eq!(
        store.capacity(),
        3,
        "{kind}: the check needs a capacity of 3"
    );
    assert!(
        store.lease("w1", long).await.expect("lease").is_none(),
        "{kind}: empty"
    );
    assert_eq!(store.depth().await.expect("depth"), 0, "{kind}");

    // Room for three; a trace id is taken once.
    for (trace, n) in [("wf-a", 1), ("wf-b", 2)] {
        let payload = json!({"body": {"n": n}});
        store
            .enqueue(trace, "echo", &payload)
            .await
            .expect("enqueue");
        // Apart in time, so every store orders them the same way.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let duplicate = store.enqueue("wf-a", "echo", &json!({})).await;
    assert!(
        matches!(duplicate, Err(EnqueueError::Unavailable(_))),
        "{kind}: {duplicate:?}"
    );
    store
        .enqueue("wf-c", "echo", &json!({}))
        .await
        .expect("enqueue");
    let full = store.enqueue("wf-d", "echo", &json!({})).await;
    assert!(
        matches!(full, Err(EnqueueError::Full(3))),
        "{kind}: {full:?}"
    );
    assert_eq!(store.depth().await.expect("depth"), 3, "{kind}");

    // The job due first, with its payload and its first attempt.
    let leased = store
        .lease("w1", long)
        .await
        .expect("lease")
        .expect("a job");
    assert_eq!(
        (
            leased.trace_id.as_str(),
            leased.route.as_str(),
            leased.attempts
        ),
        ("wf-a", "echo", 1),
        "{kind}"
    );
    assert_eq!(leased.payload, Ok(json!({"body": {"n": 1}})), "{kind}");
    let shown = store.get("wf-a").await.expect("get").expect("wf-a");
    assert_eq!(
        (&shown["state"], &shown["lease"]["owner"]),
        (&json!("running"), &json!("w1")),
        "{kind}: {shown}"
    );

    // Only the lease holder records an outcome; a retry waits for its backoff.
    let wrong = store.finish("wf-a", "w2", Outcome::Succeeded(json!({})));
    assert!(!wrong.await.expect("finish"), "{kind}: not w2's lease");
    let retry = Outcome::Retry {
        class: "provider".into(),
        message: "503".into(),
        delay: long,
    };
    assert!(
        store.finish("wf-a", "w1", retry).await.expect("finish"),
        "{kind}"
    );
    let shown = store.get("wf-a").await.expect("get").expect("wf-a");
    assert_eq!(
        (
            &shown["state"],
            &shown["attempts"],
            &shown["error"]["class"]
        ),
        (&json!("queued"), &json!(1), &json!("provider")),
        "{kind}: {shown}"
    );
    for expected in ["wf-b", "wf-c"] {
        let leased = store
            .lease("w1", long)
            .await
            .expect("lease")
            .expect("a job");
        assert_eq!(leased.trace_id, expected, "{kind}");
    }
    assert!(
        store.lease("w1", long).await.expect("lease").is_none(),
        "{kind}: wf-a waits for its backoff"
    );
    let succeeded = Outcome::Succeeded(json!({"ok": true}));
    assert!(
        store.finish("wf-b", "w1", succeeded).await.expect("finish"),
        "{kind}"
    );
    let failed = Outcome::Failed {
        class: "invalid_input".into(),
        message: "no".into(),
    };
    assert!(
        store.finish("wf-c", "w1", failed).await.expect("finish"),
        "{kind}"
    );
    assert_eq!(
        store.depth().await.expect("depth"),
        1,
        "{kind}: wf-a is left"
    );

    // A lease that ran out is taken over, and its first holder can no longer record.
    store
        .enqueue("wf-e", "echo", &json!({}))
        .await
        .expect("enqueue");
    let first = store
        .lease("w1", short)
        .await
        .expect("lease")
        .expect("wf-e");
    assert_eq!(first.trace_id, "wf-e", "{kind}");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let taken = store.lease("w2", long).await.expect("lease").expect("wf-e");
    assert_eq!(
        (taken.trace_id.as_str(), taken.attempts),
        ("wf-e", 2),
        "{kind}"
    );
    let late = store.finish("wf-e", "w1", Outcome::Succeeded(json!({})));
    assert!(
        !late.await.expect("finish"),
        "{kind}: w1's lease was taken over"
    );
    let done = store.finish("wf-e", "w2", Outcome::Succeeded(json!({})));
    assert!(done.await.expect("finish"), "{kind}");

    // A renewed lease holds; a released one is queued again, its attempt not counted.
    store
        .enqueue("wf-f", "echo", &json!({}))
        .await
        .expect("enqueue");
    store
        .enqueue("wf-g", "echo", &json!({}))
        .await
        .expect("enqueue");
    let f = store.lease("w3", long).await.expect("lease").expect("wf-f");
    let g = store
        .lease("w1", short)
        .await
        .expect("lease")
        .expect("wf-g");
    assert_eq!(
        (f.trace_id.as_str(), g.trace_id.as_str()),
        ("wf-f", "wf-g"),
        "{kind}"
    );
    store.renew("wf-g", "w1", long).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        store.lease("w2", long).await.expect("lease").is_none(),
        "{kind}: wf-g's renewed lease holds"
    );
    assert_eq!(store.release("w3").await.expect("release"), 1, "{kind}");
    let shown = store.get("wf-f").await.expect("get").expect("wf-f");
    assert_eq!(
        (&shown["state"], &shown["attempts"]),
        (&json!("queued"), &json!(0)),
        "{kind}: {shown}"
    );
    let again = store.lease("w1", long).await.expect("lease").expect("wf-f");
    assert_eq!(
        (again.trace_id.as_str(), again.attempts),
        ("wf-f", 1),
        "{kind}"
    );

    // What is open, oldest first; only finished jobs can be retried.
    let traces = |jobs: Vec<serde_json::Value>| -> Vec<String> {
        jobs.iter()
            .map(|job| job["traceId"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let running = store.list(Some(JobState::Running)).await.expect("list");
    assert_eq!(traces(running), ["wf-f", "wf-g"], "{kind}");
    let queued = store.list(Some(JobState::Queued)).await.expect("list");
    assert_eq!(traces(queued), ["wf-a"], "{kind}");
    assert_eq!(store.depth().await.expect("depth"), 3, "{kind}");
    let retried = store.retry("wf-a").await.expect("retry");
    assert_eq!(
        retried,
        RetryResult::NotRetryable(JobState::Queued),
        "{kind}"
    );
    let unknown = store.retry("wf-nope").await.expect("retry");
    assert_eq!(unknown, RetryResult::NotFound, "{kind}");
    assert!(store.get("wf-nope").await.expect("get").is_none(), "{kind}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_memory_store_passes() {
        check(&JobStore::memory(3)).await;
    }

    #[cfg(feature = "sqlite")]
    #[tokio::test]
    async fn the_sqlite_store_passes() {
        let dir = std::env::temp_dir().join(format!(
            "wf-store-conformance-{}-{}",
            std::process::id(),
            super::super::job::now_ms()
        ));
        let location = super::super::StoreLocation::Sqlite(dir.clone());
        let store = JobStore::open(&location, 3).await.expect("a SQLite store");
        check(&store).await;
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
