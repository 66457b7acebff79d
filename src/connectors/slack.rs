//! Slack incoming webhook: `slack_message` (docs/ROUTES.md 3.3). The destination comes only from
//! `SLACK_WEBHOOK_URL`; a caller-supplied `webhookUrl` is refused (by the contract), not ignored.

use workerflow_runtime::http::{ProviderDescription, ProviderReply, endpoint_host};
use workerflow_runtime::{ConnectorError, RouteContext, connector};

use super::input;
use super::outbound;
use crate::registry::routes::slack_message;

/// Posts `[WorkerFlow:<trace>] <text>` to the Slack webhook. The contract refuses a caller's
/// `webhookUrl` (accepting one would let any caller redirect the post around the secret), so the
/// runtime rejects it before this runs.
#[connector(route = slack_message)]
pub async fn post_slack_message(
    ctx: &RouteContext<slack_message::Route>,
    input: slack_message::Input,
) -> Result<slack_message::Output, ConnectorError> {
    let route = ctx.route_id();
    let webhook = ctx.secret(slack_message::SLACK_WEBHOOK_URL);
    let url = outbound::webhook_url(route, webhook)?;
    let message = format!(
        "[WorkerFlow:{}] {}",
        ctx.trace_id(),
        input::trim(&input.text)
    );
    outbound::post_webhook(
        ctx,
        webhook,
        &url,
        message,
        "Slack webhook failed",
        describe,
    )
    .await?;
    Ok(slack_message::Output {
        ok: true,
        route: route.to_owned(),
        delivered: true,
        endpoint_host: endpoint_host(&url),
    })
}

/// Slack answers errors with a bare token such as `invalid_payload` or `channel_not_found`.
fn describe(reply: &ProviderReply<'_>) -> ProviderDescription {
    ProviderDescription {
        code: is_slack_code(reply.text).then(|| reply.text.to_owned()),
        ..ProviderDescription::default()
    }
}

/// `^[a-z][a-z0-9_]{0,63}$`
fn is_slack_code(text: &str) -> bool {
    let bytes = text.as_bytes();
    matches!(bytes.first(), Some(b'a'..=b'z'))
        && bytes.len() <= 64
        && bytes
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::is_slack_code;

    #[test]
    fn slack_codes() {
        assert!(is_slack_code("invalid_payload"));
        assert!(is_slack_code("a"));
        assert!(is_slack_code(&format!("a{}", "b".repeat(63))));
        assert!(!is_slack_code(&format!("a{}", "b".repeat(64))));
        for not_a_code in ["", "_a", "1a", "Invalid", "no service", "a-b", "ok\n"] {
            assert!(!is_slack_code(not_a_code), "{not_a_code:?}");
        }
    }
}
