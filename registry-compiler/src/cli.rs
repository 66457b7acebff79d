//! The `workerflow-registry` command line: check, format and explain the registry, generate its
//! docs, scaffold connectors. The `workerflow-registry` binary (also what the pre-commit hooks
//! run) calls [`run`]; it prints and picks exit codes. It has no network code: `check-urls` is
//! `workerflow check-urls`, beside the runtime's HTTP stack.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use std::sync::Arc;

use crate::canonical::FormatError;
use crate::diagnostics::escape_controls;
use crate::diff;
use crate::docs::PageFreshness;
use crate::model::{AuthType, RequestType};
use crate::render::Renderer;
use crate::scaffold;
use crate::write::{Freshness, Written, unified_diff, write_if_changed};
use crate::{Code, Format, LoadError, Report, Schema, Source, display_path};
use clap::{Parser, Subcommand, ValueEnum};

/// Exit status for a registry with errors, or stale docs under `build --check`.
const EXIT_INVALID: u8 = 1;
/// Exit status for usage and I/O errors (clap uses 2 as well).
const EXIT_USAGE: u8 = 2;

#[derive(Parser)]
#[command(
    name = "workerflow-registry",
    version,
    about = "Checks the WorkerFlow connector registry (connector-registry/services.json) and generates its docs",
    long_about = "Checks the WorkerFlow connector registry (connector-registry/services.json) against \
                  services.schema.json and the semantic rules, and reports every problem with its \
                  location, like rustc. Generates docs/SERVICE_API_INDEX.md and .html from it.\n\n\
                  Exit status: 0 success, 1 invalid registry (or stale docs under `build --check`), \
                  2 usage or I/O error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a registry and report every problem
    ///
    /// Prints `ok: N services, M runtime routes` when the registry is valid.
    Check {
        /// Registry file [default: the nearest connector-registry/services.json from the current directory upwards]
        path: Option<PathBuf>,
        /// Output format: rustc-style text (stderr), JSON (stdout) or GitHub Actions annotations (stdout)
        #[arg(long, value_enum, default_value_t = FormatArg::Text)]
        format: FormatArg,
        /// When to colour text output [default: auto: on a terminal, unless NO_COLOR is set]
        #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
        color: ColorArg,
    },
    /// Generate docs/SERVICE_API_INDEX.md and docs/SERVICE_API_INDEX.html from the registry
    ///
    /// Validates the registry first (nothing is written when it has errors), then writes each
    /// file only when its bytes change, atomically.
    Build {
        /// Write nothing; exit 1 with a diff when a file is stale or missing
        #[arg(long)]
        check: bool,
        /// Registry file [default: the nearest connector-registry/services.json from the current directory upwards]
        #[arg(long, value_name = "PATH")]
        registry: Option<PathBuf>,
        /// Output directory [default: docs/ beside the registry's connector-registry/ directory]
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Directory whose SERVICE_API_INDEX.md.j2 / SERVICE_API_INDEX.html.j2 replace the built-in templates
        #[arg(long, value_name = "DIR")]
        templates: Option<PathBuf>,
        /// When to colour diagnostics [default: auto: on a terminal, unless NO_COLOR is set]
        #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
        color: ColorArg,
    },
    /// Rewrite the registry in its canonical form
    ///
    /// Keys in schema order, 2-space indent, services sorted by rank (unranked last, then by
    /// name), text trimmed, empty optional text `null`, `sources` deduplicated and completed
    /// with the service's URLs, `officialApiDocsUrl` and `bestBaseLink` filled from each other.
    /// An invalid registry is never rewritten; the file is written only when its bytes change.
    Fmt {
        /// Write nothing; print a diff and exit 1 when the file is not canonical
        #[arg(long)]
        check: bool,
        /// Registry file [default: the nearest connector-registry/services.json from the current directory upwards]
        path: Option<PathBuf>,
        /// When to colour diagnostics [default: auto: on a terminal, unless NO_COLOR is set]
        #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
        color: ColorArg,
    },
    /// Make a crate a connector crate: an empty registry, the toolkit's crates, build.rs
    ///
    /// Writes connector-registry/services.json (valid, no services yet, named after the
    /// package); adds workerflow-runtime and serde_json to [dependencies], workerflow-runtime with
    /// feature `testing` to [dev-dependencies] and workerflow-registry (default features off) to
    /// [build-dependencies] in Cargo.toml, keeping its comments and layout; writes the one-line
    /// build.rs that generates the registry module, and adds
    /// `workerflow_runtime::include_registry!();` to the library root (src/lib.rs, created when
    /// missing). Each step is skipped when it is done already and nothing is replaced. The
    /// toolkit's crates are not on crates.io: they come from --path, from --git at --rev, or by
    /// default from the toolkit checkout this CLI was built from. Then `new` adds routes.
    Init {
        /// The crate's directory [default: the current directory]
        dir: Option<PathBuf>,
        /// A checkout of the WorkerFlow toolkit (the directory holding runtime/ and registry-compiler/) [default: the checkout this CLI was built from, when it still exists]
        #[arg(long, value_name = "DIR", conflicts_with = "git")]
        path: Option<PathBuf>,
        /// The toolkit's git repository (with --rev)
        #[arg(long, value_name = "URL", requires = "rev")]
        git: Option<String>,
        /// The commit or tag of --git to depend on
        #[arg(long, value_name = "REV", requires = "git")]
        rev: Option<String>,
        /// Also add workerflow-server and src/bin/server.rs: a server for the crate's routes
        #[arg(long)]
        server: bool,
        /// Show the new files and the diffs of the edited ones, write nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Declare a route (and its service when new) and scaffold its connector and test
    ///
    /// Adds the route with its secret requirement to the registry (in canonical form; a new
    /// service gets `null` for everything not given), writes src/connectors/<service_id>.rs with
    /// a #[connector] handler that POSTs the JSON payload to the service's base URL setting with
    /// the secret as a bearer token, and tests/connector_<service_id>.rs, which runs it against a
    /// loopback server; and, once, tests/examples.rs, which runs every contract example of every
    /// linked route (when the crate's workerflow-runtime has feature `testing`, as `init` sets
    /// it). Without --route, adds the service's catalogue entry alone (every field, unknowns
    /// `null`). Paths are relative to the crate that holds connector-registry/.
    New {
        /// The service's connector name, for example "Acme CRM" (matched ignoring case)
        #[arg(long, value_name = "NAME")]
        service: String,
        /// The route id, for example acme_contact_upsert [default: none: the service alone]
        #[arg(long = "route", value_name = "ROUTE_ID")]
        route: Option<String>,
        /// The service's auth type (for a new service; `unknown` when omitted)
        #[arg(long, value_enum, value_name = "TYPE")]
        auth: Option<AuthType>,
        /// A secret name the route needs; repeat for alternatives tried in order
        #[arg(long = "secret", value_name = "NAME")]
        secrets: Vec<String>,
        /// The official API docs URL (for a new service)
        #[arg(long, value_name = "URL")]
        docs: Option<String>,
        /// Whether callers wait for the output (sync) or the call is queued (async)
        #[arg(long, value_enum, default_value_t = RequestType::Sync)]
        request_type: RequestType,
        /// The route's one-line summary [default: "POST a JSON payload to the <service> API."]
        #[arg(long, value_name = "TEXT")]
        summary: Option<String>,
        /// Registry file [default: the nearest connector-registry/services.json from the current directory upwards]
        #[arg(long, value_name = "PATH")]
        registry: Option<PathBuf>,
        /// Show the registry diff and the files, write nothing
        #[arg(long)]
        dry_run: bool,
        /// Replace the connector and test files when they exist
        #[arg(long)]
        force: bool,
    },
    /// Compare two registries and report every change, breaking ones first
    ///
    /// Each side is a registry file, a git revision (the registry's path at that revision) or
    /// REV:PATH. Both are validated as `check` does. Changes are breaking (exit 1 unless the head
    /// registry's top-level `changes` list acknowledges them), notable or cosmetic; `explain
    /// WF4xx` tells what each code means. An acknowledgement added since the base that matches
    /// no change is an error too.
    Diff {
        /// The base side [default: the merge base of HEAD with the default branch]
        base: Option<String>,
        /// The head side [default: the nearest connector-registry/services.json, as it is in the working tree]
        head: Option<String>,
        /// Output format: rustc-style text (stderr), JSON (stdout) or GitHub Actions annotations (stdout)
        #[arg(long, value_enum, default_value_t = FormatArg::Text)]
        format: FormatArg,
        /// Print a Markdown summary table for a pull-request comment instead (stdout)
        #[arg(long)]
        markdown: bool,
        /// When to colour text output [default: auto: on a terminal, unless NO_COLOR is set]
        #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
        color: ColorArg,
        /// When BASE is a git revision that has no registry (no commit yet, or the file is new),
        /// there is nothing to break: say so and exit 0 (the pre-commit hook's mode)
        #[arg(long)]
        new_registry_ok: bool,
    },
    /// Explain a diagnostic code (for example WF301), or list every code
    Explain {
        /// The code to explain; omit it to list all codes
        code: Option<String>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Text,
    Json,
    Github,
}

impl From<FormatArg> for Format {
    fn from(format: FormatArg) -> Format {
        match format {
            FormatArg::Text => Format::Text,
            FormatArg::Json => Format::Json,
            FormatArg::Github => Format::Github,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum ColorArg {
    Auto,
    Always,
    Never,
}

/// Runs the command line on `args` (the first one is the program name).
pub fn run<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = Cli::parse_from(args);
    let (result, output) = match cli.command {
        Command::Check {
            path,
            format,
            color,
        } => {
            let format: Format = format.into();
            let output = Output {
                format,
                color: format == Format::Text && use_color(color),
            };
            (check(path, output), output)
        }
        Command::Build {
            check,
            registry,
            out,
            templates,
            color,
        } => (build(check, registry, out, templates), Output::text(color)),
        Command::Fmt { check, path, color } => (fmt(check, path), Output::text(color)),
        Command::Init {
            dir,
            path,
            git,
            rev,
            server,
            dry_run,
        } => {
            let source = match (path, git, rev) {
                (Some(path), _, _) => Some(crate::init::Source::Path(
                    std::path::absolute(&path).unwrap_or(path),
                )),
                (None, Some(url), Some(rev)) => Some(crate::init::Source::Git { url, rev }),
                _ => None,
            };
            (
                init(dir, source, server, dry_run),
                Output::text(ColorArg::Auto),
            )
        }
        Command::New {
            service,
            route,
            auth,
            secrets,
            docs,
            request_type,
            summary,
            registry,
            dry_run,
            force,
        } => {
            let request = scaffold::Request {
                service,
                route,
                auth,
                secrets,
                docs,
                request_type,
                summary,
            };
            (
                new(&request, registry, dry_run, force),
                Output::text(ColorArg::Auto),
            )
        }
        Command::Diff {
            base,
            head,
            format,
            markdown,
            color,
            new_registry_ok,
        } => {
            let format: Format = format.into();
            let output = Output {
                format,
                color: format == Format::Text && !markdown && use_color(color),
            };
            (diff(base, head, output, markdown, new_registry_ok), output)
        }
        Command::Explain { code } => (explain(code.as_deref()), Output::text(ColorArg::Never)),
    };
    result.unwrap_or_else(|error| error.report(output))
}

fn use_color(choice: ColorArg) -> bool {
    match choice {
        ColorArg::Always => true,
        ColorArg::Never => false,
        ColorArg::Auto => {
            std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}

/// How a command shows diagnostics: the format and whether to color text.
#[derive(Clone, Copy)]
struct Output {
    format: Format,
    color: bool,
}

impl Output {
    fn text(color: ColorArg) -> Output {
        Output {
            format: Format::Text,
            color: use_color(color),
        }
    }
}

/// Why a command stopped. Commands return it and [`run`] prints it in one place (ripgrep's
/// shape), with its causes; what a command prints when it completes, a failed `--check`
/// included, is its output.
#[derive(Debug, thiserror::Error)]
enum CliError {
    /// Arguments that cannot be served (no registry found, an unknown code, a revision git does
    /// not know). The text may go on with `= help:` lines.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Render(#[from] crate::render::RenderError),
    #[error(transparent)]
    Docs(#[from] crate::docs::DocsError),
    #[error("cannot write {path}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Registries with errors, each printed as a report, then the note.
    #[error("invalid registry")]
    Invalid {
        registries: Vec<crate::Invalid>,
        note: Option<String>,
    },
    /// `new` refused the request itself.
    #[error("{0}")]
    Refused(String),
    /// `new` failed part-way through writing.
    #[error("cannot write {}", display_path(&.0.path))]
    Apply(scaffold::ApplyError),
}

impl CliError {
    fn usage(message: impl Into<String>) -> CliError {
        CliError::Usage(message.into())
    }

    /// Prints the error as `output` says and returns the exit status.
    fn report(self, output: Output) -> ExitCode {
        match self {
            CliError::Load(LoadError::Invalid(invalid)) => {
                print_report(&invalid.report(), output);
                invalid_exit(&invalid.diagnostics)
            }
            CliError::Invalid { registries, note } => {
                for invalid in &registries {
                    print_report(&invalid.report(), output);
                }
                if let Some(note) = note {
                    eprintln!("note: {note}");
                }
                let diagnostics = registries.iter().flat_map(|r| r.diagnostics.iter());
                if diagnostics.clone().any(|d| d.code == Code::Internal) {
                    ExitCode::from(EXIT_USAGE)
                } else {
                    ExitCode::from(EXIT_INVALID)
                }
            }
            CliError::Apply(failed) => {
                let mut message = format!(
                    "cannot write {}: {}",
                    display_path(&failed.path),
                    failed.error
                );
                if failed.not_undone.is_empty() {
                    message.push_str("\n  = note: nothing was written (every change was undone)");
                }
                for (path, error) in &failed.not_undone {
                    message.push_str(&format!(
                        "\n  = note: could not undo the change to {}: {error}",
                        display_path(path)
                    ));
                }
                eprintln!("error: {}", escape_controls(&message));
                ExitCode::from(EXIT_USAGE)
            }
            error => {
                // Paths and values from the command line are in the text: shown escaped.
                let message = crate::ErrorChain(&error).to_string();
                eprintln!("error: {}", escape_controls(&message));
                ExitCode::from(EXIT_USAGE)
            }
        }
    }
}

fn registry_path(path: Option<PathBuf>, how_to_pass: &str) -> Result<PathBuf, CliError> {
    crate::locate_registry(path, how_to_pass).map_err(CliError::Usage)
}

fn check(path: Option<PathBuf>, output: Output) -> Result<ExitCode, CliError> {
    let path = registry_path(path, "workerflow-registry check PATH")?;
    let file = Source::open(&path)?;
    let checked = file.check();
    let report = Report {
        path: file.display(),
        source: file.text(),
        diagnostics: &checked.diagnostics,
    };
    print_report(&report, output);
    if !checked.is_valid() {
        return Ok(invalid_exit(&checked.diagnostics));
    }
    if output.format != Format::Json {
        println!(
            "ok: {} services, {} runtime routes",
            checked.service_count, checked.route_count
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn build(
    check: bool,
    registry: Option<PathBuf>,
    out: Option<PathBuf>,
    templates: Option<PathBuf>,
) -> Result<ExitCode, CliError> {
    let path = registry_path(registry, "workerflow-registry build --registry PATH")?;
    let renderer = match templates {
        Some(dir) => Renderer::with_overrides(&dir)?,
        None => Renderer::embedded()?,
    };
    // The process exits right after: freeing a 100,000-service model string by string would
    // only add time (about a tenth of `build`), so it is left to the OS.
    let loaded =
        std::mem::ManuallyDrop::new(Source::open(&path)?.docs().map_err(LoadError::Invalid)?);
    let out = out.unwrap_or_else(|| loaded.default_docs_dir());
    if check {
        return Ok(report_check(&loaded.check_docs(&renderer, &out)?));
    }
    for (path, written) in loaded.write_docs(&renderer, &out)? {
        println!("{:>9} {}", written_word(written), display_path(&path));
    }
    Ok(ExitCode::SUCCESS)
}

fn fmt(check: bool, path: Option<PathBuf>) -> Result<ExitCode, CliError> {
    let path = registry_path(path, "workerflow-registry fmt PATH")?;
    let file = Source::open(&path)?;
    let canonical = match file.format() {
        Ok(text) => text,
        Err(FormatError::Invalid(invalid)) => {
            return Err(CliError::Invalid {
                note: Some(format!("{} was not rewritten", file.display())),
                registries: vec![invalid],
            });
        }
        Err(FormatError::WouldBeInvalid(invalid)) => {
            return Err(CliError::Invalid {
                note: Some(format!(
                    "the canonical form of {} would not be valid (text fields are trimmed); fix the fields above, it was not rewritten",
                    file.display()
                )),
                registries: vec![invalid],
            });
        }
    };
    if check {
        if canonical == file.text() {
            println!("ok: {} is canonical", file.display());
            return Ok(ExitCode::SUCCESS);
        }
        let diff = unified_diff(file.text(), &canonical, file.display());
        eprintln!("error: {} is not in canonical form\n{diff}", file.display());
        eprintln!("help: run `workerflow-registry fmt` to rewrite it");
        return Ok(ExitCode::from(EXIT_INVALID));
    }
    let written =
        write_if_changed(&path, canonical.as_bytes()).map_err(|source| CliError::Write {
            path: file.display().to_owned(),
            source,
        })?;
    let verb = if written == Written::Unchanged {
        "unchanged"
    } else {
        "formatted"
    };
    println!("{verb} {}", file.display());
    Ok(ExitCode::SUCCESS)
}

fn new(
    request: &scaffold::Request,
    registry: Option<PathBuf>,
    dry_run: bool,
    force: bool,
) -> Result<ExitCode, CliError> {
    let path = registry_path(registry, "workerflow-registry new --registry PATH …")?;
    let file = Source::open(&path)?;
    let crate_root = scaffold::crate_root(&path);
    let plan = scaffold::plan(
        request,
        &path,
        file.text(),
        file.schema(),
        &crate_root,
        force,
    )
    .map_err(|refusal| match refusal {
        scaffold::Refusal::Request(message) => CliError::Refused(message),
        scaffold::Refusal::Invalid(invalid) => CliError::Invalid {
            registries: vec![invalid],
            note: Some("nothing was written".to_owned()),
        },
    })?;
    let registry_display = display_path(&plan.registry_path);
    if !plan.formatted {
        eprintln!(
            "note: rustfmt did not run; the new Rust files are as the templates lay them out (run `cargo fmt` if a long name made a line too long)"
        );
    }
    if dry_run {
        print!(
            "{}",
            unified_diff(
                &plan.registry_before,
                &plan.registry_after,
                &registry_display
            )
        );
        for file in &plan.files {
            let verb = if file.exists { "replace" } else { "create" };
            println!("\n--- would {verb} {} ---", display_path(&file.path));
            print!("{}", file.contents);
        }
        println!("\n(dry run: nothing was written)");
        return Ok(ExitCode::SUCCESS);
    }
    for (path, written) in scaffold::apply(&plan).map_err(CliError::Apply)? {
        println!("{:>9} {}", written_word(written), display_path(&path));
    }
    let service = request.service.trim();
    println!("\nNext steps:");
    let Some(route) = &request.route else {
        println!(
            "  1. fill in what is known about `{service}` in {registry_display} (docs URLs, sources, vendor, rank), then `workerflow-registry fmt` and `workerflow-registry check`"
        );
        println!(
            "  2. `workerflow-registry new --service \"{service}\" --route ROUTE_ID --secret NAME` declares a route and scaffolds its connector"
        );
        return Ok(ExitCode::SUCCESS);
    };
    let connector = format!("src/connectors/{}.rs", plan.service_id);
    let mut steps = vec![format!(
        "cargo test --test {}    # the scaffold passes as generated",
        plan.test_name
    )];
    steps.push(match plan.examples_test {
        Some(scaffold::ExamplesTest::NoTestingFeature) => format!(
            "give the crate's workerflow-runtime feature `testing` in [dev-dependencies] (`workerflow-registry init` adds it), then `new` writes {}, which runs every contract example",
            scaffold::EXAMPLES_TEST
        ),
        _ => "cargo test --test examples    # every contract example of every route, the scaffold's one included".to_owned(),
    });
    steps.push(format!(
        "fill in the contract of `{route}` in {registry_display}: the fields it takes and returns, as the JSON Schemas `input` and `output` (then `cargo build` types them as `Input` and `Output`), and its `examples`"
    ));
    steps.push(format!(
        "replace the request in {connector} with the service's real API call, and extend the test"
    ));
    steps.push(if plan.service_is_new {
        format!(
            "fill in what is known about `{service}` in {registry_display} (docs URLs, sources, vendor), then `workerflow-registry fmt` and `workerflow-registry check`"
        )
    } else {
        format!("`workerflow-registry check` after any further edit of {registry_display}")
    });
    steps.push(format!(
        "`{}` writes the docs (docs/SERVICE_API_INDEX.md and .html, openapi.json, llms.txt); commit them with the registry and the code",
        crate::render::REGENERATE_COMMAND
    ));
    for (number, step) in steps.iter().enumerate() {
        println!("  {}. {step}", number + 1);
    }
    Ok(ExitCode::SUCCESS)
}

fn init(
    dir: Option<PathBuf>,
    source: Option<crate::init::Source>,
    server: bool,
    dry_run: bool,
) -> Result<ExitCode, CliError> {
    // Empty, not `.`: paths are shown as `build.rs`, not `./build.rs`.
    let dir = dir.unwrap_or_default();
    let source = match source {
        Some(source) => source,
        None => {
            let built_from = crate::init::Source::built_from().ok_or_else(|| {
                CliError::usage(
                    "the toolkit checkout this CLI was built from is gone, so there is no default source for the toolkit's crates\n  = help: pass --path TOOLKIT_CHECKOUT, or --git URL --rev REV",
                )
            })?;
            eprintln!(
                "note: the toolkit's crates come from {}, the checkout this CLI was built from (--path or --git/--rev to choose)",
                built_from.display()
            );
            crate::init::Source::Path(built_from)
        }
    };
    let plan = crate::init::plan(&dir, &source, &crate::init::today(), server)
        .map_err(CliError::Refused)?;
    if dry_run {
        for edit in &plan.edits {
            let shown = display_path(&edit.path);
            match &edit.before {
                Some(before) => print!("{}", unified_diff(before, &edit.after, &shown)),
                None => {
                    println!("--- would create {shown} ---");
                    print!("{}", edit.after);
                }
            }
            println!();
        }
        for done in &plan.done {
            println!("unchanged {done}");
        }
        println!("(dry run: nothing was written)");
        return Ok(ExitCode::SUCCESS);
    }
    let files: Vec<(&Path, &[u8])> = plan
        .edits
        .iter()
        .map(|edit| (edit.path.as_path(), edit.after.as_bytes()))
        .collect();
    for (path, written) in scaffold::write_all(&files).map_err(CliError::Apply)? {
        println!("{:>9} {}", written_word(written), display_path(&path));
    }
    for done in &plan.done {
        println!("unchanged {done}");
    }
    if plan.edits.is_empty() {
        println!("\nNothing to do: this is a connector crate already.");
        return Ok(ExitCode::SUCCESS);
    }
    println!("\nNext steps:");
    println!(
        "  1. `workerflow-registry new --service NAME --route ROUTE_ID --secret SECRET_NAME` declares a route and scaffolds its connector and test (without --route: the service's catalogue entry alone)"
    );
    println!(
        "  2. `cargo build` checks the registry and generates the `registry` module; `workerflow-registry build` writes its docs"
    );
    if server {
        println!(
            "  3. `WORKERFLOW_API_TOKEN=$(openssl rand -hex 32) cargo run --bin server -- serve` serves the crate's routes (`--help` for the flags)"
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn written_word(written: Written) -> &'static str {
    match written {
        Written::Created => "created",
        Written::Updated => "updated",
        Written::Unchanged => "unchanged",
    }
}

fn report_check(pages: &[PageFreshness]) -> ExitCode {
    let mut stale = false;
    for page in pages {
        let shown = display_path(&page.path);
        match &page.freshness {
            Freshness::Fresh => println!("up to date {shown}"),
            Freshness::Missing => {
                stale = true;
                eprintln!("error: {shown} is missing");
            }
            Freshness::Stale { diff } => {
                stale = true;
                eprintln!("error: {shown} is stale\n{diff}");
            }
        }
    }
    if stale {
        eprintln!(
            "help: regenerate the docs with `{}`",
            crate::render::REGENERATE_COMMAND
        );
        ExitCode::from(EXIT_INVALID)
    } else {
        ExitCode::SUCCESS
    }
}

/// Exit 1 for an invalid registry, 2 when the compiler itself failed (the registry was not
/// fully checked).
fn invalid_exit(diagnostics: &[crate::Diagnostic]) -> ExitCode {
    if diagnostics.iter().any(|d| d.code == Code::Internal) {
        ExitCode::from(EXIT_USAGE)
    } else {
        ExitCode::from(EXIT_INVALID)
    }
}

fn print_report(report: &Report<'_>, output: Output) {
    if report.diagnostics.is_empty() && output.format != Format::Json {
        return;
    }
    let text = report.render(output.format, output.color);
    let result = match output.format {
        Format::Text => std::io::stderr().write_all(text.as_bytes()),
        Format::Json | Format::Github => std::io::stdout().write_all(text.as_bytes()),
    };
    // A closed pipe is not worth a panic.
    let _ = result;
}

fn explain(code: Option<&str>) -> Result<ExitCode, CliError> {
    let Some(text) = code else {
        for code in Code::ALL {
            println!("{}  {}", code.as_str(), code.title());
        }
        println!(
            "\nRun `workerflow-registry explain WF301` for the rule, why it exists and how to fix it."
        );
        return Ok(ExitCode::SUCCESS);
    };
    let code = Code::parse(text).ok_or_else(|| {
        CliError::usage(format!(
            "unknown diagnostic code `{}`\n  = help: run `workerflow-registry explain` to list every code",
            crate::diagnostics::escape_controls(text)
        ))
    })?;
    print!("{}", code.explain());
    Ok(ExitCode::SUCCESS)
}

/// One side of `diff`, read: from a file or from git.
fn read_side(arg: &str, anchor: Option<&Path>, schema: &Arc<Schema>) -> Result<Source, CliError> {
    let path = Path::new(arg);
    if path.is_file() {
        return Ok(Source::open_with(path, schema.clone())?);
    }
    refuse_option_like(arg)?;
    let (dir, spec) = revision_spec(arg, anchor).map_err(CliError::Usage)?;
    git_show(arg, &spec, &dir, schema)
}

/// A side that is not a file and starts with `-` would reach git as an option (`--output=…`
/// writes a file): no revision starts with `-`, so it is refused before git runs. Every git
/// call passes revisions after `--end-of-options` as well.
fn refuse_option_like(arg: &str) -> Result<(), CliError> {
    if arg.starts_with('-') {
        return Err(CliError::usage(format!(
            "`{}` is neither a file nor a git revision (a revision never starts with `-`)\n  = help: to compare a file whose name starts with `-`, write it as ./{}",
            crate::diagnostics::escape_controls(arg),
            crate::diagnostics::escape_controls(arg)
        )));
    }
    Ok(())
}

/// Where to run git for revision side `arg`, and its `REV:PATH`: as written, or the registry's
/// path at that revision (`git show REV:PATH` wants the path from the repository root).
fn revision_spec(arg: &str, anchor: Option<&Path>) -> Result<(PathBuf, String), String> {
    if arg.contains(':') {
        return Ok((PathBuf::from("."), arg.to_owned()));
    }
    let anchor = anchor.ok_or_else(|| no_anchor(arg))?;
    let (dir, file_name) = anchor_parts(anchor);
    let prefix = git(&dir, &["rev-parse", "--show-prefix"])
        .map_err(|error| format!("`{arg}` is neither a file nor a git revision: {error}"))?;
    let spec = format!("{arg}:{}{file_name}", prefix.trim());
    Ok((dir, spec))
}

fn no_anchor(arg: &str) -> String {
    format!(
        "`{arg}` is not a file, and there is no {} to read at that revision\n  = help: run inside the repository, or name the file: {arg}:PATH",
        crate::REGISTRY_PATH
    )
}

/// The directory of a registry path and its file name.
fn anchor_parts(anchor: &Path) -> (PathBuf, String) {
    let absolute = std::path::absolute(anchor).unwrap_or_else(|_| anchor.to_owned());
    let dir = absolute
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let name = absolute
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    (dir, name)
}

/// Runs the real `git` in `dir`; its stdout, or its first error line.
fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let output = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|error| format!("cannot run git: {error}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(stderr.lines().next().unwrap_or("git failed").to_owned())
    }
}

/// Whether `base` is a revision without the registry: a commit that does not have the file yet,
/// or `HEAD` before the first commit. A revision that does not exist (a typo) is not: reading it
/// reports the error as usual.
fn base_has_no_registry(base: &str, anchor: Option<&Path>) -> bool {
    let rev = base.split_once(':').map_or(base, |(rev, _)| rev);
    // No spec (outside a repository): not "no registry", an error `read_side` reports.
    let Ok((dir, spec)) = revision_spec(base, anchor) else {
        return false;
    };
    if rev.starts_with('-') {
        return false;
    }
    let commit = format!("{rev}^{{commit}}");
    if git(
        &dir,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            &commit,
        ],
    )
    .is_err()
    {
        // Only an unborn HEAD counts; any other unknown revision is an error to report.
        return rev == "HEAD" && git(&dir, &["rev-parse", "--git-dir"]).is_ok();
    }
    git(&dir, &["cat-file", "-e", "--end-of-options", &spec]).is_err()
}

/// `git show SPEC` in `dir` as a registry file shown as `SPEC`. The blob's size is asked first
/// (`git cat-file -s`), so one over the limit is refused unread, as `check` does with `stat`.
fn git_show(arg: &str, spec: &str, dir: &Path, schema: &Arc<Schema>) -> Result<Source, CliError> {
    let not_a_revision = |reason: &str| {
        CliError::usage(format!(
            "`{}` is neither a file nor a git revision: {}",
            crate::diagnostics::escape_controls(arg),
            crate::diagnostics::escape_controls(reason)
        ))
    };
    let size = git(dir, &["cat-file", "-s", "--end-of-options", spec])
        .map_err(|error| not_a_revision(&error))?;
    if let Ok(size) = size.trim().parse::<u64>()
        && size > crate::load::MAX_REGISTRY_BYTES
    {
        return Err(crate::source::too_large(spec.to_owned(), size).into());
    }
    let output = std::process::Command::new("git")
        .args(["show", "--end-of-options", spec])
        .current_dir(dir)
        .output()
        .map_err(|error| CliError::usage(format!("cannot run git: {error}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(not_a_revision(
            stderr.lines().next().unwrap_or("git show failed"),
        ));
    }
    // The blob changed between the two calls (a ref moved): still bounded.
    Ok(Source::from_bytes(
        Path::new(spec),
        spec.to_owned(),
        output.stdout,
        schema.clone(),
    )?)
}

/// The merge base of HEAD with the default branch (origin's HEAD, else `main`, else `master`).
fn default_base(anchor: Option<&Path>) -> Result<String, CliError> {
    let anchor = anchor.ok_or_else(|| CliError::Usage(no_anchor("BASE")))?;
    let (dir, _) = anchor_parts(anchor);
    let branch = git(&dir, &["rev-parse", "--abbrev-ref", "origin/HEAD"])
        .map(|b| b.trim().to_owned())
        .ok()
        .filter(|b| !b.is_empty() && b != "origin/HEAD")
        .or_else(|| {
            ["main", "master"].into_iter().map(str::to_owned).find(|b| {
                git(&dir, &["rev-parse", "--verify", "--quiet", &format!("refs/heads/{b}")]).is_ok()
            })
        })
        .ok_or_else(|| {
            CliError::usage("no default branch (origin/HEAD, main or master) to compare with\n  = help: name the base: workerflow-registry diff BASE")
        })?;
    git(&dir, &["merge-base", "HEAD", &branch])
        .map(|sha| sha.trim().to_owned())
        .map_err(|error| CliError::usage(format!("no merge base of HEAD and {branch}: {error}")))
}

fn diff(
    base: Option<String>,
    head: Option<String>,
    output: Output,
    markdown: bool,
    new_registry_ok: bool,
) -> Result<ExitCode, CliError> {
    // Revisions are read at the path of the head file, or of the registry found from here.
    let anchor = match &head {
        Some(head) if Path::new(head).is_file() => Some(PathBuf::from(head)),
        _ => crate::locate_registry(None, "").ok(),
    };
    let base = match base {
        Some(base) => base,
        None => default_base(anchor.as_deref())?,
    };
    // Both sides are checked against the schema beside the head registry (or the bundled one).
    let schema = Source::schema_for(anchor.as_deref().unwrap_or(Path::new("")))?;
    let head_file = match &head {
        Some(head) => read_side(head, anchor.as_deref(), &schema),
        None => match &anchor {
            Some(path) => Source::open_with(path, schema.clone()).map_err(CliError::from),
            None => Err(CliError::usage(format!(
                "no {} in the current directory or any parent directory\n  = help: name both sides: workerflow-registry diff BASE HEAD",
                crate::REGISTRY_PATH
            ))),
        },
    };
    if new_registry_ok
        && !Path::new(&base).is_file()
        && base_has_no_registry(&base, anchor.as_deref())
    {
        head_file?;
        eprintln!("note: {base} has no registry to compare with; nothing it had can break");
        return Ok(ExitCode::SUCCESS);
    }
    let base_file = read_side(&base, anchor.as_deref(), &schema);
    let (base_file, head_file) = (base_file?, head_file?);
    let review = match diff::compare_sources(&base_file, &head_file) {
        Ok(review) => review,
        Err(diff::Refused::Invalid(registries)) => {
            return Err(CliError::Invalid {
                registries,
                note: None,
            });
        }
        Err(diff::Refused::NoDocument) => return Ok(ExitCode::from(EXIT_USAGE)),
        Err(diff::Refused::Panicked) => {
            return Err(CliError::usage(
                "internal error: building the base model panicked",
            ));
        }
    };
    let files = diff::Files {
        base_path: base_file.display(),
        base_source: base_file.text(),
        head_path: head_file.display(),
        head_source: head_file.text(),
    };
    let mut stdout = std::io::stdout();
    // A closed pipe is not worth a panic.
    let _ = if markdown {
        stdout.write_all(files.markdown(&review).as_bytes())
    } else {
        match output.format {
            Format::Json => stdout.write_all(files.json(&review).as_bytes()),
            Format::Github => stdout.write_all(files.github(&review).as_bytes()),
            Format::Text if review.is_empty() => Ok(()),
            Format::Text => {
                let _ = std::io::stderr().write_all(files.text(&review, output.color).as_bytes());
                writeln!(
                    stdout,
                    "{}: {}",
                    if review.fails() { "error" } else { "diff" },
                    review.summary()
                )
            }
        }
    };
    if review.fails() {
        Ok(ExitCode::from(EXIT_INVALID))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}
