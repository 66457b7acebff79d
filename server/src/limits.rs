//! How large a request head may be: the server's own limits, checked by the front door before
//! any handler runs and refused with the documented error body (414, 431), and hyper's, set
//! above them so that hyper itself refuses (with a bare answer) only what it cannot hold.

use axum::http::header::CONNECTION;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use workerflow_runtime::TraceId;

use crate::error::ApiError;

/// The longest request target (longer: 414). hyper refuses one over 64 KiB on its own, since
/// `http::Uri` cannot hold it.
pub(crate) const MAX_URI_BYTES: usize = 32 * 1024;
/// The most header lines (more: 431).
pub(crate) const MAX_HEADERS: usize = 100;
/// Header names and values in all (more: 431).
pub(crate) const MAX_HEADER_BYTES: usize = 64 * 1024;

/// hyper's header count: above [`MAX_HEADERS`], so the front door answers up to here.
pub(crate) const HYPER_MAX_HEADERS: usize = 256;
/// hyper's read buffer, which bounds the head it parses: above [`MAX_HEADER_BYTES`] and then
/// some, so a head of up to 512 KiB reaches the front door however its bytes arrive (a larger
/// one may too, when it is read in one go).
pub(crate) const HYPER_MAX_BUF: usize = 512 * 1024;

const _: () = assert!(HYPER_MAX_HEADERS > MAX_HEADERS && HYPER_MAX_BUF > MAX_HEADER_BYTES);

/// The refusal of a request over a limit, or `None`. The connection is closed after it, as
/// hyper does after its own refusals.
pub(crate) fn refusal(uri: &Uri, headers: &HeaderMap, trace_id: &TraceId) -> Option<Response> {
    let header_bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    let (status, code, message) = if target_len(uri) > MAX_URI_BYTES {
        (
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            "the request target is too long",
        )
    } else if headers.len() > MAX_HEADERS || header_bytes > MAX_HEADER_BYTES {
        (
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "header_fields_too_large",
            "the request headers are too large or too many",
        )
    } else {
        return None;
    };
    let mut response = ApiError::new(status, code, message).respond(trace_id);
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    Some(response)
}

/// The request target's length as sent (origin form, or absolute form with scheme and host).
fn target_len(uri: &Uri) -> usize {
    let scheme = uri
        .scheme_str()
        .map_or(0, |scheme| scheme.len() + "://".len());
    let authority = uri
        .authority()
        .map_or(0, |authority| authority.as_str().len());
    let path = uri.path_and_query().map_or(0, |path| path.as_str().len());
    scheme + authority + path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_is_measured_as_sent() {
        let origin: Uri = "/api/routes?x=1".parse().expect("a target");
        assert_eq!(target_len(&origin), "/api/routes?x=1".len());
        let absolute: Uri = "http://example.com:8787/health".parse().expect("a target");
        assert_eq!(
            target_len(&absolute),
            "http://example.com:8787/health".len()
        );
    }

    #[test]
    fn over_a_limit_is_refused_with_the_connection_closed() {
        let trace = TraceId::generate();
        let fine: Uri = "/health".parse().expect("a target");
        assert!(refusal(&fine, &HeaderMap::new(), &trace).is_none());
        let long: Uri = format!("/{}", "a".repeat(MAX_URI_BYTES))
            .parse()
            .expect("a target");
        let refused = refusal(&long, &HeaderMap::new(), &trace).expect("refused");
        assert_eq!(refused.status(), StatusCode::URI_TOO_LONG);
        assert_eq!(refused.headers()[CONNECTION], "close");
        let mut many = HeaderMap::new();
        for n in 0..=MAX_HEADERS {
            let name: axum::http::HeaderName = format!("x-h{n}").parse().expect("a name");
            many.insert(name, HeaderValue::from_static("v"));
        }
        let refused = refusal(&fine, &many, &trace).expect("refused");
        assert_eq!(
            refused.status(),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        );
    }
}
