//! `lead_normalizer` (docs/ROUTES.md 3.12): a deterministic transform with no outbound request.
//! It still declares the Google AI key so configurations and health reports keep their shape;
//! the key is never read.

use serde_json::{Value, json};
use workerflow_runtime::{ConnectorError, RouteContext, connector};

use super::input;
use crate::registry::routes::lead_normalizer;

/// Normalizes a lead's name, email, phone and source; any input works.
#[connector(route = lead_normalizer)]
pub fn normalize_lead(
    ctx: &RouteContext<lead_normalizer::Route>,
    input: Value,
) -> Result<Value, ConnectorError> {
    let input = input::object_or_empty(input);
    let full_name = match input::non_blank(&input, "fullName") {
        Some(full_name) => full_name.to_owned(),
        None => {
            let parts: Vec<&str> = ["firstName", "lastName"]
                .into_iter()
                .filter_map(|field| input::non_blank(&input, field))
                .collect();
            if parts.is_empty() {
                "Unknown".to_owned()
            } else {
                parts.join(" ")
            }
        }
    };
    let email = input::non_blank(&input, "email")
        .map_or_else(|| "unknown@example.com".to_owned(), str::to_lowercase);
    // ASCII digits only: Arabic-Indic and other Unicode digits are dropped.
    let phone: String = input::string(&input, "phone")
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '+')
        .collect();
    let source = input::non_blank(&input, "source").unwrap_or("unspecified");
    Ok(json!({
        "ok": true,
        "route": ctx.route_id(),
        "normalized": {
            "fullName": full_name,
            "email": email,
            "phone": phone,
            "source": source,
        },
    }))
}
