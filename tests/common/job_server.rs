//! The durable-job tests' shared pieces (`tests/jobs.rs` on SQLite, `tests/jobs_postgres.rs`):
//! the real `workerflow serve` as a child on some store, async Slack calls against a wiremock
//! upstream, `GET /api/jobs/<traceId>`, and `workerflow jobs`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use workerflow_test_support::child_output::{stderr_lines, wait_listening};

pub(crate) const TOKEN: &str = "api-token-SECRET-0";
pub(crate) const SLACK_PATH: &str = "/services/SECRETPATH";

/// A fresh directory under the system temp dir (removed at the end of a passing test).
pub(crate) fn scratch(name: &str) -> PathBuf {
    workerflow_test_support::scratch_dir(&format!("jobs-{name}"))
}

pub(crate) fn webhook(upstream: &MockServer) -> String {
    format!("{}{SLACK_PATH}?token=SECRETTOKEN", upstream.uri())
}

pub(crate) struct Serve {
    pub child: Child,
    pub lines: Receiver<String>,
    pub base: String,
    pub seen: Vec<String>,
}

/// Starts `workerflow serve ARGS…` with only the token and `env` set, and waits for its
/// `listening on` line.
pub(crate) fn serve(args: &[String], env: &[(String, String)]) -> Serve {
    let mut child = Command::new(env!("CARGO_BIN_EXE_workerflow"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(args)
        .env_clear()
        .env("WORKERFLOW_API_TOKEN", TOKEN)
        .envs(env.iter().map(|(name, value)| (name, value)))
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

/// [`serve`] from async code (it blocks until the server says it listens), with the Slack
/// webhook pointing at `webhook`.
pub(crate) async fn start(args: Vec<String>, webhook: &str, more_env: &[(&str, &str)]) -> Serve {
    let mut env = vec![("SLACK_WEBHOOK_URL".to_owned(), webhook.to_owned())];
    env.extend(
        more_env
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
    );
    tokio::task::spawn_blocking(move || serve(&args, &env))
        .await
        .expect("started")
}

/// `serve STORE… ARGS…` with the Slack webhook at `hook`.
pub(crate) async fn start_on(store: &[&str], args: &[&str], hook: &str) -> Serve {
    let mut all = strings(store);
    all.extend(strings(args));
    start(all, hook, &[]).await
}

/// Owned arguments from string slices.
pub(crate) fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|arg| (*arg).to_owned()).collect()
}

impl Serve {
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then the exit code and all of stderr (which must name no secret).
    pub(crate) fn terminate(mut self) -> (Option<i32>, String) {
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
    pub(crate) fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }
}

/// `POST /api/slack_message` with `text`: the status and the body (with `retryAfter` added
/// from the header, when there is one).
/// The test's HTTP client. It drops an idle connection after 1 s, well before the server's 5 s
/// keep-alive timeout closes it: reusing a connection the server is closing at that moment
/// fails the request (hyper's `IncompleteMessage`), which is the client's race, not the server's.
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_idle_timeout(std::time::Duration::from_secs(1))
        .build()
        .expect("client")
}

pub(crate) async fn post(client: &reqwest::Client, base: &str, text: &str) -> (u16, Value) {
    post_route(client, base, "slack_message", json!({ "text": text })).await
}

/// `POST /api/<route>` with `input`: the status and the body (with `retryAfter`).
pub(crate) async fn post_route(
    client: &reqwest::Client,
    base: &str,
    route: &str,
    input: Value,
) -> (u16, Value) {
    let response = client
        .post(format!("{base}/api/{route}"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(input.to_string())
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

pub(crate) async fn json_of(response: reqwest::Response) -> Value {
    let bytes = response.bytes().await.expect("body");
    serde_json::from_slice(&bytes).unwrap_or_else(|_| panic!("not JSON: {bytes:?}"))
}

pub(crate) async fn get_job(client: &reqwest::Client, base: &str, trace: &str) -> (u16, Value) {
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
pub(crate) async fn wait_state(
    client: &reqwest::Client,
    base: &str,
    trace: &str,
    state: &str,
) -> Value {
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

/// `workerflow jobs STORE… ARGS…`: exit code, stdout, stderr.
pub(crate) fn jobs_cli(store: &[&str], args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_workerflow"))
        .arg("jobs")
        .args(store)
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

/// Polls `workerflow jobs … list --state succeeded` until `count` jobs have succeeded (fails
/// after `within`).
pub(crate) async fn wait_succeeded(store: &[&str], count: usize, within: Duration) {
    let started = Instant::now();
    loop {
        let (code, out, err) = jobs_cli(store, &["list", "--state", "succeeded"]);
        assert_eq!(code, Some(0), "{err}");
        if out.lines().count() == count {
            return;
        }
        assert!(
            started.elapsed() < within,
            "{} of {count} jobs succeeded within {within:?}",
            out.lines().count()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Starts `serve` expecting it to refuse: exit code and stderr.
pub(crate) fn refused(args: &[&str]) -> (Option<i32>, String) {
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

/// A wiremock Slack webhook answering 200 `ok` after `delay`.
pub(crate) async fn slack_upstream(delay: Duration) -> MockServer {
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
pub(crate) async fn deliveries(upstream: &MockServer) -> HashMap<String, usize> {
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

/// Every delivery, first attempt or a later one, carries the trace id of its 202.
pub(crate) async fn assert_trace_ids_kept(
    upstream: &MockServer,
    trace_of: &HashMap<String, String>,
) {
    for request in upstream.received_requests().await.unwrap_or_default() {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let sent = body["text"].as_str().unwrap_or("");
        let (prefix, text) = sent
            .split_once("] ")
            .expect("a [WorkerFlow:<trace>] prefix");
        let trace = &trace_of[text];
        assert_eq!(prefix, format!("[WorkerFlow:{trace}"), "{sent}");
    }
}

/// Posts `count` Slack messages `job 0` … with 32 in flight, spread round-robin over `bases`;
/// each must be answered 202. Returns text → trace id.
pub(crate) async fn accept_jobs(
    client: &reqwest::Client,
    bases: &[String],
    count: usize,
) -> HashMap<String, String> {
    let mut calls = tokio::task::JoinSet::new();
    let mut answers = Vec::with_capacity(count);
    for n in 0..count {
        let (client, base) = (client.clone(), bases[n % bases.len()].clone());
        calls.spawn(async move {
            let text = format!("job {n}");
            let (status, body) = post(&client, &base, &text).await;
            (text, status, body)
        });
        if calls.len() >= 32 {
            answers.push(calls.join_next().await.expect("a call").expect("joined"));
        }
    }
    while let Some(call) = calls.join_next().await {
        answers.push(call.expect("joined"));
    }
    let mut trace_of = HashMap::new();
    for (text, status, body) in answers {
        assert_eq!(status, 202, "{body}");
        trace_of.insert(text, body["traceId"].as_str().expect("trace").to_owned());
    }
    trace_of
}

/// A transient failure is retried and then delivered once; one that never ends is `dead` after
/// the attempts, and `workerflow jobs retry` runs it again (the same on every store).
pub(crate) async fn retried_then_dead_then_retried(store: &[&str]) {
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
    let server = start_on(store, &args, &hook).await;
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
    let server = start_on(store, &args, &hook).await;
    let (status, body) = post(&client, &server.base, "never").await;
    assert_eq!(status, 202, "{body}");
    let trace = body["traceId"].as_str().expect("trace").to_owned();
    let job = wait_state(&client, &server.base, &trace, "dead").await;
    assert_eq!(job["attempts"], 2, "{job}");
    assert_eq!(job["error"]["class"], "provider", "{job}");
    let sent = down.received_requests().await.unwrap_or_default().len();
    assert_eq!(sent, 6, "2 attempts of 3 tries each");
    let (code, out, _) = jobs_cli(store, &["list", "--state", "dead"]);
    assert_eq!(code, Some(0));
    assert_eq!(out.lines().count(), 1, "{out}");

    Mock::given(method("POST"))
        .and(path(SLACK_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .with_priority(1)
        .mount(&down)
        .await;
    let (code, out, err) = jobs_cli(store, &["retry", &trace]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, format!("queued {trace} again\n"));
    let job = wait_state(&client, &server.base, &trace, "succeeded").await;
    assert_eq!(job["attempts"], 1, "{job}");
    let (code, stderr) = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .expect("terminated");
    assert_eq!(code, Some(0), "{stderr}");
}
