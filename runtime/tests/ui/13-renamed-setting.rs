// A setting renamed in code but not in the registry: the route's module has no such item.
use serde_json::Value;
use workerflow_runtime::{ConnectorError, RouteContext, connector};

#[allow(dead_code)]
mod registry {
    include!("../support/registry.rs");
}

use registry::routes::notify;

#[connector(route = notify)]
fn renamed(ctx: &RouteContext<notify::Route>, _input: Value) -> Result<Value, ConnectorError> {
    // The registry calls it DEMO_BASE_URL.
    Ok(Value::from(ctx.setting(notify::DEMO_BASE)))
}

fn main() {}
