//! Service ids and ranks: an id that cannot be derived (WF308), two services with one id
//! (WF302) or one rank (WF303).

use std::borrow::Cow;

use super::{FirstSeen, Hashed, Service, first_or_duplicate, place};
use crate::diagnostics::{Code, Diagnostic, Span};
use crate::load::NodeKind;
use crate::model::{derive_id, id_stem};

/// A service's id, explicit or derived from its connector name, where it was read.
pub(super) struct Id<'src> {
    id: Hashed<Cow<'src, str>>,
    span: Span,
    /// `id`, or `connectorName` when derived.
    field: &'static str,
    derived: bool,
}

/// WF308: the service's id, or why none can be derived from its connector name. A blank
/// name (WF311) derives nothing and needs no second message.
pub(super) fn check_id<'src>(
    service: &Service<'_, 'src>,
    name_is_blank: bool,
    out: &mut Vec<Diagnostic>,
) -> Option<Id<'src>> {
    let document = service.document;
    let index = service.index;
    let explicit = service
        .fields
        .id
        .and_then(|n| document.str(n).map(|s| (n, s)));
    let (id, span, field, derived) = match (explicit, service.fields.connector_name, &service.name)
    {
        (Some((node, id)), _, _) => (id, document.span(node), "id", false),
        (None, Some(node), Some(name)) => match derive_id(name) {
            Some(id) => (Cow::Owned(id), document.span(node), "connectorName", true),
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
        id: Hashed::new(id),
        span,
        field,
        derived,
    })
}

/// The service's rank, when it is a whole number, and its span.
pub(super) fn rank(service: &Service<'_, '_>) -> Option<(u64, Span)> {
    let document = service.document;
    let rank = service.fields.rank?;
    let value = document.number(rank).and_then(|n| n.as_u64())?;
    Some((value, document.span(rank)))
}

/// The ids and ranks seen so far.
pub(super) struct Seen<'src> {
    ids: FirstSeen<Hashed<Cow<'src, str>>>,
    ranks: FirstSeen<u64>,
}

impl<'src> Seen<'src> {
    pub fn with_capacity(count: usize) -> Self {
        Seen {
            ids: FirstSeen::with_capacity_and_hasher(count, Default::default()),
            ranks: FirstSeen::with_capacity_and_hasher(count, Default::default()),
        }
    }

    /// WF302: the id of the service at `index` is an earlier service's. A duplicate name
    /// (WF301) already says it all when the id is derived from that name.
    pub fn check_id(
        &mut self,
        index: usize,
        name: Option<&str>,
        id: Id<'src>,
        name_is_duplicate: bool,
        out: &mut Vec<Diagnostic>,
    ) {
        if id.derived && name_is_duplicate {
            return;
        }
        let Id {
            id,
            span,
            field,
            derived,
        } = id;
        first_or_duplicate(
            &mut self.ids,
            id,
            index,
            span,
            |id, first_index, first_span| {
                let shown = &id.key;
                let (how, label) = if derived {
                    (
                        " (derived from the connector name)",
                        format!("derives id `{shown}`"),
                    )
                } else {
                    ("", "duplicate id".to_owned())
                };
                let place = place(index, name);
                Diagnostic::error(
                    Code::DuplicateId,
                    format!(
                        "{place}service id `{shown}`{how} is already used by services[{first_index}]"
                    ),
                    span,
                )
                .with_label(label)
                .with_secondary(first_span, "first used here")
                .with_pointer(format!("/services/{index}/{field}"))
                .with_help("give one of them an explicit, unique `\"id\"`")
            },
            out,
        );
    }

    /// WF303: the rank of the service at `index` is an earlier service's.
    pub fn check_rank(
        &mut self,
        index: usize,
        name: Option<&str>,
        (value, span): (u64, Span),
        out: &mut Vec<Diagnostic>,
    ) {
        first_or_duplicate(
            &mut self.ranks,
            value,
            index,
            span,
            |_, first_index, first_span| {
                Diagnostic::error(
                    Code::DuplicateRank,
                    format!(
                        "{}rank {value} is already taken by services[{first_index}]",
                        place(index, name)
                    ),
                    span,
                )
                .with_label("duplicate rank")
                .with_secondary(first_span, "first taken here")
                .with_pointer(format!("/services/{index}/rank"))
                .with_help("renumber one of them, or use null for a service outside the ranked set")
            },
            out,
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
