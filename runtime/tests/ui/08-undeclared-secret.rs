// Reading a secret that the handler's route does not declare does not compile.
use serde_json::Value;
use workerflow_runtime::{ConnectorError, RouteContext, connector};

#[allow(dead_code)]
mod registry {
    include!("../support/registry.rs");
}

use registry::routes::{echo, notify};

#[connector(route = notify)]
async fn post(ctx: &RouteContext<notify::Route>, input: Value) -> Result<Value, ConnectorError> {
    let _webhook = ctx.secret(notify::DEMO_WEBHOOK_URL);
    let _key = ctx.secret(echo::DEMO_API_KEY);
    Ok(input)
}

fn main() {}
