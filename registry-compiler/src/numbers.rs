//! WF316: the whole numbers the model reads (`version`, `rank`, `bestBaseLinkScore`) are written
//! as plain digits and fit the model. JSON Schema's `integer` also admits `1.0`, `1e0`, `-0` and
//! `2^64`, which serde cannot read into `u32`/`u8`; rejecting them here keeps one verdict for
//! `check`, `build` and `fmt`.

use crate::diagnostics::{Code, Diagnostic};
use crate::load::{Document, NodeId, NodeKind};

/// A field and the range within which the form is checked: values outside it are the schema's
/// to report (a range or `const` error), except above `model_max`, which no schema can allow.
struct Field {
    name: &'static str,
    min: f64,
    schema_max: f64,
    model_max: Option<u64>,
}

const VERSION: Field = Field {
    name: "version",
    min: 1.0,
    schema_max: 1.0,
    model_max: None,
};
const RANK: Field = Field {
    name: "rank",
    min: 1.0,
    schema_max: f64::INFINITY,
    model_max: Some(u32::MAX as u64),
};
const SCORE: Field = Field {
    name: "bestBaseLinkScore",
    min: 0.0,
    schema_max: 100.0,
    model_max: None,
};

/// WF316 for the registry's `version`. Each service's `rank` and `bestBaseLinkScore` are
/// checked in the rules' one pass over the services ([`check_service`]).
pub(crate) fn check(document: &Document<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let Some(root) = document.root() else {
        return out;
    };
    if let Some(node) = document.get(root, VERSION.name) {
        check_number(
            document,
            node,
            &VERSION,
            &|| (String::new(), String::new()),
            &mut out,
        );
    }
    out
}

/// WF316 for the `rank` and `bestBaseLinkScore` nodes of the service at `index`; `place`
/// gives the start of a message (`services[3] (Slack): `), built only for a diagnostic.
pub(crate) fn check_service(
    document: &Document<'_>,
    index: usize,
    [rank, score]: [Option<NodeId>; 2],
    place: &dyn Fn() -> String,
    out: &mut Vec<Diagnostic>,
) {
    for (field, node) in [(&RANK, rank), (&SCORE, score)] {
        if let Some(node) = node {
            let located = || (format!("/services/{index}"), place());
            check_number(document, node, field, &located, out);
        }
    }
}

fn check_number(
    document: &Document<'_>,
    node: NodeId,
    field: &Field,
    parent_and_place: &dyn Fn() -> (String, String),
    out: &mut Vec<Diagnostic>,
) {
    if document.kind(node) != NodeKind::Number {
        return;
    }
    let text = document.text(node);
    let plain = !text.contains(['.', 'e', 'E']) && text != "-0";
    let Ok(value) = text.parse::<f64>() else {
        return;
    };
    // Fractions and values below the minimum are the schema's (WF201, WF206).
    if value.fract() != 0.0 || value < field.min {
        return;
    }
    let name = field.name;
    let located = || {
        let (parent, place) = parent_and_place();
        (format!("{parent}/{name}"), place)
    };
    if let Some(max) = field.model_max {
        let too_large = if plain {
            text.parse::<u64>().map_or(true, |n| n > max)
        } else {
            value > max as f64
        };
        if too_large {
            let (pointer, place) = located();
            out.push(
                Diagnostic::error(
                    Code::IntegerForm,
                    format!("{place}`{name}` must be at most {max}, found `{text}`"),
                    document.span(node),
                )
                .with_label("too large")
                .with_pointer(pointer)
                .with_help(
                    "ranks number the research set from 1; use null for a service outside it",
                ),
            );
            return;
        }
    }
    if plain || value > field.schema_max {
        return;
    }
    let (pointer, place) = located();
    out.push(
        Diagnostic::error(
            Code::IntegerForm,
            format!("{place}`{name}` must be written as plain digits, found `{text}`"),
            document.span(node),
        )
        .with_label("not plain digits")
        .with_pointer(pointer)
        .with_help(format!("write `{}`", value.abs() as u64)),
    );
}
