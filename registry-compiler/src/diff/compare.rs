//! Pairing services and routes across two versions, and naming each change.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use crate::Code;
use crate::codes::{ChangeClass as Class, class_of};
use crate::load::pointer_segment;
use crate::model::{AuthType, OAuth2, Registry, Route};

use super::{Change, Side, Version};

struct Differ<'a> {
    base: Version<'a>,
    head: Version<'a>,
    out: Vec<Change>,
}

impl Differ<'_> {
    fn push(&mut self, code: Code, subject: &str, message: String, side: Side, pointer: String) {
        let version = match side {
            Side::Base => self.base,
            Side::Head => self.head,
        };
        // A removed or added member is shown by its key: its value may span many lines.
        let span = match (code, version.document.resolve(&pointer)) {
            (Code::OutputFieldRemoved | Code::OAuthRemoved | Code::OAuthAdded, Some(id)) => {
                version.document.key_span(id)
            }
            _ => version.span(&pointer),
        };
        self.out.push(Change {
            code,
            class: class_of(code).unwrap_or(Class::Notable),
            subject: subject.to_owned(),
            message,
            side,
            pointer,
            span,
        });
    }
}

/// Every change from `base` to `head`, breaking first, then by code and subject.
pub(crate) fn changes(base: Version<'_>, head: Version<'_>) -> Vec<Change> {
    let mut d = Differ {
        base,
        head,
        out: Vec::new(),
    };
    if base.registry.notes != head.registry.notes {
        d.push(
            Code::NotesChanged,
            "registry",
            "the registry's notes changed".to_owned(),
            Side::Head,
            "/notes".to_owned(),
        );
    }
    let (pairs, removed, added) = match_services(base.registry, head.registry);
    for &(i, j) in &pairs {
        compare_services(&mut d, i, j);
    }
    for &i in &removed {
        let service = &base.registry.services[i];
        d.push(
            Code::ServiceRemoved,
            &service.id,
            format!("service `{}` removed", service.id),
            Side::Base,
            base.service_pointer(i),
        );
    }
    for &j in &added {
        let service = &head.registry.services[j];
        d.push(
            Code::ServiceAdded,
            &service.id,
            format!(
                "service `{}` added ({})",
                service.id,
                routes_phrase(service.routes().len())
            ),
            Side::Head,
            head.service_pointer(j),
        );
    }
    compare_routes(&mut d, &pairs);
    let mut out = d.out;
    out.sort_by(|a, b| {
        (a.class, a.code, &a.subject, &a.pointer).cmp(&(b.class, b.code, &b.subject, &b.pointer))
    });
    out
}

fn routes_phrase(n: usize) -> String {
    match n {
        0 => "no routes".to_owned(),
        1 => "1 route".to_owned(),
        n => format!("{n} routes"),
    }
}

/// Pairs of (base, head) service indices, then the base services with no partner and the head
/// ones. Services pair by id; the rest by connector name (ignoring case), then by rank, so an
/// id change is told apart from a removal and an addition.
fn match_services(
    base: &Registry,
    head: &Registry,
) -> (Vec<(usize, usize)>, Vec<usize>, Vec<usize>) {
    let by_id: HashMap<&str, usize> = head
        .services
        .iter()
        .enumerate()
        .map(|(j, s)| (s.id.as_str(), j))
        .collect();
    let mut taken = vec![false; head.services.len()];
    let mut pairs = Vec::new();
    let mut unmatched = Vec::new();
    for (i, service) in base.services.iter().enumerate() {
        match by_id.get(service.id.as_str()) {
            Some(&j) => {
                taken[j] = true;
                pairs.push((i, j));
            }
            None => unmatched.push(i),
        }
    }
    let mut removed = Vec::new();
    if !unmatched.is_empty() {
        let free = || (0..head.services.len()).filter(|&j| !taken[j]);
        let by_name: HashMap<String, usize> = free()
            .map(|j| (head.services[j].connector_name.to_lowercase(), j))
            .collect();
        let by_rank: HashMap<u32, usize> = free()
            .filter_map(|j| head.services[j].rank.map(|rank| (rank, j)))
            .collect();
        for i in unmatched {
            let service = &base.services[i];
            let partner = by_name
                .get(&service.connector_name.to_lowercase())
                .copied()
                .filter(|&j| !taken[j])
                .or_else(|| {
                    service
                        .rank
                        .and_then(|rank| by_rank.get(&rank).copied())
                        .filter(|&j| !taken[j])
                });
            match partner {
                Some(j) => {
                    taken[j] = true;
                    pairs.push((i, j));
                }
                None => removed.push(i),
            }
        }
    }
    let added = (0..head.services.len()).filter(|&j| !taken[j]).collect();
    (pairs, removed, added)
}

fn shown(value: &Option<String>) -> String {
    value
        .as_deref()
        .map_or_else(|| "null".to_owned(), |v| format!("`{v}`"))
}

fn compare_services(d: &mut Differ<'_>, i: usize, j: usize) {
    let (b, h) = (&d.base.registry.services[i], &d.head.registry.services[j]);
    let head_index = d.head.at(j);
    let at = |field: &str| format!("/services/{head_index}/{field}");
    let id = h.id.as_str();
    if b.id != h.id {
        d.push(
            Code::ServiceIdChanged,
            &b.id,
            format!("service id changed from `{}` to `{}`", b.id, h.id),
            Side::Head,
            d.head.service_pointer(j),
        );
    }
    if b.rank != h.rank {
        let rank = |r: Option<u32>| r.map_or_else(|| "unranked".to_owned(), |r| r.to_string());
        d.push(
            Code::RankChanged,
            id,
            format!(
                "rank of `{id}` changed from {} to {}",
                rank(b.rank),
                rank(h.rank)
            ),
            Side::Head,
            at("rank"),
        );
    }
    for ((field, old), (_, new)) in b.url_fields().into_iter().zip(h.url_fields()) {
        if old != new {
            d.push(
                Code::DocsUrlChanged,
                id,
                format!(
                    "`{field}` of `{id}` changed from {} to {}",
                    shown(old),
                    shown(new)
                ),
                Side::Head,
                at(field),
            );
        }
    }
    if b.auth_type != h.auth_type {
        d.push(
            Code::AuthTypeChanged,
            id,
            format!(
                "`authType` of `{id}` changed from `{}` to `{}`",
                b.auth_type.as_str(),
                h.auth_type.as_str()
            ),
            Side::Head,
            at("authType"),
        );
    }
    compare_oauth(d, i, j);
    // `Confidence` orders High < Medium < Low.
    if h.confidence > b.confidence {
        d.push(
            Code::ConfidenceLowered,
            id,
            format!(
                "confidence in `{id}` lowered from {} to {}",
                b.confidence.as_str(),
                h.confidence.as_str()
            ),
            Side::Head,
            at("confidence"),
        );
    }
    if b.notes != h.notes {
        d.push(
            Code::NotesChanged,
            id,
            format!("notes of `{id}` changed"),
            Side::Head,
            at("notes"),
        );
    }
    if b.best_base_link_reason != h.best_base_link_reason {
        d.push(
            Code::ReasonChanged,
            id,
            format!("`bestBaseLinkReason` of `{id}` changed"),
            Side::Head,
            at("bestBaseLinkReason"),
        );
    }
}

/// The `oauth2` blocks of a pair of services: the block added or removed, its endpoints, and
/// its scopes.
fn compare_oauth(d: &mut Differ<'_>, i: usize, j: usize) {
    let (bs, hs) = (&d.base.registry.services[i], &d.head.registry.services[j]);
    let id = hs.id.as_str();
    let base_at = format!("/services/{}/oauth2", d.base.at(i));
    let head_at = format!("/services/{}/oauth2", d.head.at(j));
    let (b, h): (&OAuth2, &OAuth2) = match (&bs.oauth2, &hs.oauth2) {
        (None, None) => return,
        (Some(_), None) => {
            d.push(
                Code::OAuthRemoved,
                id,
                format!("the `oauth2` block of `{id}` was removed"),
                Side::Base,
                base_at,
            );
            return;
        }
        (None, Some(_)) => {
            d.push(
                Code::OAuthAdded,
                id,
                format!("`{id}` has a new `oauth2` block"),
                Side::Head,
                head_at,
            );
            return;
        }
        (Some(b), Some(h)) => (b, h),
    };
    for (field, old, new) in [
        (
            "authorizationUrl",
            &b.authorization_url,
            &h.authorization_url,
        ),
        ("tokenUrl", &b.token_url, &h.token_url),
    ] {
        if old != new {
            d.push(
                Code::OAuthEndpointChanged,
                &format!("{id}.oauth2.{field}"),
                format!("`oauth2.{field}` of `{id}` changed from `{old}` to `{new}`"),
                Side::Head,
                format!("{head_at}/{field}"),
            );
        }
    }
    for (n, scope) in b.scopes.iter().enumerate() {
        if !h.scopes.contains(scope) {
            d.push(
                Code::OAuthScopeRemoved,
                &format!("{id}:{scope}"),
                format!("scope `{scope}` removed from the `oauth2` block of `{id}`"),
                Side::Base,
                format!("{base_at}/scopes/{n}"),
            );
        }
    }
    for (n, scope) in h.scopes.iter().enumerate() {
        if !b.scopes.contains(scope) {
            d.push(
                Code::OAuthScopeAdded,
                &format!("{id}:{scope}"),
                format!("scope `{scope}` added to the `oauth2` block of `{id}`"),
                Side::Head,
                format!("{head_at}/scopes/{n}"),
            );
        }
    }
}

/// Where a route is: (service index, route index).
type RouteAt = (usize, usize);

fn route_index(registry: &Registry) -> HashMap<&str, RouteAt> {
    let mut index = HashMap::new();
    for (i, service) in registry.services.iter().enumerate() {
        for (k, route) in service.routes().iter().enumerate() {
            index.insert(route.id.as_str(), (i, k));
        }
    }
    index
}

fn compare_routes(d: &mut Differ<'_>, pairs: &[(usize, usize)]) {
    let base_routes = route_index(d.base.registry);
    let head_routes = route_index(d.head.registry);
    // Routes keep their id even when they move to another service.
    let mut same: Vec<(RouteAt, RouteAt)> = base_routes
        .iter()
        .filter_map(|(id, &b)| head_routes.get(id).map(|&h| (b, h)))
        .collect();
    same.sort_unstable();
    for (b, h) in same {
        compare_route(d, b, h);
    }
    for &(i, j) in pairs {
        let (bs, hs) = (&d.base.registry.services[i], &d.head.registry.services[j]);
        let mut removed: Vec<usize> = (0..bs.routes().len())
            .filter(|&k| !head_routes.contains_key(bs.routes()[k].id.as_str()))
            .collect();
        let mut added: Vec<usize> = (0..hs.routes().len())
            .filter(|&l| !base_routes.contains_key(hs.routes()[l].id.as_str()))
            .collect();
        // A rename keeps the summary; anything else is a removal and an addition.
        let mut renamed = Vec::new();
        removed.retain(|&k| {
            let summary = &bs.routes()[k].summary;
            match added
                .iter()
                .position(|&l| &hs.routes()[l].summary == summary)
            {
                Some(at) => {
                    renamed.push((k, added.remove(at)));
                    false
                }
                None => true,
            }
        });
        for (k, l) in renamed {
            let (old, new) = (&bs.routes()[k], &hs.routes()[l]);
            d.push(
                Code::RouteRenamed,
                &old.id,
                format!("route `{}` of `{}` renamed to `{}`", old.id, hs.id, new.id),
                Side::Head,
                format!("{}/id", d.head.route_pointer(j, l)),
            );
            compare_route(d, (i, k), (j, l));
        }
        for k in removed {
            let route = &bs.routes()[k];
            d.push(
                Code::RouteRemoved,
                &route.id,
                format!("route `{}` of `{}` removed", route.id, bs.id),
                Side::Base,
                format!("{}/id", d.base.route_pointer(i, k)),
            );
        }
        for l in added {
            let route = &hs.routes()[l];
            d.push(
                Code::RouteAdded,
                &route.id,
                format!("route `{}` added to `{}`", route.id, hs.id),
                Side::Head,
                format!("{}/id", d.head.route_pointer(j, l)),
            );
        }
    }
}

fn compare_route(d: &mut Differ<'_>, (i, k): RouteAt, (j, l): RouteAt) {
    let b: &Route = &d.base.registry.services[i].routes()[k];
    let h: &Route = &d.head.registry.services[j].routes()[l];
    let subject = b.id.as_str();
    let base_at = d.base.route_pointer(i, k);
    let head_at = d.head.route_pointer(j, l);
    if b.request_type != h.request_type {
        d.push(
            Code::RequestTypeChanged,
            subject,
            format!(
                "`requestType` of route `{subject}` changed from `{}` to `{}`",
                b.request_type.as_str(),
                h.request_type.as_str()
            ),
            Side::Head,
            format!("{head_at}/requestType"),
        );
    }
    // Declaring `auth` where there was none documents the route, unless it brings in or
    // takes away connections.
    let oauth = Some(AuthType::Oauth2);
    if b.auth != h.auth
        && (b.auth.is_some() && h.auth.is_some() || b.auth == oauth || h.auth == oauth)
    {
        let auth = |a: Option<AuthType>| {
            a.map_or_else(|| "none".to_owned(), |a| format!("`{}`", a.as_str()))
        };
        let (side, pointer) = if h.auth.is_some() {
            (Side::Head, format!("{head_at}/auth"))
        } else {
            (Side::Base, format!("{base_at}/auth"))
        };
        d.push(
            Code::RouteAuthChanged,
            subject,
            format!(
                "`auth` of route `{subject}` changed from {} to {}",
                auth(b.auth),
                auth(h.auth)
            ),
            side,
            pointer,
        );
    }
    if b.docs_url != h.docs_url {
        let side = if h.docs_url.is_some() {
            (Side::Head, format!("{head_at}/docsUrl"))
        } else {
            (Side::Base, format!("{base_at}/docsUrl"))
        };
        d.push(
            Code::DocsUrlChanged,
            subject,
            format!(
                "`docsUrl` of route `{subject}` changed from {} to {}",
                shown(&b.docs_url),
                shown(&h.docs_url)
            ),
            side.0,
            side.1,
        );
    }
    compare_secrets(d, b, h, &base_at, &head_at);
    if let (Some(old), Some(new)) = (&b.input, &h.input) {
        let old_required = required(old);
        for (n, name) in required(new).iter().enumerate() {
            if !old_required.contains(name) {
                d.push(
                    Code::RequiredInputAdded,
                    &format!("{subject}.input.{name}"),
                    format!("route `{subject}` requires the new input field `{name}`"),
                    Side::Head,
                    format!("{head_at}/input/required/{n}"),
                );
            }
        }
        for (name, old_field, new_field) in common_properties(old, new) {
            if narrowed(types(old_field).as_ref(), types(new_field).as_ref()) {
                d.push(
                    Code::InputTypeNarrowed,
                    &format!("{subject}.input.{name}"),
                    format!(
                        "input field `{name}` of route `{subject}` narrowed from {} to {}",
                        types_phrase(old_field),
                        types_phrase(new_field)
                    ),
                    Side::Head,
                    property_pointer(&head_at, "input", &name, new_field),
                );
            }
        }
    }
    if let (Some(old), Some(new)) = (&b.output, &h.output) {
        let new_properties = properties(new);
        for (name, _) in properties(old) {
            if !new_properties.iter().any(|(n, _)| *n == name) {
                d.push(
                    Code::OutputFieldRemoved,
                    &format!("{subject}.output.{name}"),
                    format!("output field `{name}` of route `{subject}` removed"),
                    Side::Base,
                    format!("{base_at}/output/properties/{}", pointer_segment(name)),
                );
            }
        }
        for (name, old_field, new_field) in common_properties(old, new) {
            if types(old_field) != types(new_field) {
                d.push(
                    Code::OutputTypeChanged,
                    &format!("{subject}.output.{name}"),
                    format!(
                        "output field `{name}` of route `{subject}` changed from {} to {}",
                        types_phrase(old_field),
                        types_phrase(new_field)
                    ),
                    Side::Head,
                    property_pointer(&head_at, "output", &name, new_field),
                );
            }
        }
    }
}

fn compare_secrets(d: &mut Differ<'_>, b: &Route, h: &Route, base_at: &str, head_at: &str) {
    let subject = b.id.as_str();
    for (q, new) in h.secrets.iter().enumerate() {
        // The same requirement: the same label, else one that shares a name.
        let old = b
            .secrets
            .iter()
            .enumerate()
            .find(|(_, old)| old.label == new.label)
            .or_else(|| {
                b.secrets
                    .iter()
                    .enumerate()
                    .find(|(_, old)| old.any_of.iter().any(|n| new.any_of.contains(n)))
            });
        let Some((p, old)) = old else {
            d.push(
                Code::SecretRequirementAdded,
                &format!("{subject}:{}", new.label),
                format!(
                    "route `{subject}` needs a new secret `{}` (any of {})",
                    new.label,
                    new.any_of.join(", ")
                ),
                Side::Head,
                format!("{head_at}/secrets/{q}/label"),
            );
            continue;
        };
        for (n, name) in old.any_of.iter().enumerate() {
            if !new.any_of.contains(name) {
                d.push(
                    Code::SecretNameRemoved,
                    &format!("{subject}:{name}"),
                    format!(
                        "secret name `{name}` no longer meets `{}` of route `{subject}`",
                        new.label
                    ),
                    Side::Base,
                    format!("{base_at}/secrets/{p}/anyOf/{n}"),
                );
            }
        }
    }
}

fn required(schema: &Value) -> Vec<&str> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn properties(schema: &Value) -> Vec<(&str, &Value)> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|map| map.iter().map(|(k, v)| (k.as_str(), v)).collect())
        .unwrap_or_default()
}

fn common_properties<'v>(old: &'v Value, new: &'v Value) -> Vec<(String, &'v Value, &'v Value)> {
    let new_properties = properties(new);
    properties(old)
        .into_iter()
        .filter_map(|(name, old_field)| {
            new_properties
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, new_field)| (name.to_owned(), old_field, *new_field))
        })
        .collect()
}

/// The pointer of a property's `type`, or of the property when it declares none.
fn property_pointer(route: &str, part: &str, name: &str, field: &Value) -> String {
    let property = format!("{route}/{part}/properties/{}", pointer_segment(name));
    if field.get("type").is_some() {
        format!("{property}/type")
    } else {
        property
    }
}

/// A property's declared types; `None` when it accepts any.
fn types(field: &Value) -> Option<BTreeSet<&str>> {
    match field.get("type")? {
        Value::String(one) => Some(BTreeSet::from([one.as_str()])),
        Value::Array(many) => Some(many.iter().filter_map(Value::as_str).collect()),
        _ => None,
    }
}

fn types_phrase(field: &Value) -> String {
    match types(field) {
        None => "any type".to_owned(),
        Some(set) => set
            .iter()
            .map(|t| format!("`{t}`"))
            .collect::<Vec<_>>()
            .join(" or "),
    }
}

/// Whether some value the old types accept is refused by the new ones.
pub(super) fn narrowed(old: Option<&BTreeSet<&str>>, new: Option<&BTreeSet<&str>>) -> bool {
    match (old, new) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(old), Some(new)) => old
            .iter()
            .any(|t| !(new.contains(t) || *t == "integer" && new.contains("number"))),
    }
}
