//! `workerflow`: list the baseline routes, check their configuration, call one.
//!
//! Secrets and settings come from the process environment. Exit status: 0 success, 1 a route
//! failed or configuration is missing, 2 a usage error (bad arguments, unreadable or malformed
//! payload).

use std::fmt::Write as _;
use std::io::{IsTerminal, Read, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::builder::TypedValueParser as _;
use clap::{Parser, Subcommand};
use serde_json::{Value, json};
use workerflow::serve::store::RetryResult;
use workerflow::serve::{JobBackend, JobStore, ServeConfig, StoreError, StoreLocation};
mod check_urls_command;

use workerflow_runtime::{DispatchError, EnvSecrets, RouteTable, SecretSource};

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
    /// List the routes with their secret requirements, settings, and whether each is configured
    /// in this environment.
    Routes {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Report which routes lack configuration (exit 1 when any does) and which may reach any
    /// host (they declare no hosts).
    Doctor {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Call one route and print its output as JSON (exit 1 with the error as JSON on failure).
    Call {
        /// The route id (`workerflow routes` lists them).
        route: String,
        /// The input as JSON text.
        #[arg(long, conflicts_with = "payload_file")]
        payload: Option<String>,
        /// A file holding the input as JSON. Without --payload or --payload-file the input is
        /// read from standard input.
        #[arg(long, value_name = "PATH")]
        payload_file: Option<PathBuf>,
        /// The trace id to use instead of a generated one (printable ASCII, at most 128).
        #[arg(long, value_name = "ID")]
        trace_id: Option<String>,
    },
    /// Serve the routes over HTTP until SIGINT or SIGTERM (see README: "Serving over HTTP").
    ///
    /// Requires WORKERFLOW_API_TOKEN (the bearer token callers send) unless --no-auth is given
    /// on a loopback address. Exit status: 0 after a clean drain, 1 when accepted async jobs
    /// were left undone at the drain deadline (or the listener failed), 2 on a usage error.
    Serve(ServeArgs),
    /// Check that every URL in the registry is reachable (needs the network)
    ///
    /// Each distinct URL gets a HEAD request (GET when HEAD is refused); redirects are followed
    /// up to 5; 2xx, 3xx, 401 and 403 count as reachable (docs behind a login); 429 and 503 are
    /// retried after their Retry-After within --retry-budget. At most --concurrency URLs at a
    /// time, and 2 requests at a time per host. Exit status 1 when any URL fails.
    CheckUrls(check_urls_command::CheckUrlsArgs),
    /// Look at and act on the durable job store (see README: "Durable async jobs").
    ///
    /// Works on the store `serve` uses (--jobs / WORKERFLOW_JOBS, --data-dir /
    /// WORKERFLOW_DATA_DIR), also while it runs. Exit status: 1 when the job is not found or
    /// cannot be retried, 2 when the store cannot be opened.
    Jobs(JobsArgs),
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

#[derive(clap::Args)]
struct StoreArgs {
    /// The job store: `sqlite` (default: a database in --data-dir), `postgres://USER:PASSWORD@HOST:PORT/DB`
    /// (shared by several `serve` instances) or `memory` (accepted jobs are lost on a crash or
    /// restart).
    #[arg(
        long = "jobs",
        value_name = "URL",
        env = "WORKERFLOW_JOBS",
        default_value = "sqlite"
    )]
    jobs: String,
    /// The directory of the SQLite job store (created on first start).
    #[arg(
        long,
        value_name = "DIR",
        env = "WORKERFLOW_DATA_DIR",
        default_value = "./.workerflow"
    )]
    data_dir: PathBuf,
}

#[derive(clap::Args)]
struct JobsArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    action: JobsAction,
}

#[derive(Subcommand)]
enum JobsAction {
    /// List the jobs, oldest first, as JSON lines.
    List {
        /// Only jobs in this state.
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(workerflow::serve::store::STATES))]
        state: Option<String>,
    },
    /// Show one job (state, attempts, timestamps, error, output) as JSON.
    Show {
        /// The job's trace id (the `traceId` of the 202 answer).
        id: String,
    },
    /// Queue a dead or failed job again, with fresh attempts and the same trace id.
    Retry { id: String },
    /// Delete finished jobs (succeeded, failed, dead) older than the given age.
    Purge {
        /// `7d`, `12h`, `30m`, `90s`.
        #[arg(long, value_name = "AGE", value_parser = parse_age)]
        older_than: Duration,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8787")]
    addr: std::net::SocketAddr,
    /// Serve without authentication; allowed only on a loopback address.
    #[arg(long)]
    no_auth: bool,
    /// The largest request body accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = ServeConfig::DEFAULT_BODY_LIMIT)]
    body_limit: usize,
    /// How many async jobs may wait in the queue before calls get 503 (at least 1).
    #[arg(long, value_name = "N", default_value_t = ServeConfig::DEFAULT_QUEUE_CAPACITY,
          value_parser = clap::value_parser!(u32).range(1..).map(|n| n as usize))]
    queue_capacity: usize,
    /// How many async jobs run at once.
    #[arg(long, value_name = "N", default_value_t = ServeConfig::DEFAULT_WORKERS,
          value_parser = clap::value_parser!(u16).range(1..).map(usize::from))]
    workers: usize,
    /// How long shutdown waits for in-flight requests and queued jobs: `30s`, `500ms`, `2`.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    drain_timeout: Duration,
    /// How long a connection may take to send a request's headers; also how long it may wait
    /// for its next request.
    #[arg(long, value_name = "DURATION", env = "WORKERFLOW_HEADER_TIMEOUT", default_value = "10s",
          value_parser = parse_timeout)]
    header_timeout: Duration,
    /// How long a request body may take to arrive in total (longer: 408).
    #[arg(long, value_name = "DURATION", env = "WORKERFLOW_BODY_TIMEOUT", default_value = "30s",
          value_parser = parse_timeout)]
    body_timeout: Duration,
    /// How long a connection with no request in progress stays open without a byte.
    #[arg(long, value_name = "DURATION", env = "WORKERFLOW_KEEP_ALIVE_TIMEOUT", default_value = "5s",
          value_parser = parse_timeout)]
    keep_alive_timeout: Duration,
    /// How many connections may be open at once (beyond: 503 and closed); keep it below the
    /// open-file limit (`ulimit -n`).
    #[arg(long, value_name = "N", env = "WORKERFLOW_MAX_CONNECTIONS",
          default_value_t = ServeConfig::DEFAULT_MAX_CONNECTIONS,
          value_parser = clap::value_parser!(u32).range(1..).map(|n| n as usize))]
    max_connections: usize,
    #[command(flatten)]
    store: StoreArgs,
    /// Attempts per job in all; a transient failure on the last one makes the job `dead`.
    #[arg(long, value_name = "N", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..))]
    job_attempts: u32,
    /// The wait before a job's second attempt, doubled for each next one (at most 5 minutes).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    job_backoff: Duration,
    /// How long a worker's lease on a job lasts unless renewed; after a crash, another worker
    /// takes the job once it expires.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_timeout)]
    job_lease: Duration,
    /// How long finished jobs are kept before they are purged: `7d`, `12h`.
    #[arg(long, value_name = "AGE", default_value = "7d", value_parser = parse_age)]
    job_retention: Duration,
    /// Threads of the async runtime (default: the number of CPUs).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..).map(usize::from))]
    threads: Option<usize>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    run(cli).unwrap_or_else(CommandError::report)
}

/// Why a `workerflow` command stopped. Commands return it and [`main`] prints it, in one place,
/// with its exit status: 2 when the command could not start as asked (arguments,
/// configuration), 1 when it failed while running. What a command prints when it completes
/// (a failing `doctor`, a route's error body) is its output.
#[derive(Debug, thiserror::Error)]
enum CommandError {
    /// Arguments or configuration that cannot be served; the text says what to change.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Link(#[from] workerflow_runtime::LinkError),
    /// The registry `check-urls` reads: invalid (its diagnostics are printed, exit 1), or
    /// unreadable (exit 2).
    #[error(transparent)]
    LoadRegistry(workerflow_registry::LoadError),
    /// ENABLED_HTTP_ROUTES / DISABLED_HTTP_ROUTES name routes that do not exist, or conflict.
    #[error("{}", .0.problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\nerror: "))]
    Enablement(workerflow_runtime::EnablementError),
    #[error("cannot start the async runtime")]
    AsyncRuntime(#[source] std::io::Error),
    /// The job store could not be opened (exit 2: `--jobs` or the database is wrong).
    #[error(transparent)]
    OpenStore(StoreError),
    /// The job store failed while answering.
    #[error("the job store {location}")]
    Store {
        location: String,
        #[source]
        source: StoreError,
    },
    #[error("no job with trace id {0:?}")]
    NoJob(String),
    #[error("job {id:?} is {state}; only dead or failed jobs can be retried")]
    NotRetryable { id: String, state: String },
    #[error("cannot serve on {addr}")]
    Serve {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} accepted async jobs were left undone at the drain deadline")]
    Undone(usize),
    /// A route's call failed: its error body goes to standard output as JSON, the message to
    /// standard error.
    #[error(transparent)]
    Dispatch(DispatchError),
    #[error(transparent)]
    Mcp(workerflow_mcp::ServeError),
}

impl CommandError {
    fn report(self) -> ExitCode {
        if let CommandError::LoadRegistry(workerflow_registry::LoadError::Invalid(invalid)) = &self
        {
            let color = std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            let report = invalid
                .report()
                .render(workerflow_registry::Format::Text, color);
            let _ = std::io::stderr().write_all(report.as_bytes());
            return ExitCode::from(1);
        }
        if let CommandError::Dispatch(error) = &self {
            print_json(error);
        }
        eprintln!("error: {}", workerflow_registry::ErrorChain(&self));
        match self {
            CommandError::Usage(_)
            | CommandError::Link(_)
            | CommandError::Enablement(_)
            | CommandError::LoadRegistry(_)
            | CommandError::OpenStore(_) => ExitCode::from(2),
            _ => ExitCode::FAILURE,
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, CommandError> {
    let cli = match cli.command {
        // The registry's links, not its routes: no linked handlers needed.
        Command::CheckUrls(args) => return check_urls_command::run(args),
        Command::Jobs(args) => return jobs_command(&args),
        // The registry itself, not the linked routes; a missing registry is every tool's error.
        Command::Mcp { registry } => {
            let location =
                workerflow_registry::locate_registry(registry, "workerflow mcp --registry PATH");
            return workerflow_mcp::serve_stdio(location)
                .map(|()| ExitCode::SUCCESS)
                .map_err(CommandError::Mcp);
        }
        command => Cli { command },
    };
    // ENABLED_HTTP_ROUTES / DISABLED_HTTP_ROUTES: every command sees the same enabled routes.
    let registry = workerflow::registry::linked()?
        .with_enablement(&EnvSecrets)
        .map_err(CommandError::Enablement)?;
    match cli.command {
        Command::Routes { json } => Ok(routes(&registry, json)),
        Command::Doctor { json } => Ok(doctor(&registry, json)),
        Command::Call {
            route,
            payload,
            payload_file,
            trace_id,
        } => call(&registry, &route, payload, payload_file, trace_id),
        // handled above
        Command::CheckUrls(_) | Command::Jobs(_) | Command::Mcp { .. } => Ok(ExitCode::SUCCESS),
        Command::Serve(args) => serve(registry, args),
    }
}

/// `30s`, `500ms` or a plain number of seconds (`2`, `0.5`).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, scale) = if let Some(ms) = text.strip_suffix("ms") {
        (ms, 0.001)
    } else if let Some(s) = text.strip_suffix('s') {
        (s, 1.0)
    } else {
        (text, 1.0)
    };
    number
        .trim()
        .parse::<f64>()
        .ok()
        .and_then(|value| Duration::try_from_secs_f64(value * scale).ok())
        .ok_or_else(|| format!("{text:?} is not a duration such as 30s, 500ms or 2"))
}

/// An age: `7d`, `12h`, `30m`, or any duration `parse_duration` takes.
fn parse_age(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let scaled = [("d", 86_400.0), ("h", 3_600.0), ("m", 60.0)]
        .iter()
        .find_map(|(suffix, scale)| {
            let number = trimmed.strip_suffix(suffix)?;
            // `500ms` ends with `s`, not `m`: only a bare number before the suffix counts.
            let value = number.trim().parse::<f64>().ok()?;
            Duration::try_from_secs_f64(value * scale).ok()
        });
    match scaled {
        Some(duration) => Ok(duration),
        None => parse_duration(trimmed)
            .map_err(|_| format!("{trimmed:?} is not an age such as 7d, 12h, 30m or 90s")),
    }
}

/// Where `--jobs` points.
enum StoreChoice {
    Memory,
    Durable(StoreLocation),
}

fn store_choice(args: &StoreArgs) -> Result<StoreChoice, String> {
    match args.jobs.trim() {
        "memory" => Ok(StoreChoice::Memory),
        "sqlite" | "" => Ok(StoreChoice::Durable(StoreLocation::Sqlite(
            args.data_dir.clone(),
        ))),
        other if other.starts_with("sqlite://") => Ok(StoreChoice::Durable(StoreLocation::Sqlite(
            PathBuf::from(other.trim_start_matches("sqlite://")),
        ))),
        other if other.starts_with("postgres://") || other.starts_with("postgresql://") => other
            .parse()
            .map(|url| StoreChoice::Durable(StoreLocation::Postgres(url)))
            .map_err(|error: StoreError| error.0),
        // Never echo the value: a URL may carry a password.
        _ => Err(
            "--jobs must be `sqlite`, `sqlite://DIR`, `postgres://USER@HOST:PORT/DB` or `memory`"
                .to_owned(),
        ),
    }
}

/// `workerflow jobs …`: opens the store `serve` uses, beside it (SQLite's WAL and PostgreSQL
/// both let it read and write while `serve` runs).
fn jobs_command(args: &JobsArgs) -> Result<ExitCode, CommandError> {
    let location = match store_choice(&args.store).map_err(CommandError::Usage)? {
        StoreChoice::Durable(location) => location,
        StoreChoice::Memory => {
            return Err(CommandError::Usage(
                "the memory job store lives inside the `serve` process; there is nothing to look at"
                    .to_owned(),
            ));
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CommandError::AsyncRuntime)?;
    runtime.block_on(async {
        let store = JobStore::open(&location, ServeConfig::DEFAULT_QUEUE_CAPACITY)
            .await
            .map_err(CommandError::OpenStore)?;
        let failed = |source| CommandError::Store {
            location: store.location().to_string(),
            source,
        };
        match &args.action {
            JobsAction::List { state } => {
                let jobs = store.list(state.as_deref()).await.map_err(failed)?;
                let mut out = String::new();
                for job in jobs {
                    let _ = writeln!(out, "{job}");
                }
                print!("{out}");
            }
            JobsAction::Show { id } => match store.get(id).await.map_err(failed)? {
                Some(job) => {
                    println!("{}", serde_json::to_string_pretty(&job).unwrap_or_default());
                }
                None => return Err(CommandError::NoJob(id.clone())),
            },
            JobsAction::Retry { id } => match store.retry(id).await.map_err(failed)? {
                RetryResult::Queued => println!("queued {id} again"),
                RetryResult::NotFound => return Err(CommandError::NoJob(id.clone())),
                RetryResult::NotRetryable(state) => {
                    return Err(CommandError::NotRetryable {
                        id: id.clone(),
                        state: state.to_string(),
                    });
                }
            },
            JobsAction::Purge { older_than } => {
                let count = store.purge(*older_than).await.map_err(failed)?;
                println!("purged {count} finished jobs");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// A duration above zero (a zero timeout would close every connection at once).
fn parse_timeout(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        duration if duration.is_zero() => Err(format!("{text:?} must be more than zero")),
        duration => Ok(duration),
    }
}

/// The shortest API token accepted: a guessable token is no authentication.
const MIN_TOKEN_CHARS: usize = 16;

/// `WORKERFLOW_API_TOKEN`, trimmed (whitespace and byte-order marks): `Ok(None)` when unset,
/// an error when set but blank or too short.
fn api_token() -> Result<Option<workerflow_runtime::SecretValue>, String> {
    let Some(value) = EnvSecrets.get("WORKERFLOW_API_TOKEN") else {
        return Ok(None);
    };
    let token = value
        .expose()
        .trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    let hint = "generate one with `openssl rand -hex 32`";
    match token.chars().count() {
        0 => Err(format!("WORKERFLOW_API_TOKEN is blank; {hint}")),
        n if n < MIN_TOKEN_CHARS => Err(format!(
            "WORKERFLOW_API_TOKEN is {n} characters long; use at least {MIN_TOKEN_CHARS} ({hint})"
        )),
        _ => Ok(Some(workerflow_runtime::SecretValue::new(token))),
    }
}

/// `WORKERFLOW_LOG`: `error`, `warn`, `info` (default), `debug`, `trace` or `off`.
fn init_logging() {
    use tracing_subscriber::filter::LevelFilter;
    let level = std::env::var("WORKERFLOW_LOG")
        .ok()
        .and_then(|value| value.trim().parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .init();
}

fn serve(registry: RouteTable, args: ServeArgs) -> Result<ExitCode, CommandError> {
    let token = match (api_token().map_err(CommandError::Usage)?, args.no_auth) {
        (_, true) if !args.addr.ip().is_loopback() => {
            return Err(CommandError::Usage(format!(
                "--no-auth is allowed only on a loopback address (got {}); set WORKERFLOW_API_TOKEN instead",
                args.addr
            )));
        }
        (_, true) => None,
        (Some(token), false) => Some(token),
        (None, false) => {
            return Err(CommandError::Usage(
                "WORKERFLOW_API_TOKEN is not set; set it to the bearer token callers must send, \
                 or pass --no-auth to serve without authentication on a loopback address"
                    .to_owned(),
            ));
        }
    };
    let choice = store_choice(&args.store).map_err(CommandError::Usage)?;
    init_logging();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = args.threads {
        runtime.worker_threads(threads);
    }
    let runtime = runtime
        .enable_all()
        .build()
        .map_err(CommandError::AsyncRuntime)?;
    let jobs = match choice {
        StoreChoice::Memory => JobBackend::Memory,
        StoreChoice::Durable(location) => JobBackend::Durable(std::sync::Arc::new(
            runtime
                .block_on(JobStore::open(&location, args.queue_capacity))
                .map_err(CommandError::OpenStore)?,
        )),
    };
    let config = ServeConfig {
        token,
        body_limit: args.body_limit,
        queue_capacity: args.queue_capacity,
        workers: args.workers,
        drain_timeout: args.drain_timeout,
        header_timeout: args.header_timeout,
        body_timeout: args.body_timeout,
        keep_alive_timeout: args.keep_alive_timeout,
        max_connections: args.max_connections,
        jobs,
        retry: workerflow::serve::RetryPolicy {
            max_attempts: args.job_attempts,
            backoff: args.job_backoff,
            lease: args.job_lease,
            ..workerflow::serve::RetryPolicy::default()
        },
        retention: args.job_retention,
    };
    let result = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.addr).await?;
        let local = listener.local_addr()?;
        tracing::info!(
            target: "workerflow::serve",
            auth = config.token.is_some(),
            workers = config.workers,
            queue_capacity = config.queue_capacity,
            jobs = config.jobs.name(),
            max_connections = config.max_connections,
            "listening on http://{local}"
        );
        let secrets: std::sync::Arc<dyn SecretSource> = std::sync::Arc::new(EnvSecrets);
        workerflow::serve::serve(listener, registry, secrets, config, shutdown_signal()).await
    });
    // Jobs still running at the deadline are cancelled here, not waited for.
    runtime.shutdown_timeout(Duration::from_millis(100));
    match result {
        Ok(report) if report.undone == 0 => Ok(ExitCode::SUCCESS),
        Ok(report) => Err(CommandError::Undone(report.undone)),
        Err(source) => Err(CommandError::Serve {
            addr: args.addr,
            source,
        }),
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

/// Writes to standard output; a closed pipe (`| head`) is not an error worth a panic.
fn emit(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

fn print_json(value: &impl serde::Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => emit(&format!("{text}\n")),
        Err(error) => eprintln!("error: cannot print JSON: {error}"),
    }
}

fn is_set(source: &dyn SecretSource, name: &str) -> bool {
    source
        .get(name)
        .is_some_and(|value| !value.expose().trim().is_empty())
}

fn routes(registry: &RouteTable, json: bool) -> ExitCode {
    let report = registry.check_config(&EnvSecrets);
    let mut listed = Vec::new();
    for (spec, config) in registry.declared().iter().zip(&report.routes) {
        let linked = registry.get(spec.id);
        let secrets: Vec<Value> = spec
            .secrets
            .iter()
            .map(|requirement| {
                let set_by = requirement
                    .any_of
                    .iter()
                    .find(|name| is_set(&EnvSecrets, name));
                json!({"label": requirement.label, "anyOf": requirement.any_of, "setBy": set_by})
            })
            .collect();
        let settings: Vec<Value> = linked
            .map(|route| route.settings())
            .unwrap_or_default()
            .iter()
            .map(|setting| {
                json!({
                    "name": setting.name,
                    "label": setting.label,
                    "kind": setting.kind.as_str(),
                    "set": is_set(&EnvSecrets, setting.name),
                    "default": setting.default,
                })
            })
            .collect();
        listed.push(json!({
            "route": spec.id,
            "service": spec.service.name,
            "requestType": spec.request_type,
            "summary": spec.summary,
            "enabled": config.enabled,
            "disabledBy": config.disabled_by,
            "implemented": config.implemented,
            "configured": config.configured,
            "secrets": secrets,
            "settings": settings,
        }));
    }
    if json {
        print_json(&json!({ "routes": listed }));
        return ExitCode::SUCCESS;
    }
    let mut out = String::new();
    for (route, config) in listed.iter().zip(&report.routes) {
        let state = match (config.disabled_by, config.implemented, config.configured) {
            (Some(by), _, _) => format!("disabled ({by})"),
            (None, false, _) => "not implemented".to_owned(),
            (None, true, true) => "configured".to_owned(),
            (None, true, false) => "not configured".to_owned(),
        };
        let _ = writeln!(
            out,
            "{} ({}, {}): {state}",
            text(&route["route"]),
            text(&route["requestType"]),
            text(&route["service"])
        );
        let _ = writeln!(out, "  {}", text(&route["summary"]));
        for secret in route["secrets"].as_array().into_iter().flatten() {
            let names: Vec<&str> = secret["anyOf"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let status = match secret["setBy"].as_str() {
                Some(name) => format!("set by {name}"),
                None => "missing".to_owned(),
            };
            let _ = writeln!(
                out,
                "  secret   {}: {} ({status})",
                text(&secret["label"]),
                names.join(", ")
            );
        }
        for setting in route["settings"].as_array().into_iter().flatten() {
            let status = match (setting["set"].as_bool(), setting["default"].as_str()) {
                (Some(true), _) => "set".to_owned(),
                (_, Some(default)) => format!("unset, default {default}"),
                _ => "unset".to_owned(),
            };
            let _ = writeln!(
                out,
                "  setting  {}: {} ({status})",
                text(&setting["label"]),
                text(&setting["name"])
            );
        }
    }
    emit(&out);
    ExitCode::SUCCESS
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

fn doctor(registry: &RouteTable, json: bool) -> ExitCode {
    let report = registry.check_config(&EnvSecrets);
    let unrestricted = unrestricted_routes(registry);
    if json {
        let mut value = serde_json::to_value(&report).unwrap_or_default();
        if let Some(object) = value.as_object_mut() {
            object.insert("unrestrictedEgress".to_owned(), json!(unrestricted));
        }
        print_json(&value);
    } else {
        let failing = report.problems().count();
        let enabled = report.enabled_count();
        let disabled = report.routes.len() - enabled;
        let summary = match (failing, disabled) {
            (0, 0) => format!("ok: all {enabled} routes are configured"),
            (_, 0) => format!("{failing} of {enabled} routes lack configuration"),
            (0, _) => {
                format!("ok: all {enabled} enabled routes are configured ({disabled} disabled)")
            }
            (_, _) => format!(
                "{failing} of {enabled} enabled routes lack configuration ({disabled} disabled)"
            ),
        };
        // Not a failure: such a route runs as it always has, held to no list of hosts.
        let egress = if unrestricted.is_empty() {
            String::new()
        } else {
            format!(
                "unrestricted egress (no declared hosts): {}\n",
                unrestricted.join(", ")
            )
        };
        emit(&format!("{report}{egress}{summary}\n"));
    }
    if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The enabled, implemented routes that declare no hosts, so their requests are not held to a
/// list (runtime/src/http/POLICY.md 2.8).
fn unrestricted_routes(registry: &RouteTable) -> Vec<&'static str> {
    registry
        .routes()
        .map(|route| route.spec())
        .filter(|spec| spec.hosts.is_none() && registry.disabled_by(spec.id).is_none())
        .map(|spec| spec.id)
        .collect()
}

fn call(
    registry: &RouteTable,
    route: &str,
    payload: Option<String>,
    payload_file: Option<PathBuf>,
    trace_id: Option<String>,
) -> Result<ExitCode, CommandError> {
    let input = read_payload(payload, payload_file).map_err(CommandError::Usage)?;
    let trace_id = match trace_id.map(workerflow_runtime::TraceId::new) {
        None => workerflow_runtime::TraceId::generate(),
        Some(Ok(trace_id)) => trace_id,
        Some(Err(error)) => return Err(CommandError::Usage(format!("--trace-id: {error}"))),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CommandError::AsyncRuntime)?;
    // The envelope callers of the public API never see (docs/ROUTES.md 1.2): a payload with its
    // own `body` field is still read as the input.
    let payload = json!({ "body": input });
    let result =
        runtime.block_on(registry.dispatch_with_trace(route, payload, &EnvSecrets, trace_id));
    let output = result.map_err(CommandError::Dispatch)?;
    print_json(&output);
    Ok(ExitCode::SUCCESS)
}

/// The input from `--payload`, `--payload-file` or standard input, parsed as JSON.
fn read_payload(payload: Option<String>, file: Option<PathBuf>) -> Result<Value, String> {
    let (text, origin) = match (payload, file) {
        (Some(text), _) => (text, "--payload".to_owned()),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
            (text, path.display().to_string())
        }
        (None, None) => {
            let mut stdin = std::io::stdin();
            if stdin.is_terminal() {
                return Err(
                    "no payload: pass --payload JSON, --payload-file PATH, or JSON on standard input"
                        .to_owned(),
                );
            }
            let mut text = String::new();
            stdin
                .read_to_string(&mut text)
                .map_err(|error| format!("cannot read standard input: {error}"))?;
            (text, "standard input".to_owned())
        }
    };
    serde_json::from_str(&text).map_err(|error| {
        // serde_json ends its message with " at line L column C"; say it once, our way.
        let full = error.to_string();
        let position = format!(" at line {} column {}", error.line(), error.column());
        let reason = full.strip_suffix(&position).unwrap_or(&full);
        format!(
            "{origin} is not valid JSON: {reason} (line {}, column {})",
            error.line(),
            error.column()
        )
    })
}
