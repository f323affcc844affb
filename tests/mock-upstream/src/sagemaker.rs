//! SageMaker Runtime's `InvokeEndpointWithResponseStream`
//! (`/endpoints/{name}/invocations-response-stream`), which moto does not
//! implement: `PayloadPart` event-stream messages carrying the container's
//! stream (TGI `data:{"token": ...}` lines, or OpenAI chunks for bodies with
//! `messages`), split at arbitrary byte boundaries as real streams are.
//! `InvokeEndpoint` is tested against moto instead. Requests must be SigV4-signed.

use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use bytes::Bytes;
use http::{Response, header};
use serde_json::{Value, json};

use crate::{Body, Call, split_pieces, stream_events};

fn part(payload: &str) -> Bytes {
    let m = Message::new(payload.to_owned())
        .add_header(Header::new(":message-type", HeaderValue::String("event".into())))
        .add_header(Header::new(":event-type", HeaderValue::String("PayloadPart".into())));
    let mut buf = Vec::new();
    let _ = aws_smithy_eventstream::frame::write_message_to(&m, &mut buf);
    Bytes::from(buf)
}

/// `/invocations-response-stream`.
pub(crate) fn stream(call: &Call<'_>) -> Response<Body> {
    let chat = call.body.get("messages").is_some();
    let prompt =
        if chat { crate::last_user_text(call.body) } else { call.body.get("inputs").and_then(Value::as_str).unwrap_or("").to_owned() };
    let text = format!("mock answer to: {}", prompt.lines().rev().find(|l| l.starts_with("User: ")).map(|l| &l[6..]).unwrap_or(&prompt));
    let pieces = split_pieces(&text, call.chunks);
    let mut raw = String::new();
    if chat {
        for p in &pieces {
            let c = json!({"id": "chatcmpl-sm", "object": "chat.completion.chunk", "created": 1, "model": "tgi", "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": null}]});
            raw.push_str(&format!("data: {c}\n\n"));
        }
        raw.push_str("data: {\"id\": \"chatcmpl-sm\", \"object\": \"chat.completion.chunk\", \"created\": 1, \"model\": \"tgi\", \"choices\": [{\"index\": 0, \"delta\": {}, \"finish_reason\": \"stop\"}]}\n\ndata: [DONE]\n\n");
    } else {
        let last = pieces.len().saturating_sub(1);
        for (i, p) in pieces.iter().enumerate() {
            let generated = if i == last { json!(text) } else { Value::Null };
            let details = if i == last { json!({"finish_reason": "eos_token", "generated_tokens": pieces.len()}) } else { Value::Null };
            raw.push_str(&format!(
                "data:{}\n\n",
                json!({"token": {"id": i, "text": p, "special": false}, "generated_text": generated, "details": details})
            ));
        }
    }
    // Parts split at odd byte offsets (on char boundaries), as a container's flushes fall.
    let mut events = Vec::new();
    let mut rest = raw.as_str();
    while !rest.is_empty() {
        let mut cut = rest.len().min(37);
        while !rest.is_char_boundary(cut) {
            cut += 1;
        }
        events.push(part(&rest[..cut]));
        rest = &rest[cut..];
    }
    let mut r = stream_events(events, call.interval, None, call.stats.clone());
    r.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/vnd.amazon.eventstream"));
    r
}
