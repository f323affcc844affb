//! Anthropic's Messages API (`POST /v1/messages`), as its documentation
//! describes it: the request is checked the way Anthropic checks it
//! (`max_tokens` required, roles `user`/`assistant` only, the system prompt
//! outside `messages`, tool results answering a known tool use), answers are
//! `message` objects, and streams are named SSE events from `message_start`
//! to `message_stop`.
//!
//! Magic model names as for the OpenAI routes, plus `malformed-json` (a
//! truncated body), `unknown-event` (a stream event type the API does not
//! have) and `cut-stream` (the stream ends cleanly before `message_stop`).

use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::{Value, json};

use crate::{Body, Call, answer_text, error_response, full, prompt_tokens, split_pieces, stream_events};

/// `{"type": "error", "error": {"type", "message"}}` for a status.
pub(crate) fn error_body(status: u16, message: &str) -> Value {
    let ty = match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    };
    json!({"type": "error", "error": {"type": ty, "message": message}})
}

fn invalid(message: String) -> Response<Body> {
    error_response(crate::Api::Anthropic, 400, &message, None)
}

/// Checks the request as Anthropic does; the first problem found.
fn check(body: &Value) -> Result<(), String> {
    match body.get("max_tokens").and_then(Value::as_u64) {
        Some(n) if n > 0 => {}
        _ => return Err("max_tokens: Field required".to_owned()),
    }
    let Some(messages) = body.get("messages").and_then(Value::as_array) else { return Err("messages: Field required".to_owned()) };
    let mut tool_uses = std::collections::HashSet::new();
    for (i, m) in messages.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("");
        if role != "user" && role != "assistant" {
            return Err(format!("messages.{i}.role: Input should be 'user' or 'assistant'"));
        }
        let blocks = match m.get("content") {
            Some(Value::String(_)) => continue,
            Some(Value::Array(b)) => b,
            _ => return Err(format!("messages.{i}.content: Field required")),
        };
        for (j, b) in blocks.iter().enumerate() {
            match b.get("type").and_then(Value::as_str) {
                Some("text") if b.get("text").and_then(Value::as_str).is_some() => {}
                Some("image" | "document") if b.pointer("/source/type").is_some() => {}
                Some("tool_use") if role == "assistant" && b.get("input").is_some_and(Value::is_object) => {
                    tool_uses.insert(b.get("id").and_then(Value::as_str).unwrap_or("").to_owned());
                }
                Some("tool_result") if role == "user" => {
                    let id = b.get("tool_use_id").and_then(Value::as_str).unwrap_or("");
                    if !tool_uses.contains(id) {
                        return Err(format!("messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: {id}"));
                    }
                }
                Some("thinking" | "redacted_thinking") if role == "assistant" => {}
                other => return Err(format!("messages.{i}.content.{j}: invalid content block {other:?} for role {role}")),
            }
        }
    }
    if let Some(tools) = body.get("tools").and_then(Value::as_array) {
        for (i, t) in tools.iter().enumerate() {
            if t.get("name").and_then(Value::as_str).is_none() || !t.get("input_schema").is_some_and(Value::is_object) {
                return Err(format!("tools.{i}: name and input_schema are required"));
            }
        }
    }
    Ok(())
}

fn usage(body: &Value, output: u64) -> Value {
    json!({"input_tokens": prompt_tokens(body), "output_tokens": output, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0})
}

/// `POST /v1/messages`.
pub(crate) fn messages(call: &Call<'_>) -> Response<Body> {
    if let Err(message) = check(call.body) {
        return invalid(message);
    }
    let tools = call.model.contains("tools");
    let text = answer_text(call.body);
    let output = if tools { 10 } else { text.split_whitespace().count() as u64 };
    if !call.stream {
        let content = if tools {
            json!([{"type": "text", "text": "Let me check."},
                   {"type": "tool_use", "id": "toolu_mock_1", "name": "get_weather", "input": {"city": "Paris"}}])
        } else {
            json!([{"type": "text", "text": text}])
        };
        let body = json!({"id": "msg_mock", "type": "message", "role": "assistant", "model": call.model, "content": content,
            "stop_reason": if tools { "tool_use" } else { "end_turn" }, "stop_sequence": null, "usage": usage(call.body, output)});
        return full(StatusCode::OK, body.to_string());
    }
    let mut events = vec![event(&json!({"type": "message_start", "message": {"id": "msg_mock", "type": "message", "role": "assistant",
        "model": call.model, "content": [], "stop_reason": null, "stop_sequence": null, "usage": usage(call.body, 1)}}))];
    events.push(event(&json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})));
    events.push(event(&json!({"type": "ping"})));
    if call.model.contains("unknown-event") {
        events.push(event(&json!({"type": "surprise_event", "index": 0})));
    }
    let first_text = if tools { "Let me check.".to_owned() } else { text };
    for piece in split_pieces(&first_text, call.chunks) {
        events.push(event(&json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}})));
    }
    events.push(event(&json!({"type": "content_block_stop", "index": 0})));
    if tools {
        events.push(event(&json!({"type": "content_block_start", "index": 1,
            "content_block": {"type": "tool_use", "id": "toolu_mock_1", "name": "get_weather", "input": {}}})));
        for piece in split_pieces("{\"city\": \"Paris\"}", call.chunks) {
            events.push(event(
                &json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": piece}}),
            ));
        }
        events.push(event(&json!({"type": "content_block_stop", "index": 1})));
    }
    events.push(event(
        &json!({"type": "message_delta", "delta": {"stop_reason": if tools { "tool_use" } else { "end_turn" }, "stop_sequence": null},
        "usage": {"output_tokens": output}}),
    ));
    events.push(event(&json!({"type": "message_stop"})));
    if call.model.contains("cut-stream") {
        events.truncate(4);
    }
    let drop_after = call.model.contains("drop-mid-stream").then_some(3);
    stream_events(events, call.interval, drop_after, call.stats.clone())
}

/// One named SSE event: `event: <type>\ndata: <json>\n\n`.
fn event(v: &Value) -> Bytes {
    let name = v.get("type").and_then(Value::as_str).unwrap_or("message");
    Bytes::from(format!("event: {name}\ndata: {v}\n\n"))
}

/// `POST /v1/messages/count_tokens`: the prompt only (sampling fields are refused).
pub(crate) fn count_tokens(call: &Call<'_>) -> Response<Body> {
    if let Some(k) = ["max_tokens", "stream", "temperature", "stop_sequences"].iter().find(|k| call.body.get(**k).is_some()) {
        return invalid(format!("{k}: Extra inputs are not permitted"));
    }
    if call.body.get("messages").and_then(Value::as_array).is_none() {
        return invalid("messages: Field required".to_owned());
    }
    full(StatusCode::OK, json!({"input_tokens": prompt_tokens(call.body)}).to_string())
}
