//! README's "Your own connectors" walk, run as written in a scratch directory: `cargo new`,
//! `init --server`, `new`, `cargo test` (the scaffolded test and the examples pass), then the
//! crate's own server binary answers its route over HTTP (with the token; 401 without), its
//! `/openapi.json` lists that route and none of the toolkit's, and `diff` reports a removed
//! route.
//!
//! Two substitutions, both said in the README: the CLI is the one this test was built with (no
//! `cargo install`), and the toolkit's crates come from this checkout (`--path`), not from
//! `--git`/`--rev`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod common;
use common::{in_scratch_crate, text, workspace_root};

const TOKEN: &str = "walk-token-0123456789abcdef";
const LINEAR_KEY: &str = "lin_api_walk_SECRET";
const CONNECTION_KEY: &str = "walk:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// The commands of the README block after `<!-- walk:NAME`, one per line.
fn readme_block(name: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).expect("README");
    let marker = format!("<!-- walk:{name}");
    let (_, rest) = readme.split_once(&marker).expect("the README's walk block");
    let (_, rest) = rest.split_once("```sh\n").expect("its sh block");
    let (block, _) = rest.split_once("\n```").expect("the block's end");
    // Continuation lines (`\` at the end) join the next line.
    block
        .replace("\\\n", " ")
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// `PATH` with the CLI this test was built with first, as `cargo install` would put it.
fn path_with_cli(scratch: &Path) -> std::ffi::OsString {
    let bin = scratch.join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir bin");
    let link = bin.join("workerflow-registry");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_workerflow-registry"), &link)
        .expect("link the CLI");
    std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH")
}

/// Runs one line of the walk with `sh -c` in `dir`; fails the test with its output otherwise.
fn sh(dir: &Path, path: &std::ffi::OsStr, line: &str) -> std::process::Output {
    in_scratch_crate("sh", dir)
        .args(["-c", line])
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .env("GIT_AUTHOR_NAME", "Walk")
        .env("GIT_AUTHOR_EMAIL", "walk@example.com")
        .env("GIT_COMMITTER_NAME", "Walk")
        .env("GIT_COMMITTER_EMAIL", "walk@example.com")
        .env_remove("LINEAR_API_KEY")
        .env_remove("WORKERFLOW_LINEAR_BASE_URL")
        .output()
        .expect("sh runs")
}

#[test]
fn the_readme_walk_runs_as_written() {
    let scratch = std::env::temp_dir().join(format!("wf-own-connectors-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).expect("scratch");
    let path = path_with_cli(&scratch);
    let source = format!("--path '{}'", workspace_root().display());

    // Setup: cargo new, init, new, cargo test.
    let mut dir = scratch.clone();
    let setup = readme_block("setup");
    assert!(
        setup.iter().any(|l| l.contains("init --server")),
        "{setup:?}"
    );
    for line in setup {
        if line.starts_with("cargo install") {
            continue;
        }
        let line = line.replace(
            r#"--git "$WORKERFLOW_GIT" --rev "$WORKERFLOW_REV""#,
            &source,
        );
        let (command, cd) = match line.split_once(" && cd ") {
            Some((command, cd)) => (command.to_owned(), Some(cd.trim().to_owned())),
            None => (line.clone(), None),
        };
        let output = sh(&dir, &path, &command);
        assert!(
            output.status.success(),
            "`{command}` failed:\n{}\n{}",
            text(&output.stdout),
            text(&output.stderr)
        );
        if let Some(cd) = cd {
            dir = dir.join(cd);
            // The workspace's lock file: the same dependency versions, already built.
            std::fs::copy(workspace_root().join("Cargo.lock"), dir.join("Cargo.lock"))
                .expect("copy the lock file");
        }
    }
    assert!(dir.join("src/bin/server.rs").is_file());
    assert!(dir.join("tests/examples.rs").is_file());

    // Serve: the crate's own server binary, on a free port, against a loopback Linear.
    let serve = readme_block("serve");
    assert!(
        serve.iter().any(|l| l == "cargo run --bin server -- serve"),
        "{serve:?}"
    );
    let built = sh(&dir, &path, "cargo build --quiet --bin server");
    assert!(built.status.success(), "{}", text(&built.stderr));
    let (upstream, requests) = loopback_upstream();
    let server = Server::start(&dir, &upstream);

    let (status, body) = server.request(
        "POST",
        "/api/linear_issue_create",
        Some(TOKEN),
        Some(r#"{"title":"Deploy failed"}"#),
    );
    assert_eq!(status, 200, "{body}");
    let output: serde_json::Value = serde_json::from_str(&body).expect("JSON output");
    assert_eq!(output["ok"], true, "{body}");
    assert_eq!(output["route"], "linear_issue_create");
    assert_eq!(output["status"], 200);
    assert_eq!(output["response"], serde_json::json!({"id": "ISS-1"}));
    let sent = requests
        .recv_timeout(Duration::from_secs(10))
        .expect("the upstream request");
    assert!(sent.starts_with("POST / HTTP/1.1\r\n"), "{sent}");
    assert!(
        sent.to_ascii_lowercase().contains(&format!(
            "authorization: bearer {}",
            LINEAR_KEY.to_ascii_lowercase()
        )),
        "{sent}"
    );
    assert!(sent.ends_with(r#"{"title":"Deploy failed"}"#), "{sent}");

    let (status, body) = server.request("POST", "/api/linear_issue_create", None, Some("{}"));
    assert_eq!(status, 401, "{body}");
    assert!(body.contains(r#""code":"unauthorized""#), "{body}");

    let (status, openapi) = server.request("GET", "/openapi.json", Some(TOKEN), None);
    assert_eq!(status, 200);
    let openapi: serde_json::Value = serde_json::from_str(&openapi).expect("OpenAPI JSON");
    let paths: Vec<&str> = openapi["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .map(String::as_str)
        .collect();
    assert!(paths.contains(&"/api/linear_issue_create"), "{paths:?}");
    assert!(
        paths.iter().all(|p| !p.starts_with("/api/")
            || p.contains("linear")
            || *p == "/api/routes"
            || p.starts_with("/api/jobs")),
        "a toolkit route in the crate's document: {paths:?}"
    );
    server.stop();

    // OAuth: the same route declared as calling with a connection (an `oauth2` block on its
    // service, `auth: oauth2`, no fallback secret) gets the server's whole OAuth side without a
    // line of the crate's code: without a connection key the server refuses to start, with one
    // it runs the authorization flow and asks callers for a connection.
    declare_oauth(&dir.join("connector-registry/services.json"), "linear");
    let built = sh(&dir, &path, "cargo build --quiet --bin server");
    assert!(built.status.success(), "{}", text(&built.stderr));
    let refused = Server::command(&dir, &upstream)
        .output()
        .expect("the server binary runs");
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "routes linear_issue_create need OAuth connections, and no connection key is configured"
        ),
        "{stderr}"
    );
    let mut command = Server::command(&dir, &upstream);
    command
        .env("WORKERFLOW_CONNECTION_KEYS", CONNECTION_KEY)
        .env("LINEAR_CLIENT_ID", "walk-client")
        .env("LINEAR_CLIENT_SECRET", "walk-client-SECRET");
    let server = Server::spawn(command);
    let (status, body) = server.request(
        "POST",
        "/api/connections",
        Some(TOKEN),
        Some(r#"{"name":"team","service":"linear"}"#),
    );
    assert_eq!(status, 201, "{body}");
    let created: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let url = created["authorizationUrl"].as_str().unwrap_or_default();
    assert!(
        url.starts_with(
            "https://linear.app/oauth/authorize?response_type=code&client_id=walk-client&"
        ),
        "{url}"
    );
    assert!(url.contains("code_challenge_method=S256"), "{url}");
    let (status, body) = server.request(
        "POST",
        "/api/linear_issue_create",
        Some(TOKEN),
        Some(r#"{"title":"Deploy failed"}"#),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains(r#""code":"connection_required""#), "{body}");
    server.stop();

    // Diff: commit, remove the route, `diff HEAD` reports it.
    let diff = readme_block("diff");
    let commit = diff
        .iter()
        .find(|l| l.starts_with("git "))
        .expect("the commit line");
    let committed = sh(&dir, &path, commit);
    assert!(committed.status.success(), "{}", text(&committed.stderr));
    remove_route(
        &dir.join("connector-registry/services.json"),
        "linear_issue_create",
    );
    let command = diff.last().expect("the diff line");
    assert_eq!(command, "workerflow-registry diff HEAD");
    let reported = sh(&dir, &path, command);
    let shown = text(&reported.stderr) + &text(&reported.stdout);
    assert_eq!(reported.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("error[WF401]: breaking: route `linear_issue_create` of `linear` removed"),
        "{shown}"
    );

    let _ = std::fs::remove_dir_all(&scratch);
}

/// Gives service `id` Linear's OAuth app and makes each of its routes call with a connection.
fn declare_oauth(path: &Path, id: &str) {
    let mut registry: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("read the registry"))
            .expect("the registry is JSON");
    let services = registry["services"].as_array_mut().expect("services");
    // A new service's id may be derived from its name: find it by its route.
    let service = services
        .iter_mut()
        .find(|service| {
            service["id"] == id
                || service["runtime"]["routes"][0]["id"]
                    .as_str()
                    .is_some_and(|route| route.starts_with(&format!("{id}_")))
        })
        .expect("the service");
    service["oauth2"] = serde_json::json!({
        "authorizationUrl": "https://linear.app/oauth/authorize",
        "tokenUrl": "https://api.linear.app/oauth/token",
        "scopes": ["read", "write"],
        "scopeSeparator": ",",
        "pkce": true,
        "clientAuth": "client_secret_post",
        "rotatesRefreshTokens": false,
        "clientId": {"label": "Linear OAuth client id", "anyOf": ["LINEAR_CLIENT_ID"]},
        "clientSecret": {"label": "Linear OAuth client secret", "anyOf": ["LINEAR_CLIENT_SECRET"]},
        "sources": ["https://linear.app/developers/oauth-2-0-authentication"]
    });
    for route in service["runtime"]["routes"].as_array_mut().expect("routes") {
        route["auth"] = serde_json::json!("oauth2");
    }
    let text = serde_json::to_string_pretty(&registry).expect("serializes") + "\n";
    std::fs::write(path, text).expect("write the registry");
}

/// Deletes the route `id` from the registry at `path`, keeping the rest as it is.
fn remove_route(path: &Path, id: &str) {
    let mut registry: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("registry")).expect("JSON");
    for service in registry["services"].as_array_mut().expect("services") {
        if let Some(routes) = service
            .get_mut("runtime")
            .and_then(|runtime| runtime.get_mut("routes"))
            .and_then(serde_json::Value::as_array_mut)
        {
            routes.retain(|route| route["id"] != id);
        }
    }
    std::fs::write(
        path,
        serde_json::to_string_pretty(&registry).expect("JSON") + "\n",
    )
    .expect("write the registry");
}

/// A loopback "Linear": answers every request 200 `{"id":"ISS-1"}` and sends what it received
/// (request line, headers and body) down the channel.
fn loopback_upstream() -> (String, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let Some(request) = read_request(&mut stream) else {
                continue;
            };
            let answer = r#"{"id":"ISS-1"}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            );
            let _ = sender.send(request);
        }
    });
    (base, receiver)
}

/// One HTTP/1.1 request with its `content-length` body, as text.
fn read_request(stream: &mut TcpStream) -> Option<String> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut head = String::new();
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(head + &String::from_utf8_lossy(&body))
}

/// The crate's server binary, running.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(dir: &Path, upstream: &str) -> Server {
        Server::spawn(Server::command(dir, upstream))
    }

    /// `server serve` on a free port with the walk's token, key and loopback Linear.
    fn command(dir: &Path, upstream: &str) -> Command {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| workspace_root().join("target"), PathBuf::from);
        let mut command = Command::new(target.join("debug/server"));
        command
            .args(["serve", "--addr", "127.0.0.1:0", "--jobs", "memory"])
            .current_dir(dir)
            .env("WORKERFLOW_API_TOKEN", TOKEN)
            .env("LINEAR_API_KEY", LINEAR_KEY)
            .env("WORKERFLOW_LINEAR_BASE_URL", upstream)
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        command
    }

    fn spawn(mut command: Command) -> Server {
        let mut child = command.spawn().expect("the server binary starts");
        // Its first log line says where it listens.
        let stderr = child.stderr.take().expect("stderr");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some((_, addr)) = line.split_once("listening on http://") {
                    let addr = addr.split_whitespace().next().unwrap_or_default();
                    let _ = sender.send(addr.to_owned());
                }
            }
        });
        let addr = receiver
            .recv_timeout(Duration::from_secs(30))
            .expect("the server says where it listens");
        Server { child, addr }
    }

    /// One request on its own connection: the status and the body.
    fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let body = body.unwrap_or("");
        let auth = token.map_or_else(String::new, |token| {
            format!("authorization: Bearer {token}\r\n")
        });
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nhost: {}\r\n{auth}content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .expect("send");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("read");
        let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .expect("a status");
        (status, body.to_owned())
    }

    /// SIGTERM, then the exit status of a clean drain.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(status.success(), "the server exited with {status}");
                return;
            }
            assert!(Instant::now() < deadline, "the server did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}
