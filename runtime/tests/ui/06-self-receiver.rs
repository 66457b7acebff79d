// A method: handlers are free functions.
use serde_json::Value;
use workerflow_runtime::{ConnectorError, RouteContext, connector};

#[allow(dead_code)]
mod registry {
    include!("../support/registry.rs");
}

use registry::routes::echo;

struct Service;

impl Service {
    #[connector(route = echo)]
    fn handle(&self, _ctx: &RouteContext<echo::Route>, input: Value) -> Result<Value, ConnectorError> {
        Ok(input)
    }
}

fn main() {}
