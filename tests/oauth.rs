//! OAuth 2.0 connections end to end (issue 33): the real `workerflow serve` against a loopback
//! fake provider (`workerflow_test_support::oauth_provider`): the authorization flow with PKCE,
//! HubSpot calls with the connection's token, refresh under 50-way concurrency across two
//! instances on one PostgreSQL database, SIGKILL mid-refresh, encryption at rest and key
//! rotation, and every bad input the issue lists.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
use common::job_server::{self, Serve, TOKEN, json_of, strings};
use workerflow_test_support::oauth_provider::{CLIENT_ID, CLIENT_SECRET, FakeProvider, Scripted};
use workerflow_test_support::pg_cluster::Cluster;

const KEY_1: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const KEY_2: &str = "k2:ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoM=";

/// The environment of a `serve` whose HubSpot routes use `provider` for OAuth and its API.
fn env_for(provider: &FakeProvider, keys: &str) -> Vec<(String, String)> {
    [
        ("WORKERFLOW_CONNECTION_KEYS", keys.to_owned()),
        ("HUBSPOT_CLIENT_ID", CLIENT_ID.to_owned()),
        ("HUBSPOT_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
        (
            "WORKERFLOW_OAUTH_HUBSPOT_AUTHORIZATION_URL",
            provider.authorization_url(),
        ),
        ("WORKERFLOW_OAUTH_HUBSPOT_TOKEN_URL", provider.token_url()),
        (
            "WORKERFLOW_OAUTH_HUBSPOT_REVOCATION_URL",
            provider.revocation_url(),
        ),
        ("WORKERFLOW_HUBSPOT_BASE_URL", provider.api_base_url()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect()
}

async fn start(store: &str, provider: &FakeProvider, keys: &str) -> Serve {
    let args = strings(&["--jobs", store]);
    let env = env_for(provider, keys);
    tokio::task::spawn_blocking(move || job_server::serve(&args, &env))
        .await
        .expect("started")
}

/// `POST /api/connections`: the status and body.
async fn create(client: &reqwest::Client, base: &str, name: &str) -> (u16, Value) {
    let response = client
        .post(format!("{base}/api/connections"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(json!({"name": name, "service": "hubspot"}).to_string())
        .send()
        .await
        .expect("answer");
    (response.status().as_u16(), json_of(response).await)
}

/// A `GET` without the bearer token (the callback): status and text.
async fn get_page(client: &reqwest::Client, url: &str) -> (u16, String) {
    let response = client.get(url).send().await.expect("answer");
    let status = response.status().as_u16();
    (status, response.text().await.expect("text"))
}

/// Creates connection `name`, approves it at the provider and follows the callback: the page.
async fn authorize(
    client: &reqwest::Client,
    base: &str,
    provider: &FakeProvider,
    name: &str,
) -> String {
    let (status, body) = create(client, base, name).await;
    assert_eq!(status, 201, "{body}");
    let url = body["authorizationUrl"].as_str().expect("a URL").to_owned();
    let callback = approve(provider, url).await;
    let (status, page) = get_page(client, &callback).await;
    assert_eq!(status, 200, "{page}");
    page
}

/// The provider's redirect to our callback after approving `url`. `approve` blocks on its own
/// small client (the provider serves on its own runtime).
async fn approve(provider: &FakeProvider, url: String) -> String {
    tokio::task::block_in_place(|| provider.approve(&url))
}

async fn connection(client: &reqwest::Client, base: &str, name: &str) -> (u16, Value) {
    let response = client
        .get(format!("{base}/api/connections/{name}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("answer");
    (response.status().as_u16(), json_of(response).await)
}

/// `POST /api/hubspot_contact_upsert` naming `connection`.
async fn upsert(
    client: &reqwest::Client,
    base: &str,
    connection: &str,
    email: &str,
) -> (u16, Value) {
    let response = client
        .post(format!("{base}/api/hubspot_contact_upsert"))
        .bearer_auth(TOKEN)
        .header("workerflow-connection", connection)
        .header("content-type", "application/json")
        .body(json!({"email": email}).to_string())
        .send()
        .await
        .expect("answer");
    (response.status().as_u16(), json_of(response).await)
}

/// Every token the provider ever issued, none of which may appear in `text`.
fn assert_no_token(provider: &FakeProvider, what: &str, text: &str) {
    for token in provider
        .issued_access_tokens()
        .into_iter()
        .chain(provider.issued_refresh_tokens())
    {
        assert!(!text.contains(&token), "a token appears in {what}");
    }
    assert!(
        !text.contains(CLIENT_SECRET),
        "the client secret appears in {what}"
    );
}

fn stop(serve: Serve, provider: &FakeProvider) -> String {
    let (code, stderr) = serve.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    assert_no_token(provider, "the server's log", &stderr);
    stderr
}

fn sqlite_bytes(dir: &std::path::Path) -> String {
    let mut all = String::new();
    for name in [
        "jobs.sqlite3",
        "jobs.sqlite3-wal",
        "connections.sqlite3",
        "connections.sqlite3-wal",
    ] {
        if let Ok(bytes) = std::fs::read(dir.join(name)) {
            all.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flow_with_pkce_then_a_hubspot_call_with_the_connections_token() {
    let provider = FakeProvider::start();
    let dir = job_server::scratch("oauth-flow");
    let store = format!("sqlite://{}", dir.display());
    let serve = start(&store, &provider, KEY_1).await;
    let client = job_server::client();

    let (status, body) = create(&client, &serve.base, "acme").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["connection"], "acme");
    let url = body["authorizationUrl"].as_str().expect("a URL").to_owned();
    assert!(url.starts_with(&provider.authorization_url()), "{url}");
    let callback = approve(&provider, url).await;
    let seen = provider.authorization_requests();
    let request = seen
        .last()
        .expect("the provider saw the authorization request");
    assert_eq!(
        request.scope(),
        Some(
            "oauth crm.objects.contacts.read crm.objects.contacts.write crm.objects.deals.read crm.objects.deals.write"
        )
    );
    assert!(
        request.code_challenge().is_some(),
        "PKCE: no code challenge"
    );
    assert_eq!(request.param("code_challenge_method"), Some("S256"));
    assert_eq!(
        request.redirect_uri(),
        Some(format!("{}/oauth/callback", serve.base).as_str())
    );

    let (status, page) = get_page(&client, &callback).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Connection acme is ready"), "{page}");
    assert_eq!(provider.pkce_exchanges(), 1);

    let (status, listed) = connection(&client, &serve.base, "acme").await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["connection"]["state"], "active", "{listed}");
    assert_eq!(listed["connection"]["service"], "hubspot", "{listed}");
    assert_no_token(&provider, "the status endpoint", &listed.to_string());

    // HUBSPOT_ACCESS_TOKEN is unset: the connection's token is what the API sees.
    let (status, output) = upsert(&client, &serve.base, "acme", "Ada@Example.com").await;
    assert_eq!(status, 200, "{output}");
    assert_eq!(output["created"], true, "{output}");
    let issued = provider.issued_access_tokens();
    let bearers = provider.api_bearer_tokens();
    assert!(!bearers.is_empty());
    assert!(bearers.iter().all(|token| issued.contains(token)));

    // The state was single use: the same callback again changes nothing.
    let (status, page) = get_page(&client, &callback).await;
    assert_eq!(status, 400, "{page}");
    let (_, again) = connection(&client, &serve.base, "acme").await;
    assert_eq!(again["connection"]["state"], "active", "{again}");

    // Without a connection, the private app token is still the route's credential.
    let response = client
        .post(format!("{}/api/hubspot_contact_upsert", serve.base))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(json!({"email": "x@example.com"}).to_string())
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 500);
    assert!(
        json_of(response).await["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("HUBSPOT_ACCESS_TOKEN"))
    );

    stop(serve, &provider);
    assert_no_token(&provider, "the SQLite store", &sqlite_bytes(&dir));
    // The connections' file is private like the jobs' (names and times are not encrypted).
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dir.join("connections.sqlite3"))
            .expect("the connections' file")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_calls_on_two_instances_share_one_refresh() {
    let Some(cluster) = Cluster::start("oauth-50") else {
        return;
    };
    cluster.create_database("conn").await;
    let url = cluster.url("conn");
    let provider = FakeProvider::start();
    // The first token expires within the refresh buffer (5 minutes): every call wants a refresh.
    provider.set_expires_in(60);
    let first = start(&url, &provider, KEY_1).await;
    let second = start(&url, &provider, KEY_1).await;
    let client = job_server::client();
    authorize(&client, &first.base, &provider, "acme").await;
    provider.set_expires_in(1800);
    // A slow token endpoint: every call arrives while the one refresh is in flight.
    provider.token_delay(Duration::from_millis(400));

    let started = Instant::now();
    let calls = (0..50).map(|i| {
        let client = client.clone();
        let base = if i % 2 == 0 {
            first.base.clone()
        } else {
            second.base.clone()
        };
        tokio::spawn(
            async move { upsert(&client, &base, "acme", &format!("u{i}@example.com")).await },
        )
    });
    let results = futures_join(calls.collect()).await;
    let elapsed = started.elapsed();
    for (status, body) in &results {
        assert_eq!(*status, 200, "{body}");
    }
    assert_eq!(
        provider.refresh_requests(),
        1,
        "exactly one refresh reached the provider"
    );
    assert_eq!(provider.invalid_grants(), 0);
    eprintln!(
        "50 calls with one shared refresh: {} ms",
        elapsed.as_millis()
    );

    let dump = cluster.dump("conn");
    assert!(dump.contains("connections"), "the dump has the table");
    assert_no_token(&provider, "a PostgreSQL dump", &dump);
    stop(first, &provider);
    stop(second, &provider);
}

/// Awaits every task, in order.
async fn futures_join<T: Send + 'static>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await.expect("the task ran"));
    }
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_during_a_refresh_loses_nothing() {
    let provider = FakeProvider::start();
    provider.set_expires_in(60);
    let dir = job_server::scratch("oauth-kill");
    let store = format!("sqlite://{}", dir.display());
    let serve = start(&store, &provider, KEY_1).await;
    let client = job_server::client();
    authorize(&client, &serve.base, &provider, "acme").await;

    provider.token_delay(Duration::from_secs(30));
    let base = serve.base.clone();
    // This call's answer never comes: the server is killed under it.
    let pending = {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .post(format!("{base}/api/hubspot_contact_upsert"))
                .bearer_auth(TOKEN)
                .header("workerflow-connection", "acme")
                .header("content-type", "application/json")
                .body(json!({"email": "kill@example.com"}).to_string())
                .send()
                .await
                .is_err()
        })
    };
    let started = Instant::now();
    while provider.refresh_requests() == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no refresh began"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    serve.kill();
    assert!(
        pending.await.expect("the task ran"),
        "the killed server answered"
    );

    provider.token_delay(Duration::ZERO);
    provider.set_expires_in(1800);
    let serve = start(&store, &provider, KEY_1).await;
    let (status, output) = upsert(&client, &serve.base, "acme", "after@example.com").await;
    assert_eq!(status, 200, "{output}");
    assert_eq!(provider.invalid_grants(), 0);
    let (_, listed) = connection(&client, &serve.base, "acme").await;
    assert_eq!(listed["connection"]["state"], "active", "{listed}");
    stop(serve, &provider);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_encrypted_and_a_new_key_re_encrypts_every_row() {
    let provider = FakeProvider::start();
    let dir = job_server::scratch("oauth-keys");
    let store = format!("sqlite://{}", dir.display());
    let serve = start(&store, &provider, KEY_1).await;
    let client = job_server::client();
    authorize(&client, &serve.base, &provider, "acme").await;
    authorize(&client, &serve.base, &provider, "globex").await;
    stop(serve, &provider);
    assert_no_token(&provider, "the SQLite store", &sqlite_bytes(&dir));

    // A new first key: old rows still decrypt.
    let both = format!("{KEY_2},{KEY_1}");
    let serve = start(&store, &provider, &both).await;
    let (status, output) = upsert(&client, &serve.base, "acme", "a@example.com").await;
    assert_eq!(status, 200, "{output}");
    stop(serve, &provider);

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_workerflow"))
        .args(["connections", "--jobs", &store, "reencrypt"])
        .env_clear()
        .env("WORKERFLOW_CONNECTION_KEYS", &both)
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("re-encrypted 2 connections with key k2"),
        "{stdout}"
    );

    // Only the new key now: every row reads.
    let serve = start(&store, &provider, KEY_2).await;
    for name in ["acme", "globex"] {
        let (status, output) = upsert(&client, &serve.base, name, "b@example.com").await;
        assert_eq!(status, 200, "{name}: {output}");
    }
    stop(serve, &provider);
    assert_no_token(&provider, "the SQLite store", &sqlite_bytes(&dir));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_forces_one_refresh_and_one_retry() {
    let provider = FakeProvider::start();
    let dir = job_server::scratch("oauth-401");
    let store = format!("sqlite://{}", dir.display());
    let serve = start(&store, &provider, KEY_1).await;
    let client = job_server::client();
    authorize(&client, &serve.base, &provider, "acme").await;
    provider.expire_all_access_tokens();
    let (status, output) = upsert(&client, &serve.base, "acme", "a@example.com").await;
    assert_eq!(status, 200, "{output}");
    assert_eq!(provider.refresh_requests(), 1);
    stop(serve, &provider);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_callbacks_and_token_answers_leave_connections_as_they_were() {
    let provider = FakeProvider::start();
    let dir = job_server::scratch("oauth-bad");
    let store = format!("sqlite://{}", dir.display());
    let serve = start(&store, &provider, KEY_1).await;
    let client = job_server::client();
    let callback = format!("{}/oauth/callback", serve.base);

    // A forged state, and a callback without a code.
    let (status, page) = get_page(&client, &format!("{callback}?state=forged&code=x")).await;
    assert_eq!(status, 400, "{page}");
    let (_, body) = create(&client, &serve.base, "acme").await;
    let url = body["authorizationUrl"].as_str().expect("url").to_owned();
    let location = approve(&provider, url).await;
    let state = location
        .split(['?', '&'])
        .find_map(|part| part.strip_prefix("state="))
        .expect("a state")
        .to_owned();
    let (status, page) = get_page(&client, &format!("{callback}?state={state}")).await;
    assert_eq!(status, 400, "{page}");

    // The provider refuses: its error is shown, escaped.
    provider.deny_authorizations(true);
    let (_, body) = create(&client, &serve.base, "acme").await;
    let url = body["authorizationUrl"].as_str().expect("url").to_owned();
    let location = approve(&provider, url).await;
    let (status, page) = get_page(&client, &location).await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("access_denied"), "{page}");
    provider.deny_authorizations(false);

    // Unusable token answers at the code exchange: no connection is created.
    for answer in [
        Scripted::MissingAccessToken,
        Scripted::NonJson,
        Scripted::HugeBody(workerflow_test_support::oauth_provider::HUGE_BODY_BYTES),
        Scripted::Redirect("https://elsewhere.example/token".into()),
        Scripted::HtmlError,
    ] {
        let (_, body) = create(&client, &serve.base, "acme").await;
        let url = body["authorizationUrl"].as_str().expect("url").to_owned();
        let location = approve(&provider, url).await;
        provider.respond_next_token_request_with(answer);
        let (status, page) = get_page(&client, &location).await;
        assert_eq!(status, 400, "{page}");
        let (status, listed) = connection(&client, &serve.base, "acme").await;
        assert_eq!(status, 404, "{listed}");
    }

    // A provider clock minutes off changes nothing: expiry is counted on our clock.
    provider.clock_skew(Duration::from_secs(600));
    authorize(&client, &serve.base, &provider, "acme").await;
    let (status, output) = upsert(&client, &serve.base, "acme", "skew@example.com").await;
    assert_eq!(status, 200, "{output}");

    // Unusable answers to a refresh: the call fails with a refresh error, the connection stays.
    provider.expire_all_access_tokens();
    for answer in [
        Scripted::NonJson,
        Scripted::MissingAccessToken,
        Scripted::HtmlError,
    ] {
        provider.respond_next_token_request_with(answer);
        let (status, output) = upsert(&client, &serve.base, "acme", "r@example.com").await;
        assert_eq!(status, 502, "{output}");
        assert_eq!(
            output["error"]["code"], "connection_refresh_failed",
            "{output}"
        );
        let (_, listed) = connection(&client, &serve.base, "acme").await;
        assert_eq!(listed["connection"]["state"], "active", "{listed}");
    }
    let (status, output) = upsert(&client, &serve.base, "acme", "ok@example.com").await;
    assert_eq!(status, 200, "{output}");

    // invalid_grant: the connection needs re-authorization, and the error names it.
    provider.expire_all_access_tokens();
    provider.respond_next_token_request_with(Scripted::InvalidGrant);
    let (status, output) = upsert(&client, &serve.base, "acme", "g@example.com").await;
    assert_eq!(status, 409, "{output}");
    assert_eq!(
        output["error"]["code"], "connection_needs_reauth",
        "{output}"
    );
    assert!(
        output["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("\"acme\""))
    );
    let (_, listed) = connection(&client, &serve.base, "acme").await;
    assert_eq!(listed["connection"]["state"], "needs_reauth", "{listed}");

    // Unknown connections, and a connection on a route without OAuth.
    let (status, output) = upsert(&client, &serve.base, "nobody", "n@example.com").await;
    assert_eq!(status, 404, "{output}");
    assert_eq!(output["error"]["code"], "unknown_connection", "{output}");
    let (status, output) = upsert(&client, &serve.base, "no/such", "n@example.com").await;
    assert_eq!(status, 400, "{output}");

    // Delete revokes at the provider.
    authorize(&client, &serve.base, &provider, "globex").await;
    let response = client
        .delete(format!("{}/api/connections/globex", serve.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 200);
    let body = json_of(response).await;
    assert_eq!(body["connection"]["state"], "revoked", "{body}");
    assert_eq!(body["revokedAtProvider"], true, "{body}");
    assert!(!provider.revoke_requests().is_empty());
    let (status, output) = upsert(&client, &serve.base, "globex", "x@example.com").await;
    assert_eq!(status, 409, "{output}");
    assert_eq!(output["error"]["code"], "connection_revoked", "{output}");

    // The management API needs the bearer token.
    let response = client
        .get(format!("{}/api/connections", serve.base))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 401);

    stop(serve, &provider);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_malformed_key_is_refused_without_showing_it() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_workerflow"))
        .args(["serve", "--addr", "127.0.0.1:0", "--jobs", "memory"])
        .env_clear()
        .env("WORKERFLOW_API_TOKEN", TOKEN)
        .env("WORKERFLOW_CONNECTION_KEYS", "k1:not-base64-SECRET")
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("WORKERFLOW_CONNECTION_KEYS"), "{stderr}");
    assert!(!stderr.contains("not-base64-SECRET"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_key_hubspot_serves_its_static_token_and_refuses_connections() {
    let provider = FakeProvider::start();
    let mut env = env_for(&provider, "");
    env.retain(|(name, _)| name != "WORKERFLOW_CONNECTION_KEYS");
    env.push(("HUBSPOT_ACCESS_TOKEN".into(), "pat-static-1".into()));
    let args = strings(&["--jobs", "memory"]);
    let serve = tokio::task::spawn_blocking(move || job_server::serve(&args, &env))
        .await
        .expect("started");
    let client = job_server::client();
    let (status, output) = upsert(&client, &serve.base, "acme", "a@example.com").await;
    assert_eq!(status, 500, "{output}");
    assert_eq!(
        output["error"]["code"], "connections_unavailable",
        "{output}"
    );
    let (status, body) = create(&client, &serve.base, "acme").await;
    assert_eq!(status, 500, "{body}");
    stop(serve, &provider);
}
