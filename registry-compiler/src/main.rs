//! `workerflow-registry`: check, format and explain the connector registry, generate its docs,
//! scaffold connectors and check its URLs. The command line lives in the library (`cli`), so
//! the root package's `workerflow registry …` runs the same code.

fn main() -> std::process::ExitCode {
    workerflow_registry::cli::run(std::env::args_os())
}
