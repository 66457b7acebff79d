//! Dispatch overhead: route lookup, secret resolution, envelope unwrap, input deserialization,
//! a trivial handler, output serialization, on a small payload.
//!
//! `cargo bench -p workerflow-runtime --bench dispatch`

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use workerflow_runtime::{ConnectorError, MapSecrets, RouteContext, connector};

// The generated module is written for a crate's root, with `pub` items; inside this private
// module they are reachable from this crate only, which is all these tests need.
#[allow(dead_code, unreachable_pub)]
mod registry {
    include!("../tests/support/registry.rs");
}

use registry::routes::{echo, notify};

#[derive(Deserialize)]
struct Input {
    text: String,
}

#[derive(Serialize)]
struct Output {
    ok: bool,
    text: String,
}

#[connector(route = echo)]
fn echo_text(_ctx: &RouteContext<echo::Route>, input: Input) -> Result<Output, ConnectorError> {
    Ok(Output {
        ok: true,
        text: input.text,
    })
}

#[connector(route = notify)]
async fn echo_value(
    _ctx: &RouteContext<notify::Route>,
    input: Value,
) -> Result<Value, ConnectorError> {
    Ok(input)
}

fn main() {
    divan::main();
}

fn secrets() -> MapSecrets {
    MapSecrets::new()
        .with("DEMO_API_KEY", "  sk_bench  ")
        .with("DEMO_WEBHOOK_URL", "https://hooks.example/bench")
}

/// A sync handler with a typed input, dispatched on the current thread.
#[divan::bench]
fn typed_sync_handler(bencher: divan::Bencher) {
    let linked = registry::linked().expect("one handler per route");
    let secrets = secrets();
    bencher
        .with_inputs(|| json!({"body": {"text": "hello"}}))
        .bench_local_values(|payload| linked.dispatch_blocking("echo", payload, &secrets));
}

/// An async handler taking and returning `Value`.
#[divan::bench]
fn value_async_handler(bencher: divan::Bencher) {
    let linked = registry::linked().expect("one handler per route");
    let secrets = secrets();
    bencher
        .with_inputs(|| json!({"body": {"text": "hello"}}))
        .bench_local_values(|payload| linked.dispatch_blocking("notify", payload, &secrets));
}

/// The failure path: an unknown route with a did-you-mean.
#[divan::bench]
fn unknown_route(bencher: divan::Bencher) {
    let linked = registry::linked().expect("one handler per route");
    let secrets = secrets();
    bencher.bench_local(|| linked.dispatch_blocking("ecko", Value::Null, &secrets));
}
