//! One route as the listings show it: [`RouteInfo`], from [`RouteTable::route_info`].
//! `routes --json` prints it as it is; `GET /api/routes` prints its [`ServedRoute`] view, the
//! same route without this environment's state. Both come from [`RouteTable::check_config`],
//! as `doctor` and `/health/config` do, so they agree on every route (`service` is the id).

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use serde_json::json;

use crate::error::DisabledBy;
use crate::route::{RequestType, SettingKind};
use crate::route_table::RouteTable;
use crate::secrets::{SecretSource, trim};

/// A declared route: what the registry says about it and how this environment serves it.
/// Names only, never a value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteInfo {
    /// The route id.
    pub route: &'static str,
    /// The service's id (`slack`).
    pub service: &'static str,
    /// The service's display name (`Slack`).
    pub service_name: &'static str,
    /// Whether the caller waits for the output (`sync`) or the call is queued (`async`).
    pub request_type: RequestType,
    /// One line saying what the route does.
    pub summary: &'static str,
    /// `ENABLED_HTTP_ROUTES` / `DISABLED_HTTP_ROUTES` leave it enabled.
    pub enabled: bool,
    /// The setting that disabled it, when it is disabled.
    pub disabled_by: Option<DisabledBy>,
    /// A linked `#[connector]` function implements it.
    pub implemented: bool,
    /// Every secret requirement is met.
    pub configured: bool,
    /// The route's secret requirements, in declared order.
    pub secrets: Vec<SecretInfo>,
    /// The settings of an implemented route (none for a route without a handler).
    pub settings: Vec<SettingInfo>,
}

/// A secret requirement and the name that meets it here, if any.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretInfo {
    /// What the secret is, for messages (`Slack webhook URL`).
    pub label: &'static str,
    /// The names looked up, in order.
    pub any_of: &'static [&'static str],
    /// The first of `any_of` with a value that is not blank.
    pub set_by: Option<&'static str>,
}

/// A setting and whether it has a value here.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SettingInfo {
    /// The name looked up in the secret source (`WORKERFLOW_STRIPE_BASE_URL`).
    pub name: &'static str,
    /// What the setting is, for configuration errors (`Stripe base URL`).
    pub label: &'static str,
    /// How the value is checked before the handler runs.
    pub kind: SettingKind,
    /// The setting has a value that is not blank.
    pub set: bool,
    /// The value when it is unset.
    pub default: Option<&'static str>,
}

/// `GET /api/routes`'s view of a [`RouteInfo`]: the same fields without what this environment
/// sets (`implemented`, `configured`, `setBy`, `set`) and without `serviceName`, so the
/// endpoint's answer stays what it was.
pub struct ServedRoute<'a>(pub &'a RouteInfo);

impl RouteInfo {
    /// The view `GET /api/routes` serializes.
    pub fn served(&self) -> ServedRoute<'_> {
        ServedRoute(self)
    }
}

impl Serialize for ServedRoute<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let info = self.0;
        let secrets: Vec<_> = info
            .secrets
            .iter()
            .map(|secret| json!({"label": secret.label, "anyOf": secret.any_of}))
            .collect();
        let settings: Vec<_> = info
            .settings
            .iter()
            .map(|setting| {
                json!({
                    "name": setting.name,
                    "label": setting.label,
                    "kind": setting.kind,
                    "default": setting.default,
                })
            })
            .collect();
        let mut route = serializer.serialize_struct("ServedRoute", 8)?;
        route.serialize_field("route", info.route)?;
        route.serialize_field("service", info.service)?;
        route.serialize_field("requestType", &info.request_type)?;
        route.serialize_field("summary", info.summary)?;
        route.serialize_field("enabled", &info.enabled)?;
        route.serialize_field("disabledBy", &info.disabled_by)?;
        route.serialize_field("secrets", &secrets)?;
        route.serialize_field("settings", &settings)?;
        route.end()
    }
}

impl RouteTable {
    /// Every declared route, in registry order, with what `source` sets (names, never values).
    pub fn route_info(&self, source: &dyn SecretSource) -> Vec<RouteInfo> {
        let report = self.check_config(source);
        let is_set = |name: &str| {
            source
                .get(name)
                .is_some_and(|value| !trim(value.expose()).is_empty())
        };
        self.declared()
            .iter()
            .zip(report.routes)
            .map(|(spec, config)| RouteInfo {
                route: spec.id,
                service: spec.service.id,
                service_name: spec.service.name,
                request_type: spec.request_type,
                summary: spec.summary,
                enabled: config.enabled,
                disabled_by: config.disabled_by,
                implemented: config.implemented,
                configured: config.configured,
                secrets: spec
                    .secrets
                    .iter()
                    .map(|requirement| SecretInfo {
                        label: requirement.label,
                        any_of: requirement.any_of,
                        set_by: requirement.any_of.iter().copied().find(|name| is_set(name)),
                    })
                    .collect(),
                settings: self
                    .get(spec.id)
                    .map(|linked| linked.settings())
                    .unwrap_or_default()
                    .iter()
                    .map(|setting| SettingInfo {
                        name: setting.name,
                        label: setting.label,
                        kind: setting.kind,
                        set: is_set(setting.name),
                        default: setting.default,
                    })
                    .collect(),
            })
            .collect()
    }
}
