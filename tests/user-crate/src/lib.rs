//! An example of a crate with its own connectors: the path a user takes.
//!
//! `build.rs` validates `connector-registry/services.json` and generates the registry module this
//! crate includes below; each `#[connector]` function implements one declared route.

use serde::{Deserialize, Serialize};
use workerflow_runtime::{ConnectorError, RouteContext, connector};

workerflow_runtime::include_registry!();

use registry::routes::{greet, word_count};

/// A sync connector with a contract: its input and output types are generated from the
/// registry, and the runtime has checked the input (a non-blank `name`) before this runs.
#[connector(route = greet)]
pub fn greet_someone(
    ctx: &RouteContext<greet::Route>,
    input: greet::Input,
) -> Result<greet::Output, ConnectorError> {
    let token = ctx.secret(greet::GREETER_TOKEN);
    Ok(greet::Output {
        ok: true,
        route: ctx.route_id().to_owned(),
        greeting: format!("Hello, {}!", input.name.trim()),
        token_from: token.name().to_owned(),
    })
}

/// `word_count` declares no contract: its handler brings its own serde types.
#[derive(Deserialize)]
pub struct CountInput {
    pub text: String,
}

#[derive(Serialize)]
pub struct CountOutput {
    pub ok: bool,
    pub route: &'static str,
    pub words: usize,
    pub trace_id: String,
    pub key_from: &'static str,
}

/// An async connector; the runtime awaits it.
#[connector(route = word_count)]
pub async fn count_words(
    ctx: &RouteContext<word_count::Route>,
    input: CountInput,
) -> Result<CountOutput, ConnectorError> {
    let key = ctx.secret(word_count::COUNTER_KEY);
    Ok(CountOutput {
        ok: true,
        route: ctx.route_id(),
        words: input.text.split_whitespace().count(),
        trace_id: ctx.trace_id().to_string(),
        key_from: key.name(),
    })
}
