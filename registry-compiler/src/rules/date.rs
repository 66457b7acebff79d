//! The registry's `updatedAt` is a real calendar date (WF307).

use crate::diagnostics::{Code, Diagnostic};
use crate::load::{Document, NodeId};

/// WF307: a date shaped YYYY-MM-DD (the schema's pattern) that no calendar has.
pub(super) fn check(document: &Document<'_>, node: NodeId, out: &mut Vec<Diagnostic>) {
    let Some(text) = document.str(node) else {
        return;
    };
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if !shaped {
        return; // the schema's pattern reports it
    }
    let number = |range: std::ops::Range<usize>| text[range].parse::<u32>().unwrap_or(0);
    let (year, month, day) = (number(0..4), number(5..7), number(8..10));
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    };
    if year == 0 || day == 0 || day > days_in_month {
        let why = if days_in_month == 0 {
            format!("there is no month {month}")
        } else {
            format!("month {month} of {year} has {days_in_month} days")
        };
        out.push(
            Diagnostic::error(
                Code::InvalidDate,
                format!("`updatedAt` is not a real date: {why}"),
                document.span(node),
            )
            .with_label("not a calendar date")
            .with_pointer("/updatedAt")
            .with_help("use a real date, YYYY-MM-DD"),
        );
    }
}
