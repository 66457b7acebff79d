//! The connector harness (docs/ROUTES.md section 4): every route against a real HTTP server on
//! loopback. One test binary, so the suite links once.

mod common;
mod contracts;
mod examples_serve;
mod github_openai;
#[path = "../common/log_capture.rs"]
mod log_capture;
mod notion_hubspot;
#[path = "../common/registry_config.rs"]
mod registry_config;
mod retry_timing;
mod sentinel;
mod stripe;
mod support;
mod webhooks;
