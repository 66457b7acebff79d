//! Diagnostics: what went wrong, where, and how to fix it, printed the way rustc prints.
//!
//! Every diagnostic has a stable [`Code`], a byte span in the registry file, the JSON pointer of
//! the value, and an optional help line. [`Report`] renders a list of them as rustc-style text
//! (through codespan-reporting), as JSON, or as GitHub Actions workflow commands.

use std::fmt::Write as _;

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
use codespan_reporting::term::{self, Chars, Config};
use serde::Serialize;

pub(crate) use crate::codes::Code;

/// A byte range in the registry file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Span {
    /// The first byte.
    pub start: u32,
    /// The byte after the last.
    pub end: u32,
}

impl Span {
    /// The bytes `start..end`.
    pub fn new(start: u32, end: u32) -> Span {
        Span {
            start,
            end: end.max(start),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
/// Whether a diagnostic fails the check.
pub enum Severity {
    /// The registry is invalid: `check` and the build fail.
    Error,
    /// Worth fixing; the registry stays valid.
    Warning,
}

/// One problem found in a registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The rule's stable code (`workerflow-registry explain CODE`).
    pub code: Code,
    /// What is wrong, in one line.
    pub message: String,
    /// Where, in bytes of the file.
    pub span: Span,
    /// Text under the caret.
    pub label: Option<String>,
    /// Other places that explain the problem (the first of two duplicates, an opening bracket).
    pub secondary: Vec<(Span, String)>,
    /// JSON pointer of the value concerned, when it has one.
    pub pointer: Option<String>,
    /// How to fix it, when there is something to say.
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error with `code` and `message` at `span`.
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

    /// A warning with `code` and `message` at `span`.
    pub fn warning(code: Code, message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message, span)
        }
    }

    /// The label under the primary span.
    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }

    /// Another place the problem involves, with its label.
    pub fn with_secondary(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.secondary.push((span, label.into()));
        self
    }

    /// The JSON pointer of the value (`/services/3/rank`).
    pub fn with_pointer(mut self, pointer: impl Into<String>) -> Diagnostic {
        self.pointer = Some(pointer.into());
        self
    }

    /// The `= help:` line.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Whether this diagnostic is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Line starts of a source text, for turning byte offsets into 1-based line:column.
pub(crate) struct LineIndex {
    starts: Vec<u32>,
}

impl LineIndex {
    /// 0-based line of `offset`.
    fn line_of(&self, offset: usize) -> usize {
        self.starts
            .partition_point(|&start| start as usize <= offset)
            - 1
    }

    /// Byte range of line `line` without its terminator.
    fn content(&self, source: &str, line: usize) -> (usize, usize) {
        let start = self.starts[line] as usize;
        let end = self
            .starts
            .get(line + 1)
            .map_or(source.len(), |&next| next as usize);
        let text = &source.as_bytes()[start..end];
        let trimmed = text.strip_suffix(b"\n").unwrap_or(text);
        let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
        (start, start + trimmed.len())
    }
}

impl LineIndex {
    pub(crate) fn new(source: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(memchr_newlines(source.as_bytes()));
        LineIndex { starts }
    }

    /// 1-based line and column (in characters) of `offset`.
    pub(crate) fn line_column(&self, source: &str, offset: u32) -> (usize, usize) {
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

/// Starts of every line after the first: after `\n`, `\r\n` or a lone `\r` (old Mac files).
fn memchr_newlines(bytes: &[u8]) -> impl Iterator<Item = u32> + '_ {
    bytes
        .iter()
        .enumerate()
        .filter(|&(i, b)| *b == b'\n' || (*b == b'\r' && bytes.get(i + 1) != Some(&b'\n')))
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
    /// The file's text, for the excerpts.
    pub source: &'a str,
    /// The diagnostics, sorted by position.
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
    /// How many diagnostics are errors.
    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    /// How many diagnostics are warnings.
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
        let mut out = self.render_snippets(color);
        out.push_str(&self.summary(color));
        out
    }

    /// Each diagnostic with its snippet, without the summary line.
    pub fn render_snippets(&self, color: bool) -> String {
        // A clean file needs no line index (a scan of the whole text).
        if self.diagnostics.is_empty() {
            return String::new();
        }
        let index = LineIndex::new(self.source);
        let config = Config {
            chars: Chars::ascii(),
            ..Config::default()
        };
        let mut out = String::new();
        // The path is the user's (an argument, a git revision): shown escaped, on one line.
        let path = one_line(self.path);
        for diagnostic in self.diagnostics {
            // Each diagnostic gets a small file of the lines it shows, long lines cut to a
            // window around the labels: a minified registry is one line of megabytes.
            let (file, cs) = Snippet::build(&path, self.source, &index, &config, diagnostic);
            if color {
                let mut buffer = term::termcolor::Buffer::ansi();
                if term::emit_to_write_style(&mut buffer, &config, &file, &cs).is_ok() {
                    out.push_str(&String::from_utf8_lossy(buffer.as_slice()));
                }
            } else {
                let _ = term::emit_to_string(&mut out, &config, &file, &cs);
            }
        }
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
                one_line(self.path)
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
                one_line(self.path)
            )
        } else {
            String::new()
        }
    }

    /// The `--format json` report (`file`, `errors`, `warnings`, `diagnostics`), as text.
    pub fn render_json(&self) -> String {
        serde_json::to_string_pretty(&self.json_report()).unwrap_or_default() + "\n"
    }

    /// The `--format json` report as a value, for tools that answer with JSON
    /// (`workerflow mcp`'s `check_registry`).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self.json_report()).unwrap_or_default()
    }

    fn json_report(&self) -> JsonReport<'_> {
        let index = if self.diagnostics.is_empty() {
            LineIndex::new("")
        } else {
            LineIndex::new(self.source)
        };
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
        JsonReport {
            file: self.path,
            errors: self.error_count(),
            warnings: self.warning_count(),
            diagnostics,
        }
    }

    /// The report as GitHub Actions workflow commands, one per diagnostic.
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
                escape_data(&escape_controls(&message))
            );
        }
        out
    }
}

fn to_codespan(d: &Diagnostic, range: impl Fn(Span) -> std::ops::Range<usize>) -> CsDiagnostic<()> {
    // A message, label or help is one line: a line feed from the registry (a name quoted in a
    // message) is shown escaped, so it cannot start a forged `error[…]` line.
    let text = |t: &str| one_line(t).into_owned();
    // An internal error without a place has no snippet: `1:1` would be a made-up position.
    let placeless = d.code == Code::Internal && d.span == Span::default() && d.label.is_none();
    let mut labels = Vec::new();
    if !placeless {
        labels.push(
            Label::primary((), range(d.span)).with_message(text(d.label.as_deref().unwrap_or(""))),
        );
        labels.extend(
            d.secondary.iter().map(|(span, message)| {
                Label::secondary((), range(*span)).with_message(text(message))
            }),
        );
    }
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
        notes.push(format!("help: {}", text(help)));
    }
    let cs = match d.severity {
        Severity::Error => CsDiagnostic::error(),
        Severity::Warning => CsDiagnostic::warning(),
    };
    cs.with_code(d.code.as_str())
        .with_message(text(&d.message))
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
    escape_data(&escape_controls(text))
        .replace(':', "%3A")
        .replace(',', "%2C")
}

/// Lines longer than this (in bytes) are shown as windows around the labels.
const LONG_LINE: usize = 200;
/// Bytes shown on each side of a label's start and end in a long line.
const WINDOW: usize = 60;
const ELLIPSIS: &str = "…";

/// Whether `c` is shown escaped: it would move the cursor, recolour the terminal or reorder the
/// text (C0 controls but tab and line feed, DEL, C1, bidirectional controls, line separators).
fn is_hidden_control(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{8}' | '\u{b}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}'
        | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// [`escape_controls`], with tab, line feed and carriage return escaped too (`\n`): for text
/// that must stay on one line.
pub(crate) fn one_line(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains(['\t', '\n', '\r']) {
        return escape_controls(text);
    }
    let joined = text
        .replace('\t', "\\t")
        .replace('\n', "\\n")
        .replace('\r', "\\r");
    std::borrow::Cow::Owned(escape_controls(&joined).into_owned())
}

/// `text` with control characters written as `\u{1b}`, as rustc shows them. Tab and line feed
/// stay.
pub(crate) fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(is_hidden_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_hidden_control(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// One shown line of a [`Snippet`]: its range in the snippet text (terminator included), the
/// real line start, and anchors (real offset, snippet offset) where the two stop moving together
/// (cuts and escapes), sorted.
struct SnippetLine {
    range: std::ops::Range<usize>,
    real_start: usize,
    anchors: Vec<(usize, usize)>,
}

impl SnippetLine {
    fn to_snippet(&self, real: usize) -> usize {
        let at = self
            .anchors
            .partition_point(|&(r, _)| r <= real)
            .saturating_sub(1);
        let Some(&(r, s)) = self.anchors.get(at) else {
            return self.range.start;
        };
        let mapped = s + real.saturating_sub(r);
        let limit = self
            .anchors
            .get(at + 1)
            .map_or(self.range.end.saturating_sub(1), |&(_, next)| next);
        mapped.min(limit.max(s))
    }

    fn to_real(&self, snippet: usize) -> usize {
        let at = self
            .anchors
            .partition_point(|&(_, s)| s <= snippet)
            .saturating_sub(1);
        let Some(&(r, s)) = self.anchors.get(at) else {
            return self.real_start;
        };
        let mapped = r + snippet.saturating_sub(s);
        self.anchors
            .get(at + 1)
            .map_or(mapped, |&(next, _)| mapped.min(next.max(r)))
    }
}

/// The lines one diagnostic shows, as a small codespan file that reports the real line and
/// column numbers.
struct Snippet<'a> {
    name: &'a str,
    source: &'a str,
    text: String,
    /// Real index of `lines[0]`.
    first: usize,
    lines: Vec<SnippetLine>,
}

impl<'a> Snippet<'a> {
    fn build(
        name: &'a str,
        source: &'a str,
        index: &LineIndex,
        config: &Config,
        d: &Diagnostic,
    ) -> (Snippet<'a>, CsDiagnostic<()>) {
        let clamp = |offset: u32| source.floor_char_boundary((offset as usize).min(source.len()));
        let spans: Vec<(usize, usize)> = std::iter::once(d.span)
            .chain(d.secondary.iter().map(|(span, _)| *span))
            .map(|span| (clamp(span.start), clamp(span.end)))
            .collect();
        // The lines codespan renders: label starts and ends, the context of multi-line labels,
        // and single lines between two shown ones.
        let mut shown = std::collections::BTreeSet::new();
        for &(start, end) in &spans {
            let (s, e) = (index.line_of(start), index.line_of(end));
            shown.insert(s);
            shown.insert(e);
            if e > s {
                shown.extend(s + 1..=(s + config.start_context_lines).min(e));
                shown.extend(e.saturating_sub(config.end_context_lines).max(s)..e);
            }
        }
        let gaps: Vec<usize> = shown
            .iter()
            .filter(|&&i| shown.contains(&(i + 2)) && !shown.contains(&(i + 1)))
            .map(|&i| i + 1)
            .collect();
        shown.extend(gaps);
        let first = shown.first().copied().unwrap_or(0);
        let last = shown.last().copied().unwrap_or(0);
        let mut text = String::new();
        let mut lines = Vec::with_capacity(last - first + 1);
        for line in first..=last {
            let (real_start, real_end) = index.content(source, line);
            let start = text.len();
            let mut anchors = Vec::new();
            if shown.contains(&line) {
                let points: Vec<usize> = spans
                    .iter()
                    .flat_map(|&(s, e)| [s, e])
                    .filter(|&p| real_start <= p && p <= real_end)
                    .collect();
                let windows = windows(source, real_start, real_end, &points);
                for (n, &(from, to)) in windows.iter().enumerate() {
                    if from > real_start || n > 0 {
                        text.push_str(ELLIPSIS);
                    }
                    anchors.push((from, text.len()));
                    for (i, c) in source[from..to].char_indices() {
                        if is_hidden_control(c) {
                            let at = from + i;
                            anchors.push((at, text.len()));
                            let _ = write!(text, "\\u{{{:x}}}", c as u32);
                            anchors.push((at + c.len_utf8(), text.len()));
                        } else {
                            text.push(c);
                        }
                    }
                    anchors.push((to, text.len()));
                }
                if windows.last().is_some_and(|&(_, to)| to < real_end) {
                    text.push_str(ELLIPSIS);
                }
            }
            text.push('\n');
            lines.push(SnippetLine {
                range: start..text.len(),
                real_start,
                anchors,
            });
        }
        let snippet = Snippet {
            name,
            source,
            text,
            first,
            lines,
        };
        let cs = to_codespan(d, |span| {
            let map = |offset: u32| {
                let real = clamp(offset);
                let line = index.line_of(real);
                snippet
                    .lines
                    .get(line.wrapping_sub(first))
                    .map_or(0, |l| l.to_snippet(real))
            };
            map(span.start)..map(span.end)
        });
        (snippet, cs)
    }
}

/// The byte ranges of line `start..end` to show: all of it when short, else windows around
/// `points`, merged when they overlap.
fn windows(source: &str, start: usize, end: usize, points: &[usize]) -> Vec<(usize, usize)> {
    if end - start <= LONG_LINE {
        return vec![(start, end)];
    }
    let mut points = points.to_vec();
    points.sort_unstable();
    let mut out: Vec<(usize, usize)> = Vec::new();
    for p in points {
        let from = source.floor_char_boundary(p.saturating_sub(WINDOW).max(start));
        let to = source.ceil_char_boundary((p + WINDOW).min(end));
        match out.last_mut() {
            Some(last) if from <= last.1 => last.1 = last.1.max(to),
            _ => out.push((from, to)),
        }
    }
    out
}

impl<'a> codespan_reporting::files::Files<'a> for Snippet<'a> {
    type FileId = ();
    type Name = &'a str;
    type Source = &'a str;

    fn name(&'a self, (): ()) -> Result<&'a str, codespan_reporting::files::Error> {
        Ok(self.name)
    }

    fn source(&'a self, (): ()) -> Result<&'a str, codespan_reporting::files::Error> {
        Ok(&self.text)
    }

    fn line_index(
        &'a self,
        (): (),
        byte: usize,
    ) -> Result<usize, codespan_reporting::files::Error> {
        Ok(self
            .lines
            .partition_point(|line| line.range.start <= byte)
            .saturating_sub(1))
    }

    fn line_number(
        &'a self,
        (): (),
        line: usize,
    ) -> Result<usize, codespan_reporting::files::Error> {
        Ok(self.first + line + 1)
    }

    fn column_number(
        &'a self,
        (): (),
        line: usize,
        byte: usize,
    ) -> Result<usize, codespan_reporting::files::Error> {
        let Some(shown) = self.lines.get(line) else {
            return Ok(1);
        };
        let real = self
            .source
            .floor_char_boundary(shown.to_real(byte).min(self.source.len()));
        let start = shown.real_start.min(real);
        Ok(self.source[start..real].chars().count() + 1)
    }

    fn line_range(
        &'a self,
        (): (),
        line: usize,
    ) -> Result<std::ops::Range<usize>, codespan_reporting::files::Error> {
        self.lines.get(line).map(|l| l.range.clone()).ok_or(
            codespan_reporting::files::Error::LineTooLarge {
                given: line,
                max: self.lines.len().saturating_sub(1),
            },
        )
    }
}
