//! The stdio wire in front of the SDK: every line from the client is checked as JSON first. The
//! SDK skips a line it cannot parse, which leaves a client waiting for an answer that never
//! comes; here such a line gets JSON-RPC's own answer instead: `-32700` (parse error) for text
//! that is not JSON, nested too deep or holding a lone surrogate, `-32600` (invalid request) for
//! JSON that is not a request, response or notification. Good lines go to the SDK unchanged.
//!
//! Standard output has one writer task, so an error line never lands inside an SDK message.

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, DuplexStream};
use tokio::sync::mpsc;

/// Buffer of each in-process pipe between the wire and the SDK.
const PIPE_BYTES: usize = 64 * 1024;

/// The SDK's ends (what it reads, what it writes) for a client on `input` and `output`, and the
/// tasks that carry lines between them. The tasks end when the client closes its input and the
/// SDK has written its last answer.
pub(crate) fn wire<I, O>(
    input: I,
    output: O,
) -> (DuplexStream, DuplexStream, tokio::task::JoinSet<()>)
where
    I: AsyncRead + Unpin + Send + 'static,
    O: AsyncWrite + Unpin + Send + 'static,
{
    let (mut to_sdk, sdk_reads) = tokio::io::duplex(PIPE_BYTES);
    let (sdk_writes, from_sdk) = tokio::io::duplex(PIPE_BYTES);
    let (lines, mut outgoing) = mpsc::unbounded_channel::<String>();
    let mut tasks = tokio::task::JoinSet::new();

    let answers = lines.clone();
    tasks.spawn(async move {
        let mut input = BufReader::new(input).lines();
        while let Ok(Some(line)) = input.next_line().await {
            if line.trim().is_empty() {
                continue;
            }
            match refusal(&line) {
                Some(error) => {
                    let _ = answers.send(error.to_string());
                }
                None => {
                    let forwarded = to_sdk.write_all(line.as_bytes()).await.is_ok()
                        && to_sdk.write_all(b"\n").await.is_ok();
                    if !forwarded {
                        break;
                    }
                }
            }
        }
        // End of input: the SDK sees it and ends the session after its last answer.
        let _ = to_sdk.shutdown().await;
    });

    tasks.spawn(async move {
        let mut from_sdk = BufReader::new(from_sdk).lines();
        while let Ok(Some(line)) = from_sdk.next_line().await {
            if lines.send(line).is_err() {
                break;
            }
        }
    });

    tasks.spawn(async move {
        let mut output = output;
        while let Some(line) = outgoing.recv().await {
            let written = output.write_all(line.as_bytes()).await.is_ok()
                && output.write_all(b"\n").await.is_ok()
                && output.flush().await.is_ok();
            if !written {
                break;
            }
        }
    });

    (sdk_reads, sdk_writes, tasks)
}

/// The JSON-RPC error answer a line gets instead of reaching the SDK, if any.
pub(crate) fn refusal(line: &str) -> Option<Value> {
    let value: Value = match serde_json::from_str(line) {
        Ok(value) => value,
        Err(error) => {
            return Some(answer(
                Value::Null,
                -32700,
                &format!("parse error: {error}"),
            ));
        }
    };
    let Some(object) = value.as_object() else {
        // A batch is an array of messages: the SDK's to judge, one by one.
        return (!value.is_array()).then(|| {
            answer(
                Value::Null,
                -32600,
                "invalid request: a JSON-RPC message is an object",
            )
        });
    };
    let id = object
        .get("id")
        .filter(|id| id.is_string() || id.is_number())
        .cloned()
        .unwrap_or(Value::Null);
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Some(answer(
            id,
            -32600,
            "invalid request: `jsonrpc` must be \"2.0\"",
        ));
    }
    let is_message = object.get("method").is_some_and(Value::is_string)
        || object.contains_key("result")
        || object.contains_key("error");
    (!is_message).then(|| {
        answer(
            id,
            -32600,
            "invalid request: a request or notification has a string `method`; a response has `result` or `error`",
        )
    })
}

fn answer(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_that_are_not_messages_get_their_error() {
        let code = |line: &str| refusal(line).map(|answer| answer["error"]["code"].clone());
        assert_eq!(code("this is not JSON"), Some(json!(-32700)));
        assert_eq!(
            code(&format!("{}{}", "[".repeat(200), "]".repeat(200))),
            Some(json!(-32700))
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"s":"\ud800"}}"#),
            Some(json!(-32700))
        );
        assert_eq!(code("42"), Some(json!(-32600)));
        assert_eq!(
            code(r#"{"jsonrpc":"1.0","id":7,"method":"ping"}"#),
            Some(json!(-32600))
        );
        assert_eq!(code(r#"{"jsonrpc":"2.0","id":7}"#), Some(json!(-32600)));
        assert_eq!(code(r#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#), None);
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
            None
        );
        assert_eq!(
            refusal(r#"{"jsonrpc":"1.0","id":"a","method":"ping"}"#).map(|a| a["id"].clone()),
            Some(json!("a"))
        );
    }
}
