//! The connections against the fake provider: flows, refresh (once, however many ask), bad
//! answers, revocation and re-encryption, on memory, SQLite (two instances on one file) and
//! PostgreSQL (two instances, two pools, one database).

use std::sync::Arc;

use workerflow_runtime::{
    AuthType, ClientAuth, ConnectionError, ConnectionName, ConnectionStore, MapSecrets, OAuthApp,
    SecretRequirement, SecretValue, ServiceSpec, TokenRequest, TraceId,
};
use workerflow_test_support::oauth_provider::{self, FakeProvider, Scripted};

use super::*;
use crate::store::JobStore;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
use crate::store::StoreLocation;

const KEY_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const KEY_B: &str = "HxweHRwbGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE=";

static APP: OAuthApp = OAuthApp {
    authorization_url: "https://provider.invalid/authorize",
    token_url: "https://provider.invalid/token",
    revocation_url: Some("https://provider.invalid/revoke"),
    scopes: &["crm.objects.contacts.write", "oauth"],
    scope_separator: " ",
    pkce: true,
    client_auth: ClientAuth::ClientSecretBasic,
    authorization_params: &[("optional_scope", "extra")],
    rotates_refresh_tokens: true,
    refresh_buffer_seconds: 300,
    client_id: SecretRequirement::new("Fake client id", &["FAKE_CLIENT_ID"]),
    client_secret: SecretRequirement::new("Fake client secret", &["FAKE_CLIENT_SECRET"]),
};

static SERVICE: ServiceSpec = ServiceSpec {
    id: "fake",
    name: "Fake",
    auth_type: AuthType::Oauth2,
    docs_url: None,
    oauth2: Some(&APP),
};

static OTHER: ServiceSpec = ServiceSpec {
    id: "other",
    name: "Other",
    auth_type: AuthType::Oauth2,
    docs_url: None,
    oauth2: Some(&APP),
};

fn secrets(provider: &FakeProvider) -> Arc<MapSecrets> {
    Arc::new(
        MapSecrets::new()
            .with("FAKE_CLIENT_ID", oauth_provider::CLIENT_ID)
            .with("FAKE_CLIENT_SECRET", oauth_provider::CLIENT_SECRET)
            .with(
                "WORKERFLOW_OAUTH_FAKE_AUTHORIZATION_URL",
                provider.authorization_url(),
            )
            .with("WORKERFLOW_OAUTH_FAKE_TOKEN_URL", provider.token_url())
            .with(
                "WORKERFLOW_OAUTH_FAKE_REVOCATION_URL",
                provider.revocation_url(),
            ),
    )
}

fn keys(list: &str) -> KeyRing {
    KeyRing::from_list(list).expect("valid keys")
}

async fn open(jobs: &JobStore, provider: &FakeProvider, key_list: &str) -> Connections {
    Connections::open(jobs, keys(key_list), secrets(provider), [&SERVICE, &OTHER])
        .await
        .expect("connections open")
}

const REDIRECT: &str = "http://127.0.0.1:9/oauth/callback";

/// The callback the provider's approval redirects to.
async fn approve(provider: &Arc<FakeProvider>, url: &str) -> Callback {
    let (provider, url) = (Arc::clone(provider), url.to_owned());
    let location = tokio::task::spawn_blocking(move || provider.approve(&url))
        .await
        .expect("approve");
    let query = location.split_once('?').map_or("", |(_, query)| query);
    let mut callback = Callback::default();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        let value = Some(value.into_owned());
        match &*name {
            "state" => callback.state = value,
            "code" => callback.code = value,
            "error" => callback.error = value,
            "error_description" => callback.error_description = value,
            _ => {}
        }
    }
    callback
}

async fn authorize(connections: &Connections, provider: &Arc<FakeProvider>, name: &str) {
    let name = ConnectionName::new(name).expect("name");
    let start = connections
        .start_flow(&name, "fake", REDIRECT)
        .await
        .expect("flow starts");
    let callback = approve(provider, &start.authorization_url).await;
    connections
        .finish_flow(callback)
        .await
        .expect("flow finishes");
}

async fn token(
    connections: &Connections,
    name: &str,
    rejected: Option<&SecretValue>,
) -> Result<SecretValue, ConnectionError> {
    let name = ConnectionName::new(name).expect("name");
    let trace = TraceId::generate();
    connections
        .access_token(TokenRequest {
            service: &SERVICE,
            connection: &name,
            route: "fake_route",
            trace_id: &trace,
            rejected,
        })
        .await
}

fn provider() -> Arc<FakeProvider> {
    workerflow_test_support::log_capture::init_logs();
    Arc::new(FakeProvider::start())
}

/// No token this provider issued, no code and not the client secret reached a log line.
fn assert_nothing_secret_logged(provider: &FakeProvider) {
    let logs = workerflow_test_support::log_capture::logs();
    assert!(
        logs.contains("workerflow::connections"),
        "the capture works"
    );
    let issued = provider
        .issued_access_tokens()
        .into_iter()
        .chain(provider.issued_refresh_tokens());
    for secret in issued.chain([oauth_provider::CLIENT_SECRET.to_owned()]) {
        assert!(!logs.contains(&secret), "a secret was logged");
    }
    for request in provider.token_requests() {
        for name in ["code", "code_verifier", "refresh_token"] {
            if let Some(value) = request.param(name) {
                assert!(!logs.contains(value), "{name} was logged");
            }
        }
    }
}

fn memory() -> JobStore {
    JobStore::memory(16)
}

async fn a_flow_creates_a_connection_whose_token_is_served_until_it_expires(jobs: &JobStore) {
    let provider = provider();
    let connections = open(jobs, &provider, &format!("k1:{KEY_A}")).await;
    let name = ConnectionName::new("acme").expect("name");
    let start = connections
        .start_flow(&name, "fake", REDIRECT)
        .await
        .expect("flow starts");
    let url = &start.authorization_url;
    for part in [
        "response_type=code",
        "client_id=workerflow-fake-client",
        "scope=crm.objects.contacts.write+oauth",
        "code_challenge_method=S256",
        "optional_scope=extra",
    ] {
        assert!(url.contains(part), "{url} lacks {part}");
    }
    assert!(!format!("{start:?}").contains("state"), "{start:?}");
    let callback = approve(&provider, url).await;
    let info = connections.finish_flow(callback).await.expect("finishes");
    assert_eq!(
        (info.name.as_str(), info.state.as_str()),
        ("acme", "active")
    );
    assert_eq!(provider.pkce_exchanges(), 1);
    let first = token(&connections, "acme", None).await.expect("a token");
    assert!(provider.access_token_live(first.expose()));
    assert_eq!(provider.refresh_requests(), 0);
    // Listings never show a token.
    let listed = connections.list().await.expect("list");
    let shown = serde_json::to_string(&listed[0].to_json()).expect("json");
    for issued in provider
        .issued_access_tokens()
        .iter()
        .chain(&provider.issued_refresh_tokens())
    {
        assert!(!shown.contains(issued.as_str()), "{shown}");
        assert!(!format!("{connections:?}{listed:?}").contains(issued.as_str()));
    }
    assert!(shown.contains("\"expiresAt\":\"20"), "{shown}");
    // The provider refused it: one refresh, the old refresh token is dead after rotation.
    let second = token(&connections, "acme", Some(&first))
        .await
        .expect("refreshed");
    assert_ne!(first.expose(), second.expose());
    assert_eq!(provider.refresh_requests(), 1);
    // A rejected token that is no longer the stored one: no refresh.
    let third = token(&connections, "acme", Some(&first))
        .await
        .expect("stored");
    assert_eq!(third.expose(), second.expose());
    assert_eq!(provider.refresh_requests(), 1);
    // Another service's route may not use it.
    let trace = TraceId::generate();
    let other = connections
        .access_token(TokenRequest {
            service: &OTHER,
            connection: &name,
            route: "other_route",
            trace_id: &trace,
            rejected: None,
        })
        .await;
    assert!(
        matches!(other, Err(ConnectionError::WrongService { .. })),
        "{other:?}"
    );
    let unknown = token(&connections, "nobody", None).await;
    assert!(
        matches!(unknown, Err(ConnectionError::Unknown { .. })),
        "{unknown:?}"
    );
    assert_nothing_secret_logged(&provider);
}

async fn states_are_single_use_bound_and_failures_leave_the_connection_as_it_was(jobs: &JobStore) {
    let provider = provider();
    let connections = open(jobs, &provider, &format!("k1:{KEY_A}")).await;
    authorize(&connections, &provider, "acme").await;
    let before = connections.get("acme").await.expect("get").expect("exists");
    // A forged state.
    let forged = connections
        .finish_flow(Callback {
            state: Some("forged".into()),
            code: Some("code".into()),
            ..Callback::default()
        })
        .await;
    assert!(
        matches!(forged, Err(CallbackError::UnknownState)),
        "{forged:?}"
    );
    // A reused state.
    let name = ConnectionName::new("acme").expect("name");
    let start = connections
        .start_flow(&name, "fake", REDIRECT)
        .await
        .expect("starts");
    let callback = approve(&provider, &start.authorization_url).await;
    let state = callback.state.clone();
    connections.finish_flow(callback).await.expect("finishes");
    let reused = connections
        .finish_flow(Callback {
            state,
            code: Some("x".into()),
            ..Callback::default()
        })
        .await;
    assert!(
        matches!(reused, Err(CallbackError::UnknownState)),
        "{reused:?}"
    );
    // No code; a denial; a failed exchange: the connection is unchanged.
    let current = connections.get("acme").await.expect("get").expect("exists");
    let start = connections
        .start_flow(&name, "fake", REDIRECT)
        .await
        .expect("starts");
    let mut callback = approve(&provider, &start.authorization_url).await;
    callback.code = None;
    let missing = connections.finish_flow(callback).await;
    assert!(
        matches!(missing, Err(CallbackError::MissingCode { .. })),
        "{missing:?}"
    );
    provider.deny_authorizations(true);
    let start = connections
        .start_flow(&name, "fake", REDIRECT)
        .await
        .expect("starts");
    let callback = approve(&provider, &start.authorization_url).await;
    let denied = connections.finish_flow(callback).await;
    assert!(
        matches!(&denied, Err(CallbackError::Denied { error, .. }) if error == "access_denied"),
        "{denied:?}"
    );
    provider.deny_authorizations(false);
    let start = connections
        .start_flow(&name, "fake", REDIRECT)
        .await
        .expect("starts");
    let callback = approve(&provider, &start.authorization_url).await;
    provider.respond_next_token_request_with(Scripted::HtmlError);
    let failed = connections.finish_flow(callback).await;
    assert!(
        matches!(failed, Err(CallbackError::Exchange { .. })),
        "{failed:?}"
    );
    assert_eq!(
        connections.get("acme").await.expect("get"),
        Some(current.clone())
    );
    assert_ne!(before.updated_at, 0);
    // An unknown service, unset credentials.
    let unknown = connections.start_flow(&name, "nope", REDIRECT).await;
    assert!(
        matches!(unknown, Err(ManageError::UnknownService { .. })),
        "{unknown:?}"
    );
    let bare = Connections::open(
        jobs,
        keys(&format!("k1:{KEY_A}")),
        Arc::new(MapSecrets::new()),
        [&SERVICE],
    )
    .await
    .expect("opens");
    let config = bare
        .start_flow(&name, "fake", REDIRECT)
        .await
        .expect_err("no client");
    assert!(config.to_string().contains("FAKE_CLIENT_ID"), "{config}");
    assert_nothing_secret_logged(&provider);
}

async fn bad_answers_fail_the_refresh_without_a_token_and_invalid_grant_needs_reauth(
    jobs: &JobStore,
) {
    let provider = provider();
    let connections = open(jobs, &provider, &format!("k1:{KEY_A}")).await;
    provider.set_expires_in(0);
    authorize(&connections, &provider, "acme").await;
    let before = connections.get("acme").await.expect("get");
    let answers = [
        (Scripted::NonJson, "not a JSON object"),
        (Scripted::MissingAccessToken, "without an access_token"),
        (
            Scripted::Redirect("https://elsewhere.invalid/".into()),
            "redirect (302), which is not followed",
        ),
        (Scripted::HtmlError, "answered 500"),
        (Scripted::HugeBody(200 * 1024), "more than 64 KiB"),
        (
            Scripted::Raw {
                status: 200,
                content_type: "application/json".into(),
                body: r#"{"access_token":"at-odd","expires_in":"soon"}"#.into(),
            },
            "expires_in",
        ),
    ];
    for (answer, expected) in answers {
        provider.respond_next_token_request_with(answer.clone());
        let error = token(&connections, "acme", None).await.expect_err("fails");
        let shown = format!("{error} {error:?}");
        assert!(
            matches!(error, ConnectionError::Refresh { .. }) && shown.contains(expected),
            "{answer:?}: {shown}"
        );
        for issued in provider.issued_refresh_tokens() {
            assert!(!shown.contains(&issued), "{shown}");
        }
        assert!(
            !shown.contains("at-odd") && !shown.contains("at-huge"),
            "{shown}"
        );
        assert_eq!(
            connections.get("acme").await.expect("get"),
            before,
            "{answer:?}"
        );
    }
    // A string expires_in is a number of seconds.
    provider.respond_next_token_request_with(Scripted::Raw {
        status: 200,
        content_type: "application/json".into(),
        body: r#"{"access_token":"at-string","expires_in":"3600"}"#.into(),
    });
    let odd = token(&connections, "acme", None).await.expect("refreshed");
    assert_eq!(odd.expose(), "at-string");
    let info = connections.get("acme").await.expect("get").expect("exists");
    assert!(info.expires_at.is_some_and(|at| at > now_secs() + 3000));
    // invalid_grant: needs_reauth, committed; no more requests after it.
    provider.respond_next_token_request_with(Scripted::InvalidGrant);
    let error = token(&connections, "acme", Some(&odd))
        .await
        .expect_err("dead grant");
    assert!(
        matches!(error, ConnectionError::NeedsReauth { .. }),
        "{error:?}"
    );
    let requests = provider.refresh_requests();
    let again = token(&connections, "acme", None)
        .await
        .expect_err("still dead");
    assert!(
        matches!(again, ConnectionError::NeedsReauth { .. }),
        "{again:?}"
    );
    assert_eq!(provider.refresh_requests(), requests);
    let info = connections.get("acme").await.expect("get").expect("exists");
    assert_eq!(info.state, "needs_reauth");
    // Authorizing again makes it active.
    provider.set_expires_in(3600);
    authorize(&connections, &provider, "acme").await;
    assert!(token(&connections, "acme", None).await.is_ok());
    assert_nothing_secret_logged(&provider);
}

async fn delete_revokes_and_wipes_and_reencrypt_moves_rows_to_the_first_key(jobs: &JobStore) {
    let provider = provider();
    let connections = open(jobs, &provider, &format!("k1:{KEY_A}")).await;
    authorize(&connections, &provider, "acme").await;
    authorize(&connections, &provider, "beta").await;
    let refresh_tokens = provider.issued_refresh_tokens();
    // Rotation: k2 first, k1 still decrypts.
    let connections = connections.with_keys(keys(&format!("k2:{KEY_B},k1:{KEY_A}")));
    assert_eq!(connections.reencrypt().await.expect("reencrypts"), 2);
    for info in connections.list().await.expect("list") {
        assert_eq!(info.key_id, "k2");
    }
    let only_new = connections.with_keys(keys(&format!("k2:{KEY_B}")));
    assert!(token(&only_new, "acme", None).await.is_ok());
    // Delete: revoked at the provider, tokens wiped, calls refused.
    let (info, revoked) = only_new.delete("acme").await.expect("deletes");
    assert!(revoked);
    assert_eq!(info.state, "revoked");
    let revokes = provider.revoke_requests();
    assert_eq!(revokes.len(), 1);
    assert!(refresh_tokens.contains(&revokes[0].token));
    let error = token(&only_new, "acme", None).await.expect_err("revoked");
    assert!(
        matches!(error, ConnectionError::Revoked { .. }),
        "{error:?}"
    );
    let missing = only_new.delete("nobody").await;
    assert!(
        matches!(missing, Err(ManageError::UnknownConnection { .. })),
        "{missing:?}"
    );
    // Without the key a row was written with, the error names the key, not a token.
    let foreign = only_new.with_keys(keys(&format!("k9:{KEY_A}")));
    let error = token(&foreign, "beta", None)
        .await
        .expect_err("unknown key");
    assert!(error.to_string().contains("\"k2\""), "{error}");
    assert_nothing_secret_logged(&provider);
}

/// Every check on one kind of store, each on a fresh store.
async fn conformance<F, Fut>(fresh: F)
where
    F: Fn(&'static str) -> Fut,
    Fut: std::future::Future<Output = JobStore>,
{
    a_flow_creates_a_connection_whose_token_is_served_until_it_expires(&fresh("flow").await).await;
    states_are_single_use_bound_and_failures_leave_the_connection_as_it_was(&fresh("states").await)
        .await;
    bad_answers_fail_the_refresh_without_a_token_and_invalid_grant_needs_reauth(
        &fresh("answers").await,
    )
    .await;
    delete_revokes_and_wipes_and_reencrypt_moves_rows_to_the_first_key(&fresh("delete").await)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_store_passes_the_connection_checks() {
    conformance(|_| async { memory() }).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_store_passes_the_connection_checks() {
    let root = workerflow_test_support::scratch_dir("conns-checks");
    let base = root.clone();
    conformance(move |name| {
        let dir = base.join(name);
        async move {
            JobStore::open(&StoreLocation::Sqlite(dir), 16)
                .await
                .expect("store")
        }
    })
    .await;
    let _ = std::fs::remove_dir_all(root);
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_store_passes_the_connection_checks() {
    let Some(cluster) = workerflow_test_support::pg_cluster::Cluster::start("conns-checks") else {
        return;
    };
    let cluster = Arc::new(cluster);
    conformance(|name| {
        let cluster = Arc::clone(&cluster);
        async move {
            cluster.create_database(name).await;
            let url: crate::store::PgUrl = cluster.url(name).parse().expect("url");
            JobStore::open(&StoreLocation::Postgres(url), 16)
                .await
                .expect("store")
        }
    })
    .await;
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
/// `count` concurrent calls spread over `instances`, against an expired token: one refresh.
async fn one_refresh_for_many(
    instances: &[Connections],
    provider: &Arc<FakeProvider>,
    count: usize,
) {
    provider.set_expires_in(0);
    authorize(&instances[0], provider, "acme").await;
    provider.set_expires_in(3600);
    provider.token_delay(Duration::from_millis(300));
    let before = provider.refresh_requests();
    let mut calls = tokio::task::JoinSet::new();
    for index in 0..count {
        let connections = instances[index % instances.len()].clone();
        calls.spawn(async move { token(&connections, "acme", None).await });
    }
    let mut tokens = Vec::new();
    while let Some(result) = calls.join_next().await {
        tokens.push(
            result
                .expect("joined")
                .expect("a token")
                .expose()
                .to_owned(),
        );
    }
    assert_eq!(
        provider.refresh_requests() - before,
        1,
        "one refresh for {count} calls"
    );
    tokens.dedup();
    assert_eq!(tokens.len(), 1, "every call got the refreshed token");
    assert!(provider.access_token_live(&tokens[0]));
    provider.token_delay(Duration::ZERO);
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sqlite_instances_on_one_file_refresh_once_and_wait_for_each_other() {
    let provider = provider();
    let dir = workerflow_test_support::scratch_dir("conns-sqlite");
    let location = StoreLocation::Sqlite(dir.clone());
    let first_jobs = JobStore::open(&location, 16).await.expect("store");
    let second_jobs = JobStore::open(&location, 16).await.expect("store");
    let key = format!("k1:{KEY_A}");
    let first = open(&first_jobs, &provider, &key).await;
    let second = open(&second_jobs, &provider, &key).await;
    one_refresh_for_many(&[first.clone(), second.clone()], &provider, 20).await;
    // The rows are in the connection file beside the jobs' (and its WAL), tokens encrypted.
    let file = dir.join(super::sqlite::FILE_NAME);
    assert!(file.is_file(), "{}", file.display());
    let mut raw = std::fs::read(&file).expect("the file");
    raw.extend(
        std::fs::read(dir.join(format!("{}-wal", super::sqlite::FILE_NAME))).unwrap_or_default(),
    );
    for issued in provider
        .issued_access_tokens()
        .into_iter()
        .chain(provider.issued_refresh_tokens())
    {
        assert!(!raw.windows(issued.len()).any(|w| w == issued.as_bytes()));
    }
    // A holder that keeps the lock past the wait: the other instance gets LockTimeout.
    let impatient = open(&second_jobs, &provider, &key)
        .await
        .with_lock_wait(Duration::from_millis(200));
    let current = token(&first, "acme", None).await.expect("a token");
    provider.token_delay(Duration::from_millis(1500));
    let refreshes = provider.refresh_requests();
    let slow = {
        let first = first.clone();
        let current = current.clone();
        tokio::spawn(async move { token(&first, "acme", Some(&current)).await })
    };
    refresh_in_flight(&provider, refreshes).await;
    let busy = token(&impatient, "acme", Some(&current)).await;
    assert!(
        matches!(busy, Err(ConnectionError::LockTimeout { .. })),
        "{busy:?}"
    );
    assert!(slow.await.expect("joined").is_ok());
    provider.token_delay(Duration::ZERO);
    // An expired flow.
    let name = ConnectionName::new("late").expect("name");
    let start = first
        .start_flow(&name, "fake", REDIRECT)
        .await
        .expect("starts");
    let callback = approve(&provider, &start.authorization_url).await;
    let db = rusqlite::Connection::open(&file).expect("opens");
    db.execute("UPDATE connection_flows SET expires_at = 0", [])
        .expect("ages");
    let late = first.finish_flow(callback).await;
    assert!(
        matches!(late, Err(CallbackError::Expired { .. })),
        "{late:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
    assert_nothing_secret_logged(&provider);
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_postgres_instances_refresh_once_for_fifty_calls() {
    let Some(cluster) = workerflow_test_support::pg_cluster::Cluster::start("conns") else {
        return;
    };
    let provider = provider();
    let url: crate::store::PgUrl = cluster.url("postgres").parse().expect("url");
    let location = StoreLocation::Postgres(url);
    let first_jobs = JobStore::open(&location, 16).await.expect("store");
    let second_jobs = JobStore::open(&location, 16).await.expect("store");
    let key = format!("k1:{KEY_A}");
    let first = open(&first_jobs, &provider, &key).await;
    let second = open(&second_jobs, &provider, &key).await;
    one_refresh_for_many(&[first.clone(), second.clone()], &provider, 50).await;
    // Rotated refresh tokens: a second round still refreshes once (the stored one is live).
    provider.expire_all_access_tokens();
    let stale = token(&first, "acme", None).await.expect("a token");
    let mut calls = tokio::task::JoinSet::new();
    for index in 0..10 {
        let connections = if index % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        let stale = stale.clone();
        calls.spawn(async move { token(&connections, "acme", Some(&stale)).await });
    }
    let before = provider.refresh_requests();
    while let Some(result) = calls.join_next().await {
        assert!(result.expect("joined").is_ok());
    }
    assert!(provider.refresh_requests() - before <= 1);
    assert_eq!(provider.invalid_grants(), 0);
    // A held row times the other instance out.
    let impatient = open(&second_jobs, &provider, &key)
        .await
        .with_lock_wait(Duration::from_millis(200));
    let current = token(&first, "acme", None).await.expect("a token");
    provider.token_delay(Duration::from_millis(1500));
    let refreshes = provider.refresh_requests();
    let slow = {
        let first = first.clone();
        tokio::spawn(async move { token(&first, "acme", Some(&current)).await })
    };
    refresh_in_flight(&provider, refreshes).await;
    let current = token(&second, "acme", None)
        .await
        .expect("read without the lock");
    let busy = token(&impatient, "acme", Some(&current)).await;
    assert!(
        matches!(busy, Err(ConnectionError::LockTimeout { .. })),
        "{busy:?}"
    );
    assert!(slow.await.expect("joined").is_ok());
    let rows = cluster
        .query_texts("postgres", "SELECT name FROM workerflow_connections")
        .await;
    assert_eq!(rows, vec!["acme".to_owned()]);
    assert_nothing_secret_logged(&provider);
}

/// Waits until a refresh request has reached the provider: its sender holds the row's lock from
/// before it sends until it writes (a fixed sleep would race a loaded machine).
async fn refresh_in_flight(provider: &FakeProvider, before: usize) {
    let started = std::time::Instant::now();
    while provider.refresh_requests() == before {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no refresh reached the provider"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// One HTTP/1.1 request to the server under test: status, headers (lower-cased) and body.
async fn http(
    address: std::net::SocketAddr,
    method: &str,
    target: &str,
    bearer: Option<&str>,
    body: Option<&str>,
) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connects");
    let mut head =
        format!("{method} {target} HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\n");
    if let Some(token) = bearer {
        head.push_str(&format!("authorization: Bearer {token}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() {
        head.push_str(&format!(
            "content-type: application/json\r\ncontent-length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    head.push_str(body);
    stream.write_all(head.as_bytes()).await.expect("sends");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("reads");
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_owned())
}

const API_TOKEN: &str = "test-api-token-0123456789";

async fn start_server(
    connections: Option<Connections>,
) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = crate::ServeConfig {
        token: Some(SecretValue::new(API_TOKEN)),
        connections,
        ..crate::ServeConfig::default()
    };
    let api = crate::Api {
        routes: workerflow_runtime::RouteTable::linked(&[]).expect("no routes"),
        openapi_json: "{}",
    };
    tokio::spawn(crate::serve(
        listener,
        api,
        Arc::new(MapSecrets::new()),
        config,
        async move {
            let _ = stopped.await;
        },
    ));
    (address, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_surface_creates_lists_shows_calls_back_and_deletes() {
    let provider = provider();
    let jobs = memory();
    let connections = open(&jobs, &provider, &format!("k1:{KEY_A}")).await;
    let (address, _stop) = start_server(Some(connections)).await;
    let bearer = Some(API_TOKEN);
    let create = r#"{"name":"acme","service":"fake"}"#;
    let (status, _, _) = http(address, "POST", "/api/connections", None, Some(create)).await;
    assert_eq!(status, 401);
    let (status, _, body) = http(address, "POST", "/api/connections", bearer, Some(create)).await;
    assert_eq!(status, 201, "{body}");
    let created: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(created["ok"], true);
    assert_eq!(created["connection"], "acme");
    assert_eq!(created["service"], "fake");
    assert!(
        created["expiresAt"]
            .as_str()
            .is_some_and(|at| at.ends_with('Z'))
    );
    let url = created["authorizationUrl"]
        .as_str()
        .expect("url")
        .to_owned();
    let redirect: String =
        form_urlencoded::byte_serialize(format!("http://{address}/oauth/callback").as_bytes())
            .collect();
    assert!(url.contains(&format!("redirect_uri={redirect}")), "{url}");
    for (body, status, code) in [
        (
            r#"{"name":"a b","service":"fake"}"#,
            400,
            "invalid_connection_name",
        ),
        (r#"{"service":"fake"}"#, 400, "invalid_connection_name"),
        (
            r#"{"name":"acme","service":"nope"}"#,
            404,
            "unknown_service",
        ),
        ("{", 400, "malformed_json"),
    ] {
        let (got, _, answer) = http(address, "POST", "/api/connections", bearer, Some(body)).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert!(answer.contains(code), "{answer}");
    }
    // The provider sends the person back to our callback (no bearer).
    let provider_for_approve = Arc::clone(&provider);
    let location = tokio::task::spawn_blocking(move || provider_for_approve.approve(&url))
        .await
        .expect("approves");
    let target = location
        .split_once(&address.to_string())
        .map(|(_, target)| target.to_owned())
        .expect("the callback is on this server");
    let (status, head, page) = http(address, "GET", &target, None, None).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Connection acme is ready"), "{page}");
    for header in [
        "content-type: text/html",
        "x-content-type-options: nosniff",
        "referrer-policy: no-referrer",
        "cache-control: no-store",
        "content-security-policy: default-src 'none'",
    ] {
        assert!(head.contains(header), "{head}");
    }
    // Used once.
    let (status, head, page) = http(address, "GET", &target, None, None).await;
    assert_eq!(status, 400);
    assert!(
        head.contains("text/html") && page.contains("already used"),
        "{page}"
    );
    // A denial is shown escaped.
    let (status, _, page) = http(
        address,
        "GET",
        "/oauth/callback?error=access_denied&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E&state=x",
        None,
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert!(!page.contains("<script>"), "{page}");
    assert!(
        page.contains("access_denied") && page.contains("&lt;script&gt;alert(1)"),
        "{page}"
    );
    // Listing and showing: never a token.
    let (status, _, listed) = http(address, "GET", "/api/connections", bearer, None).await;
    assert_eq!(status, 200);
    let listed: Value = serde_json::from_str(&listed).expect("json");
    assert_eq!(listed["connections"][0]["name"], "acme");
    assert_eq!(listed["connections"][0]["state"], "active");
    let keys: Vec<&str> = listed["connections"][0]
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "name",
            "service",
            "state",
            "scopes",
            "expiresAt",
            "createdAt",
            "updatedAt",
            "refreshedAt"
        ]
    );
    let (status, _, shown) = http(address, "GET", "/api/connections/acme", bearer, None).await;
    assert_eq!(status, 200);
    let (status, _, missing) = http(address, "GET", "/api/connections/nobody", bearer, None).await;
    assert_eq!(status, 404);
    assert!(missing.contains("unknown_connection"), "{missing}");
    let (_, _, health) = http(address, "GET", "/health/config", bearer, None).await;
    for issued in provider
        .issued_access_tokens()
        .iter()
        .chain(&provider.issued_refresh_tokens())
    {
        for text in [&shown, &health, &listed.to_string()] {
            assert!(!text.contains(issued.as_str()), "{text}");
        }
    }
    // Deleting revokes at the provider and wipes the tokens.
    let (status, _, deleted) = http(address, "DELETE", "/api/connections/acme", bearer, None).await;
    assert_eq!(status, 200, "{deleted}");
    let deleted: Value = serde_json::from_str(&deleted).expect("json");
    assert_eq!(deleted["revokedAtProvider"], true);
    assert_eq!(deleted["connection"]["state"], "revoked");
    assert_eq!(provider.revoke_requests().len(), 1);
    assert_nothing_secret_logged(&provider);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_keys_the_endpoints_say_connections_are_unavailable() {
    let (address, _stop) = start_server(None).await;
    let create = r#"{"name":"acme","service":"fake"}"#;
    let (status, _, body) = http(
        address,
        "POST",
        "/api/connections",
        Some(API_TOKEN),
        Some(create),
    )
    .await;
    assert_eq!(status, 500);
    assert!(body.contains("connections_unavailable"), "{body}");
    let (status, head, _) =
        http(address, "GET", "/oauth/callback?state=x&code=y", None, None).await;
    assert_eq!(status, 500);
    assert!(head.contains("text/html"), "{head}");
}
