// No `route = …`: the attribute asks for it, with an example.
use serde_json::Value;
use workerflow_runtime::{ConnectorError, RouteContext, connector};

#[allow(dead_code)]
mod registry {
    include!("../support/registry.rs");
}

use registry::routes::echo;

#[connector]
fn bare(_ctx: &RouteContext<echo::Route>, input: Value) -> Result<Value, ConnectorError> {
    Ok(input)
}

#[connector(registry = crate::registry)]
fn registry_only(_ctx: &RouteContext<echo::Route>, input: Value) -> Result<Value, ConnectorError> {
    Ok(input)
}

#[connector(echo)]
fn positional(_ctx: &RouteContext<echo::Route>, input: Value) -> Result<Value, ConnectorError> {
    Ok(input)
}

fn main() {}
