//! `workerflow`: the toolkit's 12 routes on the command line (`routes`, `doctor`, `call`,
//! `serve`, `jobs`: the commands of `workerflow-server`, which a team's server binary has too),
//! and, with the default feature `dev-tools`, the registry's own tools (`check-urls`, `mcp`).
//!
//! Exit status: 0 success, 1 a route failed, configuration is missing or a URL is dead, 2 a
//! usage error (bad arguments, unreadable or malformed payload or registry).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[cfg(feature = "dev-tools")]
mod dev_tools;

#[derive(Parser)]
#[command(
    name = "workerflow",
    version,
    about = "Run the WorkerFlow baseline connectors"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    #[command(flatten)]
    Server(workerflow_server::cli::Command),
    #[cfg(feature = "dev-tools")]
    #[command(flatten)]
    DevTools(dev_tools::Command),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Server(command) => workerflow_server::cli::run(
            command,
            workerflow::registry::linked,
            workerflow::registry::OPENAPI_JSON,
        )
        .unwrap_or_else(workerflow_server::cli::Error::report),
        #[cfg(feature = "dev-tools")]
        Command::DevTools(command) => {
            dev_tools::run(command).unwrap_or_else(dev_tools::Error::report)
        }
    }
}
