//! Durable async jobs (issue 14), end to end: the real binary on a SQLite data directory, a
//! wiremock upstream on loopback, SIGKILL and SIGTERM, and `workerflow jobs`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
use common::job_server;
use job_server::{
    Serve, TOKEN, accept_jobs, assert_trace_ids_kept, deliveries, get_job, json_of, post,
    post_route, refused, scratch, slack_upstream, wait_state, wait_succeeded, webhook,
};

/// `serve --data-dir DIR ARGS…` with the Slack webhook at `hook`.
async fn start(dir: &Path, args: &[&str], hook: &str) -> Serve {
    job_server::start_on(&["--data-dir", dir.to_str().expect("utf-8")], args, hook).await
}

/// `workerflow jobs --data-dir DIR ARGS…`: exit code, stdout, stderr.
fn jobs_cli(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    job_server::jobs_cli(&["--data-dir", dir.to_str().expect("utf-8")], args)
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
    let client = job_server::client();
    let trace_of = accept_jobs(&client, std::slice::from_ref(&server.base), JOBS).await;
    tokio::task::spawn_blocking(move || server.kill())
        .await
        .expect("killed");
    let at_kill: usize = deliveries(&upstream).await.values().sum();
    assert!(
        at_kill < JOBS,
        "every job was delivered before the kill ({at_kill}); the test proves nothing"
    );

    let server = start(&dir, &args, &hook).await;
    let store = ["--data-dir", dir.to_str().expect("utf-8")];
    wait_succeeded(&store, JOBS, Duration::from_secs(60)).await;
    let counts = deliveries(&upstream).await;
    for n in 0..JOBS {
        assert!(
            counts.get(&format!("job {n}")).copied().unwrap_or(0) >= 1,
            "job {n} was accepted but never delivered"
        );
    }
    assert_trace_ids_kept(&upstream, &trace_of).await;
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
    let client = job_server::client();
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

/// Async input that breaks the route's schema is a 400 before anything is stored: the runtime
/// checks it in `prepare`, before the job is written (issue 28).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_async_input_is_400_and_nothing_is_stored() {
    let dir = scratch("bad-input");
    let upstream = slack_upstream(Duration::ZERO).await;
    let hook = webhook(&upstream);
    let server = start(&dir, &[], &hook).await;
    let client = job_server::client();
    let cases = [
        (
            json!({"text": "  "}),
            "slack_message: \"text\" must not be blank",
        ),
        (json!("hi"), "slack_message: payload body must be an object"),
        (
            json!({"text": 5, "webhookUrl": "https://elsewhere.example/x"}),
            "slack_message: \"text\" must be a string; slack_message: \"webhookUrl\" is not accepted",
        ),
    ];
    for (input, message) in cases {
        let (status, body) = post_route(&client, &server.base, "slack_message", input).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["code"], "invalid_input", "{body}");
        assert_eq!(body["error"]["message"], message, "{body}");
    }
    let (status, body) = post(&client, &server.base, "stored").await;
    assert_eq!(status, 202, "{body}");
    let rows: i64 = rusqlite::Connection::open(dir.join("jobs.sqlite3"))
        .and_then(|db| db.query_row("SELECT COUNT(*) FROM jobs", [], |row| row.get(0)))
        .expect("the store reads");
    assert_eq!(rows, 1, "only the accepted call is stored");
    let (code, stderr) = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .expect("terminated");
    assert_eq!(code, Some(0), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_are_retried_then_dead_and_jobs_retry_runs_it_again() {
    let dir = scratch("retry");
    job_server::retried_then_dead_then_retried(&["--data-dir", dir.to_str().expect("utf-8")]).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_leaves_unfinished_jobs_in_the_store_and_the_next_start_runs_them() {
    let dir = scratch("sigterm");
    let slow = slack_upstream(Duration::from_secs(10)).await;
    let args = ["--workers", "1", "--drain-timeout", "300ms"];
    let hook = webhook(&slow);
    let server = start(&dir, &args, &hook).await;
    let client = job_server::client();
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
    let client = job_server::client();
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

    // A PostgreSQL store nobody listens for: refused without echoing the password.
    let (code, stderr) = refused(&["--jobs", "postgres://user:SECRET@127.0.0.1:1/db"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(!stderr.contains("SECRET"), "{stderr}");
    assert!(
        stderr.starts_with("error: cannot connect to postgres://user@127.0.0.1:1/db: "),
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
    let client = job_server::client();
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

/// `{"text": …, "extra": [[…]]}` nested `levels` deep in all (the object counts as one).
fn nested_input(levels: usize) -> String {
    let arrays = levels - 1;
    format!(
        r#"{{"text":"deep","extra":{}1{}}}"#,
        "[".repeat(arrays - 1),
        "]".repeat(arrays - 1)
    )
}

/// Issue 30.1: one nesting limit at the door (100 levels, envelope included), below what the
/// store reads back; a stored payload that still cannot be read fails its job, loudly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_bodies_are_refused_at_the_door_and_an_unreadable_payload_fails_its_job() {
    let dir = scratch("deep");
    let upstream = slack_upstream(Duration::ZERO).await;
    let hook = webhook(&upstream);
    let server = start(&dir, &[], &hook).await;
    let client = job_server::client();
    let send = |levels: usize| {
        client
            .post(format!("{}/api/slack_message", server.base))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(nested_input(levels))
            .send()
    };

    // 127 levels: serde_json parses it, but stored in its envelope it would not read back.
    let response = send(127).await.expect("answer");
    assert_eq!(response.status().as_u16(), 400);
    let body = json_of(response).await;
    assert_eq!(body["error"]["code"], "invalid_input", "{body}");
    assert_eq!(
        body["error"]["message"], "slack_message: payload body is nested more than 100 levels deep",
        "{body}"
    );
    // 99 levels (100 with the envelope) is accepted and runs with the input it was sent.
    let response = send(99).await.expect("answer");
    assert_eq!(response.status().as_u16(), 202);
    let trace = json_of(response).await["traceId"]
        .as_str()
        .expect("trace")
        .to_owned();
    wait_state(&client, &server.base, &trace, "succeeded").await;
    assert_eq!(deliveries(&upstream).await.get("deep"), Some(&1));

    // A damaged row (as a disk error or a hand edit leaves it): failed, with the reason.
    {
        let connection = rusqlite::Connection::open(dir.join("jobs.sqlite3")).expect("open");
        connection
            .execute(
                "INSERT INTO jobs (trace_id, route, payload, state, next_run_at, created_at, updated_at)
                 VALUES ('damaged-row', 'slack_message', '{\"body\": {\"text\": ', 'queued', 0, 0, 0)",
                [],
            )
            .expect("insert");
    }
    let job = wait_state(&client, &server.base, "damaged-row", "failed").await;
    assert_eq!(job["error"]["class"], "unreadable_payload", "{job}");
    assert!(
        job["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("the stored payload cannot be read back: EOF")),
        "{job}"
    );
    assert_eq!(deliveries(&upstream).await.values().sum::<usize>(), 1);
    let (code, stderr) = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .expect("terminated");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.lines().any(|line| line
            .contains("job failed: its stored payload cannot be read back")
            && line.contains("trace_id=damaged-row")),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 30.4: a lease shorter than 1 s is refused (renewals could not keep up), and `jobs
/// list` shows a running job's lease owner and expiry, so a crashed instance's job (its lease
/// expired) is told apart from a live one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_leases_are_refused_and_jobs_shows_who_holds_a_running_job() {
    let (code, stderr) = refused(&["--job-lease", "10ms"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("\"10ms\" is shorter than the shortest lease, 1s"),
        "{stderr}"
    );

    let dir = scratch("lease");
    let upstream = slack_upstream(Duration::from_secs(30)).await;
    let hook = webhook(&upstream);
    let server = start(&dir, &["--job-lease", "1s"], &hook).await;
    let pid = server.pid();
    let client = job_server::client();
    let (status, body) = post(&client, &server.base, "slow").await;
    assert_eq!(status, 202, "{body}");
    let trace = body["traceId"].as_str().expect("trace").to_owned();
    wait_state(&client, &server.base, &trace, "running").await;
    // Renewed every third of the lease: still live well after one lease has passed.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let running = |expired: bool| {
        let (code, out, err) = jobs_cli(&dir, &["list", "--state", "running"]);
        assert_eq!(code, Some(0), "{err}");
        let job: Value = serde_json::from_str(out.trim()).expect("one JSON line");
        let lease = &job["lease"];
        let owner = lease["owner"].as_str().expect("an owner");
        assert!(owner.contains(&format!(":{pid}:")), "{job}");
        assert!(lease["expiresAtMs"].as_i64().is_some(), "{job}");
        assert_eq!(lease["expired"], expired, "{job}");
    };
    running(false);
    tokio::task::spawn_blocking(move || server.kill())
        .await
        .expect("killed");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    running(true);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 30.5: the store holds payloads and provider errors: its directory is created 0700 and
/// its files 0600; a store an earlier version left 0644 is narrowed at start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &Path| {
        std::fs::metadata(path)
            .expect("exists")
            .permissions()
            .mode()
            & 0o777
    };
    let parent = scratch("modes");
    let dir = parent.join("data");
    let upstream = slack_upstream(Duration::ZERO).await;
    let hook = webhook(&upstream);
    let server = start(&dir, &[], &hook).await;
    let client = job_server::client();
    let (status, body) = post(&client, &server.base, "private").await;
    assert_eq!(status, 202, "{body}");
    let trace = body["traceId"].as_str().expect("trace").to_owned();
    wait_state(&client, &server.base, &trace, "succeeded").await;
    assert_eq!(mode(&dir), 0o700);
    for name in ["jobs.sqlite3", "jobs.sqlite3-wal", "jobs.sqlite3-shm"] {
        assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
    }
    let (code, stderr) = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .expect("terminated");
    assert_eq!(code, Some(0), "{stderr}");

    let file = dir.join("jobs.sqlite3");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let server = start(&dir, &[], &hook).await;
    assert_eq!(mode(&file), 0o600);
    let _ = tokio::task::spawn_blocking(move || server.terminate()).await;
    let _ = std::fs::remove_dir_all(&parent);
}

/// Issue 30.7: a data directory named with ESC and BEL reaches the terminal escaped.
#[test]
fn control_characters_in_a_data_dir_are_escaped_in_messages() {
    let dir = scratch("controls");
    let blocked = dir.join("file");
    std::fs::write(&blocked, "x").expect("write");
    let hostile = blocked.join("\u{1b}]0;pwned\u{7}\u{1b}[2J");
    let (code, out, err) = jobs_cli(&hostile, &["list"]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(!err.contains('\u{1b}') && !err.contains('\u{7}'), "{err:?}");
    assert!(
        err.contains(r"/file/\u{1b}]0;pwned\u{7}\u{1b}[2J"),
        "{err:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
