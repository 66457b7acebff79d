//! docs/ROUTES.md 4.2: retry timing on openai_chat, with real waits. The six scenarios run
//! concurrently, each against its own server, so the test takes about as long as the slowest.

use std::time::{Duration, SystemTime};

use serde_json::json;
use workerflow_runtime::http::HttpPolicy;

use crate::support::*;

const PATH: &str = "/v1/chat/completions";
/// Room for scheduling on a busy machine.
const EPSILON: Duration = Duration::from_millis(150);

async fn run(
    policy: HttpPolicy,
    responses: Vec<wiremock::ResponseTemplate>,
) -> (Vec<Duration>, Option<u16>) {
    let harness = Harness::start().await;
    harness.on("POST", PATH, responses);
    let result = call_with(
        &registry(policy),
        "openai_chat",
        json!({}),
        &harness.secrets(),
    )
    .await;
    let status = result.err().map(|error| provider_error(Err(error)).status);
    let times: Vec<_> = harness.requests().iter().map(|r| r.at).collect();
    let gaps = times.windows(2).map(|w| w[1] - w[0]).collect();
    (gaps, status)
}

fn ok() -> wiremock::ResponseTemplate {
    json_response(200, json!({"choices": []}))
}

fn between(gap: Duration, low: u64, high: Duration) -> bool {
    gap >= Duration::from_millis(low) && gap < high
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t1_to_t6_waits_between_attempts() {
    let default = HttpPolicy::default();
    let fast = fast_policy();
    // Three seconds ahead, formatted before the mock and the client start: on a loaded machine
    // that start can take a second, and the wait must still be clearly above the fast backoff.
    let in_three_seconds = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(3));
    let (t1, t2, t3, t4, t5, t6) = tokio::join!(
        run(
            default.clone(),
            vec![text_response(503, ""), text_response(503, ""), ok()]
        ),
        run(
            default.clone(),
            vec![
                text_response(429, "").insert_header("retry-after", "1"),
                ok()
            ]
        ),
        run(
            HttpPolicy {
                max_delay: Duration::from_millis(300),
                ..default.clone()
            },
            vec![
                text_response(429, "").insert_header("retry-after", "60"),
                ok()
            ],
        ),
        run(
            default.clone(),
            vec![
                text_response(503, "").insert_header("retry-after", in_three_seconds.as_str()),
                ok()
            ],
        ),
        async {
            let a = run(
                fast.clone(),
                vec![
                    text_response(503, "").insert_header("retry-after", "1.9"),
                    ok(),
                ],
            )
            .await;
            let b = run(
                fast.clone(),
                vec![
                    text_response(503, "").insert_header("retry-after", "soon"),
                    ok(),
                ],
            )
            .await;
            (a, b)
        },
        run(
            HttpPolicy {
                max_retries: 0,
                ..fast.clone()
            },
            vec![text_response(503, ""), ok()]
        ),
    );
    // T1: backoff 200–274 ms, then 400–474 ms.
    assert_eq!(t1.0.len(), 2, "T1");
    assert!(
        between(t1.0[0], 200, Duration::from_millis(275) + EPSILON),
        "T1 {:?}",
        t1.0
    );
    assert!(
        between(t1.0[1], 400, Duration::from_millis(475) + EPSILON),
        "T1 {:?}",
        t1.0
    );
    assert_eq!(t1.1, None);
    // T2: Retry-After 1 s, no jitter.
    assert_eq!(t2.0.len(), 1, "T2");
    assert!(
        between(t2.0[0], 1000, Duration::from_millis(1000) + EPSILON),
        "T2 {:?}",
        t2.0
    );
    // T3: Retry-After capped by the max delay.
    assert!(
        between(t3.0[0], 300, Duration::from_millis(300) + EPSILON),
        "T3 {:?}",
        t3.0
    );
    // T4: an HTTP date about 3 s ahead (whole seconds, so between 2 and 3 s, less the start-up).
    assert!(
        between(t4.0[0], 900, Duration::from_secs(3) + EPSILON),
        "T4 {:?}",
        t4.0
    );
    // T5: invalid values fall back to the fast backoff (5 ms).
    for (gaps, status) in [t5.0, t5.1] {
        assert_eq!((gaps.len(), status), (1, None), "T5");
        assert!(gaps[0] < Duration::from_millis(5) + EPSILON, "T5 {gaps:?}");
    }
    // T6: no retries.
    assert_eq!((t6.0.len(), t6.1), (0, Some(503)), "T6");
}
