//! The route contracts of `connector-registry/services.json`, checked against the real handlers
//! (issue 13.3): every example gives exactly its documented output or error, and every call the
//! harness makes agrees with the route's schemas (see `agreement`, run by `support::call_with`).

use std::collections::HashMap;
use std::sync::OnceLock;

use jsonschema::Validator;
use serde_json::{Value, json};
use workerflow_registry::model::{Example, Route};
use workerflow_runtime::DispatchError;

use crate::support::{Harness, json_response};

/// A route's contract with its schemas compiled.
pub(crate) struct Contract {
    pub route: Route,
    input: Option<Validator>,
    output: Option<Validator>,
}

fn compile(schema: &Option<Value>) -> Option<Validator> {
    schema.as_ref().map(|s| {
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(s)
            .expect("`check` accepted this schema")
    })
}

/// The bundled registry's contracts by route id, read once.
pub(crate) fn contracts() -> &'static HashMap<String, Contract> {
    static CONTRACTS: OnceLock<HashMap<String, Contract>> = OnceLock::new();
    CONTRACTS.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/connector-registry/services.json"
        );
        let registry = workerflow_registry::Registry::load(path).expect("the registry is valid");
        registry
            .routes()
            .map(|(_, route)| {
                let contract = Contract {
                    input: compile(&route.input),
                    output: compile(&route.output),
                    route: route.clone(),
                };
                (route.id.clone(), contract)
            })
            .collect()
    })
}

fn schema_errors(validator: &Validator, value: &Value) -> Vec<String> {
    validator
        .iter_errors(value)
        .map(|e| format!("{} at `{}`", e, e.instance_path().as_str()))
        .collect()
}

/// Whether a call agrees with `contract`: a success output matches `output`, and an input the
/// handler accepted (it succeeded, or failed only at the provider) matches `input`.
pub(crate) fn check_agreement(
    contract: &Contract,
    input: &Value,
    result: &Result<Value, DispatchError>,
) -> Result<(), String> {
    let accepted = match result {
        Ok(_) => true,
        Err(error) => matches!(error.class(), "provider" | "gateway"),
    };
    let mut problems = Vec::new();
    if let (true, Some(validator)) = (accepted, &contract.input) {
        for e in schema_errors(validator, input) {
            problems.push(format!("accepted input {input} breaks `input`: {e}"));
        }
    }
    if let (Ok(output), Some(validator)) = (result, &contract.output) {
        for e in schema_errors(validator, output) {
            problems.push(format!("output {output} breaks `output`: {e}"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// [`check_agreement`] for a call of the bundled registry's `route` (no contract: agrees).
pub(crate) fn agreement(
    route: &str,
    input: &Value,
    result: &Result<Value, DispatchError>,
) -> Result<(), String> {
    match contracts().get(route) {
        Some(contract) => check_agreement(contract, input, result),
        None => Ok(()),
    }
}

/// Whether `result` is what `example` documents. `endpointHost` names the configured webhook's
/// host, so the harness's own host stands for the documented one.
/// `actual` is the documented output, the harness's `host:port` standing for the documented
/// `endpointHost`.
pub(crate) fn output_agrees(
    actual: &Value,
    expected: &Value,
    harness_host: &str,
) -> Result<(), String> {
    let mut actual = actual.clone();
    if let (Some(host), Some(documented)) =
        (actual.get_mut("endpointHost"), expected.get("endpointHost"))
        && host == harness_host
    {
        *host = documented.clone();
    }
    if &actual == expected {
        Ok(())
    } else {
        Err(format!("output {actual}, documented {expected}"))
    }
}

pub(crate) fn check_outcome(
    example: &Example,
    result: &Result<Value, DispatchError>,
    harness_host: &str,
) -> Result<(), String> {
    match (result, &example.output, &example.error) {
        (Ok(actual), Some(expected), _) => output_agrees(actual, expected, harness_host),
        (Err(error), _, Some(expected)) => {
            let actual = json!({
                "class": error.class(),
                "status": error.status(),
                "message": error.to_string(),
            });
            let documented = json!({
                "class": expected.class.as_str(),
                "status": expected.status,
                "message": expected.message,
            });
            if actual == documented {
                Ok(())
            } else {
                Err(format!("error {actual}, documented {documented}"))
            }
        }
        (Ok(actual), None, _) => Err(format!("succeeded with {actual}, documented an error")),
        (Err(error), _, None) => Err(format!("failed with {error}, documented an output")),
    }
}

#[tokio::test]
async fn every_route_declares_all_five_contract_parts() {
    let contracts = contracts();
    // The count comes from the registry, never from a literal (issue 29 point 7).
    assert_eq!(contracts.len(), workerflow::registry::ALL.len());
    for (id, contract) in contracts {
        let route = &contract.route;
        assert!(route.auth.is_some() && route.docs_url.is_some(), "{id}");
        assert!(route.input.is_some() && route.output.is_some(), "{id}");
        assert!(route.errors.as_ref().is_some_and(|e| !e.is_empty()), "{id}");
        assert!(route.hosts.is_some() && route.settings.is_some(), "{id}");
        let examples = route.examples.as_deref().unwrap_or_default();
        assert!(
            examples.iter().any(|e| e.output.is_some()),
            "{id}: no success example"
        );
    }
}

/// The settings a route's contract declares are the ones its handler reads (names, labels,
/// kinds and defaults), so the docs never list a setting the code ignores or miss one it reads.
#[test]
fn declared_settings_are_the_linked_ones() {
    let table = workerflow::registry::linked().expect("the baseline routes link");
    let mut mismatches = Vec::new();
    for (id, contract) in contracts() {
        let declared: Vec<(String, String, &str, Option<String>)> = contract
            .route
            .settings
            .iter()
            .flatten()
            .map(|s| {
                (
                    s.name.clone(),
                    s.label.clone(),
                    s.kind.as_str(),
                    s.default.clone(),
                )
            })
            .collect();
        let linked: Vec<(String, String, &str, Option<String>)> = table
            .get(id)
            .expect("every bundled route is linked")
            .settings()
            .iter()
            .map(|s| {
                let default = s.default.map(str::to_owned);
                (
                    s.name.to_owned(),
                    s.label.to_owned(),
                    s.kind.as_str(),
                    default,
                )
            })
            .collect();
        if declared != linked {
            mismatches.push(format!("{id}: registry {declared:?}, code {linked:?}"));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// Every base URL's default host is one its route declares, so a deployment that sets no base URL
/// is never refused by the egress check (runtime/src/http/POLICY.md 2.8).
#[test]
fn base_url_defaults_are_declared_hosts() {
    let table = workerflow::registry::linked().expect("the baseline routes link");
    let mut undeclared = Vec::new();
    for route in table.routes() {
        let hosts = route.spec().hosts.unwrap_or_default();
        for setting in route.settings() {
            if setting.kind != workerflow_runtime::SettingKind::BaseUrl {
                continue;
            }
            let host = setting
                .default
                .and_then(|default| url::Url::parse(default).ok())
                .and_then(|url| url.host_str().map(str::to_owned));
            if !host.as_deref().is_some_and(|host| hosts.contains(&host)) {
                undeclared.push(format!("{}: {} ({host:?})", route.id(), setting.name));
            }
        }
    }
    assert!(undeclared.is_empty(), "{}", undeclared.join("\n"));
}

#[tokio::test]
async fn every_example_gives_its_documented_outcome() {
    let mut ids: Vec<&String> = contracts().keys().collect();
    ids.sort();
    let mut failures = Vec::new();
    for id in ids {
        let route = &contracts()[id].route;
        for example in route.examples.as_deref().unwrap_or_default() {
            let harness = Harness::for_example(example).await;
            // `call_with` checks the schema agreement too.
            let result = harness.dispatch(id, example.input.clone()).await;
            if let Err(problem) = check_outcome(example, &result, &harness.host()) {
                failures.push(format!("{id} / {:?}: {problem}", example.name));
            }
            if example.provider.is_empty() && example.output.is_none() {
                harness.assert_untouched();
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A handler loosened to accept a field its schema forbids is caught twice: its refusal
/// example no longer holds, and the input it accepted breaks `input`.
#[tokio::test]
async fn a_loosened_handler_fails_the_checks() {
    let contract = &contracts()["slack_message"];
    let refused = contract
        .route
        .examples
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|e| e.error.is_some() && e.input.get("webhookUrl").is_some())
        .expect("slack_message documents the refused webhookUrl");
    // What a handler that ignored `webhookUrl` would answer.
    let loosened: Result<Value, DispatchError> = Ok(json!({
        "ok": true, "route": "slack_message", "delivered": true, "endpointHost": "hooks.slack.com"
    }));
    assert!(check_outcome(refused, &loosened, "127.0.0.1:1").is_err());
    let problems = check_agreement(contract, &refused.input, &loosened).unwrap_err();
    assert!(problems.contains("breaks `input`"), "{problems}");
}

/// A schema tightened with a new required field rejects the inputs the handler accepts.
#[tokio::test]
async fn a_tightened_schema_fails_the_checks() {
    let mut route = contracts()["slack_message"].route.clone();
    if let Some(Value::Array(required)) = route
        .input
        .as_mut()
        .and_then(|schema| schema.get_mut("required"))
    {
        required.push(json!("channel"));
    }
    let tightened = Contract {
        input: compile(&route.input),
        output: compile(&route.output),
        route,
    };
    let harness = Harness::start().await;
    harness.on_any(vec![json_response(200, json!("ok"))]);
    let input = json!({"text": "Build green"});
    let result = harness.dispatch("slack_message", input.clone()).await;
    assert!(result.is_ok(), "{result:?}");
    let problems = check_agreement(&tightened, &input, &result).unwrap_err();
    assert!(
        problems.contains("\"channel\" is a required property"),
        "{problems}"
    );
}

/// The generated module carries the same contract as the registry (issue 13.2).
#[tokio::test]
async fn generated_constants_hold_the_contract() {
    use workerflow::registry::routes;
    let parse = |text: &str| serde_json::from_str::<Value>(text).ok();
    let slack = &contracts()["slack_message"].route;
    assert_eq!(parse(routes::slack_message::INPUT_SCHEMA), slack.input);
    assert_eq!(parse(routes::slack_message::OUTPUT_SCHEMA), slack.output);
    assert_eq!(
        parse(routes::slack_message::EXAMPLES),
        serde_json::to_value(&slack.examples).ok()
    );
    assert_eq!(
        parse(routes::slack_message::ERRORS),
        serde_json::to_value(&slack.errors).ok()
    );
    let lead = &contracts()["lead_normalizer"].route;
    assert_eq!(parse(routes::lead_normalizer::INPUT_SCHEMA), lead.input);
}

/// The harness configures what the registry declares: every secret requirement of every route
/// (a distinctive value, a webhook at the mock) and every `base_url` setting at the mock.
#[test]
fn the_harness_configures_every_declared_secret_and_base_url() {
    use workerflow_runtime::SecretSource;
    let base = "http://127.0.0.1:9";
    let secrets = crate::support::secrets_for(base);
    for spec in workerflow::registry::ALL {
        for requirement in spec.secrets {
            let value = secrets
                .get(requirement.any_of[0])
                .unwrap_or_else(|| panic!("{}: {} unset", spec.id, requirement.any_of[0]));
            assert!(
                value.expose().contains(crate::support::SENTINEL),
                "{}",
                spec.id
            );
        }
    }
    for (id, contract) in contracts() {
        let settings = contract.route.settings.iter().flatten();
        for setting in
            settings.filter(|s| s.kind == workerflow_registry::model::SettingKind::BaseUrl)
        {
            let value = secrets.get(&setting.name).expect("base URL set");
            assert_eq!(value.expose(), base, "{id}: {}", setting.name);
        }
    }
    // The webhook tests script these paths: they are the registry-derived ones.
    use crate::registry_config::webhook_path;
    assert_eq!(webhook_path("CHAT_WEBHOOK_URL"), crate::support::CHAT_PATH);
    assert_eq!(
        webhook_path("SLACK_WEBHOOK_URL"),
        crate::support::SLACK_PATH
    );
}
