//! A `workerflow serve` child's stderr, shared by the test binaries that run the binary: its
//! lines on a channel, and the wait for the `listening on http://…` line.

use std::io::{BufRead, BufReader};
use std::process::Child;
use std::sync::mpsc::Receiver;
use std::time::Duration;

/// Streams the child's stderr (piped) line by line from a thread of its own.
pub fn stderr_lines(child: &mut Child) -> Receiver<String> {
    let stderr = child.stderr.take().expect("stderr is piped");
    let (send, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    lines
}

/// Reads lines until `listening on http://…`: the base URL and the lines so far, or (after 20 s
/// without a line) the lines so far as the error.
pub fn wait_listening(lines: &Receiver<String>) -> Result<(String, Vec<String>), Vec<String>> {
    let mut seen = Vec::new();
    loop {
        let Ok(line) = lines.recv_timeout(Duration::from_secs(20)) else {
            return Err(seen);
        };
        let base = line
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .map(str::to_owned);
        seen.push(line);
        if let Some(base) = base {
            return Ok((base, seen));
        }
    }
}
