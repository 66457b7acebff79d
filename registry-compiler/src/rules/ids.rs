//! Service ids and ranks: an id that cannot be derived (WF308), two services with one id
//! (WF302) or one rank (WF303).

use std::borrow::Cow;

use super::{FirstByHash, Service, Visited, hash_of, names, place};
use crate::diagnostics::{Code, Diagnostic};
use crate::load::{Document, NodeId, NodeKind};
use crate::model::{derive_id, id_stem};
use crate::parallel::Ordered;

/// A service's id, explicit or derived from its connector name: its hash, and the node it is
/// read from (`id`, or `connectorName` when derived).
pub(super) struct Id {
    pub hash: u64,
    node: NodeId,
    derived: bool,
}

impl Id {
    /// The id's text, read again: only a duplicate needs it.
    fn text<'src>(&self, document: &Document<'src>) -> Cow<'src, str> {
        let text = document.str(self.node).unwrap_or_default();
        if self.derived {
            Cow::Owned(derive_id(&text).unwrap_or_default())
        } else {
            text
        }
    }
}

/// WF308: the service's id, or why none can be derived from its connector name. A blank
/// name (WF311) derives nothing and needs no second message.
pub(super) fn check_id(
    service: &Service<'_, '_>,
    name_is_blank: bool,
    out: &mut Vec<Diagnostic>,
) -> Option<Id> {
    let document = service.document;
    let index = service.index;
    let explicit = service
        .fields
        .id
        .and_then(|n| document.str(n).map(|s| (n, s)));
    let (hash, node, derived) = match (explicit, service.fields.connector_name, &service.name) {
        (Some((node, id)), _, _) => (hash_of(&id), node, false),
        (None, Some(node), Some(name)) => match derive_id(name) {
            Some(id) => (hash_of(&id.as_str()), node, true),
            None => {
                if !name_is_blank && !name.is_empty() {
                    let stem = id_stem(name);
                    let why = if stem.is_empty() {
                        "no ASCII letters or digits to build an id from".to_owned()
                    } else {
                        format!("the id derived from it, `{stem}`, would start with a digit")
                    };
                    out.push(
                        Diagnostic::error(
                            Code::UnderivableId,
                            format!(
                                "{}no id can be derived from the connector name {:?}",
                                service.place(),
                                name.as_ref()
                            ),
                            document.span(node),
                        )
                        .with_label(why)
                        .with_pointer(format!("/services/{index}/connectorName"))
                        .with_help("add an explicit `\"id\"`, such as \"acme_crm\""),
                    );
                }
                return None;
            }
        },
        _ => return None,
    };
    Some(Id {
        hash,
        node,
        derived,
    })
}

/// The service's rank, when it is a whole number, and its node.
pub(super) fn rank(service: &Service<'_, '_>) -> Option<(u64, NodeId)> {
    let rank = service.fields.rank?;
    let value = service.document.number(rank).and_then(|n| n.as_u64())?;
    Some((value, rank))
}

/// The ids seen so far.
pub(super) struct Seen(FirstByHash);

impl Seen {
    pub(super) fn with_capacity(count: usize) -> Self {
        Seen(FirstByHash::with_capacity(count))
    }

    /// WF302: the id of `visited[index]` is an earlier service's. A duplicate name (WF301)
    /// already says it all when the id is derived from that name.
    pub(super) fn check_id(
        &mut self,
        document: &Document<'_>,
        visited: &Ordered<Visited<'_>>,
        index: usize,
        id: &Id,
        name_is_duplicate: bool,
        out: &mut Vec<Diagnostic>,
    ) {
        if id.derived && name_is_duplicate {
            return;
        }
        let text = |i: usize| visited[i].id.as_ref().map(|id| id.text(document));
        let Some(first) = self.0.first(id.hash, index, |i| text(i) == text(index)) else {
            return;
        };
        let shown = id.text(document);
        let (how, label) = if id.derived {
            (
                " (derived from the connector name)",
                format!("derives id `{shown}`"),
            )
        } else {
            ("", "duplicate id".to_owned())
        };
        let field = if id.derived { "connectorName" } else { "id" };
        let first_span = visited[first]
            .id
            .as_ref()
            .map(|id| document.span(id.node))
            .unwrap_or_default();
        let name = names::name(document, &visited[index]);
        out.push(
            Diagnostic::error(
                Code::DuplicateId,
                format!(
                    "{}service id `{shown}`{how} is already used by services[{first}]",
                    place(index, name.as_deref())
                ),
                document.span(id.node),
            )
            .with_label(label)
            .with_secondary(first_span, "first used here")
            .with_pointer(format!("/services/{index}/{field}"))
            .with_help("give one of them an explicit, unique `\"id\"`"),
        );
    }
}

/// The ranks seen so far.
pub(super) struct Ranks(rustc_hash::FxHashMap<u64, u32>);

impl Ranks {
    pub(super) fn with_capacity(count: usize) -> Self {
        Ranks(rustc_hash::FxHashMap::with_capacity_and_hasher(
            count,
            Default::default(),
        ))
    }

    /// WF303: the rank of `visited[index]` is an earlier service's.
    pub(super) fn check_rank(
        &mut self,
        document: &Document<'_>,
        visited: &Ordered<Visited<'_>>,
        index: usize,
        (value, node): (u64, NodeId),
        out: &mut Vec<Diagnostic>,
    ) {
        let first = match self.0.entry(value) {
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(index as u32);
                return;
            }
            std::collections::hash_map::Entry::Occupied(slot) => *slot.get() as usize,
        };
        let first_span = visited[first]
            .rank
            .map(|(_, node)| document.span(node))
            .unwrap_or_default();
        let name = names::name(document, &visited[index]);
        out.push(
            Diagnostic::error(
                Code::DuplicateRank,
                format!(
                    "{}rank {value} is already taken by services[{first}]",
                    place(index, name.as_deref())
                ),
                document.span(node),
            )
            .with_label("duplicate rank")
            .with_secondary(first_span, "first taken here")
            .with_pointer(format!("/services/{index}/rank"))
            .with_help("renumber one of them, or use null for a service outside the ranked set"),
        );
    }
}

/// Whether the service has a rank (not null): a ranked service was found through its docs.
pub(super) fn is_ranked(service: &Service<'_, '_>) -> bool {
    service
        .fields
        .rank
        .is_some_and(|rank| service.document.kind(rank) != NodeKind::Null)
}
