//! The PostgreSQL job store (issue 14), end to end: a throwaway cluster per test
//! (`workerflow_test_support::pg_cluster`), the real binary, a wiremock upstream, SIGKILL, a database that goes
//! away and comes back, and databases `serve` must refuse.
//!
//! Without PostgreSQL's server installed these tests skip with a message; under `CI` they fail
//! (`.ci/run` installs it).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

mod common;
use common::job_server;
use workerflow_test_support::pg_cluster;

use job_server::{
    accept_jobs, assert_trace_ids_kept, deliveries, jobs_cli, post, post_route, refused,
    slack_upstream, strings, wait_state, wait_succeeded, webhook,
};
use pg_cluster::{Cluster, PASSWORD};

/// `serve --jobs URL ARGS…`.
async fn start(url: &str, args: &[&str], hook: &str, env: &[(&str, &str)]) -> job_server::Serve {
    let mut all = strings(&["--jobs", url]);
    all.extend(strings(args));
    job_server::start(all, hook, env).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_the_work_and_a_sigkill_loses_nothing() {
    const JOBS: usize = 5_000;
    const WORKERS: usize = 8;
    let Some(cluster) = Cluster::start("two") else {
        return;
    };
    cluster.create_database("jobs").await;
    let url = cluster.url("jobs");
    let upstream = slack_upstream(Duration::from_millis(15)).await;
    let hook = webhook(&upstream);
    let args = [
        "--workers",
        "8",
        "--job-lease",
        "2s",
        "--queue-capacity",
        "10000",
    ];
    let first = start(&url, &args, &hook, &[]).await;
    let second = start(&url, &args, &hook, &[]).await;
    let client = job_server::client();
    let bases = [first.base.clone(), second.base.clone()];
    let trace_of = accept_jobs(&client, &bases, JOBS).await;

    // Both instances work: wait until some jobs are done, then kill the first mid-run.
    let started = Instant::now();
    while deliveries(&upstream).await.values().sum::<usize>() < JOBS / 10 {
        assert!(started.elapsed() < Duration::from_secs(60), "no progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let killed = first.pid();
    tokio::task::spawn_blocking(move || first.kill())
        .await
        .expect("killed");
    // What the dead instance held: the only jobs another worker may run a second time.
    let held: HashSet<String> = cluster
        .query_texts(
            "jobs",
            &format!(
                "SELECT trace_id FROM workerflow_jobs
                 WHERE state = 'running' AND lease_owner LIKE '%:{killed}:%'"
            ),
        )
        .await
        .into_iter()
        .collect();
    let at_kill: usize = deliveries(&upstream).await.values().sum();
    assert!(
        at_kill < JOBS,
        "every job was delivered before the kill ({at_kill}); the test proves nothing"
    );
    assert!(
        held.len() <= WORKERS,
        "{} jobs held by 8 workers",
        held.len()
    );

    let store = ["--jobs", url.as_str()];
    wait_succeeded(&store, JOBS, Duration::from_secs(120)).await;
    let counts = deliveries(&upstream).await;
    let mut duplicated = Vec::new();
    for (text, trace) in &trace_of {
        match counts.get(text).copied().unwrap_or(0) {
            0 => panic!("{text} ({trace}) was accepted but never delivered"),
            1 => {}
            n => {
                // Run again only because its worker died with the lease: never while a lease
                // held, and at most once more.
                assert!(
                    held.contains(trace) && n == 2,
                    "{text} ({trace}) delivered {n} times, not held by the killed instance"
                );
                duplicated.push(trace.clone());
            }
        }
    }
    assert!(duplicated.len() <= WORKERS, "{duplicated:?}");
    assert_trace_ids_kept(&upstream, &trace_of).await;
    let (code, stderr) = tokio::task::spawn_blocking(move || second.terminate())
        .await
        .expect("terminated");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains(PASSWORD), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_database_down_async_calls_are_503_sync_calls_work_and_jobs_flow_once_it_is_back()
{
    let Some(cluster) = Cluster::start("down") else {
        return;
    };
    cluster.create_database("jobs").await;
    let url = cluster.url("jobs");
    let upstream = slack_upstream(Duration::ZERO).await;
    let hook = webhook(&upstream);
    let openai = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "choices": [{"message": {"content": "still here"}}]
        })))
        .mount(&openai)
        .await;
    let openai_base = openai.uri();
    let env = [
        ("OPENAI_API_KEY", "sk-openai-SECRET-1"),
        ("WORKERFLOW_OPENAI_BASE_URL", openai_base.as_str()),
    ];
    let server = start(&url, &["--job-lease", "1s"], &hook, &env).await;
    let client = job_server::client();
    let (status, body) = post(&client, &server.base, "before").await;
    assert_eq!(status, 202, "{body}");
    let trace = body["traceId"].as_str().expect("trace").to_owned();
    wait_state(&client, &server.base, &trace, "succeeded").await;

    let health = client
        .get(format!("{}/health/config", server.base))
        .bearer_auth(job_server::TOKEN)
        .send()
        .await
        .expect("answer");
    let health = job_server::json_of(health).await;
    assert_eq!(health["jobs"]["store"], "postgres", "{health}");
    assert_eq!(
        health["jobs"]["location"],
        format!("postgres://workerflow@127.0.0.1:{}/jobs", cluster.port),
        "{health}"
    );
    assert_eq!(health["jobs"]["depth"], 0, "{health}");

    cluster.stop_server();
    for n in 0..5 {
        let (status, body) = post(&client, &server.base, &format!("while down {n}")).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["error"]["code"], "store_unavailable", "{body}");
        assert_eq!(body["retryAfter"], "1", "{body}");
    }
    let (status, body) = post_route(
        &client,
        &server.base,
        "openai_chat",
        json!({"prompt": "hi"}),
    )
    .await;
    assert_eq!(status, 200, "sync calls need no store: {body}");
    assert_eq!(body["output"], "still here", "{body}");

    cluster.start_server();
    let started = Instant::now();
    let trace = loop {
        let (status, body) = post(&client, &server.base, "after").await;
        if status == 202 {
            break body["traceId"].as_str().expect("trace").to_owned();
        }
        assert_eq!(status, 503, "{body}");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the store never came back: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let job = wait_state(&client, &server.base, &trace, "succeeded").await;
    assert_eq!(job["attempts"], 1, "{job}");
    let counts = deliveries(&upstream).await;
    assert_eq!(counts.get("before"), Some(&1));
    assert_eq!(counts.get("after"), Some(&1));
    assert_eq!(
        counts
            .keys()
            .filter(|text| text.starts_with("while down"))
            .count(),
        0
    );

    // `workerflow jobs` on the same database, while `serve` runs.
    let store = ["--jobs", url.as_str()];
    let (code, out, err) = jobs_cli(&store, &["show", &trace]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("\"state\": \"succeeded\""), "{out}");
    let (code, _, err) = jobs_cli(&store, &["retry", &trace]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("is succeeded; only dead or failed jobs can be retried"),
        "{err}"
    );
    let (code, out, _) = jobs_cli(&store, &["purge", "--older-than", "0s"]);
    assert_eq!(code, Some(0));
    assert_eq!(out, "purged 2 finished jobs\n");

    let (code, stderr) = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .expect("terminated");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains(PASSWORD), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_are_retried_then_dead_and_jobs_retry_runs_it_again() {
    let Some(cluster) = Cluster::start("retry") else {
        return;
    };
    cluster.create_database("jobs").await;
    let url = cluster.url("jobs");
    job_server::retried_then_dead_then_retried(&["--jobs", &url]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_foreign_tables_and_newer_schemas_are_refused_at_start() {
    let Some(cluster) = Cluster::start("bad") else {
        return;
    };
    let run = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            refused(&args)
        })
    };

    // A wrong password: exit 2, the reason, never the password.
    let wrong = cluster.url_with_password("postgres", "wrong-SECRET");
    let (code, stderr) = run(strings(&["--jobs", &wrong])).await.expect("ran");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "error: cannot connect to postgres://workerflow@127.0.0.1:{}/postgres: ",
            cluster.port
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("password authentication failed for user \"workerflow\""),
        "{stderr}"
    );
    assert!(!stderr.contains("SECRET"), "{stderr}");

    // A database whose `workerflow_jobs` is someone else's: refused, left as it was.
    cluster.create_database("theirs").await;
    cluster
        .execute(
            "theirs",
            "CREATE TABLE workerflow_jobs (id integer); INSERT INTO workerflow_jobs VALUES (7);",
        )
        .await;
    let (code, stderr) = run(strings(&["--jobs", &cluster.url("theirs")]))
        .await
        .expect("ran");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("has a table workerflow_jobs that WorkerFlow did not create"),
        "{stderr}"
    );
    let tables = cluster
        .query_texts(
            "theirs",
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
        )
        .await;
    assert_eq!(tables, ["workerflow_jobs"]);
    let rows = cluster
        .query_texts("theirs", "SELECT id::text FROM workerflow_jobs")
        .await;
    assert_eq!(rows, ["7"]);

    // A schema written by a newer workerflow: refused, left as it was.
    cluster.create_database("newer").await;
    let url = cluster.url("newer");
    let (code, out, err) = jobs_cli(&["--jobs", &url], &["list"]);
    assert_eq!((code, out.as_str()), (Some(0), ""), "{err}");
    cluster
        .execute("newer", "UPDATE workerflow_schema SET version = 99")
        .await;
    let (code, stderr) = run(strings(&["--jobs", &url])).await.expect("ran");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "has job schema version 99 but this workerflow knows up to 1; upgrade workerflow"
        ),
        "{stderr}"
    );
    let (code, _, err) = jobs_cli(&["--jobs", &url], &["list"]);
    assert_eq!(code, Some(2), "{err}");

    // TLS is not in this build: asking for it is refused, not ignored.
    let tls = format!("{}?sslmode=require", cluster.url("postgres"));
    let (code, stderr) = run(strings(&["--jobs", &tls])).await.expect("ran");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("sslmode=require"), "{stderr}");
    assert!(!stderr.contains(PASSWORD), "{stderr}");
}

/// The PostgreSQL store passes the checks the memory and SQLite stores pass (the server's
/// `store::conformance`): one worker loop drives all three the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_store_passes_the_store_conformance_checks() {
    let Some(cluster) = Cluster::start("conformance") else {
        return;
    };
    let url: workerflow_server::store::PgUrl =
        cluster.url("postgres").parse().expect("a valid URL");
    let location = workerflow_server::StoreLocation::Postgres(url);
    let store = workerflow_server::JobStore::open(&location, 3)
        .await
        .expect("the store opens");
    workerflow_server::store::conformance::check(&store).await;
}
