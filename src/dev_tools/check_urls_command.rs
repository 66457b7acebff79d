//! `workerflow check-urls`: the command-line side of [`super::check_urls`] (arguments, the
//! progress bar, the text and JSON reports, exit codes).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::check_urls;
use workerflow_registry::{Registry, display_path, locate_registry};

use super::Error as CommandError;

#[derive(clap::Args)]
pub(crate) struct CheckUrlsArgs {
    /// Registry file [default: the nearest connector-registry/services.json from the current directory upwards]
    path: Option<PathBuf>,
    /// URLs checked at a time
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1024))]
    concurrency: u16,
    /// Seconds one request may take, up to its response headers
    #[arg(long, value_name = "SECS", default_value_t = 10.0, value_parser = positive_secs)]
    timeout: f64,
    /// Longest total wait per URL that Retry-After may ask for, in seconds
    #[arg(long, value_name = "SECS", default_value_t = 10.0, value_parser = non_negative_secs)]
    retry_budget: f64,
    /// Report format: text (failures, on stdout) or JSON (every URL, on stdout)
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    format: ReportFormat,
    /// Send https URLs whose host is a loopback address (127.0.0.0/8, ::1, localhost) as
    /// plain http. For tests and benchmarks against local servers; other hosts are never
    /// downgraded
    #[arg(long)]
    loopback_http: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ReportFormat {
    Text,
    Json,
}

fn positive_secs(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(secs) if secs > 0.0 && secs <= 3600.0 => Ok(secs),
        _ => Err("expected a number of seconds above 0 and at most 3600".to_owned()),
    }
}

fn non_negative_secs(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(secs) if (0.0..=3600.0).contains(&secs) => Ok(secs),
        _ => Err("expected a number of seconds from 0 to 3600".to_owned()),
    }
}

/// Runs `workerflow check-urls`: exit 0 when every URL is reachable, 1 when one fails or the
/// registry is invalid, 2 on a usage or I/O error.
pub(super) fn run(args: CheckUrlsArgs) -> Result<ExitCode, CommandError> {
    let options = check_urls::Options {
        concurrency: usize::from(args.concurrency),
        timeout: Duration::from_secs_f64(args.timeout),
        retry_budget: Duration::from_secs_f64(args.retry_budget),
        loopback_http: args.loopback_http,
    };
    check_urls(args.path, &options, args.format)
}

fn check_urls(
    path: Option<PathBuf>,
    options: &check_urls::Options,
    format: ReportFormat,
) -> Result<ExitCode, CommandError> {
    let path = locate_registry(path, "workerflow check-urls PATH").map_err(CommandError::Usage)?;
    let registry = Registry::load(&path).map_err(CommandError::LoadRegistry)?;
    let urls = check_urls::collect(&registry);
    let bar = std::io::stderr()
        .is_terminal()
        .then(|| Arc::new(ProgressBar::new("checking URLs")));
    let on_progress = {
        let bar = bar.clone();
        move |done, total| {
            if let Some(bar) = &bar {
                bar.update(done, total);
            }
        }
    };
    let checked = check_urls::run(urls, options, on_progress).map_err(CommandError::Usage)?;
    if let Some(bar) = bar {
        bar.finish();
    }
    let failing: Vec<&check_urls::UrlResult> = checked
        .iter()
        .filter(|c| !c.outcome.is_reachable())
        .collect();
    let out = match format {
        ReportFormat::Json => urls_json(&path, &checked),
        ReportFormat::Text => urls_text(&checked, &failing),
    };
    let _ = std::io::stdout().write_all(out.as_bytes());
    Ok(if failing.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn urls_text(checked: &[check_urls::UrlResult], failing: &[&check_urls::UrlResult]) -> String {
    let mut out = String::new();
    for failure in failing {
        if let check_urls::Outcome::Failed { reason, .. } = &failure.outcome {
            out.push_str(&format!("error: {}: {reason}\n", failure.url.url));
            out.push_str(&format!(
                "  = used by: {}\n",
                failure.url.services.join(", ")
            ));
        }
    }
    if !failing.is_empty() {
        out.push('\n');
    }
    let reachable = checked.len() - failing.len();
    if failing.is_empty() {
        out.push_str(&format!("ok: {reachable} URLs reachable\n"));
    } else {
        out.push_str(&format!(
            "{} of {} URLs failing ({reachable} reachable)\n",
            failing.len(),
            checked.len()
        ));
    }
    out
}

fn urls_json(path: &std::path::Path, checked: &[check_urls::UrlResult]) -> String {
    let urls: Vec<serde_json::Value> = checked
        .iter()
        .map(|c| match &c.outcome {
            check_urls::Outcome::Reachable {
                status,
                via_get,
                redirects,
            } => serde_json::json!({
                "url": c.url.url,
                "services": c.url.services,
                "ok": true,
                "status": status,
                "method": if *via_get { "GET" } else { "HEAD" },
                "redirects": redirects,
                "error": null,
            }),
            check_urls::Outcome::Failed { status, reason } => serde_json::json!({
                "url": c.url.url,
                "services": c.url.services,
                "ok": false,
                "status": status,
                "method": null,
                "redirects": null,
                "error": reason,
            }),
        })
        .collect();
    let failing = checked.iter().filter(|c| !c.outcome.is_reachable()).count();
    let report = serde_json::json!({
        "file": display_path(path),
        "checked": checked.len(),
        "reachable": checked.len() - failing,
        "failing": failing,
        "urls": urls,
    });
    let mut text = serde_json::to_string_pretty(&report).unwrap_or_default();
    text.push('\n');
    text
}

/// A one-line progress bar on stderr, redrawn at most every 100 ms; only used on a terminal.
struct ProgressBar {
    what: &'static str,
    last: Mutex<Option<Instant>>,
}

impl ProgressBar {
    fn new(what: &'static str) -> Self {
        ProgressBar {
            what,
            last: Mutex::new(None),
        }
    }

    fn update(&self, done: usize, total: usize) {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if done < total && last.is_some_and(|at| at.elapsed() < Duration::from_millis(100)) {
            return;
        }
        *last = Some(Instant::now());
        const WIDTH: usize = 30;
        let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH);
        let bar: String = "=".repeat(filled) + &" ".repeat(WIDTH - filled);
        let _ = write!(std::io::stderr(), "\r{} [{bar}] {done}/{total}", self.what);
    }

    fn finish(&self) {
        // Clear the line so the report starts on a clean one.
        let _ = write!(std::io::stderr(), "\r\x1b[2K");
    }
}
