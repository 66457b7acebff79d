//! `Retry-After` (POLICY.md 2.4): whole seconds or an HTTP date, nothing else.

use std::time::{Duration, SystemTime};

use http::HeaderValue;

/// The positive delay a `Retry-After` value asks for, or `None` when the value is invalid, zero,
/// or a date that is not in the future. `1.9`, `2abc` and `-1` are invalid.
pub fn retry_after(value: &HeaderValue, now: SystemTime) -> Option<Duration> {
    let text = value
        .to_str()
        .ok()?
        .trim_matches(|c: char| c.is_ascii_whitespace());
    if text.is_empty() {
        return None;
    }
    let delay = if text.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits for a u64 is still a (very long) delay; the policy caps it.
        Duration::from_secs(text.parse::<u64>().unwrap_or(u64::MAX))
    } else {
        httpdate::parse_http_date(text)
            .ok()?
            .duration_since(now)
            .ok()?
    };
    (!delay.is_zero()).then_some(delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &str) -> Option<Duration> {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        retry_after(&HeaderValue::from_str(value).expect("header"), now)
    }

    #[test]
    fn seconds() {
        assert_eq!(parse("1"), Some(Duration::from_secs(1)));
        assert_eq!(parse(" 60 "), Some(Duration::from_secs(60)));
        assert_eq!(parse("0"), None);
        assert_eq!(
            parse("99999999999999999999999"),
            Some(Duration::from_secs(u64::MAX))
        );
        for invalid in ["1.9", "2abc", "-1", "+1", "soon", "", "1 2"] {
            assert_eq!(parse(invalid), None, "{invalid:?}");
        }
    }

    #[test]
    fn http_dates_in_all_three_forms() {
        // 1_700_000_000 is Tue, 14 Nov 2023 22:13:20 GMT.
        assert_eq!(
            parse("Tue, 14 Nov 2023 22:13:22 GMT"),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            parse("Tuesday, 14-Nov-23 22:13:25 GMT"),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            parse("Tue Nov 14 22:13:30 2023"),
            Some(Duration::from_secs(10))
        );
        assert_eq!(parse("Tue, 14 Nov 2023 22:13:20 GMT"), None);
        assert_eq!(parse("Tue, 14 Nov 2023 22:00:00 GMT"), None);
    }
}
