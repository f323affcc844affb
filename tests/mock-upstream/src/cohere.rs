//! Cohere's v2 API: `POST /v2/chat` (JSON, or typed SSE events from
//! `message-start` to `message-end`) and `POST /v2/embed`.

use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::{Value, json};

use crate::{Body, Call, full, prompt_tokens, split_pieces, stream_events};

/// `{"message"}`, Cohere's error body.
pub(crate) fn error_body(message: &str) -> Value {
    json!({"id": "mock-error", "message": message})
}

fn invalid(message: &str) -> Response<Body> {
    crate::error_response(crate::Api::Cohere, 400, message, None)
}

fn event(v: &Value) -> Bytes {
    Bytes::from(format!("event: {}\ndata: {v}\n\n", v["type"].as_str().unwrap_or("")))
}

/// `POST /v2/chat`.
pub(crate) fn chat(call: &Call<'_>) -> Response<Body> {
    let Some(messages) = call.body.get("messages").and_then(Value::as_array) else {
        return invalid("invalid request: messages is required");
    };
    for (i, m) in messages.iter().enumerate() {
        if !matches!(m.get("role").and_then(Value::as_str), Some("system" | "user" | "assistant" | "tool")) {
            return invalid(&format!("invalid request: messages[{i}].role must be system, user, assistant or tool"));
        }
    }
    if let Some(k) = ["top_p", "stop", "top_k", "n"].iter().find(|k| call.body.get(**k).is_some()) {
        return invalid(&format!("invalid request: unknown field: parameter {k} is not a valid field"));
    }
    let tools = call.model.contains("tools");
    let text = format!("mock answer to: {}", crate::last_user_text(call.body));
    let output = if tools { 10 } else { text.split_whitespace().count() as u64 };
    let input = prompt_tokens(call.body);
    let usage = json!({"billed_units": {"input_tokens": input, "output_tokens": output}, "tokens": {"input_tokens": input, "output_tokens": output}});
    let call_json =
        json!({"id": "get_weather_mock", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}});
    if !call.stream {
        let message = if tools {
            json!({"role": "assistant", "tool_plan": "I will check the weather.", "tool_calls": [call_json]})
        } else {
            json!({"role": "assistant", "content": [{"type": "text", "text": text}]})
        };
        let body =
            json!({"id": "mock-chat", "finish_reason": if tools { "TOOL_CALL" } else { "COMPLETE" }, "message": message, "usage": usage});
        return full(StatusCode::OK, body.to_string());
    }
    let mut events = vec![event(
        &json!({"type": "message-start", "id": "mock-chat", "delta": {"message": {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": []}}}),
    )];
    if tools {
        events.push(event(&json!({"type": "tool-call-start", "index": 0, "delta": {"message": {"tool_calls": {"id": "get_weather_mock", "type": "function", "function": {"name": "get_weather", "arguments": ""}}}}})));
        for piece in split_pieces("{\"city\":\"Paris\"}", call.chunks) {
            events.push(event(
                &json!({"type": "tool-call-delta", "index": 0, "delta": {"message": {"tool_calls": {"function": {"arguments": piece}}}}}),
            ));
        }
        events.push(event(&json!({"type": "tool-call-end", "index": 0})));
    } else {
        events.push(event(&json!({"type": "content-start", "index": 0, "delta": {"message": {"content": {"type": "text", "text": ""}}}})));
        for piece in split_pieces(&text, call.chunks) {
            events.push(event(&json!({"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": piece}}}})));
        }
        events.push(event(&json!({"type": "content-end", "index": 0})));
    }
    events.push(event(
        &json!({"type": "message-end", "delta": {"finish_reason": if tools { "TOOL_CALL" } else { "COMPLETE" }, "usage": usage}}),
    ));
    if call.model.contains("cut-stream") {
        events.pop();
    }
    stream_events(events, call.interval, None, call.stats.clone())
}

/// `POST /v2/embed`.
pub(crate) fn embed(call: &Call<'_>) -> Response<Body> {
    let Some(texts) = call.body.get("texts").and_then(Value::as_array) else { return invalid("invalid request: texts is required") };
    if call.body.get("input_type").is_none() {
        return invalid("invalid request: input_type is required for embed models v3 and higher");
    }
    let vectors: Vec<Vec<f64>> =
        texts.iter().map(|t| (0..8).map(|d| ((t.to_string().len() * 13 + d * 5) % 100) as f64 / 50.0 - 1.0).collect()).collect();
    let tokens: usize = texts.iter().map(|t| t.to_string().len().div_ceil(4)).sum();
    full(
        StatusCode::OK,
        json!({"id": "mock-embed", "embeddings": {"float": vectors}, "texts": texts, "meta": {"billed_units": {"input_tokens": tokens}}})
            .to_string(),
    )
}
