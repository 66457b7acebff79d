// The context type names another route than the attribute: the handler would get the wrong
// secrets, so the registration does not compile.
use serde_json::Value;
use workerflow_runtime::{ConnectorError, RouteContext, connector};

#[allow(dead_code)]
mod registry {
    include!("../support/registry.rs");
}

use registry::routes::notify;

#[connector(route = echo)]
fn mixed_up(_ctx: &RouteContext<notify::Route>, input: Value) -> Result<Value, ConnectorError> {
    Ok(input)
}

fn main() {}
