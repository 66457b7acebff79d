//! Characters that make text lie (WF312, WF313, WF314): controls and bidirectional controls,
//! invisible characters, and names that mix scripts. The tables name only the code points these
//! rules flag; others are named by number and script.

use unicode_general_category::{GeneralCategory, get_general_category};

use crate::load::{UnicodeEscape, unicode_escape};
use unicode_script::{Script, UnicodeScript};

/// Why `c` may not appear in any text of the registry, if it may not: C0/C1 controls other
/// than tab, line feed and carriage return, and the bidirectional controls.
pub(super) fn forbidden(c: char) -> Option<&'static str> {
    if is_bidi_control(c) {
        Some("a bidirectional control")
    } else if c.is_control() && !matches!(c, '\t' | '\n' | '\r') {
        Some("a control character")
    } else {
        None
    }
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Whether `c` shows as nothing: format characters (zero-width space and joiners, soft hyphen,
/// word joiner, BOM), variation selectors and the Hangul fillers. Bidirectional controls are
/// format characters too, but [`forbidden`] reports them.
pub(super) fn is_invisible(c: char) -> bool {
    if is_bidi_control(c) {
        return false;
    }
    matches!(
        c,
        '\u{034F}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FFA0}'
            | '\u{E0100}'..='\u{E01EF}'
    ) || get_general_category(c) == GeneralCategory::Format
}

/// Named code points: (code point, name, the Latin letter it looks like).
const NAMES: &[(char, &str, Option<char>)] = &[
    ('\u{0000}', "NULL", None),
    ('\u{0008}', "BACKSPACE", None),
    ('\u{000B}', "LINE TABULATION", None),
    ('\u{000C}', "FORM FEED", None),
    ('\u{001B}', "ESCAPE", None),
    ('\u{007F}', "DELETE", None),
    ('\u{00AD}', "SOFT HYPHEN", None),
    ('\u{034F}', "COMBINING GRAPHEME JOINER", None),
    ('\u{061C}', "ARABIC LETTER MARK", None),
    ('\u{115F}', "HANGUL CHOSEONG FILLER", None),
    ('\u{1160}', "HANGUL JUNGSEONG FILLER", None),
    ('\u{180E}', "MONGOLIAN VOWEL SEPARATOR", None),
    ('\u{200B}', "ZERO WIDTH SPACE", None),
    ('\u{200C}', "ZERO WIDTH NON-JOINER", None),
    ('\u{200D}', "ZERO WIDTH JOINER", None),
    ('\u{200E}', "LEFT-TO-RIGHT MARK", None),
    ('\u{200F}', "RIGHT-TO-LEFT MARK", None),
    ('\u{202A}', "LEFT-TO-RIGHT EMBEDDING", None),
    ('\u{202B}', "RIGHT-TO-LEFT EMBEDDING", None),
    ('\u{202C}', "POP DIRECTIONAL FORMATTING", None),
    ('\u{202D}', "LEFT-TO-RIGHT OVERRIDE", None),
    ('\u{202E}', "RIGHT-TO-LEFT OVERRIDE", None),
    ('\u{2060}', "WORD JOINER", None),
    ('\u{2061}', "FUNCTION APPLICATION", None),
    ('\u{2062}', "INVISIBLE TIMES", None),
    ('\u{2063}', "INVISIBLE SEPARATOR", None),
    ('\u{2064}', "INVISIBLE PLUS", None),
    ('\u{2066}', "LEFT-TO-RIGHT ISOLATE", None),
    ('\u{2067}', "RIGHT-TO-LEFT ISOLATE", None),
    ('\u{2068}', "FIRST STRONG ISOLATE", None),
    ('\u{2069}', "POP DIRECTIONAL ISOLATE", None),
    ('\u{3164}', "HANGUL FILLER", None),
    ('\u{FEFF}', "ZERO WIDTH NO-BREAK SPACE", None),
    ('\u{FFA0}', "HALFWIDTH HANGUL FILLER", None),
    // Greek and Cyrillic letters that look like Latin ones.
    ('\u{0391}', "GREEK CAPITAL LETTER ALPHA", Some('A')),
    ('\u{0392}', "GREEK CAPITAL LETTER BETA", Some('B')),
    ('\u{0395}', "GREEK CAPITAL LETTER EPSILON", Some('E')),
    ('\u{0396}', "GREEK CAPITAL LETTER ZETA", Some('Z')),
    ('\u{0397}', "GREEK CAPITAL LETTER ETA", Some('H')),
    ('\u{0399}', "GREEK CAPITAL LETTER IOTA", Some('I')),
    ('\u{039A}', "GREEK CAPITAL LETTER KAPPA", Some('K')),
    ('\u{039C}', "GREEK CAPITAL LETTER MU", Some('M')),
    ('\u{039D}', "GREEK CAPITAL LETTER NU", Some('N')),
    ('\u{039F}', "GREEK CAPITAL LETTER OMICRON", Some('O')),
    ('\u{03A1}', "GREEK CAPITAL LETTER RHO", Some('P')),
    ('\u{03A4}', "GREEK CAPITAL LETTER TAU", Some('T')),
    ('\u{03A5}', "GREEK CAPITAL LETTER UPSILON", Some('Y')),
    ('\u{03A7}', "GREEK CAPITAL LETTER CHI", Some('X')),
    ('\u{03B1}', "GREEK SMALL LETTER ALPHA", Some('a')),
    ('\u{03B9}', "GREEK SMALL LETTER IOTA", Some('i')),
    ('\u{03BA}', "GREEK SMALL LETTER KAPPA", Some('k')),
    ('\u{03BD}', "GREEK SMALL LETTER NU", Some('v')),
    ('\u{03BF}', "GREEK SMALL LETTER OMICRON", Some('o')),
    ('\u{03C1}', "GREEK SMALL LETTER RHO", Some('p')),
    ('\u{03C5}', "GREEK SMALL LETTER UPSILON", Some('u')),
    ('\u{0405}', "CYRILLIC CAPITAL LETTER DZE", Some('S')),
    (
        '\u{0406}',
        "CYRILLIC CAPITAL LETTER BYELORUSSIAN-UKRAINIAN I",
        Some('I'),
    ),
    ('\u{0408}', "CYRILLIC CAPITAL LETTER JE", Some('J')),
    ('\u{0410}', "CYRILLIC CAPITAL LETTER A", Some('A')),
    ('\u{0412}', "CYRILLIC CAPITAL LETTER VE", Some('B')),
    ('\u{0415}', "CYRILLIC CAPITAL LETTER IE", Some('E')),
    ('\u{041A}', "CYRILLIC CAPITAL LETTER KA", Some('K')),
    ('\u{041C}', "CYRILLIC CAPITAL LETTER EM", Some('M')),
    ('\u{041D}', "CYRILLIC CAPITAL LETTER EN", Some('H')),
    ('\u{041E}', "CYRILLIC CAPITAL LETTER O", Some('O')),
    ('\u{0420}', "CYRILLIC CAPITAL LETTER ER", Some('P')),
    ('\u{0421}', "CYRILLIC CAPITAL LETTER ES", Some('C')),
    ('\u{0422}', "CYRILLIC CAPITAL LETTER TE", Some('T')),
    ('\u{0423}', "CYRILLIC CAPITAL LETTER U", Some('Y')),
    ('\u{0425}', "CYRILLIC CAPITAL LETTER HA", Some('X')),
    ('\u{0430}', "CYRILLIC SMALL LETTER A", Some('a')),
    ('\u{0435}', "CYRILLIC SMALL LETTER IE", Some('e')),
    ('\u{043E}', "CYRILLIC SMALL LETTER O", Some('o')),
    ('\u{0440}', "CYRILLIC SMALL LETTER ER", Some('p')),
    ('\u{0441}', "CYRILLIC SMALL LETTER ES", Some('c')),
    ('\u{0443}', "CYRILLIC SMALL LETTER U", Some('y')),
    ('\u{0445}', "CYRILLIC SMALL LETTER HA", Some('x')),
    ('\u{0455}', "CYRILLIC SMALL LETTER DZE", Some('s')),
    (
        '\u{0456}',
        "CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I",
        Some('i'),
    ),
    ('\u{0458}', "CYRILLIC SMALL LETTER JE", Some('j')),
    ('\u{04CF}', "CYRILLIC SMALL LETTER PALOCHKA", Some('l')),
    ('\u{0501}', "CYRILLIC SMALL LETTER KOMI DE", Some('d')),
    ('\u{051B}', "CYRILLIC SMALL LETTER QA", Some('q')),
    ('\u{051D}', "CYRILLIC SMALL LETTER WE", Some('w')),
];

fn entry(c: char) -> Option<&'static (char, &'static str, Option<char>)> {
    // A linear search: the table is small and consulted only for characters being reported.
    NAMES.iter().find(|(code, _, _)| *code == c)
}

/// `U+0430 CYRILLIC SMALL LETTER A`; a code point not in the table is named by its script or
/// its kind (`U+0436 (Cyrillic)`).
pub(super) fn describe(c: char) -> String {
    let code = c as u32;
    if let Some((_, name, _)) = entry(c) {
        return format!("U+{code:04X} {name}");
    }
    if c.is_ascii_alphabetic() {
        let case = if c.is_ascii_uppercase() {
            "CAPITAL"
        } else {
            "SMALL"
        };
        return format!(
            "U+{code:04X} LATIN {case} LETTER {}",
            c.to_ascii_uppercase()
        );
    }
    let kind = if c.is_control() {
        "a control character".to_owned()
    } else if is_invisible(c) {
        "an invisible character".to_owned()
    } else {
        c.script().full_name().replace('_', " ")
    };
    format!("U+{code:04X} ({kind})")
}

/// The Latin letter `c` is mistaken for, when it is a known look-alike.
pub(super) fn latin_lookalike(c: char) -> Option<char> {
    entry(c).and_then(|(_, _, latin)| *latin)
}

/// Scripts that are written together (UTS #39, "highly restrictive"): a name may mix the scripts
/// of one of these sets.
const WRITTEN_TOGETHER: &[&[Script]] = &[
    &[
        Script::Latin,
        Script::Han,
        Script::Hiragana,
        Script::Katakana,
    ],
    &[Script::Latin, Script::Han, Script::Bopomofo],
    &[Script::Latin, Script::Han, Script::Hangul],
];

/// When `name` mixes scripts that are not written together: the name of the script most of it
/// is written in, and the characters outside it (each once, in order).
pub(super) fn mixed_scripts(name: &str) -> Option<(&'static str, Vec<char>)> {
    // ASCII letters are all Latin (the rest Common): almost every name, at the cost of one scan.
    if name.is_ascii() {
        return None;
    }
    // (script, letters of it), in order of first appearance; a name has few scripts.
    let mut counts: Vec<(Script, usize)> = Vec::new();
    for c in name.chars() {
        let script = c.script();
        if matches!(script, Script::Common | Script::Inherited | Script::Unknown) {
            continue;
        }
        match counts.iter_mut().find(|(s, _)| *s == script) {
            Some((_, n)) => *n += 1,
            None => counts.push((script, 1)),
        }
    }
    if counts.len() < 2
        || WRITTEN_TOGETHER
            .iter()
            .any(|set| counts.iter().all(|(s, _)| set.contains(s)))
    {
        return None;
    }
    // The main script: the most letters; Latin wins a tie, then the first seen.
    let (main, _) = counts.iter().copied().fold(counts[0], |best, next| {
        if next.1 > best.1 || (next.1 == best.1 && next.0 == Script::Latin) {
            next
        } else {
            best
        }
    });
    // The main script's companions (Han with Latin, say) are not what is wrong.
    let companions: &[Script] = WRITTEN_TOGETHER
        .iter()
        .filter(|set| set.contains(&main))
        .max_by_key(|set| {
            counts
                .iter()
                .filter(|(s, _)| set.contains(s))
                .map(|(_, n)| n)
                .sum::<usize>()
        })
        .copied()
        .unwrap_or(&[]);
    let mut outside: Vec<char> = Vec::new();
    for c in name.chars() {
        let script = c.script();
        if matches!(script, Script::Common | Script::Inherited | Script::Unknown)
            || script == main
            || companions.contains(&script)
        {
            continue;
        }
        if !outside.contains(&c) {
            outside.push(c);
        }
    }
    Some((main.full_name(), outside))
}

/// Whether `text` has a backslash or a non-ASCII byte. Without either, no string in it holds
/// a character [`first_forbidden`] refuses (the scanner refuses raw controls), so a whole
/// service's text can be cleared at once. Chunks have no early exit, so they vectorise.
pub(super) fn may_hold_forbidden(text: &[u8]) -> bool {
    let hit = |chunk: &[u8]| {
        chunk
            .iter()
            .fold(0u8, |acc, &b| acc | u8::from(b == b'\\') | (b & 0x80))
            != 0
    };
    let mut chunks = text.chunks_exact(64);
    chunks.by_ref().any(hit) || hit(chunks.remainder())
}

/// The first character of a JSON string's raw text (between the quotes) that [`forbidden`]
/// refuses, whether written as is or as an escape: its byte range in `raw`, the character and
/// why. Strings without escapes and non-ASCII bytes (almost all) cost one byte scan, and nothing
/// is decoded, so a 100 MB string costs no memory.
///
/// In a name (`in_name`), tab, line feed and carriage return are refused too: a name is shown
/// on one line, in pages and in messages.
pub(super) fn first_forbidden(
    raw: &str,
    in_name: bool,
) -> Option<(std::ops::Range<usize>, char, &'static str)> {
    let bytes = raw.as_bytes();
    if !may_hold_forbidden(bytes) {
        return None;
    }
    let mut i = 0;
    while i < bytes.len() {
        let (c, len) = match bytes[i] {
            b'\\' => match bytes.get(i + 1) {
                Some(b'u') => match unicode_escape(bytes, i) {
                    UnicodeEscape::Char(c, len) => (Some(c), len),
                    UnicodeEscape::BadDigits(at) if at == i => (None, 2),
                    _ => (None, 6),
                },
                Some(b'b') => (Some('\u{8}'), 2),
                Some(b'f') => (Some('\u{c}'), 2),
                Some(b'n') if in_name => (Some('\n'), 2),
                Some(b'r') if in_name => (Some('\r'), 2),
                Some(b't') if in_name => (Some('\t'), 2),
                _ => (None, 2),
            },
            byte if byte >= 0x80 => match raw.get(i..).and_then(|rest| rest.chars().next()) {
                Some(c) => (Some(c), c.len_utf8()),
                None => (None, 1),
            },
            // The scanner refuses raw control characters, so plain ASCII needs no look.
            _ => (None, 1),
        };
        let why = c.and_then(|c| {
            forbidden(c).or_else(|| {
                (in_name && matches!(c, '\t' | '\n' | '\r')).then_some("a line break or tab")
            })
        });
        if let (Some(c), Some(why)) = (c, why) {
            return Some((i..(i + len).min(bytes.len()), c, why));
        }
        i += len;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_of_the_name_table_is_found() {
        for (c, name, _) in NAMES {
            assert!(describe(*c).ends_with(name), "{c:?}");
        }
    }

    #[test]
    fn code_points_are_named() {
        assert_eq!(describe('\u{430}'), "U+0430 CYRILLIC SMALL LETTER A");
        assert_eq!(describe('a'), "U+0061 LATIN SMALL LETTER A");
        assert_eq!(describe('\u{436}'), "U+0436 (Cyrillic)");
        assert_eq!(describe('\u{7}'), "U+0007 (a control character)");
    }

    #[test]
    fn forbidden_characters_are_found_raw_or_escaped() {
        assert_eq!(first_forbidden("plain text, \\n and \\t", false), None);
        assert_eq!(
            first_forbidden("Slack\\nerror[WF999]", true),
            Some((5..7, '\n', "a line break or tab"))
        );
        assert_eq!(
            first_forbidden("caf\u{e9} \u{1F600} \\ud83d\\ude00", false),
            None
        );
        assert_eq!(
            first_forbidden("a\\u0000b", false),
            Some((1..7, '\0', "a control character"))
        );
        assert_eq!(
            first_forbidden("ab\u{202E}c", false),
            Some((2..5, '\u{202E}', "a bidirectional control"))
        );
        assert_eq!(
            first_forbidden("x\\u202e", false),
            Some((1..7, '\u{202E}', "a bidirectional control"))
        );
        assert_eq!(
            first_forbidden("\\f", false),
            Some((0..2, '\u{c}', "a control character"))
        );
        assert_eq!(
            first_forbidden("\\\\u0000", false),
            None,
            "an escaped backslash"
        );
    }

    #[test]
    fn mixed_scripts_are_found_and_scripts_written_together_are_not() {
        assert_eq!(
            mixed_scripts("Sl\u{430}ck"),
            Some(("Latin", vec!['\u{430}']))
        );
        assert_eq!(mixed_scripts("Slack (Salesforce) 2"), None);
        assert_eq!(
            mixed_scripts("\u{44F}\u{43D}\u{434}\u{435}\u{43A}\u{441}"),
            None
        );
        assert_eq!(
            mixed_scripts("LINE \u{30E4}\u{30D5}\u{30FC} \u{682A}\u{5F0F}"),
            None
        );
        assert_eq!(
            mixed_scripts("\u{44F}\u{43D}\u{434}\u{435}x"),
            Some(("Cyrillic", vec!['x']))
        );
    }

    #[test]
    fn invisible_characters_are_recognised() {
        for c in [
            '\u{200B}', '\u{200D}', '\u{2060}', '\u{FEFF}', '\u{AD}', '\u{3164}',
        ] {
            assert!(is_invisible(c), "{c:?}");
        }
        for c in ['a', ' ', '\u{202E}', '\u{430}'] {
            assert!(!is_invisible(c), "{c:?}");
        }
    }
}
