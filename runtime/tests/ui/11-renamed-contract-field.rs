// A handler reads a field its route's contract no longer declares (the registry renamed
// `message` to `text`): the generated `notify::Input` has no such field, so the error is at the
// handler's use of it.
use workerflow_runtime::{ConnectorError, RouteContext, connector};

#[allow(dead_code)]
mod registry {
    include!("../support/registry.rs");
}

use registry::routes::notify;

#[connector(route = notify)]
fn post_notice(
    ctx: &RouteContext<notify::Route>,
    input: notify::Input,
) -> Result<notify::Output, ConnectorError> {
    let _text = input.message;
    Ok(notify::Output {
        ok: true,
        route: ctx.route_id().to_owned(),
        delivered: None,
    })
}

fn main() {}
