//! Contract examples as tests (feature `testing`): every example of every linked route, run
//! through the real handler against a loopback mock that answers with the example's provider
//! answers, compared with the documented output or error.
//!
//! ```ignore
//! #[test]
//! fn every_example_gives_its_documented_outcome() {
//!     let linked = my_crate::registry::linked().expect("linked");
//!     workerflow_runtime::testing::assert_examples(&linked, my_crate::registry::EXAMPLES);
//! }
//! ```
//!
//! Each call gets a secret source made for it: every secret of the route set to a URL of the
//! mock (so a webhook secret posts to it, and a token is a distinctive header value) and every
//! base-URL setting set to the mock; text settings keep their defaults. Where an output or a
//! message names the mock's `127.0.0.1:<port>`, the route's first declared host stands in for
//! it, as the example documents it.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::error::DispatchError;
use crate::route::{RouteSpec, SettingKind};
use crate::route_table::RouteTable;
use crate::secrets::MapSecrets;

/// One example as the registry declares it (`runtime.routes[].examples[]`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Example {
    /// What the example shows.
    pub name: String,
    /// The unwrapped input (the HTTP API's request body).
    pub input: Value,
    /// The provider's answers to the route's requests, in order; none when the route sends no
    /// request.
    #[serde(default)]
    pub provider: Vec<ProviderAnswer>,
    /// The documented success output, when the example succeeds.
    #[serde(default)]
    pub output: Option<Value>,
    /// The documented error, when the example fails.
    #[serde(default)]
    pub error: Option<ExampleError>,
}

/// One answer of the provider, in the order the route sends its requests.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderAnswer {
    /// The HTTP status the mock answers with.
    pub status: u16,
    /// The JSON body the mock answers with.
    pub body: Value,
}

/// The error an example yields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExampleError {
    /// The error class (`invalid_input`, `config`, `provider`, `gateway`).
    pub class: String,
    /// The status the runtime reports.
    pub status: u16,
    /// The full error message.
    pub message: String,
}

/// What [`run_examples`] found: how many examples ran, and one line per failure.
#[derive(Debug, Default)]
pub struct ExampleReport {
    /// How many examples ran.
    pub ran: usize,
    /// One line per failed example (or per route whose examples could not run).
    pub failures: Vec<String>,
}

/// Runs every example of every route in `examples` (the generated `registry::EXAMPLES`: route
/// id and its examples as JSON) that `table` implements. Declared routes without a handler are
/// failures too: their examples cannot run.
pub fn run_examples(table: &RouteTable, examples: &[(&str, &str)]) -> ExampleReport {
    let mut report = ExampleReport::default();
    let mock = match Mock::start() {
        Ok(mock) => mock,
        Err(error) => {
            report
                .failures
                .push(format!("cannot start the loopback mock: {error}"));
            return report;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            report
                .failures
                .push(format!("cannot start a tokio runtime: {error}"));
            return report;
        }
    };
    for (route_id, text) in examples {
        let parsed: Vec<Example> = match serde_json::from_str(text) {
            Ok(parsed) => parsed,
            Err(error) => {
                report
                    .failures
                    .push(format!("{route_id}: the examples do not read: {error}"));
                continue;
            }
        };
        if parsed.is_empty() {
            continue;
        }
        let Some(linked) = table.get(route_id) else {
            report.failures.push(format!(
                "{route_id}: {} example(s), but no #[connector] handler is linked",
                parsed.len()
            ));
            continue;
        };
        let spec = linked.spec();
        for example in parsed {
            report.ran += 1;
            let outcome = mock.run(&runtime, table, spec, &example);
            if let Err(problem) = outcome {
                report
                    .failures
                    .push(format!("{route_id} / {:?}: {problem}", example.name));
            }
        }
    }
    report
}

/// [`run_examples`], panicking with every failure (for a `#[test]`). With no examples declared
/// it passes, having run none, and says so on stderr (shown with `cargo test -- --nocapture`): a
/// new crate's test passes before its contracts have examples.
#[track_caller]
pub fn assert_examples(table: &RouteTable, examples: &[(&str, &str)]) {
    let report = run_examples(table, examples);
    if report.ran == 0 && report.failures.is_empty() {
        eprintln!(
            "no contract examples ran: no route declares `examples` in connector-registry/services.json"
        );
    }
    assert!(
        report.failures.is_empty(),
        "{} of {} example(s) failed:\n{}",
        report.failures.len(),
        report.ran,
        report.failures.join("\n")
    );
}

/// A loopback HTTP/1.1 server answering each request with the next queued answer.
struct Mock {
    address: String,
    answers: Arc<Mutex<VecDeque<ProviderAnswer>>>,
    requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Mock {
    fn start() -> std::io::Result<Mock> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?.to_string();
        let answers = Arc::new(Mutex::new(VecDeque::new()));
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (queue, count, stopped) = (
            Arc::clone(&answers),
            Arc::clone(&requests),
            Arc::clone(&stop),
        );
        std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        count.fetch_add(1, Ordering::SeqCst);
                        let answer = queue
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .pop_front();
                        answer_one(stream, answer);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Ok(Mock {
            address,
            answers,
            requests,
            stop,
        })
    }

    fn run(
        &self,
        runtime: &tokio::runtime::Runtime,
        table: &RouteTable,
        spec: &'static RouteSpec,
        example: &Example,
    ) -> Result<(), String> {
        *self.answers.lock().unwrap_or_else(PoisonError::into_inner) =
            example.provider.iter().cloned().collect();
        self.requests.store(0, Ordering::SeqCst);
        let base = format!("http://{}", self.address);
        let mut secrets = MapSecrets::new();
        for requirement in spec.secrets {
            for name in requirement.any_of {
                secrets.insert(*name, format!("{base}/secret/{name}"));
            }
        }
        for setting in spec.settings {
            if setting.kind == SettingKind::BaseUrl {
                secrets.insert(setting.name, base.clone());
            }
        }
        // Wrapped as `serve` wraps a request (docs/ROUTES.md 1.2): an input with a `body` field of
        // its own (a GitHub issue's text) must not be read as the envelope.
        let payload = serde_json::json!({ "body": example.input });
        let result = runtime.block_on(table.dispatch(spec.id, payload, &secrets));
        let sent = self.requests.load(Ordering::SeqCst);
        let stand_in = spec
            .hosts
            .and_then(|hosts| hosts.first())
            .copied()
            .unwrap_or_default();
        let documented_host = |text: &str| {
            if stand_in.is_empty() {
                text.to_owned()
            } else {
                text.replace(&self.address, stand_in)
            }
        };
        match (result, &example.output, &example.error) {
            (Ok(actual), Some(expected), _) => {
                let actual = replace_strings(actual, &documented_host);
                if &actual != expected {
                    return Err(format!("output {actual}, documented {expected}"));
                }
            }
            (Err(error), _, Some(expected)) => {
                let message = documented_host(&error.to_string());
                if (error.class(), error.status(), message.as_str())
                    != (
                        expected.class.as_str(),
                        expected.status,
                        expected.message.as_str(),
                    )
                {
                    return Err(format!(
                        "error {} {} {message:?}, documented {} {} {:?}",
                        error.class(),
                        error.status(),
                        expected.class,
                        expected.status,
                        expected.message
                    ));
                }
            }
            (Ok(actual), None, _) => {
                return Err(format!("succeeded with {actual}, documented an error"));
            }
            (Err(error), _, None) => return Err(format!("failed with {error}")),
        }
        if example.provider.is_empty() && sent > 0 {
            return Err(format!(
                "{sent} request(s) reached the provider; the example declares none"
            ));
        }
        Ok(())
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Reads one request (head and `content-length` body) and writes `answer`, closing the
/// connection; with no answer queued, 500.
fn answer_one(stream: TcpStream, answer: Option<ProviderAnswer>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let Ok(reader_stream) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(reader_stream);
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length.min(8 * 1024 * 1024)];
    let _ = reader.read_exact(&mut body);
    let (status, body) = match answer {
        Some(answer) => (answer.status, answer.body.to_string()),
        None => (500, "{\"error\":\"no answer queued\"}".to_owned()),
    };
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} Mock\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.flush();
}

/// Every string in `value`, rewritten by `rewrite`.
fn replace_strings(value: Value, rewrite: &dyn Fn(&str) -> String) -> Value {
    match value {
        Value::String(text) => Value::String(rewrite(&text)),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| replace_strings(item, rewrite))
                .collect(),
        ),
        Value::Object(entries) => Value::Object(
            entries
                .into_iter()
                .map(|(key, item)| (key, replace_strings(item, rewrite)))
                .collect(),
        ),
        other => other,
    }
}

/// Every form a dispatch error reaches people in: `Display`, `Debug`, `{:#?}` and its JSON body.
/// A test checks that none of them holds a secret it configured (the runtime's tests and the
/// connector harness do, for every error).
pub fn shown_forms(error: &DispatchError) -> [String; 4] {
    [
        error.to_string(),
        format!("{error:?}"),
        format!("{error:#?}"),
        serde_json::to_string(error).unwrap_or_default(),
    ]
}
