//! A route's secret requirements: labels distinct within the route (WF310) and not blank
//! (WF311, through [`text::check_blank`]), names listed once per requirement (WF309).

use std::borrow::Cow;

use super::{FirstSeen, Service, first_or_duplicate, text};
use crate::diagnostics::{Code, Diagnostic};
use crate::load::{NodeId, NodeKind};

/// WF309, WF310 and WF311 for the `secrets` list of route `r`; every secret name is added to
/// `names`, for WF322.
pub(super) fn check<'src>(
    service: &Service<'_, 'src>,
    list: NodeId,
    r: usize,
    route_pointer: &str,
    names: &mut Vec<Cow<'src, str>>,
    out: &mut Vec<Diagnostic>,
) {
    let document = service.document;
    let index = service.index;
    let mut labels: FirstSeen<String> = FirstSeen::default();
    for (s, requirement) in document.children(list).enumerate() {
        if let Some(label_node) = document.get(requirement, "label")
            && let Some(label) = document.str(label_node)
        {
            let field = || format!("runtime/routes/{r}/secrets/{s}/label");
            text::check_blank(service, label_node, &label, &field, out);
            let span = document.span(label_node);
            first_or_duplicate(
                &mut labels,
                label.trim().to_lowercase(),
                index,
                span,
                |_, _, first_span| {
                    Diagnostic::error(
                        Code::DuplicateSecretLabel,
                        format!(
                            "{}two secret requirements of this route are labelled {:?}",
                            service.place(),
                            label.as_ref()
                        ),
                        span,
                    )
                    .with_label("duplicate label")
                    .with_secondary(first_span, "first used here")
                    .with_pointer(format!("{route_pointer}/secrets/{s}/label"))
                    .with_help("give each requirement its own label, or merge their `anyOf` lists")
                },
                out,
            );
        }
        let Some(any_of) = document
            .get(requirement, "anyOf")
            .filter(|&a| document.kind(a) == NodeKind::Array)
        else {
            continue;
        };
        let mut seen: FirstSeen<Cow<'src, str>> = FirstSeen::default();
        for (n, name_node) in document.children(any_of).enumerate() {
            let Some(name) = document.str(name_node) else {
                continue;
            };
            let span = document.span(name_node);
            names.push(name.clone());
            first_or_duplicate(
                &mut seen,
                name,
                index,
                span,
                |shown, _, first_span| {
                    Diagnostic::error(
                        Code::DuplicateSecretName,
                        format!(
                            "{}secret name `{shown}` is listed twice in the same requirement",
                            service.place()
                        ),
                        span,
                    )
                    .with_label("listed again")
                    .with_secondary(first_span, "first listed here")
                    .with_pointer(format!("{route_pointer}/secrets/{s}/anyOf/{n}"))
                    .with_help("remove the duplicate, or replace it with the name that was meant")
                },
                out,
            );
        }
    }
}
