//! The Rust 2024 keywords: `#[connector]`, the generated registry module and
//! `workerflow-registry new` must spell route ids alike.

/// Keywords no identifier can spell, not even a raw one (`r#self` is an error).
pub const PATH_KEYWORDS: &[&str] = &["self", "Self", "super", "crate"];

/// Strict and reserved keywords a raw identifier can spell (`type` → `r#type`). Weak keywords
/// (`union`, `macro_rules`, `raw`, `safe`) are plain identifiers and not listed.
pub const RAW_KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do", "dyn",
    "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let",
    "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return",
    "static", "struct", "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use",
    "virtual", "where", "while", "yield",
];
