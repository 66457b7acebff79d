//! The semantic rules: what services.schema.json cannot say (uniqueness across entries, real
//! dates, well-formed URLs, derivable ids). Each rule has its own code, runs over the whole
//! document and skips values of the wrong type, which the schema already reports.
//!
//! One module per family, each function listing the codes it emits. [`check`] visits every
//! service once, on the threads of [`crate::parallel`]: the rules about one service report
//! there, and those comparing services (duplicate names, ids, ranks, route ids, settings named
//! like secrets) keep what they compare and report after the pass, in service order.

use std::borrow::Cow;
use std::hash::{BuildHasher, Hash, Hasher};

use rustc_hash::FxHashMap as HashMap;

use crate::diagnostics::{Diagnostic, Span};
use crate::load::{Document, NodeId, NodeKind};
use crate::parallel;

mod chars;
mod contract;
mod date;
mod ids;
mod names;
mod routes;
mod secrets;
mod text;
mod urls;

/// The URL fields of a service (besides `sources`).
pub const URL_FIELDS: [&str; 8] = [
    "officialApiDocsUrl",
    "bestBaseLink",
    "authDocsUrl",
    "webhookDocsUrl",
    "rateLimitDocsUrl",
    "openapiUrl",
    "officialSdkUrl",
    "changelogUrl",
];

/// Services per thread below which the pass stays on one thread.
const MIN_CHUNK: usize = 1024;

/// Runs every rule over `document` and returns what they found.
pub fn check(document: &Document<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let Some(root) = document.root() else {
        return out;
    };
    if document.kind(root) != NodeKind::Object {
        return out;
    }
    text::check_registry_name(document, root, &mut out);
    if let Some(date) = document.get(root, "updatedAt") {
        date::check(document, date, &mut out);
    }
    let services = document
        .get(root, "services")
        .filter(|&s| document.kind(s) == NodeKind::Array);
    // The strings outside the services here; each service's own during its visit.
    text::check_outside(document, services, &mut out);
    let Some(services) = services else {
        return out;
    };
    let service_ids: Vec<NodeId> = document.children(services).collect();
    let visited = parallel::map_with(
        &service_ids,
        MIN_CHUNK,
        contract::Compiled::default,
        |compiled, index, &node| visit(document, services, index, node, compiled),
    );
    let visited = match visited {
        Ok(visited) => visited,
        Err(panicked) => {
            out.push(panicked.diagnostic("the rule checks"));
            return out;
        }
    };
    compare(document, visited, &mut out);
    out
}

/// The rules about one service, and what the rules comparing services keep of it.
fn visit<'src>(
    document: &Document<'src>,
    services: NodeId,
    index: usize,
    node: NodeId,
    compiled: &mut contract::Compiled<'src>,
) -> Visited<'src> {
    let mut visited = Visited::default();
    let out = &mut visited.diagnostics;
    text::check_service(document, services, index, node, out);
    if document.kind(node) != NodeKind::Object {
        return visited;
    }
    let service = Service::read(document, index, node);
    let name = names::check(&service, out);
    visited.id = ids::check_id(&service, name.blank, out);
    visited.rank = ids::rank(&service);
    visited.name = name.key;
    urls::check(&service, out);
    visited.routes = routes::check(&service, compiled, out);
    visited
}

/// The rules comparing services, over what the pass kept, in service order.
fn compare<'src>(
    document: &Document<'src>,
    visited: Vec<Visited<'src>>,
    out: &mut Vec<Diagnostic>,
) {
    let count = visited.len();
    let mut names = names::Seen::with_capacity(count);
    let mut ids = ids::Seen::with_capacity(count);
    let mut routes = routes::Seen::default();
    for (index, service) in visited.into_iter().enumerate() {
        out.extend(service.diagnostics);
        let name = service.name.as_ref().map(|key| key.name());
        let name_is_duplicate = service
            .name
            .as_ref()
            .is_some_and(|key| names.is_duplicate(document, index, key, out));
        if let Some(id) = service.id {
            ids.check_id(index, name, id, name_is_duplicate, out);
        }
        if let Some(rank) = service.rank {
            ids.check_rank(index, name, rank, out);
        }
        routes.check(index, name, service.routes, out);
    }
    routes.check_settings(out);
}

/// What the pass keeps of one service.
#[derive(Default)]
struct Visited<'src> {
    /// What the rules about this service alone found.
    diagnostics: Vec<Diagnostic>,
    /// Its trimmed connector name, when it has one.
    name: Option<names::Key<'src>>,
    id: Option<ids::Id<'src>>,
    rank: Option<(u64, Span)>,
    routes: routes::Names<'src>,
}

/// One service as the rules see it: its place, and the members they look at, found in one
/// pass over its keys.
pub(super) struct Service<'doc, 'src> {
    pub document: &'doc Document<'src>,
    pub index: usize,
    pub fields: ServiceFields,
    /// `connectorName`, when it is a string.
    pub name: Option<Cow<'src, str>>,
}

impl<'doc, 'src> Service<'doc, 'src> {
    fn read(document: &'doc Document<'src>, index: usize, node: NodeId) -> Self {
        let fields = ServiceFields::read(document, node);
        let name = fields.connector_name.and_then(|n| document.str(n));
        Service {
            document,
            index,
            fields,
            name,
        }
    }

    /// `services[3] (Slack): `, the start of every message about this service. Built only
    /// for a diagnostic.
    pub fn place(&self) -> String {
        place(self.index, self.name.as_deref())
    }
}

/// What `schema::service_place` writes, from the name already at hand: the connector name
/// trimmed, when there is one.
pub(super) fn place(index: usize, name: Option<&str>) -> String {
    match name.map(str::trim).filter(|name| !name.is_empty()) {
        Some(name) => format!("services[{index}] ({name}): "),
        None => format!("services[{index}]: "),
    }
}

/// The members of a service the rules look at, found in one pass over its keys.
#[derive(Default)]
pub(super) struct ServiceFields {
    pub connector_name: Option<NodeId>,
    pub vendor: Option<NodeId>,
    pub id: Option<NodeId>,
    pub rank: Option<NodeId>,
    pub sources: Option<NodeId>,
    pub runtime: Option<NodeId>,
    pub urls: [Option<NodeId>; URL_FIELDS.len()],
}

impl ServiceFields {
    fn read(document: &Document<'_>, service: NodeId) -> ServiceFields {
        let mut fields = ServiceFields::default();
        // With duplicate keys the last one wins, as in `Document::get`.
        for (key, child) in document.members(service) {
            let slot = match key.as_ref() {
                "connectorName" => &mut fields.connector_name,
                "officialVendorName" => &mut fields.vendor,
                "id" => &mut fields.id,
                "rank" => &mut fields.rank,
                "sources" => &mut fields.sources,
                "runtime" => &mut fields.runtime,
                other => match URL_FIELDS.iter().position(|f| *f == other) {
                    Some(n) => &mut fields.urls[n],
                    None => continue,
                },
            };
            *slot = Some(child);
        }
        fields
    }
}

/// A key with its hash, computed during the parallel pass: the comparison after it then
/// hashes a number, not a (folded) string.
pub(super) struct Hashed<K> {
    hash: u64,
    pub key: K,
}

impl<K: Hash> Hashed<K> {
    pub fn new(key: K) -> Self {
        Hashed {
            hash: rustc_hash::FxBuildHasher.hash_one(&key),
            key,
        }
    }
}

impl<K> Hash for Hashed<K> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl<K: PartialEq> PartialEq for Hashed<K> {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.key == other.key
    }
}

impl<K: Eq> Eq for Hashed<K> {}

/// Where each key was first seen: the service's index and the value's span.
pub(super) type FirstSeen<K> = HashMap<K, (usize, Span)>;

/// Records `key` for the service at `index`, or reports it as a duplicate of an earlier one
/// (and returns true). `report` gets the key, the first index and the first span.
pub(super) fn first_or_duplicate<K: Hash + Eq>(
    seen: &mut FirstSeen<K>,
    key: K,
    index: usize,
    span: Span,
    report: impl FnOnce(&K, usize, Span) -> Diagnostic,
    out: &mut Vec<Diagnostic>,
) -> bool {
    // Looked up before inserting: the message shows the key, which the map would swallow.
    if let Some(&(first_index, first_span)) = seen.get(&key) {
        out.push(report(&key, first_index, first_span));
        return true;
    }
    seen.insert(key, (index, span));
    false
}

/// The raw text between a string token's quotes.
pub(super) fn inner<'src>(document: &Document<'src>, span: Span) -> &'src str {
    let start = span.start as usize + 1;
    let end = (span.end as usize).saturating_sub(1).max(start);
    document.source.get(start..end).unwrap_or_default()
}

pub(super) fn trim_cow(text: Cow<'_, str>) -> Cow<'_, str> {
    match text {
        Cow::Borrowed(text) => Cow::Borrowed(text.trim()),
        Cow::Owned(text) => Cow::Owned(text.trim().to_owned()),
    }
}
