// Reading an access token in a handler whose route does not authenticate with OAuth 2.0 does
// not compile.
use serde_json::Value;
use workerflow_runtime::{ConnectorError, RouteContext, connector};

#[allow(dead_code)]
mod registry {
    include!("../support/registry.rs");
}

use registry::routes::notify;

#[connector(route = notify)]
async fn post(ctx: &RouteContext<notify::Route>, input: Value) -> Result<Value, ConnectorError> {
    let _token = ctx.access_token().await?;
    Ok(input)
}

fn main() {}
