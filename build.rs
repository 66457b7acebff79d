//! Validates the connector registry and generates the module `src/lib.rs` includes.

fn main() {
    workerflow_registry::codegen::build_script("connector-registry/services.json");
}
