//! The tools as an MCP client sees their answers, without the transport: the bundled registry,
//! registry fixtures, bad arguments, a missing or invalid registry, a registry edited between
//! calls, and `scaffold_connector` in a scratch crate. `tests/mcp.rs` (root package) drives the
//! same server through the official Python client over stdio.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rmcp::model::CallToolResult;
use serde_json::{Value, json};
use workerflow_mcp::RegistryServer;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The bundled registry as the model loads it: the counts the tools report come from here.
fn registry() -> workerflow_registry::Registry {
    workerflow_registry::Registry::load(repo().join("connector-registry/services.json"))
        .expect("the registry is valid")
}

fn bundled() -> RegistryServer {
    RegistryServer::new(Ok(repo().join("connector-registry/services.json")))
}

/// Service `id` as `services.json` declares it.
fn declared_service(id: &str) -> Value {
    let text = std::fs::read_to_string(repo().join("connector-registry/services.json")).unwrap();
    let registry: Value = serde_json::from_str(&text).unwrap();
    let services = registry["services"].as_array().unwrap();
    services.iter().find(|s| s["id"] == id).unwrap().clone()
}

fn fixture(name: &str) -> RegistryServer {
    RegistryServer::new(Ok(repo()
        .join("registry-compiler/tests/fixtures")
        .join(name)))
}

/// The call's answer: `Ok((is_error, structured content, text))`, or the protocol error's text.
fn call(server: &RegistryServer, tool: &str, args: Value) -> Result<(bool, Value, String), String> {
    let args = match args {
        Value::Object(object) => Some(object),
        _ => None,
    };
    let result: CallToolResult = server
        .call(tool, args)
        .map_err(|e| e.message.into_owned())?;
    let text = result
        .content
        .iter()
        .filter_map(|block| block.as_text().map(|text| text.text.clone()))
        .collect::<Vec<_>>()
        .join("\n");
    Ok((
        result.is_error == Some(true),
        result.structured_content.unwrap_or(Value::Null),
        text,
    ))
}

fn ok(server: &RegistryServer, tool: &str, args: Value) -> Value {
    let (is_error, value, text) = call(server, tool, args).expect("no protocol error");
    assert!(!is_error, "{tool} failed: {text}");
    value
}

fn tool_error(server: &RegistryServer, tool: &str, args: Value) -> (Value, String) {
    let (is_error, value, text) = call(server, tool, args).expect("no protocol error");
    assert!(is_error, "{tool} did not fail: {value}");
    (value, text)
}

#[test]
fn the_tool_list_and_its_input_schemas_are_exact() {
    let tools: Vec<Value> = RegistryServer::tools()
        .into_iter()
        .map(|tool| serde_json::to_value(tool).unwrap())
        .collect();
    insta::assert_json_snapshot!("tools", tools);
}

#[test]
fn search_ranks_the_exact_name_first_and_filters() {
    let server = bundled();
    let found = ok(&server, "search_services", json!({"query": "slack"}));
    assert_eq!(found["results"][0]["id"], "slack");
    assert_eq!(
        found["results"][0],
        json!({"id": "slack", "name": "Slack", "vendor": "Slack", "auth": "oauth2",
               "confidence": "High", "docsUrl": "https://api.slack.com/", "routes": ["slack_message"],
               "oauth2": false})
    );
    // A secret name is matched, as on the docs page.
    let found = ok(
        &server,
        "search_services",
        json!({"query": "STRIPE_API_KEY"}),
    );
    assert_eq!(found["results"][0]["id"], "stripe");
    // Every term must match.
    let found = ok(
        &server,
        "search_services",
        json!({"query": "slack no-such-term"}),
    );
    assert_eq!(
        found,
        json!({"query": "slack no-such-term", "total": 0, "results": []})
    );
    // An empty query lists services in the registry's rank order; filters narrow it.
    let all = ok(
        &server,
        "search_services",
        json!({"query": "", "limit": 100}),
    );
    assert_eq!(all["total"], registry().services.len());
    assert_eq!(all["results"].as_array().unwrap().len(), 100);
    let routed = ok(
        &server,
        "search_services",
        json!({"query": "", "has_routes": true, "auth": "api_key", "limit": 100}),
    );
    let ids: Vec<&str> = routed["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(!ids.is_empty());
    for result in routed["results"].as_array().unwrap() {
        assert_eq!(result["auth"], "api_key");
        assert!(!result["routes"].as_array().unwrap().is_empty());
    }
    let two = ok(&server, "search_services", json!({"query": "", "limit": 2}));
    assert_eq!(two["results"].as_array().unwrap().len(), 2);
    assert_eq!(two["results"][0]["id"], all["results"][0]["id"]);
}

#[test]
fn get_service_returns_every_field_the_registry_declares() {
    let server = bundled();
    let answer = ok(&server, "get_service", json!({"id": "slack"}));
    assert_eq!(answer, declared_service("slack"));
}

#[test]
fn get_route_returns_the_contract_and_the_rust_items() {
    let server = bundled();
    let route = ok(&server, "get_route", json!({"id": "slack_message"}));
    let declared = &declared_service("slack")["runtime"]["routes"][0];
    // Every part the registry declares (the contract included) comes back as declared.
    for (part, value) in declared.as_object().unwrap() {
        assert_eq!(&route[part], value, "{part}");
    }
    assert_eq!(route["contractDeclared"], true);
    assert_eq!(
        route["http"],
        json!({"method": "POST", "path": "/api/slack_message"})
    );
    assert_eq!(
        route["rustItems"]["secrets"],
        json!(["registry::routes::slack_message::SLACK_WEBHOOK_URL"])
    );
    assert_eq!(
        route["rustItems"]["attribute"],
        "#[connector(route = slack_message)]"
    );
    // A route without a contract says so.
    let server = fixture("valid/minimal.json");
    let bare = ok(&server, "get_route", json!({"id": "slack_message"}));
    assert_eq!(bare["contractDeclared"], false);
    assert_eq!(bare["input"], Value::Null);
}

/// HubSpot's OAuth app comes back as declared, in `get_service` and in its routes' answers,
/// with how a call names its connection.
#[test]
fn oauth_apps_and_connections_are_answered() {
    let server = bundled();
    let declared = declared_service("hubspot");
    assert!(declared["oauth2"].is_object());
    assert_eq!(
        ok(&server, "get_service", json!({"id": "hubspot"})),
        declared
    );
    let found = ok(&server, "search_services", json!({"query": "hubspot"}));
    assert_eq!(found["results"][0]["oauth2"], true);
    let route = ok(
        &server,
        "get_route",
        json!({"id": "hubspot_contact_upsert"}),
    );
    assert_eq!(route["auth"], "oauth2");
    assert_eq!(route["service"]["oauth2"], declared["oauth2"]);
    assert_eq!(
        route["connection"],
        json!({"header": "workerflow-connection", "envelopeField": "connection",
               "required": false, "withoutConnection": ["HUBSPOT_ACCESS_TOKEN"]})
    );
    assert_eq!(route["secrets"][0]["unlessConnection"], true);
    // Another route takes no connection, and its service has no app.
    let slack = ok(&server, "get_route", json!({"id": "slack_message"}));
    assert_eq!(slack["connection"], Value::Null);
    assert_eq!(slack["service"]["oauth2"], Value::Null);
}

#[test]
fn unknown_ids_name_the_nearest_one() {
    let server = bundled();
    let (details, text) = tool_error(&server, "get_service", json!({"id": "slak"}));
    assert_eq!(text, "no service has id `slak`; the nearest id is `slack`");
    assert_eq!(
        details,
        json!({"error": "unknown_service", "id": "slak", "nearest": "slack"})
    );
    let (_, text) = tool_error(&server, "get_service", json!({"id": "hubspot_crm"}));
    assert_eq!(
        text,
        "no service has id `hubspot_crm`; the nearest id is `hubspot`"
    );
    let (_, text) = tool_error(&server, "get_route", json!({"id": "slack_mesage"}));
    assert_eq!(
        text,
        "no route has id `slack_mesage`; the nearest id is `slack_message`"
    );
    let (details, text) = tool_error(&server, "get_route", json!({"id": "zzzzzzzzzzzz"}));
    assert_eq!(
        text,
        "no route has id `zzzzzzzzzzzz`, and none is near it; get_service lists a service's routes"
    );
    assert_eq!(details["nearest"], Value::Null);
}

#[test]
fn malformed_arguments_are_protocol_errors_that_say_what_is_wrong() {
    let server = bundled();
    let cases = [
        (
            "search_services",
            json!({}),
            "invalid arguments for search_services: missing field `query`",
        ),
        (
            "search_services",
            json!({"query": 5}),
            "invalid arguments for search_services: invalid type: integer `5`, expected a string",
        ),
        (
            "search_services",
            json!({"query": "x", "limt": 3}),
            "invalid arguments for search_services: unknown field `limt`, expected one of `query`, `auth`, `has_routes`, `limit`",
        ),
        (
            "search_services",
            json!({"query": "x", "auth": "oauth"}),
            "invalid arguments for search_services: unknown variant `oauth`, expected one of `oauth2`, `api_key`, `token`, `basic`, `webhook`, `none`, `mixed`, `unknown`",
        ),
        (
            "search_services",
            json!({"query": "x", "limit": 0}),
            "invalid arguments for search_services: `limit` must be 1 to 100, found 0",
        ),
        (
            "get_route",
            json!({"id": ["slack_message"]}),
            "invalid arguments for get_route: invalid type: sequence, expected a string",
        ),
        (
            "check_registry",
            json!({"path": "x"}),
            "invalid arguments for check_registry: unknown field `path`, there are no fields",
        ),
        (
            "scaffold_connector",
            json!({"service": "Acme"}),
            "invalid arguments for scaffold_connector: missing field `route`",
        ),
        (
            "search_service",
            json!({"query": "x"}),
            "unknown tool `search_service`; did you mean `search_services`? (tools: search_services, get_service, get_route, check_registry, scaffold_connector)",
        ),
    ];
    for (tool, args, expected) in cases {
        assert_eq!(call(&server, tool, args).unwrap_err(), expected);
    }
}

#[test]
fn an_invalid_registry_is_a_tool_error_with_its_diagnostics() {
    let server = fixture("invalid/combo_schema_and_rules.json");
    let checked = ok(&server, "check_registry", json!({}));
    assert_eq!(checked["valid"], false);
    let first = &checked["diagnostics"][0];
    assert!(first["line"].as_u64().unwrap() > 0 && first["column"].as_u64().unwrap() > 0);
    assert!(first["code"].as_str().unwrap().starts_with("WF"));
    assert_eq!(
        checked["errors"].as_u64().unwrap() as usize,
        checked["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["severity"] == "error")
            .count()
    );
    let (details, text) = tool_error(&server, "search_services", json!({"query": "slack"}));
    assert_eq!(details["error"], "invalid_registry");
    assert_eq!(details["diagnostics"], checked["diagnostics"]);
    assert!(
        text.starts_with("the registry does not load; fix these problems"),
        "{text}"
    );
    assert!(text.contains("combo_schema_and_rules.json:"), "{text}");
    // A valid registry checks clean.
    let clean = ok(&bundled(), "check_registry", json!({}));
    assert_eq!(
        (
            clean["valid"].clone(),
            clean["errors"].clone(),
            clean["routes"].clone()
        ),
        (json!(true), json!(0), json!(registry().routes().count()))
    );
}

#[test]
fn a_missing_registry_is_every_tools_error_and_never_a_crash() {
    let server = RegistryServer::new(Err(
        "no connector-registry/services.json in /tmp or any parent directory".into(),
    ));
    for (tool, args) in [
        ("search_services", json!({"query": "slack"})),
        ("get_service", json!({"id": "slack"})),
        ("get_route", json!({"id": "slack_message"})),
        ("check_registry", json!({})),
        (
            "scaffold_connector",
            json!({"service": "Acme", "route": "acme_x"}),
        ),
    ] {
        let (details, text) = tool_error(&server, tool, args);
        assert_eq!(
            text,
            "no connector-registry/services.json in /tmp or any parent directory"
        );
        assert_eq!(details["error"], "no_registry");
    }
    let server = RegistryServer::new(Ok(PathBuf::from("/nonexistent/services.json")));
    let (details, text) = tool_error(&server, "check_registry", json!({}));
    assert_eq!(details["error"], "unreadable");
    assert!(
        text.starts_with("cannot read /nonexistent/services.json: "),
        "{text}"
    );
}

/// A scratch directory holding a copy of `from` (files only, recursively).
fn scratch(name: &str, from: &Path) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wf-mcp-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(from, &dir);
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// Every file under `dir` with its bytes.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

#[test]
fn scaffold_connector_plans_what_new_would_write_and_writes_nothing() {
    let dir = scratch(
        "scaffold",
        &repo().join("registry-compiler/tests/fixtures/scaffold-crate"),
    );
    std::fs::rename(dir.join("Cargo.toml.in"), dir.join("Cargo.toml")).unwrap();
    let before = tree(&dir);
    let server = RegistryServer::new(Ok(dir.join("connector-registry/services.json")));
    let plan = ok(
        &server,
        "scaffold_connector",
        json!({"service": "Acme CRM", "route": "acme_contact_upsert", "secrets": ["ACME_API_KEY"],
               "auth": "api_key", "docs": "https://docs.acme.example/api"}),
    );
    assert_eq!(tree(&dir), before, "scaffold_connector changed the tree");
    assert_eq!(plan["written"], false);
    assert_eq!(plan["serviceId"], "acme_crm");
    assert_eq!(plan["serviceIsNew"], true);
    assert_eq!(plan["examplesTest"], "planned");
    assert_eq!(plan["registry"], "connector-registry/services.json");
    let diff = plan["registryDiff"].as_str().unwrap();
    // The diff `new --dry-run` prints.
    assert!(diff.starts_with("--- connector-registry/services.json (on disk)\n+++ connector-registry/services.json (expected)\n"), "{diff}");
    assert!(diff.contains("\"id\": \"acme_contact_upsert\","), "{diff}");
    let files: Vec<(&str, &str)> = plan["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["path"].as_str().unwrap(), f["action"].as_str().unwrap()))
        .collect();
    assert_eq!(
        files,
        [
            ("src/connectors/acme_crm.rs", "create"),
            ("tests/connector_acme_crm.rs", "create"),
            ("tests/examples.rs", "create"),
            ("src/connectors/mod.rs", "create"),
            ("src/lib.rs", "replace"),
        ]
    );
    let connector = plan["files"][0]["contents"].as_str().unwrap();
    assert!(
        connector.contains("#[connector(route = acme_contact_upsert)]")
            && connector.contains(
                "ctx\n        .setting(acme_contact_upsert::WORKERFLOW_ACME_CRM_BASE_URL)"
            ),
        "{connector}"
    );
    // The same refusals as `new`.
    let (details, text) = tool_error(
        &server,
        "scaffold_connector",
        json!({"service": "Acme CRM", "route": "Bad Route"}),
    );
    assert_eq!(details["error"], "refused");
    assert!(text.starts_with("invalid route id `Bad Route`"), "{text}");
    assert_eq!(tree(&dir), before);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_edited_registry_is_read_again() {
    let dir = scratch(
        "reload",
        &repo().join("registry-compiler/tests/fixtures/valid"),
    );
    let path = dir.join("minimal.json");
    let server = RegistryServer::new(Ok(path.clone()));
    assert_eq!(ok(&server, "check_registry", json!({}))["valid"], true);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("\"confidence\": \"High\"", "\"confidence\": \"high\""),
    )
    .unwrap();
    let checked = ok(&server, "check_registry", json!({}));
    assert_eq!(checked["valid"], false);
    assert_eq!(checked["diagnostics"][0]["help"], "did you mean `High`?");
    std::fs::write(&path, &text).unwrap();
    assert_eq!(
        ok(&server, "search_services", json!({"query": "slack"}))["total"],
        1
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 30.6: an edit that keeps the size and puts the modification time back is still seen
/// (the status-change time moves), and a FIFO at the registry path is refused at once instead of
/// blocking every tool on a read that never ends.
#[test]
fn a_same_size_edit_is_seen_and_a_fifo_never_blocks() {
    let dir = scratch(
        "same-size",
        &repo().join("registry-compiler/tests/fixtures/valid"),
    );
    let path = dir.join("minimal.json");
    let server = RegistryServer::new(Ok(path.clone()));
    assert_eq!(ok(&server, "check_registry", json!({}))["valid"], true);
    let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = text.replace("\"confidence\": \"High\"", "\"confidence\": \"high\"");
    assert_eq!(edited.len(), text.len());
    std::fs::write(&path, &edited).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(modified)
        .unwrap();
    assert_eq!(ok(&server, "check_registry", json!({}))["valid"], false);

    let fifo = dir.join("fifo.json");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let server = RegistryServer::new(Ok(fifo));
    let (answered, answer) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = answered.send(call(&server, "check_registry", json!({})));
    });
    let answer = answer
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("check_registry answered instead of blocking on the FIFO");
    let (is_error, _, text) = answer.expect("no protocol error");
    assert!(is_error, "{text}");
    assert!(text.contains("not a regular file (a FIFO)"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The resources are the repository's docs, compiled in: the build spec, the route reference and
/// the agent playbook, each exactly as in `docs/`.
#[test]
fn the_resources_are_the_docs_as_written() {
    let resources = RegistryServer::resources();
    let listed: Vec<(&str, &str)> = resources
        .iter()
        .map(|(resource, _)| (resource.uri.as_str(), resource.name.as_str()))
        .collect();
    assert_eq!(
        listed,
        [
            (
                "workerflow://docs/CONNECTOR_BUILD_SPEC.md",
                "Connector build spec"
            ),
            ("workerflow://docs/ROUTES.md", "Route reference"),
            (
                "workerflow://docs/AGENT_CONNECTOR_PLAYBOOK.md",
                "Agent playbook"
            ),
        ]
    );
    for (resource, text) in &resources {
        let file = resource.uri.as_str().trim_start_matches("workerflow://");
        assert_eq!(
            *text,
            std::fs::read_to_string(repo().join(file)).unwrap(),
            "{file}"
        );
        assert_eq!(resource.size, Some(text.len() as u64));
    }
}
