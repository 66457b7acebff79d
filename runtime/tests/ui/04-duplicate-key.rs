// A key given twice, reported at the second one, together with the other problems.
use serde_json::Value;
use workerflow_runtime::{ConnectorError, RouteContext, connector};

#[allow(dead_code)]
mod registry {
    include!("../support/registry.rs");
}

use registry::routes::echo;

#[connector(route = echo, route = echo, registy = crate::registry)]
fn twice(_ctx: &RouteContext<echo::Route>, input: Value) -> Result<Value, ConnectorError> {
    Ok(input)
}

fn main() {}
