//! The command line of a server binary: `serve`, `jobs`, `routes`, `doctor` and `call` over a
//! crate's linked routes, as `workerflow` has them for the toolkit's own.
//!
//! [`main`] is the whole of a team's `fn main`; a binary with commands of its own flattens
//! [`Command`] into its subcommands and calls [`run`], as `workerflow` does. Secrets and
//! settings come from the process environment. Exit status: 0 success, 1 a route failed,
//! configuration is missing or accepted jobs were left undone, 2 a usage error (bad arguments,
//! an unreadable or malformed payload, a job store that cannot be opened).

use std::fmt::Write as _;
use std::io::{IsTerminal, Read, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::builder::TypedValueParser as _;
use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};
use serde_json::{Value, json};
use workerflow_names::ErrorChain;
use workerflow_runtime::{DispatchError, EnvSecrets, LinkError, RouteTable, SecretSource};

use crate::connections::{Connections, KeyRing};
use crate::error::StoreError;
use crate::jobs::RetryPolicy;
use crate::serve::{Api, JobBackend, ServeConfig};
use crate::store::{JobState, JobStore, RetryResult, STATES, StoreLocation};

/// The body of a server binary's `fn main`: parses the command line (named after the binary)
/// and runs it over the routes `linked` returns, serving `openapi_json` at `GET /openapi.json`.
/// Pass the generated `registry::linked` and `registry::OPENAPI_JSON` of the crate.
pub fn main(
    linked: impl FnOnce() -> Result<RouteTable, LinkError>,
    openapi_json: &'static str,
) -> ExitCode {
    let name = std::env::args_os()
        .next()
        .map(PathBuf::from)
        .and_then(|path| {
            path.file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "server".to_owned());
    // Once per process: clap takes a command name only as `&'static str`.
    let name: &'static str = Box::leak(name.into_boxed_str());
    let matches = Cli::command().name(name).bin_name(name).get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    run(cli.command, linked, openapi_json).unwrap_or_else(Error::report)
}

#[derive(Parser)]
#[command(
    version,
    about = "Serve and run the connector routes linked into this binary"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The commands over linked routes.
#[derive(Subcommand)]
pub enum Command {
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
    Serve(Box<ServeArgs>),
    /// Look at and act on the durable job store (see README: "Durable async jobs").
    ///
    /// Works on the store `serve` uses (--jobs / WORKERFLOW_JOBS, --data-dir /
    /// WORKERFLOW_DATA_DIR), also while it runs. Exit status: 1 when the job is not found or
    /// cannot be retried, 2 when the store cannot be opened.
    Jobs(JobsArgs),
    /// Look at the OAuth connections and re-encrypt them (see README: "OAuth connections").
    ///
    /// Works on the store `serve` uses (--jobs / WORKERFLOW_JOBS, --data-dir /
    /// WORKERFLOW_DATA_DIR), also while it runs; `reencrypt` needs the connection keys. Exit
    /// status: 1 when the connection is not found or a row cannot be re-encrypted, 2 when the
    /// store cannot be opened or a key is malformed.
    Connections(ConnectionsArgs),
}

/// The connection keys (`--connection-keys-file` or `WORKERFLOW_CONNECTION_KEYS`).
#[derive(clap::Args)]
pub struct KeyArgs {
    /// A file of connection keys, one `id:base64-of-32-bytes` per line (`#` comments), the
    /// first encrypting; instead of WORKERFLOW_CONNECTION_KEYS (`id:base64,…`).
    #[arg(
        long,
        value_name = "PATH",
        env = "WORKERFLOW_CONNECTION_KEYS_FILE",
        global = true
    )]
    connection_keys_file: Option<PathBuf>,
}

impl KeyArgs {
    /// The key ring, `None` when no key is configured; a malformed key is an error naming its
    /// position, never its value.
    fn load(&self) -> Result<Option<KeyRing>, Error> {
        let ring = match &self.connection_keys_file {
            Some(path) => KeyRing::from_file(path).map(Some),
            None => match EnvSecrets.get("WORKERFLOW_CONNECTION_KEYS") {
                Some(list) if !list.expose().trim().is_empty() => {
                    KeyRing::from_list(list.expose()).map(Some)
                }
                _ => Ok(None),
            },
        };
        ring.map_err(|error| Error::Usage(error.to_string()))
    }
}

/// The store, keys and action of `connections`.
#[derive(clap::Args)]
pub struct ConnectionsArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    keys: KeyArgs,
    #[command(subcommand)]
    action: ConnectionsAction,
}

/// What `workerflow connections` does.
#[derive(Subcommand)]
pub enum ConnectionsAction {
    /// List the connections, sorted by name (never a token).
    List {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show one connection (never a token).
    Show {
        /// The connection's name.
        name: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Rewrite every connection's tokens with the first connection key.
    Reencrypt,
}

/// Where the job store is (`--jobs`, `--data-dir`).
#[derive(clap::Args)]
pub struct StoreArgs {
    /// The job store: `sqlite` (default: a database in --data-dir), `postgres://USER:PASSWORD@HOST:PORT/DB`
    /// (shared by several `serve` instances) or `memory` (accepted jobs are lost on a crash or
    /// restart).
    #[arg(
        long = "jobs",
        value_name = "URL",
        env = "WORKERFLOW_JOBS",
        default_value = "sqlite",
        global = true
    )]
    jobs: String,
    /// The directory of the SQLite job store (created on first start).
    #[arg(
        long,
        value_name = "DIR",
        env = "WORKERFLOW_DATA_DIR",
        default_value = "./.workerflow",
        global = true
    )]
    data_dir: PathBuf,
}

/// The store and action of `jobs`.
#[derive(clap::Args)]
pub struct JobsArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    action: JobsAction,
}

#[derive(Subcommand)]
/// What `workerflow jobs` does.
pub enum JobsAction {
    /// List the jobs, oldest first, as JSON lines.
    List {
        /// Only jobs in this state.
        #[arg(
            long,
            value_parser = clap::builder::PossibleValuesParser::new(STATES)
                .try_map(|state| state.parse::<JobState>())
        )]
        state: Option<JobState>,
    },
    /// Show one job (state, attempts, timestamps, error, output) as JSON.
    Show {
        /// The job's trace id (the `traceId` of the 202 answer).
        id: String,
    },
    /// Queue a dead or failed job again, with fresh attempts and the same trace id.
    Retry {
        // A doc comment here would become the argument's help text, which `--help` prints.
        #[allow(missing_docs)]
        id: String,
    },
    /// Delete finished jobs (succeeded, failed, dead) older than the given age.
    Purge {
        /// `7d`, `12h`, `30m`, `90s`.
        #[arg(long, value_name = "AGE", value_parser = parse_age)]
        older_than: Duration,
    },
}

/// The flags of `serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
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
    /// How long a worker's lease on a job lasts unless renewed (every third of it); after a
    /// crash, another worker takes the job once it expires. At least 1s.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_lease)]
    job_lease: Duration,
    /// How long finished jobs are kept before they are purged: `7d`, `12h`.
    #[arg(long, value_name = "AGE", default_value = "7d", value_parser = parse_age)]
    job_retention: Duration,
    #[command(flatten)]
    keys: KeyArgs,
    /// The URL callers reach this server at; the OAuth redirect URI is
    /// `<URL>/oauth/callback` (default: `http://<bound address>`).
    #[arg(long, value_name = "URL", env = "WORKERFLOW_PUBLIC_URL")]
    public_url: Option<String>,
    /// Threads of the async runtime (default: the number of CPUs).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..).map(usize::from))]
    threads: Option<usize>,
}

/// Runs one command over the routes `linked` returns. `jobs` works on the store alone, so it
/// runs even when the routes do not link.
pub fn run(
    command: Command,
    linked: impl FnOnce() -> Result<RouteTable, LinkError>,
    openapi_json: &'static str,
) -> Result<ExitCode, Error> {
    if let Command::Jobs(args) = &command {
        return jobs_command(args);
    }
    if let Command::Connections(args) = &command {
        return connections_command(args);
    }
    // ENABLED_HTTP_ROUTES / DISABLED_HTTP_ROUTES: every command sees the same enabled routes.
    let routes = linked()?
        .with_enablement(&EnvSecrets)
        .map_err(Error::Enablement)?;
    match command {
        Command::Routes { json } => Ok(self::routes(&routes, json)),
        Command::Doctor { json } => Ok(doctor(&routes, json)),
        Command::Call {
            route,
            payload,
            payload_file,
            trace_id,
        } => call(&routes, &route, payload, payload_file, trace_id),
        Command::Serve(args) => serve(
            Api {
                routes,
                openapi_json,
            },
            *args,
        ),
        // handled above
        Command::Jobs(_) | Command::Connections(_) => Ok(ExitCode::SUCCESS),
    }
}

/// Why a command stopped. [`Error::report`] prints it, in one place, with its exit status: 2
/// when the command could not start as asked (arguments, configuration), 1 when it failed
/// while running. What a command prints when it completes (a failing `doctor`, a route's error
/// body) is its output.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Arguments or configuration that cannot be served; the text says what to change.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    /// The linked routes do not fit together (a route linked twice, or declared and not linked).
    Link(#[from] LinkError),
    /// ENABLED_HTTP_ROUTES / DISABLED_HTTP_ROUTES name routes that do not exist, or conflict.
    #[error("{}", .0.problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\nerror: "))]
    Enablement(workerflow_runtime::EnablementError),
    #[error("cannot start the async runtime")]
    /// The Tokio runtime could not start.
    AsyncRuntime(#[source] std::io::Error),
    // A store error's message already ends with its cause, so it is not this error's `source`
    // (the chain would say the cause twice).
    /// The job store could not be opened (exit 2: `--jobs` or the database is wrong).
    #[error("{0}")]
    OpenStore(StoreError),
    /// The job store failed while answering.
    #[error("the job store {location}: {error}")]
    /// The job store failed while answering.
    Store {
        /// The store, as `--jobs` names it (never with a password).
        location: String,
        /// What went wrong.
        error: StoreError,
    },
    /// No OAuth connection has this name.
    #[error("no OAuth connection is named {0:?}")]
    NoConnection(String),
    /// A connection could not be read or re-encrypted.
    #[error(transparent)]
    Connections(crate::connections::ManageError),
    #[error("no job with trace id {0:?}")]
    /// No job has this trace id.
    NoJob(String),
    #[error("job {id:?} is {state}; only dead or failed jobs can be retried")]
    /// Only dead or failed jobs can be retried.
    NotRetryable {
        /// The job's trace id.
        id: String,
        /// Its state.
        state: String,
    },
    #[error("cannot serve on {addr}")]
    /// The server could not listen on its address.
    Serve {
        /// The address.
        addr: std::net::SocketAddr,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    #[error("{0} accepted async jobs were left undone at the drain deadline")]
    /// Accepted async jobs were still undone at the drain deadline.
    Undone(usize),
    /// A route's call failed: its error body goes to standard output as JSON, the message to
    /// standard error.
    #[error(transparent)]
    Dispatch(DispatchError),
}

impl Error {
    /// 2 for a command that could not start as asked, 1 for one that failed while running.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Usage(_) | Error::Link(_) | Error::Enablement(_) | Error::OpenStore(_) => {
                ExitCode::from(2)
            }
            _ => ExitCode::FAILURE,
        }
    }

    /// Prints the error (a failed call's error body on standard output, the message with its
    /// causes on standard error) and gives the exit status.
    pub fn report(self) -> ExitCode {
        if let Error::Dispatch(error) = &self {
            print_json(error);
        }
        eprintln!("error: {}", escape_controls(&ErrorChain(&self).to_string()));
        self.exit_code()
    }
}

/// `text` with control characters (ESC, BEL, CR, …) written as `\u{1b}`, as rustc shows them,
/// so a path or value from the command line cannot drive the terminal. Line feeds stay.
fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\n' {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
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
        #[cfg(feature = "postgres")]
        other if other.starts_with("postgres://") || other.starts_with("postgresql://") => other
            .parse()
            .map(|url| StoreChoice::Durable(StoreLocation::Postgres(url)))
            .map_err(|error: StoreError| error.to_string()),
        #[cfg(not(feature = "postgres"))]
        other if other.starts_with("postgres://") || other.starts_with("postgresql://") => Err(
            "this server was built without the PostgreSQL job store (the `postgres` feature of workerflow-server)"
                .to_owned(),
        ),
        // Never echo the value: a URL may carry a password.
        _ => Err(
            "--jobs must be `sqlite`, `sqlite://DIR`, `postgres://USER@HOST:PORT/DB` or `memory`"
                .to_owned(),
        ),
    }
}

/// The durable store `--jobs` names, for a command that works beside `serve`; `in_memory` says
/// why the memory store cannot be looked at.
fn durable_store(choice: &StoreArgs, in_memory: &str) -> Result<StoreLocation, Error> {
    match store_choice(choice).map_err(Error::Usage)? {
        StoreChoice::Durable(location) => Ok(location),
        StoreChoice::Memory => Err(Error::Usage(in_memory.to_owned())),
    }
}

/// The current-thread runtime a one-shot command runs its store calls on.
fn command_runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Error::AsyncRuntime)
}

/// The store at `location`, opened as `serve` opens it (SQLite's WAL and PostgreSQL let both
/// read and write at once).
async fn open_beside_serve(location: &StoreLocation) -> Result<JobStore, Error> {
    JobStore::open(location, ServeConfig::DEFAULT_QUEUE_CAPACITY)
        .await
        .map_err(Error::OpenStore)
}

/// `jobs …`: opens the store `serve` uses, beside it (SQLite's WAL and PostgreSQL
/// both let it read and write while `serve` runs).
fn jobs_command(args: &JobsArgs) -> Result<ExitCode, Error> {
    let location = durable_store(
        &args.store,
        "the memory job store lives inside the `serve` process; there is nothing to look at",
    )?;
    let runtime = command_runtime()?;
    runtime.block_on(async {
        let store = open_beside_serve(&location).await?;
        let failed = |error| Error::Store {
            location: store.location().to_string(),
            error,
        };
        match &args.action {
            JobsAction::List { state } => {
                let jobs = store.list(*state).await.map_err(failed)?;
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
                None => return Err(Error::NoJob(id.clone())),
            },
            JobsAction::Retry { id } => match store.retry(id).await.map_err(failed)? {
                RetryResult::Queued => println!("queued {id} again"),
                RetryResult::NotFound => return Err(Error::NoJob(id.clone())),
                RetryResult::NotRetryable(state) => {
                    return Err(Error::NotRetryable {
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

/// `--public-url`: an absolute http(s) URL with a host, without query or fragment; returned
/// without a trailing slash.
fn public_url(text: &str) -> Result<String, String> {
    let problem = "--public-url must be an absolute http(s) URL with a host and no query or fragment, such as https://flows.example.com";
    let url =
        workerflow_runtime::http::HttpUrl::parse(text.trim()).map_err(|_| problem.to_owned())?;
    let usable = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some_and(|host| !host.is_empty())
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none();
    if !usable {
        return Err(problem.to_owned());
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// `connections …`: opens the store `serve` uses, beside it.
fn connections_command(args: &ConnectionsArgs) -> Result<ExitCode, Error> {
    let location = durable_store(
        &args.store,
        "the memory store's connections live inside the `serve` process; there is nothing to look at",
    )?;
    let keys = args.keys.load()?;
    let keys = match (keys, &args.action) {
        (Some(keys), _) => keys,
        (None, ConnectionsAction::Reencrypt) => {
            return Err(Error::Usage(
                "no connection key is configured: set WORKERFLOW_CONNECTION_KEYS or --connection-keys-file"
                    .to_owned(),
            ));
        }
        // Listing decrypts nothing.
        (None, _) => KeyRing::none(),
    };
    let runtime = command_runtime()?;
    runtime.block_on(async {
        let store = open_beside_serve(&location).await?;
        let secrets: Arc<dyn SecretSource> = Arc::new(EnvSecrets);
        let connections = Connections::open(&store, keys, secrets, [])
            .await
            .map_err(|error| Error::Usage(error.to_string()))?;
        match &args.action {
            ConnectionsAction::List { json } => {
                let listed = connections.list().await.map_err(Error::Connections)?;
                if *json {
                    let listed: Vec<Value> = listed.iter().map(|info| info.to_json()).collect();
                    print_json(&json!({ "connections": listed }));
                } else {
                    let mut out = String::new();
                    for info in &listed {
                        let _ = writeln!(out, "{}", connection_line(info));
                    }
                    if listed.is_empty() {
                        out.push_str("no connections\n");
                    }
                    emit(&out);
                }
            }
            ConnectionsAction::Show { name, json } => {
                let Some(info) = connections.get(name).await.map_err(Error::Connections)? else {
                    return Err(Error::NoConnection(name.clone()));
                };
                if *json {
                    print_json(&info.to_json());
                } else {
                    let shown = info.to_json();
                    let text = |field: &str| {
                        shown[field].as_str().map_or("-".to_owned(), str::to_owned)
                    };
                    emit(&format!(
                        "name:         {}\nservice:      {}\nstate:        {}\nscopes:       {}\nexpires at:   {}\ncreated at:   {}\nupdated at:   {}\nrefreshed at: {}\nrefreshes:    {}\nkey:          {}\n",
                        info.name,
                        info.service,
                        info.state,
                        info.scopes.join(" "),
                        text("expiresAt"),
                        text("createdAt"),
                        text("updatedAt"),
                        text("refreshedAt"),
                        info.refresh_count,
                        info.key_id,
                    ));
                }
            }
            ConnectionsAction::Reencrypt => {
                let count = connections.reencrypt().await.map_err(Error::Connections)?;
                println!(
                    "re-encrypted {count} connections with key {}",
                    connections.keys().current_id()
                );
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `acme  hubspot  active  expires 2026-12-07T20:15:24Z`.
fn connection_line(info: &crate::connections::ConnectionInfo) -> String {
    let shown = info.to_json();
    let expires = shown["expiresAt"].as_str().unwrap_or("unknown");
    format!(
        "{}  {}  {}  expires {expires}  key {}",
        info.name, info.service, info.state, info.key_id
    )
}

/// A lease of at least [`RetryPolicy::MIN_LEASE`].
fn parse_lease(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        lease if lease < RetryPolicy::MIN_LEASE => Err(format!(
            "{text:?} is shorter than the shortest lease, 1s: a running job would be taken by another worker before its renewal lands"
        )),
        lease => Ok(lease),
    }
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
/// an error when set but blank or with fewer than 16 visible characters (zero-width spaces and
/// other invisible characters count for nothing: a token no one can see is no one's to type).
fn api_token() -> Result<Option<workerflow_runtime::SecretValue>, String> {
    let Some(value) = EnvSecrets.get("WORKERFLOW_API_TOKEN") else {
        return Ok(None);
    };
    let token = value
        .expose()
        .trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    let hint = "generate one with `openssl rand -hex 32`";
    let visible = token.chars().filter(|&c| !is_invisible(c)).count();
    match (token.chars().count(), visible) {
        (0, _) => Err(format!("WORKERFLOW_API_TOKEN is blank; {hint}")),
        (n, 0) => Err(format!(
            "WORKERFLOW_API_TOKEN is {n} invisible characters (zero-width or format characters); {hint}"
        )),
        (_, n) if n < MIN_TOKEN_CHARS => Err(format!(
            "WORKERFLOW_API_TOKEN is {n} characters long; use at least {MIN_TOKEN_CHARS} ({hint})"
        )),
        _ => Ok(Some(workerflow_runtime::SecretValue::new(token))),
    }
}

/// Whitespace, control characters and the zero-width and format characters (Unicode `Cf`) that
/// show as nothing.
fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(
            c,
            '\u{00ad}'
                | '\u{034f}'
                | '\u{061c}'
                | '\u{115f}'
                | '\u{1160}'
                | '\u{17b4}'
                | '\u{17b5}'
                | '\u{180b}'..='\u{180f}'
                | '\u{200b}'..='\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2060}'..='\u{206f}'
                | '\u{3164}'
                | '\u{fe00}'..='\u{fe0f}'
                | '\u{feff}'
                | '\u{ffa0}'
                | '\u{fff0}'..='\u{fffb}'
                | '\u{e0000}'..='\u{e007f}'
        )
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

fn serve(api: Api, args: ServeArgs) -> Result<ExitCode, Error> {
    let token = match (api_token().map_err(Error::Usage)?, args.no_auth) {
        (_, true) if !args.addr.ip().is_loopback() => {
            return Err(Error::Usage(format!(
                "--no-auth is allowed only on a loopback address (got {}); set WORKERFLOW_API_TOKEN instead",
                args.addr
            )));
        }
        (_, true) => None,
        (Some(token), false) => Some(token),
        (None, false) => {
            return Err(Error::Usage(
                "WORKERFLOW_API_TOKEN is not set; set it to the bearer token callers must send, \
                 or pass --no-auth to serve without authentication on a loopback address"
                    .to_owned(),
            ));
        }
    };
    let choice = store_choice(&args.store).map_err(Error::Usage)?;
    let keys = args.keys.load()?;
    let public_url = args
        .public_url
        .as_deref()
        .map(public_url)
        .transpose()
        .map_err(Error::Usage)?;
    if keys.is_none() {
        let needing = api.routes.connection_routes(true);
        if !needing.is_empty() {
            return Err(Error::Usage(format!(
                "routes {} need OAuth connections, and no connection key is configured: set WORKERFLOW_CONNECTION_KEYS or --connection-keys-file",
                needing.join(", ")
            )));
        }
    }
    init_logging();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = args.threads {
        runtime.worker_threads(threads);
    }
    let runtime = runtime.enable_all().build().map_err(Error::AsyncRuntime)?;
    let jobs = match choice {
        StoreChoice::Memory => JobBackend::Memory,
        StoreChoice::Durable(location) => JobBackend::Durable(Arc::new(
            runtime
                .block_on(JobStore::open(&location, args.queue_capacity))
                .map_err(Error::OpenStore)?,
        )),
    };
    let connections = match keys {
        Some(keys) => {
            let services: Vec<&'static workerflow_runtime::ServiceSpec> = api
                .routes
                .routes()
                .map(|route| &route.spec().service)
                .collect();
            let secrets: Arc<dyn SecretSource> = Arc::new(EnvSecrets);
            let opened = runtime.block_on(async {
                match &jobs {
                    JobBackend::Durable(store) => {
                        Connections::open(store, keys, secrets, services).await
                    }
                    JobBackend::Memory => {
                        Connections::open(&JobStore::memory(1), keys, secrets, services).await
                    }
                }
            });
            Some(opened.map_err(|error| Error::Usage(error.to_string()))?)
        }
        None => {
            if !api.routes.connection_routes(false).is_empty() {
                tracing::warn!(
                    target: "workerflow::serve",
                    "no connection key is configured (WORKERFLOW_CONNECTION_KEYS or --connection-keys-file): calls naming an OAuth connection are answered connections_unavailable"
                );
            }
            None
        }
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
        retry: RetryPolicy {
            max_attempts: args.job_attempts,
            backoff: args.job_backoff,
            lease: args.job_lease,
            ..RetryPolicy::default()
        },
        retention: args.job_retention,
        connections,
        public_url,
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
        let secrets: Arc<dyn SecretSource> = Arc::new(EnvSecrets);
        crate::serve::serve(listener, api, secrets, config, shutdown_signal()).await
    });
    // Jobs still running at the deadline are cancelled here, not waited for.
    runtime.shutdown_timeout(Duration::from_millis(100));
    match result {
        Ok(report) if report.undone == 0 => Ok(ExitCode::SUCCESS),
        Ok(report) => Err(Error::Undone(report.undone)),
        Err(source) => Err(Error::Serve {
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

fn routes(registry: &RouteTable, json: bool) -> ExitCode {
    let listed = registry.route_info(&EnvSecrets);
    if json {
        print_json(&json!({ "routes": listed }));
        return ExitCode::SUCCESS;
    }
    let mut out = String::new();
    for route in &listed {
        let state = match (route.disabled_by, route.implemented, route.configured) {
            (Some(by), _, _) => format!("disabled ({by})"),
            (None, false, _) => "not implemented".to_owned(),
            (None, true, true) => "configured".to_owned(),
            (None, true, false) => "not configured".to_owned(),
        };
        let request_type = route.request_type.as_str();
        let _ = writeln!(
            out,
            "{} ({request_type}, {}): {state}",
            route.route, route.service_name
        );
        let _ = writeln!(out, "  {}", route.summary);
        for secret in &route.secrets {
            let status = match secret.set_by {
                Some(name) => format!("set by {name}"),
                None => "missing".to_owned(),
            };
            let _ = writeln!(
                out,
                "  secret   {}: {} ({status})",
                secret.label,
                secret.any_of.join(", ")
            );
        }
        for setting in &route.settings {
            let status = match (setting.set, setting.default) {
                (true, _) => "set".to_owned(),
                (false, Some(default)) => format!("unset, default {default}"),
                (false, None) => "unset".to_owned(),
            };
            let _ = writeln!(
                out,
                "  setting  {}: {} ({status})",
                setting.label, setting.name
            );
        }
    }
    emit(&out);
    ExitCode::SUCCESS
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
) -> Result<ExitCode, Error> {
    let input = read_payload(payload, payload_file).map_err(Error::Usage)?;
    let trace_id = match trace_id.map(workerflow_runtime::TraceId::new) {
        None => workerflow_runtime::TraceId::generate(),
        Some(Ok(trace_id)) => trace_id,
        Some(Err(error)) => return Err(Error::Usage(format!("--trace-id: {error}"))),
    };
    let runtime = command_runtime()?;
    // The envelope callers of the public API never see (docs/ROUTES.md 1.2): a payload with its
    // own `body` field is still read as the input.
    let payload = json!({ "body": input });
    let result =
        runtime.block_on(registry.dispatch_with_trace(route, payload, &EnvSecrets, trace_id));
    let output = result.map_err(Error::Dispatch)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_are_absolute_without_query_and_lose_a_trailing_slash() {
        assert_eq!(
            public_url("https://flows.example.com/").as_deref(),
            Ok("https://flows.example.com")
        );
        assert_eq!(
            public_url("http://127.0.0.1:8787/base/").as_deref(),
            Ok("http://127.0.0.1:8787/base")
        );
        for bad in [
            "flows.example.com",
            "ftp://flows.example.com",
            "https://flows.example.com/?a=1",
            "https://flows.example.com/#x",
            "https://user:pw@flows.example.com",
        ] {
            let error = public_url(bad).expect_err(bad);
            assert!(!error.contains("pw"), "{error}");
        }
    }

    #[test]
    fn a_key_file_is_read_and_a_bad_one_is_a_usage_error_without_the_key() {
        let dir = std::env::temp_dir().join(format!("workerflow-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let good = dir.join("good");
        std::fs::write(
            &good,
            "# current first\nk2:HxweHRwbGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE=\n\nk1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        )
        .expect("write");
        let keys = KeyArgs {
            connection_keys_file: Some(good),
        };
        let ring = keys.load().expect("loads").expect("keys");
        assert_eq!(ring.ids(), vec!["k2", "k1"]);
        let bad = dir.join("bad");
        std::fs::write(&bad, "k1:c2hvcnQtc2VjcmV0\n").expect("write");
        let keys = KeyArgs {
            connection_keys_file: Some(bad),
        };
        let error = keys.load().expect_err("short key");
        assert!(matches!(error, Error::Usage(_)));
        assert!(
            error.to_string().contains("line 1") && !error.to_string().contains("c2hvcnQ"),
            "{error}"
        );
        assert_eq!(
            error.exit_code(),
            ExitCode::from(2),
            "a malformed key is a usage error"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
