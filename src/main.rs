//! `workerflow`: the toolkit's 12 routes on the command line (`routes`, `doctor`, `call`,
//! `serve`, `jobs`: the commands of `workerflow-server`, which a team's server binary has too),
//! and the registry's own tools (`check-urls`, `mcp`).
//!
//! Exit status: 0 success, 1 a route failed, configuration is missing or a URL is dead, 2 a
//! usage error (bad arguments, unreadable or malformed payload or registry).

use std::io::{IsTerminal, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod check_urls_command;

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
    /// Check that every URL in the registry is reachable (needs the network)
    ///
    /// Each distinct URL gets a HEAD request (GET when HEAD is refused); redirects are followed
    /// up to 5; 2xx, 3xx, 401 and 403 count as reachable (docs behind a login); 429 and 503 are
    /// retried after their Retry-After within --retry-budget. At most --concurrency URLs at a
    /// time, and 2 requests at a time per host. Exit status 1 when any URL fails.
    CheckUrls(check_urls_command::CheckUrlsArgs),
    /// Serve the registry to coding agents: a Model Context Protocol server on stdin/stdout
    ///
    /// Tools: search_services, get_service, get_route, check_registry, scaffold_connector
    /// (writes nothing); resources: the connector build spec and the route reference. The
    /// registry is reloaded when it changes; one that is missing or invalid is a tool error,
    /// never an exit. See README: "The registry for coding agents".
    Mcp {
        /// Registry file [default: the nearest connector-registry/services.json from the current directory upwards]
        #[arg(long, value_name = "PATH")]
        registry: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    run(cli).unwrap_or_else(CommandError::report)
}

/// Why a `workerflow` command stopped: a command over the linked routes (its error says how
/// it is reported), or one of the registry's own.
#[derive(Debug, thiserror::Error)]
enum CommandError {
    #[error(transparent)]
    Server(#[from] workerflow_server::cli::Error),
    /// The registry `check-urls` reads: invalid (its diagnostics are printed, exit 1), or
    /// unreadable (exit 2).
    #[error(transparent)]
    LoadRegistry(workerflow_registry::LoadError),
    /// Arguments `check-urls` cannot work with.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Mcp(workerflow_mcp::ServeError),
}

impl CommandError {
    fn report(self) -> ExitCode {
        match self {
            CommandError::Server(error) => error.report(),
            CommandError::LoadRegistry(workerflow_registry::LoadError::Invalid(invalid)) => {
                let color = std::io::stderr().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
                let report = invalid
                    .report()
                    .render(workerflow_registry::Format::Text, color);
                let _ = std::io::stderr().write_all(report.as_bytes());
                ExitCode::from(1)
            }
            error => {
                eprintln!("error: {}", workerflow_registry::ErrorChain(&error));
                match error {
                    CommandError::Usage(_) | CommandError::LoadRegistry(_) => ExitCode::from(2),
                    _ => ExitCode::FAILURE,
                }
            }
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, CommandError> {
    match cli.command {
        Command::Server(command) => Ok(workerflow_server::cli::run(
            command,
            workerflow::registry::linked,
            workerflow::registry::OPENAPI_JSON,
        )?),
        // The registry's links, not its routes: no linked handlers needed.
        Command::CheckUrls(args) => check_urls_command::run(args),
        // The registry itself, not the linked routes; a missing registry is every tool's error.
        Command::Mcp { registry } => {
            let location =
                workerflow_registry::locate_registry(registry, "workerflow mcp --registry PATH");
            workerflow_mcp::serve_stdio(location)
                .map(|()| ExitCode::SUCCESS)
                .map_err(CommandError::Mcp)
        }
    }
}
