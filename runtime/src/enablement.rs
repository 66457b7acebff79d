//! Which declared routes a deployment runs: `ENABLED_HTTP_ROUTES` and `DISABLED_HTTP_ROUTES`.
//!
//! Both are comma-separated route ids read from the same [`SecretSource`] as the secrets (first
//! non-blank value, trimmed; blank entries between commas are skipped). Unset, every route is
//! enabled. `ENABLED_HTTP_ROUTES` enables only the routes it lists; `DISABLED_HTTP_ROUTES` is
//! applied after it and disables the routes it lists, so a route named in both is disabled.
//! A name the registry does not declare is a configuration error (with a "did you mean"), never
//! silently ignored: a typo would otherwise disable a route or leave one running.

use crate::error::DisabledBy;
use crate::route::RouteSpec;
use crate::secrets::{SecretSource, trim};

/// The setting that lists the only routes to run.
pub const ENABLED_ROUTES: &str = DisabledBy::NotEnabled.setting();
/// The setting that lists routes not to run (applied after [`ENABLED_ROUTES`]).
pub const DISABLED_ROUTES: &str = DisabledBy::Disabled.setting();

/// Why [`crate::RouteTable::with_enablement`] refused the settings. Every problem is listed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct EnablementError {
    /// Every problem found, never empty.
    pub problems: Vec<EnablementProblem>,
}

/// One thing wrong with `ENABLED_HTTP_ROUTES` or `DISABLED_HTTP_ROUTES`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnablementProblem {
    /// The setting names a route the registry does not declare.
    #[error("{}", unknown_message(setting, route, *suggestion))]
    UnknownRoute {
        /// The setting's name (`ENABLED_HTTP_ROUTES` or `DISABLED_HTTP_ROUTES`).
        setting: &'static str,
        /// The name as the setting lists it (trimmed).
        route: String,
        /// A declared route id close to it, if any ("did you mean").
        suggestion: Option<&'static str>,
    },
    /// The setting is not blank but lists no route id (only commas).
    #[error("{setting} lists no route id; unset it or name routes separated by commas")]
    Empty {
        /// The setting's name (`ENABLED_HTTP_ROUTES` or `DISABLED_HTTP_ROUTES`).
        setting: &'static str,
    },
}

/// Names in the settings come from operators; a long one is cut so messages stay one line.
const MAX_ECHOED_ROUTE: usize = 80;

fn unknown_message(setting: &str, route: &str, suggestion: Option<&str>) -> String {
    let shown: String = route.chars().take(MAX_ECHOED_ROUTE).collect();
    let ellipsis = if shown.len() < route.len() { "…" } else { "" };
    match suggestion {
        Some(suggestion) => format!(
            "{setting} names unknown route {shown:?}{ellipsis}; did you mean \"{suggestion}\"?"
        ),
        None => format!("{setting} names unknown route {shown:?}{ellipsis}"),
    }
}

/// Per declared route (parallel to `declared`): `None` when enabled, else why it is disabled.
pub(crate) fn resolve(
    declared: &[&'static RouteSpec],
    source: &dyn SecretSource,
) -> Result<Vec<Option<DisabledBy>>, EnablementError> {
    let mut problems = Vec::new();
    let enabled = listed(ENABLED_ROUTES, declared, source, &mut problems);
    let disabled = listed(DISABLED_ROUTES, declared, source, &mut problems);
    if !problems.is_empty() {
        return Err(EnablementError { problems });
    }
    Ok(declared
        .iter()
        .map(|spec| {
            if disabled.as_ref().is_some_and(|ids| ids.contains(&spec.id)) {
                Some(DisabledBy::Disabled)
            } else if enabled.as_ref().is_some_and(|ids| !ids.contains(&spec.id)) {
                Some(DisabledBy::NotEnabled)
            } else {
                None
            }
        })
        .collect())
}

/// The declared ids `setting` lists, or `None` when it is unset or blank. Unknown names and a
/// list of nothing but commas go to `problems`.
fn listed(
    setting: &'static str,
    declared: &[&'static RouteSpec],
    source: &dyn SecretSource,
    problems: &mut Vec<EnablementProblem>,
) -> Option<Vec<&'static str>> {
    let value = source.get(setting)?;
    let value = trim(value.expose());
    if value.is_empty() {
        return None;
    }
    let mut ids = Vec::new();
    for name in value.split(',').map(trim).filter(|name| !name.is_empty()) {
        match declared.iter().find(|spec| spec.id == name) {
            Some(spec) => ids.push(spec.id),
            None => problems.push(EnablementProblem::UnknownRoute {
                setting,
                route: name.to_owned(),
                suggestion: workerflow_names::did_you_mean(name, declared.iter().map(|s| s.id)),
            }),
        }
    }
    if ids.is_empty() && !problems.iter().any(|p| mentions(p, setting)) {
        problems.push(EnablementProblem::Empty { setting });
    }
    Some(ids)
}

fn mentions(problem: &EnablementProblem, setting: &str) -> bool {
    match problem {
        EnablementProblem::UnknownRoute { setting: s, .. }
        | EnablementProblem::Empty { setting: s } => *s == setting,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MapSecrets;
    use crate::route::{AuthType, RequestType, ServiceSpec};

    const SERVICE: ServiceSpec = ServiceSpec {
        id: "demo",
        name: "Demo",
        auth_type: AuthType::None,
        docs_url: None,
        oauth2: None,
    };
    const fn route(id: &'static str) -> RouteSpec {
        RouteSpec {
            id,
            summary: "R.",
            request_type: RequestType::Sync,
            service: SERVICE,
            auth: None,
            secrets: &[],
            settings: &[],
            hosts: None,
            input_schema: None,
            output_schema: None,
        }
    }
    static SLACK: RouteSpec = route("slack_message");
    static CHAT: RouteSpec = route("chat_notify");
    static GITHUB: RouteSpec = route("github_issue_create");
    static DECLARED: &[&RouteSpec] = &[&SLACK, &CHAT, &GITHUB];

    #[test]
    fn unset_or_blank_enables_everything() {
        assert_eq!(resolve(DECLARED, &MapSecrets::new()), Ok(vec![None; 3]));
        let blank = MapSecrets::new()
            .with(ENABLED_ROUTES, "  ")
            .with(DISABLED_ROUTES, "");
        assert_eq!(resolve(DECLARED, &blank), Ok(vec![None; 3]));
    }

    #[test]
    fn disabled_is_applied_after_enabled() {
        let source = MapSecrets::new()
            .with(ENABLED_ROUTES, " slack_message , chat_notify,")
            .with(DISABLED_ROUTES, "chat_notify");
        assert_eq!(
            resolve(DECLARED, &source),
            Ok(vec![
                None,
                Some(DisabledBy::Disabled),
                Some(DisabledBy::NotEnabled)
            ])
        );
    }

    #[test]
    fn unknown_names_and_empty_lists_are_errors() {
        let source = MapSecrets::new()
            .with(ENABLED_ROUTES, "slak_message,stripe")
            .with(DISABLED_ROUTES, ",");
        let error = resolve(DECLARED, &source).expect_err("refused");
        assert_eq!(
            error.to_string(),
            "ENABLED_HTTP_ROUTES names unknown route \"slak_message\"; did you mean \"slack_message\"?; \
             ENABLED_HTTP_ROUTES names unknown route \"stripe\"; \
             DISABLED_HTTP_ROUTES lists no route id; unset it or name routes separated by commas"
        );
    }
}
