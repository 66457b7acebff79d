//! The connector harness (docs/ROUTES.md section 4): every route against a real HTTP server on
//! loopback. One test binary, so the suite links once.

mod common;
mod contracts;
mod examples_serve;
mod github_openai;
mod notion_hubspot;
mod retry_timing;
mod sentinel;
mod stripe;
mod support;
mod webhooks;

use workerflow_test_support::{log_capture, registry_config};
