// The output type must implement Serialize; the error points at the return type.
use serde_json::Value;
use workerflow_runtime::{ConnectorError, RouteContext, connector};

#[allow(dead_code)]
mod registry {
    include!("../support/registry.rs");
}

use registry::routes::echo;

struct Receipt {
    id: u64,
}

#[connector(route = echo)]
fn echo_receipt(_ctx: &RouteContext<echo::Route>, _input: Value) -> Result<Receipt, ConnectorError> {
    Ok(Receipt { id: 1 })
}

fn main() {}
