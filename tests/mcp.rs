//! `workerflow mcp` driven by a real MCP client: the official Python SDK (PyPI `mcp`, pinned and
//! installed by `.ci/run`) over stdio, through `tests/mcp_client.py`. The tools' answers in
//! detail are in `mcp/tests/tools.rs`; this checks what an agent's client sees end to end.
//!
//! On CI (`CI` set) the SDK must be installed; elsewhere the test is skipped with a message.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use workerflow_registry::build_script::on_ci;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn sdk_installed() -> bool {
    let found = Command::new("python3")
        .args(["-c", "import mcp"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !found {
        assert!(
            !on_ci(),
            "CI is set but the MCP Python SDK is missing (pip install 'mcp==2.3.0')"
        );
        eprintln!("skipped: the MCP Python SDK is not installed (pip install 'mcp==2.3.0')");
    }
    found
}

/// Runs `steps` in one session of `workerflow mcp ARGS` started in `cwd`; the answers, after
/// the first one (the server's name and protocol version), which is checked here.
fn session(cwd: &Path, args: &[&str], steps: &Value) -> Vec<Value> {
    let mut child = Command::new("python3")
        .arg(repo().join("tests/mcp_client.py"))
        .arg(cwd)
        .arg(env!("CARGO_BIN_EXE_workerflow"))
        .arg("mcp")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(steps.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().expect("client ran");
    assert!(
        output.status.success(),
        "the client failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut answers: Vec<Value> = serde_json::from_slice(&output.stdout).expect("JSON answers");
    let hello = answers.remove(0);
    assert_eq!(hello["server"], "workerflow");
    assert!(hello["protocolVersion"].is_string());
    answers
}

fn call(tool: &str, args: Value) -> Value {
    json!({"op": "call", "tool": tool, "args": args})
}

/// Every file under `dir` (but `target/` and `.git/`) with its length and modification time.
fn tree(dir: &Path) -> Vec<(PathBuf, u64, std::time::SystemTime)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap().flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if name == "target" || name == ".git" {
                continue;
            }
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                pending.push(path);
            } else {
                files.push((path, meta.len(), meta.modified().unwrap()));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn an_mcp_client_lists_and_calls_every_tool_on_the_bundled_registry() {
    if !sdk_installed() {
        return;
    }
    let before = tree(&repo());
    let steps = json!([
        {"op": "list_tools"},
        call("search_services", json!({"query": "slack"})),
        call("get_service", json!({"id": "slack"})),
        call("get_route", json!({"id": "slack_message"})),
        call("check_registry", json!({})),
        call("scaffold_connector", json!({"service": "Acme CRM", "route": "acme_contact_upsert", "secrets": ["ACME_API_KEY"], "auth": "api_key"})),
        {"op": "list_resources"},
        {"op": "read_resource", "uri": "workerflow://docs/ROUTES.md"},
        {"op": "read_resource", "uri": "workerflow://docs/AGENT_CONNECTOR_PLAYBOOK.md"},
    ]);
    // No --registry: the server finds connector-registry/services.json from its directory.
    let answers = session(&repo().join("src"), &[], &steps);

    let names: Vec<&str> = answers[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| tool["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "search_services",
            "get_service",
            "get_route",
            "check_registry",
            "scaffold_connector"
        ]
    );
    assert_eq!(answers[0][0]["inputSchema"]["required"], json!(["query"]));
    assert_eq!(answers[0][0]["inputSchema"]["additionalProperties"], false);

    let search = &answers[1];
    assert_eq!(search["isError"], false);
    assert_eq!(search["structured"]["results"][0]["id"], "slack");
    assert_eq!(
        search["structured"]["results"][0]["routes"],
        json!(["slack_message"])
    );

    let registry: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("connector-registry/services.json")).unwrap(),
    )
    .unwrap();
    let slack = registry["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "slack")
        .unwrap();
    assert_eq!(answers[2]["structured"], *slack);

    let route = &answers[3]["structured"];
    for (part, value) in slack["runtime"]["routes"][0].as_object().unwrap() {
        assert_eq!(&route[part], value, "{part}");
    }
    assert_eq!(
        route["rustItems"]["marker"],
        "registry::routes::slack_message::Route"
    );

    let checked = &answers[4];
    assert_eq!(checked["structured"]["valid"], true);
    assert_eq!(checked["structured"]["errors"], 0);
    let bundled =
        workerflow_registry::Registry::load(repo().join("connector-registry/services.json"))
            .expect("the registry is valid");
    assert_eq!(
        checked["text"],
        format!(
            "ok: {} services, {} runtime routes\n",
            bundled.services.len(),
            bundled.routes().count()
        )
    );

    let plan = &answers[5]["structured"];
    assert_eq!(answers[5]["isError"], false, "{}", answers[5]["text"]);
    assert_eq!(plan["written"], false);
    assert_eq!(plan["files"][0]["path"], "src/connectors/acme_crm.rs");
    assert!(
        plan["registryDiff"]
            .as_str()
            .unwrap()
            .contains("+      \"connectorName\": \"Acme CRM\",")
    );
    assert_eq!(tree(&repo()), before, "scaffold_connector changed the tree");

    let resources = answers[6].as_array().unwrap();
    let uris: Vec<&str> = resources
        .iter()
        .map(|r| r["uri"].as_str().unwrap())
        .collect();
    assert_eq!(
        uris,
        [
            "workerflow://docs/CONNECTOR_BUILD_SPEC.md",
            "workerflow://docs/ROUTES.md",
            "workerflow://docs/AGENT_CONNECTOR_PLAYBOOK.md"
        ]
    );
    assert!(resources.iter().all(|r| r["mimeType"] == "text/markdown"));
    assert_eq!(
        answers[7]["text"],
        std::fs::read_to_string(repo().join("docs/ROUTES.md")).unwrap()
    );
    // Compiled in: the playbook as it is in docs/.
    assert_eq!(
        answers[8]["text"],
        std::fs::read_to_string(repo().join("docs/AGENT_CONNECTOR_PLAYBOOK.md")).unwrap()
    );
}

#[test]
fn bad_input_is_an_error_the_client_can_read_and_the_server_keeps_answering() {
    if !sdk_installed() {
        return;
    }
    let broken =
        repo().join("registry-compiler/tests/fixtures/invalid/rule_duplicate_route_id.json");
    let steps = json!([
        call("check_registry", json!({})),
        call("get_route", json!({"id": "slack_message"})),
        call("search_services", json!({"query": 3})),
        call("get_service", json!({})),
        call("no_such_tool", json!({})),
        {"op": "read_resource", "uri": "workerflow://docs/NOPE.md"},
        call("check_registry", json!({})),
    ]);
    let answers = session(&repo(), &["--registry", broken.to_str().unwrap()], &steps);

    // check_registry answers with the diagnostics, located.
    let checked = &answers[0];
    assert_eq!(checked["isError"], false);
    assert_eq!(checked["structured"]["valid"], false);
    let diagnostic = &checked["structured"]["diagnostics"][0];
    assert_eq!(diagnostic["code"], "WF304");
    // Where `workerflow-registry check` puts it (registry-compiler/tests/snapshots).
    assert_eq!(
        (diagnostic["line"].clone(), diagnostic["column"].clone()),
        (json!(69), json!(19))
    );
    assert_eq!(diagnostic["pointer"], "/services/1/runtime/routes/0/id");
    assert!(
        checked["text"]
            .as_str()
            .unwrap()
            .contains("rule_duplicate_route_id.json:69:19"),
        "{}",
        checked["text"]
    );

    // Other tools cannot answer from it: a tool error with the same diagnostics.
    assert_eq!(answers[1]["isError"], true);
    assert_eq!(
        answers[1]["structured"]["diagnostics"],
        checked["structured"]["diagnostics"]
    );

    // Malformed arguments and unknown names are protocol errors that say what is wrong.
    assert_eq!(
        answers[2],
        json!({"error": {"code": -32602, "message": "invalid arguments for search_services: invalid type: integer `3`, expected a string"}})
    );
    assert_eq!(
        answers[3]["error"]["message"],
        "invalid arguments for get_service: missing field `id`"
    );
    assert_eq!(answers[4]["error"]["code"], -32602);
    assert!(
        answers[5]["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("no resource `workerflow://docs/NOPE.md`")
    );
    // The session is still up.
    assert_eq!(answers[6], answers[0]);
}

#[test]
fn without_a_registry_every_tool_says_how_to_name_one() {
    if !sdk_installed() {
        return;
    }
    let empty = std::env::temp_dir().join(format!("wf-mcp-empty-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let steps = json!([
        call("search_services", json!({"query": "slack"})),
        {"op": "list_tools"},
    ]);
    let answers = session(&empty, &[], &steps);
    assert_eq!(answers[0]["isError"], true);
    let text = answers[0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("no connector-registry/services.json in "),
        "{text}"
    );
    assert!(
        text.ends_with("= help: pass the registry path: workerflow mcp --registry PATH"),
        "{text}"
    );
    assert_eq!(answers[1].as_array().unwrap().len(), 5);
    let _ = std::fs::remove_dir_all(&empty);
}

/// The wire itself, without an SDK: a line that is not JSON (or too deep, or with a lone
/// surrogate) is `-32700`, JSON that is no message is `-32600`, parameters that do not parse
/// are `-32602` with serde's reason, an unknown method is `-32601`. Never silence.
#[test]
fn malformed_requests_on_the_wire_get_precise_errors() {
    let lines = [
        "this is not JSON".to_owned(),
        format!("{}{}", "[".repeat(500), "]".repeat(500)),
        r#"{"jsonrpc":"2.0","id":6,"method":"ping","params":{"s":"\ud800"}}"#.to_owned(),
        json!({"jsonrpc": "2.0", "id": 7, "params": {}}).to_string(),
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "test", "version": "0"}}}).to_string(),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string(),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "get_service", "arguments": "slack"}}).to_string(),
        json!({"jsonrpc": "2.0", "id": 3, "method": "resources/read", "params": {}}).to_string(),
        json!({"jsonrpc": "2.0", "id": 4, "method": "frobnicate", "params": {}}).to_string(),
        json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "get_service", "arguments": {"id": "slack"}}}).to_string(),
    ];
    let mut child = Command::new(env!("CARGO_BIN_EXE_workerflow"))
        .arg("mcp")
        .current_dir(repo())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start workerflow mcp");
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all((lines.join("\n") + "\n").as_bytes())
        .unwrap();
    // Closing stdin ends the session once every answer is written.
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let mut answers: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is JSON"))
        .collect();
    answers.sort_by_key(|answer| answer["id"].as_u64());
    // Frames without a readable id are answered with id null, first in the sorted order.
    let unreadable: Vec<Value> = answers
        .iter()
        .take_while(|a| a["id"].is_null())
        .map(|a| a["error"]["code"].clone())
        .collect();
    assert_eq!(unreadable, [json!(-32700), json!(-32700), json!(-32700)]);
    assert!(
        answers[0]["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("parse error: ")),
        "{answers:?}"
    );
    let answers: Vec<Value> = answers.split_off(unreadable.len());
    let ids: Vec<u64> = answers.iter().filter_map(|a| a["id"].as_u64()).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5, 7]);
    assert_eq!(answers[5]["error"]["code"], -32600);
    assert_eq!(
        answers[1]["error"],
        json!({"code": -32602, "message": "invalid params for tools/call: invalid type: string \"slack\", expected a map"})
    );
    assert_eq!(
        answers[2]["error"],
        json!({"code": -32602, "message": "invalid params for resources/read: missing field `uri`"})
    );
    assert_eq!(
        answers[3]["error"],
        json!({"code": -32601, "message": "unknown method `frobnicate`"})
    );
    assert_eq!(answers[4]["result"]["structuredContent"]["id"], "slack");
}
