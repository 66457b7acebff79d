//! `workerflow-registry`: check the connector registry, explain diagnostic codes.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use workerflow_registry::{
    Code, Format, LoadError, Report, Schema, find_registry, read_source, schema_for,
};

/// Exit status for a registry with errors.
const EXIT_INVALID: u8 = 1;
/// Exit status for usage and I/O errors (clap uses 2 as well).
const EXIT_USAGE: u8 = 2;

#[derive(Parser)]
#[command(
    name = "workerflow-registry",
    version,
    about = "Checks the WorkerFlow connector registry (connector-registry/services.json)",
    long_about = "Checks the WorkerFlow connector registry (connector-registry/services.json) against \
                  services.schema.json and the semantic rules, and reports every problem with its \
                  location, like rustc.\n\nExit status: 0 valid, 1 invalid registry, 2 usage or I/O error."
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

#[derive(Clone, Copy, ValueEnum)]
enum ColorArg {
    Auto,
    Always,
    Never,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check {
            path,
            format,
            color,
        } => check(path, format, color),
        Command::Explain { code } => explain(code.as_deref()),
    }
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

fn usage_error(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_USAGE)
}

fn registry_path(path: Option<PathBuf>) -> Result<PathBuf, ExitCode> {
    match path {
        Some(path) => Ok(path),
        None => {
            let cwd = std::env::current_dir()
                .map_err(|e| usage_error(format!("cannot read the current directory: {e}")))?;
            find_registry(&cwd).ok_or_else(|| {
                usage_error(format!(
                    "no connector-registry/services.json in {} or any parent directory\n  = help: pass the registry path: workerflow-registry check PATH",
                    cwd.display()
                ))
            })
        }
    }
}

fn check(path: Option<PathBuf>, format: FormatArg, color: ColorArg) -> ExitCode {
    let path = match registry_path(path) {
        Ok(path) => path,
        Err(code) => return code,
    };
    let format = match format {
        FormatArg::Text => Format::Text,
        FormatArg::Json => Format::Json,
        FormatArg::Github => Format::Github,
    };
    let color = format == Format::Text && use_color(color);
    let loaded = schema_for(&path).and_then(|schema| read_source(&path).map(|file| (schema, file)));
    let (schema, file): (Schema, _) = match loaded {
        Ok(pair) => pair,
        Err(LoadError::Invalid(invalid)) => {
            print_report(&invalid.report(), format, color);
            return ExitCode::from(EXIT_INVALID);
        }
        Err(error) => return usage_error(error),
    };
    let checked = workerflow_registry::check(&file.text, &schema);
    let report = Report {
        path: &file.display,
        source: &file.text,
        diagnostics: &checked.diagnostics,
    };
    print_report(&report, format, color);
    if !checked.is_valid() {
        return ExitCode::from(EXIT_INVALID);
    }
    if format != Format::Json {
        println!(
            "ok: {} services, {} runtime routes",
            checked.service_count, checked.route_count
        );
    }
    ExitCode::SUCCESS
}

fn print_report(report: &Report<'_>, format: Format, color: bool) {
    if report.diagnostics.is_empty() && format != Format::Json {
        return;
    }
    let text = report.render(format, color);
    let result = match format {
        Format::Text => std::io::stderr().write_all(text.as_bytes()),
        Format::Json | Format::Github => std::io::stdout().write_all(text.as_bytes()),
    };
    // A closed pipe is not worth a panic.
    let _ = result;
}

fn explain(code: Option<&str>) -> ExitCode {
    match code {
        None => {
            for code in Code::ALL {
                println!("{}  {}", code.as_str(), code.title());
            }
            println!(
                "\nRun `workerflow-registry explain WF301` for the rule, why it exists and how to fix it."
            );
            ExitCode::SUCCESS
        }
        Some(text) => match Code::parse(text) {
            Some(code) => {
                print!("{}", code.explain());
                ExitCode::SUCCESS
            }
            None => usage_error(format!(
                "unknown diagnostic code `{text}`\n  = help: run `workerflow-registry explain` to list every code"
            )),
        },
    }
}
