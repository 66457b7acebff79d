// Unknown keys, each with a did-you-mean when one is close; a quoted route id.
use serde_json::Value;
use workerflow_runtime::{ConnectorError, RouteContext, connector};

#[allow(dead_code)]
mod registry {
    include!("../support/registry.rs");
}

use registry::routes::echo;

#[connector(rout = echo)]
fn misspelt(_ctx: &RouteContext<echo::Route>, input: Value) -> Result<Value, ConnectorError> {
    Ok(input)
}

#[connector(route = echo, path = crate::registry)]
fn unknown(_ctx: &RouteContext<echo::Route>, input: Value) -> Result<Value, ConnectorError> {
    Ok(input)
}

#[connector(route = "echo")]
fn quoted(_ctx: &RouteContext<echo::Route>, input: Value) -> Result<Value, ConnectorError> {
    Ok(input)
}

fn main() {}
