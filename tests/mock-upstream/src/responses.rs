//! OpenAI's Responses API: `POST /v1/responses` (JSON or named SSE events)
//! and `GET /v1/responses/{id}` for the ids it handed out (`resp_mock_*`).

use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::{Value, json};

use crate::{Api, Body, Call, error_response, full, split_pieces, stream_events};

fn input_text(body: &Value) -> String {
    match body.get("input") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .rev()
            .find(|i| i.get("role").and_then(Value::as_str) == Some("user"))
            .map(|i| match i.get("content") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Array(parts)) => {
                    parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join(" ")
                }
                _ => String::new(),
            })
            .unwrap_or_default(),
        _ => String::new(),
    }
}

fn response(id: &str, model: &str, status: &str, output: Value, usage: Value) -> Value {
    json!({"id": id, "object": "response", "created_at": 1_700_000_000, "status": status, "model": model, "output": output,
           "usage": usage, "error": null, "incomplete_details": null, "instructions": null, "metadata": {}, "parallel_tool_calls": true,
           "tool_choice": "auto", "tools": [], "text": {"format": {"type": "text"}}, "store": true, "temperature": 1.0, "top_p": 1.0})
}

fn usage(input: &str, output: &str) -> Value {
    let (i, o) = (input.len().div_ceil(4).max(1) as u64, output.split_whitespace().count() as u64);
    json!({"input_tokens": i, "output_tokens": o, "total_tokens": i + o, "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}})
}

fn event(v: &Value) -> Bytes {
    Bytes::from(format!("event: {}\ndata: {v}\n\n", v["type"].as_str().unwrap_or("")))
}

/// `POST /v1/responses`.
pub(crate) fn create(call: &Call<'_>) -> Response<Body> {
    if call.body.get("input").is_none() {
        return error_response(Api::OpenAi, 400, "Missing required parameter: 'input'.", Some("missing_required_parameter"));
    }
    let input = input_text(call.body);
    let text = format!("mock answer to: {input}");
    let item = json!({"type": "message", "id": "msg_mock", "status": "completed", "role": "assistant", "content": [{"type": "output_text", "text": text, "annotations": []}]});
    let done = response("resp_mock_1", call.model, "completed", json!([item]), usage(&input, &text));
    if !call.stream {
        return full(StatusCode::OK, done.to_string());
    }
    let mut seq = 0;
    let mut next = |mut v: Value| {
        v["sequence_number"] = json!(seq);
        seq += 1;
        event(&v)
    };
    let pending = response("resp_mock_1", call.model, "in_progress", json!([]), Value::Null);
    let mut events = vec![
        next(json!({"type": "response.created", "response": pending})),
        next(
            json!({"type": "response.output_item.added", "output_index": 0, "item": {"type": "message", "id": "msg_mock", "status": "in_progress", "role": "assistant", "content": []}}),
        ),
        next(
            json!({"type": "response.content_part.added", "item_id": "msg_mock", "output_index": 0, "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}}),
        ),
    ];
    for piece in split_pieces(&text, call.chunks) {
        events.push(next(
            json!({"type": "response.output_text.delta", "item_id": "msg_mock", "output_index": 0, "content_index": 0, "delta": piece}),
        ));
    }
    events.push(next(
        json!({"type": "response.output_text.done", "item_id": "msg_mock", "output_index": 0, "content_index": 0, "text": text}),
    ));
    events.push(next(json!({"type": "response.output_item.done", "output_index": 0, "item": item})));
    events.push(next(json!({"type": "response.completed", "response": done})));
    stream_events(events, call.interval, None, call.stats.clone())
}

/// `GET /v1/responses/{id}`.
pub(crate) fn retrieve(id: &str, model: &str) -> Response<Body> {
    if !id.starts_with("resp_mock") {
        return error_response(Api::OpenAi, 404, &format!("Response with id '{id}' not found."), None);
    }
    let item = json!({"type": "message", "id": "msg_mock", "status": "completed", "role": "assistant", "content": [{"type": "output_text", "text": "stored", "annotations": []}]});
    full(StatusCode::OK, response(id, model, "completed", json!([item]), usage("x", "stored")).to_string())
}
