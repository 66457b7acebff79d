//! Bearer-token authentication of the front door.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use workerflow_runtime::SecretValue;

/// Whether `headers` carry `Authorization: Bearer <expected>`. The scheme is matched
/// case-insensitively (RFC 9110 11.1); the token is compared in constant time.
pub(crate) fn is_authorized(headers: &HeaderMap, expected: &SecretValue) -> bool {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return false;
    };
    let bytes = value.as_bytes();
    let Some((scheme, token)) = bytes.split_at_checked(7) else {
        return false;
    };
    // Evaluate both checks so a wrong scheme takes as long as a wrong token.
    let scheme_ok = scheme.eq_ignore_ascii_case(b"bearer ");
    let token_ok = tokens_match(expected.expose().as_bytes(), token);
    scheme_ok & token_ok
}

/// Compares `provided` with `expected` in time that depends only on the length of `expected`,
/// so response timing tells an attacker nothing about how much of a guess was right.
fn tokens_match(expected: &[u8], provided: &[u8]) -> bool {
    let mut difference = expected.len() ^ provided.len();
    for (index, &byte) in expected.iter().enumerate() {
        let other = provided.get(index).copied().unwrap_or(0);
        difference |= usize::from(byte ^ other);
    }
    // Keeps the optimiser from turning the fold into an early exit.
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).expect("header"));
        headers
    }

    #[test]
    fn only_the_exact_token_passes() {
        let token = SecretValue::new("s3cret-token");
        assert!(is_authorized(&headers("Bearer s3cret-token"), &token));
        assert!(is_authorized(&headers("bearer s3cret-token"), &token));
        assert!(!is_authorized(&HeaderMap::new(), &token));
        for wrong in [
            "Bearer s3cret-toke",
            "Bearer s3cret-token2",
            "Bearer S3cret-token",
            "Bearer  s3cret-token",
            "Basic s3cret-token",
            "Bearer",
            "Bearer ",
            "s3cret-token",
        ] {
            assert!(!is_authorized(&headers(wrong), &token), "{wrong}");
        }
    }

    #[test]
    fn lengths_differ() {
        assert!(!tokens_match(b"abc", b"abcd"));
        assert!(!tokens_match(b"abc", b""));
        assert!(tokens_match(b"", b""));
    }
}
