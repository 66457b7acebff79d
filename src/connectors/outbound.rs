//! What every service file needs to build requests: checked secrets (docs/ROUTES.md 1.6), API
//! URLs from base-URL settings (2.7), form bodies, and the JSON reading of provider answers.

use serde_json::{Map, Value};
use url::Url;
use workerflow_runtime::http::header::HeaderValue;
use workerflow_runtime::http::{
    HttpFailure, HttpResponse, OutboundRequest, ProviderDescription, ProviderReply, path_segment,
};
use workerflow_runtime::{
    AuthorizedSendError, ConfigProblem, ConnectorError, OAuthRoute, RouteContext, Secret, Setting,
    SettingOf,
};

/// A webhook secret as a URL: absolute `http`/`https` with a host, used exactly as configured.
pub(crate) fn webhook_url(route: &'static str, secret: &Secret) -> Result<Url, ConnectorError> {
    Url::parse(secret.expose())
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https"))
        .filter(|url| url.host_str().is_some_and(|host| !host.is_empty()))
        .ok_or_else(|| {
            ConnectorError::config(route, secret.unusable("not an absolute http(s) URL"))
        })
}

/// `authorization: Bearer <token>`, or the configuration error for a token that cannot be a
/// header value.
pub(crate) fn bearer(route: &'static str, secret: &Secret) -> Result<HeaderValue, ConnectorError> {
    HeaderValue::try_from(format!("Bearer {}", secret.expose()))
        .map_err(|_| ConnectorError::config(route, secret.unusable("not a valid header value")))
}

/// A route's base-URL setting as the call resolved it: the value (or the contract's default)
/// and its declaration, for messages.
#[derive(Clone, Copy)]
pub(crate) struct BaseUrl<'a> {
    root: &'a str,
    setting: Option<&'static Setting>,
}

/// The base URL setting `setting` of the route (`ctx.setting(<route>::WORKERFLOW_…_BASE_URL)`).
pub(crate) fn base_url<R, S: SettingOf<R> + Copy>(
    ctx: &RouteContext<R>,
    setting: S,
) -> BaseUrl<'_> {
    BaseUrl {
        root: ctx.setting(setting).unwrap_or_default(),
        setting: ctx.declared_setting(setting),
    }
}

/// `<base URL without trailing '/'><path>`; the base comes from a checked setting.
pub(crate) fn api_url(
    route: &'static str,
    base: BaseUrl<'_>,
    path: &str,
) -> Result<Url, ConnectorError> {
    let root = base.root.trim_end_matches('/');
    Url::parse(&format!("{root}{path}")).map_err(|_| {
        let (label, name) = base
            .setting
            .map_or(("base URL", ""), |setting| (setting.label, setting.name));
        ConnectorError::config(
            route,
            ConfigProblem::Unusable {
                label: label.to_owned(),
                name: name.to_owned(),
                reason: "not an absolute http(s) URL".to_owned(),
            },
        )
    })
}

/// An id placed in a path: `.` and `..` refused (they would be resolved as relative paths),
/// everything else encoded as one segment.
pub(crate) fn id_segment(id: &str) -> Option<String> {
    (!matches!(id, "." | "..")).then(|| path_segment(id))
}

/// An id a provider returned, as one path segment; `.` and `..` have their dots encoded so they
/// stay literal ids instead of relative paths.
pub(crate) fn found_id_segment(id: &str) -> String {
    id_segment(id).unwrap_or_else(|| id.replace('.', "%2E"))
}

/// `application/x-www-form-urlencoded` as the WHATWG URL standard defines it.
pub(crate) fn form<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        serializer.append_pair(key, value);
    }
    serializer.finish()
}

/// A string read from a provider object, `""` when it is not a string.
pub(crate) fn text(object: &Map<String, Value>, key: &str) -> String {
    object
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// A non-empty string read from a provider object.
pub(crate) fn non_empty<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    object
        .get(key)
        .and_then(Value::as_str)
        .filter(|text| !text.is_empty())
}

/// The string at a JSON pointer, when it is a non-empty string.
pub(crate) fn pointer_text<'a>(json: Option<&'a Value>, pointer: &str) -> Option<&'a str> {
    json?
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|text| !text.is_empty())
}

/// OpenAI and Stripe error bodies: the code is `error.code`, else `error.type`; the message is
/// `error.message`.
pub(crate) fn describe_error_object(reply: &ProviderReply<'_>) -> ProviderDescription {
    let code = pointer_text(reply.json, "/error/code")
        .or_else(|| pointer_text(reply.json, "/error/type"))
        .map(str::to_owned);
    ProviderDescription {
        code,
        message: pointer_text(reply.json, "/error/message").map(str::to_owned),
        ..ProviderDescription::default()
    }
}

/// A trace id where a header needs it: always valid for the runtime's trace ids, but checked so
/// that a malformed one is invalid input rather than a malformed header (docs/ROUTES.md 1.5).
pub(crate) fn header_text(
    route: &'static str,
    field: &str,
    value: String,
) -> Result<HeaderValue, ConnectorError> {
    HeaderValue::try_from(value).map_err(|_| {
        ConnectorError::invalid_input(
            route,
            field,
            format!("{route}: \"{field}\" cannot be sent in an HTTP header"),
        )
    })
}

/// Posts `{"text": text}` to a webhook (chat and Slack): any 2xx is delivered, its body unread.
/// On failure the excerpt hides the secrets and the webhook's URL, path and query.
pub(crate) async fn post_webhook<R>(
    ctx: &RouteContext<R>,
    webhook: &Secret,
    url: &Url,
    text: String,
    label: &str,
    describe: fn(&ProviderReply<'_>) -> ProviderDescription,
) -> Result<(), ConnectorError> {
    let request = OutboundRequest::webhook(url.clone()).json(&serde_json::json!({ "text": text }));
    match ctx.send(&request).await {
        Ok(_delivered) => Ok(()),
        Err(failure) => {
            let redactor = ctx.redactor().webhook(webhook.expose(), url);
            Err(failure.into_error(ctx.route_id(), label, &redactor, describe))
        }
    }
}

/// Sends an API request and reads the 2xx answer as a JSON object (non-objects read as `{}`);
/// failures become the route's errors under `label`, described by the service's `describe`.
pub(crate) async fn call_api<R>(
    ctx: &RouteContext<R>,
    request: &OutboundRequest,
    label: &str,
    describe: fn(&ProviderReply<'_>) -> ProviderDescription,
) -> Result<Map<String, Value>, ConnectorError> {
    let sent = ctx.send(request).await;
    read_answer(ctx, sent, label, describe)
}

/// [`call_api`] with the call's OAuth connection: `Authorization: Bearer <its access token>`,
/// refreshed and sent once more after a 401 (`RouteContext::send_with_access_token`).
pub(crate) async fn call_api_with_connection<R: OAuthRoute>(
    ctx: &RouteContext<R>,
    request: &OutboundRequest,
    label: &str,
    describe: fn(&ProviderReply<'_>) -> ProviderDescription,
) -> Result<Map<String, Value>, ConnectorError> {
    let sent = match ctx.send_with_access_token(request).await {
        Ok(response) => Ok(response),
        Err(AuthorizedSendError::Connection(error)) => return Err(error),
        Err(AuthorizedSendError::Http(failure)) => Err(failure),
    };
    read_answer(ctx, sent, label, describe)
}

/// A sent request's 2xx answer as a JSON object, or its failure as the route's error.
fn read_answer<R>(
    ctx: &RouteContext<R>,
    sent: Result<HttpResponse, HttpFailure>,
    label: &str,
    describe: fn(&ProviderReply<'_>) -> ProviderDescription,
) -> Result<Map<String, Value>, ConnectorError> {
    let fail =
        |failure: HttpFailure| failure.into_error(ctx.route_id(), label, &ctx.redactor(), describe);
    sent.map_err(fail)?.json_object().map_err(fail)
}
