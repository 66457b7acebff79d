//! What the loopback harness configures for a registry, derived from the registry itself: no test
//! lists the bundled routes' secrets or base URLs by hand, so a route added with
//! `workerflow-registry new` is configured too. The root harness uses it, and
//! registry-compiler/tests/scaffold.rs checks it on a registry grown by `new`.

use workerflow_registry::Registry;
use workerflow_registry::model::SettingKind;

/// In every secret value and webhook part; nothing users see may contain it.
pub const SENTINEL: &str = "SECRET";

/// The query every webhook URL carries (its credentials, as chat webhooks do).
pub const WEBHOOK_QUERY: &str = "token=SECRETTOKEN";

/// The distinctive value of the secret `name`: its name with the sentinel, so a leak says
/// whose secret it is, and header-safe, so every token passes the handlers' checks.
pub fn secret_value(name: &str) -> String {
    format!("{}_{SENTINEL}", name.to_ascii_lowercase())
}

/// The path of the webhook secret `name` on the mock: distinct per secret, secret itself.
pub fn webhook_path(name: &str) -> String {
    format!("/hooks/{}/SECRETPATH", name.to_ascii_lowercase())
}

/// Whether a request path is one of the harness's webhooks.
pub fn is_webhook_path(path: &str) -> bool {
    path.starts_with("/hooks/")
}

/// A secret whose value is the whole webhook URL (POLICY.md 2.7): the registry names them
/// `…WEBHOOK_URL` or `…WEBHOOK`.
pub fn is_webhook_secret(name: &str) -> bool {
    name.contains("WEBHOOK")
}

/// Every secret requirement of every route, by its preferred name (the one read first), with
/// a distinctive value (a webhook secret: a URL at `base`), and every `base_url` setting at
/// `base`. Fallback names stay unset: a test that blanks the preferred name sees it missing.
pub fn harness_config(registry: &Registry, base: &str) -> Vec<(String, String)> {
    let mut config: Vec<(String, String)> = Vec::new();
    for (_, route) in registry.routes() {
        let secrets = route.secrets.iter().filter_map(|r| r.any_of.first());
        for name in secrets {
            let value = if is_webhook_secret(name) {
                format!("{base}{}?{WEBHOOK_QUERY}", webhook_path(name))
            } else {
                secret_value(name)
            };
            config.push((name.clone(), value));
        }
        let settings = route.settings.iter().flatten();
        for setting in settings.filter(|s| s.kind == SettingKind::BaseUrl) {
            config.push((setting.name.clone(), base.to_owned()));
        }
    }
    // Routes share secrets and settings: one entry each.
    config.sort();
    config.dedup();
    config
}
