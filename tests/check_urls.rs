//! `workerflow check-urls` against loopback servers that answer each case: HEAD
//! refused, login walls, redirects (a loop, too many), Retry-After within and over budget, a
//! server slower than the timeout, a closed port, and the per-host limit of 2.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A tiny HTTP/1.1 server on loopback; one thread per connection, one request per connection.
struct Server {
    port: u16,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
    /// Every request as `METHOD /path`.
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().expect("addr").port();
        let server = Server {
            port,
            in_flight: Arc::default(),
            max_in_flight: Arc::default(),
            log: Arc::default(),
        };
        let (in_flight, max, log) = (
            Arc::clone(&server.in_flight),
            Arc::clone(&server.max_in_flight),
            Arc::clone(&server.log),
        );
        let busy_seen = Arc::new(AtomicUsize::new(0));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (in_flight, max, log, busy_seen) = (
                    Arc::clone(&in_flight),
                    Arc::clone(&max),
                    Arc::clone(&log),
                    Arc::clone(&busy_seen),
                );
                std::thread::spawn(move || {
                    let _ = answer(stream, &log, &busy_seen, &in_flight, &max);
                });
            }
        });
        server
    }

    fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }
}

/// Requests in flight are counted from the end of the request to just before the answer is
/// written: the client cannot start its next request earlier, so the count never overstates.
fn answer(
    stream: TcpStream,
    log: &Mutex<Vec<String>>,
    busy_seen: &AtomicUsize,
    in_flight: &AtomicUsize,
    max_in_flight: &AtomicUsize,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
    }
    log.lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(format!("{method} {path}"));
    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    max_in_flight.fetch_max(now, Ordering::SeqCst);
    let head = method == "HEAD";
    let (status, extra): (&str, String) = match path.as_str() {
        "/ok" => ("200 OK", String::new()),
        "/head-refused" if head => ("405 Method Not Allowed", String::new()),
        "/head-refused" => ("200 OK", String::new()),
        "/login" => ("401 Unauthorized", String::new()),
        "/forbidden" => ("403 Forbidden", String::new()),
        "/gone" => ("404 Not Found", String::new()),
        "/broken" => ("500 Internal Server Error", String::new()),
        "/moved" => ("301 Moved Permanently", "location: /ok\r\n".into()),
        "/moved-to-gone" => ("302 Found", "location: /gone\r\n".into()),
        "/loop-a" => ("302 Found", "location: /loop-b\r\n".into()),
        "/loop-b" => ("302 Found", "location: /loop-a\r\n".into()),
        p if p.starts_with("/chain/") => {
            let n: u32 = p["/chain/".len()..].parse().unwrap_or(0);
            if n == 0 {
                ("200 OK", String::new())
            } else {
                ("302 Found", format!("location: /chain/{}\r\n", n - 1))
            }
        }
        "/busy" => {
            // The first request is turned away for a second, the next one answered.
            if busy_seen.fetch_add(1, Ordering::SeqCst) == 0 {
                ("429 Too Many Requests", "retry-after: 1\r\n".into())
            } else {
                ("200 OK", String::new())
            }
        }
        "/down" => ("503 Service Unavailable", "retry-after: 3600\r\n".into()),
        "/slow" => {
            std::thread::sleep(Duration::from_secs(3));
            ("200 OK", String::new())
        }
        p if p.starts_with("/paced/") => {
            std::thread::sleep(Duration::from_millis(150));
            ("200 OK", String::new())
        }
        _ => ("404 Not Found", String::new()),
    };
    in_flight.fetch_sub(1, Ordering::SeqCst);
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status}\r\n{extra}content-length: 0\r\nconnection: close\r\n\r\n"
    )?;
    stream.flush()
}

fn service(name: &str, urls: &[String]) -> serde_json::Value {
    serde_json::json!({
        "rank": null,
        "connectorName": name,
        "officialVendorName": null,
        "officialApiDocsUrl": null,
        "bestBaseLink": null,
        "bestBaseLinkScore": null,
        "bestBaseLinkReason": null,
        "authType": "unknown",
        "authDocsUrl": null,
        "webhookDocsUrl": null,
        "rateLimitDocsUrl": null,
        "openapiUrl": null,
        "officialSdkUrl": null,
        "changelogUrl": null,
        "docsRequiresLogin": null,
        "confidence": "Low",
        "notes": null,
        "sources": urls,
    })
}

fn registry(dir_name: &str, services: Vec<serde_json::Value>) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wf-urls-{dir_name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("services.json");
    let registry = serde_json::json!({
        "version": 1, "updatedAt": "2026-03-01", "notes": null, "services": services,
    });
    std::fs::write(&path, registry.to_string()).expect("write registry");
    path
}

fn run(path: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_workerflow"))
        .arg("check-urls")
        .arg(path)
        .args(["--loopback-http"])
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("the binary runs")
}

#[test]
fn every_case_is_classified_and_failures_name_their_services() {
    let server = Server::start();
    let closed = {
        // Another loopback address, so that the URL sorts after the server's in the report.
        let listener = TcpListener::bind("127.0.0.2:0").expect("bind");
        listener.local_addr().expect("addr").port()
    }; // dropped: nothing listens there any more
    let u = |p: &str| server.url(p);
    let path = registry(
        "cases",
        vec![
            service(
                "Alpha",
                &[u("/ok"), u("/head-refused"), u("/login"), u("/gone")],
            ),
            service(
                "Beta",
                &[
                    u("/forbidden"),
                    u("/moved"),
                    u("/loop-a"),
                    u("/chain/5"),
                    u("/chain/6"),
                    u("/gone"),
                ],
            ),
            service(
                "Gamma",
                &[
                    u("/busy"),
                    u("/down"),
                    u("/slow"),
                    u("/broken"),
                    u("/moved-to-gone"),
                    format!("https://127.0.0.2:{closed}/closed"),
                ],
            ),
        ],
    );
    let started = std::time::Instant::now();
    let output = run(&path, &["--timeout", "1", "--retry-budget", "2"]);
    let elapsed = started.elapsed();
    let stdout = text(&output.stdout)
        .replace(&server.port.to_string(), "PORT")
        .replace(&closed.to_string(), "CLOSED");
    assert_eq!(text(&output.stderr), "", "no progress bar off a terminal");
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    // The connection-refused text comes from the OS; keep the line, not its wording.
    let stdout: String = stdout
        .lines()
        .map(|line| match line.find("connection failed: ") {
            Some(at) => format!("{}connection failed: <os error>", &line[..at]),
            None => line.to_owned(),
        })
        .map(|line| line + "\n")
        .collect();
    insta::assert_snapshot!("check_urls__cases", stdout);
    assert!(elapsed < Duration::from_secs(4), "took {elapsed:?}");

    let log = server.log.lock().expect("log").clone();
    assert!(log.contains(&"HEAD /head-refused".to_owned()));
    assert!(log.contains(&"GET /head-refused".to_owned()));
    assert_eq!(
        log.iter().filter(|l| l.ends_with(" /busy")).count(),
        2,
        "429 is retried once after Retry-After: {log:?}"
    );
    assert_eq!(
        log.iter().filter(|l| l.ends_with(" /down")).count(),
        1,
        "a Retry-After over the budget is not waited for"
    );
    let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
}

#[test]
fn json_lists_every_url_and_all_reachable_exits_0() {
    let server = Server::start();
    let path = registry(
        "json",
        vec![
            service("Alpha", &[server.url("/ok"), server.url("/moved")]),
            service("Beta", &[server.url("/ok"), server.url("/head-refused")]),
        ],
    );
    let output = run(&path, &["--format", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let report = serde_json::to_string_pretty(&report)
        .expect("JSON")
        .replace(&server.port.to_string(), "PORT")
        .replace(&path.display().to_string(), "REGISTRY");
    insta::assert_snapshot!("check_urls__json", report);

    let text_output = run(&path, &[]);
    assert_eq!(text(&text_output.stdout), "ok: 3 URLs reachable\n");
    let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
}

#[test]
fn at_most_two_requests_at_a_time_per_host() {
    let server = Server::start();
    let urls: Vec<String> = (0..8).map(|n| server.url(&format!("/paced/{n}"))).collect();
    let path = registry("per-host", vec![service("Alpha", &urls)]);
    let output = run(&path, &["--concurrency", "8"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stdout));
    assert_eq!(server.max_in_flight.load(Ordering::SeqCst), 2);
    let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
}

#[test]
fn an_invalid_registry_is_reported_not_checked() {
    let path = registry(
        "invalid",
        vec![service("Alpha", &["http://example.com/".into()])],
    );
    let output = run(&path, &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("error[WF205]"),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(text(&output.stdout), "");
    let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
}

#[test]
fn bad_options_are_usage_errors() {
    let output = Command::new(env!("CARGO_BIN_EXE_workerflow"))
        .args(["check-urls", "--timeout", "0"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains(
            "invalid value '0' for '--timeout <SECS>': expected a number of seconds above 0 and at most 3600"
        ),
        "{}",
        text(&output.stderr)
    );
}
