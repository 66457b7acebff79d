//! The span-aware JSON loader: [`scan`] (the scanner, in `scanner.rs`) and the [`Document`] it
//! builds, with the query API the schema, the rules and the model read it through.
//!
//! A small iterative scanner of our own: serde_json forgets positions and accepts duplicate keys,
//! and the position-keeping parsers on crates.io either recurse (stack overflow on deep input) or
//! stop at the first error. This one keeps the byte span of every value and key in a flat
//! pre-order node list, never recurses, reports duplicate keys with both places, and recovers from
//! the common slips (trailing commas, comments, single quotes, `NaN`) so that one run shows them all.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::diagnostics::{Code, Diagnostic, Span};

mod scanner;

/// Containers nested deeper than this are refused; real registries use six levels.
pub(crate) const MAX_DEPTH: usize = 128;

/// Files larger than this are refused before they are read (see README, "Limits").
pub(crate) const MAX_REGISTRY_BYTES: u64 = 128 * 1024 * 1024;

/// What a node is. Strings and numbers keep only their span: they are decoded on demand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number (its text is kept as written).
    Number,
    /// A string.
    String,
    /// An array.
    Array,
    /// An object.
    Object,
}

/// One JSON value with its position in the source (24 bytes: a 100,000-service registry has
/// about two million of them).
#[derive(Clone, Copy, Debug)]
pub struct Node {
    pub kind: NodeKind,
    flags: u8,
    /// The value itself (quotes and brackets included).
    pub span: Span,
    /// The member key, quotes included; meaningful only with `HAS_KEY`.
    key: Span,
    /// Index one past this node's last descendant, so siblings can be skipped in O(1).
    pub subtree_end: u32,
}

// Node flags. Escapes are noted while scanning so that most strings are never decoded.
const HAS_KEY: u8 = 1;
const KEY_ESCAPED: u8 = 2;
const VALUE_ESCAPED: u8 = 4;

/// A member key found by the scanner: its span and whether it holds escapes.
#[derive(Clone, Copy)]
struct Key {
    span: Span,
    escaped: bool,
    /// Length and two bytes of the raw key: most unequal keys differ here, so the duplicate
    /// check rarely compares whole keys.
    signature: u32,
}

impl Key {
    fn new(source: &[u8], span: Span, escaped: bool) -> Key {
        let (start, end) = (span.start as usize, span.end as usize);
        let byte = |i: usize| source.get(i).copied().map_or(0, u32::from);
        // `start + 1` and `end - 2`: the first and last characters inside the quotes.
        let signature =
            ((end - start) as u32) << 16 | byte(start + 1) << 8 | byte(end.saturating_sub(2));
        Key {
            span,
            escaped,
            signature,
        }
    }
}

impl Node {
    /// The member key's span, quotes included, when this value sits in an object.
    pub fn key(&self) -> Option<Span> {
        (self.flags & HAS_KEY != 0).then_some(self.key)
    }
}

/// Index of a node in [`Document::nodes`].
pub(crate) type NodeId = u32;

/// A parsed JSON text: the source plus every value's span, in pre-order.
#[derive(Debug)]
pub struct Document<'src> {
    pub source: &'src str,
    pub nodes: Vec<Node>,
    /// Element lists of large arrays, built on first indexed access ([`Document::element`]).
    /// Each problem is located by indexing into `services`; walking 100,000 siblings per
    /// lookup (cache misses all the way) cost seconds on a large registry with 50 problems.
    element_lists: Mutex<HashMap<NodeId, Arc<[NodeId]>>>,
}

/// The outcome of scanning: the document (complete only when no error was found) and the
/// problems in source order.
#[cfg_attr(not(feature = "unstable-internals"), allow(unreachable_pub))] // `internals`
pub struct Scan<'src> {
    pub document: Document<'src>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Scan<'_> {
    /// True when the document is complete and can be validated.
    #[cfg_attr(not(feature = "unstable-internals"), allow(unreachable_pub))] // `internals`
    pub fn is_usable(&self) -> bool {
        !self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Checks that `bytes` is UTF-8, reporting the first bad byte otherwise.
#[cfg_attr(not(feature = "unstable-internals"), allow(unreachable_pub))] // `internals`
pub fn check_utf8(bytes: &[u8]) -> Result<&str, Box<Diagnostic>> {
    std::str::from_utf8(bytes).map_err(|error| {
        let at = error.valid_up_to() as u32;
        let len = error
            .error_len()
            .unwrap_or(bytes.len() - error.valid_up_to()) as u32;
        Box::new(
            Diagnostic::error(
                Code::InvalidUtf8,
                format!(
                    "invalid UTF-8: byte 0x{:02X} at offset {at}",
                    bytes[at as usize]
                ),
                Span::new(at, at + len.max(1)),
            )
            .with_label("not UTF-8")
            .with_help("save the file as UTF-8"),
        )
    })
}

/// Scans `source` into a [`Document`], collecting every syntax problem it can recover from.
#[cfg_attr(not(feature = "unstable-internals"), allow(unreachable_pub))] // `internals`
pub fn scan(source: &str) -> Scan<'_> {
    let (nodes, diagnostics) = scanner::Parser::run(source);
    Scan {
        document: Document {
            source,
            nodes,
            element_lists: Mutex::default(),
        },
        diagnostics,
    }
}

/// Decodes the inside of a string token (without its quotes). Only called on strings the scanner
/// accepted, so every escape is well formed.
/// What a `\u` escape holds: the one reading of `\uXXXX` (and of a surrogate pair) that the
/// scanner, the string decoder and the character rules share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UnicodeEscape {
    /// A character, a surrogate pair combined, and the escape's length in bytes (6 or 12).
    Char(char, usize),
    /// The `\u` at this offset is not followed by four hex digits.
    BadDigits(usize),
    /// A high surrogate not followed by a low one.
    LoneHigh,
    /// A low surrogate with no high one before it.
    LoneLow,
}

/// Reads the `\u` escape whose backslash is at `at`.
pub(crate) fn unicode_escape(raw: &[u8], at: usize) -> UnicodeEscape {
    let hex4 = |at: usize| {
        let digits = raw.get(at..at + 4)?;
        digits.iter().try_fold(0u32, |value, &byte| {
            Some(value * 16 + char::from(byte).to_digit(16)?)
        })
    };
    let Some(unit) = hex4(at + 2) else {
        return UnicodeEscape::BadDigits(at);
    };
    match unit {
        0xD800..=0xDBFF => {
            if raw.get(at + 6..at + 8) != Some(b"\\u") {
                return UnicodeEscape::LoneHigh;
            }
            match hex4(at + 8) {
                None => UnicodeEscape::BadDigits(at + 6),
                Some(low @ 0xDC00..=0xDFFF) => {
                    let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                    char::from_u32(code)
                        .map_or(UnicodeEscape::LoneHigh, |c| UnicodeEscape::Char(c, 12))
                }
                Some(_) => UnicodeEscape::LoneHigh,
            }
        }
        0xDC00..=0xDFFF => UnicodeEscape::LoneLow,
        // Every other value below 0x10000 is a character.
        code => char::from_u32(code).map_or(UnicodeEscape::LoneLow, |c| UnicodeEscape::Char(c, 6)),
    }
}

pub(crate) fn decode_string(raw: &str) -> Cow<'_, str> {
    if !raw.contains('\\') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.char_indices();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some((_, escape)) = chars.next() else {
            break;
        };
        match escape {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'u' => {
                // Escapes are ASCII: skipping bytes is skipping characters.
                let (c, len) = match unicode_escape(raw.as_bytes(), i) {
                    UnicodeEscape::Char(c, len) => (c, len),
                    UnicodeEscape::BadDigits(at) if at == i => ('\u{FFFD}', 2),
                    _ => ('\u{FFFD}', 6),
                };
                for _ in 2..len {
                    chars.next();
                }
                out.push(c);
            }
            other => out.push(other),
        }
    }
    Cow::Owned(out)
}

impl<'src> Document<'src> {
    pub fn root(&self) -> Option<NodeId> {
        (!self.nodes.is_empty()).then_some(0)
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id as usize]
    }

    pub fn kind(&self, id: NodeId) -> NodeKind {
        self.nodes[id as usize].kind
    }

    pub fn span(&self, id: NodeId) -> Span {
        self.nodes[id as usize].span
    }

    /// The direct children of an array or object, in source order.
    /// The `index`-th child of a container (`children(id).nth(index)`), in constant time for
    /// large indices.
    pub fn element(&self, id: NodeId, index: usize) -> Option<NodeId> {
        // Short walks are cheaper than the lock and the list.
        const WALK: usize = 32;
        if index < WALK {
            return self.children(id).nth(index);
        }
        let list = self
            .element_lists
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(id)
            .or_insert_with(|| self.children(id).collect())
            .clone();
        list.get(index).copied()
    }

    pub fn children(&self, id: NodeId) -> Children<'_, 'src> {
        let node = &self.nodes[id as usize];
        let container = matches!(node.kind, NodeKind::Array | NodeKind::Object);
        Children {
            document: self,
            next: id + 1,
            end: if container { node.subtree_end } else { id + 1 },
        }
    }

    /// The decoded key of an object member.
    pub fn key(&self, id: NodeId) -> Option<Cow<'src, str>> {
        let node = &self.nodes[id as usize];
        node.key()
            .map(|span| self.string_at(span, node.flags & KEY_ESCAPED != 0))
    }

    /// The members of an object as (decoded key, value), in source order.
    pub fn members(&self, object: NodeId) -> impl Iterator<Item = (Cow<'src, str>, NodeId)> + '_ {
        let is_object = self.kind(object) == NodeKind::Object;
        self.children(object)
            .filter(move |_| is_object)
            .filter_map(|child| Some((self.key(child)?, child)))
    }

    /// The member `name` of an object; with duplicate keys the last one, as JSON readers do.
    pub fn get(&self, object: NodeId, name: &str) -> Option<NodeId> {
        if self.kind(object) != NodeKind::Object {
            return None;
        }
        self.children(object)
            .filter(|&child| {
                let node = &self.nodes[child as usize];
                match node.key() {
                    // Most keys have no escapes: compare the raw text without decoding.
                    Some(span) if node.flags & KEY_ESCAPED == 0 => self.inner(span) == name,
                    Some(span) => self.string_at(span, true) == name,
                    None => false,
                }
            })
            .last()
    }

    pub fn str(&self, id: NodeId) -> Option<Cow<'src, str>> {
        let node = &self.nodes[id as usize];
        (node.kind == NodeKind::String)
            .then(|| self.string_at(node.span, node.flags & VALUE_ESCAPED != 0))
    }

    pub fn text(&self, id: NodeId) -> &'src str {
        let span = self.span(id);
        &self.source[span.start as usize..span.end as usize]
    }

    /// The text between a string token's quotes.
    fn inner(&self, span: Span) -> &'src str {
        let start = span.start as usize + 1;
        &self.source[start..(span.end as usize).saturating_sub(1).max(start)]
    }

    fn string_at(&self, span: Span, escaped: bool) -> Cow<'src, str> {
        let raw = self.inner(span);
        if escaped {
            decode_string(raw)
        } else {
            Cow::Borrowed(raw)
        }
    }

    pub fn number(&self, id: NodeId) -> Option<serde_json::Number> {
        if self.kind(id) != NodeKind::Number {
            return None;
        }
        let text = self.text(id);
        if let Ok(n) = text.parse::<u64>() {
            return Some(n.into());
        }
        if let Ok(n) = text.parse::<i64>() {
            return Some(n.into());
        }
        text.parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
    }

    /// Builds a `serde_json::Value` of a subtree (depth is bounded by [`MAX_DEPTH`]).
    pub fn to_value(&self, id: NodeId) -> serde_json::Value {
        use serde_json::Value;
        match self.kind(id) {
            NodeKind::Null => Value::Null,
            NodeKind::Bool(b) => Value::Bool(b),
            NodeKind::Number => self.number(id).map_or(Value::Null, Value::Number),
            NodeKind::String => Value::String(self.str(id).unwrap_or_default().into_owned()),
            NodeKind::Array => Value::Array(self.children(id).map(|c| self.to_value(c)).collect()),
            NodeKind::Object => {
                let mut map = serde_json::Map::new();
                for child in self.children(id) {
                    map.insert(
                        self.key(child).unwrap_or_default().into_owned(),
                        self.to_value(child),
                    );
                }
                Value::Object(map)
            }
        }
    }

    /// Finds the node a JSON pointer (RFC 6901) designates.
    pub fn resolve(&self, pointer: &str) -> Option<NodeId> {
        let mut id = self.root()?;
        if pointer.is_empty() {
            return Some(id);
        }
        for raw in pointer.strip_prefix('/')?.split('/') {
            let segment = raw.replace("~1", "/").replace("~0", "~");
            id = match self.kind(id) {
                NodeKind::Object => self.get(id, &segment)?,
                NodeKind::Array => {
                    let index: usize = segment.parse().ok()?;
                    self.element(id, index)?
                }
                _ => return None,
            };
        }
        Some(id)
    }

    /// The span of a member's key, or of the value when it has no key.
    pub fn key_span(&self, id: NodeId) -> Span {
        let node = self.node(id);
        node.key().unwrap_or(node.span)
    }
}

pub struct Children<'doc, 'src> {
    document: &'doc Document<'src>,
    next: NodeId,
    end: NodeId,
}

impl Iterator for Children<'_, '_> {
    type Item = NodeId;

    fn next(&mut self) -> Option<NodeId> {
        if self.next >= self.end {
            return None;
        }
        let id = self.next;
        self.next = self.document.nodes[id as usize].subtree_end;
        Some(id)
    }
}

/// Escapes one JSON pointer segment (RFC 6901).
pub(crate) fn pointer_segment(segment: &str) -> Cow<'_, str> {
    if segment.contains(['~', '/']) {
        Cow::Owned(segment.replace('~', "~0").replace('/', "~1"))
    } else {
        Cow::Borrowed(segment)
    }
}

#[cfg(test)]
mod tests {
    use super::scanner::needs_a_look;
    use super::{UnicodeEscape, scan, unicode_escape};

    #[test]
    fn unicode_escapes_are_read_one_way() {
        let read = |raw: &str| unicode_escape(raw.as_bytes(), 0);
        assert_eq!(read(r"\u00e9"), UnicodeEscape::Char('é', 6));
        assert_eq!(read(r"\ud83d\ude00"), UnicodeEscape::Char('😀', 12));
        assert_eq!(read(r"\ud83d"), UnicodeEscape::LoneHigh);
        assert_eq!(read(r"\ud83d\u0041"), UnicodeEscape::LoneHigh);
        assert_eq!(read(r"\ude00"), UnicodeEscape::LoneLow);
        assert_eq!(read(r"\u00g9"), UnicodeEscape::BadDigits(0));
        assert_eq!(read(r"\ud83d\u12"), UnicodeEscape::BadDigits(6));
        assert_eq!(
            super::decode_string(r"a\u00e9\ud83d\ude00\ud83dz"),
            "aé😀\u{fffd}z"
        );
    }

    #[test]
    fn indexed_elements_match_the_walk() {
        let items: Vec<String> = (0..200).map(|i| format!("[{i}]")).collect();
        let text = format!("{{\"a\": [{}]}}", items.join(", "));
        let document = scan(&text).document;
        let root = document.root().expect("root");
        let array = document.get(root, "a").expect("a");
        for index in [0, 31, 32, 33, 150, 199, 200, 5000] {
            assert_eq!(
                document.element(array, index),
                document.children(array).nth(index),
                "index {index}"
            );
        }
        assert_eq!(
            document.resolve("/a/150/0").map(|id| document.text(id)),
            Some("150")
        );
    }

    #[test]
    fn word_check_finds_every_special_byte() {
        let plain = u64::from_le_bytes(*b"https://");
        assert!(!needs_a_look(plain, b'"'));
        for special in [b'"', b'\\', b'\n', 0x00, 0x1f] {
            for position in 0..8 {
                let mut bytes = *b"abcdefgh";
                bytes[position] = special;
                assert!(
                    needs_a_look(u64::from_le_bytes(bytes), b'"'),
                    "{special:#x} at {position}"
                );
            }
        }
        // UTF-8 continuation bytes and spaces are plain text.
        assert!(!needs_a_look(
            u64::from_le_bytes(*b"\xc3\xa9 \xe2\x80\x94 a"),
            b'"'
        ));
        assert!(needs_a_look(u64::from_le_bytes(*b"it's ok!"), b'\''));
    }
}
