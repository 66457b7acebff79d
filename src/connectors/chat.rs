//! Chat incoming webhook (Google Chat compatible): `chat_notify` and `incident_create`
//! (docs/ROUTES.md 3.1, 3.2). The webhook URL is the secret; both routes post `{"text": …}`.

use workerflow_runtime::http::{ProviderDescription, ProviderReply, endpoint_host};
use workerflow_runtime::{ConnectorError, RouteContext, connector};

use super::input;
use super::outbound::{self, pointer_text};
use crate::registry::routes::{chat_notify, incident_create};

/// Posts `[WorkerFlow:<trace>] <text>` to the chat webhook.
#[connector(route = chat_notify)]
pub async fn notify_chat(
    ctx: &RouteContext<chat_notify::Route>,
    input: chat_notify::Input,
) -> Result<chat_notify::Output, ConnectorError> {
    let route = ctx.route_id();
    let webhook = ctx.secret(chat_notify::CHAT_WEBHOOK_URL);
    let url = outbound::webhook_url(route, webhook)?;
    let message = format!(
        "[WorkerFlow:{}] {}",
        ctx.trace_id(),
        input::trim(&input.text)
    );
    outbound::post_webhook(ctx, webhook, &url, message, "Chat webhook failed", describe).await?;
    Ok(chat_notify::Output {
        ok: true,
        route: route.to_owned(),
        delivered: true,
        endpoint_host: endpoint_host(&url),
    })
}

/// Posts a five-line incident notice; every field has a default.
#[connector(route = incident_create)]
pub async fn create_incident(
    ctx: &RouteContext<incident_create::Route>,
    input: incident_create::Input,
) -> Result<incident_create::Output, ConnectorError> {
    let route = ctx.route_id();
    let webhook = ctx.secret(incident_create::CHAT_WEBHOOK_URL);
    let url = outbound::webhook_url(route, webhook)?;
    let title = input::non_blank(input.title.as_deref()).unwrap_or("Incident");
    let severity = input::non_blank(input.severity.as_deref()).unwrap_or("info");
    // Details are sent as given: not trimmed, and an empty string stays empty.
    let details = input.details.as_deref().unwrap_or("No details provided");
    let message = format!(
        "[WorkerFlow Incident]\ntrace={}\nseverity={severity}\ntitle={title}\ndetails={details}",
        ctx.trace_id()
    );
    outbound::post_webhook(
        ctx,
        webhook,
        &url,
        message,
        "Incident webhook failed",
        describe,
    )
    .await?;
    Ok(incident_create::Output {
        ok: true,
        route: route.to_owned(),
        severity: severity.to_owned(),
        delivered: true,
    })
}

/// Google Chat errors carry `error.status` (`INVALID_ARGUMENT`) and `error.message`.
fn describe(reply: &ProviderReply<'_>) -> ProviderDescription {
    ProviderDescription {
        code: pointer_text(reply.json, "/error/status").map(str::to_owned),
        message: pointer_text(reply.json, "/error/message").map(str::to_owned),
        ..ProviderDescription::default()
    }
}
