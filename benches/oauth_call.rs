//! What an OAuth connection costs a call, against the loopback fake provider and fake HubSpot
//! API of `workerflow-test-support`, through two `workerflow serve` processes on one SQLite
//! store in the same run:
//!
//! - `hubspot_contact_upsert` naming a connection whose token needs no refresh, against the same
//!   call on a twin server that sends the same token as a static `HUBSPOT_ACCESS_TOKEN`;
//! - 50 concurrent calls whose connection's token is inside the refresh buffer (one refresh
//!   shared by all), against 50 concurrent calls that need none.
//!
//! `cargo bench --bench oauth_call` (prints a Markdown section for bench/RESULTS.md).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use workerflow_test_support::child_output::{stderr_lines, wait_listening};
use workerflow_test_support::oauth_provider::{CLIENT_ID, CLIENT_SECRET, FakeProvider};

const TOKEN: &str = "bench-api-token-0123456789";
const KEYS: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const SEQUENTIAL: usize = 300;
const ROUNDS: usize = 5;
const CONCURRENT: usize = 50;

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(store: &str, provider: &FakeProvider, static_token: Option<&str>) -> Server {
    let mut command = Command::new(env!("CARGO_BIN_EXE_workerflow"));
    command
        .args(["serve", "--addr", "127.0.0.1:0", "--jobs", store])
        .env_clear()
        .env("WORKERFLOW_API_TOKEN", TOKEN)
        .env("WORKERFLOW_CONNECTION_KEYS", KEYS)
        .env("HUBSPOT_CLIENT_ID", CLIENT_ID)
        .env("HUBSPOT_CLIENT_SECRET", CLIENT_SECRET)
        .env(
            "WORKERFLOW_OAUTH_HUBSPOT_AUTHORIZATION_URL",
            provider.authorization_url(),
        )
        .env("WORKERFLOW_OAUTH_HUBSPOT_TOKEN_URL", provider.token_url())
        .env("WORKERFLOW_HUBSPOT_BASE_URL", provider.api_base_url())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(token) = static_token {
        command.env("HUBSPOT_ACCESS_TOKEN", token);
    }
    let mut child = command.spawn().expect("the binary runs");
    let lines = stderr_lines(&mut child);
    let (base, _) =
        wait_listening(&lines).unwrap_or_else(|seen| panic!("no listening line: {seen:?}"));
    // Keep reading stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.iter() {});
    Server { child, base }
}

async fn authorize(client: &reqwest::Client, base: &str, provider: &FakeProvider, name: &str) {
    let answer = client
        .post(format!("{base}/api/connections"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(json!({"name": name, "service": "hubspot"}).to_string())
        .send()
        .await
        .expect("answer")
        .bytes()
        .await
        .expect("a body");
    let created: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
    let url = created["authorizationUrl"]
        .as_str()
        .unwrap_or_else(|| panic!("no authorization URL: {created}"))
        .to_owned();
    let callback = tokio::task::block_in_place(|| provider.approve(&url));
    let status = client.get(callback).send().await.expect("answer").status();
    assert!(status.is_success(), "callback: {status}");
}

async fn upsert(client: &reqwest::Client, base: &str, connection: Option<&str>, i: usize) {
    let mut request = client
        .post(format!("{base}/api/hubspot_contact_upsert"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(json!({"email": format!("u{i}@example.com")}).to_string());
    if let Some(name) = connection {
        request = request.header("workerflow-connection", name);
    }
    let response = request.send().await.expect("answer");
    assert!(response.status().is_success(), "{}", response.status());
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

/// `CONCURRENT` calls at once, spread over `bases` in turn: the time until the last answer.
async fn concurrent(client: &reqwest::Client, bases: &[&str]) -> Duration {
    let started = Instant::now();
    let calls: Vec<_> = (0..CONCURRENT)
        .map(|i| {
            let client = client.clone();
            let base = bases[i % bases.len()].to_owned();
            tokio::spawn(async move { upsert(&client, &base, Some("acme"), i).await })
        })
        .collect();
    for call in calls {
        call.await.expect("the call ran");
    }
    started.elapsed()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let provider = FakeProvider::start();
    let dir = std::env::temp_dir().join(format!("workerflow-bench-oauth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch dir");
    let store = format!("sqlite://{}", dir.display());
    let client = reqwest::Client::new();

    let with_connection = serve(&store, &provider, None);
    authorize(&client, &with_connection.base, &provider, "acme").await;
    let token = provider
        .issued_access_tokens()
        .last()
        .cloned()
        .expect("an access token");
    let with_static = serve(&store, &provider, Some(&token));

    // Warm both servers' connections and caches.
    for i in 0..50 {
        upsert(&client, &with_connection.base, Some("acme"), i).await;
        upsert(&client, &with_static.base, None, i).await;
    }
    let (mut connection_rounds, mut static_rounds) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let started = Instant::now();
        for i in 0..SEQUENTIAL {
            upsert(&client, &with_static.base, None, i).await;
        }
        static_rounds.push(started.elapsed() / SEQUENTIAL as u32);
        let started = Instant::now();
        for i in 0..SEQUENTIAL {
            upsert(&client, &with_connection.base, Some("acme"), i).await;
        }
        connection_rounds.push(started.elapsed() / SEQUENTIAL as u32);
    }
    let refreshes_before = provider.refresh_requests();
    assert_eq!(refreshes_before, 0, "no call above needed a refresh");

    // 50 concurrent calls: with one shared refresh, and without.
    let (mut refreshing, mut fresh) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        provider.set_expires_in(60);
        authorize(&client, &with_connection.base, &provider, "acme").await;
        provider.set_expires_in(1800);
        refreshing.push(concurrent(&client, &[&with_connection.base]).await);
        assert_eq!(
            provider.refresh_requests(),
            round + 1,
            "one refresh per round"
        );
        fresh.push(concurrent(&client, &[&with_connection.base]).await);
    }
    drop(with_connection);
    drop(with_static);

    // The same across two instances on one PostgreSQL database (when PostgreSQL is installed).
    let postgres = two_instances_on_postgres(&client, &provider).await;

    let connection = median(connection_rounds);
    let static_token = median(static_rounds);
    let refreshing = median(refreshing);
    let fresh = median(fresh);
    println!("## OAuth connections: call cost and refresh under concurrency\n");
    println!(
        "`cargo bench --bench oauth_call` ({ROUNDS} rounds, medians; loopback fake provider and API)\n"
    );
    println!("| measure | time | ratio |");
    println!("| --- | ---: | ---: |");
    println!(
        "| one call, static `HUBSPOT_ACCESS_TOKEN` | {:.0} µs | 1.00× |",
        static_token.as_secs_f64() * 1e6
    );
    println!(
        "| one call, connection needing no refresh | {:.0} µs | {:.2}× |",
        connection.as_secs_f64() * 1e6,
        connection.as_secs_f64() / static_token.as_secs_f64()
    );
    println!(
        "| {CONCURRENT} concurrent calls, no refresh | {:.1} ms | 1.00× |",
        fresh.as_secs_f64() * 1e3
    );
    println!(
        "| {CONCURRENT} concurrent calls sharing one refresh | {:.1} ms | {:.2}× |",
        refreshing.as_secs_f64() * 1e3,
        refreshing.as_secs_f64() / fresh.as_secs_f64()
    );
    if let Some((refreshing, fresh)) = postgres {
        println!(
            "| {CONCURRENT} concurrent calls on two instances (PostgreSQL), no refresh | {:.1} ms | 1.00× |",
            fresh.as_secs_f64() * 1e3
        );
        println!(
            "| {CONCURRENT} concurrent calls on two instances (PostgreSQL) sharing one refresh | {:.1} ms | {:.2}× |",
            refreshing.as_secs_f64() * 1e3,
            refreshing.as_secs_f64() / fresh.as_secs_f64()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Medians of 50 concurrent calls over two instances sharing one PostgreSQL database: with one
/// refresh shared by all, and without; `None` without PostgreSQL.
async fn two_instances_on_postgres(
    client: &reqwest::Client,
    provider: &FakeProvider,
) -> Option<(Duration, Duration)> {
    let cluster = workerflow_test_support::pg_cluster::Cluster::start("bench-oauth")?;
    cluster.create_database("conn").await;
    let url = cluster.url("conn");
    let first = serve(&url, provider, None);
    let second = serve(&url, provider, None);
    let bases = [first.base.as_str(), second.base.as_str()];
    let (mut refreshing, mut fresh) = (Vec::new(), Vec::new());
    let before = provider.refresh_requests();
    for round in 0..ROUNDS {
        provider.set_expires_in(60);
        authorize(client, &first.base, provider, "acme").await;
        provider.set_expires_in(1800);
        refreshing.push(concurrent(client, &bases).await);
        assert_eq!(
            provider.refresh_requests(),
            before + round + 1,
            "one refresh per round, whichever instance"
        );
        fresh.push(concurrent(client, &bases).await);
    }
    Some((median(refreshing), median(fresh)))
}
