// A misspelt route id: rustc's own E0425 at the user's token, with the fix.
use serde_json::Value;
use workerflow_runtime::{ConnectorError, RouteContext, connector};

#[allow(dead_code)]
mod registry {
    include!("../support/registry.rs");
}

use registry::routes::notify;

#[connector(route = notfy)]
async fn post(_ctx: &RouteContext<notify::Route>, input: Value) -> Result<Value, ConnectorError> {
    Ok(input)
}

fn main() {}
