//! One outbound request: method, URL, headers and body, and what of it logs may show.

use std::fmt;

use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{HeaderMap, Method};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;
use url::Url;

/// One request, sent byte for byte the same on every attempt.
#[derive(Clone)]
pub struct OutboundRequest {
    method: Method,
    url: Url,
    headers: HeaderMap,
    body: bytes::Bytes,
    endpoint: Endpoint,
}

/// Whether the URL is a credential (a webhook) or an API endpoint whose path may be logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Endpoint {
    Api,
    Webhook,
}

impl OutboundRequest {
    /// A request to an API endpoint. Its path may appear in logs; its query never does.
    pub fn api(method: Method, url: Url) -> Self {
        OutboundRequest {
            method,
            url,
            headers: HeaderMap::new(),
            body: bytes::Bytes::new(),
            endpoint: Endpoint::Api,
        }
    }

    /// A `POST` to a webhook URL: the URL is a secret, so logs and errors show only its host.
    pub fn webhook(url: Url) -> Self {
        OutboundRequest {
            endpoint: Endpoint::Webhook,
            ..OutboundRequest::api(Method::POST, url)
        }
    }

    /// Adds a header. `authorization` values are marked sensitive so no HTTP layer prints them.
    pub fn header(mut self, name: HeaderName, mut value: HeaderValue) -> Self {
        if name == http::header::AUTHORIZATION {
            value.set_sensitive(true);
        }
        self.headers.append(name, value);
        self
    }

    /// The same request with `name` set to `value`, replacing any value it had (`authorization`
    /// marked sensitive as in [`OutboundRequest::header`]).
    pub fn with_header(&self, name: HeaderName, mut value: HeaderValue) -> Self {
        if name == http::header::AUTHORIZATION {
            value.set_sensitive(true);
        }
        let mut request = self.clone();
        request.headers.insert(name, value);
        request
    }

    /// A compact JSON body (`serde_json` order: the order the value was built in) with
    /// `content-type: application/json`.
    pub fn json(self, body: &Value) -> Self {
        self.body(
            HeaderValue::from_static("application/json"),
            body.to_string().into_bytes(),
        )
    }

    /// A form body (`application/x-www-form-urlencoded`), already serialized.
    pub fn form(self, body: String) -> Self {
        self.body(
            HeaderValue::from_static("application/x-www-form-urlencoded"),
            body.into_bytes(),
        )
    }

    /// A body with its content type.
    pub fn body(mut self, content_type: HeaderValue, body: Vec<u8>) -> Self {
        self.headers.insert(CONTENT_TYPE, content_type);
        self.body = bytes::Bytes::from(body);
        self
    }

    /// The HTTP method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The full URL; a webhook's is a secret, so never log it (log [`Self::host`]).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The headers, `content-type` included once a body is set.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body bytes (cheap to clone).
    pub fn body_bytes(&self) -> &bytes::Bytes {
        &self.body
    }

    /// GET, PUT, PATCH and DELETE, and a POST with an `idempotency-key` header (docs/ROUTES.md
    /// 2.3). Decided from the method and that header only.
    pub fn is_idempotent(&self) -> bool {
        match self.method {
            Method::GET | Method::PUT | Method::PATCH | Method::DELETE => true,
            Method::POST => self.headers.contains_key("idempotency-key"),
            _ => false,
        }
    }

    /// `host[:port]`, the only part of the URL errors and logs show.
    pub fn host(&self) -> String {
        endpoint_host(&self.url)
    }

    /// The path logs may show: an API request's path, never a webhook's, never a query.
    pub(super) fn loggable_path(&self) -> &str {
        match self.endpoint {
            Endpoint::Api => self.url.path(),
            Endpoint::Webhook => "",
        }
    }
}

impl fmt::Debug for OutboundRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values can be credentials and webhook URLs are: names, host and sizes only.
        let names: Vec<&str> = self.headers.keys().map(HeaderName::as_str).collect();
        f.debug_struct("OutboundRequest")
            .field("method", &self.method)
            .field("host", &self.host())
            .field("path", &self.loggable_path())
            .field("headers", &names)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// `host`, plus `:port` when the URL has an explicit non-default port; IPv6 hosts keep their
/// brackets (`[::1]:8080`).
pub fn endpoint_host(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// An id encoded as one URL path segment (POLICY.md 2.7): every byte except ASCII letters,
/// digits and `-_.!~*'()` becomes `%XX`, so `cus 1/x` is `cus%201%2Fx`.
pub fn path_segment(id: &str) -> String {
    utf8_percent_encode(id, PATH_SEGMENT).to_string()
}

/// What [`path_segment`] encodes: all but the unreserved characters of RFC 3986 and `!*'()`.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments() {
        assert_eq!(path_segment("cus 1/x"), "cus%201%2Fx");
        assert_eq!(path_segment("a-b_c.d!e~f*g'h(i)"), "a-b_c.d!e~f*g'h(i)");
        assert_eq!(path_segment("é?#%"), "%C3%A9%3F%23%25");
    }

    #[test]
    fn hosts_keep_explicit_ports_and_ipv6_brackets() {
        let host = |u: &str| endpoint_host(&Url::parse(u).expect("url"));
        assert_eq!(host("http://127.0.0.1:8080/x?y"), "127.0.0.1:8080");
        assert_eq!(host("https://chat.example:443/x"), "chat.example");
        assert_eq!(host("http://[::1]:8080/"), "[::1]:8080");
    }

    #[test]
    fn idempotency_is_method_and_key() {
        let url = Url::parse("http://h/").expect("url");
        assert!(OutboundRequest::api(Method::GET, url.clone()).is_idempotent());
        assert!(OutboundRequest::api(Method::PATCH, url.clone()).is_idempotent());
        assert!(!OutboundRequest::api(Method::POST, url.clone()).is_idempotent());
        let keyed = OutboundRequest::api(Method::POST, url.clone()).header(
            HeaderName::from_static("idempotency-key"),
            HeaderValue::from_static("k"),
        );
        assert!(keyed.is_idempotent());
        assert!(!OutboundRequest::webhook(url).is_idempotent());
    }

    #[test]
    fn debug_shows_no_credentials() {
        let url = Url::parse("http://h:1/hook/SECRETPATH?token=SECRETTOKEN").expect("url");
        let request = OutboundRequest::webhook(url).header(
            http::header::AUTHORIZATION,
            HeaderValue::from_static("Bearer sk_SECRET"),
        );
        let debug = format!("{request:?}");
        assert!(!debug.contains("SECRET"), "{debug}");
        assert!(debug.contains("h:1"));
    }
}
