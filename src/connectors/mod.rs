//! The twelve baseline routes, one file per service (docs/ROUTES.md section 3).
//!
//! Each handler takes its route's generated `Input` and returns its `Output` (docs/ROUTES.md 1.3):
//! the runtime has resolved its secrets and settings (both declared in the route's contract) and
//! checked the input against the contract's schema before it runs. It checks its secrets' values
//! (a webhook URL, a token usable in a header) and what the schema cannot say, and only then
//! sends requests through the runtime's HTTP client. Request building and error mapping of a
//! service stay in its file.

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

pub use chat::{create_incident, notify_chat};
pub use github::create_github_issue;
pub use hubspot::{upsert_contact, upsert_deal};
pub use lead::normalize_lead;
pub use notion::{create_database_item, get_database_item};
pub use openai::complete_chat;
pub use slack::post_slack_message;
pub use stripe::{create_payment_intent, upsert_customer};
