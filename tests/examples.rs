//! Every contract example of the 12 bundled routes, through the runtime's test helper
//! (`workerflow_runtime::testing`, feature `testing`): the one call a connector crate's own test
//! makes (`new` scaffolds it), run here on ours.

use workerflow_runtime::testing::{assert_examples, run_examples};

#[test]
fn every_example_gives_its_documented_outcome() {
    let linked = workerflow::registry::linked().expect("one handler per route");
    assert_examples(&linked, workerflow::registry::EXAMPLES);
    // Every declared example ran: the helper skipped none.
    let declared: usize = workerflow::registry::EXAMPLES
        .iter()
        .map(|(_, text)| {
            serde_json::from_str::<Vec<serde_json::Value>>(text)
                .expect("examples are JSON")
                .len()
        })
        .sum();
    assert_eq!(
        run_examples(&linked, workerflow::registry::EXAMPLES).ran,
        declared
    );
}

/// A route whose handler is not linked cannot run its examples: that is a failure, not a skip.
#[test]
fn examples_of_an_unlinked_route_fail() {
    let linked = workerflow::registry::linked().expect("one handler per route");
    let report = run_examples(
        &linked,
        &[(
            "not_linked_anywhere",
            r#"[{"name": "x", "input": {}, "output": {}}]"#,
        )],
    );
    assert_eq!(
        report.failures,
        ["not_linked_anywhere: 1 example(s), but no #[connector] handler is linked"]
    );
}
