//! The provider's endpoints: where they are (the registry's, or the
//! `WORKERFLOW_OAUTH_<SERVICE>_*_URL` overrides), the client's credentials, and the token and
//! revocation requests, sent through the runtime's `HttpClient` (which never follows a
//! redirect). Every reason returned here names an endpoint and a status, never a token.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use workerflow_runtime::http::{
    HttpClient, HttpFailure, HttpMethod, HttpPolicy, HttpUrl, OutboundRequest, ProviderDescription,
    Redactor, header,
};
use workerflow_runtime::{ClientAuth, OAuthApp, SecretRequirement, SecretSource, SecretValue};

/// The largest token endpoint answer read.
pub(crate) const MAX_ANSWER: usize = 64 * 1024;
/// The deadline of one token request (all attempts).
pub(crate) const TOKEN_DEADLINE: Duration = Duration::from_secs(10);

/// The policy of the token endpoint client: the runtime's, within [`TOKEN_DEADLINE`].
pub(crate) fn policy() -> HttpPolicy {
    HttpPolicy {
        attempt_timeout: TOKEN_DEADLINE,
        deadline: TOKEN_DEADLINE,
        ..HttpPolicy::default()
    }
}

/// A service's three endpoints, overrides applied.
#[derive(Debug)]
pub(crate) struct Endpoints {
    pub authorization: HttpUrl,
    pub token: HttpUrl,
    pub revocation: Option<HttpUrl>,
}

/// `WORKERFLOW_OAUTH_<SERVICE>_<WHAT>_URL`, SERVICE upper-cased with `-` as `_`.
pub(crate) fn override_name(service: &str, what: &str) -> String {
    let service: String = service
        .chars()
        .map(|c| {
            if c == '-' {
                '_'
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect();
    format!("WORKERFLOW_OAUTH_{service}_{what}_URL")
}

/// An absolute http(s) URL with a host (a query is allowed: providers put tenants there).
fn endpoint(text: &str, what: &str) -> Result<HttpUrl, String> {
    let url = HttpUrl::parse(text.trim()).map_err(|_| format!("{what} is not a valid URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(format!(
            "{what} must be an absolute http(s) URL with a host"
        ));
    }
    Ok(url)
}

impl Endpoints {
    pub(crate) fn resolve(
        service: &str,
        app: &OAuthApp,
        secrets: &dyn SecretSource,
    ) -> Result<Endpoints, String> {
        let pick = |what: &str, declared: Option<&str>| -> Result<Option<HttpUrl>, String> {
            let name = override_name(service, what);
            match secrets
                .get(&name)
                .filter(|value| !value.expose().trim().is_empty())
            {
                Some(value) => endpoint(value.expose(), &name).map(Some),
                None => declared
                    .map(|url| endpoint(url, &format!("the registry's {what} URL of {service}")))
                    .transpose(),
            }
        };
        let authorization = pick("AUTHORIZATION", Some(app.authorization_url))?
            .ok_or_else(|| format!("{service} declares no authorization URL"))?;
        let token = pick("TOKEN", Some(app.token_url))?
            .ok_or_else(|| format!("{service} declares no token URL"))?;
        let revocation = pick("REVOCATION", app.revocation_url)?;
        Ok(Endpoints {
            authorization,
            token,
            revocation,
        })
    }
}

/// The client id and secret, each the first non-blank of its requirement's names.
pub(crate) struct Client {
    pub id: SecretValue,
    pub secret: SecretValue,
    pub auth: ClientAuth,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

fn first_set(requirement: &SecretRequirement, secrets: &dyn SecretSource) -> Option<SecretValue> {
    requirement.any_of.iter().find_map(|name| {
        secrets
            .get(name)
            .filter(|value| !value.expose().trim().is_empty())
            .map(|value| SecretValue::new(value.expose().trim()))
    })
}

impl Client {
    /// The credentials, or a message naming every unset requirement's variables.
    pub(crate) fn resolve(app: &OAuthApp, secrets: &dyn SecretSource) -> Result<Client, String> {
        let id = first_set(&app.client_id, secrets);
        let secret = first_set(&app.client_secret, secrets);
        match (id, secret) {
            (Some(id), Some(secret)) => Ok(Client {
                id,
                secret,
                auth: app.client_auth,
            }),
            (id, secret) => {
                let missing: Vec<String> = [
                    (id.is_none(), &app.client_id),
                    (secret.is_none(), &app.client_secret),
                ]
                .into_iter()
                .filter(|(missing, _)| *missing)
                .map(|(_, requirement)| {
                    format!(
                        "{} ({})",
                        requirement.label,
                        requirement.any_of.join(" or ")
                    )
                })
                .collect();
                Err(format!("not configured: set {}", missing.join(" and ")))
            }
        }
    }

    /// The form body of `fields` and the client's credentials: an `Authorization: Basic`
    /// value (each part form-urlencoded, RFC 6749 2.3.1) or two more form fields.
    fn form(&self, fields: &[(&str, &str)]) -> (String, Option<String>) {
        let mut form = form_urlencoded::Serializer::new(String::new());
        for (name, value) in fields {
            form.append_pair(name, value);
        }
        let basic = self.authenticate(&mut form);
        (form.finish(), basic)
    }

    fn authenticate(&self, form: &mut form_urlencoded::Serializer<'_, String>) -> Option<String> {
        match self.auth {
            ClientAuth::ClientSecretBasic => {
                let encode = |text: &str| {
                    form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>()
                };
                let pair = format!(
                    "{}:{}",
                    encode(self.id.expose()),
                    encode(self.secret.expose())
                );
                Some(format!("Basic {}", STANDARD.encode(pair)))
            }
            ClientAuth::ClientSecretPost => {
                form.append_pair("client_id", self.id.expose());
                form.append_pair("client_secret", self.secret.expose());
                None
            }
        }
    }
}

/// A token endpoint's usable answer.
pub(crate) struct Tokens {
    pub access_token: SecretValue,
    pub refresh_token: Option<SecretValue>,
    pub expires_in: Option<u64>,
    pub scope: Option<String>,
}

/// Why a token request gave no tokens.
#[derive(Debug)]
pub(crate) enum TokenError {
    /// 400/401 `{"error":"invalid_grant"}`: the grant is dead.
    InvalidGrant,
    /// Anything else; the reason names the endpoint's host and status, never a token.
    Failed(String),
}

/// The `error` of a provider's answer, kept only when it looks like an OAuth error code.
fn error_code(json: Option<&Value>) -> Option<String> {
    let code = json?.get("error")?.as_str()?;
    let plain = !code.is_empty()
        && code.len() <= 64
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    plain.then(|| code.to_owned())
}

/// What a failed request says: a redirect, a status with its OAuth error code, or the
/// gateway's own message (host only).
fn failure_reason(
    failure: HttpFailure,
    what: &str,
    redactor: &Redactor,
) -> (Option<String>, String) {
    let status = failure.status();
    let mut code = None;
    let error = failure.into_error("oauth_token", what, redactor, |reply| {
        code = error_code(reply.json);
        ProviderDescription::default()
    });
    let reason = match status {
        Some(status) if status.is_redirection() => format!(
            "{what} answered with a redirect ({}), which is not followed",
            status.as_u16()
        ),
        Some(status) => match &code {
            Some(code) => format!("{what} answered {} ({code})", status.as_u16()),
            None => format!("{what} answered {}", status.as_u16()),
        },
        None => error.to_string(),
    };
    (code, reason)
}

/// Sends a token request (`grant` holds the grant's own fields) and reads the answer.
pub(crate) async fn request_tokens(
    http: &HttpClient,
    url: &HttpUrl,
    client: &Client,
    grant: &[(&str, &str)],
    trace_id: &str,
) -> Result<Tokens, TokenError> {
    let what = "the token endpoint";
    let (form, basic) = client.form(grant);
    let mut request = OutboundRequest::api(HttpMethod::POST, url.clone())
        .header(
            header::ACCEPT,
            header::HeaderValue::from_static("application/json"),
        )
        .form(form);
    if let Some(basic) = basic {
        let value = header::HeaderValue::from_str(&basic).map_err(|_| {
            TokenError::Failed("the client credentials cannot be sent in a header".to_owned())
        })?;
        request = request.header(header::AUTHORIZATION, value);
    }
    let mut redactor = Redactor::new().secret(client.secret.expose());
    for (_, value) in grant {
        redactor = redactor.secret(value);
    }
    let response = match http.send(&request, "oauth_token", trace_id).await {
        Ok(response) => response,
        Err(failure) => {
            let (code, reason) = failure_reason(failure, what, &redactor);
            return Err(match code.as_deref() {
                Some("invalid_grant") => TokenError::InvalidGrant,
                _ => TokenError::Failed(reason),
            });
        }
    };
    if response.body.len() > MAX_ANSWER {
        return Err(TokenError::Failed(format!(
            "{what} answered with more than {} KiB",
            MAX_ANSWER / 1024
        )));
    }
    let Ok(Value::Object(answer)) = serde_json::from_slice::<Value>(&response.body) else {
        return Err(TokenError::Failed(format!(
            "{what} answered with something that is not a JSON object"
        )));
    };
    let access_token = match answer.get("access_token") {
        Some(Value::String(token)) if !token.trim().is_empty() => SecretValue::new(token.as_str()),
        _ => {
            return Err(TokenError::Failed(format!(
                "{what} answered without an access_token"
            )));
        }
    };
    let refresh_token = match answer.get("refresh_token") {
        Some(Value::String(token)) if !token.trim().is_empty() => {
            Some(SecretValue::new(token.as_str()))
        }
        None | Some(Value::Null) => None,
        Some(_) => {
            return Err(TokenError::Failed(format!(
                "{what} answered with a refresh_token that is not a string"
            )));
        }
    };
    let expires_in = match answer.get("expires_in") {
        None | Some(Value::Null) => None,
        Some(Value::Number(number)) => number.as_u64().or_else(|| {
            number
                .as_f64()
                .filter(|n| n.is_finite() && *n >= 0.0)
                .map(|n| n as u64)
        }),
        Some(Value::String(text)) => text.trim().parse::<u64>().ok(),
        Some(_) => None,
    };
    if answer
        .get("expires_in")
        .is_some_and(|value| !value.is_null())
        && expires_in.is_none()
    {
        return Err(TokenError::Failed(format!(
            "{what} answered with an expires_in that is not a number"
        )));
    }
    let scope = answer
        .get("scope")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(Tokens {
        access_token,
        refresh_token,
        expires_in: expires_in.map(|seconds| seconds.min(10 * 365 * 86_400)),
        scope,
    })
}

/// RFC 7009: `token=…&token_type_hint=…`; whether the provider answered 2xx.
pub(crate) async fn revoke(
    http: &HttpClient,
    url: &HttpUrl,
    client: &Client,
    token: &SecretValue,
    hint: &str,
    trace_id: &str,
) -> Result<(), String> {
    let (form, basic) = client.form(&[("token", token.expose()), ("token_type_hint", hint)]);
    let mut request = OutboundRequest::api(HttpMethod::POST, url.clone()).form(form);
    if let Some(basic) = basic {
        let value = header::HeaderValue::from_str(&basic)
            .map_err(|_| "the client credentials cannot be sent in a header".to_owned())?;
        request = request.header(header::AUTHORIZATION, value);
    }
    let redactor = Redactor::new()
        .secret(client.secret.expose())
        .secret(token.expose());
    match http.send(&request, "oauth_revoke", trace_id).await {
        Ok(_) => Ok(()),
        Err(failure) => Err(failure_reason(failure, "the revocation endpoint", &redactor).1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn override_names_follow_the_service_id() {
        assert_eq!(
            override_name("hub-spot", "TOKEN"),
            "WORKERFLOW_OAUTH_HUB_SPOT_TOKEN_URL"
        );
    }

    #[test]
    fn error_codes_are_kept_only_when_plain() {
        let json = serde_json::json!({"error": "invalid_grant"});
        assert_eq!(error_code(Some(&json)).as_deref(), Some("invalid_grant"));
        let odd = serde_json::json!({"error": "a token: rt-123 <b>"});
        assert_eq!(error_code(Some(&odd)), None);
    }

    #[test]
    fn endpoints_must_be_absolute_http() {
        assert!(endpoint("https://example.com/token?tenant=1", "x").is_ok());
        assert!(endpoint("ftp://example.com/token", "x").is_err());
        assert!(endpoint("/token", "x").is_err());
    }
}
