//! The crate's own OpenAPI document, generated beside its registry module: its routes, not the
//! toolkit's.

use workerflow_user_example::registry;

#[test]
fn the_openapi_document_lists_this_crates_routes() {
    let document: serde_json::Value =
        serde_json::from_str(registry::OPENAPI_JSON).expect("the document is JSON");
    assert_eq!(document["openapi"], "3.1.0");
    let paths: Vec<&str> = document["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .map(String::as_str)
        .filter(|path| path.starts_with("/api/") && *path != "/api/routes")
        .collect();
    assert_eq!(paths, ["/api/greet", "/api/word_count"]);
    assert!(!registry::OPENAPI_JSON.contains("/api/slack_message"));
    // No `name` in this registry: the default title.
    assert_eq!(document["info"]["title"], "Connector registry API");
}
