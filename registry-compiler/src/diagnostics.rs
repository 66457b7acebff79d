//! Diagnostics: what went wrong, where, and how to fix it, printed the way rustc prints.
//!
//! Every diagnostic has a stable [`Code`], a byte span in the registry file, the JSON pointer of
//! the value, and an optional help line. [`Report`] renders a list of them as rustc-style text
//! (through codespan-reporting), as JSON, or as GitHub Actions workflow commands.

use std::fmt::Write as _;

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, Chars, Config};
use serde::Serialize;

pub use crate::codes::Code;

/// A byte range in the registry file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: u32, end: u32) -> Span {
        Span {
            start,
            end: end.max(start),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem found in a registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: Code,
    pub message: String,
    pub span: Span,
    /// Text under the caret.
    pub label: Option<String>,
    /// Other places that explain the problem (the first of two duplicates, an opening bracket).
    pub secondary: Vec<(Span, String)>,
    /// JSON pointer of the value concerned, when it has one.
    pub pointer: Option<String>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: Code, message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            span,
            label: None,
            secondary: Vec::new(),
            pointer: None,
            help: None,
        }
    }

    pub fn warning(code: Code, message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message, span)
        }
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }

    pub fn with_secondary(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.secondary.push((span, label.into()));
        self
    }

    pub fn with_pointer(mut self, pointer: impl Into<String>) -> Diagnostic {
        self.pointer = Some(pointer.into());
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Line starts of a source text, for turning byte offsets into 1-based line:column.
pub struct LineIndex {
    starts: Vec<u32>,
}

impl LineIndex {
    pub fn new(source: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(memchr_newlines(source.as_bytes()));
        LineIndex { starts }
    }

    /// 1-based line and column (in characters) of `offset`.
    pub fn line_column(&self, source: &str, offset: u32) -> (usize, usize) {
        let offset = (offset as usize).min(source.len());
        let line = self
            .starts
            .partition_point(|&start| start as usize <= offset)
            - 1;
        let start = self.starts[line] as usize;
        let offset = source.floor_char_boundary(offset);
        (line + 1, source[start..offset].chars().count() + 1)
    }
}

fn memchr_newlines(bytes: &[u8]) -> impl Iterator<Item = u32> + '_ {
    bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i as u32 + 1)
}

/// How diagnostics are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// rustc-style text with source snippets.
    #[default]
    Text,
    /// One JSON document (see README, "Machine-readable diagnostics").
    Json,
    /// GitHub Actions workflow commands (`::error file=…,line=…,col=…::message`).
    Github,
}

/// The diagnostics of one file, ready to print.
pub struct Report<'a> {
    /// The path as shown to the user (relative to the current directory when possible).
    pub path: &'a str,
    pub source: &'a str,
    pub diagnostics: &'a [Diagnostic],
}

/// The JSON form of one diagnostic. Field names are part of the CLI's stable interface.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonDiagnostic<'a> {
    severity: Severity,
    code: &'static str,
    message: &'a str,
    file: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    byte_start: u32,
    byte_end: u32,
    pointer: Option<&'a str>,
    label: Option<&'a str>,
    help: Option<&'a str>,
    related: Vec<JsonRelated<'a>>,
}

#[derive(Serialize)]
struct JsonRelated<'a> {
    line: usize,
    column: usize,
    message: &'a str,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    file: &'a str,
    errors: usize,
    warnings: usize,
    diagnostics: Vec<JsonDiagnostic<'a>>,
}

impl Report<'_> {
    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    pub fn warning_count(&self) -> usize {
        self.diagnostics.len() - self.error_count()
    }

    /// Renders in `format`; `color` adds ANSI colours to the text format only.
    pub fn render(&self, format: Format, color: bool) -> String {
        match format {
            Format::Text => self.render_text(color),
            Format::Json => self.render_json(),
            Format::Github => self.render_github(),
        }
    }

    /// rustc-style text: each diagnostic with its snippet, then a summary line.
    pub fn render_text(&self, color: bool) -> String {
        let file = SimpleFile::new(self.path, self.source);
        let config = Config {
            chars: Chars::ascii(),
            ..Config::default()
        };
        let mut out = String::new();
        for diagnostic in self.diagnostics {
            let cs = to_codespan(diagnostic);
            if color {
                let mut buffer = term::termcolor::Buffer::ansi();
                if term::emit_to_write_style(&mut buffer, &config, &file, &cs).is_ok() {
                    out.push_str(&String::from_utf8_lossy(buffer.as_slice()));
                }
            } else {
                let _ = term::emit_to_string(&mut out, &config, &file, &cs);
            }
        }
        out.push_str(&self.summary(color));
        out
    }

    /// `error: 3 problems in services.json` (or the warning count alone).
    pub fn summary(&self, color: bool) -> String {
        let (errors, warnings) = (self.error_count(), self.warning_count());
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        let paint = |text: &str, code: &str| {
            if color {
                format!("\x1b[{code}m{text}\x1b[0m")
            } else {
                text.to_owned()
            }
        };
        if errors > 0 {
            let mut line = format!(
                "{}: {} in {}",
                paint("error", "1;31"),
                plural(errors, "problem"),
                self.path
            );
            if warnings > 0 {
                let _ = write!(line, " (and {})", plural(warnings, "warning"));
            }
            line + "\n"
        } else if warnings > 0 {
            format!(
                "{}: {} in {}\n",
                paint("warning", "1;33"),
                plural(warnings, "warning"),
                self.path
            )
        } else {
            String::new()
        }
    }

    pub fn render_json(&self) -> String {
        let index = LineIndex::new(self.source);
        let diagnostics = self
            .diagnostics
            .iter()
            .map(|d| {
                let (line, column) = index.line_column(self.source, d.span.start);
                let (end_line, end_column) = index.line_column(self.source, d.span.end);
                JsonDiagnostic {
                    severity: d.severity,
                    code: d.code.as_str(),
                    message: &d.message,
                    file: self.path,
                    line,
                    column,
                    end_line,
                    end_column,
                    byte_start: d.span.start,
                    byte_end: d.span.end,
                    pointer: d.pointer.as_deref(),
                    label: d.label.as_deref(),
                    help: d.help.as_deref(),
                    related: d
                        .secondary
                        .iter()
                        .map(|(span, message)| {
                            let (line, column) = index.line_column(self.source, span.start);
                            JsonRelated {
                                line,
                                column,
                                message,
                            }
                        })
                        .collect(),
                }
            })
            .collect();
        let report = JsonReport {
            file: self.path,
            errors: self.error_count(),
            warnings: self.warning_count(),
            diagnostics,
        };
        serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"
    }

    pub fn render_github(&self) -> String {
        let index = LineIndex::new(self.source);
        let mut out = String::new();
        for d in self.diagnostics {
            let (line, column) = index.line_column(self.source, d.span.start);
            let (end_line, end_column) = index.line_column(self.source, d.span.end);
            let level = match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            let mut message = d.message.clone();
            if let Some(pointer) = &d.pointer {
                let _ = write!(message, " (at {pointer})");
            }
            if let Some(help) = &d.help {
                let _ = write!(message, "\nhelp: {help}");
            }
            let _ = writeln!(
                out,
                "::{level} file={},line={line},col={column},endLine={end_line},endColumn={end_column},title={}::{}",
                escape_property(self.path),
                escape_property(&format!("{} {}", d.code, d.code.title())),
                escape_data(&message)
            );
        }
        out
    }
}

fn to_codespan(d: &Diagnostic) -> CsDiagnostic<()> {
    let range = |span: Span| span.start as usize..span.end as usize;
    let mut labels =
        vec![Label::primary((), range(d.span)).with_message(d.label.clone().unwrap_or_default())];
    labels.extend(
        d.secondary
            .iter()
            .map(|(span, message)| Label::secondary((), range(*span)).with_message(message)),
    );
    let mut notes = Vec::new();
    if let Some(pointer) = &d.pointer {
        notes.push(format!(
            "at {}",
            if pointer.is_empty() {
                "/ (the top level)"
            } else {
                pointer
            }
        ));
    }
    if let Some(help) = &d.help {
        notes.push(format!("help: {help}"));
    }
    let cs = match d.severity {
        Severity::Error => CsDiagnostic::error(),
        Severity::Warning => CsDiagnostic::warning(),
    };
    cs.with_code(d.code.as_str())
        .with_message(&d.message)
        .with_labels(labels)
        .with_notes(notes)
}

// Workflow-command escaping, as documented by GitHub's toolkit (`core.issueCommand`).
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}
