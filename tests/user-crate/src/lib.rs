//! An example of a crate with its own connectors: the path a user takes.
//!
//! `build.rs` validates `connector-registry/services.json` and generates the registry module this
//! crate includes below; each `#[connector]` function implements one declared route.

use serde::{Deserialize, Serialize};
use workerflow_runtime::{ConnectorError, RouteContext, connector};

workerflow_runtime::include_registry!();

use registry::routes::{greet, word_count};

#[derive(Deserialize)]
pub struct GreetInput {
    pub name: String,
}

#[derive(Serialize)]
pub struct GreetOutput {
    pub ok: bool,
    pub route: &'static str,
    pub greeting: String,
    /// Which secret name supplied the token (never the token).
    pub token_from: &'static str,
}

/// A sync connector with a typed input.
#[connector(route = greet)]
pub fn greet_someone(
    ctx: &RouteContext<greet::Route>,
    input: GreetInput,
) -> Result<GreetOutput, ConnectorError> {
    let token = ctx.secret(greet::GREETER_TOKEN);
    let name = input.name.trim();
    if name.is_empty() {
        return Err(ConnectorError::invalid_input(
            ctx.route_id(),
            "name",
            "greet: \"name\" must be at least 1 chars",
        ));
    }
    Ok(GreetOutput {
        ok: true,
        route: ctx.route_id(),
        greeting: format!("Hello, {name}!"),
        token_from: token.name(),
    })
}

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
