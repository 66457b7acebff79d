//! A fake OAuth 2.0 provider and a fake HubSpot CRM API on one loopback HTTP/1.1 server, for the
//! end-to-end tests of OAuth connections.
//!
//! [`FakeProvider::start`] serves on `127.0.0.1:0` from a multi-thread tokio runtime of its own,
//! so blocking tests and async tests both use it; dropping it stops the server. The provider
//! approves every authorization request at once (or denies them all), checks codes (single use),
//! redirect URIs and PKCE (S256), rotates refresh tokens (an old one answers `invalid_grant`),
//! revokes tokens (RFC 7009), and the HubSpot API under [`FakeProvider::api_base_url`] accepts
//! only live access tokens. Everything it receives and issues is recorded for the test to read;
//! the knobs (token lifetime, delay, clock skew, scripted bad answers) may be set while it runs.

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The one registered client's id.
pub const CLIENT_ID: &str = "workerflow-fake-client";

/// The one registered client's secret. It holds characters that form-urlencoding changes (a
/// space, `+`, `/`, `:`, `=`), so a client that sends HTTP Basic credentials without RFC 6749
/// 2.3.1's encoding is refused, as a strict provider would.
pub const CLIENT_SECRET: &str = "fake secret+/:=42";

/// The access tokens' lifetime (`expires_in`, seconds) until [`FakeProvider::set_expires_in`].
pub const DEFAULT_EXPIRES_IN: u64 = 1800;

/// The size of the body [`Scripted::HugeBody`] is meant for: 10 MiB.
pub const HUGE_BODY_BYTES: usize = 10 * 1024 * 1024;

/// How long an authorization code may wait for its exchange.
const CODE_LIFETIME: Duration = Duration::from_secs(600);

/// A canned answer to the next token request, instead of processing it (the request is still
/// recorded and counted; nothing is issued or rotated).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scripted {
    /// 200 with `Content-Type: application/json` and a body that is not JSON.
    NonJson,
    /// 200 JSON with `token_type` and `expires_in` but no `access_token`.
    MissingAccessToken,
    /// 200 JSON of about this many bytes (a `padding` string first, then an `access_token`
    /// starting `at-huge-` that the API never accepts); [`HUGE_BODY_BYTES`] is the usual size.
    HugeBody(usize),
    /// 302 with `Location` set to this URL.
    Redirect(String),
    /// 500 with an HTML error page.
    HtmlError,
    /// 400 `{"error":"invalid_grant"}`, counted in [`FakeProvider::invalid_grants`].
    InvalidGrant,
    /// Any other answer.
    Raw {
        /// The status code.
        status: u16,
        /// The `Content-Type` header.
        content_type: String,
        /// The body.
        body: String,
    },
}

/// How a token or revocation request authenticated the client (RFC 6749 2.3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuthMethod {
    /// `Authorization: Basic` with the form-urlencoded id and secret (`client_secret_basic`).
    Basic,
    /// `client_id` and `client_secret` in the form body (`client_secret_post`).
    Post,
}

/// One `GET /oauth/authorize` as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizationRequest {
    /// Every query parameter, decoded, in order.
    pub params: Vec<(String, String)>,
}

impl AuthorizationRequest {
    /// The first value of a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        param(&self.params, name)
    }

    /// The requested `scope`.
    pub fn scope(&self) -> Option<&str> {
        self.param("scope")
    }

    /// The `state`.
    pub fn state(&self) -> Option<&str> {
        self.param("state")
    }

    /// The PKCE `code_challenge`.
    pub fn code_challenge(&self) -> Option<&str> {
        self.param("code_challenge")
    }

    /// The `redirect_uri`.
    pub fn redirect_uri(&self) -> Option<&str> {
        self.param("redirect_uri")
    }
}

/// One `POST /oauth/token` as received (before any delay or scripted answer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRequest {
    /// The form parameters, decoded, in order.
    pub params: Vec<(String, String)>,
    /// How the client authenticated, `None` when it did not or got it wrong.
    pub client_auth: Option<ClientAuthMethod>,
}

impl TokenRequest {
    /// The first value of a form parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        param(&self.params, name)
    }

    /// The `grant_type`.
    pub fn grant_type(&self) -> Option<&str> {
        self.param("grant_type")
    }
}

/// One `POST /oauth/revoke` as received (RFC 7009).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokeRequest {
    /// The `token` (empty when missing).
    pub token: String,
    /// The `token_type_hint`.
    pub token_type_hint: Option<String>,
    /// How the client authenticated, `None` when it did not or got it wrong.
    pub client_auth: Option<ClientAuthMethod>,
}

/// One call to the fake HubSpot API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiCall {
    /// The HTTP method.
    pub method: String,
    /// The path and query, e.g. `/hubspot/crm/v3/objects/contacts/search`.
    pub path: String,
    /// The bearer token sent, if any.
    pub bearer: Option<String>,
    /// Whether the token was live (otherwise the answer was 401).
    pub accepted: bool,
    /// The request body, lossily decoded.
    pub body: String,
}

/// The fake provider and API; the server stops when this is dropped.
pub struct FakeProvider {
    base_url: String,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for FakeProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeProvider")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl FakeProvider {
    /// Binds `127.0.0.1:0` and serves from a new multi-thread runtime (two worker threads).
    /// Panics when no loopback port or runtime can be had, which fails the test that asked.
    pub fn start() -> FakeProvider {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("a loopback port for the fake OAuth provider");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener for tokio");
        let address = listener.local_addr().expect("the listener's address");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fake-oauth-provider")
            .enable_all()
            .build()
            .expect("a tokio runtime for the fake OAuth provider");
        let shared = Arc::new(Shared::default());
        let app = router(Arc::clone(&shared));
        runtime.spawn(async move {
            // `from_std` needs the runtime's reactor, so it runs inside the task; the bind
            // itself already succeeded above.
            if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
                let _ = axum::serve(listener, app).await;
            }
        });
        FakeProvider {
            base_url: format!("http://{address}"),
            shared,
            runtime: Some(runtime),
        }
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The authorization endpoint, `<base>/oauth/authorize`.
    pub fn authorization_url(&self) -> String {
        format!("{}/oauth/authorize", self.base_url)
    }

    /// The token endpoint, `<base>/oauth/token`.
    pub fn token_url(&self) -> String {
        format!("{}/oauth/token", self.base_url)
    }

    /// The revocation endpoint (RFC 7009), `<base>/oauth/revoke`.
    pub fn revocation_url(&self) -> String {
        format!("{}/oauth/revoke", self.base_url)
    }

    /// The fake HubSpot API's root, `<base>/hubspot` (routes under `/crm/v3/objects/…`).
    pub fn api_base_url(&self) -> String {
        format!("{}/hubspot", self.base_url)
    }

    /// GETs an authorization URL (this provider's, with the query a client built) without
    /// following the redirect and returns the `Location`: the client's `redirect_uri` with `code`
    /// and `state`, or `error` and `state`. Blocking; panics unless the answer is a 302.
    pub fn approve(&self, authorization_url: &str) -> String {
        let response = http_request("GET", authorization_url, &[], b"")
            .expect("the fake provider answers the authorization request");
        assert_eq!(
            response.status,
            302,
            "the authorization request was refused: {}",
            response.text()
        );
        response
            .header("location")
            .expect("a 302 from the authorization endpoint has a Location")
            .to_owned()
    }

    /// Sets `expires_in` (seconds) for the access tokens issued from now on; 0 issues tokens the
    /// API already refuses.
    pub fn set_expires_in(&self, seconds: u64) {
        self.shared.expires_in.store(seconds, Ordering::SeqCst);
    }

    /// Sleeps this long before processing each token request (after reading it): a client that
    /// disconnects meanwhile drops the handler, so nothing is issued or rotated.
    pub fn token_delay(&self, delay: Duration) {
        let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.shared.token_delay_ms.store(millis, Ordering::SeqCst);
    }

    /// Moves every answer's `Date` header this far into the future (the provider's own clock,
    /// which decides expiry, is not moved).
    pub fn clock_skew(&self, ahead: Duration) {
        let seconds = i64::try_from(ahead.as_secs()).unwrap_or(i64::MAX);
        self.shared.clock_skew_secs.store(seconds, Ordering::SeqCst);
    }

    /// Moves every answer's `Date` header this far into the past.
    pub fn clock_skew_behind(&self, behind: Duration) {
        let seconds = i64::try_from(behind.as_secs()).unwrap_or(i64::MAX);
        self.shared
            .clock_skew_secs
            .store(-seconds, Ordering::SeqCst);
    }

    /// With `true`, the authorization endpoint redirects with `error=access_denied&state=…`.
    pub fn deny_authorizations(&self, deny: bool) {
        self.shared.deny.store(deny, Ordering::SeqCst);
    }

    /// With `false`, a refresh issues only a new access token and the refresh token stays valid
    /// (as HubSpot does); the default `true` rotates it and refuses the old one.
    pub fn rotate_refresh_tokens(&self, rotate: bool) {
        self.shared.rotate.store(rotate, Ordering::SeqCst);
    }

    /// Queues a canned answer: each token request takes the oldest queued one, if any.
    pub fn respond_next_token_request_with(&self, answer: Scripted) {
        self.shared.lock().scripted.push_back(answer);
    }

    /// Makes every access token issued so far invalid at the API (the provider's answer to a
    /// token the client still thinks valid); tokens issued later are live.
    pub fn expire_all_access_tokens(&self) {
        for token in self.shared.lock().access.values_mut() {
            token.expired = true;
        }
    }

    /// Whether the API would accept this access token now.
    pub fn access_token_live(&self, token: &str) -> bool {
        self.shared.lock().access_live(token)
    }

    /// Whether a refresh with this refresh token would succeed now.
    pub fn refresh_token_live(&self, token: &str) -> bool {
        self.shared
            .lock()
            .refresh
            .get(token)
            .is_some_and(|refresh| refresh.live)
    }

    /// `grant_type=refresh_token` requests received (counted on arrival, before any delay).
    pub fn refresh_requests(&self) -> usize {
        self.shared.refresh_requests.load(Ordering::SeqCst)
    }

    /// `grant_type=authorization_code` requests received (counted on arrival).
    pub fn code_exchanges(&self) -> usize {
        self.shared.code_exchanges.load(Ordering::SeqCst)
    }

    /// Code exchanges that succeeded with a PKCE `code_verifier` checked.
    pub fn pkce_exchanges(&self) -> usize {
        self.shared.pkce_exchanges.load(Ordering::SeqCst)
    }

    /// `invalid_grant` answers given: a reused, rotated, revoked or unknown refresh token, a bad
    /// code, redirect URI or verifier, and [`Scripted::InvalidGrant`].
    pub fn invalid_grants(&self) -> usize {
        self.shared.invalid_grants.load(Ordering::SeqCst)
    }

    /// Every access token ever issued, oldest first.
    pub fn issued_access_tokens(&self) -> Vec<String> {
        self.shared.lock().issued_access.clone()
    }

    /// Every refresh token ever issued, oldest first.
    pub fn issued_refresh_tokens(&self) -> Vec<String> {
        self.shared.lock().issued_refresh.clone()
    }

    /// Every authorization request received, oldest first.
    pub fn authorization_requests(&self) -> Vec<AuthorizationRequest> {
        self.shared.lock().authorizations.clone()
    }

    /// Every token request received, oldest first.
    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.shared.lock().token_requests.clone()
    }

    /// Every revocation request received, oldest first.
    pub fn revoke_requests(&self) -> Vec<RevokeRequest> {
        self.shared.lock().revocations.clone()
    }

    /// Calls to the fake HubSpot API, accepted or not.
    pub fn api_calls(&self) -> usize {
        self.shared.lock().api_calls.len()
    }

    /// Every call to the fake HubSpot API, oldest first.
    pub fn api_call_log(&self) -> Vec<ApiCall> {
        self.shared.lock().api_calls.clone()
    }

    /// The bearer tokens the API saw, one per call that sent one, oldest first.
    pub fn api_bearer_tokens(&self) -> Vec<String> {
        let inner = self.shared.lock();
        inner
            .api_calls
            .iter()
            .filter_map(|call| call.bearer.clone())
            .collect()
    }
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        // `shutdown_background` is the one way to drop a runtime from inside an async test.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

struct Shared {
    inner: Mutex<Inner>,
    expires_in: AtomicU64,
    token_delay_ms: AtomicU64,
    clock_skew_secs: AtomicI64,
    deny: AtomicBool,
    rotate: AtomicBool,
    refresh_requests: AtomicUsize,
    code_exchanges: AtomicUsize,
    pkce_exchanges: AtomicUsize,
    invalid_grants: AtomicUsize,
}

impl Default for Shared {
    fn default() -> Self {
        Shared {
            inner: Mutex::default(),
            expires_in: AtomicU64::new(DEFAULT_EXPIRES_IN),
            token_delay_ms: AtomicU64::new(0),
            clock_skew_secs: AtomicI64::new(0),
            deny: AtomicBool::new(false),
            rotate: AtomicBool::new(true),
            refresh_requests: AtomicUsize::new(0),
            code_exchanges: AtomicUsize::new(0),
            pkce_exchanges: AtomicUsize::new(0),
            invalid_grants: AtomicUsize::new(0),
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A test that panicked while holding the lock must not hide the next test's answer.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn invalid_grant(&self, description: &str) -> Response {
        self.invalid_grants.fetch_add(1, Ordering::SeqCst);
        oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }
}

#[derive(Default)]
struct Inner {
    codes: HashMap<String, Code>,
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, RefreshToken>,
    issued_access: Vec<String>,
    issued_refresh: Vec<String>,
    authorizations: Vec<AuthorizationRequest>,
    token_requests: Vec<TokenRequest>,
    revocations: Vec<RevokeRequest>,
    api_calls: Vec<ApiCall>,
    scripted: VecDeque<Scripted>,
    next_grant: u64,
    next_object_id: u64,
}

struct Code {
    redirect_uri: String,
    scope: String,
    challenge: Option<String>,
    issued: Instant,
}

struct AccessToken {
    grant: u64,
    expires_at: Instant,
    expired: bool,
    revoked: bool,
}

struct RefreshToken {
    grant: u64,
    scope: String,
    live: bool,
}

impl Inner {
    fn access_live(&self, token: &str) -> bool {
        self.access.get(token).is_some_and(|access| {
            !access.expired && !access.revoked && Instant::now() < access.expires_at
        })
    }

    /// Issues an access token (and a refresh token when asked) in a grant: the token answer.
    fn issue(&mut self, grant: u64, scope: &str, expires_in: u64, with_refresh: bool) -> Value {
        let access_token = random_token("at-");
        self.access.insert(
            access_token.clone(),
            AccessToken {
                grant,
                expires_at: Instant::now() + Duration::from_secs(expires_in),
                expired: false,
                revoked: false,
            },
        );
        self.issued_access.push(access_token.clone());
        let mut answer = json!({
            "access_token": access_token,
            "token_type": "bearer",
            "expires_in": expires_in,
            "scope": scope,
        });
        if with_refresh {
            let refresh_token = random_token("rt-");
            self.refresh.insert(
                refresh_token.clone(),
                RefreshToken {
                    grant,
                    scope: scope.to_owned(),
                    live: true,
                },
            );
            self.issued_refresh.push(refresh_token.clone());
            answer["refresh_token"] = Value::String(refresh_token);
        }
        answer
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/oauth/authorize", get(authorize))
        .route("/oauth/token", post(token))
        .route("/oauth/revoke", post(revoke))
        .route("/hubspot/crm/v3/objects/{object}/search", post(api_search))
        .route("/hubspot/crm/v3/objects/{object}", post(api_create))
        .route("/hubspot/crm/v3/objects/{object}/{id}", patch(api_update))
        .layer(axum::middleware::map_response_with_state(
            Arc::clone(&shared),
            date_header,
        ))
        .with_state(shared)
}

/// Sets `Date` on every answer, moved by the clock skew (hyper keeps a `Date` it is given).
async fn date_header(State(shared): State<Arc<Shared>>, mut response: Response) -> Response {
    let skew = shared.clock_skew_secs.load(Ordering::SeqCst);
    let now = SystemTime::now();
    let shifted = if skew >= 0 {
        now.checked_add(Duration::from_secs(skew.unsigned_abs()))
    } else {
        now.checked_sub(Duration::from_secs(skew.unsigned_abs()))
    };
    if let Ok(value) = HeaderValue::from_str(&httpdate::fmt_http_date(shifted.unwrap_or(now))) {
        response.headers_mut().insert(header::DATE, value);
    }
    response
}

async fn authorize(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    let params = parse_form(query.unwrap_or_default().as_bytes());
    shared.lock().authorizations.push(AuthorizationRequest {
        params: params.clone(),
    });
    // Without a known client and a redirect URI there is nowhere safe to send an error
    // (RFC 6749 4.1.2.1): answer the user agent directly.
    let Some(redirect_uri) = param(&params, "redirect_uri") else {
        return plain(StatusCode::BAD_REQUEST, "missing redirect_uri");
    };
    if param(&params, "client_id") != Some(CLIENT_ID) {
        return plain(StatusCode::BAD_REQUEST, "unknown client_id");
    }
    let state = param(&params, "state");
    let challenge = param(&params, "code_challenge");
    let error = if shared.deny.load(Ordering::SeqCst) {
        Some("access_denied")
    } else if param(&params, "response_type") != Some("code") {
        Some("unsupported_response_type")
    } else if challenge.is_some()
        && (param(&params, "code_challenge_method") != Some("S256")
            || challenge.is_some_and(|challenge| challenge.len() != 43))
    {
        // Only S256; a missing method means `plain` (RFC 7636 4.3).
        Some("invalid_request")
    } else {
        None
    };
    let mut answer: Vec<(&str, String)> = Vec::new();
    match error {
        Some(error) => answer.push(("error", error.to_owned())),
        None => {
            let code = random_token("code-");
            shared.lock().codes.insert(
                code.clone(),
                Code {
                    redirect_uri: redirect_uri.to_owned(),
                    scope: param(&params, "scope").unwrap_or_default().to_owned(),
                    challenge: challenge.map(str::to_owned),
                    issued: Instant::now(),
                },
            );
            answer.push(("code", code));
        }
    }
    if let Some(state) = state {
        answer.push(("state", state.to_owned()));
    }
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(answer)
        .finish();
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    redirect(&format!("{redirect_uri}{separator}{query}"))
}

async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let params = parse_form(&body);
    let auth = client_auth(&headers, &params);
    shared.lock().token_requests.push(TokenRequest {
        params: params.clone(),
        client_auth: auth.as_ref().ok().copied(),
    });
    let grant_type = param(&params, "grant_type");
    match grant_type {
        Some("authorization_code") => shared.code_exchanges.fetch_add(1, Ordering::SeqCst),
        Some("refresh_token") => shared.refresh_requests.fetch_add(1, Ordering::SeqCst),
        _ => 0,
    };
    let delay = shared.token_delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let scripted = shared.lock().scripted.pop_front();
    if let Some(answer) = scripted {
        return scripted_answer(&shared, answer);
    }
    if !is_form(&headers) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        );
    }
    if let Err(refused) = auth {
        return refused.response();
    }
    let expires_in = shared.expires_in.load(Ordering::SeqCst);
    match grant_type {
        Some("authorization_code") => exchange_code(&shared, &params, expires_in),
        Some("refresh_token") => refresh(&shared, &params, expires_in),
        Some(_) => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only authorization_code and refresh_token",
        ),
        None => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "missing grant_type",
        ),
    }
}

fn exchange_code(shared: &Shared, params: &[(String, String)], expires_in: u64) -> Response {
    let (Some(code), Some(redirect_uri)) = (param(params, "code"), param(params, "redirect_uri"))
    else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "code and redirect_uri are required",
        );
    };
    let verifier = param(params, "code_verifier");
    let mut inner = shared.lock();
    // Removed on the first attempt, whatever its outcome: a code is single use.
    let Some(stored) = inner.codes.remove(code) else {
        return shared.invalid_grant("unknown or already used code");
    };
    if stored.issued.elapsed() > CODE_LIFETIME {
        return shared.invalid_grant("expired code");
    }
    if stored.redirect_uri != redirect_uri {
        return shared.invalid_grant("redirect_uri differs from the authorization request's");
    }
    let pkce = match (&stored.challenge, verifier) {
        (Some(challenge), Some(verifier)) => {
            if !valid_verifier(verifier) || pkce_challenge(verifier) != *challenge {
                return shared.invalid_grant("code_verifier does not match the code_challenge");
            }
            true
        }
        (Some(_), None) => return shared.invalid_grant("code_verifier is required"),
        (None, Some(_)) => {
            return shared.invalid_grant("code_verifier without a code_challenge");
        }
        (None, None) => false,
    };
    if pkce {
        shared.pkce_exchanges.fetch_add(1, Ordering::SeqCst);
    }
    inner.next_grant += 1;
    let grant = inner.next_grant;
    let answer = inner.issue(grant, &stored.scope, expires_in, true);
    token_answer(&answer)
}

fn refresh(shared: &Shared, params: &[(String, String)], expires_in: u64) -> Response {
    let Some(presented) = param(params, "refresh_token") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "refresh_token is required",
        );
    };
    let rotate = shared.rotate.load(Ordering::SeqCst);
    let mut inner = shared.lock();
    let Some(stored) = inner
        .refresh
        .get_mut(presented)
        .filter(|stored| stored.live)
    else {
        return shared.invalid_grant("refresh token is invalid, revoked or already used");
    };
    if rotate {
        stored.live = false;
    }
    let (grant, scope) = (stored.grant, stored.scope.clone());
    let answer = inner.issue(grant, &scope, expires_in, rotate);
    token_answer(&answer)
}

async fn revoke(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let params = parse_form(&body);
    let auth = client_auth(&headers, &params);
    let token = param(&params, "token").unwrap_or_default().to_owned();
    let mut inner = shared.lock();
    inner.revocations.push(RevokeRequest {
        token: token.clone(),
        token_type_hint: param(&params, "token_type_hint").map(str::to_owned),
        client_auth: auth.as_ref().ok().copied(),
    });
    if let Err(refused) = auth {
        return refused.response();
    }
    if token.is_empty() {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "missing token");
    }
    if let Some(access) = inner.access.get_mut(&token) {
        access.revoked = true;
    }
    // Revoking a refresh token also revokes the access tokens of its grant (RFC 7009 2.1).
    if let Some(refresh) = inner.refresh.get_mut(&token) {
        refresh.live = false;
        let grant = refresh.grant;
        for access in inner
            .access
            .values_mut()
            .filter(|access| access.grant == grant)
        {
            access.revoked = true;
        }
    }
    // Unknown tokens are answered 200 too (RFC 7009 2.2).
    StatusCode::OK.into_response()
}

async fn api_search(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = refuse_unless_live(&shared, &method, &uri, &headers, &body) {
        return refused;
    }
    json_answer(StatusCode::OK, &json!({"total": 0, "results": []}))
}

async fn api_create(
    State(shared): State<Arc<Shared>>,
    Path(_object): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = refuse_unless_live(&shared, &method, &uri, &headers, &body) {
        return refused;
    }
    let id = {
        let mut inner = shared.lock();
        inner.next_object_id += 1;
        inner.next_object_id
    };
    json_answer(StatusCode::CREATED, &json!({"id": id.to_string()}))
}

async fn api_update(
    State(shared): State<Arc<Shared>>,
    Path((_object, id)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = refuse_unless_live(&shared, &method, &uri, &headers, &body) {
        return refused;
    }
    json_answer(StatusCode::OK, &json!({"id": id}))
}

/// Records the call; the 401 to answer unless it carries a live access token.
fn refuse_unless_live(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Option<Response> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| strip_scheme(value, "Bearer"))
        .map(str::to_owned);
    let mut inner = shared.lock();
    let accepted = bearer
        .as_deref()
        .is_some_and(|token| inner.access_live(token));
    inner.api_calls.push(ApiCall {
        method: method.to_string(),
        path: uri
            .path_and_query()
            .map_or_else(|| uri.path().to_owned(), ToString::to_string),
        bearer,
        accepted,
        body: String::from_utf8_lossy(body).into_owned(),
    });
    if accepted {
        return None;
    }
    Some(json_answer(
        StatusCode::UNAUTHORIZED,
        &json!({
            "status": "error",
            "message": "The OAuth token used to make this call expired or is not valid.",
            "correlationId": "00000000-0000-0000-0000-000000000000",
            "category": "EXPIRED_AUTHENTICATION",
        }),
    ))
}

/// Why a client's authentication was refused.
enum AuthRefusal {
    /// More than one method at once (RFC 6749 2.3).
    Ambiguous,
    /// Wrong or missing credentials; `basic` when they came as HTTP Basic.
    Invalid { basic: bool },
}

impl AuthRefusal {
    fn response(&self) -> Response {
        match self {
            AuthRefusal::Ambiguous => oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "more than one client authentication method",
            ),
            AuthRefusal::Invalid { basic } => {
                let mut refused = oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "client authentication failed",
                );
                if *basic {
                    refused.headers_mut().insert(
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static("Basic realm=\"fake-oauth-provider\""),
                    );
                }
                refused
            }
        }
    }
}

/// The client's authentication: one method only (RFC 6749 2.3), the registered id and secret.
fn client_auth(
    headers: &HeaderMap,
    params: &[(String, String)],
) -> Result<ClientAuthMethod, AuthRefusal> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| strip_scheme(value, "Basic"));
    let posted_id = param(params, "client_id");
    let posted_secret = param(params, "client_secret");
    match (basic, posted_secret) {
        (Some(_), Some(_)) => Err(AuthRefusal::Ambiguous),
        (Some(credentials), None) => {
            let decoded = STANDARD
                .decode(credentials.trim())
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok());
            let pair = decoded.as_deref().and_then(|text| text.split_once(':'));
            let matches = pair.is_some_and(|(id, secret)| {
                form_decode(id) == CLIENT_ID
                    && form_decode(secret) == CLIENT_SECRET
                    && posted_id.is_none_or(|posted| posted == CLIENT_ID)
            });
            if matches {
                Ok(ClientAuthMethod::Basic)
            } else {
                Err(AuthRefusal::Invalid { basic: true })
            }
        }
        (None, Some(secret)) if posted_id == Some(CLIENT_ID) && secret == CLIENT_SECRET => {
            Ok(ClientAuthMethod::Post)
        }
        (None, _) => Err(AuthRefusal::Invalid { basic: false }),
    }
}

fn scripted_answer(shared: &Shared, answer: Scripted) -> Response {
    let expires_in = shared.expires_in.load(Ordering::SeqCst);
    match answer {
        Scripted::NonJson => raw(
            StatusCode::OK,
            "application/json",
            "<html>this is not JSON</html>".to_owned(),
        ),
        Scripted::MissingAccessToken => token_answer(&json!({
            "token_type": "bearer",
            "expires_in": expires_in,
        })),
        Scripted::HugeBody(size) => {
            let tail = format!(
                "\",\"access_token\":\"{}\",\"token_type\":\"bearer\",\"expires_in\":{expires_in}}}",
                random_token("at-huge-")
            );
            let head = "{\"padding\":\"";
            let padding = size.saturating_sub(head.len() + tail.len());
            let mut body = String::with_capacity(size.max(head.len() + tail.len()));
            body.push_str(head);
            body.extend(std::iter::repeat_n('x', padding));
            body.push_str(&tail);
            raw(StatusCode::OK, "application/json", body)
        }
        Scripted::Redirect(location) => redirect(&location),
        Scripted::HtmlError => raw(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/html; charset=utf-8",
            "<!DOCTYPE html><html><head><title>500 Internal Server Error</title></head>\
             <body><h1>Internal Server Error</h1></body></html>"
                .to_owned(),
        ),
        Scripted::InvalidGrant => shared.invalid_grant("scripted"),
        Scripted::Raw {
            status,
            content_type,
            body,
        } => raw(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            &content_type,
            body,
        ),
    }
}

fn raw(status: StatusCode, content_type: &str, body: String) -> Response {
    let mut response = (status, body).into_response();
    if let Ok(value) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

fn plain(status: StatusCode, body: &str) -> Response {
    raw(status, "text/plain; charset=utf-8", body.to_owned())
}

fn json_answer(status: StatusCode, value: &Value) -> Response {
    raw(status, "application/json", value.to_string())
}

/// A token answer with the headers RFC 6749 5.1 asks for.
fn token_answer(value: &Value) -> Response {
    let mut response = json_answer(StatusCode::OK, value);
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json_answer(
        status,
        &json!({"error": error, "error_description": description}),
    )
}

fn redirect(location: &str) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// `value` without its auth scheme (compared case-insensitively), e.g. `Bearer abc` → `abc`.
fn strip_scheme<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let (given, rest) = value.split_once(' ')?;
    given.eq_ignore_ascii_case(scheme).then(|| rest.trim())
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

fn parse_form(bytes: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(bytes).into_owned().collect()
}

/// One form-urlencoded component decoded (`+` is a space, `%XX` a byte).
fn form_decode(component: &str) -> String {
    let bytes = component.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = bytes
            .get(index + 1..index + 3)
            .and_then(|pair| std::str::from_utf8(pair).ok())
            .and_then(|pair| u8::from_str_radix(pair, 16).ok());
        match (bytes[index], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                index += 3;
            }
            (b'+', _) => {
                decoded.push(b' ');
                index += 1;
            }
            (byte, _) => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// RFC 7636 4.1: 43 to 128 unreserved characters.
fn valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-._~".contains(&byte))
}

/// The S256 code challenge of a verifier: base64url (no padding) of its SHA-256.
fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A prefix and 40 random alphanumerics (about 238 bits as written; fastrand's generator is
/// seeded per thread from the OS-randomised `RandomState`).
fn random_token(prefix: &str) -> String {
    let mut token = String::with_capacity(prefix.len() + 40);
    token.push_str(prefix);
    token.extend(std::iter::repeat_with(fastrand::alphanumeric).take(40));
    token
}

/// An answer read by [`http_request`].
struct HttpResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl HttpResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A minimal blocking HTTP/1.1 client (`Connection: close`, read to the end): enough for
/// [`FakeProvider::approve`] and the tests, without a second HTTP stack in this crate.
fn http_request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<HttpResponse> {
    let invalid = |message: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, message);
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| invalid("only http:// URLs"))?;
    let rest = rest.split('#').next().unwrap_or(rest);
    let (authority, target) = match rest.find(['/', '?']) {
        Some(at) if rest[at..].starts_with('/') => (&rest[..at], rest[at..].to_owned()),
        Some(at) => (&rest[..at], format!("/{}", &rest[at..])),
        None => (rest, "/".to_owned()),
    };
    let mut stream = TcpStream::connect(authority)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut request = format!(
        "{method} {target} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    stream.write_all(body)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let malformed = || std::io::Error::new(std::io::ErrorKind::InvalidData, "malformed answer");
    let split = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .ok_or_else(malformed)?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| malformed())?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(malformed)?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let mut response = HttpResponse {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    };
    if response
        .header("transfer-encoding")
        .is_some_and(|value| value.eq_ignore_ascii_case("chunked"))
    {
        response.body = dechunk(&response.body).ok_or_else(malformed)?;
    }
    Ok(response)
}

fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|window| window == b"\r\n")?;
        let size_text = std::str::from_utf8(&body[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(..size)?);
        body = body.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests;
