//! Every route's examples through `workerflow call` and `workerflow serve` (issue 28). `call`
//! prints the documented output or error; through `serve` a sync route answers with it at once,
//! and an async route refuses what its schema refuses at once (400, nothing stored), and
//! otherwise accepts the call (202) and records the documented output or error in the job store,
//! read back with `GET /api/jobs/{traceId}`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use workerflow_registry::Registry;
use workerflow_runtime::http::HttpClient;
use workerflow_server::{JobBackend, JobStore, RetryPolicy, ServeConfig, StoreLocation};

use crate::support::{Harness, fast_policy};

const TOKEN: &str = "examples-through-serve-token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_gives_its_documented_outcome_through_serve() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let registry = Registry::load(root.join("connector-registry/services.json"))
        .expect("the bundled registry loads");
    let data = std::env::temp_dir().join(format!("wf-examples-serve-{}", std::process::id()));
    let mut failures = Vec::new();
    let mut seen = 0;
    for (_, route) in registry.routes() {
        let is_async = route.request_type == workerflow_registry::model::RequestType::Async;
        for example in route.examples.as_deref().unwrap_or_default() {
            seen += 1;
            let what = format!("{} / {:?}", route.id, example.name);
            let harness = Harness::for_example(example).await;
            let _ = std::fs::remove_dir_all(&data);
            let store = JobStore::open(&StoreLocation::Sqlite(data.clone()), 64)
                .await
                .expect("a SQLite job store");
            let store = Arc::new(store);
            let server = Server::start(&harness, JobBackend::Durable(Arc::clone(&store))).await;
            let (status, body) = server.post(&route.id, &example.input).await;
            let outcome = if is_async && status == 202 {
                let trace = body["traceId"].as_str().unwrap_or_default().to_owned();
                server.finished_job(&trace).await
            } else {
                Outcome::from_answer(status, &body)
            };
            let stored = store.list(None).await.expect("the store lists").len();
            server.stop().await;
            if let Err(problem) = outcome.matches(example, &harness.host()) {
                failures.push(format!("{what}: {problem}"));
            }
            // Refused at the door: nothing reached the store.
            if is_async && status != 202 && stored != 0 {
                failures.push(format!(
                    "{what}: refused with {status} but {stored} job(s) stored"
                ));
            }
            if example.provider.is_empty() && example.output.is_none() {
                harness.assert_untouched();
            }
        }
    }
    let _ = std::fs::remove_dir_all(&data);
    assert!(seen > 0, "the registry declares examples");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// What a call ended with, from the HTTP answer or the job record.
enum Outcome {
    Output(Value),
    Error {
        class: String,
        message: String,
        status: Option<u16>,
    },
    Other(String),
}

impl Outcome {
    fn from_answer(status: u16, body: &Value) -> Outcome {
        if status == 200 {
            return Outcome::Output(body.clone());
        }
        match (
            body["error"]["code"].as_str(),
            body["error"]["message"].as_str(),
        ) {
            (Some(class), Some(message)) => Outcome::Error {
                class: class.to_owned(),
                message: message.to_owned(),
                status: Some(status),
            },
            _ => Outcome::Other(format!("{status} {body}")),
        }
    }

    fn matches(
        &self,
        example: &workerflow_registry::model::Example,
        harness_host: &str,
    ) -> Result<(), String> {
        match (self, &example.output, &example.error) {
            (Outcome::Output(actual), Some(expected), _) => {
                crate::contracts::output_agrees(actual, expected, harness_host)
            }
            (
                Outcome::Error {
                    class,
                    message,
                    status,
                },
                _,
                Some(expected),
            ) => {
                // A job record has no HTTP status; an answer's must be the documented one.
                let status_ok = status.is_none_or(|status| status == expected.status);
                if class == expected.class.as_str() && message == &expected.message && status_ok {
                    Ok(())
                } else {
                    Err(format!(
                        "error {class} {status:?} {message:?}, documented {} {} {:?}",
                        expected.class.as_str(),
                        expected.status,
                        expected.message
                    ))
                }
            }
            (Outcome::Other(text), _, _) => Err(format!("unexpected answer {text}")),
            (Outcome::Output(actual), None, _) => Err(format!("succeeded with {actual}")),
            (Outcome::Error { message, .. }, _, None) => Err(format!("failed with {message}")),
        }
    }
}

struct Server {
    base: String,
    client: reqwest::Client,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(harness: &Harness, jobs: JobBackend) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let registry = workerflow::registry::linked()
            .expect("one handler per route")
            .with_http(HttpClient::new(fast_policy()).expect("client"));
        let config = ServeConfig {
            token: Some(TOKEN.into()),
            drain_timeout: Duration::from_secs(5),
            jobs,
            // One attempt: a job's outcome is the handler's first answer, as in the example.
            retry: RetryPolicy {
                max_attempts: 1,
                ..RetryPolicy::default()
            },
            ..ServeConfig::default()
        };
        let secrets = harness.secrets();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = workerflow_server::serve(
                listener,
                workerflow_server::Api {
                    routes: registry,
                    openapi_json: workerflow::registry::OPENAPI_JSON,
                },
                Arc::new(secrets),
                config,
                async move {
                    let _ = stopped.await;
                },
            )
            .await;
        });
        Server {
            base,
            client: reqwest::Client::new(),
            stop,
            task,
        }
    }

    async fn post(&self, route: &str, input: &Value) -> (u16, Value) {
        let response = self
            .client
            .post(format!("{}/api/{route}", self.base))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            // `serve` wraps the request body as `{"body": …}` itself (docs/ROUTES.md 1.2).
            .body(input.to_string())
            .send()
            .await
            .expect("the server answers");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Polls the job until it is finished (or 10 s pass).
    async fn finished_job(&self, trace: &str) -> Outcome {
        for _ in 0..200 {
            let text = self
                .client
                .get(format!("{}/api/jobs/{trace}", self.base))
                .bearer_auth(TOKEN)
                .send()
                .await
                .expect("the server answers")
                .text()
                .await
                .unwrap_or_default();
            let job: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let job = &job["job"];
            match job["state"].as_str() {
                Some("succeeded") => return Outcome::Output(job["output"].clone()),
                Some("failed" | "dead") => {
                    return Outcome::Error {
                        class: job["error"]["class"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                        message: job["error"]["message"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                        status: None,
                    };
                }
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        Outcome::Other(format!("job {trace} did not finish"))
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_gives_its_documented_outcome_through_call() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let registry = Registry::load(root.join("connector-registry/services.json"))
        .expect("the bundled registry loads");
    let mut failures = Vec::new();
    for (_, route) in registry.routes() {
        for example in route.examples.as_deref().unwrap_or_default() {
            let harness = Harness::for_example(example).await;
            // Secrets and base URLs from the environment, as an operator would set them.
            let env = crate::registry_config::harness_config(&registry, &harness.url());
            let args = [
                "call".to_owned(),
                route.id.clone(),
                "--payload".to_owned(),
                example.input.to_string(),
            ];
            // Off the runtime's workers: the mock server runs on them.
            let output = tokio::task::spawn_blocking(move || {
                std::process::Command::new(env!("CARGO_BIN_EXE_workerflow"))
                    .args(args)
                    .env_clear()
                    .envs(env)
                    .output()
            })
            .await
            .expect("the blocking task")
            .expect("workerflow call runs");
            let printed: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
            let outcome = if output.status.success() {
                Outcome::Output(printed)
            } else {
                match (printed["class"].as_str(), printed["message"].as_str()) {
                    (Some(class), Some(message)) => Outcome::Error {
                        class: class.to_owned(),
                        message: message.to_owned(),
                        status: printed["status"]
                            .as_u64()
                            .and_then(|s| u16::try_from(s).ok()),
                    },
                    _ => Outcome::Other(format!(
                        "exit {:?}: {}",
                        output.status.code(),
                        String::from_utf8_lossy(&output.stderr)
                    )),
                }
            };
            if let Err(problem) = outcome.matches(example, &harness.host()) {
                failures.push(format!("{} / {:?}: {problem}", route.id, example.name));
            }
            if example.provider.is_empty() && example.output.is_none() {
                harness.assert_untouched();
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
