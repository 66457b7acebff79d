//! ARCHITECTURE.md names only what exists: every path it puts in backticks is a file or folder
//! of the repository, every type is declared and every function is defined somewhere in the
//! workspace's Rust sources. A rename that forgets the map fails here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every file and folder below `dir`, relative to the repository root, skipping build output.
fn tree(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name == ".git" || name == "node_modules" {
            continue;
        }
        out.push(path.strip_prefix(root()).unwrap().to_path_buf());
        if path.is_dir() {
            tree(&path, out);
        }
    }
}

/// The backticked spans of `text` outside fenced code blocks, each with the section (the first
/// backticked name of the nearest `###` heading, a folder) it appears in.
fn spans(text: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut fenced = false;
    let mut section = String::new();
    for line in text.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let ticked: Vec<&str> = line.split('`').skip(1).step_by(2).collect();
        if line.starts_with("### ") {
            section = ticked.first().map_or(String::new(), |s| s.to_string());
        }
        found.extend(ticked.into_iter().map(|s| (section.clone(), s.to_owned())));
    }
    found
}

fn is_path(span: &str) -> bool {
    const EXTENSIONS: [&str; 7] = [".rs", ".md", ".toml", ".json", ".txt", ".j2", ".sh"];
    !span.contains([' ', '<', ':', ','])
        && !span.starts_with(['-', '#'])
        && !span.starts_with("OUT_DIR")
        && (span.contains('/') || EXTENSIONS.iter().any(|e| span.ends_with(e)))
}

/// A type name: upper camel case with a lower-case letter (`WF316` and `CI` are not types).
fn is_type(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && name.chars().all(|c| c.is_ascii_alphanumeric())
        && name.chars().any(|c| c.is_ascii_lowercase())
}

#[test]
fn every_path_and_type_in_architecture_md_exists() {
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let mut files = Vec::new();
    tree(root(), &mut files);
    let sources: String = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .filter_map(|p| std::fs::read_to_string(root().join(p)).ok())
        .collect::<Vec<_>>()
        .join("\n");
    let declared = |keyword_sets: &[&str], name: &str| {
        keyword_sets.iter().any(|k| {
            sources
                .match_indices(&format!("{k} {name}"))
                .any(|(at, m)| {
                    let next = sources[at + m.len()..].chars().next();
                    !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                })
        })
    };
    let mut missing = BTreeSet::new();
    let mut checked = (0, 0, 0);
    for (section, span) in spans(&text) {
        if is_path(&span) {
            checked.0 += 1;
            let relative = span.trim_end_matches('/');
            let base = section.trim_end_matches('/');
            let found = root().join(relative).exists()
                || files.iter().any(|f| {
                    (base.is_empty() || base == "." || f.starts_with(base))
                        && (f.ends_with(relative))
                });
            if !found {
                missing.insert(format!("path `{span}` (section `{section}`)"));
            }
            continue;
        }
        // `Type`, `module::Type` and `Type::method`: the last segment that names a type, then
        // a function after it; `name()` and `name(args)`: a function.
        let head = span.split('(').next().unwrap_or_default();
        if span.contains(['<', '!', ' ', '#', '-', '.', '=']) && !span.contains('(') {
            continue;
        }
        let segments: Vec<&str> = head.split("::").collect();
        let called = span.contains('(');
        for (i, segment) in segments.iter().enumerate() {
            let last = i + 1 == segments.len();
            if is_type(segment) {
                checked.1 += 1;
                if !declared(&["struct", "enum", "trait", "type", "union"], segment) {
                    missing.insert(format!("type `{segment}` (in `{span}`)"));
                }
            } else if last
                && (called || segments.len() > 1)
                && segment.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            {
                checked.2 += 1;
                if !declared(&["fn"], segment) {
                    missing.insert(format!("function `{segment}` (in `{span}`)"));
                }
            }
        }
    }
    assert!(
        checked.0 > 40 && checked.1 > 20 && checked.2 > 5,
        "the map names paths, types and functions: {checked:?}"
    );
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md names what does not exist:\n{}",
        missing.into_iter().collect::<Vec<_>>().join("\n")
    );
}
