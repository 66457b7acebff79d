//! Text that shows wrong: blank names, summaries and labels (WF311), and control or
//! bidirectional control characters in any string of the registry (WF312).

use std::borrow::Cow;

use super::{Service, chars, inner, place};
use crate::diagnostics::{Code, Diagnostic, Span};
use crate::load::{Document, NodeId, NodeKind};

/// WF311: a name, summary or label with nothing visible in it (an empty one is the schema's
/// WF207). `field` is the member's path inside the service. Returns whether it is blank.
pub(super) fn check_blank(
    service: &Service<'_, '_>,
    node: NodeId,
    text: &str,
    field: &dyn Fn() -> String,
    out: &mut Vec<Diagnostic>,
) -> bool {
    let blank = is_blank(text);
    if blank {
        let field = field();
        let name = field.rsplit('/').next().unwrap_or(&field);
        out.push(
            Diagnostic::error(
                Code::BlankText,
                format!(
                    "{}`{name}` is blank: it holds only whitespace or invisible characters",
                    service.place()
                ),
                service.document.span(node),
            )
            .with_label("nothing visible here")
            .with_pointer(format!("/services/{}/{field}", service.index))
            .with_help(format!("write the {}", noun(name))),
        );
    }
    blank
}

/// Not empty, yet nothing visible: only whitespace or invisible characters.
fn is_blank(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_whitespace() || chars::is_invisible(c))
}

/// WF311 for the registry's own `name`, which its pages and OpenAPI document show as a title.
pub(super) fn check_registry_name(
    document: &Document<'_>,
    root: NodeId,
    out: &mut Vec<Diagnostic>,
) {
    let Some(node) = document.get(root, "name") else {
        return;
    };
    if document.str(node).is_some_and(|text| is_blank(&text)) {
        out.push(
            Diagnostic::error(
                Code::BlankText,
                "`name` is blank: it holds only whitespace or invisible characters",
                document.span(node),
            )
            .with_label("nothing visible here")
            .with_pointer("/name")
            .with_help(
                "write the registry's name, such as \"Acme connectors\", or leave `name` out",
            ),
        );
    }
}

fn noun(field: &str) -> &'static str {
    match field {
        "connectorName" => "connector name, such as \"Acme CRM\"",
        "summary" => "route's summary: one line saying what it does",
        "label" => "secret's label, such as \"Acme API key\"",
        _ => "value",
    }
}

/// WF312 in every string outside the `services` array (all of them when there is none).
pub(super) fn check_outside(
    document: &Document<'_>,
    services: Option<NodeId>,
    out: &mut Vec<Diagnostic>,
) {
    let mut walk = Walk::default();
    let end = document.nodes.len() as NodeId;
    match services {
        Some(services) => {
            // The services' subtrees are walked by their visits.
            walk.run(document, 0..services + 1, out);
            walk.run(document, document.node(services).subtree_end..end, out);
        }
        None => walk.run(document, 0..end, out),
    }
}

/// WF312 in every string of the service at `index` of the `services` array.
pub(super) fn check_service(
    document: &Document<'_>,
    services: NodeId,
    index: usize,
    service: NodeId,
    out: &mut Vec<Diagnostic>,
) {
    // Most services have neither escapes nor non-ASCII text: one scan of their bytes clears them.
    let span = document.span(service);
    let text = &document.source.as_bytes()[span.start as usize..span.end as usize];
    if !chars::may_hold_forbidden(text) {
        return;
    }
    // Where the walk of the whole document would stand: the root and `services` open.
    let mut walk = Walk {
        open: vec![
            Open {
                id: 0,
                end: document.node(0).subtree_end,
                seen: 0,
                position: 0,
            },
            Open {
                id: services,
                end: document.node(services).subtree_end,
                seen: index,
                position: 0,
            },
        ],
    };
    walk.run(document, service..document.node(service).subtree_end, out);
}

/// An open container: its id, where its subtree ends, how many children were seen, and its
/// own position in its parent.
struct Open {
    id: NodeId,
    end: u32,
    seen: usize,
    position: usize,
}

/// Walks nodes in document order, keeping the path of the current node, so a pointer is only
/// built for a string that has a problem.
#[derive(Default)]
struct Walk {
    open: Vec<Open>,
}

impl Walk {
    fn run(
        &mut self,
        document: &Document<'_>,
        ids: std::ops::Range<NodeId>,
        out: &mut Vec<Diagnostic>,
    ) {
        for id in ids {
            let node = document.node(id);
            let open = &mut self.open;
            while open.last().is_some_and(|o| o.end <= id) {
                open.pop();
            }
            let position = match open.last_mut() {
                Some(parent) => {
                    parent.seen += 1;
                    parent.seen - 1
                }
                None => 0,
            };
            match node.kind {
                NodeKind::Array | NodeKind::Object => open.push(Open {
                    id,
                    end: node.subtree_end,
                    seen: 0,
                    position,
                }),
                NodeKind::String => self.string(document, id, position, out),
                _ => {}
            }
        }
    }

    fn string(
        &self,
        document: &Document<'_>,
        id: NodeId,
        position: usize,
        out: &mut Vec<Diagnostic>,
    ) {
        let open = &self.open;
        let node = document.node(id);
        let raw = inner(document, node.span);
        if !chars::may_hold_forbidden(raw.as_bytes()) {
            return;
        }
        // Only a string with an escape can hold a line break: the path is looked at then.
        let in_name = raw.contains('\\') && {
            let keys: Vec<Option<Cow<'_, str>>> =
                open.iter().skip(1).map(|o| document.key(o.id)).collect();
            is_name_path(&keys, document.key(id).as_deref())
        };
        let Some((range, c, why)) = chars::first_forbidden(raw, in_name) else {
            return;
        };
        // Segments of the path: each open container but the root, then this string.
        let mut segments: Vec<String> = Vec::with_capacity(open.len());
        let path = open
            .iter()
            .skip(1)
            .map(|o| (o.id, o.position))
            .chain([(id, position)]);
        let parents = open.iter().map(|o| o.id);
        for ((node_id, position), parent) in path.zip(parents) {
            segments.push(if document.kind(parent) == NodeKind::Array {
                position.to_string()
            } else {
                document
                    .key(node_id)
                    .map(|k| crate::load::pointer_segment(&k).into_owned())
                    .unwrap_or_default()
            });
        }
        let pointer: String = segments.iter().flat_map(|s| ["/", s]).collect();
        let place = match segments.as_slice() {
            [services, index, ..] if services == "services" => index
                .parse::<usize>()
                .map(|index| service_place(document, index))
                .unwrap_or_default(),
            _ => String::new(),
        };
        let field = match segments.as_slice() {
            [.., list, last] if last.bytes().all(|b| b.is_ascii_digit()) => {
                format!("{list}[{last}]")
            }
            [.., last] => last.clone(),
            [] => "the text".to_owned(),
        };
        let start = node.span.start + 1 + range.start as u32;
        let span = Span::new(start, node.span.start + 1 + range.end as u32);
        let help = if why == "a bidirectional control" {
            "remove it: bidirectional controls make the pages show text in another order than the registry holds it"
        } else if why == "a line break or tab" {
            "write it on one line: names, summaries and labels are shown on one line, in the pages and in messages"
        } else {
            "remove it; only tab, line feed and carriage return are allowed in text"
        };
        out.push(
            Diagnostic::error(
                Code::ForbiddenCharacter,
                format!("{place}`{field}` contains {}, {why}", chars::describe(c)),
                span,
            )
            .with_label(why)
            .with_pointer(pointer)
            .with_help(help),
        );
    }
}

/// `schema::service_place`, by the pointer's index: the string may sit in a `services` array
/// that the rules do not visit (a duplicate key), so the name is looked up, not passed in.
fn service_place(document: &Document<'_>, index: usize) -> String {
    let name = document
        .root()
        .and_then(|root| document.get(root, "services"))
        .and_then(|services| document.element(services, index))
        .and_then(|service| document.get(service, "connectorName"))
        .and_then(|name| document.str(name));
    place(index, name.as_deref())
}

/// Whether a string at this path (the keys of its containers below the root, `None` for an
/// array element, then its own key) is a name or one-line text, where WF312 refuses line
/// breaks and tabs too: the registry's `name`, a service's `connectorName` and
/// `officialVendorName`, a route's `summary`, a secret's or setting's `label`. Contract schemas
/// and examples hold any text.
fn is_name_path(keys: &[Option<Cow<'_, str>>], key: Option<&str>) -> bool {
    let keys: Vec<Option<&str>> = keys.iter().map(Option::as_deref).collect();
    matches!(
        (keys.as_slice(), key),
        ([], Some("name"))
            | (
                [Some("services"), None],
                Some("connectorName" | "officialVendorName")
            )
            | (
                [
                    Some("services"),
                    None,
                    Some("runtime"),
                    Some("routes"),
                    None
                ],
                Some("summary")
            )
            | (
                [
                    Some("services"),
                    None,
                    Some("runtime"),
                    Some("routes"),
                    None,
                    Some("secrets" | "settings"),
                    None,
                ],
                Some("label")
            )
    )
}
