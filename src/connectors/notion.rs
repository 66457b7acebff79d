//! Notion API: `notion_database_item_create` and `notion_database_item_get` (docs/ROUTES.md 3.8,
//! 3.9). Errors use Notion's own `code` and `message`.

use serde_json::{Map, Value, json};
use workerflow_runtime::http::header::{HeaderName, HeaderValue};
use workerflow_runtime::http::{
    HttpMethod, MessageShape, OutboundRequest, ProviderDescription, ProviderReply, header,
};
use workerflow_runtime::{ConnectorError, RouteContext, Secret, Setting, connector};

use super::input::{self, Problems};
use super::outbound::{self, pointer_text};
use crate::registry::routes::{notion_database_item_create, notion_database_item_get};

pub static NOTION_BASE_URL: Setting = Setting::base_url(
    "WORKERFLOW_NOTION_BASE_URL",
    "Notion base URL",
    "https://api.notion.com",
);

const LABEL: &str = "Notion request failed";
const NOTION_VERSION: &str = "2022-06-28";

/// Creates a page (a database item) in a Notion database.
#[connector(route = notion_database_item_create, settings = [NOTION_BASE_URL])]
pub async fn create_database_item(
    ctx: &RouteContext<notion_database_item_create::Route>,
    input: Value,
) -> Result<Value, ConnectorError> {
    let route = ctx.route_id();
    let token = ctx.secret(notion_database_item_create::NOTION_TOKEN);
    let auth = outbound::bearer(route, token)?;
    let input = input::object(route, input)?;
    let mut problems = Problems::new(route);
    let database_id = problems.required(&input, "databaseId");
    let properties = match input.get("properties") {
        Some(Value::Object(properties)) if properties.is_empty() => {
            problems.add("properties", "\"properties\" must have at least 1 key");
            None
        }
        Some(Value::Object(properties)) => Some(properties),
        _ => {
            problems.add("properties", "\"properties\" must be an object");
            None
        }
    };
    let (database_id, properties) = problems.check(database_id.zip(properties))?;

    // Properties and children are forwarded verbatim, key order included.
    let mut page = Map::new();
    page.insert("parent".into(), json!({ "database_id": database_id }));
    page.insert("properties".into(), Value::Object(properties.clone()));
    if let Some(children) = input.get("children").filter(|c| c.is_array()) {
        page.insert("children".into(), children.clone());
    }
    let request =
        notion_request(ctx, auth, HttpMethod::POST, "/v1/pages")?.json(&Value::Object(page));
    let created = outbound::call_api(ctx, &request, LABEL, describe).await?;
    Ok(json!({
        "ok": true,
        "route": route,
        "pageId": outbound::text(&created, "id"),
        "url": outbound::text(&created, "url"),
        "archived": created.get("archived") == Some(&Value::Bool(true)),
        "createdTime": outbound::text(&created, "created_time"),
    }))
}

/// Reads one Notion page.
#[connector(route = notion_database_item_get, settings = [NOTION_BASE_URL])]
pub async fn get_database_item(
    ctx: &RouteContext<notion_database_item_get::Route>,
    input: Value,
) -> Result<Value, ConnectorError> {
    let route = ctx.route_id();
    let token: &Secret = ctx.secret(notion_database_item_get::NOTION_TOKEN);
    let auth = outbound::bearer(route, token)?;
    let input = input::object(route, input)?;
    let mut problems = Problems::new(route);
    let segment =
        match input::non_blank(&input, "pageId").or_else(|| input::non_blank(&input, "id")) {
            None => {
                problems.add("pageId", "requires \"pageId\" (or \"id\") string");
                None
            }
            Some(id) => {
                let segment = outbound::id_segment(id);
                if segment.is_none() {
                    problems.add("pageId", "\"pageId\" must not be \".\" or \"..\"");
                }
                segment
            }
        };
    let segment = problems.check(segment)?;

    // Sent with a JSON content type and no body, as the TypeScript runtime does.
    let request = notion_request(ctx, auth, HttpMethod::GET, &format!("/v1/pages/{segment}"))?
        .header(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    let page = outbound::call_api(ctx, &request, LABEL, describe).await?;
    let property_count = page
        .get("properties")
        .and_then(Value::as_object)
        .map_or(0, Map::len);
    Ok(json!({
        "ok": true,
        "route": route,
        "pageId": outbound::text(&page, "id"),
        "url": outbound::text(&page, "url"),
        "archived": page.get("archived") == Some(&Value::Bool(true)),
        "lastEditedTime": outbound::text(&page, "last_edited_time"),
        "propertyCount": property_count,
    }))
}

/// A Notion request: base URL, bearer header and `notion-version`.
fn notion_request<R>(
    ctx: &RouteContext<R>,
    auth: HeaderValue,
    method: HttpMethod,
    path: &str,
) -> Result<OutboundRequest, ConnectorError> {
    let url = outbound::api_url(ctx, &NOTION_BASE_URL, path)?;
    Ok(OutboundRequest::api(method, url)
        .header(header::AUTHORIZATION, auth)
        .header(
            HeaderName::from_static("notion-version"),
            HeaderValue::from_static(NOTION_VERSION),
        ))
}

/// `<status> <code> <message>` from Notion's JSON error, with its defaults.
fn describe(reply: &ProviderReply<'_>) -> ProviderDescription {
    let code = pointer_text(reply.json, "/code").unwrap_or("notion_error");
    let message = pointer_text(reply.json, "/message").unwrap_or("Unknown Notion error");
    ProviderDescription {
        code: Some(code.to_owned()),
        message: Some(message.to_owned()),
        details: None,
        shape: MessageShape::Coded,
    }
}
