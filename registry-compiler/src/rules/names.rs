//! Names that mislead: two services with one connector name (WF301), and names with invisible
//! (WF313), mixed-script (WF314) or compatibility (WF323) characters. A blank name is
//! [`super::text::check_blank`]'s (WF311).

use std::borrow::Cow;
use std::hash::{Hash, Hasher};

use super::{FirstByHash, Service, Visited, chars, hash_of, place, text, trim_cow};
use crate::diagnostics::{Code, Diagnostic};
use crate::load::{Document, NodeId};
use crate::parallel::Ordered;

/// What [`check`] found out about the connector name.
pub(super) struct Name {
    /// Blank (WF311): no id is derived from it.
    pub blank: bool,
    /// For WF301, unless the name is not a string or is empty once trimmed.
    pub key: Option<Key>,
}

/// A connector name for WF301: the hash of its trimmed, folded text, and its node.
pub(super) struct Key {
    pub hash: u64,
    node: NodeId,
}

/// WF311 (through [`text::check_blank`]), WF313, WF314 and WF323 on `connectorName` and
/// `officialVendorName`.
pub(super) fn check(service: &Service<'_, '_>, out: &mut Vec<Diagnostic>) -> Name {
    let mut blank = false;
    let mut key = None;
    if let (Some(node), Some(name)) = (service.fields.connector_name, &service.name) {
        blank = text::check_blank(service, node, name, &|| "connectorName".to_owned(), out);
        if !blank {
            check_name(service, node, name, "connectorName", out);
        }
        let trimmed = name.trim();
        if !trimmed.is_empty() {
            key = Some(Key {
                hash: hash_of(&Caseless(Cow::Borrowed(trimmed))),
                node,
            });
        }
    }
    if let Some(node) = service.fields.vendor
        && let Some(vendor) = service.document.str(node)
    {
        check_name(service, node, &vendor, "officialVendorName", out);
    }
    Name { blank, key }
}

/// The trimmed connector name of a visited service, when it has one (for messages).
pub(super) fn name<'src>(
    document: &Document<'src>,
    service: &Visited<'_>,
) -> Option<Cow<'src, str>> {
    let node = service.name.as_ref()?.node;
    document.str(node).map(trim_cow)
}

/// The connector names seen so far, for WF301.
pub(super) struct Seen(FirstByHash);

impl Seen {
    pub(super) fn with_capacity(count: usize) -> Self {
        Seen(FirstByHash::with_capacity(count))
    }

    /// WF301: the connector name of `visited[index]` is an earlier service's. Returns
    /// whether it is.
    pub(super) fn is_duplicate(
        &mut self,
        document: &Document<'_>,
        visited: &Ordered<Visited<'_>>,
        index: usize,
        out: &mut Vec<Diagnostic>,
    ) -> bool {
        let Some(key) = &visited[index].name else {
            return false;
        };
        let folded = |i: usize| name(document, &visited[i]).map(Caseless);
        let Some(first) = self
            .0
            .first(key.hash, index, |i| folded(i) == folded(index))
        else {
            return false;
        };
        let name = name(document, &visited[index]).unwrap_or_default();
        let first_span = visited[first]
            .name
            .as_ref()
            .map(|k| document.span(k.node))
            .unwrap_or_default();
        out.push(
            Diagnostic::error(
                Code::DuplicateConnectorName,
                format!(
                    "{}connector name `{name}` is already used by services[{first}]",
                    place(index, Some(&name)),
                ),
                document.span(key.node),
            )
            .with_label("duplicate name")
            .with_secondary(first_span, "first used here")
            .with_pointer(format!("/services/{index}/connectorName"))
            .with_help(
                "names are compared ignoring case and compatibility forms (Unicode NFKC: a fullwidth `Ｓ` is `S`); merge the two entries or rename one",
            ),
        );
        true
    }
}

/// A name compared and hashed ignoring case, without a lower-cased copy.
struct Caseless<'a>(Cow<'a, str>);

impl Caseless<'_> {
    /// NFKC, then lower case: a fullwidth `Ｓlack` and `SLACK` both fold to `slack`.
    fn folded(&self) -> impl Iterator<Item = char> + '_ {
        use unicode_normalization::UnicodeNormalization;
        self.0.nfkc().flat_map(char::to_lowercase)
    }
}

impl Hash for Caseless<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Each folded character hashes the same way on both paths, so equal names hash alike.
        if self.0.is_ascii() {
            for byte in self.0.bytes() {
                state.write_u32(u32::from(byte.to_ascii_lowercase()));
            }
        } else {
            for c in self.folded() {
                state.write_u32(c as u32);
            }
        }
    }
}

impl PartialEq for Caseless<'_> {
    fn eq(&self, other: &Self) -> bool {
        if self.0.is_ascii() && other.0.is_ascii() {
            self.0.eq_ignore_ascii_case(&other.0)
        } else {
            self.folded().eq(other.folded())
        }
    }
}

impl Eq for Caseless<'_> {}

/// WF313, WF314 and WF323: a name (`connectorName`, `officialVendorName`) that looks like
/// another one.
fn check_name(
    service: &Service<'_, '_>,
    node: NodeId,
    name: &str,
    field: &str,
    out: &mut Vec<Diagnostic>,
) {
    // No ASCII character is invisible, a compatibility form or outside Latin and Common.
    if name.is_ascii() {
        return;
    }
    let document = service.document;
    let place = || service.place();
    let pointer = || format!("/services/{}/{field}", service.index);
    let mut invisible: Vec<char> = Vec::new();
    for c in name.chars().filter(|&c| chars::is_invisible(c)) {
        if !invisible.contains(&c) {
            invisible.push(c);
        }
    }
    if !invisible.is_empty() {
        let named: Vec<String> = invisible.iter().map(|&c| chars::describe(c)).collect();
        let visible: String = name.chars().filter(|&c| !chars::is_invisible(c)).collect();
        out.push(
            Diagnostic::warning(
                Code::InvisibleCharacter,
                format!(
                    "{}`{field}` contains {} that shows as nothing: {}",
                    place(),
                    if invisible.len() == 1 {
                        "a character"
                    } else {
                        "characters"
                    },
                    named.join(", ")
                ),
                document.span(node),
            )
            .with_label(format!("displayed as {visible:?}"))
            .with_pointer(pointer())
            .with_help(format!(
                "remove {}: {visible:?}",
                if invisible.len() == 1 { "it" } else { "them" }
            )),
        );
    }
    if !name.is_ascii() {
        use unicode_normalization::UnicodeNormalization;
        let visible: String = name.chars().filter(|&c| !chars::is_invisible(c)).collect();
        let folded: String = visible.nfkc().collect();
        if folded != visible {
            let mut changed: Vec<char> = Vec::new();
            for c in visible.chars() {
                let alone: String = std::iter::once(c).nfkc().collect();
                if alone != c.to_string() && !changed.contains(&c) {
                    changed.push(c);
                }
            }
            let named: Vec<String> = changed.iter().map(|&c| chars::describe(c)).collect();
            out.push(
                Diagnostic::warning(
                    Code::CompatibilityCharacter,
                    format!(
                        "{}`{field}` uses compatibility characters: {}",
                        place(),
                        named.join(", ")
                    ),
                    document.span(node),
                )
                .with_label(format!("reads as {folded:?}"))
                .with_pointer(pointer())
                .with_help(format!("write {folded:?}")),
            );
        }
    }
    if let Some((main, outside)) = chars::mixed_scripts(name) {
        let named: Vec<String> = outside.iter().map(|&c| chars::describe(c)).collect();
        let mut d = Diagnostic::warning(
            Code::MixedScript,
            format!(
                "{}`{field}` mixes scripts: {main} with {}",
                place(),
                named.join(", ")
            ),
            document.span(node),
        )
        .with_label(format!("not all {main}"))
        .with_pointer(pointer());
        // When every stray letter has a Latin look-alike, the name that was meant is plain.
        let meant: Option<String> = (main == "Latin")
            .then(|| {
                name.chars()
                    .map(|c| {
                        if outside.contains(&c) {
                            chars::latin_lookalike(c)
                        } else {
                            Some(c)
                        }
                    })
                    .collect()
            })
            .flatten();
        d = match meant {
            Some(meant) => d.with_help(format!(
                "write it in one script; with Latin letters only it reads {meant:?}"
            )),
            None => d.with_help("write it in one script, retyping the letters named above"),
        };
        out.push(d);
    }
}
