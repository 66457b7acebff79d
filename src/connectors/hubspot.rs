//! HubSpot CRM API: `hubspot_contact_upsert` and `hubspot_deal_upsert` (docs/ROUTES.md 3.10,
//! 3.11). Both search on one property, then PATCH the object found or POST a new one. A call
//! that names an OAuth connection sends its access token; any other, the private app token.

use serde_json::{Map, Value, json};
use workerflow_runtime::http::header::HeaderValue;
use workerflow_runtime::http::{
    HttpMethod, MessageShape, OutboundRequest, ProviderDescription, ProviderReply, header,
};
use workerflow_runtime::{ConnectorError, OAuthRoute, RouteContext, connector};

use super::input::{self, Problems};
use super::outbound::{self, BaseUrl, pointer_text};
use crate::registry::routes::{hubspot_contact_upsert, hubspot_deal_upsert};

const LABEL: &str = "HubSpot request failed";

/// Finds a contact (by `idProperty = idValue`, else by email) and updates it, or creates one.
/// "`idProperty` and `idValue` together" is checked here: a blank one counts as not given, which
/// the schema does not say.
#[connector(route = hubspot_contact_upsert)]
pub async fn upsert_contact(
    ctx: &RouteContext<hubspot_contact_upsert::Route>,
    input: hubspot_contact_upsert::Input,
) -> Result<hubspot_contact_upsert::Output, ConnectorError> {
    let route = ctx.route_id();
    let auth = match ctx.connection() {
        Some(_) => None,
        None => Some(outbound::bearer(
            route,
            ctx.secret(hubspot_contact_upsert::HUBSPOT_ACCESS_TOKEN),
        )?),
    };
    let mut problems = Problems::new(route);
    let email = input::trim(&input.email).to_lowercase();
    let id_property = input::non_blank(input.id_property.as_deref());
    let id_value = input::non_blank(input.id_value.as_deref());
    let key = match (id_property, id_value) {
        (Some(property), Some(value)) => Some((property.to_owned(), value.to_owned())),
        (None, None) | (Some("email"), None) => None,
        (Some(_), None) => {
            problems.add(
                "idValue",
                "\"idValue\" is required when \"idProperty\" is given",
            );
            None
        }
        (None, Some(_)) => {
            problems.add(
                "idProperty",
                "\"idProperty\" is required when \"idValue\" is given",
            );
            None
        }
    };
    problems.finish()?;
    let (id_property, id_value) = key.unwrap_or_else(|| ("email".to_owned(), email.clone()));

    let mut properties = normalized_properties(input.properties.as_ref());
    properties.insert("email".into(), Value::String(email.clone()));
    properties.insert(id_property.clone(), Value::String(id_value.clone()));

    let hubspot = HubSpot {
        ctx,
        base: outbound::base_url(ctx, hubspot_contact_upsert::WORKERFLOW_HUBSPOT_BASE_URL),
        auth,
        object: "contacts",
    };
    let (id, created) = hubspot.upsert(&id_property, &id_value, properties).await?;
    Ok(hubspot_contact_upsert::Output {
        ok: true,
        route: route.to_owned(),
        id,
        email,
        created,
        id_property,
    })
}

/// Finds a deal by `idProperty = idValue` and updates it, or creates one.
#[connector(route = hubspot_deal_upsert)]
pub async fn upsert_deal(
    ctx: &RouteContext<hubspot_deal_upsert::Route>,
    input: hubspot_deal_upsert::Input,
) -> Result<hubspot_deal_upsert::Output, ConnectorError> {
    let route = ctx.route_id();
    let auth = match ctx.connection() {
        Some(_) => None,
        None => Some(outbound::bearer(
            route,
            ctx.secret(hubspot_deal_upsert::HUBSPOT_ACCESS_TOKEN),
        )?),
    };
    let id_property = input::trim(&input.id_property);
    let id_value = input::trim(&input.id_value);

    let mut properties = normalized_properties(input.properties.as_ref());
    properties.insert(id_property.to_owned(), Value::String(id_value.to_owned()));

    let hubspot = HubSpot {
        ctx,
        base: outbound::base_url(ctx, hubspot_deal_upsert::WORKERFLOW_HUBSPOT_BASE_URL),
        auth,
        object: "deals",
    };
    let (id, created) = hubspot.upsert(id_property, id_value, properties).await?;
    Ok(hubspot_deal_upsert::Output {
        ok: true,
        route: route.to_owned(),
        id,
        created,
        id_property: id_property.to_owned(),
        id_value: id_value.to_owned(),
    })
}

/// The caller's properties with keys trimmed (empty ones dropped) and only string, number and
/// boolean values kept. Later assignments replace a value in place; new keys are appended.
fn normalized_properties(given: Option<&Map<String, Value>>) -> Map<String, Value> {
    let mut properties = Map::new();
    if let Some(given) = given {
        for (key, value) in given {
            let key = input::trim(key);
            if !key.is_empty()
                && matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_))
            {
                properties.insert(key.to_owned(), value.clone());
            }
        }
    }
    properties
}

/// The HubSpot transport of one call, for one object type.
struct HubSpot<'a, R> {
    ctx: &'a RouteContext<R>,
    base: BaseUrl<'a>,
    /// The private app token's header; `None` when the call names an OAuth connection.
    auth: Option<HeaderValue>,
    object: &'static str,
}

impl<R: OAuthRoute> HubSpot<'_, R> {
    /// Search, then PATCH the object found or POST a new one: `(id, created)`. No call carries
    /// an idempotency key, so the search and the create are not retried after a 500.
    async fn upsert(
        &self,
        property: &str,
        value: &str,
        properties: Map<String, Value>,
    ) -> Result<(String, bool), ConnectorError> {
        let search = json!({
            "filterGroups": [{"filters": [{"propertyName": property, "operator": "EQ", "value": value}]}],
            "limit": 1,
        });
        let found = self
            .send(
                HttpMethod::POST,
                &format!("/crm/v3/objects/{}/search", self.object),
                &search,
            )
            .await?;
        let existing = found
            .get("results")
            .and_then(|results| results.pointer("/0/id"))
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .map(str::to_owned);
        let body = json!({ "properties": properties });
        let (answer, created) = match &existing {
            Some(id) => {
                let path = format!(
                    "/crm/v3/objects/{}/{}",
                    self.object,
                    outbound::found_id_segment(id)
                );
                (self.send(HttpMethod::PATCH, &path, &body).await?, false)
            }
            None => {
                let path = format!("/crm/v3/objects/{}", self.object);
                (self.send(HttpMethod::POST, &path, &body).await?, true)
            }
        };
        let id = outbound::non_empty(&answer, "id")
            .map(str::to_owned)
            .or(existing)
            .unwrap_or_default();
        Ok((id, created))
    }

    async fn send(
        &self,
        method: HttpMethod,
        path: &str,
        body: &Value,
    ) -> Result<Map<String, Value>, ConnectorError> {
        let url = outbound::api_url(self.ctx.route_id(), self.base, path)?;
        let request = OutboundRequest::api(method, url).json(body);
        match &self.auth {
            Some(auth) => {
                let request = request.header(header::AUTHORIZATION, auth.clone());
                outbound::call_api(self.ctx, &request, LABEL, describe).await
            }
            None => outbound::call_api_with_connection(self.ctx, &request, LABEL, describe).await,
        }
    }
}

/// `<status> <code> <message>` where the code comes from `category` and `subCategory`; details
/// keep HubSpot's correlation id and context.
fn describe(reply: &ProviderReply<'_>) -> ProviderDescription {
    let field = |name: &str| pointer_text(reply.json, &format!("/{name}"));
    let parts: Vec<&str> = [field("category"), field("subCategory")]
        .into_iter()
        .flatten()
        .collect();
    let code = if parts.is_empty() {
        "hubspot_error".to_owned()
    } else {
        format!("hubspot_{}", parts.join("_")).to_lowercase()
    };
    let message = field("message")
        .or(Some(reply.excerpt).filter(|e| !e.is_empty()))
        .or(reply.status.canonical_reason())
        .unwrap_or_default();
    let string_or_null = |name: &str| {
        reply
            .json
            .and_then(|json| json.get(name))
            .and_then(Value::as_str)
            .map_or(Value::Null, |text| Value::String(text.to_owned()))
    };
    let context = reply
        .json
        .and_then(|json| json.get("context"))
        .filter(|context| context.is_object())
        .cloned()
        .unwrap_or_else(|| json!({}));
    ProviderDescription {
        code: Some(code),
        message: Some(message.to_owned()),
        details: Some(json!({
            "category": string_or_null("category"),
            "subCategory": string_or_null("subCategory"),
            "status": string_or_null("status"),
            "correlationId": string_or_null("correlationId"),
            "context": context,
        })),
        shape: MessageShape::Coded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_are_normalized_in_place() {
        let given = json!({" firstname ":"Ava","n":1,"b":true,"o":{},"a":[],"z":null,"":"x","email":"other@x"});
        let mut properties = normalized_properties(given.as_object());
        properties.insert("email".into(), json!("ava@example.com"));
        assert_eq!(
            Value::Object(properties).to_string(),
            r#"{"firstname":"Ava","n":1,"b":true,"email":"ava@example.com"}"#
        );
    }
}
