//! A service's runtime routes: route ids unique across the registry (WF304), settings listed
//! once and not named like a secret (WF322), and a blank summary (WF311, through
//! [`text::check_blank`]). Each route's contract and secrets are [`contract`]'s and
//! [`secrets`]'.

use std::borrow::Cow;

use rustc_hash::FxHashSet as HashSet;

use super::{FirstSeen, Service, contract, first_or_duplicate, place, secrets, text};
use crate::diagnostics::{Code, Diagnostic, Span};
use crate::load::NodeKind;

/// What the routes of one service declare that other services' routes may clash with.
#[derive(Default)]
pub(super) struct Names<'src> {
    /// Each route id, its span and the route's position in `routes`.
    ids: Vec<(Cow<'src, str>, Span, usize)>,
    /// Each setting listed once in its route: its name, span and pointer.
    settings: Vec<(Cow<'src, str>, Span, String)>,
    /// Every secret name of every requirement.
    secrets: Vec<Cow<'src, str>>,
}

impl Names<'_> {
    pub(super) fn is_empty(&self) -> bool {
        self.ids.is_empty() && self.settings.is_empty() && self.secrets.is_empty()
    }
}

/// WF311 (summary), the in-route half of WF322, and the checks of [`contract`] and
/// [`secrets`], for every route of the service.
pub(super) fn check<'src>(
    service: &Service<'_, 'src>,
    compiled: &mut contract::Compiled<'src>,
    out: &mut Vec<Diagnostic>,
) -> Names<'src> {
    let mut names = Names::default();
    let document = service.document;
    let index = service.index;
    for (r, route) in service.routes() {
        let route_pointer = format!("/services/{index}/runtime/routes/{r}");
        let place = contract::RoutePlace {
            service,
            pointer: &route_pointer,
        };
        contract::check(route, &place, compiled, out);
        if let Some(node) = document.get(route, "summary")
            && let Some(summary) = document.str(node)
        {
            let field = || format!("runtime/routes/{r}/summary");
            text::check_blank(service, node, &summary, &field, out);
        }
        if let Some(id_node) = document.get(route, "id")
            && let Some(id) = document.str(id_node)
        {
            names.ids.push((id, document.span(id_node), r));
        }
        if let Some(settings) = document
            .get(route, "settings")
            .filter(|&s| document.kind(s) == NodeKind::Array)
        {
            let mut seen: FirstSeen<Cow<'src, str>> = FirstSeen::default();
            for (s, setting) in document.children(settings).enumerate() {
                let Some(name_node) = document.get(setting, "name") else {
                    continue;
                };
                let Some(name) = document.str(name_node) else {
                    continue;
                };
                let span = document.span(name_node);
                let pointer = format!("{route_pointer}/settings/{s}/name");
                let repeated = first_or_duplicate(
                    &mut seen,
                    name.clone(),
                    index,
                    span,
                    |shown, _, first_span| {
                        Diagnostic::error(
                            Code::SettingConflict,
                            format!(
                                "{}setting `{shown}` is listed twice in this route",
                                service.place()
                            ),
                            span,
                        )
                        .with_label("listed again")
                        .with_secondary(first_span, "first listed here")
                        .with_pointer(pointer.clone())
                        .with_help("remove the repeated setting")
                    },
                    out,
                );
                if !repeated {
                    names.settings.push((name, span, pointer));
                }
            }
        }
        if let Some(list) = document
            .get(route, "secrets")
            .filter(|&s| document.kind(s) == NodeKind::Array)
        {
            secrets::check(service, list, r, &route_pointer, &mut names.secrets, out);
        }
    }
    names
}

/// Route ids, secret names and settings across every route, for WF304 and WF322: a setting
/// must not be named like any route's secret (the runtime would refuse to link it).
#[derive(Default)]
pub(super) struct Seen<'src> {
    ids: FirstSeen<Cow<'src, str>>,
    secrets: HashSet<Cow<'src, str>>,
    /// Each setting's name, its span, its pointer and its service's place.
    settings: Vec<(Cow<'src, str>, Span, String, String)>,
}

impl<'src> Seen<'src> {
    /// WF304 for the routes of the service at `index`; keeps its secrets and settings for
    /// [`Seen::check_settings`].
    pub(super) fn check(
        &mut self,
        index: usize,
        name: Option<&str>,
        names: &Names<'src>,
        out: &mut Vec<Diagnostic>,
    ) {
        for &(ref id, span, r) in &names.ids {
            first_or_duplicate(
                &mut self.ids,
                id.clone(),
                index,
                span,
                |shown, first_index, first_span| {
                    Diagnostic::error(
                        Code::DuplicateRouteId,
                        format!(
                            "{}route id `{shown}` is already declared by services[{first_index}]",
                            place(index, name)
                        ),
                        span,
                    )
                    .with_label("duplicate route id")
                    .with_secondary(first_span, "first declared here")
                    .with_pointer(format!("/services/{index}/runtime/routes/{r}/id"))
                    .with_help("route ids are unique across the registry; rename one of them")
                },
                out,
            );
        }
        self.secrets.extend(names.secrets.iter().cloned());
        for (setting, span, pointer) in &names.settings {
            let place = place(index, name);
            self.settings
                .push((setting.clone(), *span, pointer.clone(), place));
        }
    }

    /// WF322: a setting named like a secret of any route.
    pub(super) fn check_settings(&self, out: &mut Vec<Diagnostic>) {
        for (name, span, pointer, place) in &self.settings {
            if self.secrets.contains(name) {
                out.push(
                    Diagnostic::error(
                        Code::SettingConflict,
                        format!("{place}setting `{name}` is also declared as a secret"),
                        *span,
                    )
                    .with_label("named like a secret")
                    .with_pointer(pointer.clone())
                    .with_help(
                        "a handler can read every setting of its route; give the setting a \
                         name no route uses for a secret",
                    ),
                );
            }
        }
    }
}
