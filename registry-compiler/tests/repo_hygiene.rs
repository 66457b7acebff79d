//! What the repository itself must (not) contain, read from `git ls-files`.

use std::process::Command;

mod common;
use common::workspace_root;

fn tracked_files() -> Vec<String> {
    let output = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(workspace_root())
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git ls-files failed");
    String::from_utf8_lossy(&output.stdout)
        .split('\0')
        .filter(|path| !path.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Tool caches (pre-commit's environments and `db.db`) are machine state, never source.
#[test]
fn no_tool_cache_is_committed() {
    let cached: Vec<String> = tracked_files()
        .into_iter()
        .filter(|path| path.starts_with(".pre-commit-home/"))
        .collect();
    assert!(cached.is_empty(), "committed tool caches: {cached:?}");
    let ignore = std::fs::read_to_string(workspace_root().join(".gitignore")).expect("read");
    assert!(
        ignore
            .lines()
            .any(|line| line.trim() == "/.pre-commit-home/"),
        ".gitignore must ignore /.pre-commit-home/"
    );
}

/// Users have the repository, nothing beside it: no file may cite a path outside it.
#[test]
fn no_file_cites_a_path_outside_the_repository() {
    // Spelt in two pieces so this file does not match itself.
    let outside = concat!("..", "/shared");
    let root = workspace_root();
    let mut citing = Vec::new();
    for path in tracked_files() {
        let Ok(text) = std::fs::read_to_string(root.join(&path)) else {
            continue; // binary files
        };
        for (number, line) in text.lines().enumerate() {
            if line.contains(outside) {
                citing.push(format!("{path}:{}: {}", number + 1, line.trim()));
            }
        }
    }
    assert!(
        citing.is_empty(),
        "paths outside the repository:\n{}",
        citing.join("\n")
    );
}

/// Every relative link of every committed Markdown file names a file or directory that exists.
#[test]
fn every_relative_markdown_link_resolves() {
    use pulldown_cmark::{Event, Parser, Tag};
    let root = workspace_root();
    let mut broken = Vec::new();
    let mut checked = 0;
    for path in tracked_files()
        .into_iter()
        .filter(|path| path.ends_with(".md"))
    {
        let text = std::fs::read_to_string(root.join(&path)).expect("read");
        let dir = root.join(&path).parent().expect("a parent").to_owned();
        for event in Parser::new(&text) {
            let (Event::Start(Tag::Link { dest_url, .. })
            | Event::Start(Tag::Image { dest_url, .. })) = event
            else {
                continue;
            };
            let target = dest_url.split('#').next().unwrap_or_default();
            if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            if !dir.join(target).exists() {
                broken.push(format!("{path}: {dest_url}"));
            }
        }
    }
    assert!(
        checked > 10,
        "only {checked} relative links found: is the scan right?"
    );
    assert!(
        broken.is_empty(),
        "links to nothing:\n{}",
        broken.join("\n")
    );
}

/// Every Markdown file that prose names (`docs/ROUTES.md 1.7`, `POLICY.md`) is committed too:
/// citing a page users do not have leads them nowhere. Prose: Markdown files, and comment lines
/// elsewhere (string literals in tests name scratch files).
#[test]
fn every_markdown_file_named_is_committed() {
    let root = workspace_root();
    let tracked = tracked_files();
    let pages: std::collections::BTreeSet<&str> = tracked
        .iter()
        .filter(|path| path.ends_with(".md"))
        .map(|path| path.rsplit('/').next().unwrap_or(path))
        .collect();
    let is_name_byte = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/');
    let mut unknown = Vec::new();
    for path in &tracked {
        let Ok(text) = std::fs::read_to_string(root.join(path)) else {
            continue;
        };
        let text = if path.ends_with(".md") {
            text
        } else {
            text.lines()
                .filter(|line| {
                    let line = line.trim_start();
                    line.starts_with("//") || line.starts_with('#')
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        let bytes = text.as_bytes();
        for (at, _) in text.match_indices(".md") {
            let end = at + 3;
            if bytes.get(end).is_some_and(|b| b.is_ascii_alphanumeric()) {
                continue; // `.mdx`, `.md5`
            }
            let start = bytes[..at]
                .iter()
                .rposition(|&b| !is_name_byte(b))
                .map_or(0, |p| p + 1);
            let name = &text[start..end];
            let file = name.rsplit('/').next().unwrap_or(name);
            if file.len() > 3 && !pages.contains(file) {
                unknown.push(format!("{path}: {name}"));
            }
        }
    }
    unknown.sort();
    unknown.dedup();
    assert!(
        unknown.is_empty(),
        "names of pages that are not in the repository:\n{}",
        unknown.join("\n")
    );
}
