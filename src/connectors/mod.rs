//! The twelve baseline routes, one file per service (docs/ROUTES.md section 3).
//!
//! Each handler takes the unwrapped payload as a `serde_json::Value` and does its work in the
//! contract's order: its secrets are resolved and its settings checked before it runs; it checks
//! its secrets' values (a webhook URL, a token usable in a header), validates the input
//! (collecting every problem), and only then sends requests through the runtime's HTTP client.
//! Request building and error mapping of a service stay in its file.

mod chat;
mod github;
mod hubspot;
mod input;
mod lead;
mod notion;
mod openai;
mod outbound;
mod slack;
mod stripe;

/// The optional settings the routes read (docs/ROUTES.md 1.6, 2.7), for listings such as
/// `workerflow routes`.
pub mod settings {
    pub use super::github::{GITHUB_BASE_URL, GITHUB_REPO};
    pub use super::hubspot::HUBSPOT_BASE_URL;
    pub use super::notion::NOTION_BASE_URL;
    pub use super::openai::{OPENAI_BASE_URL, OPENAI_MODEL};
    pub use super::stripe::STRIPE_BASE_URL;
}

pub use chat::{create_incident, notify_chat};
pub use github::create_github_issue;
pub use hubspot::{upsert_contact, upsert_deal};
pub use lead::normalize_lead;
pub use notion::{create_database_item, get_database_item};
pub use openai::complete_chat;
pub use slack::post_slack_message;
pub use stripe::{create_payment_intent, upsert_customer};
