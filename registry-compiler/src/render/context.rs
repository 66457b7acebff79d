//! The values templates see. Services, routes and lists are lazy minijinja objects over one
//! shared `Arc<Registry>`: nothing is copied up front, and a field becomes a template value only
//! when a template reads it (a 100,000-service registry renders without a second copy).

use std::sync::Arc;

use minijinja::Value;
use minijinja::value::{Enumerator, Object, ObjectRepr};

use crate::model::{AuthType, Confidence, DocsRequiresLogin, Registry, Route, Service};

/// Human names of the URL fields, in the order `Service::links` yields them.
pub(super) const LINK_LABELS: [(&str, &str); 8] = [
    ("officialApiDocsUrl", "API docs"),
    ("bestBaseLink", "Base link"),
    ("authDocsUrl", "Auth docs"),
    ("webhookDocsUrl", "Webhooks"),
    ("rateLimitDocsUrl", "Rate limits"),
    ("openapiUrl", "OpenAPI"),
    ("officialSdkUrl", "SDK"),
    ("changelogUrl", "Changelog"),
];

/// The human name of a URL field (`officialApiDocsUrl` → `API docs`).
pub(super) fn link_label(field: &'static str) -> &'static str {
    LINK_LABELS
        .iter()
        .find(|(name, _)| *name == field)
        .map_or(field, |&(_, label)| label)
}

/// What the footer says about the registry file the page was built from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceInfo {
    /// The registry path as written in the page (relative, `/`-separated).
    pub path: String,
    /// Lower-case hex SHA-256 of the registry file's bytes.
    pub sha256: String,
}

/// Orderings and counts computed once and shared by both pages.
#[derive(Debug)]
pub(super) struct Catalog {
    registry: Arc<Registry>,
    /// Ranked services by rank, then unranked ones in registry order: the tables' default order.
    by_rank: Arc<[usize]>,
    ranked_len: usize,
    routes: Arc<[(usize, usize)]>,
    auth_counts: Vec<(AuthType, usize)>,
    confidence_counts: Vec<(Confidence, usize)>,
    with_routes: usize,
}

impl Catalog {
    pub(super) fn new(registry: Arc<Registry>) -> Catalog {
        let services = &registry.services;
        let mut ranked: Vec<usize> = (0..services.len())
            .filter(|&i| services[i].rank.is_some())
            .collect();
        // Ranks are unique in a valid registry; the index keeps the order total regardless.
        ranked.sort_unstable_by_key(|&i| (services[i].rank, i));
        let ranked_len = ranked.len();
        let mut by_rank = ranked;
        by_rank.extend((0..services.len()).filter(|&i| services[i].rank.is_none()));
        let routes = services
            .iter()
            .enumerate()
            .flat_map(|(s, service)| (0..service.routes().len()).map(move |r| (s, r)))
            .collect();
        let mut auth = [0usize; AuthType::ALL.len()];
        let mut confidence = [0usize; Confidence::ALL.len()];
        for service in services {
            auth[AuthType::ALL
                .iter()
                .position(|&a| a == service.auth_type)
                .unwrap_or(0)] += 1;
            confidence[Confidence::ALL
                .iter()
                .position(|&c| c == service.confidence)
                .unwrap_or(0)] += 1;
        }
        let with_routes = services.iter().filter(|s| !s.routes().is_empty()).count();
        Catalog {
            by_rank: by_rank.into(),
            ranked_len,
            routes,
            auth_counts: AuthType::ALL.into_iter().zip(auth).collect(),
            confidence_counts: Confidence::ALL.into_iter().zip(confidence).collect(),
            with_routes,
            registry,
        }
    }

    pub(super) fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The template context shared by the Markdown and HTML templates.
    pub(super) fn context(&self, source: &SourceInfo, command: &str) -> Value {
        let registry = &self.registry;
        let count_list = |pairs: Vec<(&'static str, usize)>| -> Value {
            pairs
                .into_iter()
                .filter(|&(_, count)| count > 0)
                .map(|(name, count)| minijinja::context! { name, count })
                .collect()
        };
        let list = |indices: Arc<[usize]>, start: usize, end: usize| {
            Value::from_object(ServiceList {
                registry: registry.clone(),
                indices,
                start,
                end,
            })
        };
        let total = registry.services.len();
        minijinja::context! {
            registry => minijinja::context! {
                name => registry.display_name(),
                version => registry.version,
                updated_at => registry.updated_at.as_str(),
                notes => opt(registry.notes.as_deref()),
                path => source.path.as_str(),
                sha256 => source.sha256.as_str(),
            },
            // The acknowledged breaking changes, newest last, as the registry lists them.
            changelog => registry
                .changes
                .iter()
                .filter(|c| crate::Code::parse(&c.code).and_then(crate::Code::change_class) == Some(crate::ChangeClass::Breaking))
                .map(|c| minijinja::context! {
                    code => c.code.as_str(),
                    title => crate::Code::parse(&c.code).map_or("", crate::Code::title),
                    subject => c.subject.as_str(),
                    reason => c.reason.as_str(),
                    migration => c.migration.as_str(),
                })
                .collect::<Vec<_>>(),
            counts => minijinja::context! {
                services => total,
                ranked => self.ranked_len,
                unranked => total - self.ranked_len,
                routes => self.routes.len(),
                with_routes => self.with_routes,
                auth => count_list(self.auth_counts.iter().map(|&(a, n)| (a.as_str(), n)).collect()),
                confidence => count_list(self.confidence_counts.iter().map(|&(c, n)| (c.as_str(), n)).collect()),
            },
            services => list(self.by_rank.clone(), 0, total),
            ranked => list(self.by_rank.clone(), 0, self.ranked_len),
            unranked => list(self.by_rank.clone(), self.ranked_len, total),
            routes => Value::from_object(RouteList {
                registry: registry.clone(),
                routes: self.routes.clone(),
            }),
            command => command,
            check_command => format!("{command} --check"),
        }
    }
}

fn opt(value: Option<&str>) -> Value {
    value.map_or(Value::from(()), Value::from)
}

/// A window of services in a given order.
#[derive(Debug)]
pub(super) struct ServiceList {
    registry: Arc<Registry>,
    indices: Arc<[usize]>,
    start: usize,
    end: usize,
}

impl ServiceList {
    pub(super) fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Indices into `registry().services`, in list order.
    pub(super) fn order(&self) -> &[usize] {
        &self.indices[self.start..self.end]
    }
}

impl Object for ServiceList {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let position = self.start + usize::try_from(key.as_i64()?).ok()?;
        let &index = self.indices[..self.end].get(position)?;
        Some(ServiceView::value(&self.registry, index))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.end - self.start)
    }
}

/// One service, by index into the shared registry.
#[derive(Debug)]
struct ServiceView {
    registry: Arc<Registry>,
    index: usize,
}

impl ServiceView {
    fn value(registry: &Arc<Registry>, index: usize) -> Value {
        Value::from_object(ServiceView {
            registry: registry.clone(),
            index,
        })
    }

    fn service(&self) -> &Service {
        &self.registry.services[self.index]
    }
}

const SERVICE_FIELDS: &[&str] = &[
    "id",
    "rank",
    "name",
    "vendor",
    "auth",
    "confidence",
    "docs_requires_login",
    "api_docs_url",
    "base_link",
    "base_link_score",
    "base_link_reason",
    "auth_docs_url",
    "webhook_docs_url",
    "rate_limit_docs_url",
    "openapi_url",
    "sdk_url",
    "changelog_url",
    "docs_url",
    "links",
    "notes",
    "sources",
    "routes",
];

impl Object for ServiceView {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.get_value_by_str(key.as_str()?)
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
        let s = self.service();
        Some(match key {
            "id" => Value::from(s.id.as_str()),
            "rank" => s.rank.map_or(Value::from(()), Value::from),
            "name" => Value::from(s.connector_name.as_str()),
            "vendor" => opt(s.official_vendor_name.as_deref()),
            "auth" => Value::from(s.auth_type.as_str()),
            "confidence" => Value::from(s.confidence.as_str()),
            "docs_requires_login" => match s.docs_requires_login {
                DocsRequiresLogin::Yes => Value::from("yes"),
                DocsRequiresLogin::No => Value::from("no"),
                DocsRequiresLogin::Unknown => Value::from("unknown"),
                DocsRequiresLogin::NotStated => Value::from(()),
            },
            "api_docs_url" => opt(s.official_api_docs_url.as_deref()),
            "base_link" => opt(s.best_base_link.as_deref()),
            "base_link_score" => s.best_base_link_score.map_or(Value::from(()), Value::from),
            "base_link_reason" => opt(s.best_base_link_reason.as_deref()),
            "auth_docs_url" => opt(s.auth_docs_url.as_deref()),
            "webhook_docs_url" => opt(s.webhook_docs_url.as_deref()),
            "rate_limit_docs_url" => opt(s.rate_limit_docs_url.as_deref()),
            "openapi_url" => opt(s.openapi_url.as_deref()),
            "sdk_url" => opt(s.official_sdk_url.as_deref()),
            "changelog_url" => opt(s.changelog_url.as_deref()),
            "docs_url" => opt(s.docs_url()),
            "links" => s
                .links()
                .map(|(field, url)| {
                    minijinja::context! { field, label => link_label(field), url }
                })
                .collect(),
            "notes" => opt(s.notes.as_deref()),
            "sources" => s.sources.iter().map(String::as_str).collect(),
            "routes" => (0..s.routes().len())
                .map(|route| RouteView::value(&self.registry, self.index, route))
                .collect(),
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(SERVICE_FIELDS)
    }
}

/// Every declared route, in registry order.
#[derive(Debug)]
pub(super) struct RouteList {
    registry: Arc<Registry>,
    routes: Arc<[(usize, usize)]>,
}

impl RouteList {
    pub(super) fn registry(&self) -> &Registry {
        &self.registry
    }

    /// `(service index, route index)` pairs, in registry order.
    pub(super) fn routes(&self) -> &[(usize, usize)] {
        &self.routes
    }
}

impl Object for RouteList {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let &(service, route) = self.routes.get(usize::try_from(key.as_i64()?).ok()?)?;
        Some(RouteView::value(&self.registry, service, route))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.routes.len())
    }
}

/// One route, with a way back to its service.
#[derive(Debug)]
struct RouteView {
    registry: Arc<Registry>,
    service: usize,
    route: usize,
}

impl RouteView {
    fn value(registry: &Arc<Registry>, service: usize, route: usize) -> Value {
        Value::from_object(RouteView {
            registry: registry.clone(),
            service,
            route,
        })
    }

    fn route(&self) -> &Route {
        &self.registry.services[self.service].routes()[self.route]
    }
}

const ROUTE_FIELDS: &[&str] = &["id", "summary", "request_type", "secrets", "service"];

impl Object for RouteView {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.get_value_by_str(key.as_str()?)
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
        let route = self.route();
        Some(match key {
            "id" => Value::from(route.id.as_str()),
            "summary" => Value::from(route.summary.as_str()),
            "request_type" => Value::from(route.request_type.as_str()),
            "secrets" => route
                .secrets
                .iter()
                .map(|secret| {
                    minijinja::context! {
                        label => secret.label.as_str(),
                        any_of => secret.any_of.iter().map(String::as_str).collect::<Value>(),
                    }
                })
                .collect(),
            "service" => ServiceView::value(&self.registry, self.service),
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(ROUTE_FIELDS)
    }
}
