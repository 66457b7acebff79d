//! The configuration report: which declared routes could run with the secrets at hand.

use std::fmt;

use serde::Serialize;

use crate::error::{ConfigProblem, DisabledBy};

/// What [`crate::RouteTable::check_config`] found, like a `/health/config` endpoint. Serializes to
/// JSON; holds secret names, never values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConfigReport {
    /// Every enabled route is implemented and configured.
    pub ok: bool,
    /// One entry per declared route, in registry order.
    pub routes: Vec<RouteConfig>,
}

/// One route's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RouteConfig {
    /// The route id.
    pub route: &'static str,
    /// The id of the service that owns the route (`slack`).
    pub service: &'static str,
    /// `ENABLED_HTTP_ROUTES` / `DISABLED_HTTP_ROUTES` leave it enabled (see
    /// [`crate::RouteTable::with_enablement`]).
    pub enabled: bool,
    /// The setting that disabled it, when it is disabled.
    #[serde(rename = "disabledBy")]
    pub disabled_by: Option<DisabledBy>,
    /// A linked `#[connector]` function implements it.
    pub implemented: bool,
    /// Every secret requirement is met.
    pub configured: bool,
    /// The unmet requirements (each a [`ConfigProblem::Missing`] with every name checked).
    pub missing: Vec<ConfigProblem>,
}

impl ConfigReport {
    pub(crate) fn new(routes: Vec<RouteConfig>) -> Self {
        let ok = routes
            .iter()
            .all(|r| !r.enabled || (r.implemented && r.configured));
        ConfigReport { ok, routes }
    }

    /// The enabled routes that could not run now (not implemented, or a secret missing).
    pub fn problems(&self) -> impl Iterator<Item = &RouteConfig> {
        self.routes
            .iter()
            .filter(|r| r.enabled && !(r.implemented && r.configured))
    }

    /// How many routes are enabled.
    pub fn enabled_count(&self) -> usize {
        self.routes.iter().filter(|r| r.enabled).count()
    }
}

/// One line per route: `<route>: ok`, what is wrong with it, or `disabled (<why>)`.
impl fmt::Display for ConfigReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for route in &self.routes {
            if let Some(by) = route.disabled_by {
                writeln!(f, "{}: disabled ({by})", route.route)?;
                continue;
            }
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
