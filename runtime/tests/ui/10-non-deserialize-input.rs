// The input type must implement Deserialize; the error points at the input type.
use serde_json::Value;
use workerflow_runtime::{ConnectorError, RouteContext, connector};

#[allow(dead_code)]
mod registry {
    include!("../support/registry.rs");
}

use registry::routes::echo;

struct Order {
    id: u64,
}

#[connector(route = echo)]
fn take_order(_ctx: &RouteContext<echo::Route>, input: Order) -> Result<Value, ConnectorError> {
    Ok(Value::from(input.id))
}

fn main() {}
