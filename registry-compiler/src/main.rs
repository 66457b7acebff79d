//! `workerflow-registry`: check, format and explain the connector registry, generate its docs,
//! scaffold connectors. The command line lives in the library (`cli`); the pre-commit hooks
//! install this binary (`hooks/workerflow-registry`).

fn main() -> std::process::ExitCode {
    workerflow_registry::run_cli(std::env::args_os())
}
