//! The committed `docs/SERVICE_API_INDEX.md`, `.html`, `openapi.json` and `llms.txt` are exactly what the
//! registry produces.
//!
//! Like rust-analyzer's sourcegen tests: on a developer machine a stale file is rewritten and
//! the test fails once, so the diff shows up in `git status`; on CI (`CI` set) it only fails.

use std::fmt::Write as _;
use std::path::Path;

use workerflow_registry::docs::Freshness;
use workerflow_registry::docs::Renderer;

#[test]
fn committed_docs_match_the_registry() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let registry = root.join(workerflow_registry::REGISTRY_PATH);
    let loaded = match workerflow_registry::Source::open(&registry).and_then(|source| {
        source
            .docs()
            .map_err(workerflow_registry::LoadError::Invalid)
    }) {
        Ok(loaded) => loaded,
        Err(workerflow_registry::LoadError::Invalid(invalid)) => {
            panic!(
                "{}",
                invalid
                    .report()
                    .render(workerflow_registry::Format::Text, false)
            )
        }
        Err(error) => panic!("{error}"),
    };
    let renderer = Renderer::embedded().expect("embedded templates compile");
    let docs = root.join("docs");
    let checked = loaded
        .check_docs(&renderer, &docs)
        .expect("docs/ is readable");

    for generated in ["openapi.json", "llms.txt"] {
        assert!(
            checked.iter().any(|page| page.path.ends_with(generated)),
            "docs/{generated} is checked with the pages"
        );
    }
    // llms.txt is for an agent's context window: one compact line per service.
    let llms = std::fs::metadata(docs.join("llms.txt")).map_or(0, |m| m.len());
    assert!(
        llms > 0 && llms < 20 * 1024,
        "docs/llms.txt is {llms} bytes"
    );
    let mut message = String::new();
    for page in &checked {
        match &page.freshness {
            Freshness::Fresh => {}
            Freshness::Missing => {
                let _ = writeln!(message, "{} is missing", page.path.display());
            }
            Freshness::Stale { diff } => {
                let _ = writeln!(message, "{} is stale:\n{diff}", page.path.display());
            }
        }
    }
    if message.is_empty() {
        return;
    }
    if !workerflow_registry::build_script::on_ci() {
        match loaded.write_docs(&renderer, &docs) {
            Ok(_) => message.push_str("\nThe docs were regenerated: review and commit them.\n"),
            Err(error) => {
                let _ = writeln!(message, "\nRegenerating them failed: {error}");
            }
        }
    }
    panic!(
        // The workspace's command: the pages name the installed CLI, which may not be here.
        "the committed docs do not match {}:\n\n{message}\nfix: `cargo run -p workerflow-registry -- build` (then commit docs/)",
        workerflow_registry::REGISTRY_PATH
    );
}

/// The generated module's OpenAPI document is the committed `docs/openapi.json`, byte for byte:
/// both are `openapi::render` of the same registry, one through `build.rs`, one through `build`.
#[test]
fn the_generated_openapi_document_is_the_committed_one() {
    let committed =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.json"))
            .expect("docs/openapi.json");
    assert!(
        workerflow::registry::OPENAPI_JSON == committed,
        "registry::OPENAPI_JSON differs from docs/openapi.json (run the docs test above to regenerate)"
    );
}
