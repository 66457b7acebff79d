//! The fake provider driven over real HTTP with the module's own small client.

use super::*;

const REDIRECT: &str = "http://127.0.0.1:9/oauth/callback";
const VERIFIER: &str = "verifier-0123456789-0123456789-0123456789-abcdef";
const SCOPE: &str = "crm.objects.contacts.write crm.objects.deals.read";

fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn basic() -> String {
    let pair = format!("{}:{}", encode(CLIENT_ID), encode(CLIENT_SECRET));
    format!("Basic {}", STANDARD.encode(pair))
}

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn post_form(url: &str, headers: &[(&str, &str)], pairs: &[(&str, &str)]) -> HttpResponse {
    let mut all = vec![("Content-Type", "application/x-www-form-urlencoded")];
    all.extend_from_slice(headers);
    http_request("POST", url, &all, form(pairs).as_bytes()).expect("an answer")
}

/// A token request authenticated with `client_secret_post`.
fn token_post(provider: &FakeProvider, pairs: &[(&str, &str)]) -> HttpResponse {
    let mut all = pairs.to_vec();
    all.extend([("client_id", CLIENT_ID), ("client_secret", CLIENT_SECRET)]);
    post_form(&provider.token_url(), &[], &all)
}

fn json_of(response: &HttpResponse) -> Value {
    serde_json::from_slice(&response.body).expect("a JSON body")
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    parse_form(query.as_bytes())
        .into_iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}

/// Approves an authorization request (with PKCE when a verifier is given) and returns the code.
fn authorize(provider: &FakeProvider, verifier: Option<&str>) -> String {
    let challenge = verifier.map(pkce_challenge);
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT),
        ("scope", SCOPE),
        ("state", "state-123"),
    ];
    if let Some(challenge) = &challenge {
        pairs.extend([
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ]);
    }
    let location = provider.approve(&format!(
        "{}?{}",
        provider.authorization_url(),
        form(&pairs)
    ));
    assert!(location.starts_with(REDIRECT), "{location}");
    assert_eq!(
        query_param(&location, "state").as_deref(),
        Some("state-123")
    );
    query_param(&location, "code").expect("a code")
}

/// A full code exchange with PKCE: the tokens, returned once.
fn connect(provider: &FakeProvider) -> (String, String) {
    let code = authorize(provider, Some(VERIFIER));
    let response = token_post(
        provider,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    );
    assert_eq!(response.status, 200, "{}", response.text());
    let body = json_of(&response);
    let access = body["access_token"].as_str().expect("an access token");
    let refresh = body["refresh_token"].as_str().expect("a refresh token");
    (access.to_owned(), refresh.to_owned())
}

fn refresh_with(provider: &FakeProvider, refresh_token: &str) -> HttpResponse {
    token_post(
        provider,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
}

fn api(provider: &FakeProvider, method: &str, path: &str, token: &str) -> HttpResponse {
    let bearer = format!("Bearer {token}");
    let headers = [
        ("Authorization", bearer.as_str()),
        ("Content-Type", "application/json"),
    ];
    let url = format!("{}{path}", provider.api_base_url());
    http_request(method, &url, &headers, b"{}").expect("an answer")
}

#[test]
fn code_exchange_with_pkce_issues_tokens_once() {
    let provider = FakeProvider::start();
    let code = authorize(&provider, Some(VERIFIER));
    let request = &provider.authorization_requests()[0];
    assert_eq!(request.scope(), Some(SCOPE));
    assert_eq!(request.redirect_uri(), Some(REDIRECT));
    assert_eq!(
        request.code_challenge(),
        Some(pkce_challenge(VERIFIER).as_str())
    );
    // Computed independently (Python's hashlib and base64.urlsafe_b64encode, `=` stripped).
    assert_eq!(
        pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r7oW3Ij6q8Y8G4"),
        "--VJkD1n7wkr-pSQG312k3tqSNozRnxj4BMomquWhSA"
    );

    let pairs = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let response = token_post(&provider, &pairs);
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.header("cache-control"), Some("no-store"));
    let body = json_of(&response);
    let access = body["access_token"].as_str().expect("an access token");
    let refresh = body["refresh_token"].as_str().expect("a refresh token");
    assert!(access.starts_with("at-") && access.len() == 43, "{access}");
    assert!(refresh.starts_with("rt-"), "{refresh}");
    assert_eq!(body["expires_in"], DEFAULT_EXPIRES_IN);
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["scope"], SCOPE);
    assert_eq!(provider.issued_access_tokens(), [access]);
    assert_eq!(provider.issued_refresh_tokens(), [refresh]);
    assert_eq!(provider.pkce_exchanges(), 1);

    // Single use.
    let again = token_post(&provider, &pairs);
    assert_eq!(again.status, 400);
    assert_eq!(json_of(&again)["error"], "invalid_grant");
    assert_eq!(provider.code_exchanges(), 2);
    assert_eq!(provider.invalid_grants(), 1);
    assert_eq!(provider.issued_access_tokens().len(), 1);
}

#[test]
fn a_wrong_or_missing_verifier_or_redirect_uri_is_invalid_grant() {
    let provider = FakeProvider::start();
    let cases = [
        (
            Some("verifier-9999999999-9999999999-9999999999-zzzzzz"),
            REDIRECT,
        ),
        (None, REDIRECT),
        (Some(VERIFIER), "http://127.0.0.1:9/elsewhere"),
    ];
    for (verifier, redirect_uri) in cases {
        let code = authorize(&provider, Some(VERIFIER));
        let mut pairs = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect_uri),
        ];
        pairs.extend(verifier.map(|verifier| ("code_verifier", verifier)));
        let response = token_post(&provider, &pairs);
        assert_eq!(response.status, 400, "{}", response.text());
        assert_eq!(json_of(&response)["error"], "invalid_grant");
    }
    assert_eq!(provider.invalid_grants(), 3);
    assert_eq!(provider.pkce_exchanges(), 0);
    assert!(provider.issued_access_tokens().is_empty());

    // Without a challenge, no verifier is asked for.
    let code = authorize(&provider, None);
    let response = token_post(
        &provider,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    );
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(provider.pkce_exchanges(), 0);
}

#[test]
fn refresh_rotates_and_reuse_is_invalid_grant() {
    let provider = FakeProvider::start();
    let (first_access, first_refresh) = connect(&provider);
    provider.set_expires_in(60);

    let response = refresh_with(&provider, &first_refresh);
    assert_eq!(response.status, 200, "{}", response.text());
    let body = json_of(&response);
    let second_access = body["access_token"].as_str().expect("an access token");
    let second_refresh = body["refresh_token"].as_str().expect("a new refresh token");
    assert_ne!(second_access, first_access);
    assert_ne!(second_refresh, first_refresh);
    assert_eq!(body["expires_in"], 60);
    assert!(!provider.refresh_token_live(&first_refresh));
    assert!(provider.refresh_token_live(second_refresh));

    let reused = refresh_with(&provider, &first_refresh);
    assert_eq!(reused.status, 400);
    assert_eq!(json_of(&reused)["error"], "invalid_grant");
    assert_eq!(provider.invalid_grants(), 1);
    assert_eq!(provider.refresh_requests(), 2);
    // The reuse did not cost the current refresh token.
    assert_eq!(refresh_with(&provider, second_refresh).status, 200);
    assert_eq!(provider.issued_refresh_tokens().len(), 3);
    assert_eq!(provider.issued_access_tokens().len(), 3);

    // Without rotation the refresh token stays and none is returned.
    provider.rotate_refresh_tokens(false);
    let latest = provider
        .issued_refresh_tokens()
        .pop()
        .expect("a refresh token");
    for _ in 0..2 {
        let response = refresh_with(&provider, &latest);
        assert_eq!(response.status, 200, "{}", response.text());
        assert!(json_of(&response).get("refresh_token").is_none());
    }
}

#[test]
fn basic_and_post_client_authentication() {
    let provider = FakeProvider::start();
    let (_, refresh) = connect(&provider);
    let refresh_pairs = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
    ];
    let basic = basic();
    // A wrong Basic secret, an unencoded one (RFC 6749 2.3.1 asks for form-urlencoding),
    // no authentication, both methods at once, a wrong posted secret.
    let unencoded = format!(
        "Basic {}",
        STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    let wrong = format!("Basic {}", STANDARD.encode(format!("{CLIENT_ID}:nope")));
    for header in [&wrong, &unencoded] {
        let response = post_form(
            &provider.token_url(),
            &[("Authorization", header)],
            &refresh_pairs,
        );
        assert_eq!(response.status, 401);
        assert_eq!(json_of(&response)["error"], "invalid_client");
        assert!(response.header("www-authenticate").is_some());
    }
    let response = post_form(&provider.token_url(), &[], &refresh_pairs);
    assert_eq!(response.status, 401);
    assert_eq!(json_of(&response)["error"], "invalid_client");
    let mut both = refresh_pairs.to_vec();
    both.extend([("client_id", CLIENT_ID), ("client_secret", CLIENT_SECRET)]);
    let response = post_form(&provider.token_url(), &[("Authorization", &basic)], &both);
    assert_eq!(response.status, 400);
    let mut wrong_post = refresh_pairs.to_vec();
    wrong_post.extend([("client_id", CLIENT_ID), ("client_secret", "nope")]);
    assert_eq!(
        post_form(&provider.token_url(), &[], &wrong_post).status,
        401
    );
    assert!(
        provider.refresh_token_live(&refresh),
        "refused requests rotate nothing"
    );

    let response = post_form(
        &provider.token_url(),
        &[("Authorization", &basic)],
        &refresh_pairs,
    );
    assert_eq!(response.status, 200, "{}", response.text());
    let rotated = json_of(&response)["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_owned();
    assert_eq!(refresh_with(&provider, &rotated).status, 200);

    let methods: Vec<_> = provider
        .token_requests()
        .iter()
        .map(|request| request.client_auth)
        .collect();
    use ClientAuthMethod::{Basic, Post};
    assert_eq!(
        methods,
        [
            Some(Post),
            None,
            None,
            None,
            None,
            None,
            Some(Basic),
            Some(Post)
        ]
    );
    assert_eq!(provider.invalid_grants(), 0);
}

#[test]
fn the_api_accepts_live_tokens_only() {
    let provider = FakeProvider::start();
    let (first_access, first_refresh) = connect(&provider);

    let search = api(
        &provider,
        "POST",
        "/crm/v3/objects/contacts/search",
        &first_access,
    );
    assert_eq!(search.status, 200, "{}", search.text());
    assert_eq!(json_of(&search)["results"], json!([]));
    let created = api(&provider, "POST", "/crm/v3/objects/deals", &first_access);
    assert_eq!(created.status, 201);
    assert_eq!(json_of(&created)["id"], "1");
    let updated = api(
        &provider,
        "PATCH",
        "/crm/v3/objects/deals/77",
        &first_access,
    );
    assert_eq!(updated.status, 200);
    assert_eq!(json_of(&updated)["id"], "77");

    let refused = api(
        &provider,
        "POST",
        "/crm/v3/objects/contacts/search",
        "at-unknown",
    );
    assert_eq!(refused.status, 401);
    assert_eq!(json_of(&refused)["category"], "EXPIRED_AUTHENTICATION");

    // A token the client still thinks valid is refused; the refreshed one is accepted.
    provider.expire_all_access_tokens();
    assert_eq!(
        api(&provider, "POST", "/crm/v3/objects/deals", &first_access).status,
        401
    );
    let refreshed = json_of(&refresh_with(&provider, &first_refresh));
    let second_access = refreshed["access_token"].as_str().expect("an access token");
    assert_eq!(
        api(&provider, "POST", "/crm/v3/objects/deals", second_access).status,
        201
    );

    // A token issued already expired by the provider's clock.
    provider.set_expires_in(0);
    let second_refresh = refreshed["refresh_token"]
        .as_str()
        .expect("a refresh token");
    let third = json_of(&refresh_with(&provider, second_refresh));
    let third_access = third["access_token"].as_str().expect("an access token");
    assert!(!provider.access_token_live(third_access));
    assert_eq!(
        api(&provider, "POST", "/crm/v3/objects/deals", third_access).status,
        401
    );

    assert_eq!(provider.api_calls(), 7);
    let log = provider.api_call_log();
    assert_eq!(
        log.iter().filter(|call| call.accepted).count(),
        4,
        "{log:?}"
    );
    assert_eq!(log[0].path, "/hubspot/crm/v3/objects/contacts/search");
    assert_eq!(
        provider.api_bearer_tokens(),
        [
            first_access.as_str(),
            &first_access,
            &first_access,
            "at-unknown",
            &first_access,
            second_access,
            third_access
        ]
    );
    let missing = http_request(
        "POST",
        &format!("{}/crm/v3/objects/deals", provider.api_base_url()),
        &[],
        b"",
    )
    .expect("an answer");
    assert_eq!(missing.status, 401);
}

#[test]
fn revocation_refuses_the_grant() {
    let provider = FakeProvider::start();
    let (access, refresh) = connect(&provider);
    let response = post_form(
        &provider.revocation_url(),
        &[("Authorization", &basic())],
        &[("token", &refresh), ("token_type_hint", "refresh_token")],
    );
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        provider.revoke_requests(),
        [RevokeRequest {
            token: refresh.clone(),
            token_type_hint: Some("refresh_token".to_owned()),
            client_auth: Some(ClientAuthMethod::Basic),
        }]
    );
    assert_eq!(refresh_with(&provider, &refresh).status, 400);
    assert_eq!(
        api(&provider, "POST", "/crm/v3/objects/deals", &access).status,
        401
    );
    // Unknown tokens are answered 200; a client that does not authenticate is refused.
    let unknown = post_form(
        &provider.revocation_url(),
        &[],
        &[
            ("token", "rt-unknown"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ],
    );
    assert_eq!(unknown.status, 200);
    let anonymous = post_form(&provider.revocation_url(), &[], &[("token", &access)]);
    assert_eq!(anonymous.status, 401);
}

#[test]
fn denied_authorizations_redirect_with_access_denied() {
    let provider = FakeProvider::start();
    provider.deny_authorizations(true);
    let url = format!(
        "{}?{}",
        provider.authorization_url(),
        form(&[
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", "http://127.0.0.1:9/cb?x=1"),
            ("state", "s t"),
        ])
    );
    let location = provider.approve(&url);
    assert!(
        location.starts_with("http://127.0.0.1:9/cb?x=1&"),
        "{location}"
    );
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(query_param(&location, "state").as_deref(), Some("s t"));
    assert_eq!(query_param(&location, "code"), None);

    // An unknown client gets no redirect at all.
    let url = format!(
        "{}?client_id=other&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2F",
        provider.authorization_url()
    );
    let response = http_request("GET", &url, &[], b"").expect("an answer");
    assert_eq!(response.status, 400);
}

#[test]
fn scripted_answers_and_clock_skew() {
    let provider = FakeProvider::start();
    let (_, refresh) = connect(&provider);
    let scripted = [
        Scripted::NonJson,
        Scripted::MissingAccessToken,
        Scripted::HugeBody(HUGE_BODY_BYTES),
        Scripted::Redirect("http://127.0.0.1:9/elsewhere".to_owned()),
        Scripted::HtmlError,
        Scripted::InvalidGrant,
        Scripted::Raw {
            status: 503,
            content_type: "text/plain".to_owned(),
            body: "busy".to_owned(),
        },
    ];
    for answer in scripted.iter().cloned() {
        provider.respond_next_token_request_with(answer);
    }
    let answers: Vec<HttpResponse> = scripted
        .iter()
        .map(|_| refresh_with(&provider, &refresh))
        .collect();
    assert_eq!(answers[0].status, 200);
    assert!(serde_json::from_slice::<Value>(&answers[0].body).is_err());
    assert_eq!(answers[1].status, 200);
    assert!(json_of(&answers[1]).get("access_token").is_none());
    assert_eq!(answers[2].status, 200);
    assert_eq!(answers[2].body.len(), HUGE_BODY_BYTES);
    assert!(
        json_of(&answers[2])["access_token"]
            .as_str()
            .is_some_and(|token| token.starts_with("at-huge-"))
    );
    assert_eq!(answers[3].status, 302);
    assert_eq!(
        answers[3].header("location"),
        Some("http://127.0.0.1:9/elsewhere")
    );
    assert_eq!(answers[4].status, 500);
    assert!(answers[4].text().contains("<html>"));
    assert_eq!(answers[5].status, 400);
    assert_eq!(json_of(&answers[5])["error"], "invalid_grant");
    assert_eq!(answers[6].status, 503);
    assert_eq!(provider.invalid_grants(), 1);
    assert_eq!(provider.refresh_requests(), scripted.len());
    // None of them rotated anything; the next request is processed.
    assert!(provider.refresh_token_live(&refresh));
    assert_eq!(provider.issued_access_tokens().len(), 1);
    assert_eq!(refresh_with(&provider, &refresh).status, 200);

    let date_offset = |response: &HttpResponse| {
        let date = httpdate::parse_http_date(response.header("date").expect("a Date"))
            .expect("an HTTP date");
        match date.duration_since(SystemTime::now()) {
            Ok(ahead) => ahead.as_secs_f64(),
            Err(behind) => -behind.duration().as_secs_f64(),
        }
    };
    let fresh = post_form(&provider.token_url(), &[], &[]);
    assert!(date_offset(&fresh).abs() < 5.0);
    provider.clock_skew(Duration::from_secs(10 * 60));
    let ahead = post_form(&provider.token_url(), &[], &[]);
    assert!((date_offset(&ahead) - 600.0).abs() < 5.0);
    provider.clock_skew_behind(Duration::from_secs(10 * 60));
    let behind = api(&provider, "POST", "/crm/v3/objects/deals", "at-x");
    assert!((date_offset(&behind) + 600.0).abs() < 5.0);
}

#[test]
fn a_client_gone_during_the_token_delay_rotates_nothing() {
    let provider = FakeProvider::start();
    let (_, refresh) = connect(&provider);
    provider.token_delay(Duration::from_millis(500));
    let body = form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", &refresh),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]);
    let address = provider.base_url().trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).expect("a connection");
    write!(
        stream,
        "POST /oauth/token HTTP/1.1\r\nHost: {address}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("the request is sent");
    // Wait until the request has arrived, then hang up mid-delay.
    let deadline = Instant::now() + Duration::from_secs(5);
    while provider.refresh_requests() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(provider.refresh_requests(), 1);
    drop(stream);
    std::thread::sleep(Duration::from_millis(1000));
    assert!(provider.refresh_token_live(&refresh));
    assert_eq!(provider.issued_refresh_tokens().len(), 1);

    // A client that waits gets its answer after the delay.
    let started = Instant::now();
    assert_eq!(refresh_with(&provider, &refresh).status, 200);
    assert!(started.elapsed() >= Duration::from_millis(500));
}

#[test]
fn usable_and_droppable_from_an_async_test() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        // Started, used (blocking) and dropped inside a runtime's task.
        let provider = FakeProvider::start();
        let code = authorize(&provider, Some(VERIFIER));
        assert!(code.starts_with("code-"));
        drop(provider);
    });
}
