// Settings come from the route's contract: another route's setting does not compile, and the
// former attribute key says where settings went.
use serde_json::Value;
use workerflow_runtime::{ConnectorError, RouteContext, connector};

#[allow(dead_code)]
mod registry {
    include!("../support/registry.rs");
}

use registry::routes::{echo, notify};

#[connector(route = notify)]
fn borrowed(ctx: &RouteContext<notify::Route>, _input: Value) -> Result<Value, ConnectorError> {
    Ok(Value::from(ctx.setting(echo::DEMO_MODE)))
}

#[connector(route = echo, settings = [DEMO_MODE])]
fn old_style(_ctx: &RouteContext<echo::Route>, _input: Value) -> Result<Value, ConnectorError> {
    Ok(Value::Null)
}

fn main() {}
