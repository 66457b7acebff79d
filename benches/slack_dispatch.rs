//! 1,000 sequential `slack_message` dispatches against a loopback server, and in the same run
//! 1,000 bare reqwest POSTs of the same body to the same server: the difference is what the
//! runtime adds per call (route lookup, secret resolution, envelope, validation, request
//! building, the retry policy's bookkeeping, output).
//!
//! `cargo bench --bench slack_dispatch` (prints a Markdown section for bench/RESULTS.md).

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use workerflow_runtime::http::{HttpClient, HttpPolicy};
use workerflow_runtime::{MapSecrets, TraceId};

const CALLS: usize = 1_000;
const ROUNDS: usize = 7;

fn main() {
    let server = std::thread::spawn(serve);
    let address = match server_address() {
        Some(address) => address,
        None => {
            eprintln!("the loopback server did not start");
            return;
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let webhook = format!("http://{address}/services/T000/B000/XXXX");
    let secrets = MapSecrets::new().with("SLACK_WEBHOOK_URL", webhook.clone());
    let client = HttpClient::new(HttpPolicy::default()).expect("the HTTP client");
    let registry = workerflow::registry::linked()
        .expect("one handler per route")
        .with_http(client);
    let bare = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("workerflow-runtime")
        .build()
        .expect("a reqwest client");

    let bare_loop = || async {
        let start = Instant::now();
        for _ in 0..CALLS {
            let response = bare
                .post(&webhook)
                .header("content-type", "application/json")
                .body(r#"{"text":"[WorkerFlow:bench] hi"}"#)
                .send()
                .await
                .expect("bare POST");
            assert!(response.status().is_success());
            response.bytes().await.expect("body");
        }
        start.elapsed()
    };
    let dispatch_loop = || async {
        let start = Instant::now();
        for _ in 0..CALLS {
            let trace = TraceId::new("bench").expect("trace id");
            let output = registry
                .dispatch_with_trace(
                    "slack_message",
                    json!({"body": {"text": "hi"}}),
                    &secrets,
                    trace,
                )
                .await
                .expect("delivered");
            assert_eq!(output["delivered"], true);
        }
        start.elapsed()
    };

    // Warm up connections, allocator and caches.
    runtime.block_on(bare_loop());
    runtime.block_on(dispatch_loop());
    let mut bare_times = Vec::with_capacity(ROUNDS);
    let mut dispatch_times = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        bare_times.push(runtime.block_on(bare_loop()));
        dispatch_times.push(runtime.block_on(dispatch_loop()));
    }
    let bare = median(&mut bare_times);
    let dispatch = median(&mut dispatch_times);
    let per_call = |total: Duration| total.as_secs_f64() * 1e6 / CALLS as f64;
    let overhead = per_call(dispatch) - per_call(bare);
    println!("## slack_message dispatch over loopback\n");
    println!(
        "{CALLS} sequential calls per loop, median of {ROUNDS} alternating rounds, one HTTP/1.1 keep-alive connection, `cargo bench --bench slack_dispatch`.\n"
    );
    println!("| loop | total | per call | calls/s |");
    println!("| --- | --- | --- | --- |");
    for (name, total) in [
        ("bare reqwest POST", bare),
        ("`dispatch(\"slack_message\")`", dispatch),
    ] {
        println!(
            "| {name} | {:.1} ms | {:.1} µs | {:.0} |",
            total.as_secs_f64() * 1e3,
            per_call(total),
            CALLS as f64 / total.as_secs_f64()
        );
    }
    println!("\nRuntime overhead per call (dispatch minus bare POST): {overhead:.1} µs.");
    drop(server);
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

static ADDRESS: std::sync::OnceLock<std::net::SocketAddr> = std::sync::OnceLock::new();

fn server_address() -> Option<std::net::SocketAddr> {
    for _ in 0..500 {
        if let Some(address) = ADDRESS.get() {
            return Some(*address);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

/// A minimal keep-alive HTTP/1.1 server on its own thread: answers every request `200 ok`.
fn serve() {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    runtime.block_on(async {
        let Ok(listener) = tokio::net::TcpListener::bind("127.0.0.1:0").await else {
            return;
        };
        if let Ok(address) = listener.local_addr() {
            let _ = ADDRESS.set(address);
        }
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(connection(socket));
        }
    });
}

async fn connection(mut socket: tokio::net::TcpStream) {
    let mut buffer = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        // One request: the head, then content-length bytes of body.
        let (head_end, length) = loop {
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                break (end + 4, length);
            }
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(read) => buffer.extend_from_slice(&chunk[..read]),
            }
        };
        while buffer.len() < head_end + length {
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(read) => buffer.extend_from_slice(&chunk[..read]),
            }
        }
        buffer.drain(..head_end + length);
        if socket
            .write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok",
            )
            .await
            .is_err()
        {
            return;
        }
    }
}
