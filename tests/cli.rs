//! The `workerflow` binary as users run it: secrets from the environment, JSON on stdout, exit
//! statuses 0 (ok), 1 (a route failed or configuration is missing), 2 (usage).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

/// Every secret the 12 baseline routes need, with harmless values.
const ALL_SECRETS: &[(&str, &str)] = &[
    ("CHAT_WEBHOOK_URL", "http://127.0.0.1:9/hook"),
    ("SLACK_WEBHOOK_URL", "http://127.0.0.1:9/slack"),
    ("GITHUB_TOKEN", "ghp_test"),
    ("OPENAI_API_KEY", "sk-test"),
    ("STRIPE_API_KEY", "sk_test"),
    ("NOTION_TOKEN", "ntn_test"),
    ("HUBSPOT_ACCESS_TOKEN", "pat-test"),
    ("GOOGLEAI_API_KEY", "g-test"),
];

/// Runs the binary with exactly `env` as its environment and `stdin` as its input.
fn workerflow(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_workerflow"));
    command
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("the binary runs");
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes()).expect("stdin");
    }
    child.wait_with_output().expect("the binary finishes")
}

/// The 12 baseline routes this file's exact expectations cover.
const BASELINE: &[&str] = &[
    "slack_message",
    "notion_database_item_create",
    "notion_database_item_get",
    "hubspot_contact_upsert",
    "hubspot_deal_upsert",
    "stripe_payment_intent_create",
    "stripe_customer_upsert",
    "openai_chat",
    "chat_notify",
    "incident_create",
    "github_issue_create",
    "lead_normalizer",
];

/// Routes a contributor added to the registry (`workerflow-registry new`) besides the baseline,
/// each with the first name of every secret requirement. The baseline expectations below stay
/// exact; added routes are only counted and configured, so `cargo test` passes after `new`.
fn contributed_routes() -> Vec<(String, Vec<String>)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/connector-registry/services.json"
    );
    let registry = workerflow_registry::Registry::load(path).expect("the registry is valid");
    registry
        .services
        .iter()
        .flat_map(|s| s.runtime.iter().flat_map(|r| &r.routes))
        .filter(|route| !BASELINE.contains(&route.id.as_str()))
        .map(|route| {
            let names = route
                .secrets
                .iter()
                .filter_map(|s| s.any_of.first().cloned());
            (route.id.clone(), names.collect())
        })
        .collect()
}

/// The doctor's text without the lines of contributed routes.
fn baseline_lines(text: &str) -> String {
    let extra = contributed_routes();
    text.lines()
        .filter(|line| {
            !extra
                .iter()
                .any(|(id, _)| line.starts_with(&format!("{id}:")))
        })
        .map(|line| format!("{line}\n"))
        .collect()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json_stdout(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(output)))
}

#[test]
fn doctor_without_secrets_lists_every_route_and_fails() {
    let output = workerflow(&["doctor"], &[], None);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let total = BASELINE.len() + contributed_routes().len();
    assert_eq!(
        baseline_lines(&stdout(&output)),
        "\
slack_message: missing Slack webhook URL. Checked: SLACK_WEBHOOK_URL
notion_database_item_create: missing Notion token. Checked: NOTION_TOKEN
notion_database_item_get: missing Notion token. Checked: NOTION_TOKEN
hubspot_contact_upsert: missing HubSpot access token. Checked: HUBSPOT_ACCESS_TOKEN
hubspot_deal_upsert: missing HubSpot access token. Checked: HUBSPOT_ACCESS_TOKEN
stripe_payment_intent_create: missing Stripe API key. Checked: STRIPE_API_KEY
stripe_customer_upsert: missing Stripe API key. Checked: STRIPE_API_KEY
openai_chat: missing OpenAI API key. Checked: OPENAI_API_KEY
chat_notify: missing chat webhook URL. Checked: CHAT_WEBHOOK_URL, GCHAT_ALERTS_WEBHOOK_URL, GCHAT_ALERTS_WEBHOOK
incident_create: missing chat webhook URL. Checked: CHAT_WEBHOOK_URL, GCHAT_ALERTS_WEBHOOK_URL, GCHAT_ALERTS_WEBHOOK
github_issue_create: missing GitHub token. Checked: GITHUB_TOKEN
lead_normalizer: missing Google AI key. Checked: GOOGLEAI_API_KEY, LEAD_NORMALIZER_API_KEY
"
        .to_owned()
            + &format!("{total} of {total} routes lack configuration\n")
    );
    let output = workerflow(&["doctor", "--json"], &[], None);
    assert_eq!(output.status.code(), Some(1));
    let report = json_stdout(&output);
    assert_eq!(report["ok"], false);
    let routes = report["routes"].as_array().expect("routes");
    assert_eq!(routes.len(), total);
    assert!(
        routes
            .iter()
            .all(|r| r["implemented"] == true && r["configured"] == false)
    );
    let chat = routes
        .iter()
        .find(|r| r["route"] == "chat_notify")
        .expect("chat_notify");
    assert_eq!(
        chat["missing"],
        json!([{"kind": "missing", "label": "chat webhook URL", "checked": ["CHAT_WEBHOOK_URL", "GCHAT_ALERTS_WEBHOOK_URL", "GCHAT_ALERTS_WEBHOOK"]}])
    );
}

/// `doctor` names the routes that declare no hosts (their egress is not held to a list); the 12
/// baseline routes all declare theirs.
#[test]
fn doctor_names_the_routes_without_declared_hosts() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/connector-registry/services.json"
    );
    let registry = workerflow_registry::Registry::load(path).expect("the registry is valid");
    let undeclared: Vec<&str> = registry
        .services
        .iter()
        .flat_map(|s| s.runtime.iter().flat_map(|r| &r.routes))
        .filter(|route| route.hosts.is_none())
        .map(|route| route.id.as_str())
        .collect();
    assert!(undeclared.iter().all(|id| !BASELINE.contains(id)));
    let output = workerflow(&["doctor", "--json"], &[], None);
    assert_eq!(
        json_stdout(&output)["unrestrictedEgress"],
        json!(undeclared)
    );
    let text = stdout(&workerflow(&["doctor"], &[], None));
    let line = text
        .lines()
        .find(|line| line.starts_with("unrestricted egress"));
    match undeclared.as_slice() {
        [] => assert_eq!(line, None, "{text}"),
        ids => assert_eq!(
            line,
            Some(
                format!(
                    "unrestricted egress (no declared hosts): {}",
                    ids.join(", ")
                )
                .as_str()
            )
        ),
    }
}

#[test]
fn doctor_with_every_secret_passes() {
    let contributed = contributed_routes();
    let mut all: Vec<(&str, &str)> = ALL_SECRETS.to_vec();
    for (_, names) in &contributed {
        all.extend(names.iter().map(|name| (name.as_str(), "set")));
    }
    let output = workerflow(&["doctor"], &all, None);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let text = stdout(&output);
    assert!(
        baseline_lines(&text).starts_with("slack_message: ok\n"),
        "{text}"
    );
    let total = BASELINE.len() + contributed.len();
    assert!(
        text.ends_with(&format!("ok: all {total} routes are configured\n")),
        "{text}"
    );
    // The alias alone configures the lead normaliser.
    let mut env: Vec<(&str, &str)> = all
        .iter()
        .copied()
        .filter(|(n, _)| *n != "GOOGLEAI_API_KEY")
        .collect();
    env.push(("LEAD_NORMALIZER_API_KEY", "k"));
    assert_eq!(workerflow(&["doctor"], &env, None).status.code(), Some(0));
}

/// A deploy that runs three routes passes `doctor` with only their secrets set.
#[test]
fn doctor_considers_only_the_enabled_routes() {
    let env = [
        (
            "ENABLED_HTTP_ROUTES",
            "slack_message,github_issue_create, openai_chat,lead_normalizer",
        ),
        ("DISABLED_HTTP_ROUTES", "lead_normalizer"),
        ("SLACK_WEBHOOK_URL", "http://127.0.0.1:9/slack"),
        ("GITHUB_TOKEN", "ghp_test"),
        ("OPENAI_API_KEY", "sk-test"),
    ];
    let output = workerflow(&["doctor"], &env, None);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let disabled = BASELINE.len() + contributed_routes().len() - 3;
    assert_eq!(
        baseline_lines(&stdout(&output)),
        format!(
            "\
slack_message: ok
notion_database_item_create: disabled (not in ENABLED_HTTP_ROUTES)
notion_database_item_get: disabled (not in ENABLED_HTTP_ROUTES)
hubspot_contact_upsert: disabled (not in ENABLED_HTTP_ROUTES)
hubspot_deal_upsert: disabled (not in ENABLED_HTTP_ROUTES)
stripe_payment_intent_create: disabled (not in ENABLED_HTTP_ROUTES)
stripe_customer_upsert: disabled (not in ENABLED_HTTP_ROUTES)
openai_chat: ok
chat_notify: disabled (not in ENABLED_HTTP_ROUTES)
incident_create: disabled (not in ENABLED_HTTP_ROUTES)
github_issue_create: ok
lead_normalizer: disabled (in DISABLED_HTTP_ROUTES)
ok: all 3 enabled routes are configured ({disabled} disabled)
"
        )
    );
    // An enabled route's missing secret still fails it.
    let without_github: Vec<(&str, &str)> = env
        .iter()
        .copied()
        .filter(|(name, _)| *name != "GITHUB_TOKEN")
        .collect();
    let output = workerflow(&["doctor"], &without_github, None);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(
        text.contains("github_issue_create: missing GitHub token. Checked: GITHUB_TOKEN\n"),
        "{text}"
    );
    assert!(
        text.ends_with(&format!(
            "1 of 3 enabled routes lack configuration ({disabled} disabled)\n"
        )),
        "{text}"
    );

    let output = workerflow(&["doctor", "--json"], &env, None);
    assert_eq!(output.status.code(), Some(0));
    let report = json_stdout(&output);
    assert_eq!(report["ok"], true);
    let stripe = report["routes"]
        .as_array()
        .and_then(|routes| {
            routes
                .iter()
                .find(|r| r["route"] == "stripe_customer_upsert")
        })
        .cloned()
        .expect("stripe_customer_upsert");
    assert_eq!(
        stripe,
        json!({"route": "stripe_customer_upsert", "service": "stripe", "enabled": false,
               "disabledBy": "ENABLED_HTTP_ROUTES", "implemented": true, "configured": false,
               "missing": [{"kind": "missing", "label": "Stripe API key", "checked": ["STRIPE_API_KEY"]}]})
    );

    // The listing shows it too, and a call of a disabled route is refused before anything runs.
    let text = stdout(&workerflow(&["routes"], &env, None));
    assert!(
        text.contains("lead_normalizer (sync, Google AI): disabled (in DISABLED_HTTP_ROUTES)\n"),
        "{text}"
    );
    let listing = json_stdout(&workerflow(&["routes", "--json"], &env, None));
    let slack = &listing["routes"][0];
    assert_eq!(
        (&slack["route"], &slack["enabled"], &slack["disabledBy"]),
        (&json!("slack_message"), &json!(true), &Value::Null)
    );
    let output = workerflow(&["call", "chat_notify", "--payload", "{}"], &env, None);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        json_stdout(&output),
        json!({"ok": false, "status": 404, "class": "route_disabled", "transient": false,
               "message": "route \"chat_notify\" is disabled in this deployment (not in ENABLED_HTTP_ROUTES)",
               "route": "chat_notify", "disabledBy": "ENABLED_HTTP_ROUTES"})
    );
}

#[test]
fn an_unknown_route_in_the_enablement_settings_is_a_usage_error() {
    let output = workerflow(
        &["doctor"],
        &[
            ("ENABLED_HTTP_ROUTES", "slack_mesage,stripe"),
            ("DISABLED_HTTP_ROUTES", " , "),
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(stdout(&output), "");
    assert_eq!(
        stderr(&output),
        "\
error: ENABLED_HTTP_ROUTES names unknown route \"slack_mesage\"; did you mean \"slack_message\"?
error: ENABLED_HTTP_ROUTES names unknown route \"stripe\"
error: DISABLED_HTTP_ROUTES lists no route id; unset it or name routes separated by commas
"
    );
}

#[test]
fn routes_lists_requirements_settings_and_state() {
    let env = [
        ("GITHUB_TOKEN", "ghp_test"),
        ("GITHUB_REPO", "acme/widgets"),
    ];
    let output = workerflow(&["routes", "--json"], &env, None);
    assert_eq!(output.status.code(), Some(0));
    let listing = json_stdout(&output);
    let routes = listing["routes"].as_array().expect("routes");
    assert_eq!(routes.len(), BASELINE.len() + contributed_routes().len());
    let github = routes
        .iter()
        .find(|r| r["route"] == "github_issue_create")
        .expect("github");
    // Issue 32: `service` is the service's id, as in `doctor --json` and `GET /api/routes`
    // (it was the display name), and `serviceName` the display name beside it.
    let keys: Vec<&str> = github
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "route",
            "service",
            "serviceName",
            "requestType",
            "summary",
            "enabled",
            "disabledBy",
            "implemented",
            "configured",
            "secrets",
            "settings"
        ]
    );
    assert_eq!(
        (&github["service"], &github["serviceName"]),
        (&json!("github"), &json!("GitHub"))
    );
    assert_eq!(github["configured"], true);
    assert_eq!(github["requestType"], "async");
    assert_eq!(
        github["secrets"],
        json!([{"label": "GitHub token", "anyOf": ["GITHUB_TOKEN"], "setBy": "GITHUB_TOKEN"}])
    );
    assert_eq!(
        github["settings"],
        json!([
            {"name": "GITHUB_REPO", "label": "GitHub repository", "kind": "text", "set": true, "default": null},
            {"name": "WORKERFLOW_GITHUB_BASE_URL", "label": "GitHub base URL", "kind": "base_url", "set": false, "default": "https://api.github.com"}
        ])
    );
    // No value ever appears in the listing.
    assert!(!stdout(&output).contains("ghp_test"));
    let text = stdout(&workerflow(&["routes"], &env, None));
    assert!(text.contains(
        "github_issue_create (async, GitHub): configured\n  Create an issue in a GitHub repository.\n  secret   GitHub token: GITHUB_TOKEN (set by GITHUB_TOKEN)\n  setting  GitHub repository: GITHUB_REPO (set)\n  setting  GitHub base URL: WORKERFLOW_GITHUB_BASE_URL (unset, default https://api.github.com)\n"
    ), "{text}");
}

/// A one-shot HTTP server on loopback: answers the first request with 200 and hands back its
/// request line and body.
fn one_shot_server() -> (String, mpsc::Receiver<(String, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let Ok((stream, _)) = listener.accept() else {
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let mut reader = BufReader::new(stream);
        let mut request_line = String::new();
        let _ = reader.read_line(&mut request_line);
        let mut length = 0;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                break;
            }
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        let _ = reader.read_exact(&mut body);
        let mut stream = reader.into_inner();
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        let _ = sender.send((
            request_line.trim_end().to_owned(),
            String::from_utf8_lossy(&body).into_owned(),
        ));
    });
    (format!("http://{address}"), receiver)
}

#[test]
fn call_slack_message_delivers_to_the_webhook() {
    let (base, received) = one_shot_server();
    let webhook = format!("{base}/services/T/B/X");
    let output = workerflow(
        &["call", "slack_message", "--payload", r#"{"text":"hi"}"#],
        &[("SLACK_WEBHOOK_URL", &webhook)],
        None,
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let host = base.trim_start_matches("http://");
    assert_eq!(
        json_stdout(&output),
        json!({"ok": true, "route": "slack_message", "delivered": true, "endpointHost": host})
    );
    let (request_line, body) = received
        .recv_timeout(Duration::from_secs(10))
        .expect("a request");
    assert_eq!(request_line, "POST /services/T/B/X HTTP/1.1");
    let body: Value = serde_json::from_str(&body).expect("JSON body");
    let text = body["text"].as_str().expect("text");
    let trace = text
        .strip_prefix("[WorkerFlow:")
        .and_then(|rest| rest.strip_suffix("] hi"))
        .expect("prefixed text");
    assert!(
        trace.starts_with("wf-") && trace.bytes().all(|b| b.is_ascii_graphic()),
        "{text}"
    );
}

#[test]
fn call_reads_stdin_and_files_and_takes_a_trace_id() {
    let env = [("GOOGLEAI_API_KEY", "g")];
    let expected = json!({"ok": true, "route": "lead_normalizer", "normalized": {"fullName": "Ava", "email": "unknown@example.com", "phone": "", "source": "unspecified"}});
    let output = workerflow(
        &["call", "lead_normalizer"],
        &env,
        Some(r#"{"firstName":"Ava"}"#),
    );
    assert_eq!(json_stdout(&output), expected);
    let file = std::env::temp_dir().join(format!("workerflow-cli-{}.json", std::process::id()));
    std::fs::write(&file, r#"{"firstName":"Ava"}"#).expect("write");
    let path = file.to_string_lossy().into_owned();
    let output = workerflow(
        &["call", "lead_normalizer", "--payload-file", &path],
        &env,
        None,
    );
    let _ = std::fs::remove_file(&file);
    assert_eq!(json_stdout(&output), expected);
    // The payload is wrapped: a `body` field of the caller's is not an envelope.
    let (base, received) = one_shot_server();
    let webhook = format!("{base}/hook");
    let output = workerflow(
        &[
            "call",
            "chat_notify",
            "--trace-id",
            "run-7",
            "--payload",
            r#"{"text":"t","body":"x"}"#,
        ],
        &[("CHAT_WEBHOOK_URL", &webhook)],
        None,
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let (_, body) = received
        .recv_timeout(Duration::from_secs(10))
        .expect("a request");
    assert_eq!(body, r#"{"text":"[WorkerFlow:run-7] t"}"#);
}

#[test]
fn call_failures_print_the_error_json() {
    let output = workerflow(&["call", "slak_message", "--payload", "{}"], &[], None);
    assert_eq!(output.status.code(), Some(1));
    let error = json_stdout(&output);
    assert_eq!(error["class"], "unknown_route");
    assert_eq!(error["suggestion"], "slack_message");
    assert_eq!(
        stderr(&output),
        "error: unknown route \"slak_message\"; did you mean \"slack_message\"?\n"
    );

    let output = workerflow(
        &["call", "slack_message", "--payload", r#"{"text":"hi"}"#],
        &[],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    let error = json_stdout(&output);
    assert_eq!(
        error,
        json!({
            "ok": false, "status": 500, "class": "config", "transient": false,
            "message": "route \"slack_message\": missing Slack webhook URL. Checked: SLACK_WEBHOOK_URL",
            "route": "slack_message",
            "problems": [{"kind": "missing", "label": "Slack webhook URL", "checked": ["SLACK_WEBHOOK_URL"]}]
        })
    );

    let output = workerflow(
        &["call", "slack_message", "--payload", r#"{"text": 5}"#],
        &[("SLACK_WEBHOOK_URL", "http://127.0.0.1:9/x")],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        json_stdout(&output)["problems"],
        json!([{
            "field": "text",
            "pointer": "/text",
            "message": "slack_message: \"text\" must be a string"
        }])
    );
}

#[test]
fn malformed_payloads_are_usage_errors_with_a_position() {
    let output = workerflow(
        &["call", "slack_message", "--payload", "{\"text\":\n  }"],
        &[],
        None,
    );
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "error: --payload is not valid JSON: expected value (line 2, column 3)\n"
    );
    assert!(output.stdout.is_empty());
    let output = workerflow(&["call", "lead_normalizer"], &[], Some("[1,"));
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "error: standard input is not valid JSON: EOF while parsing a value (line 1, column 3)\n"
    );
    let output = workerflow(
        &[
            "call",
            "lead_normalizer",
            "--payload-file",
            "/nonexistent/x.json",
        ],
        &[],
        None,
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).starts_with("error: cannot read /nonexistent/x.json: "));
    let output = workerflow(
        &[
            "call",
            "lead_normalizer",
            "--trace-id",
            "a\tb",
            "--payload",
            "{}",
        ],
        &[],
        None,
    );
    assert_eq!(output.status.code(), Some(2));
    let output = workerflow(&["frobnicate"], &[], None);
    assert_eq!(output.status.code(), Some(2));
}
