//! The runtime HTTP module's parsing of what a provider sends back: `Retry-After` values (the
//! parser itself, and through the retry loop), and error bodies (decoding, excerpt, redaction,
//! the provider's JSON handed to a route's `describe`). Checks the documented bounds: a delay is
//! positive; digits mean seconds; the loop makes at most 1 + `max_retries` attempts; excerpts are
//! at most 2 KiB, trimmed, and never contain a secret.
#![no_main]

use std::sync::{Arc, LazyLock};
use std::time::{Duration, SystemTime};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use workerflow_fuzz::{Reply, ScriptedTransport};
use workerflow_runtime::ConnectorError;
use workerflow_runtime::http::header::HeaderValue;
use workerflow_runtime::http::retry_after;
use workerflow_runtime::http::{
    HttpClient, HttpPolicy, HttpUrl, MAX_EXCERPT, MessageShape, OutboundRequest,
    ProviderDescription, Redactor,
};

const SECRET: &str = "sk_test_SECRET_1";
const WEBHOOK: &str = "http://127.0.0.1:9/hook/SECRETPATH?token=SECRETTOKEN";

static TRANSPORT: LazyLock<Arc<ScriptedTransport>> = LazyLock::new(Default::default);
static CLIENT: LazyLock<HttpClient> = LazyLock::new(|| {
    let policy = HttpPolicy {
        attempt_timeout: Duration::from_secs(5),
        deadline: Duration::from_secs(10),
        max_retries: 2,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_secs(3),
        jitter: Duration::ZERO,
    };
    let transport: Arc<ScriptedTransport> = TRANSPORT.clone();
    HttpClient::with_transport(policy, transport)
});

#[derive(Arbitrary, Debug)]
struct Input {
    retry_after: Vec<u8>,
    now_secs: u32,
    body: Vec<u8>,
    /// Extra text the redactor must also hide.
    extra_secret: String,
    webhook: bool,
    idempotent: bool,
    coded: bool,
    replies: Vec<Reply>,
}

fuzz_target!(|input: Input| {
    // Retry-After, straight.
    if let Ok(value) = HeaderValue::from_bytes(&input.retry_after) {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(input.now_secs));
        let delay = retry_after(&value, now);
        if let Some(delay) = delay {
            assert!(!delay.is_zero());
        }
        if let Ok(text) = value.to_str() {
            let trimmed = text.trim_matches(|c: char| c.is_ascii_whitespace());
            if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
                let expected = trimmed.parse::<u64>().unwrap_or(u64::MAX);
                assert_eq!(delay, (expected > 0).then(|| Duration::from_secs(expected)));
            }
        }
    }

    // The excerpt of an error body.
    let url = HttpUrl::parse(WEBHOOK).expect("the webhook URL parses");
    let mut redactor = Redactor::new().secret(SECRET).secret(&input.extra_secret);
    if input.webhook {
        redactor = redactor.webhook(WEBHOOK, &url);
    }
    let excerpt = redactor.excerpt(&input.body);
    assert!(excerpt.len() <= MAX_EXCERPT, "{} bytes", excerpt.len());
    // Trimmed before it is cut: no leading whitespace (a cut may end on a space).
    assert!(
        !excerpt.starts_with(|c: char| c.is_whitespace() || c == '\u{feff}'),
        "{excerpt:?}"
    );
    let extra = input.extra_secret.as_str();
    // An alphanumeric secret cannot be rebuilt from `[REDACTED]` and its neighbours, so it must
    // be gone whole (a cut at 2 KiB leaves at most a prefix, which is not the secret).
    if !extra.is_empty()
        && extra.bytes().all(|b| b.is_ascii_alphanumeric())
        && !"REDACTED".contains(extra)
    {
        assert!(
            !excerpt.contains(extra),
            "{extra:?} survived in {excerpt:?}"
        );
    }

    // The retry loop and the error a route builds from the last reply.
    TRANSPORT.script(&input.replies);
    let request = if input.idempotent {
        OutboundRequest::api(
            workerflow_runtime::http::HttpMethod::GET,
            HttpUrl::parse("http://127.0.0.1:9/v1/things").expect("url"),
        )
    } else {
        OutboundRequest::webhook(url.clone())
    };
    let outcome = pollster::block_on(CLIENT.send(&request, "fuzz", "trace-1"));
    assert!(
        TRANSPORT.attempts() <= 3,
        "{} attempts",
        TRANSPORT.attempts()
    );
    let failure = match outcome {
        Ok(response) => {
            let _ = response.json_object();
            return;
        }
        Err(failure) => failure,
    };
    let coded = input.coded;
    let error = failure.into_error("fuzz", "Fuzz request failed", &redactor, |reply| {
        // What the connectors do: take `error.code` / `error.message` (or `message`) from JSON.
        let field = |name: &str| {
            reply.json.and_then(|json| {
                json.pointer(&format!("/error/{name}"))
                    .or_else(|| json.get(name))
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            })
        };
        ProviderDescription {
            code: field("code"),
            message: field("message"),
            details: reply.json.cloned(),
            shape: if coded {
                MessageShape::Coded
            } else {
                MessageShape::Generic
            },
        }
    });
    let shown = format!(
        "{error}\n{error:?}\n{}",
        serde_json::to_string(&error).expect("serializes")
    );
    assert!(shown.starts_with("Fuzz request failed: "), "{shown}");
    assert!(!shown.contains(SECRET), "{shown}");
    if input.webhook {
        assert!(!shown.contains("/hook/SECRETPATH"), "{shown}");
    }
    if let ConnectorError::Provider(provider) = &error {
        assert!(provider.excerpt.len() <= MAX_EXCERPT);
        assert!(
            provider
                .code
                .as_ref()
                .is_none_or(|c| c.len() <= MAX_EXCERPT)
        );
        assert!(
            provider
                .provider_message
                .as_ref()
                .is_none_or(|m| m.len() <= MAX_EXCERPT)
        );
    }
});
