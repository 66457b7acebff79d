//! Durable async jobs (issue 14), end to end: the real binary on a SQLite data directory, a
//! wiremock upstream on loopback, SIGKILL and SIGTERM, and `workerflow jobs`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[path = "common/child_output.rs"]
mod child_output;
use child_output::{stderr_lines, wait_listening};

const TOKEN: &str = "api-token-SECRET-0";
const SLACK_PATH: &str = "/services/SECRETPATH";

/// A fresh directory under the system temp dir (removed at the end of a passing test).
fn scratch(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    let dir = std::env::temp_dir().join(format!(
        "workerflow-jobs-{name}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn webhook(upstream: &MockServer) -> String {
    format!("{}{SLACK_PATH}?token=SECRETTOKEN", upstream.uri())
}

struct Serve {
    child: Child,
    lines: Receiver<String>,
    base: String,
    seen: Vec<String>,
}

/// Starts `workerflow serve` on `data_dir` and waits for its `listening on` line.
fn serve(data_dir: &Path, args: &[&str], webhook: &str) -> Serve {
    let mut child = Command::new(env!("CARGO_BIN_EXE_workerflow"))
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(args)
        .env_clear()
        .env("WORKERFLOW_API_TOKEN", TOKEN)
        .env("SLACK_WEBHOOK_URL", webhook)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let lines = stderr_lines(&mut child);
    match wait_listening(&lines) {
        Ok((base, seen)) => Serve {
            child,
            lines,
            base,
            seen,
        },
        Err(seen) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no listening line; stderr so far: {seen:#?}");
        }
    }
}

impl Serve {
    /// SIGTERM, then the exit code and all of stderr.
    fn terminate(mut self) -> (Option<i32>, String) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let exit = self.child.wait().expect("exits");
        self.seen.extend(self.lines.iter());
        let stderr = self.seen.join("\n");
        assert!(
            !stderr.contains("SECRET"),
            "a secret reached the log: {stderr}"
        );
        (exit.code(), stderr)
    }

    /// SIGKILL: no drain, no goodbye.
    fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }
}

/// `POST /api/slack_message` with `text`; the status and the trace id.
/// [`serve`] from async code: it blocks until the server says it listens.
async fn start(data_dir: &Path, args: &[&str], webhook: &str) -> Serve {
    let data_dir = data_dir.to_owned();
    let args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
    let webhook = webhook.to_owned();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        serve(&data_dir, &args, &webhook)
    })
    .await
    .expect("started")
}

async fn post(client: &reqwest::Client, base: &str, text: &str) -> (u16, Value) {
    let response = client
        .post(format!("{base}/api/slack_message"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(json!({ "text": text }).to_string())
        .send()
        .await
        .expect("answer");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|value| value.to_str().unwrap_or("").to_owned());
    let mut body = json_of(response).await;
    if let Some(retry) = retry_after {
        body["retryAfter"] = json!(retry);
    }
    (status, body)
}

async fn json_of(response: reqwest::Response) -> Value {
    let bytes = response.bytes().await.expect("body");
    serde_json::from_slice(&bytes).unwrap_or_else(|_| panic!("not JSON: {bytes:?}"))
}

async fn get_job(client: &reqwest::Client, base: &str, trace: &str) -> (u16, Value) {
    let response = client
        .get(format!("{base}/api/jobs/{trace}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("answer");
    let status = response.status().as_u16();
    (status, json_of(response).await)
}

/// Polls `GET /api/jobs/<trace>` until the job is in `state` (fails after 20 s).
async fn wait_state(client: &reqwest::Client, base: &str, trace: &str, state: &str) -> Value {
    let started = Instant::now();
    loop {
        let (status, body) = get_job(client, base, trace).await;
        assert_eq!(status, 200, "{body}");
        if body["job"]["state"] == state {
            return body["job"].clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "job {trace} never became {state}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `workerflow jobs --data-dir DIR ARGS…`: exit code, stdout, stderr.
fn jobs_cli(data_dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_workerflow"))
        .args(["jobs", "--data-dir"])
        .arg(data_dir)
        .args(args)
        .env_clear()
        .output()
        .expect("runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

async fn slack_upstream(delay: Duration) -> MockServer {
    let upstream = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SLACK_PATH))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string("ok")
                .set_delay(delay),
        )
        .mount(&upstream)
        .await;
    upstream
}

/// How many times the upstream received each text (without the `[WorkerFlow:<trace>] ` the
/// Slack route puts before it).
async fn deliveries(upstream: &MockServer) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for request in upstream.received_requests().await.unwrap_or_default() {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        if let Some(text) = body["text"].as_str() {
            let text = text.split_once("] ").map_or(text, |(_, rest)| rest);
            *counts.entry(text.to_owned()).or_insert(0) += 1;
        }
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_run_loses_no_accepted_job() {
    const JOBS: usize = 500;
    const WORKERS: usize = 8;
    let dir = scratch("sigkill");
    let upstream = slack_upstream(Duration::from_millis(40)).await;
    let hook = webhook(&upstream);
    let args = ["--workers", "8", "--job-lease", "1s"];
    let server = start(&dir, &args, &hook).await;
    let client = reqwest::Client::new();
    let mut calls = tokio::task::JoinSet::new();
    let mut accepted = Vec::new();
    for n in 0..JOBS {
        let (client, base) = (client.clone(), server.base.clone());
        calls.spawn(async move {
            let text = format!("job {n}");
            let (status, body) = post(&client, &base, &text).await;
            (text, status, body)
        });
        if calls.len() >= 32 {
            accepted.push(calls.join_next().await.expect("a call").expect("joined"));
        }
    }
    while let Some(call) = calls.join_next().await {
        accepted.push(call.expect("joined"));
    }
    let mut trace_of = HashMap::new();
    for (text, status, body) in accepted {
        assert_eq!(status, 202, "{body}");
        trace_of.insert(text, body["traceId"].as_str().expect("trace").to_owned());
    }
    tokio::task::spawn_blocking(move || server.kill())
        .await
        .expect("killed");
    let at_kill: usize = deliveries(&upstream).await.values().sum();
    assert!(
        at_kill < JOBS,
        "every job was delivered before the kill ({at_kill}); the test proves nothing"
    );

    let server = start(&dir, &args, &hook).await;
    let started = Instant::now();
    loop {
        let (code, out, err) = jobs_cli(&dir, &["list", "--state", "succeeded"]);
        assert_eq!(code, Some(0), "{err}");
        if out.lines().count() == JOBS {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{} of {JOBS} succeeded after the restart",
            out.lines().count()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let counts = deliveries(&upstream).await;
    for n in 0..JOBS {
        assert!(
            counts.get(&format!("job {n}")).copied().unwrap_or(0) >= 1,
            "job {n} was accepted but never delivered"
        );
    }
    // Every delivery, first attempt or after the restart, carries the trace id of its 202.
    for request in upstream.received_requests().await.unwrap_or_default() {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let sent = body["text"].as_str().unwrap_or("");
        let (prefix, text) = sent
            .split_once("] ")
            .expect("a [WorkerFlow:<trace>] prefix");
        let trace = &trace_of[text];
        assert_eq!(prefix, format!("[WorkerFlow:{trace}"), "{sent}");
    }
    let duplicates: usize = counts.values().map(|count| count - 1).sum();
    assert!(
        duplicates <= WORKERS,
        "{duplicates} duplicates, more than the {WORKERS} jobs that can run at the kill"
    );
    let (code, stderr) = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .expect("terminated");
    assert_eq!(code, Some(0), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_id_keeps_its_state_attempts_and_output() {
    let dir = scratch("get");
    let upstream = slack_upstream(Duration::ZERO).await;
    let hook = webhook(&upstream);
    let server = start(&dir, &[], &hook).await;
    let client = reqwest::Client::new();
    let (status, body) = post(&client, &server.base, "hello").await;
    assert_eq!(status, 202, "{body}");
    let trace = body["traceId"].as_str().expect("trace").to_owned();
    let job = wait_state(&client, &server.base, &trace, "succeeded").await;
    assert_eq!(job["route"], "slack_message");
    assert_eq!(job["attempts"], 1);
    assert!(job["error"].is_null(), "{job}");
    assert!(job["output"].is_object(), "{job}");
    assert!(job["finishedAtMs"].as_i64().is_some(), "{job}");
    // The payload is not shown, and no secret is in the record.
    assert!(!job.to_string().contains("hello"), "{job}");
    assert!(!job.to_string().contains("SECRET"), "{job}");
    let (status, body) = get_job(&client, &server.base, "no-such-trace").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "job_not_found");

    let config = json_of(
        client
            .get(format!("{}/health/config", server.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("answer"),
    )
    .await;
    assert_eq!(config["jobs"]["store"], "sqlite", "{config}");
    assert_eq!(config["jobs"]["depth"], 0, "{config}");

    let (code, out, err) = jobs_cli(&dir, &["show", &trace]);
    assert_eq!(code, Some(0), "{err}");
    let shown: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(shown["state"], "succeeded");
    let (code, _, err) = jobs_cli(&dir, &["retry", &trace]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("is succeeded; only dead or failed jobs can be retried"),
        "{err}"
    );
    // Nothing is purged before its age.
    let (code, out, _) = jobs_cli(&dir, &["purge", "--older-than", "7d"]);
    assert_eq!((code, out.as_str()), (Some(0), "purged 0 finished jobs\n"));
    let (code, out, _) = jobs_cli(&dir, &["purge", "--older-than", "0s"]);
    assert_eq!((code, out.as_str()), (Some(0), "purged 1 finished jobs\n"));
    let (status, _) = get_job(&client, &server.base, &trace).await;
    assert_eq!(status, 404);
    let (code, stderr) = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .expect("terminated");
    assert_eq!(code, Some(0), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_are_retried_then_dead_and_jobs_retry_runs_it_again() {
    let dir = scratch("retry");
    // 503 three times (the runtime's own 3 tries of the first attempt), then 200.
    let upstream = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SLACK_PATH))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(3)
        .with_priority(1)
        .mount(&upstream)
        .await;
    Mock::given(method("POST"))
        .and(path(SLACK_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .with_priority(2)
        .mount(&upstream)
        .await;
    let args = ["--job-attempts", "2", "--job-backoff", "100ms"];
    let hook = webhook(&upstream);
    let server = start(&dir, &args, &hook).await;
    let client = reqwest::Client::new();
    let (status, body) = post(&client, &server.base, "flaky").await;
    assert_eq!(status, 202, "{body}");
    let trace = body["traceId"].as_str().expect("trace").to_owned();
    let job = wait_state(&client, &server.base, &trace, "succeeded").await;
    assert_eq!(job["attempts"], 2, "{job}");
    let received = upstream.received_requests().await.unwrap_or_default();
    assert_eq!(received.len(), 4, "3 refused, then delivered once");
    let (code, stderr) = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .expect("terminated");
    assert_eq!(code, Some(0), "{stderr}");

    // Always 503: dead after 2 attempts, kept; `jobs retry` queues it again.
    let down = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SLACK_PATH))
        .respond_with(ResponseTemplate::new(503))
        .with_priority(2)
        .mount(&down)
        .await;
    let hook = webhook(&down);
    let server = start(&dir, &args, &hook).await;
    let (status, body) = post(&client, &server.base, "never").await;
    assert_eq!(status, 202, "{body}");
    let trace = body["traceId"].as_str().expect("trace").to_owned();
    let job = wait_state(&client, &server.base, &trace, "dead").await;
    assert_eq!(job["attempts"], 2, "{job}");
    assert_eq!(job["error"]["class"], "provider", "{job}");
    let sent = down.received_requests().await.unwrap_or_default().len();
    assert_eq!(sent, 6, "2 attempts of 3 tries each");
    let (code, out, _) = jobs_cli(&dir, &["list", "--state", "dead"]);
    assert_eq!(code, Some(0));
    assert_eq!(out.lines().count(), 1, "{out}");

    Mock::given(method("POST"))
        .and(path(SLACK_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .with_priority(1)
        .mount(&down)
        .await;
    let (code, out, err) = jobs_cli(&dir, &["retry", &trace]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, format!("queued {trace} again\n"));
    let job = wait_state(&client, &server.base, &trace, "succeeded").await;
    assert_eq!(job["attempts"], 1, "{job}");
    let (code, stderr) = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .expect("terminated");
    assert_eq!(code, Some(0), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_leaves_unfinished_jobs_in_the_store_and_the_next_start_runs_them() {
    let dir = scratch("sigterm");
    let slow = slack_upstream(Duration::from_secs(10)).await;
    let args = ["--workers", "1", "--drain-timeout", "300ms"];
    let hook = webhook(&slow);
    let server = start(&dir, &args, &hook).await;
    let client = reqwest::Client::new();
    let mut traces = Vec::new();
    for n in 0..3 {
        let (status, body) = post(&client, &server.base, &format!("left {n}")).await;
        assert_eq!(status, 202, "{body}");
        traces.push(body["traceId"].as_str().expect("trace").to_owned());
    }
    let started = Instant::now();
    while slow
        .received_requests()
        .await
        .unwrap_or_default()
        .is_empty()
    {
        assert!(started.elapsed() < Duration::from_secs(10), "nothing sent");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (code, stderr) = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .expect("terminated");
    assert_eq!(code, Some(0), "nothing is lost, so a clean exit: {stderr}");
    assert!(
        stderr.contains("stopped: 3 accepted jobs are kept in the store for the next start"),
        "{stderr}"
    );
    let (_, out, _) = jobs_cli(&dir, &["list", "--state", "queued"]);
    assert_eq!(out.lines().count(), 3, "{out}");

    // The next start runs them, with the secret as it is now (it was never stored).
    let fast = slack_upstream(Duration::ZERO).await;
    let hook = webhook(&fast);
    let server = start(&dir, &args, &hook).await;
    for trace in &traces {
        wait_state(&client, &server.base, trace, "succeeded").await;
    }
    let counts = deliveries(&fast).await;
    for n in 0..3 {
        assert_eq!(counts.get(&format!("left {n}")), Some(&1), "{counts:?}");
    }
    let (code, stderr) = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .expect("terminated");
    assert_eq!(code, Some(0), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_capacity_is_503_with_retry_after_never_202() {
    let dir = scratch("full");
    let slow = slack_upstream(Duration::from_secs(10)).await;
    let args = [
        "--workers",
        "1",
        "--queue-capacity",
        "2",
        "--drain-timeout",
        "100ms",
    ];
    let hook = webhook(&slow);
    let server = start(&dir, &args, &hook).await;
    let client = reqwest::Client::new();
    for n in 0..2 {
        let (status, body) = post(&client, &server.base, &format!("fits {n}")).await;
        assert_eq!(status, 202, "{body}");
    }
    let (status, body) = post(&client, &server.base, "too many").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "queue_full");
    assert_eq!(body["retryAfter"], "1");
    let (code, stderr) = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .expect("terminated");
    assert_eq!(code, Some(0), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Starts `serve` expecting it to refuse: exit code and stderr.
fn refused(args: &[&str]) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_workerflow"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(args)
        .env_clear()
        .env("WORKERFLOW_API_TOKEN", TOKEN)
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_bad_store_is_a_clear_error_at_start_and_nothing_is_overwritten() {
    let dir = scratch("bad");
    let file = dir.join("jobs.sqlite3");

    // Not a database.
    std::fs::write(&file, b"these are my notes, not a database\n".repeat(200)).expect("write");
    let before = std::fs::read(&file).expect("read");
    let (code, stderr) = refused(&["--data-dir", dir.to_str().expect("utf-8")]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("is not a WorkerFlow job store (file is not a database)"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&file).expect("read"), before, "file changed");

    // Someone else's SQLite database.
    std::fs::remove_file(&file).expect("remove");
    {
        let connection = rusqlite::Connection::open(&file).expect("open");
        connection
            .execute_batch("CREATE TABLE invoices (id INTEGER); INSERT INTO invoices VALUES (1);")
            .expect("create");
    }
    let before = std::fs::read(&file).expect("read");
    let (code, stderr) = refused(&["--data-dir", dir.to_str().expect("utf-8")]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("is a SQLite database of something else (tables: invoices)"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&file).expect("read"), before, "file changed");

    // A data directory that cannot be created (a file is in the way; root ignores modes).
    let blocked = dir.join("notes.txt");
    std::fs::write(&blocked, "x").expect("write");
    let (code, stderr) = refused(&["--data-dir", blocked.join("data").to_str().expect("utf-8")]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.starts_with("error: cannot create the data directory"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&blocked).expect("read"), b"x");

    // A store this build cannot use: refused without echoing the URL (it may hold a password).
    let (code, stderr) = refused(&["--jobs", "postgres://user:SECRET@127.0.0.1:1/db"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(!stderr.contains("SECRET"), "{stderr}");
    assert!(
        stderr.contains("not supported by this build yet"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_503_never_202_and_jobs_flow_again_once_there_is_room() {
    // A small tmpfs as the data directory, filled up while the server runs.
    let dir = scratch("full-disk");
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
        .arg(&dir)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !mounted {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    }
    /// Unmounts and removes the directory however the test ends.
    struct Mounted(PathBuf);
    impl Drop for Mounted {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _mounted = Mounted(dir.clone());
    let upstream = slack_upstream(Duration::ZERO).await;
    let hook = webhook(&upstream);
    let server = start(&dir, &[], &hook).await;
    let client = reqwest::Client::new();
    let (status, body) = post(&client, &server.base, "before").await;
    assert_eq!(status, 202, "{body}");

    // Fill the disk to the last byte.
    let filler = dir.join("filler");
    {
        use std::io::Write as _;
        let mut file = std::fs::File::create(&filler).expect("filler");
        let block = vec![0u8; 4096];
        while file.write_all(&block).and_then(|()| file.flush()).is_ok() {}
        let _ = file.write_all(&[0]);
        let _ = file.sync_all();
    }
    let mut refused = 0;
    for n in 0..20 {
        let (status, body) = post(
            &client,
            &server.base,
            &format!("while full {n} {}", "x".repeat(2000)),
        )
        .await;
        assert_ne!(status, 202, "a job was accepted on a full disk: {body}");
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["error"]["code"], "store_unavailable", "{body}");
        assert_eq!(body["retryAfter"], "1", "{body}");
        refused += 1;
    }
    assert_eq!(refused, 20);

    // Room again: accepted and delivered without a restart.
    std::fs::remove_file(&filler).expect("remove filler");
    let (status, body) = post(&client, &server.base, "after").await;
    assert_eq!(status, 202, "{body}");
    let trace = body["traceId"].as_str().expect("trace").to_owned();
    wait_state(&client, &server.base, &trace, "succeeded").await;
    let (code, stderr) = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .expect("terminated");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("job not accepted: the job store cannot take it"),
        "{stderr}"
    );
}
