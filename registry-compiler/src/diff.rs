//! `workerflow-registry diff`: what changed between two valid registries, and whether it breaks
//! callers.
//!
//! [`changes`] compares two loaded registries (the model for meaning, the scanned documents for
//! places) and names every change with a stable WF4xx code, a subject and the place in the head
//! file, or in the base file for removals. [`review`] matches the head registry's top-level
//! `changes` list against them: breaking changes must be acknowledged there, and entries added
//! since the base must name a real change. Pure functions: the CLI reads the files and prints.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use crate::codes::{ChangeClass as Class, class_of};
use crate::diagnostics::{Diagnostic, LineIndex, Report};
use crate::load::{Document, pointer_segment};
use crate::model::{Registry, Route};
use crate::{Code, Span};

/// Which file a change is located in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Base,
    Head,
}

/// One classified change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub code: Code,
    pub class: Class,
    /// What changed, as acknowledgements name it: a service id, a route id, `ROUTE:LABEL`,
    /// `ROUTE:NAME`, `ROUTE.input.FIELD`, `ROUTE.output.FIELD` or `registry`.
    pub subject: String,
    pub message: String,
    pub side: Side,
    pub pointer: String,
    pub span: Span,
}

/// One side of a diff: a valid registry and the document it was built from.
#[derive(Clone, Copy)]
pub struct Version<'a> {
    pub registry: &'a Registry,
    pub document: &'a Document<'a>,
    /// Each model service's index in the document's `services`, when the registry holds only
    /// some of them (`diff` leaves out the services that are the same bytes on both sides);
    /// `None` when it holds all.
    pub indices: Option<&'a [usize]>,
}

impl Version<'_> {
    /// The document index of model service `index`.
    fn at(&self, index: usize) -> usize {
        self.indices
            .and_then(|indices| indices.get(index).copied())
            .unwrap_or(index)
    }

    /// The pointer of route `route` of model service `service`.
    fn route_pointer(&self, service: usize, route: usize) -> String {
        format!("/services/{}/runtime/routes/{route}", self.at(service))
    }

    /// The span of the value at `pointer`, or of the root's first byte when it has none.
    fn span(&self, pointer: &str) -> Span {
        let doc = self.document;
        match doc.resolve(pointer) {
            Some(id) => doc.span(id),
            None => {
                let start = doc.root().map_or(0, |root| doc.span(root).start);
                Span::new(start, start + 1)
            }
        }
    }

    /// The pointer naming service `index`: its `id` when written, else its `connectorName`.
    fn service_pointer(&self, index: usize) -> String {
        let index = self.at(index);
        let id = format!("/services/{index}/id");
        if self.document.resolve(&id).is_some() {
            id
        } else {
            format!("/services/{index}/connectorName")
        }
    }
}

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
        // A removed member is shown by its key: its value may span many lines.
        let span = match (code, version.document.resolve(&pointer)) {
            (Code::OutputFieldRemoved, Some(id)) => version.document.key_span(id),
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
pub fn changes(base: Version<'_>, head: Version<'_>) -> Vec<Change> {
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
    if let (Some(old), Some(new)) = (b.auth, h.auth)
        && old != new
    {
        d.push(
            Code::AuthTypeChanged,
            subject,
            format!(
                "`auth` of route `{subject}` changed from `{}` to `{}`",
                old.as_str(),
                new.as_str()
            ),
            Side::Head,
            format!("{head_at}/auth"),
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
fn narrowed(old: Option<&BTreeSet<&str>>, new: Option<&BTreeSet<&str>>) -> bool {
    match (old, new) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(old), Some(new)) => old
            .iter()
            .any(|t| !(new.contains(t) || *t == "integer" && new.contains("number"))),
    }
}

/// One entry of a registry's top-level `changes` list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acknowledgement {
    pub code: String,
    pub subject: String,
    pub reason: String,
    pub migration: String,
    pub pointer: String,
    pub span: Span,
}

/// The `changes` list of a valid registry's document, in order.
pub fn acknowledgements(document: &Document<'_>) -> Vec<Acknowledgement> {
    let Some(list) = document
        .root()
        .and_then(|root| document.get(root, "changes"))
    else {
        return Vec::new();
    };
    document
        .children(list)
        .enumerate()
        .map(|(n, entry)| {
            let text = |name: &str| {
                document
                    .get(entry, name)
                    .and_then(|id| document.str(id))
                    .map(|s| s.into_owned())
                    .unwrap_or_default()
            };
            let span = document
                .get(entry, "code")
                .map_or_else(|| document.span(entry), |id| document.span(id));
            Acknowledgement {
                code: text("code"),
                subject: text("subject"),
                reason: text("reason"),
                migration: text("migration"),
                pointer: format!("/changes/{n}"),
                span,
            }
        })
        .collect()
}

/// A change with the head registry's acknowledgement of it, if any.
#[derive(Clone, Debug)]
pub struct Reviewed {
    pub change: Change,
    pub acknowledged: Option<Acknowledgement>,
}

impl Reviewed {
    /// A breaking change nobody acknowledged: `diff` fails.
    pub fn is_blocking(&self) -> bool {
        self.change.class == Class::Breaking && self.acknowledged.is_none()
    }
}

/// The changes with their acknowledgements, and the acknowledgements added since the base that
/// name no change.
#[derive(Clone, Debug, Default)]
pub struct Review {
    pub changes: Vec<Reviewed>,
    pub stale: Vec<Acknowledgement>,
}

/// Compares `base` with `head` and matches the changes against `head`'s `changes` list. Entries
/// already in the base are history (the changelog) and are not required to match.
pub fn review(base: Version<'_>, head: Version<'_>) -> Review {
    let acks = acknowledgements(head.document);
    let old: HashSet<(String, String)> = acknowledgements(base.document)
        .into_iter()
        .map(|a| (a.code, a.subject))
        .collect();
    let mut used = vec![false; acks.len()];
    let changes = changes(base, head)
        .into_iter()
        .map(|change| {
            let found = acks
                .iter()
                .position(|a| a.code == change.code.as_str() && a.subject == change.subject);
            if let Some(n) = found {
                used[n] = true;
            }
            Reviewed {
                change,
                acknowledged: found.map(|n| acks[n].clone()),
            }
        })
        .collect();
    let stale = acks
        .into_iter()
        .zip(used)
        .filter(|(a, used)| !used && !old.contains(&(a.code.clone(), a.subject.clone())))
        .map(|(a, _)| a)
        .collect();
    Review { changes, stale }
}

impl Review {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.stale.is_empty()
    }

    /// Whether `diff` exits 1: an unacknowledged breaking change or a stale acknowledgement.
    pub fn fails(&self) -> bool {
        !self.stale.is_empty() || self.changes.iter().any(Reviewed::is_blocking)
    }

    fn count(&self, class: Class) -> usize {
        self.changes
            .iter()
            .filter(|r| r.change.class == class)
            .count()
    }

    fn unacknowledged(&self) -> usize {
        self.changes.iter().filter(|r| r.is_blocking()).count()
    }

    /// `2 breaking (1 unacknowledged), 1 notable, 0 cosmetic, 1 stale acknowledgement`.
    pub fn summary(&self) -> String {
        let mut line = format!("{} breaking", self.count(Class::Breaking));
        if self.unacknowledged() > 0 {
            let _ = write!(line, " ({} unacknowledged)", self.unacknowledged());
        }
        let _ = write!(
            line,
            ", {} notable, {} cosmetic",
            self.count(Class::Notable),
            self.count(Class::Cosmetic)
        );
        if !self.stale.is_empty() {
            let n = self.stale.len();
            let _ = write!(
                line,
                ", {n} stale acknowledgement{}",
                if n == 1 { "" } else { "s" }
            );
        }
        line
    }

    /// The review as diagnostics of the base file and of the head file.
    pub fn diagnostics(&self) -> (Vec<Diagnostic>, Vec<Diagnostic>) {
        let (mut base, mut head) = (Vec::new(), Vec::new());
        for reviewed in &self.changes {
            let change = &reviewed.change;
            let message = format!("{}: {}", change.class.as_str(), change.message);
            let diagnostic = if reviewed.is_blocking() {
                Diagnostic::error(change.code, message, change.span)
                    .with_label(format!("breaking change to `{}`", change.subject))
                    .with_help(format!(
                        "acknowledge it in the registry's `changes`: {{\"code\": \"{}\", \"subject\": \"{}\", \"reason\": \"...\", \"migration\": \"...\"}}",
                        change.code, change.subject
                    ))
            } else {
                let diagnostic = Diagnostic::warning(change.code, message, change.span)
                    .with_label(change.class.as_str());
                match &reviewed.acknowledged {
                    Some(ack) => diagnostic.with_help(format!(
                        "acknowledged: {} (migration: {})",
                        ack.reason, ack.migration
                    )),
                    None => diagnostic,
                }
            };
            let diagnostic = diagnostic.with_pointer(change.pointer.clone());
            match change.side {
                Side::Base => base.push(diagnostic),
                Side::Head => head.push(diagnostic),
            }
        }
        for ack in &self.stale {
            head.push(
                Diagnostic::error(
                    Code::StaleAcknowledgement,
                    format!(
                        "acknowledgement of {} `{}` matches no change",
                        ack.code, ack.subject
                    ),
                    ack.span,
                )
                .with_label("no such change")
                .with_pointer(ack.pointer.clone())
                .with_help("correct its `code` and `subject`, or remove it"),
            );
        }
        (base, head)
    }
}

/// The two files a review is printed against, as shown to users.
pub struct Files<'a> {
    pub base_path: &'a str,
    pub base_source: &'a str,
    pub head_path: &'a str,
    pub head_source: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonChange<'a> {
    code: &'static str,
    class: &'static str,
    subject: &'a str,
    message: &'a str,
    acknowledged: bool,
    reason: Option<&'a str>,
    migration: Option<&'a str>,
    file: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    pointer: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonStale<'a> {
    code: &'a str,
    subject: &'a str,
    file: &'a str,
    line: usize,
    column: usize,
    pointer: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonReview<'a> {
    base: &'a str,
    head: &'a str,
    breaking: usize,
    unacknowledged: usize,
    notable: usize,
    cosmetic: usize,
    changes: Vec<JsonChange<'a>>,
    stale_acknowledgements: Vec<JsonStale<'a>>,
}

impl Files<'_> {
    fn side(&self, side: Side) -> (&str, &str) {
        match side {
            Side::Base => (self.base_path, self.base_source),
            Side::Head => (self.head_path, self.head_source),
        }
    }

    /// rustc-style snippets (base-file places first), without a summary line.
    pub fn text(&self, review: &Review, color: bool) -> String {
        let (base, head) = review.diagnostics();
        let mut out = Report {
            path: self.base_path,
            source: self.base_source,
            diagnostics: &base,
        }
        .render_snippets(color);
        out.push_str(
            &Report {
                path: self.head_path,
                source: self.head_source,
                diagnostics: &head,
            }
            .render_snippets(color),
        );
        out
    }

    /// GitHub Actions annotations.
    pub fn github(&self, review: &Review) -> String {
        let (base, head) = review.diagnostics();
        let mut out = Report {
            path: self.base_path,
            source: self.base_source,
            diagnostics: &base,
        }
        .render_github();
        out.push_str(
            &Report {
                path: self.head_path,
                source: self.head_source,
                diagnostics: &head,
            }
            .render_github(),
        );
        out
    }

    /// One JSON document: the counts, every change and every stale acknowledgement.
    pub fn json(&self, review: &Review) -> String {
        let base_index = LineIndex::new(self.base_source);
        let head_index = LineIndex::new(self.head_source);
        let place = |side: Side, span: Span| {
            let (path, source) = self.side(side);
            let index = match side {
                Side::Base => &base_index,
                Side::Head => &head_index,
            };
            let start = index.line_column(source, span.start);
            let end = index.line_column(source, span.end);
            (path, start, end)
        };
        let changes = review
            .changes
            .iter()
            .map(|r| {
                let c = &r.change;
                let (file, (line, column), (end_line, end_column)) = place(c.side, c.span);
                JsonChange {
                    code: c.code.as_str(),
                    class: c.class.as_str(),
                    subject: &c.subject,
                    message: &c.message,
                    acknowledged: r.acknowledged.is_some(),
                    reason: r.acknowledged.as_ref().map(|a| a.reason.as_str()),
                    migration: r.acknowledged.as_ref().map(|a| a.migration.as_str()),
                    file,
                    line,
                    column,
                    end_line,
                    end_column,
                    pointer: &c.pointer,
                }
            })
            .collect();
        let stale = review
            .stale
            .iter()
            .map(|a| {
                let (file, (line, column), _) = place(Side::Head, a.span);
                JsonStale {
                    code: &a.code,
                    subject: &a.subject,
                    file,
                    line,
                    column,
                    pointer: &a.pointer,
                }
            })
            .collect();
        let report = JsonReview {
            base: self.base_path,
            head: self.head_path,
            breaking: review.count(Class::Breaking),
            unacknowledged: review.unacknowledged(),
            notable: review.count(Class::Notable),
            cosmetic: review.count(Class::Cosmetic),
            changes,
            stale_acknowledgements: stale,
        };
        serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"
    }

    /// A summary table for a pull-request comment.
    pub fn markdown(&self, review: &Review) -> String {
        // One table cell: no pipe, line break or terminal control from a path or a name.
        let cell = |text: &str| {
            crate::diagnostics::escape_controls(&text.replace('|', "\\|").replace('\n', " "))
                .into_owned()
        };
        let mut out = String::from("### Registry changes\n\n");
        if review.is_empty() {
            out.push_str("No changes.\n");
            return out;
        }
        let _ = writeln!(out, "{}\n", review.summary());
        let (base_index, head_index) = (
            LineIndex::new(self.base_source),
            LineIndex::new(self.head_source),
        );
        out.push_str("| Class | Code | Subject | Change | Where | Acknowledged |\n");
        out.push_str("|---|---|---|---|---|---|\n");
        for r in &review.changes {
            let c = &r.change;
            let (path, source) = self.side(c.side);
            let index = match c.side {
                Side::Base => &base_index,
                Side::Head => &head_index,
            };
            let (line, column) = index.line_column(source, c.span.start);
            let class = match c.class {
                Class::Breaking => "**breaking**",
                Class::Notable => "notable",
                Class::Cosmetic => "cosmetic",
            };
            let acknowledged = match (&r.acknowledged, c.class) {
                (Some(ack), _) => format!("yes: {}", cell(&ack.reason)),
                (None, Class::Breaking) => "**no**".to_owned(),
                (None, _) => String::new(),
            };
            let _ = writeln!(
                out,
                "| {class} | {} | `{}` | {} | {}:{line}:{column} | {acknowledged} |",
                c.code,
                cell(&c.subject),
                cell(&c.message),
                cell(path),
            );
        }
        if !review.stale.is_empty() {
            out.push_str("\nStale acknowledgements (they match no change):\n\n");
            for a in &review.stale {
                let _ = writeln!(out, "- {} `{}` at {}", a.code, cell(&a.subject), a.pointer);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Schema, compile_document};

    fn with_versions<T>(
        base: &str,
        head: &str,
        f: impl FnOnce(Version<'_>, Version<'_>) -> T,
    ) -> T {
        let schema = Schema::bundled().expect("bundled schema");
        let (b, bd) = compile_document(base, &schema);
        let (h, hd) = compile_document(head, &schema);
        let (b, bd) = (b.registry.expect("valid base"), bd.expect("document"));
        let (h, hd) = (h.registry.expect("valid head"), hd.expect("document"));
        f(
            Version {
                registry: &b,
                document: &bd,
                indices: None,
            },
            Version {
                registry: &h,
                document: &hd,
                indices: None,
            },
        )
    }

    fn registry(services: &str, changes: &str) -> String {
        format!(
            r#"{{"version": 1, "updatedAt": "2026-03-01", "notes": null, "services": [{services}]{changes}}}"#
        )
    }

    fn service(id: &str, rank: u32, routes: &str) -> String {
        format!(
            r#"{{"id": "{id}", "rank": {rank}, "connectorName": "{id} name", "officialVendorName": null,
            "officialApiDocsUrl": "https://{id}.example.com", "bestBaseLink": null, "bestBaseLinkScore": null,
            "bestBaseLinkReason": null, "authType": "token", "authDocsUrl": null, "webhookDocsUrl": null,
            "rateLimitDocsUrl": null, "openapiUrl": null, "officialSdkUrl": null, "changelogUrl": null,
            "docsRequiresLogin": null, "confidence": "High", "notes": null,
            "sources": ["https://{id}.example.com"]{routes}}}"#
        )
    }

    fn route(id: &str, summary: &str, kind: &str, secrets: &str) -> String {
        format!(
            r#"{{"id": "{id}", "summary": "{summary}", "requestType": "{kind}", "secrets": [{secrets}]}}"#
        )
    }

    fn codes(base: &str, head: &str) -> Vec<(Code, String)> {
        with_versions(base, head, |b, h| {
            changes(b, h)
                .into_iter()
                .map(|c| (c.code, c.subject))
                .collect()
        })
    }

    #[test]
    fn identical_registries_have_no_changes() {
        let text = registry(&service("a", 1, ""), "");
        assert!(codes(&text, &text).is_empty());
    }

    #[test]
    fn services_pair_by_id_then_name() {
        let base = registry(
            &format!("{}, {}", service("a", 1, ""), service("b", 2, "")),
            "",
        );
        let renamed = service("b", 2, "").replace(r#""id": "b""#, r#""id": "bee""#);
        let head = registry(&format!("{}, {}", renamed, service("c", 3, "")), "");
        assert_eq!(
            codes(&base, &head),
            vec![
                (Code::ServiceRemoved, "a".to_owned()),
                (Code::ServiceIdChanged, "b".to_owned()),
                (Code::ServiceAdded, "c".to_owned()),
            ]
        );
    }

    #[test]
    fn a_renamed_connector_with_a_derived_id_pairs_by_rank() {
        let derived = |name: &str| {
            service("x", 1, "")
                .replace(r#""id": "x", "#, "")
                .replace("x name", name)
        };
        let base = registry(&derived("Old Name"), "");
        let head = registry(&derived("New Name"), "");
        assert_eq!(
            codes(&base, &head),
            vec![(Code::ServiceIdChanged, "old_name".to_owned())]
        );
    }

    #[test]
    fn routes_and_secrets() {
        let secret =
            |label: &str, names: &str| format!(r#"{{"label": "{label}", "anyOf": [{names}]}}"#);
        let routes =
            |list: &[String]| format!(r#", "runtime": {{"routes": [{}]}}"#, list.join(", "));
        let base = registry(
            &service(
                "a",
                1,
                &routes(&[
                    route(
                        "a_send",
                        "Send.",
                        "sync",
                        &secret("key", r#""A_KEY", "A_TOKEN""#),
                    ),
                    route("a_old", "Old.", "sync", ""),
                    route("a_gone", "Gone.", "sync", ""),
                ]),
            ),
            "",
        );
        let head = registry(
            &service(
                "a",
                1,
                &routes(&[
                    route(
                        "a_send",
                        "Send.",
                        "async",
                        &format!(
                            "{}, {}",
                            secret("key", r#""A_KEY""#),
                            secret("other", r#""A_OTHER""#)
                        ),
                    ),
                    route("a_new", "Old.", "sync", ""),
                ]),
            ),
            "",
        );
        assert_eq!(
            codes(&base, &head),
            vec![
                (Code::RouteRemoved, "a_gone".to_owned()),
                (Code::RouteRenamed, "a_old".to_owned()),
                (Code::RequestTypeChanged, "a_send".to_owned()),
                (Code::SecretRequirementAdded, "a_send:other".to_owned()),
                (Code::SecretNameRemoved, "a_send:A_TOKEN".to_owned()),
            ]
        );
    }

    #[test]
    fn contracts_compare_fields() {
        let with = |input: &str, output: &str| {
            registry(
                &service(
                    "a",
                    1,
                    &format!(
                        r#", "runtime": {{"routes": [{{"id": "a_x", "summary": "X.", "requestType": "sync", "secrets": [], "input": {input}, "output": {output}}}]}}"#
                    ),
                ),
                "",
            )
        };
        let base = with(
            r#"{"type": "object", "properties": {"n": {"type": ["number", "string"]}, "m": {"type": "integer"}}}"#,
            r#"{"type": "object", "properties": {"id": {"type": "string"}, "gone": {}}}"#,
        );
        let head = with(
            r#"{"type": "object", "required": ["m"], "properties": {"n": {"type": "integer"}, "m": {"type": "number"}}}"#,
            r#"{"type": "object", "properties": {"id": {"type": "integer"}}}"#,
        );
        assert_eq!(
            codes(&base, &head),
            vec![
                (Code::RequiredInputAdded, "a_x.input.m".to_owned()),
                (Code::InputTypeNarrowed, "a_x.input.n".to_owned()),
                (Code::OutputFieldRemoved, "a_x.output.gone".to_owned()),
                (Code::OutputTypeChanged, "a_x.output.id".to_owned()),
            ]
        );
    }

    #[test]
    fn acknowledgements_clear_breaking_changes_and_stale_ones_fail() {
        let base = registry(
            &format!("{}, {}", service("a", 1, ""), service("b", 2, "")),
            "",
        );
        let ack = |subject: &str| {
            format!(
                r#"{{"code": "WF410", "subject": "{subject}", "reason": "Gone.", "migration": "Use c."}}"#
            )
        };
        let head =
            |acks: &str| registry(&service("a", 1, ""), &format!(r#", "changes": [{acks}]"#));
        with_versions(&base, &head(&ack("b")), |b, h| {
            let review = review(b, h);
            assert!(!review.fails());
            assert_eq!(review.changes.len(), 1);
            assert!(review.changes[0].acknowledged.is_some());
        });
        with_versions(&base, &head(&ack("x")), |b, h| {
            let review = review(b, h);
            assert!(review.fails());
            assert_eq!(review.stale.len(), 1);
            assert!(review.changes[0].is_blocking());
        });
        // An acknowledgement already in the base is history, not stale.
        let old = head(&ack("b"));
        with_versions(&old, &old, |b, h| assert!(!review(b, h).fails()));
    }

    #[test]
    fn narrowing_rules() {
        let set = |t: &[&'static str]| t.iter().copied().collect::<BTreeSet<&str>>();
        assert!(!narrowed(Some(&set(&["integer"])), Some(&set(&["number"]))));
        assert!(narrowed(Some(&set(&["number"])), Some(&set(&["integer"]))));
        assert!(narrowed(None, Some(&set(&["string"]))));
        assert!(!narrowed(Some(&set(&["string"])), None));
    }
}
