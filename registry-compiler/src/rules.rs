//! The semantic rules: what services.schema.json cannot say (uniqueness across entries, real
//! dates, well-formed URLs, derivable ids). Each rule has its own code, runs over the whole
//! document and skips values of the wrong type, which the schema already reports.
//!
//! One module per family, each function listing the codes it emits. [`check`] visits every
//! service once, on the threads of [`crate::parallel`]: the rules about one service report
//! there, and those comparing services (duplicate names, ids, ranks, route ids, settings named
//! like secrets) keep what they compare and report after the pass, each duplicate against the
//! earliest service holding the same key.

use std::borrow::Cow;
use std::hash::{BuildHasher, Hash};

use rustc_hash::FxHashMap as HashMap;

use crate::diagnostics::{Diagnostic, Span};
use crate::load::{Document, NodeId, NodeKind};
use crate::parallel::{self, Ordered, Panicked};

mod chars;
mod contract;
mod date;
mod ids;
mod names;
mod oauth;
mod routes;
mod secrets;
mod text;
mod urls;

/// The URL fields of a service (besides `sources`).
#[cfg_attr(not(feature = "unstable-internals"), allow(unreachable_pub))] // `internals`
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

/// At least this many services per thread: a small registry is not worth splitting.
const MIN_CHUNK: usize = 1024;

/// Runs every rule over `document` and returns what they found.
pub(crate) fn check(document: &Document<'_>) -> Vec<Diagnostic> {
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
    let compared = visited.and_then(|mut visited| {
        for service in visited.iter_mut() {
            out.append(&mut service.diagnostics);
        }
        compare(document, &visited, &mut out)
    });
    if let Err(panicked) = compared {
        out.push(panicked.diagnostic("the rule checks"));
    }
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
    let numbers = [service.fields.rank, service.fields.score];
    crate::numbers::check_service(document, index, numbers, &|| service.place(), out);
    visited.name = name.key;
    urls::check(&service, out);
    oauth::check(&service, out);
    let routes = routes::check(&service, compiled, out);
    // Most services have no route: an empty box is not allocated.
    if !routes.is_empty() {
        visited.routes = Some(Box::new(routes));
    }
    visited
}

/// The rules comparing services, over what the pass kept. Each thread takes a share of the
/// hashes and goes through the services in order, so the first of each key is the earliest;
/// names first, as a duplicate name silences the duplicate id derived from it.
fn compare<'src>(
    document: &Document<'src>,
    visited: &Ordered<Visited<'src>>,
    out: &mut Vec<Diagnostic>,
) -> Result<(), Panicked> {
    let count = visited.len();
    let shards: Vec<u64> = (0..parallel::threads() as u64).collect();
    let share = shards.len() as u64;
    let per_shard = count / shards.len() + 1;
    let found = parallel::map(&shards, 1, |_, &shard| {
        let mut out = Vec::new();
        let mut duplicate_names = Vec::new();
        let mut names = names::Seen::with_capacity(per_shard);
        let mut ranks = ids::Ranks::with_capacity(per_shard);
        for index in 0..count {
            let service = &visited[index];
            if service
                .name
                .as_ref()
                .is_some_and(|key| key.hash % share == shard)
                && names.is_duplicate(document, visited, index, &mut out)
            {
                duplicate_names.push(index);
            }
            if let Some(rank) = service.rank
                && rank.0 % share == shard
            {
                ranks.check_rank(document, visited, index, rank, &mut out);
            }
        }
        (out, duplicate_names)
    })?;
    let mut name_is_duplicate = vec![false; count];
    for (found, duplicates) in found {
        out.extend(found);
        for index in duplicates {
            name_is_duplicate[index] = true;
        }
    }
    let found = parallel::map(&shards, 1, |_, &shard| {
        let mut out = Vec::new();
        let mut ids = ids::Seen::with_capacity(per_shard);
        for index in 0..count {
            if let Some(id) = &visited[index].id
                && id.hash % share == shard
            {
                ids.check_id(
                    document,
                    visited,
                    index,
                    id,
                    name_is_duplicate[index],
                    &mut out,
                );
            }
        }
        out
    })?;
    out.extend(found.into_iter().flatten());
    // Routes are few: in order, here.
    let mut routes = routes::Seen::default();
    for index in 0..count {
        if let Some(routes_of) = &visited[index].routes {
            let name = names::name(document, &visited[index]);
            routes.check(index, name.as_deref(), routes_of, out);
        }
    }
    routes.check_settings(out);
    Ok(())
}

/// What the pass keeps of one service: small, as there is one per service.
#[derive(Default)]
struct Visited<'src> {
    /// What the rules about this service alone found.
    diagnostics: Vec<Diagnostic>,
    /// Its connector name, when it is a string that is not blank once trimmed.
    name: Option<names::Key>,
    id: Option<ids::Id>,
    /// Its rank, when a whole number, and the rank's node.
    rank: Option<(u64, NodeId)>,
    routes: Option<Box<routes::Names<'src>>>,
}

/// The first service of each key, by the key's hash: the keys themselves are compared only
/// when hashes meet, which in a registry without duplicates is never.
pub(super) struct FirstByHash {
    first: HashMap<u64, u32>,
    /// Services whose key differs from that of the earlier service with the same hash (a
    /// 64-bit collision: in practice empty).
    collided: Vec<(u64, u32)>,
}

impl FirstByHash {
    pub(crate) fn with_capacity(count: usize) -> Self {
        FirstByHash {
            first: HashMap::with_capacity_and_hasher(count, Default::default()),
            collided: Vec::new(),
        }
    }

    /// The first service before `index` whose key is the same (`same(first)`), or `None`
    /// after recording `index` as the first of its key.
    pub(crate) fn first(
        &mut self,
        hash: u64,
        index: usize,
        same: impl Fn(usize) -> bool,
    ) -> Option<usize> {
        use std::collections::hash_map::Entry;
        let first = match self.first.entry(hash) {
            Entry::Vacant(slot) => {
                slot.insert(index as u32);
                return None;
            }
            Entry::Occupied(slot) => *slot.get() as usize,
        };
        if same(first) {
            return Some(first);
        }
        let earlier = self
            .collided
            .iter()
            .find(|&&(h, i)| h == hash && same(i as usize));
        if let Some(&(_, i)) = earlier {
            return Some(i as usize);
        }
        self.collided.push((hash, index as u32));
        None
    }
}

/// The Fx hash of `key`, computed in the parallel pass.
pub(super) fn hash_of(key: &impl Hash) -> u64 {
    rustc_hash::FxBuildHasher.hash_one(key)
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

    /// The service's routes (`runtime.routes[r]`) that are objects, with their index `r`;
    /// nothing when `runtime.routes` is not an array (the schema reports that).
    pub(super) fn routes(&self) -> impl Iterator<Item = (usize, NodeId)> + 'doc {
        let document = self.document;
        self.fields
            .runtime
            .and_then(|runtime| document.get(runtime, "routes"))
            .filter(|&routes| document.kind(routes) == NodeKind::Array)
            .into_iter()
            .flat_map(move |routes| document.children(routes).enumerate())
            .filter(move |&(_, route)| document.kind(route) == NodeKind::Object)
    }

    /// `services[3] (Slack): `, the start of every message about this service. Built only
    /// for a diagnostic.
    pub(crate) fn place(&self) -> String {
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
    pub score: Option<NodeId>,
    pub sources: Option<NodeId>,
    pub runtime: Option<NodeId>,
    pub oauth2: Option<NodeId>,
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
                "bestBaseLinkScore" => &mut fields.score,
                "sources" => &mut fields.sources,
                "runtime" => &mut fields.runtime,
                "oauth2" => &mut fields.oauth2,
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

#[cfg(test)]
mod tests {
    use super::FirstByHash;

    #[test]
    fn keys_sharing_a_hash_are_still_told_apart() {
        let keys = ["a", "b", "a", "b", "c"];
        let mut seen = FirstByHash::with_capacity(4);
        // Every key gets the same hash: only the comparison separates them.
        let firsts: Vec<Option<usize>> = (0..keys.len())
            .map(|index| seen.first(7, index, |first| keys[first] == keys[index]))
            .collect();
        assert_eq!(firsts, [None, None, Some(0), Some(1), None]);
    }
}
