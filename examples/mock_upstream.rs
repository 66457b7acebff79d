//! A fast loopback stand-in for the upstreams of the serve load test (`bench/serve_load.sh`):
//! answers every `POST` like a Slack incoming webhook (`200 ok`) and counts the deliveries;
//! `GET /count` returns the count as plain text.
//!
//! `cargo run --release --example mock_upstream -- 127.0.0.1:9900`
//!
//! It runs on one thread so that it takes as little as possible of the machine from the server
//! under test. (`lead_normalizer` makes no outbound request, docs/ROUTES.md 3.12, so only the
//! Slack webhook needs a stand-in.)

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};

async fn deliver(State(count): State<Arc<AtomicU64>>) -> &'static str {
    count.fetch_add(1, Ordering::Relaxed);
    "ok"
}

async fn count(State(count): State<Arc<AtomicU64>>) -> String {
    count.load(Ordering::Relaxed).to_string()
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9900".to_owned());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let deliveries = Arc::new(AtomicU64::new(0));
        let app = Router::new()
            .route("/count", get(count))
            .fallback(post(deliver))
            .with_state(deliveries);
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        eprintln!(
            "mock upstream listening on http://{}",
            listener.local_addr()?
        );
        axum::serve(listener, app).await
    })
}
