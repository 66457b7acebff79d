//! docs/ROUTES.md 4.3: stripe_payment_intent_create and stripe_customer_upsert.

use serde_json::json;

use crate::support::*;

const INTENTS: &str = "/v1/payment_intents";
const CUSTOMERS: &str = "/v1/customers";

#[tokio::test]
async fn payment_intent_request_and_output() {
    let harness = Harness::start().await;
    harness.on(
        "POST",
        INTENTS,
        vec![json_response(200, json!({"id": "pi_1", "status": "requires_payment_method", "client_secret": "cs", "amount": 13, "currency": "eur"}))],
    );
    let output = harness.dispatch("stripe_payment_intent_create", json!({"amount": 12.5, "currency": " EUR ", "customerId": "cus 1", "description": "hello world & co", "metadata": {"k": "v", "a b": "c/d"}})).await
    .expect("created");
    assert_eq!(
        output.to_string(),
        r#"{"ok":true,"route":"stripe_payment_intent_create","paymentIntentId":"pi_1","status":"requires_payment_method","clientSecret":"cs","amount":13,"currency":"eur"}"#
    );
    let request = &harness.requests()[0];
    assert_eq!(
        request.body_text(),
        "amount=13&currency=eur&customer=cus+1&description=hello+world+%26+co&metadata%5Bk%5D=v&metadata%5Ba+b%5D=c%2Fd"
    );
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {}", secret_value("STRIPE_API_KEY")).as_str())
    );
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        request.header("idempotency-key"),
        Some("workerflow-trace-1-payment-intent")
    );
}

#[tokio::test]
async fn payment_intent_keys_amounts_and_metadata() {
    let harness = Harness::start().await;
    harness.on("POST", INTENTS, vec![json_response(200, json!({}))]);
    let secrets = harness.secrets();
    let output = call(
        "stripe_payment_intent_create",
        json!({"amount": 0.2, "idempotencyKey": "  k-1 ", "metadata": {"n": 2, "f": false, "z": null, " ": "v"}}),
        &secrets,
    )
    .await
    .expect("created");
    assert_eq!(
        output.to_string(),
        r#"{"ok":true,"route":"stripe_payment_intent_create","paymentIntentId":"","status":"","clientSecret":"","amount":0,"currency":"usd"}"#
    );
    call(
        "stripe_payment_intent_create",
        json!({"amount": 9900}),
        &secrets,
    )
    .await
    .expect("created");
    let requests = harness.requests();
    assert_eq!(requests[0].header("idempotency-key"), Some("k-1"));
    assert_eq!(
        requests[0].body_text(),
        "amount=1&currency=usd&metadata%5Bn%5D=2&metadata%5Bf%5D=false"
    );
    assert_eq!(requests[1].body_text(), "amount=9900&currency=usd");
}

#[tokio::test]
async fn payment_intent_invalid_input() {
    let harness = Harness::start().await;
    let secrets = harness.secrets();
    let route = "stripe_payment_intent_create";
    for (amount, message) in [
        (json!("1200"), "\"amount\" must be a number"),
        (json!(true), "\"amount\" must be a number"),
        (json!(null), "\"amount\" must be a number"),
        (json!(0), "\"amount\" must be a number greater than 0"),
        (json!(-5), "\"amount\" must be a number greater than 0"),
        (
            json!(9007199254740992u64),
            "\"amount\" must be a number at most 9007199254740991",
        ),
    ] {
        let problems = input_problems(call(route, json!({"amount": amount}), &secrets).await);
        assert_eq!(
            problems,
            [("amount".to_owned(), format!("{route}: {message}"))]
        );
    }
    for key in [json!("a\nb"), json!("k".repeat(256)), json!("clé")] {
        let problems = input_problems(
            call(route, json!({"amount": 1, "idempotencyKey": key}), &secrets).await,
        );
        assert_eq!(
            problems,
            [(
                "idempotencyKey".to_owned(),
                format!(
                    "{route}: \"idempotencyKey\" must be printable ASCII of at most 255 characters"
                )
            )]
        );
    }
    // Metadata values are scalars or null; an object or array is refused (ROUTES.md 5).
    let problems = input_problems(
        call(
            route,
            json!({"amount": 1, "metadata": {"x": {"y": 1}, "l": [1]}}),
            &secrets,
        )
        .await,
    );
    assert_eq!(
        problems,
        [
            (
                "metadata.l".to_owned(),
                format!("{route}: \"metadata.l\" must be a boolean, a number, a string or null")
            ),
            (
                "metadata.x".to_owned(),
                format!("{route}: \"metadata.x\" must be a boolean, a number, a string or null")
            ),
        ]
    );
    // The runtime's schema problem comes first; the handler's key check never runs.
    let problems =
        input_problems(call(route, json!({"idempotencyKey": "a\u{7f}"}), &secrets).await);
    assert_eq!(
        problems,
        [(
            "amount".to_owned(),
            format!("{route}: \"amount\" is required")
        )]
    );
    harness.assert_untouched();
}

#[tokio::test]
async fn payment_intent_500_is_retried_with_the_same_key() {
    let harness = Harness::start().await;
    harness.on("POST", INTENTS, vec![text_response(500, "oops")]);
    let error = provider_error(
        harness
            .dispatch("stripe_payment_intent_create", json!({"amount": 5}))
            .await,
    );
    assert_eq!(
        error.message,
        "Stripe request failed: 500 Internal Server Error oops"
    );
    assert_eq!(error.attempts, 3);
    let requests = harness.requests();
    assert_eq!(requests.len(), 3);
    assert!(
        requests
            .iter()
            .all(|r| r.header("idempotency-key") == Some("workerflow-trace-1-payment-intent"))
    );
    assert!(requests.iter().all(|r| r.body == requests[0].body));
    let harness = Harness::start().await;
    harness.on(
        "POST",
        INTENTS,
        vec![json_response(
            402,
            json!({"error": {"type": "card_error", "message": "declined"}}),
        )],
    );
    let error = provider_error(
        harness
            .dispatch("stripe_payment_intent_create", json!({"amount": 5}))
            .await,
    );
    assert_eq!(error.code.as_deref(), Some("card_error"));
    assert_eq!(error.provider_message.as_deref(), Some("declined"));
}

#[tokio::test]
async fn customer_upsert_creates_when_not_found() {
    let harness = Harness::start().await;
    harness
        .on(
            "GET",
            CUSTOMERS,
            vec![json_response(200, json!({"data": []}))],
        )
        .on(
            "POST",
            CUSTOMERS,
            vec![json_response(
                200,
                json!({"id": "cus_9", "email": "a+b@ex.com"}),
            )],
        );
    let output = harness
        .dispatch(
            "stripe_customer_upsert",
            json!({"email": " A+B@ex.com ", "name": " Ava ", "phone": "+1 555"}),
        )
        .await
        .expect("created");
    assert_eq!(
        output.to_string(),
        r#"{"ok":true,"route":"stripe_customer_upsert","customerId":"cus_9","email":"a+b@ex.com","name":"Ava","created":true}"#
    );
    let requests = harness.requests();
    assert_eq!(requests.len(), 2);
    let (lookup, create) = (&requests[0], &requests[1]);
    assert_eq!(lookup.method, "GET");
    assert_eq!(
        lookup.query.as_deref(),
        Some("email=a%2Bb%40ex.com&limit=1")
    );
    assert_eq!(
        lookup.header("authorization"),
        Some(format!("Bearer {}", secret_value("STRIPE_API_KEY")).as_str())
    );
    assert_eq!(lookup.header("content-type"), None);
    assert_eq!(lookup.header("idempotency-key"), None);
    assert!(lookup.body.is_empty());
    assert_eq!(
        create.header("idempotency-key"),
        Some("workerflow-trace-1-stripe-customer")
    );
    assert_eq!(
        create.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        create.body_text(),
        "email=a%2Bb%40ex.com&name=Ava&phone=%2B1+555"
    );
}

#[tokio::test]
async fn customer_upsert_updates_when_found() {
    let harness = Harness::start().await;
    harness
        .on(
            "GET",
            CUSTOMERS,
            vec![json_response(200, json!({"data": [{"id": "cus 1/x"}]}))],
        )
        .on(
            "POST",
            "/v1/customers/cus%201%2Fx",
            vec![json_response(200, json!({"name": null}))],
        );
    let output = harness
        .dispatch(
            "stripe_customer_upsert",
            json!({"email": "a@b.co", "name": " Ava ", "metadata": {"k": 1}}),
        )
        .await
        .expect("updated");
    assert_eq!(
        output.to_string(),
        r#"{"ok":true,"route":"stripe_customer_upsert","customerId":"cus 1/x","email":"a@b.co","name":"Ava","created":false}"#
    );
    let update = &harness.requests()[1];
    assert_eq!(update.method, "POST");
    assert_eq!(update.header("idempotency-key"), None);
    assert_eq!(
        update.body_text(),
        "email=a%40b.co&name=Ava&metadata%5Bk%5D=1"
    );
}

#[tokio::test]
async fn customer_upsert_step_failures() {
    let route = "stripe_customer_upsert";
    let input = json!({"email": "a@b.co"});
    // Lookup 400: nothing written.
    let harness = Harness::start().await;
    harness.on("GET", CUSTOMERS, vec![text_response(400, "bad")]);
    let error = provider_error(call(route, input.clone(), &harness.secrets()).await);
    assert_eq!(error.message, "Stripe request failed: 400 Bad Request bad");
    assert_eq!(harness.requests().len(), 1);
    // Lookup 503 then 200, create 503 then 200: each step retried.
    let harness = Harness::start().await;
    harness
        .on(
            "GET",
            CUSTOMERS,
            vec![
                text_response(503, ""),
                json_response(200, json!({"data": []})),
            ],
        )
        .on(
            "POST",
            CUSTOMERS,
            vec![
                text_response(503, ""),
                json_response(200, json!({"id": "c"})),
            ],
        );
    call(route, input.clone(), &harness.secrets())
        .await
        .expect("retried");
    assert_eq!(harness.requests().len(), 4);
    // Update 500: one update request.
    let harness = Harness::start().await;
    harness
        .on(
            "GET",
            CUSTOMERS,
            vec![json_response(200, json!({"data": [{"id": "cus_1"}]}))],
        )
        .on("POST", "/v1/customers/cus_1", vec![text_response(500, "")]);
    let error = provider_error(call(route, input.clone(), &harness.secrets()).await);
    assert_eq!((error.status, error.attempts), (500, 1));
    assert_eq!(harness.requests().len(), 2);
    // Create 500 three times: three create requests with the same key.
    let harness = Harness::start().await;
    harness
        .on(
            "GET",
            CUSTOMERS,
            vec![json_response(200, json!({"data": []}))],
        )
        .on("POST", CUSTOMERS, vec![text_response(500, "")]);
    let error = provider_error(call(route, input, &harness.secrets()).await);
    assert_eq!((error.status, error.attempts), (500, 3));
    let creates: Vec<_> = harness
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(creates.len(), 3);
    assert!(
        creates
            .iter()
            .all(|r| r.headers == creates[0].headers && r.body == creates[0].body)
    );
}

#[tokio::test]
async fn customer_upsert_invalid_input() {
    let harness = Harness::start().await;
    // The schema's problem is found by the runtime, before the handler checks the key.
    let problems = input_problems(
        harness
            .dispatch(
                "stripe_customer_upsert",
                json!({"email": 5, "idempotencyKey": "\n\u{1}x"}),
            )
            .await,
    );
    assert_eq!(
        problems,
        [(
            "email".to_owned(),
            "stripe_customer_upsert: \"email\" must be a string".to_owned()
        )]
    );
    let problems = input_problems(
        harness
            .dispatch(
                "stripe_customer_upsert",
                json!({"email": "a@b.co", "idempotencyKey": "\n\u{1}x"}),
            )
            .await,
    );
    assert_eq!(
        problems,
        [(
            "idempotencyKey".to_owned(),
            "stripe_customer_upsert: \"idempotencyKey\" must be printable ASCII of at most 255 characters".to_owned()
        )]
    );
    harness.assert_untouched();
}
