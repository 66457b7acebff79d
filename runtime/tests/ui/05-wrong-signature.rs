// Signatures the wrapper cannot call: each error shows the expected signature.
use serde_json::Value;
use workerflow_runtime::{ConnectorError, RouteContext, connector};

#[allow(dead_code)]
mod registry {
    include!("../support/registry.rs");
}

use registry::routes::echo;

#[connector(route = echo)]
fn one_parameter(input: Value) -> Result<Value, ConnectorError> {
    Ok(input)
}

#[connector(route = echo)]
fn no_return_type(_ctx: &RouteContext<echo::Route>, _input: Value) {}

#[connector(route = echo)]
fn context_by_value(_ctx: RouteContext<echo::Route>, input: Value) -> Result<Value, ConnectorError> {
    Ok(input)
}

#[connector(route = echo)]
fn generic<T>(_ctx: &RouteContext<echo::Route>, input: T) -> Result<T, ConnectorError> {
    Ok(input)
}

#[connector(route = echo)]
unsafe fn dangerous(_ctx: &RouteContext<echo::Route>, input: Value) -> Result<Value, ConnectorError> {
    Ok(input)
}

#[connector(route = echo)]
fn wrong_error(_ctx: &RouteContext<echo::Route>, input: Value) -> Result<Value, String> {
    Ok(input)
}

fn main() {}
