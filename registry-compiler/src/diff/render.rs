//! A review printed as text, Markdown, JSON or GitHub annotations.

use std::fmt::Write as _;

use serde::Serialize;

use crate::Span;
use crate::codes::ChangeClass as Class;
use crate::diagnostics::{LineIndex, Report};

use super::{Review, Side};

/// The two files a review is printed against, as shown to users.
pub(crate) struct Files<'a> {
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
    pub(crate) fn text(&self, review: &Review, color: bool) -> String {
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
    pub(crate) fn github(&self, review: &Review) -> String {
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
    pub(crate) fn json(&self, review: &Review) -> String {
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
    pub(crate) fn markdown(&self, review: &Review) -> String {
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
