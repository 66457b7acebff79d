//! Arbitrary payloads through the runtime's dispatch into each of the 12 baseline routes, with
//! every secret configured and the provider answering from the fuzz input through an in-memory
//! transport (no socket is opened). Checks that no call panics, that outputs and errors serialize,
//! and that no secret value reaches an error unless the fuzz input itself contained it. The same
//! payload is also prepared against every route's input schema (no handler runs): the verdict
//! is deterministic and every problem is well formed.
#![no_main]

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use serde_json::json;
use workerflow_fuzz::{Json, Reply, ScriptedTransport};
use workerflow_runtime::http::{HttpClient, HttpPolicy};
use workerflow_runtime::{ConnectorError, DispatchError, MapSecrets, RouteSpec, RouteTable};

static TRANSPORT: LazyLock<Arc<ScriptedTransport>> = LazyLock::new(Default::default);
static ROUTES: LazyLock<RouteTable> = LazyLock::new(|| {
    let policy = HttpPolicy {
        attempt_timeout: Duration::from_secs(5),
        deadline: Duration::from_secs(10),
        max_retries: 2,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(1),
        jitter: Duration::ZERO,
    };
    let transport: Arc<ScriptedTransport> = TRANSPORT.clone();
    workerflow::registry::linked()
        .expect("one handler per route")
        .with_http(HttpClient::with_transport(policy, transport))
});

/// An address nothing listens on; the transport never connects anyway.
const BASE: &str = "http://127.0.0.1:9";
const WEBHOOK: &str = "http://127.0.0.1:9/hook/SECRETPATH?token=SECRETTOKEN";

const SECRETS: [(&str, &str); 8] = [
    ("CHAT_WEBHOOK_URL", WEBHOOK),
    ("SLACK_WEBHOOK_URL", WEBHOOK),
    ("GITHUB_TOKEN", "ghp_SECRET_2"),
    ("OPENAI_API_KEY", "sk-openai-SECRET_3"),
    ("STRIPE_API_KEY", "sk_test_SECRET_1"),
    ("NOTION_TOKEN", "ntn_SECRET_4"),
    ("HUBSPOT_ACCESS_TOKEN", "pat-hubspot-SECRET_5"),
    ("GOOGLEAI_API_KEY", "google-SECRET_6"),
];
/// The webhook URL's secret parts, redacted like the URL itself.
const WEBHOOK_PARTS: [&str; 2] = ["/hook/SECRETPATH", "token=SECRETTOKEN"];

/// What must never appear in an error of `spec`'s route: the values of its own secrets (and a
/// webhook URL's secret parts). A route never holds another route's secrets, so a provider
/// echoing one of those is not something it could redact.
fn forbidden(spec: Option<&RouteSpec>) -> Vec<&'static str> {
    let mut values: Vec<&'static str> = SECRETS
        .iter()
        .filter(|(name, _)| {
            spec.is_none_or(|spec| spec.secrets.iter().any(|r| r.any_of.contains(name)))
        })
        .map(|(_, value)| *value)
        .collect();
    if values.contains(&WEBHOOK) {
        values.extend(WEBHOOK_PARTS);
    }
    values
}

const SETTINGS: [&str; 7] = [
    "WORKERFLOW_GITHUB_BASE_URL",
    "WORKERFLOW_OPENAI_BASE_URL",
    "WORKERFLOW_STRIPE_BASE_URL",
    "WORKERFLOW_NOTION_BASE_URL",
    "WORKERFLOW_HUBSPOT_BASE_URL",
    "GITHUB_REPO",
    "OPENAI_MODEL",
];

#[derive(Arbitrary, Debug)]
struct Input {
    /// Index into the declared routes; past the end, `other_route` is used as the route id.
    route: u8,
    other_route: String,
    payload: Json,
    /// Wrap the payload in `{"body": …}` as the CLI does, or pass it as is.
    envelope: bool,
    /// One setting replaced by a fuzzed value.
    setting: Option<(u8, String)>,
    replies: Vec<Reply>,
}

fuzz_target!(|input: Input| {
    let declared = ROUTES.declared();
    let spec = declared.get(usize::from(input.route)).copied();
    let route = spec.map_or(input.other_route.as_str(), |spec| spec.id);
    let payload = input.payload.to_value();
    let payload = if input.envelope {
        json!({ "body": payload })
    } else {
        payload
    };
    let mut secrets = MapSecrets::new();
    for (name, value) in SECRETS {
        secrets = secrets.with(name, value);
    }
    for name in &SETTINGS[..5] {
        secrets = secrets.with(*name, BASE);
    }
    // What the caller typed: the route id and the payload, which errors may echo back.
    let mut echoed = format!("{route}\n{payload}");
    if let Some((n, value)) = &input.setting {
        secrets = secrets.with(SETTINGS[usize::from(*n) % SETTINGS.len()], value.as_str());
        echoed.push_str(value);
    }
    for spec in declared.iter().filter(|spec| spec.input_schema.is_some()) {
        check_schema_verdict(spec, &payload, &secrets);
    }
    TRANSPORT.script(&input.replies);
    let result = ROUTES.dispatch_blocking(route, payload, &secrets);
    // An upsert is two logical requests (search, then create or update), each at most
    // 1 + max_retries attempts.
    assert!(
        TRANSPORT.attempts() <= 6,
        "{} attempts",
        TRANSPORT.attempts()
    );
    match result {
        Ok(output) => {
            serde_json::to_string(&output).expect("the output serializes");
        }
        Err(error) => {
            let shown = format!(
                "{error}\n{error:?}\n{}",
                serde_json::to_string(&error).expect("the error serializes")
            );
            for secret in forbidden(spec) {
                // A secret the caller typed into the payload may be echoed back as input.
                if !echoed.contains(secret) {
                    assert!(!shown.contains(secret), "{secret} leaked into:\n{shown}");
                }
            }
        }
    }
});

/// `prepare` checks the input against `spec`'s schema and runs no handler: it sends nothing,
/// gives the same verdict twice, and each problem names the route, has a pointer into the input
/// (or to the whole of it) and a bounded message.
fn check_schema_verdict(spec: &RouteSpec, payload: &serde_json::Value, secrets: &MapSecrets) {
    let before = TRANSPORT.attempts();
    let first = ROUTES
        .prepare(spec.id, payload.clone(), secrets)
        .map(|_| ());
    let second = ROUTES
        .prepare(spec.id, payload.clone(), secrets)
        .map(|_| ());
    assert_eq!(first, second, "{}: the verdict is deterministic", spec.id);
    assert_eq!(TRANSPORT.attempts(), before, "prepare sent a request");
    if let Err(DispatchError::Connector(ConnectorError::InvalidInput { route, problems })) = first {
        assert_eq!(route, spec.id);
        assert!(!problems.is_empty() && problems.len() <= 21, "{problems:?}");
        for problem in problems {
            assert!(
                problem.message.starts_with(&format!("{}: ", spec.id)),
                "{problem:?}"
            );
            assert!(problem.pointer.is_empty() || problem.pointer.starts_with('/'));
            assert!(problem.message.len() < 1024, "{problem:?}");
            assert!(!problem.message.contains("ValidationError"), "{problem:?}");
        }
    }
}
