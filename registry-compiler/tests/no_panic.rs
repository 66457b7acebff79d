//! Property tests: no input makes the loader, the validator or the renderers panic, and every
//! diagnostic points inside the file.

use proptest::prelude::*;
use std::path::Path;
use std::sync::Arc;

use workerflow_registry::{Format, Report, Schema, Source};

const VALID: &str = include_str!("fixtures/valid/minimal.json");

/// Bytes that steer the scanner into its interesting states.
const JSON_BYTES: &[u8] = b"{}[]\",:\\/*'0123456789-+.eEtfnuNI \n\t\x00\xff\xc3\xa9";

fn exercise(bytes: &[u8]) {
    let schema = Arc::new(Schema::bundled().expect("bundled schema compiles"));
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(_) => {
            let diagnostic = workerflow_registry::internals::check_utf8(bytes)
                .expect_err("invalid UTF-8 is reported");
            assert!(diagnostic.span.start as usize <= bytes.len());
            return;
        }
    };
    let source = Source::from_bytes(
        Path::new("fuzz.json"),
        "fuzz.json".to_owned(),
        bytes.to_vec(),
        schema,
    )
    .expect("UTF-8 under the size limit");
    let checked = source.check();
    for diagnostic in &checked.diagnostics {
        let (start, end) = (diagnostic.span.start as usize, diagnostic.span.end as usize);
        assert!(
            start <= end && end <= text.len(),
            "span {start}..{end} outside {} bytes",
            text.len()
        );
        assert!(
            text.is_char_boundary(start) && text.is_char_boundary(end),
            "span not on char boundaries"
        );
    }
    let report = Report {
        path: "fuzz.json",
        source: text,
        diagnostics: &checked.diagnostics,
    };
    for format in [Format::Text, Format::Json, Format::Github] {
        let _ = report.render(format, false);
    }
    let compiled = source.compile();
    assert_eq!(compiled.registry.is_some(), checked.is_valid());
}

#[derive(Debug, Clone)]
enum Edit {
    Delete { at: usize, len: usize },
    Insert { at: usize, byte: u8 },
    Replace { at: usize, byte: u8 },
    Duplicate { at: usize, len: usize },
}

fn edit() -> impl Strategy<Value = Edit> {
    let byte = prop::sample::select(JSON_BYTES.to_vec());
    prop_oneof![
        (any::<usize>(), 1..40usize).prop_map(|(at, len)| Edit::Delete { at, len }),
        (any::<usize>(), byte.clone()).prop_map(|(at, byte)| Edit::Insert { at, byte }),
        (any::<usize>(), byte).prop_map(|(at, byte)| Edit::Replace { at, byte }),
        (any::<usize>(), 1..200usize).prop_map(|(at, len)| Edit::Duplicate { at, len }),
    ]
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for edit in edits {
        let len = bytes.len().max(1);
        match *edit {
            Edit::Delete { at, len: n } => {
                let at = at % len;
                let end = (at + n).min(bytes.len());
                bytes.drain(at.min(end)..end);
            }
            Edit::Insert { at, byte } => bytes.insert(at % (bytes.len() + 1), byte),
            Edit::Replace { at, byte } => {
                if !bytes.is_empty() {
                    bytes[at % len] = byte;
                }
            }
            Edit::Duplicate { at, len: n } => {
                let at = at % len;
                let end = (at + n).min(bytes.len());
                let slice = bytes[at.min(end)..end].to_vec();
                bytes.splice(end..end, slice);
            }
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        exercise(&bytes);
    }

    #[test]
    fn json_like_bytes_never_panic(bytes in prop::collection::vec(prop::sample::select(JSON_BYTES.to_vec()), 0..512)) {
        exercise(&bytes);
    }

    #[test]
    fn mutated_registries_never_panic(edits in prop::collection::vec(edit(), 1..8)) {
        exercise(&apply(VALID.as_bytes().to_vec(), &edits));
    }
}

#[test]
fn deep_nesting_is_refused_without_overflow() {
    let deep = "[".repeat(100_000) + &"]".repeat(100_000);
    exercise(deep.as_bytes());
    let deep_objects = "{\"a\":".repeat(100_000) + "1" + &"}".repeat(100_000);
    exercise(deep_objects.as_bytes());
}
