//! docs/ROUTES.md 4.3: the Notion and HubSpot routes.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn notion_create_request_and_output() {
    let harness = Harness::start().await;
    harness.on(
        "POST",
        "/v1/pages",
        vec![json_response(
            200,
            json!({"id": "p1", "url": "u", "archived": true, "created_time": "t"}),
        )],
    );
    let properties = r#"{"Name":{"title":[{"text":{"content":"A"}}]},"Amount":{"number":3},"B":{"checkbox":true}}"#;
    let input = format!(
        r#"{{"databaseId":" db1 ","properties":{properties},"children":[{{"object":"block"}}]}}"#
    );
    let input: serde_json::Value = serde_json::from_str(&input).expect("JSON");
    let output = harness
        .dispatch("notion_database_item_create", input)
        .await
        .expect("created");
    assert_eq!(
        output.to_string(),
        r#"{"ok":true,"route":"notion_database_item_create","pageId":"p1","url":"u","archived":true,"createdTime":"t"}"#
    );
    let request = &harness.requests()[0];
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {}", secret_value("NOTION_TOKEN")).as_str())
    );
    assert_eq!(request.header("notion-version"), Some("2022-06-28"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.body_text(),
        format!(
            r#"{{"parent":{{"database_id":"db1"}},"properties":{properties},"children":[{{"object":"block"}}]}}"#
        )
    );
}

#[tokio::test]
async fn notion_create_children_only_as_an_array_and_archived_only_when_true() {
    // Children of another type are refused before anything is sent (ROUTES.md 5).
    let refused = Harness::start().await;
    let problems = input_problems(
        refused
            .dispatch(
                "notion_database_item_create",
                json!({"databaseId": "db1", "properties": {"a": 1}, "children": {"x": 1}}),
            )
            .await,
    );
    assert_eq!(
        problems,
        [(
            "children".to_owned(),
            "notion_database_item_create: \"children\" must be an array or null".to_owned()
        )]
    );
    refused.assert_untouched();

    let harness = Harness::start().await;
    harness.on(
        "POST",
        "/v1/pages",
        vec![json_response(200, json!({"archived": "yes"}))],
    );
    let output = harness
        .dispatch(
            "notion_database_item_create",
            json!({"databaseId": "db1", "properties": {"a": 1}, "children": null}),
        )
        .await
        .expect("created");
    assert_eq!(output["archived"], false);
    assert_eq!(
        harness.requests()[0].body_text(),
        r#"{"parent":{"database_id":"db1"},"properties":{"a":1}}"#
    );
}

#[tokio::test]
async fn notion_create_invalid_input() {
    let harness = Harness::start().await;
    let route = "notion_database_item_create";
    for (properties, message) in [
        (json!({}), "\"properties\" must have at least 1 property"),
        (json!([]), "\"properties\" must be an object"),
        (json!("x"), "\"properties\" must be an object"),
        (json!(null), "\"properties\" must be an object"),
    ] {
        let problems = input_problems(
            call(
                route,
                json!({"databaseId": "db1", "properties": properties}),
                &harness.secrets(),
            )
            .await,
        );
        assert_eq!(
            problems,
            [("properties".to_owned(), format!("{route}: {message}"))]
        );
    }
    let problems = input_problems(
        call(
            route,
            json!({"databaseId": "  ", "properties": {"a": 1}}),
            &harness.secrets(),
        )
        .await,
    );
    assert_eq!(
        problems,
        [(
            "databaseId".to_owned(),
            format!("{route}: \"databaseId\" must not be blank")
        )]
    );
    harness.assert_untouched();
}

#[tokio::test]
async fn notion_errors_use_the_coded_shape() {
    let harness = Harness::start().await;
    harness.on(
        "POST",
        "/v1/pages",
        vec![json_response(404, json!({"object": "error", "code": "object_not_found", "message": "Could not find page"}))],
    );
    let input = json!({"databaseId": "db1", "properties": {"a": 1}});
    let error = provider_error(
        harness
            .dispatch("notion_database_item_create", input.clone())
            .await,
    );
    assert_eq!(
        error.message,
        "Notion request failed: 404 object_not_found Could not find page"
    );
    assert_eq!(error.code.as_deref(), Some("object_not_found"));
    let harness = Harness::start().await;
    harness.on("POST", "/v1/pages", vec![text_response(502, "<html>")]);
    let error = provider_error(
        harness
            .dispatch("notion_database_item_create", input.clone())
            .await,
    );
    assert_eq!(
        error.message,
        "Notion request failed: 502 notion_error Unknown Notion error"
    );
    assert_eq!(error.excerpt, "<html>");
    assert_eq!(harness.requests().len(), 1);
}

#[tokio::test]
async fn notion_get_request_ids_and_output() {
    let harness = Harness::start().await;
    let page = json!({"id": "abc-123", "url": "u", "last_edited_time": "t2", "properties": {"a": {}, "b": {}}});
    harness
        .on("GET", "/v1/pages/abc-123", vec![json_response(200, page)])
        .on("GET", "/v1/pages/abc", vec![json_response(200, json!({}))])
        .on(
            "GET",
            "/v1/pages/a%2Fb%20c",
            vec![json_response(200, json!({}))],
        );
    let secrets = harness.secrets();
    let output = call(
        "notion_database_item_get",
        json!({"pageId": "abc-123"}),
        &secrets,
    )
    .await
    .expect("read");
    assert_eq!(
        output.to_string(),
        r#"{"ok":true,"route":"notion_database_item_get","pageId":"abc-123","url":"u","archived":false,"lastEditedTime":"t2","propertyCount":2}"#
    );
    let output = call("notion_database_item_get", json!({"id": "abc"}), &secrets)
        .await
        .expect("alias");
    assert_eq!(output["propertyCount"], 0);
    call(
        "notion_database_item_get",
        json!({"pageId": " abc ", "id": "zzz"}),
        &secrets,
    )
    .await
    .expect("pageId wins");
    call(
        "notion_database_item_get",
        json!({"pageId": "a/b c"}),
        &secrets,
    )
    .await
    .expect("encoded");
    let requests = harness.requests();
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/v1/pages/abc-123",
            "/v1/pages/abc",
            "/v1/pages/abc",
            "/v1/pages/a%2Fb%20c"
        ]
    );
    let get = &requests[0];
    assert_eq!(get.method, "GET");
    assert_eq!(
        get.header("authorization"),
        Some(format!("Bearer {}", secret_value("NOTION_TOKEN")).as_str())
    );
    assert_eq!(get.header("notion-version"), Some("2022-06-28"));
    assert_eq!(get.header("content-type"), Some("application/json"));
    assert!(get.body.is_empty());
}

#[tokio::test]
async fn notion_get_invalid_ids_and_retries() {
    let harness = Harness::start().await;
    let route = "notion_database_item_get";
    let problems = input_problems(call(route, json!({"pageId": ".."}), &harness.secrets()).await);
    assert_eq!(
        problems,
        [(
            "pageId".to_owned(),
            format!("{route}: \"pageId\" must not be \".\" or \"..\"")
        )]
    );
    let problems = input_problems(call(route, json!({}), &harness.secrets()).await);
    assert_eq!(
        problems,
        [(
            "pageId".to_owned(),
            format!("{route}: requires \"pageId\" (or \"id\") string")
        )]
    );
    harness.assert_untouched();
    harness.on("GET", "/v1/pages/p", vec![text_response(500, "")]);
    let error = provider_error(call(route, json!({"pageId": "p"}), &harness.secrets()).await);
    assert_eq!((error.status, error.attempts), (500, 3));
    assert_eq!(harness.requests().len(), 3);
}

const CONTACT_SEARCH: &str = "/crm/v3/objects/contacts/search";
const CONTACTS: &str = "/crm/v3/objects/contacts";

#[tokio::test]
async fn hubspot_contact_default_search_and_create() {
    let harness = Harness::start().await;
    harness
        .on(
            "POST",
            CONTACT_SEARCH,
            vec![json_response(200, json!({"results": []}))],
        )
        .on(
            "POST",
            CONTACTS,
            vec![json_response(201, json!({"id": "c9"}))],
        );
    let output = harness.dispatch("hubspot_contact_upsert", json!({"email": " Ava@Example.com ", "properties": {" firstname ": "Ava", "n": 1, "b": true, "o": {}, "a": [], "z": null, "": "x", "email": "other@x"}})).await
    .expect("created");
    assert_eq!(
        output.to_string(),
        r#"{"ok":true,"route":"hubspot_contact_upsert","id":"c9","email":"ava@example.com","created":true,"idProperty":"email"}"#
    );
    let requests = harness.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].body_text(),
        r#"{"filterGroups":[{"filters":[{"propertyName":"email","operator":"EQ","value":"ava@example.com"}]}],"limit":1}"#
    );
    assert_eq!(
        requests[1].body_text(),
        r#"{"properties":{"firstname":"Ava","n":1,"b":true,"email":"ava@example.com"}}"#
    );
    for request in &requests {
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {}", secret_value("HUBSPOT_ACCESS_TOKEN")).as_str())
        );
        assert_eq!(request.header("content-type"), Some("application/json"));
        assert_eq!(request.header("idempotency-key"), None);
    }
}

#[tokio::test]
async fn hubspot_contact_custom_key_and_update() {
    let harness = Harness::start().await;
    harness
        .on(
            "POST",
            CONTACT_SEARCH,
            vec![json_response(200, json!({"results": [{"id": "c 1"}]}))],
        )
        .on(
            "PATCH",
            "/crm/v3/objects/contacts/c%201",
            vec![json_response(200, json!({}))],
        );
    let output = harness
        .dispatch(
            "hubspot_contact_upsert",
            json!({"email": "a@b.co", "idProperty": "custom_id", "idValue": " C-9 "}),
        )
        .await
        .expect("updated");
    assert_eq!(
        output.to_string(),
        r#"{"ok":true,"route":"hubspot_contact_upsert","id":"c 1","email":"a@b.co","created":false,"idProperty":"custom_id"}"#
    );
    let requests = harness.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].json()["filterGroups"][0]["filters"][0],
        json!({"propertyName": "custom_id", "operator": "EQ", "value": "C-9"})
    );
    assert_eq!(requests[1].method, "PATCH");
    assert_eq!(
        requests[1].body_text(),
        r#"{"properties":{"email":"a@b.co","custom_id":"C-9"}}"#
    );
    // `idProperty: "email"` alone is the default search.
    let harness = Harness::start().await;
    harness
        .on(
            "POST",
            CONTACT_SEARCH,
            vec![json_response(200, json!({"results": []}))],
        )
        .on("POST", CONTACTS, vec![json_response(201, json!({}))]);
    let output = harness
        .dispatch(
            "hubspot_contact_upsert",
            json!({"email": "a@b.co", "idProperty": "email"}),
        )
        .await
        .expect("created");
    assert_eq!(output["idProperty"], "email");
    assert_eq!(output["id"], "");
}

#[tokio::test]
async fn hubspot_contact_invalid_keys() {
    let harness = Harness::start().await;
    let route = "hubspot_contact_upsert";
    for (input, field, message) in [
        (
            json!({"email": "a@b.co", "idProperty": "custom_id"}),
            "idValue",
            "\"idValue\" is required when \"idProperty\" is given",
        ),
        (
            json!({"email": "a@b.co", "idValue": "x"}),
            "idProperty",
            "\"idProperty\" is required when \"idValue\" is given",
        ),
        (
            json!({"email": "a@b.co", "idProperty": "custom_id", "idValue": 9}),
            "idValue",
            "\"idValue\" must be a string or null",
        ),
        (
            json!({"email": "  "}),
            "email",
            "\"email\" must not be blank",
        ),
    ] {
        let problems = input_problems(call(route, input, &harness.secrets()).await);
        assert_eq!(
            problems,
            [(field.to_owned(), format!("{route}: {message}"))]
        );
    }
    harness.assert_untouched();
}

#[tokio::test]
async fn hubspot_errors_use_category_codes_and_details() {
    let input = json!({"email": "a@b.co"});
    let harness = Harness::start().await;
    harness.on(
        "POST",
        CONTACT_SEARCH,
        vec![json_response(400, json!({"status": "error", "message": "Property values were not valid", "category": "VALIDATION_ERROR", "correlationId": "x"}))],
    );
    let error = provider_error(
        harness
            .dispatch("hubspot_contact_upsert", input.clone())
            .await,
    );
    assert_eq!(error.status, 400);
    assert_eq!(error.code.as_deref(), Some("hubspot_validation_error"));
    assert_eq!(
        error.message,
        "HubSpot request failed: 400 hubspot_validation_error Property values were not valid"
    );
    assert_eq!(
        error.details,
        Some(
            json!({"category": "VALIDATION_ERROR", "subCategory": null, "status": "error", "correlationId": "x", "context": {}})
        )
    );
    let harness = Harness::start().await;
    harness.on(
        "POST",
        CONTACT_SEARCH,
        vec![json_response(
            404,
            json!({"message": "gone", "category": "OBJECT_NOT_FOUND", "subCategory": "crm.x"}),
        )],
    );
    let error = provider_error(
        harness
            .dispatch("hubspot_contact_upsert", input.clone())
            .await,
    );
    assert_eq!(
        error.code.as_deref(),
        Some("hubspot_object_not_found_crm.x")
    );
    let harness = Harness::start().await;
    harness.on("POST", CONTACT_SEARCH, vec![text_response(500, "oops")]);
    let error = provider_error(harness.dispatch("hubspot_contact_upsert", input).await);
    assert_eq!(error.code.as_deref(), Some("hubspot_error"));
    assert_eq!(
        error.message,
        "HubSpot request failed: 500 hubspot_error oops"
    );
    // The search is a POST without a key: not retried, nothing written.
    assert_eq!(harness.requests().len(), 1);
}

#[tokio::test]
async fn hubspot_step_retries() {
    let input = json!({"email": "a@b.co"});
    // Search 429 then 200, create 500: the create is not retried.
    let harness = Harness::start().await;
    harness
        .on(
            "POST",
            CONTACT_SEARCH,
            vec![
                text_response(429, ""),
                json_response(200, json!({"results": []})),
            ],
        )
        .on("POST", CONTACTS, vec![text_response(500, "")]);
    let error = provider_error(
        harness
            .dispatch("hubspot_contact_upsert", input.clone())
            .await,
    );
    assert_eq!((error.status, error.attempts), (500, 1));
    assert_eq!(harness.requests().len(), 3);
    // PATCH 500 three times.
    let harness = Harness::start().await;
    harness
        .on(
            "POST",
            CONTACT_SEARCH,
            vec![json_response(200, json!({"results": [{"id": "c1"}]}))],
        )
        .on(
            "PATCH",
            "/crm/v3/objects/contacts/c1",
            vec![text_response(500, "")],
        );
    let error = provider_error(harness.dispatch("hubspot_contact_upsert", input).await);
    assert_eq!((error.status, error.attempts), (500, 3));
    let patches = harness
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .count();
    assert_eq!(patches, 3);
}

#[tokio::test]
async fn hubspot_deal_upsert_flow_and_validation() {
    let harness = Harness::start().await;
    harness
        .on(
            "POST",
            "/crm/v3/objects/deals/search",
            vec![json_response(200, json!({"results": []}))],
        )
        .on(
            "POST",
            "/crm/v3/objects/deals",
            vec![json_response(201, json!({"id": "deal-1"}))],
        );
    let output = harness.dispatch("hubspot_deal_upsert", json!({"idProperty": " workerflow_external_id ", "idValue": "D-1", "properties": {"dealname": "Big", "workerflow_external_id": "old"}})).await
    .expect("created");
    assert_eq!(
        output.to_string(),
        r#"{"ok":true,"route":"hubspot_deal_upsert","id":"deal-1","created":true,"idProperty":"workerflow_external_id","idValue":"D-1"}"#
    );
    let requests = harness.requests();
    assert_eq!(
        requests[0].json()["filterGroups"][0]["filters"][0],
        json!({"propertyName": "workerflow_external_id", "operator": "EQ", "value": "D-1"})
    );
    assert_eq!(
        requests[1].body_text(),
        r#"{"properties":{"dealname":"Big","workerflow_external_id":"D-1"}}"#
    );
    let harness = Harness::start().await;
    harness
        .on(
            "POST",
            "/crm/v3/objects/deals/search",
            vec![json_response(200, json!({"results": [{"id": "d 2"}]}))],
        )
        .on(
            "PATCH",
            "/crm/v3/objects/deals/d%202",
            vec![json_response(200, json!({"id": "d2"}))],
        );
    let output = harness
        .dispatch(
            "hubspot_deal_upsert",
            json!({"idProperty": "k", "idValue": "v"}),
        )
        .await
        .expect("updated");
    assert_eq!(
        (output["id"].as_str(), output["created"].as_bool()),
        (Some("d2"), Some(false))
    );
    assert_eq!(
        harness.requests()[1].body_text(),
        r#"{"properties":{"k":"v"}}"#
    );

    let harness = Harness::start().await;
    let error = connector_error(
        harness
            .dispatch(
                "hubspot_deal_upsert",
                json!({"idProperty": 5, "idValue": ""}),
            )
            .await,
    );
    assert_eq!(
        error.to_string(),
        "hubspot_deal_upsert: \"idProperty\" must be a string; hubspot_deal_upsert: \"idValue\" must not be blank"
    );
    assert_eq!(error.status(), 400);
    harness.assert_untouched();
}

#[tokio::test]
async fn lead_normalizer_never_sends_anything() {
    let harness = Harness::start().await;
    let secrets = harness.secrets();
    let output = call(
        "lead_normalizer",
        json!({"firstName": "Ava", "lastName": "Ng", "email": " AVA@Example.COM ", "phone": "(555) 111-2222"}),
        &secrets,
    )
    .await
    .expect("normalized");
    assert_eq!(
        output.to_string(),
        r#"{"ok":true,"route":"lead_normalizer","normalized":{"fullName":"Ava Ng","email":"ava@example.com","phone":"5551112222","source":"unspecified"}}"#
    );
    let unknown = json!({"fullName": "Unknown", "email": "unknown@example.com", "phone": "", "source": "unspecified"});
    for input in [
        json!({}),
        json!({"fullName": null, "email": null, "phone": null, "source": null}),
    ] {
        let output = call("lead_normalizer", input, &secrets)
            .await
            .expect("defaults");
        assert_eq!(output["normalized"], unknown);
    }
    // A non-object input, or a field of another type, is refused (ROUTES.md 5).
    for (input, field, message) in [
        (json!("x"), "body", "payload body must be an object"),
        (json!(null), "body", "payload body must be an object"),
        (
            json!({"phone": 5551112222u64}),
            "phone",
            "\"phone\" must be a string or null",
        ),
    ] {
        let problems = input_problems(call("lead_normalizer", input, &secrets).await);
        assert_eq!(
            problems,
            [(field.to_owned(), format!("lead_normalizer: {message}"))]
        );
    }
    let output = call(
        "lead_normalizer",
        json!({"fullName": " Ava  Ng ", "firstName": "X", "phone": "+44 (0)20 ٧٧", "source": " ads "}),
        &secrets,
    )
    .await
    .expect("normalized");
    assert_eq!(output["normalized"]["fullName"], "Ava  Ng");
    assert_eq!(output["normalized"]["phone"], "+44020");
    assert_eq!(output["normalized"]["source"], "ads");
    let mut only_alias = harness.secrets();
    only_alias.remove("GOOGLEAI_API_KEY");
    only_alias.insert("LEAD_NORMALIZER_API_KEY", "k");
    call("lead_normalizer", json!({}), &only_alias)
        .await
        .expect("alias suffices");
    harness.assert_untouched();
}
