//! The outbound HTTP client every connector uses, and the policy it enforces (below).
//!
//! [`HttpClient::send`] runs one logical request under an [`HttpPolicy`]: a timeout per attempt
//! and a total deadline, retries only where they are safe (idempotent requests, or outcomes where
//! the provider cannot have acted), `Retry-After` honoured and capped, exponential backoff with
//! jitter, no redirects, bodies read up to 8 MiB. It hands the route either the 2xx response or
//! an [`HttpFailure`] (the last outcome, never swallowed), which the route turns into a
//! [`ConnectorError`](crate::ConnectorError) with its own failure label: a redacted body excerpt of at most 2 KiB, and
//! messages that name only the host.
//!
//! The HTTP stack sits behind [`Transport`]; [`ReqwestTransport`] (rustls, no OpenSSL) is the
//! default.
//!
#![doc = include_str!("POLICY.md")]

mod client;
pub(crate) mod egress;
mod excerpt;
mod failure;
mod policy;
mod request;
mod retry_after;
mod transport;

pub use client::HttpClient;
pub use excerpt::{MAX_EXCERPT, Redactor};
pub use failure::{HttpFailure, HttpResponse, MessageShape, ProviderDescription, ProviderReply};
pub use policy::HttpPolicy;
pub use request::{OutboundRequest, endpoint_host, path_segment};
#[cfg(feature = "reqwest")]
pub(crate) use transport::own_runtime;
pub use transport::{BoxFuture, MAX_BODY, RawResponse, Transport, TransportError};
#[cfg(feature = "reqwest")]
pub use transport::{ReqwestTransport, ReqwestTransportBuildError};

/// Re-exported so connector crates name the same types the client takes.
pub use http::{Method as HttpMethod, StatusCode as HttpStatus, header};
pub use url::Url as HttpUrl;

/// The one `Retry-After` rule (policy 2.4), also used by `workerflow check-urls`.
pub use retry_after::retry_after;
