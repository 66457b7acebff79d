//! Two `#[connector]` functions for one route: `linked()` refuses them and names both.

use serde_json::Value;
use workerflow_runtime::{ConnectorError, LinkProblem, RouteContext, connector};

// The generated module is written for a crate's root, with `pub` items; inside this private
// module they are reachable from this crate only, which is all these tests need.
#[allow(dead_code, unreachable_pub)]
mod registry {
    include!("support/registry.rs");
}

use registry::routes::echo;

#[connector(route = echo)]
fn first_echo(_ctx: &RouteContext<echo::Route>, input: Value) -> Result<Value, ConnectorError> {
    Ok(input)
}

mod again {
    use super::*;

    #[connector(route = echo)]
    async fn second_echo(
        _ctx: &RouteContext<echo::Route>,
        input: Value,
    ) -> Result<Value, ConnectorError> {
        Ok(input)
    }
}

#[test]
fn two_handlers_for_one_route_are_an_error_naming_both() {
    let error = registry::linked().expect_err("duplicate handlers");
    assert_eq!(
        error.problems,
        [LinkProblem::DuplicateHandler {
            route: "echo",
            functions: vec![
                "duplicates::again::second_echo".to_owned(),
                "duplicates::first_echo".to_owned(),
            ],
        }]
    );
    assert_eq!(
        error.to_string(),
        "route \"echo\" has 2 handlers: duplicates::again::second_echo, duplicates::first_echo; keep one"
    );
}
