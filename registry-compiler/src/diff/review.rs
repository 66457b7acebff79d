//! The changes matched with the head registry's acknowledgements.

use std::collections::HashSet;
use std::fmt::Write as _;

use crate::codes::ChangeClass as Class;
use crate::diagnostics::Diagnostic;
use crate::load::Document;
use crate::{Code, Span};

use super::{Change, Side, Version, changes};

/// One entry of a registry's top-level `changes` list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Acknowledgement {
    pub code: String,
    pub subject: String,
    pub reason: String,
    pub migration: String,
    pub pointer: String,
    pub span: Span,
}

/// The `changes` list of a valid registry's document, in order.
pub(super) fn acknowledgements(document: &Document<'_>) -> Vec<Acknowledgement> {
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
pub(crate) struct Reviewed {
    pub change: Change,
    pub acknowledged: Option<Acknowledgement>,
}

impl Reviewed {
    /// A breaking change nobody acknowledged: `diff` fails.
    pub(crate) fn is_blocking(&self) -> bool {
        self.change.class == Class::Breaking && self.acknowledged.is_none()
    }
}

/// The changes with their acknowledgements, and the acknowledgements added since the base that
/// name no change.
#[derive(Clone, Debug, Default)]
pub(crate) struct Review {
    pub changes: Vec<Reviewed>,
    pub stale: Vec<Acknowledgement>,
}

/// Compares `base` with `head` and matches the changes against `head`'s `changes` list. Entries
/// already in the base are history (the changelog) and are not required to match.
pub(crate) fn review(base: Version<'_>, head: Version<'_>) -> Review {
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
    pub(crate) fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.stale.is_empty()
    }

    /// Whether `diff` exits 1: an unacknowledged breaking change or a stale acknowledgement.
    pub(crate) fn fails(&self) -> bool {
        !self.stale.is_empty() || self.changes.iter().any(Reviewed::is_blocking)
    }

    pub(super) fn count(&self, class: Class) -> usize {
        self.changes
            .iter()
            .filter(|r| r.change.class == class)
            .count()
    }

    pub(super) fn unacknowledged(&self) -> usize {
        self.changes.iter().filter(|r| r.is_blocking()).count()
    }

    /// `2 breaking (1 unacknowledged), 1 notable, 0 cosmetic, 1 stale acknowledgement`.
    pub(crate) fn summary(&self) -> String {
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
    pub(crate) fn diagnostics(&self) -> (Vec<Diagnostic>, Vec<Diagnostic>) {
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
