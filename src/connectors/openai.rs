//! OpenAI chat completions: `openai_chat` (docs/ROUTES.md 3.5).

use serde_json::{Value, json};
use workerflow_runtime::http::{HttpMethod, OutboundRequest, header};
use workerflow_runtime::{ConnectorError, RouteContext, connector};

use super::input;
use super::outbound;
use crate::registry::routes::openai_chat;

const LABEL: &str = "OpenAI chat completion failed";
// Fixed by the contract: changing them changes behaviour.
const DEFAULT_PROMPT: &str = "Say hello from WorkerFlow.";
const DEFAULT_TEMPERATURE: f64 = 0.2;

/// Runs one chat completion and returns its text.
#[connector(route = openai_chat)]
pub async fn complete_chat(
    ctx: &RouteContext<openai_chat::Route>,
    input: openai_chat::Input,
) -> Result<openai_chat::Output, ConnectorError> {
    let route = ctx.route_id();
    let auth = outbound::bearer(route, ctx.secret(openai_chat::OPENAI_API_KEY))?;
    let prompt = input::non_blank(input.prompt.as_deref()).unwrap_or(DEFAULT_PROMPT);
    let model = input::non_blank(input.model.as_deref())
        .or(ctx.setting(openai_chat::OPENAI_MODEL))
        .unwrap_or("gpt-4o-mini");
    // Forwarded as the caller wrote it (`1` stays `1`).
    let temperature = input
        .temperature
        .map_or(json!(DEFAULT_TEMPERATURE), Value::Number);
    let mut messages = Vec::with_capacity(2);
    // The system prompt is sent as written, even a single space.
    if let Some(system) = input.system_prompt.as_deref().filter(|s| !s.is_empty()) {
        messages.push(json!({"role": "system", "content": system}));
    }
    messages.push(json!({"role": "user", "content": prompt}));
    let body = json!({"model": model, "messages": messages, "temperature": temperature});

    let base = outbound::base_url(ctx, openai_chat::WORKERFLOW_OPENAI_BASE_URL);
    let url = outbound::api_url(route, base, "/v1/chat/completions")?;
    let request = OutboundRequest::api(HttpMethod::POST, url)
        .header(header::AUTHORIZATION, auth)
        .json(&body);
    let completion =
        outbound::call_api(ctx, &request, LABEL, outbound::describe_error_object).await?;
    Ok(openai_chat::Output {
        ok: true,
        route: route.to_owned(),
        model: model.to_owned(),
        output: output_text(completion.get("choices")),
    })
}

/// `choices[0].message.content`: a string trimmed; an array's string parts and object parts'
/// `text` concatenated, then trimmed; anything else `""`.
fn output_text(choices: Option<&Value>) -> String {
    match choices.and_then(|c| c.pointer("/0/message/content")) {
        Some(Value::String(text)) => input::trim(text).to_owned(),
        Some(Value::Array(parts)) => {
            let joined: String = parts
                .iter()
                .filter_map(|part| match part {
                    Value::String(text) => Some(text.as_str()),
                    Value::Object(object) => object.get("text").and_then(Value::as_str),
                    _ => None,
                })
                .collect();
            input::trim(&joined).to_owned()
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_shapes() {
        let choices = |content: Value| json!([{"message": {"content": content}}]);
        assert_eq!(output_text(Some(&choices(json!("  hi ")))), "hi");
        assert_eq!(
            output_text(Some(&choices(json!([{"text": " Hello "}, "World ", 5])))),
            "Hello World"
        );
        assert_eq!(output_text(Some(&choices(json!(5)))), "");
        assert_eq!(output_text(None), "");
    }
}
