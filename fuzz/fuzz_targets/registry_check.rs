//! Arbitrary bytes through what `workerflow-registry check` does with a file's bytes: decode
//! (UTF-8 check), check against the bundled schema and rules, render the report in all three
//! formats; then `compile`, as `build` does.
#![no_main]

use std::path::Path;
use std::sync::{Arc, LazyLock};

use libfuzzer_sys::fuzz_target;

use workerflow_registry::{Format, LoadError, Report, Schema, Source};

static SCHEMA: LazyLock<Arc<Schema>> =
    LazyLock::new(|| Arc::new(Schema::bundled().expect("the bundled schema compiles")));

fuzz_target!(|data: &[u8]| {
    let path = Path::new("connector-registry/services.json");
    let file = match Source::from_bytes(
        path,
        "services.json".to_owned(),
        data.to_vec(),
        SCHEMA.clone(),
    ) {
        Ok(file) => file,
        Err(LoadError::Invalid(invalid)) => {
            // Not UTF-8: the CLI prints this report and exits 1.
            assert!(invalid.error_count() > 0);
            render_all(&invalid.report());
            return;
        }
        Err(other) => panic!("decoding bytes cannot fail with {other}"),
    };
    let text = file.text();
    let checked = file.check();
    for diagnostic in &checked.diagnostics {
        let span = diagnostic.span;
        assert!(span.start <= span.end, "{diagnostic:?}");
        assert!(span.end as usize <= text.len(), "{diagnostic:?}");
    }
    render_all(&Report {
        path: file.display(),
        source: text,
        diagnostics: &checked.diagnostics,
    });
    // With the bundled schema, what `check` accepts `build` can always model.
    let compiled = file.compile();
    assert_eq!(
        compiled.registry.is_some(),
        checked.is_valid(),
        "{:?}",
        compiled.diagnostics
    );
});

fn render_all(report: &Report<'_>) {
    let _ = report.render(Format::Text, false);
    let _ = report.render(Format::Github, false);
    let json = report.render(Format::Json, false);
    // `--format json` is a stable interface: it must always be one JSON document.
    if let Err(error) = serde_json::from_str::<serde_json::Value>(&json) {
        panic!("--format json is not JSON ({error}): {json}");
    }
}
