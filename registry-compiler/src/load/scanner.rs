//! The scanner: one iterative pass over the text that builds the flat node list, with every
//! span, and a diagnostic for each problem it can step over (see the module above).

#[allow(clippy::wildcard_imports)] // the node types and flags of the parent module
use super::*;

/// Stops the scan: a problem the scanner cannot step over.
struct Fatal;

struct Frame {
    node: NodeId,
    is_object: bool,
    /// Keys seen so far in this object.
    keys: KeySet,
}

#[derive(Default)]
struct KeySet {
    spans: Vec<Key>,
    /// Built once an object grows past a few keys, so huge objects stay linear.
    index: Option<HashMap<String, Span>>,
}

const KEY_INDEX_THRESHOLD: usize = 24;

pub(super) struct Parser<'src> {
    src: &'src [u8],
    text: &'src str,
    pos: usize,
    nodes: Vec<Node>,
    diagnostics: Vec<Diagnostic>,
    /// Reused key sets, so that scanning many small objects does not allocate for each.
    key_sets: Vec<KeySet>,
}

impl<'src> Parser<'src> {
    /// Scans `source`: its nodes in pre-order and every problem found.
    pub(super) fn run(source: &'src str) -> (Vec<Node>, Vec<Diagnostic>) {
        let mut parser = Parser {
            src: source.as_bytes(),
            text: source,
            pos: 0,
            nodes: Vec::with_capacity(source.len() / 24),
            diagnostics: Vec::new(),
            key_sets: Vec::new(),
        };
        parser.document();
        (parser.nodes, parser.diagnostics)
    }

    fn document(&mut self) {
        if self.src.starts_with("\u{feff}".as_bytes()) {
            self.diagnostics.push(
                Diagnostic::warning(
                    Code::ByteOrderMark,
                    "file starts with a UTF-8 byte order mark",
                    Span::new(0, 3),
                )
                .with_label("byte order mark")
                .with_help("save the file as UTF-8 without a BOM; it is ignored"),
            );
            self.pos = 3;
        }
        if self.skip_trivia().is_err() {
            return;
        }
        if self.pos >= self.src.len() {
            let at = self.src.len() as u32;
            self.diagnostics.push(
                Diagnostic::error(
                    Code::EmptyFile,
                    "the registry file is empty",
                    Span::new(at, at),
                )
                .with_label("expected a JSON object")
                .with_help("a registry starts with `{ \"version\": 1, ... }`"),
            );
            return;
        }
        if self.value_tree().is_err() {
            return;
        }
        if self.skip_trivia().is_err() {
            return;
        }
        if self.pos < self.src.len() {
            let start = self.pos;
            let line_end = self.src[start..]
                .iter()
                .position(|&b| b == b'\n' || b == b'\r')
                .map_or(self.src.len(), |n| start + n);
            let end = self.text[start..line_end].trim_end().len() + start;
            self.diagnostics.push(
                Diagnostic::error(
                    Code::TrailingContent,
                    "unexpected content after the end of the registry",
                    self.span(start, end.max(start + 1).min(self.src.len())),
                )
                .with_label("the JSON value ended before this")
                .with_help(
                    "a file holds exactly one JSON value; remove this or merge it into the object",
                ),
            );
        }
    }

    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(start as u32, end as u32)
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn char_span(&self, pos: usize) -> Span {
        let len = self.text[pos..].chars().next().map_or(0, char::len_utf8);
        self.span(pos, pos + len)
    }

    fn found(&self, pos: usize) -> String {
        match self.text[pos..].chars().next() {
            None => "end of file".to_owned(),
            Some(c) if c.is_control() => format!("{:?}", c),
            Some(c) => format!("`{c}`"),
        }
    }

    /// Skips whitespace, reporting (and stepping over) comments.
    fn skip_trivia(&mut self) -> Result<(), Fatal> {
        loop {
            while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
                self.pos += 1;
            }
            if self.peek() != Some(b'/') {
                return Ok(());
            }
            let start = self.pos;
            match self.src.get(start + 1) {
                Some(b'/') => {
                    let end = self.src[start..]
                        .iter()
                        .position(|&b| b == b'\n')
                        .map_or(self.src.len(), |n| start + n);
                    let end = start + self.text[start..end].trim_end().len();
                    self.comment(start, end);
                    self.pos = end;
                }
                Some(b'*') => match self.text[start + 2..].find("*/") {
                    Some(n) => {
                        let end = start + 2 + n + 2;
                        self.comment(start, end);
                        self.pos = end;
                    }
                    None => {
                        self.diagnostics.push(
                            Diagnostic::error(
                                Code::UnexpectedEnd,
                                "unexpected end of file inside a block comment",
                                self.span(start, start + 2),
                            )
                            .with_label("comment opened here is never closed")
                            .with_help("JSON has no comments; remove it"),
                        );
                        return Err(Fatal);
                    }
                },
                _ => {
                    self.diagnostics.push(
                        Diagnostic::error(
                            Code::UnexpectedToken,
                            "expected a JSON value, found `/`",
                            self.span(start, start + 1),
                        )
                        .with_label("unexpected `/`"),
                    );
                    return Err(Fatal);
                }
            }
        }
    }

    fn comment(&mut self, start: usize, end: usize) {
        self.diagnostics.push(
            Diagnostic::error(
                Code::Comment,
                "comments are not allowed in JSON",
                self.span(start, end),
            )
            .with_label("comment")
            .with_help("remove the comment; service notes belong in the `notes` field"),
        );
    }

    fn push_node(
        &mut self,
        kind: NodeKind,
        start: usize,
        end: usize,
        key: Option<Key>,
        escaped: bool,
    ) -> NodeId {
        let id = self.nodes.len() as NodeId;
        let mut flags = if escaped { VALUE_ESCAPED } else { 0 };
        if let Some(key) = key {
            flags |= HAS_KEY | if key.escaped { KEY_ESCAPED } else { 0 };
        }
        self.nodes.push(Node {
            kind,
            flags,
            span: self.span(start, end),
            key: key.map_or(Span::default(), |k| k.span),
            subtree_end: id + 1,
        });
        id
    }

    /// Parses one complete value (with everything nested in it) without recursion.
    fn value_tree(&mut self) -> Result<(), Fatal> {
        let mut stack: Vec<Frame> = Vec::new();
        let mut key: Option<Key> = None;
        loop {
            // A value is expected at `pos` (after trivia).
            self.skip_trivia()?;
            let start = self.pos;
            let Some(byte) = self.peek() else {
                return Err(self.unexpected_end(&stack, "a value"));
            };
            match byte {
                b'{' | b'[' => {
                    if stack.len() >= MAX_DEPTH {
                        self.diagnostics.push(
                            Diagnostic::error(
                                Code::TooDeep,
                                format!("nesting is deeper than {MAX_DEPTH} levels"),
                                self.span(start, start + 1),
                            )
                            .with_label("this container is too deeply nested")
                            .with_help("a registry needs about six levels; flatten the data"),
                        );
                        return Err(Fatal);
                    }
                    let is_object = byte == b'{';
                    let kind = if is_object {
                        NodeKind::Object
                    } else {
                        NodeKind::Array
                    };
                    let node = self.push_node(kind, start, start + 1, key.take(), false);
                    self.pos += 1;
                    let keys = self.key_sets.pop().unwrap_or_default();
                    stack.push(Frame {
                        node,
                        is_object,
                        keys,
                    });
                    self.skip_trivia()?;
                    let close = if is_object { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.pos += 1;
                        self.close(&mut stack);
                    } else if is_object {
                        key = Some(self.member_key(&mut stack)?);
                        continue;
                    } else {
                        continue;
                    }
                }
                b'"' => {
                    let (end, escaped) = self.string(b'"')?;
                    self.push_node(NodeKind::String, start, end, key.take(), escaped);
                }
                b'\'' => {
                    let (end, _) = self.string(b'\'')?;
                    self.single_quoted(start, end);
                    // Never decoded: a document with syntax errors is not validated.
                    self.push_node(NodeKind::String, start, end, key.take(), false);
                }
                b'-' | b'0'..=b'9' | b'+' | b'.' => {
                    let end = self.number()?;
                    self.push_node(NodeKind::Number, start, end, key.take(), false);
                }
                b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                    let kind = self.word()?;
                    self.push_node(kind, start, self.pos, key.take(), false);
                }
                _ => {
                    let message = match stack.last() {
                        Some(frame) if !frame.is_object && byte == b',' => {
                            "expected a value, found `,`".to_owned()
                        }
                        _ => format!("expected a JSON value, found {}", self.found(start)),
                    };
                    self.diagnostics.push(
                        Diagnostic::error(Code::UnexpectedToken, message, self.char_span(start))
                            .with_label("expected a value here"),
                    );
                    return Err(Fatal);
                }
            }

            // After a value: a separator, a closing bracket, or the end of the root.
            loop {
                let Some(frame) = stack.last() else {
                    return Ok(());
                };
                let (is_object, close) =
                    (frame.is_object, if frame.is_object { b'}' } else { b']' });
                self.skip_trivia()?;
                let at = self.pos;
                match self.peek() {
                    None => {
                        return Err(self.unexpected_end(
                            &stack,
                            if is_object {
                                "`,` or `}`"
                            } else {
                                "`,` or `]`"
                            },
                        ));
                    }
                    Some(b',') => {
                        self.pos += 1;
                        self.skip_trivia()?;
                        if self.peek() == Some(close) {
                            self.diagnostics.push(
                                Diagnostic::error(
                                    Code::TrailingComma,
                                    "trailing comma",
                                    self.span(at, at + 1),
                                )
                                .with_label("remove this comma")
                                .with_help("JSON does not allow a comma before `}` or `]`"),
                            );
                            self.pos += 1;
                            self.close(&mut stack);
                            continue;
                        }
                        if is_object {
                            key = Some(self.member_key(&mut stack)?);
                        }
                        break;
                    }
                    Some(b) if b == close => {
                        self.pos += 1;
                        self.close(&mut stack);
                    }
                    Some(b) => {
                        let expected = if is_object {
                            "`,` or `}`"
                        } else {
                            "`,` or `]`"
                        };
                        let opened = self.nodes[frame.node as usize].span;
                        let mut diagnostic = Diagnostic::error(
                            Code::UnexpectedToken,
                            format!("expected {expected}, found {}", self.found(at)),
                            self.char_span(at),
                        );
                        diagnostic =
                            if matches!(b, b'"' | b'{' | b'[' | b'0'..=b'9' | b't' | b'f' | b'n') {
                                diagnostic
                                    .with_label(format!("expected {expected} before this"))
                                    .with_help("add a comma between the two values")
                            } else {
                                diagnostic.with_label(format!("expected {expected}"))
                            };
                        let opened_what = if is_object { "object" } else { "array" };
                        diagnostic = diagnostic.with_secondary(
                            Span::new(opened.start, opened.start + 1),
                            format!("{opened_what} opened here"),
                        );
                        self.diagnostics.push(diagnostic);
                        return Err(Fatal);
                    }
                }
            }
        }
    }

    fn unexpected_end(&mut self, stack: &[Frame], expected: &str) -> Fatal {
        let at = self.src.len() as u32;
        let mut diagnostic = Diagnostic::error(
            Code::UnexpectedEnd,
            format!("unexpected end of file, expected {expected}"),
            Span::new(at, at),
        )
        .with_label("the file ends here");
        if let Some(frame) = stack.last() {
            let opened = self.nodes[frame.node as usize].span.start;
            let what = if frame.is_object { "object" } else { "array" };
            diagnostic = diagnostic
                .with_secondary(
                    Span::new(opened, opened + 1),
                    format!("this {what} is never closed"),
                )
                .with_help("the file looks truncated; restore it from version control");
        }
        self.diagnostics.push(diagnostic);
        Fatal
    }

    fn close(&mut self, stack: &mut Vec<Frame>) {
        if let Some(mut frame) = stack.pop() {
            let end = self.nodes.len() as NodeId;
            let pos = self.pos as u32;
            let node = &mut self.nodes[frame.node as usize];
            node.subtree_end = end;
            node.span.end = pos;
            frame.keys.spans.clear();
            frame.keys.index = None;
            self.key_sets.push(frame.keys);
        }
    }

    /// Reads `"key" :` and checks the key against the earlier keys of the same object.
    fn member_key(&mut self, stack: &mut [Frame]) -> Result<Key, Fatal> {
        let start = self.pos;
        let (end, escaped) = match self.peek() {
            Some(b'"') => self.string(b'"')?,
            Some(b'\'') => {
                let (end, _) = self.string(b'\'')?;
                self.single_quoted(start, end);
                (end, false)
            }
            Some(b'a'..=b'z' | b'A'..=b'Z' | b'_' | b'$') => {
                let len = self.src[start..]
                    .iter()
                    .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_' || *b == b'$'))
                    .unwrap_or(self.src.len() - start);
                let word = &self.text[start..start + len];
                self.diagnostics.push(
                    Diagnostic::error(
                        Code::UnexpectedToken,
                        format!("object keys must be strings in double quotes, found `{word}`"),
                        self.span(start, start + len),
                    )
                    .with_label("unquoted key")
                    .with_help(format!("write it as \"{word}\"")),
                );
                return Err(Fatal);
            }
            None => return Err(self.unexpected_end(stack, "a string key")),
            _ => {
                self.diagnostics.push(
                    Diagnostic::error(
                        Code::UnexpectedToken,
                        format!("expected a string key, found {}", self.found(start)),
                        self.char_span(start),
                    )
                    .with_label("expected `\"key\"` here"),
                );
                return Err(Fatal);
            }
        };
        let key = Key::new(self.src, self.span(start, end), escaped);
        self.check_duplicate(stack, key);
        let span = key.span;
        self.skip_trivia()?;
        if self.peek().is_none() {
            return Err(self.unexpected_end(stack, "`:`"));
        }
        if self.peek() != Some(b':') {
            let at = self.pos;
            self.diagnostics.push(
                Diagnostic::error(
                    Code::UnexpectedToken,
                    format!(
                        "expected `:` after the object key, found {}",
                        self.found(at)
                    ),
                    if at < self.src.len() {
                        self.char_span(at)
                    } else {
                        self.span(at, at)
                    },
                )
                .with_label("expected `:`")
                .with_secondary(span, "after this key"),
            );
            return Err(Fatal);
        }
        self.pos += 1;
        Ok(key)
    }

    fn check_duplicate(&mut self, stack: &mut [Frame], key: Key) {
        let Some(frame) = stack.last_mut() else {
            return;
        };
        let text = self.text;
        let raw = |s: Span| &text[s.start as usize + 1..s.end as usize - 1];
        let new_raw = raw(key.span);
        let keys = &mut frame.keys;
        let earlier = if let Some(index) = &mut keys.index {
            let decoded = decode_string(new_raw).into_owned();
            match index.get(&decoded) {
                Some(first) => Some(*first),
                None => {
                    index.insert(decoded, key.span);
                    None
                }
            }
        } else {
            let bytes = text.as_bytes();
            let raw_bytes = |s: Span| &bytes[s.start as usize..s.end as usize];
            let found = keys.spans.iter().find(|other| {
                if !key.escaped && !other.escaped {
                    // Byte slices: no char-boundary checks on this hot path.
                    other.signature == key.signature && raw_bytes(other.span) == raw_bytes(key.span)
                } else {
                    decode_string(raw(other.span)) == decode_string(new_raw)
                }
            });
            let found = found.map(|other| other.span);
            if found.is_none() {
                keys.spans.push(key);
                if keys.spans.len() > KEY_INDEX_THRESHOLD {
                    let index = keys
                        .spans
                        .iter()
                        .map(|k| (decode_string(raw(k.span)).into_owned(), k.span))
                        .collect();
                    keys.index = Some(index);
                }
            }
            found
        };
        if let Some(first) = earlier {
            self.diagnostics.push(
                Diagnostic::error(
                    Code::DuplicateKey,
                    format!(
                        "duplicate key `{}` in the same object",
                        decode_string(new_raw)
                    ),
                    key.span,
                )
                .with_label("duplicate key")
                .with_secondary(first, "first defined here")
                .with_help("JSON readers disagree on which one wins; keep exactly one"),
            );
        }
    }

    fn single_quoted(&mut self, start: usize, end: usize) {
        self.diagnostics.push(
            Diagnostic::error(
                Code::SingleQuotes,
                "strings must use double quotes",
                self.span(start, end),
            )
            .with_label("single-quoted string")
            .with_help("replace the ' quotes with \""),
        );
    }

    /// Scans a string starting at `pos` (on the opening quote); returns the end offset and
    /// whether the string holds escapes.
    fn string(&mut self, quote: u8) -> Result<(usize, bool), Fatal> {
        let start = self.pos;
        let mut i = start + 1;
        let mut escaped = false;
        loop {
            // The hot loop: most bytes are plain text. Skip eight at a time while none of them
            // needs a look, then find the exact byte one at a time.
            while let Some(word) = self.src.get(i..i + 8).and_then(|c| c.try_into().ok()) {
                if needs_a_look(u64::from_le_bytes(word), quote) {
                    break;
                }
                i += 8;
            }
            while let Some(&b) = self.src.get(i) {
                if b == quote || b == b'\\' || b < 0x20 {
                    break;
                }
                i += 1;
            }
            match self.src.get(i) {
                None => {
                    self.diagnostics.push(
                        Diagnostic::error(
                            Code::UnexpectedEnd,
                            "unexpected end of file inside a string",
                            self.span(start, start + 1),
                        )
                        .with_label("this string is never closed")
                        .with_help("the file looks truncated; add the closing `\"`"),
                    );
                    return Err(Fatal);
                }
                Some(&b) if b == quote => {
                    self.pos = i + 1;
                    return Ok((i + 1, escaped));
                }
                Some(b'\\') => {
                    escaped = true;
                    i = self.escape(i)?;
                }
                Some(&b) => {
                    let (message, help) = if b == b'\n' || b == b'\r' {
                        (
                            "string is not closed before the end of the line",
                            "close the string with `\"`, or write a line break inside it as \\n",
                        )
                    } else {
                        (
                            "control character in string",
                            "write control characters as escapes such as \\t or \\u0001",
                        )
                    };
                    self.diagnostics.push(
                        Diagnostic::error(Code::InvalidString, message, self.span(i, i + 1))
                            .with_label(format!("{:?} here", b as char))
                            .with_secondary(self.span(start, start + 1), "string starts here")
                            .with_help(help),
                    );
                    return Err(Fatal);
                }
            }
        }
    }

    /// Checks the escape sequence at `i` (on the backslash); returns the offset after it.
    fn escape(&mut self, i: usize) -> Result<usize, Fatal> {
        match self.src.get(i + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' | b'\'') => {
                if self.src[i + 1] == b'\'' {
                    self.bad_escape(
                        i,
                        2,
                        "`\\'` is not a JSON escape",
                        "write a plain ' inside double quotes",
                    );
                    return Err(Fatal);
                }
                Ok(i + 2)
            }
            Some(b'u') => match unicode_escape(self.src, i) {
                UnicodeEscape::Char(_, len) => Ok(i + len),
                UnicodeEscape::BadDigits(at) => Err(self.bad_digits(at)),
                UnicodeEscape::LoneHigh => {
                    self.bad_escape(
                        i,
                        6,
                        "unpaired UTF-16 surrogate in `\\u` escape",
                        "a high surrogate must be followed by a low one (\\uDC00-\\uDFFF)",
                    );
                    Err(Fatal)
                }
                UnicodeEscape::LoneLow => {
                    self.bad_escape(
                        i,
                        6,
                        "unpaired UTF-16 surrogate in `\\u` escape",
                        "a low surrogate must follow a high one (\\uD800-\\uDBFF)",
                    );
                    Err(Fatal)
                }
            },
            None => {
                self.diagnostics.push(
                    Diagnostic::error(
                        Code::UnexpectedEnd,
                        "unexpected end of file inside a string",
                        self.span(i, i + 1),
                    )
                    .with_label("escape sequence cut short"),
                );
                Err(Fatal)
            }
            Some(_) => {
                let len = 1 + self.text[i + 1..].chars().next().map_or(0, char::len_utf8);
                let escape = &self.text[i..i + len];
                self.bad_escape(
                    i,
                    len,
                    &format!("invalid escape `{escape}` in string"),
                    "valid escapes are \\\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX",
                );
                Err(Fatal)
            }
        }
    }

    /// Reports the `\u` at `i` that lacks its four hex digits.
    fn bad_digits(&mut self, i: usize) -> Fatal {
        let len = self.src[i + 2..]
            .iter()
            .take(4)
            .take_while(|b| b.is_ascii_hexdigit())
            .count()
            + 2;
        self.bad_escape(
            i,
            len,
            "`\\u` must be followed by four hex digits",
            "write the character as \\uXXXX, for example \\u00e9",
        );
        Fatal
    }

    fn bad_escape(&mut self, i: usize, len: usize, message: &str, help: &str) {
        self.diagnostics.push(
            Diagnostic::error(
                Code::InvalidString,
                message,
                self.span(i, (i + len).min(self.src.len())),
            )
            .with_label("invalid escape")
            .with_help(help),
        );
    }

    /// Scans a number (JSON grammar); reports `NaN`/`Infinity` and values out of range.
    fn number(&mut self) -> Result<usize, Fatal> {
        let start = self.pos;
        let digits = |p: &Self, mut i: usize| {
            while p.src.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            i
        };
        let mut i = start;
        if self.src[i] == b'+' || self.src[i] == b'.' {
            let end = self.token_end(start);
            let what = if self.src[i] == b'+' {
                "a leading `+`"
            } else {
                "a leading `.`"
            };
            return Err(self.bad_number(
                start,
                end,
                &format!("numbers cannot start with {what}"),
                "write it as a plain JSON number such as 0.5 or 5",
            ));
        }
        if self.src[i] == b'-' {
            i += 1;
            if self.src.get(i) == Some(&b'I') {
                self.pos = i;
                let end = self.word_end();
                if &self.text[i..end] == "Infinity" {
                    self.non_finite(start, end);
                    return Ok(end);
                }
            }
        }
        match self.src.get(i) {
            Some(b'0') => {
                i += 1;
                if self.src.get(i).is_some_and(|b| b.is_ascii_alphanumeric()) {
                    let end = self.token_end(start);
                    let (message, help) = if matches!(self.src.get(i), Some(b'x' | b'X')) {
                        (
                            "hexadecimal numbers are not allowed in JSON",
                            "write the number in decimal",
                        )
                    } else {
                        (
                            "numbers cannot have leading zeros",
                            "remove the leading zeros",
                        )
                    };
                    return Err(self.bad_number(start, end, message, help));
                }
            }
            Some(b'1'..=b'9') => i = digits(self, i),
            _ => {
                let end = self.token_end(start).max(i + 1).min(self.src.len());
                return Err(self.bad_number(
                    start,
                    end,
                    "expected a digit after `-`",
                    "write a number such as -1",
                ));
            }
        }
        let mut is_integer = true;
        if self.src.get(i) == Some(&b'.') {
            is_integer = false;
            let after = digits(self, i + 1);
            if after == i + 1 {
                let end = self.token_end(start);
                return Err(self.bad_number(
                    start,
                    end,
                    "expected a digit after the decimal point",
                    "write 1.0 or 1, not 1.",
                ));
            }
            i = after;
        }
        if matches!(self.src.get(i), Some(b'e' | b'E')) {
            is_integer = false;
            let mut j = i + 1;
            if matches!(self.src.get(j), Some(b'+' | b'-')) {
                j += 1;
            }
            let after = digits(self, j);
            if after == j {
                let end = self.token_end(start);
                return Err(self.bad_number(
                    start,
                    end,
                    "expected a digit in the exponent",
                    "write an exponent such as 1e5",
                ));
            }
            i = after;
        }
        if self
            .src
            .get(i)
            .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
        {
            let end = self.token_end(start);
            return Err(self.bad_number(
                start,
                end,
                &format!("invalid number `{}`", &self.text[start..end]),
                "JSON numbers are decimal, like 12, -3.5 or 1e6",
            ));
        }
        self.pos = i;
        let text = &self.text[start..i];
        let in_range = if is_integer && (text.parse::<i64>().is_ok() || text.parse::<u64>().is_ok())
        {
            true
        } else {
            text.parse::<f64>().is_ok_and(f64::is_finite)
        };
        if !in_range {
            self.diagnostics.push(
                Diagnostic::error(
                    Code::NumberOutOfRange,
                    "number is out of range",
                    self.span(start, i),
                )
                .with_label("does not fit in a 64-bit float")
                .with_help("JSON readers cannot represent this value; use a smaller number"),
            );
        }
        Ok(i)
    }

    fn token_end(&self, start: usize) -> usize {
        let len = self.src[start..]
            .iter()
            .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r' | b':'))
            .unwrap_or(self.src.len() - start);
        (start + len).max(start + 1).min(self.src.len())
    }

    fn bad_number(&mut self, start: usize, end: usize, message: &str, help: &str) -> Fatal {
        let end = self.text.ceil_char_boundary(end);
        self.diagnostics.push(
            Diagnostic::error(Code::InvalidNumber, message, self.span(start, end))
                .with_label("invalid number")
                .with_help(help),
        );
        Fatal
    }

    fn non_finite(&mut self, start: usize, end: usize) {
        self.diagnostics.push(
            Diagnostic::error(
                Code::NonFinite,
                format!("`{}` is not a JSON value", &self.text[start..end]),
                self.span(start, end),
            )
            .with_label("not allowed in JSON")
            .with_help("JSON has no NaN or Infinity; use null for an unknown number"),
        );
    }

    fn word_end(&self) -> usize {
        let len = self.src[self.pos..]
            .iter()
            .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
            .unwrap_or(self.src.len() - self.pos);
        self.pos + len
    }

    /// Scans `true`, `false`, `null`, or reports the word found instead.
    fn word(&mut self) -> Result<NodeKind, Fatal> {
        let start = self.pos;
        let end = self.word_end();
        let word = &self.text[start..end];
        let kind = match word {
            "true" => NodeKind::Bool(true),
            "false" => NodeKind::Bool(false),
            "null" => NodeKind::Null,
            "NaN" | "Infinity" => {
                self.non_finite(start, end);
                NodeKind::Null
            }
            _ => {
                let help = match word {
                    "True" | "TRUE" => Some("JSON literals are lower case: `true`"),
                    "False" | "FALSE" => Some("JSON literals are lower case: `false`"),
                    "None" | "NULL" | "Null" | "nil" | "undefined" => {
                        Some("write an unknown value as `null`")
                    }
                    _ => None,
                };
                let mut diagnostic = Diagnostic::error(
                    Code::UnexpectedToken,
                    format!("expected a JSON value, found `{word}`"),
                    self.span(start, end),
                )
                .with_label("not a JSON value");
                diagnostic = match help {
                    Some(help) => diagnostic.with_help(help),
                    None => diagnostic.with_help("strings must be in double quotes"),
                };
                self.diagnostics.push(diagnostic);
                return Err(Fatal);
            }
        };
        self.pos = end;
        Ok(kind)
    }
}

/// Whether any of the eight bytes in `word` is `quote`, a backslash or a control character
/// (the classic "has zero byte" bit trick; exact as a yes/no answer).
pub(super) fn needs_a_look(word: u64, quote: u8) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS != 0;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGHS != 0;
    below_space
        || has_zero(word ^ (ONES * u64::from(quote)))
        || has_zero(word ^ (ONES * u64::from(b'\\')))
}
