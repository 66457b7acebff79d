fn main() {
    workerflow_registry::codegen::build_script("connector-registry/services.json");
}
