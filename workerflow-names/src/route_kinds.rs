//! [`AuthType`], [`RequestType`] and [`ClientAuth`]: the registry model, the runtime's route specs and the code
//! generated between them name a service's auth scheme and a route's request type alike.

use serde::{Deserialize, Serialize};

/// How callers authenticate with a service: OAuth 2.0 (`oauth2`), an API key (`api_key`), a
/// bearer token (`token`), HTTP basic authentication (`basic`), signed webhooks only
/// (`webhook`), none (`none`), several depending on the operation (`mixed`), or not known yet
/// (`unknown`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
// `workerflow-registry new --auth` takes the registry's own names.
#[cfg_attr(
    feature = "clap",
    derive(clap::ValueEnum),
    value(rename_all = "snake_case")
)]
// Doc comments on the variants would become `--auth`'s help text, which lists the values only;
// the enum's doc above says what each is.
#[allow(missing_docs)]
pub enum AuthType {
    Oauth2,
    ApiKey,
    Token,
    Basic,
    Webhook,
    None,
    Mixed,
    Unknown,
}

impl AuthType {
    /// Every scheme, in the schema's order.
    pub const ALL: [AuthType; 8] = [
        AuthType::Oauth2,
        AuthType::ApiKey,
        AuthType::Token,
        AuthType::Basic,
        AuthType::Webhook,
        AuthType::None,
        AuthType::Mixed,
        AuthType::Unknown,
    ];

    /// The scheme as the registry writes it (`oauth2`, `api_key`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            AuthType::Oauth2 => "oauth2",
            AuthType::ApiKey => "api_key",
            AuthType::Token => "token",
            AuthType::Basic => "basic",
            AuthType::Webhook => "webhook",
            AuthType::None => "none",
            AuthType::Mixed => "mixed",
            AuthType::Unknown => "unknown",
        }
    }
}

/// Whether a caller waits for a route's output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum RequestType {
    /// The caller waits for the output.
    Sync,
    /// The call is queued and runs later.
    Async,
}

impl RequestType {
    /// The value as the registry writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestType::Sync => "sync",
            RequestType::Async => "async",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_names_are_the_serialized_ones() {
        for auth in AuthType::ALL {
            assert_eq!(
                serde_json::to_string(&auth).unwrap(),
                format!("\"{}\"", auth.as_str())
            );
        }
        for request in [RequestType::Sync, RequestType::Async] {
            assert_eq!(
                serde_json::to_string(&request).unwrap(),
                format!("\"{}\"", request.as_str())
            );
        }
    }
}

/// How an OAuth client authenticates at a token endpoint (RFC 6749 2.3.1): HTTP Basic with the
/// client id and secret, or both as form fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// `Authorization: Basic base64(id:secret)`, each form-urlencoded first.
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
}

impl ClientAuth {
    /// The method as the registry writes it (`client_secret_basic`, `client_secret_post`).
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuth::ClientSecretBasic => "client_secret_basic",
            ClientAuth::ClientSecretPost => "client_secret_post",
        }
    }
}
