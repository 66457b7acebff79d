//! Validates the connector registry (the build fails with its diagnostics when it is invalid),
//! generates the module `src/lib.rs` includes, and keeps docs/SERVICE_API_INDEX.md and .html in
//! step with the registry.

fn main() {
    workerflow_registry::build_script::run();
}
