//! The developer tools of the `workerflow` command (feature `dev-tools`, on by default):
//! `check-urls` and `mcp`, which read the registry itself rather than the linked routes. A
//! binary built without them (`--no-default-features`, what a deployment runs for `serve`)
//! links no registry compiler, MCP SDK or link checker (`tests/deploy_deps.rs`).

mod check_urls;
mod check_urls_command;

use std::io::{IsTerminal, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

/// The commands on the registry.
#[derive(clap::Subcommand)]
pub(crate) enum Command {
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
    /// (writes nothing); resources: the connector build spec, the route reference and the agent
    /// playbook. The registry is reloaded when it changes; one that is missing or invalid is a
    /// tool error, never an exit. See README: "The registry for coding agents".
    Mcp {
        /// Registry file [default: the nearest connector-registry/services.json from the current directory upwards]
        #[arg(long, value_name = "PATH")]
        registry: Option<PathBuf>,
    },
}

/// Why a developer tool stopped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
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

impl Error {
    /// Prints the error (an invalid registry as its diagnostics) and gives the exit status.
    pub(crate) fn report(self) -> ExitCode {
        if let Error::LoadRegistry(workerflow_registry::LoadError::Invalid(invalid)) = &self {
            let color = std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            let report = invalid
                .report()
                .render(workerflow_registry::Format::Text, color);
            let _ = std::io::stderr().write_all(report.as_bytes());
            return ExitCode::from(1);
        }
        eprintln!("error: {}", workerflow_registry::ErrorChain(&self));
        match self {
            Error::Usage(_) | Error::LoadRegistry(_) => ExitCode::from(2),
            Error::Mcp(_) => ExitCode::FAILURE,
        }
    }
}

pub(crate) fn run(command: Command) -> Result<ExitCode, Error> {
    match command {
        // The registry's links, not its routes: no linked handlers needed.
        Command::CheckUrls(args) => check_urls_command::run(args),
        // The registry itself, not the linked routes; a missing registry is every tool's error.
        Command::Mcp { registry } => {
            let location =
                workerflow_registry::locate_registry(registry, "workerflow mcp --registry PATH");
            workerflow_mcp::serve_stdio(location)
                .map(|()| ExitCode::SUCCESS)
                .map_err(Error::Mcp)
        }
    }
}
