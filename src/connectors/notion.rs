//! Notion API: `notion_database_item_create` and `notion_database_item_get` (docs/ROUTES.md 3.8,
//! 3.9). Errors use Notion's own `code` and `message`.

use serde_json::{Map, Value, json};
use workerflow_runtime::http::header::{HeaderName, HeaderValue};
use workerflow_runtime::http::{
    HttpMethod, MessageShape, OutboundRequest, ProviderDescription, ProviderReply, header,
};
use workerflow_runtime::{ConnectorError, RouteContext, Secret, connector};

use super::input::{self, Problems};
use super::outbound::{self, BaseUrl, pointer_text};
use crate::registry::routes::{notion_database_item_create, notion_database_item_get};

const LABEL: &str = "Notion request failed";
const NOTION_VERSION: &str = "2022-06-28";

/// Creates a page (a database item) in a Notion database.
#[connector(route = notion_database_item_create)]
pub async fn create_database_item(
    ctx: &RouteContext<notion_database_item_create::Route>,
    input: notion_database_item_create::Input,
) -> Result<notion_database_item_create::Output, ConnectorError> {
    let route = ctx.route_id();
    let token = ctx.secret(notion_database_item_create::NOTION_TOKEN);
    let auth = outbound::bearer(route, token)?;
    // Properties and children are forwarded verbatim, key order included.
    let mut page = Map::new();
    page.insert(
        "parent".into(),
        json!({ "database_id": input::trim(&input.database_id) }),
    );
    page.insert("properties".into(), Value::Object(input.properties));
    if let Some(children) = input.children {
        page.insert("children".into(), Value::Array(children));
    }
    let base = outbound::base_url(ctx, notion_database_item_create::WORKERFLOW_NOTION_BASE_URL);
    let request = notion_request(route, base, auth, HttpMethod::POST, "/v1/pages")?
        .json(&Value::Object(page));
    let created = outbound::call_api(ctx, &request, LABEL, describe).await?;
    Ok(notion_database_item_create::Output {
        ok: true,
        route: route.to_owned(),
        page_id: outbound::text(&created, "id"),
        url: outbound::text(&created, "url"),
        archived: created.get("archived") == Some(&Value::Bool(true)),
        created_time: outbound::text(&created, "created_time"),
    })
}

/// Reads one Notion page. "`pageId` or `id`" and "not `.` or `..`" are checked here: the
/// contract states them in prose (an `anyOf` would cost the typed input).
#[connector(route = notion_database_item_get)]
pub async fn get_database_item(
    ctx: &RouteContext<notion_database_item_get::Route>,
    input: notion_database_item_get::Input,
) -> Result<notion_database_item_get::Output, ConnectorError> {
    let route = ctx.route_id();
    let token: &Secret = ctx.secret(notion_database_item_get::NOTION_TOKEN);
    let auth = outbound::bearer(route, token)?;
    let mut problems = Problems::new(route);
    let id = input::non_blank(input.page_id.as_deref()).or(input::non_blank(input.id.as_deref()));
    let segment = match id {
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
    let base = outbound::base_url(ctx, notion_database_item_get::WORKERFLOW_NOTION_BASE_URL);
    let path = format!("/v1/pages/{segment}");
    let request = notion_request(route, base, auth, HttpMethod::GET, &path)?.header(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let page = outbound::call_api(ctx, &request, LABEL, describe).await?;
    let property_count = page
        .get("properties")
        .and_then(Value::as_object)
        .map_or(0, Map::len);
    Ok(notion_database_item_get::Output {
        ok: true,
        route: route.to_owned(),
        page_id: outbound::text(&page, "id"),
        url: outbound::text(&page, "url"),
        archived: page.get("archived") == Some(&Value::Bool(true)),
        last_edited_time: outbound::text(&page, "last_edited_time"),
        property_count: i64::try_from(property_count).unwrap_or(i64::MAX),
    })
}

/// A Notion request: base URL, bearer header and `notion-version`.
fn notion_request(
    route: &'static str,
    base: BaseUrl<'_>,
    auth: HeaderValue,
    method: HttpMethod,
    path: &str,
) -> Result<OutboundRequest, ConnectorError> {
    let url = outbound::api_url(route, base, path)?;
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
