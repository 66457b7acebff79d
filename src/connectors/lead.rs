//! `lead_normalizer` (docs/ROUTES.md 3.12): a deterministic transform with no outbound request.
//! It still declares the Google AI key so configurations and health reports keep their shape;
//! the key is never read.

use workerflow_runtime::{ConnectorError, RouteContext, connector};

use super::input::non_blank;
use crate::registry::routes::lead_normalizer;

/// Normalizes a lead's name, email, phone and source; every field has a default.
#[connector(route = lead_normalizer)]
pub fn normalize_lead(
    ctx: &RouteContext<lead_normalizer::Route>,
    input: lead_normalizer::Input,
) -> Result<lead_normalizer::Output, ConnectorError> {
    let full_name = match non_blank(input.full_name.as_deref()) {
        Some(full_name) => full_name.to_owned(),
        None => {
            let parts: Vec<&str> = [&input.first_name, &input.last_name]
                .into_iter()
                .filter_map(|part| non_blank(part.as_deref()))
                .collect();
            if parts.is_empty() {
                "Unknown".to_owned()
            } else {
                parts.join(" ")
            }
        }
    };
    let email = non_blank(input.email.as_deref())
        .map_or_else(|| "unknown@example.com".to_owned(), str::to_lowercase);
    // ASCII digits only: Arabic-Indic and other Unicode digits are dropped.
    let phone: String = input
        .phone
        .as_deref()
        .map(super::input::trim)
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '+')
        .collect();
    let source = non_blank(input.source.as_deref()).unwrap_or("unspecified");
    Ok(lead_normalizer::Output {
        ok: true,
        route: ctx.route_id().to_owned(),
        normalized: lead_normalizer::OutputNormalized {
            full_name,
            email,
            phone,
            source: source.to_owned(),
        },
    })
}
