//! The configuration report: which declared routes could run with the secrets at hand.

use std::fmt;

use serde::Serialize;

use crate::error::ConfigProblem;

/// What [`crate::Registry::check_config`] found, like a `/health/config` endpoint. Serializes to
/// JSON; holds secret names, never values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConfigReport {
    /// Every declared route is implemented and configured.
    pub ok: bool,
    /// One entry per declared route, in registry order.
    pub routes: Vec<RouteConfig>,
}

/// One route's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RouteConfig {
    pub route: &'static str,
    pub service: &'static str,
    /// A linked `#[connector]` function implements it.
    pub implemented: bool,
    /// Every secret requirement is met.
    pub configured: bool,
    /// The unmet requirements (each a [`ConfigProblem::Missing`] with every name checked).
    pub missing: Vec<ConfigProblem>,
}

impl ConfigReport {
    pub(crate) fn new(routes: Vec<RouteConfig>) -> Self {
        let ok = routes.iter().all(|r| r.implemented && r.configured);
        ConfigReport { ok, routes }
    }

    /// The routes that could not run now (not implemented, or a secret missing).
    pub fn problems(&self) -> impl Iterator<Item = &RouteConfig> {
        self.routes
            .iter()
            .filter(|r| !(r.implemented && r.configured))
    }
}

/// One line per route: `<route>: ok`, or what is wrong with it.
impl fmt::Display for ConfigReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for route in &self.routes {
            let mut parts: Vec<String> = Vec::new();
            if !route.implemented {
                parts.push("not implemented".to_owned());
            }
            parts.extend(route.missing.iter().map(ToString::to_string));
            if parts.is_empty() {
                writeln!(f, "{}: ok", route.route)?;
            } else {
                writeln!(f, "{}: {}", route.route, parts.join("; "))?;
            }
        }
        Ok(())
    }
}
