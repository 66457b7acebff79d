//! Compile errors users see, locked in with trybuild: see `tests/ui/README.md`.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
