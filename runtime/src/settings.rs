//! Optional, non-secret configuration a route reads besides its secrets (docs/ROUTES.md 1.6, 2.7):
//! a repository name, a model, a service's base URL.
//!
//! A route's contract declares its settings (`runtime.routes[].settings` in the registry); the
//! generated module puts them in the route's [`crate::RouteSpec`] (as [`Setting`]s, plain data
//! beside the rest of the spec in `route.rs`) and gives each a type
//! (`routes::github_issue_create::GITHUB_REPO`) that `ctx.setting(…)` takes, so a handler reads
//! only what its route declares. Dispatch resolves them from the same [`SecretSource`] as the
//! secrets, after the secrets and before the handler runs, with the same rule (first non-blank
//! value, trimmed). [`crate::RouteTable::linked`] refuses a setting whose name the registry
//! declares as a secret, so a setting is never a way to read another route's secret.

use std::fmt;

use crate::error::ConfigProblem;
use crate::route::{Setting, SettingKind};
use crate::secrets::{SecretSource, trim};

/// A setting resolved for one call: the configured value, or `None` when unset.
#[derive(Clone)]
pub(crate) struct ResolvedSetting {
    pub name: &'static str,
    /// A base URL's host counts as configured by the operator (POLICY.md 2.8).
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub kind: SettingKind,
    pub value: Option<String>,
}

impl fmt::Debug for ResolvedSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Settings are not secrets, but a base URL may carry proxy credentials: names only.
        f.debug_struct("ResolvedSetting")
            .field("name", &self.name)
            .field("set", &self.value.is_some())
            .finish()
    }
}

/// Resolves a route's settings; every unusable value is reported, in declared order.
pub(crate) fn resolve_settings(
    settings: &'static [Setting],
    source: &dyn SecretSource,
) -> Result<Vec<ResolvedSetting>, Vec<ConfigProblem>> {
    let mut resolved = Vec::with_capacity(settings.len());
    let mut problems = Vec::new();
    for setting in settings {
        let value = source
            .get(setting.name)
            .map(|value| trim(value.expose()).to_owned())
            .filter(|value| !value.is_empty());
        if let Some(value) = &value
            && let Some(reason) = unusable(setting.kind, value)
        {
            problems.push(ConfigProblem::Unusable {
                label: setting.label.to_owned(),
                name: setting.name.to_owned(),
                reason: reason.to_owned(),
            });
        }
        resolved.push(ResolvedSetting {
            name: setting.name,
            kind: setting.kind,
            value,
        });
    }
    if problems.is_empty() {
        Ok(resolved)
    } else {
        Err(problems)
    }
}

/// Why a value cannot be used, if it cannot.
fn unusable(kind: SettingKind, value: &str) -> Option<&'static str> {
    match kind {
        SettingKind::Text => None,
        SettingKind::BaseUrl => (!is_base_url(value)).then_some("not an absolute http(s) URL"),
    }
}

#[cfg(feature = "http")]
fn is_base_url(value: &str) -> bool {
    url::Url::parse(value).is_ok_and(|url| {
        matches!(url.scheme(), "http" | "https")
            && url.host_str().is_some_and(|host| !host.is_empty())
            && url.query().is_none()
            && url.fragment().is_none()
    })
}

/// Without the URL parser, a conservative textual check.
#[cfg(not(feature = "http"))]
fn is_base_url(value: &str) -> bool {
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"));
    rest.is_some_and(|rest| {
        !rest.is_empty()
            && !rest.starts_with('/')
            && !rest.contains(['?', '#'])
            && !rest.contains(char::is_whitespace)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MapSecrets;

    static REPO_AND_BASE: [Setting; 2] = [
        Setting::text("GITHUB_REPO", "GitHub repository"),
        Setting::base_url(
            "WORKERFLOW_STRIPE_BASE_URL",
            "Stripe base URL",
            "https://api.stripe.com",
        ),
    ];
    static BASE: &[Setting] = std::slice::from_ref(&REPO_AND_BASE[1]);

    #[test]
    fn values_are_trimmed_and_blank_is_unset() {
        let source = MapSecrets::new()
            .with("GITHUB_REPO", "  acme/widgets \n")
            .with("WORKERFLOW_STRIPE_BASE_URL", "   ");
        let resolved = resolve_settings(&REPO_AND_BASE, &source).expect("usable");
        assert_eq!(resolved[0].value.as_deref(), Some("acme/widgets"));
        assert_eq!(resolved[1].value, None);
    }

    #[test]
    fn base_urls_are_checked() {
        for good in [
            "http://127.0.0.1:9000/proxy/stripe",
            "https://api.stripe.com/",
        ] {
            let source = MapSecrets::new().with("WORKERFLOW_STRIPE_BASE_URL", good);
            assert!(resolve_settings(BASE, &source).is_ok(), "{good}");
        }
        for bad in [
            "api.stripe.com",
            "ftp://x",
            "https://x/?a=1",
            "https://x/#f",
            "http://",
        ] {
            let source = MapSecrets::new().with("WORKERFLOW_STRIPE_BASE_URL", bad);
            let problems = resolve_settings(BASE, &source).expect_err(bad);
            assert_eq!(
                problems[0].to_string(),
                "invalid Stripe base URL (from WORKERFLOW_STRIPE_BASE_URL): not an absolute http(s) URL"
            );
        }
    }
}
