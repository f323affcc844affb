//! Google's `generateContent` API, as the Gemini API
//! (`/v1beta/models/{model}:generateContent`) and Vertex AI
//! (`/v1/projects/{p}/locations/{l}/publishers/google/models/{model}:generateContent`)
//! serve it: `:generateContent`, `:streamGenerateContent?alt=sse`,
//! `:batchEmbedContents` and Vertex's `:predict` for embeddings.
//!
//! Requests are checked as strictly as Google's JSON parsing checks them:
//! unknown fields in `generationConfig` or a part are refused, roles are
//! `user` or `model`, every part holds exactly one kind of data.

use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::{Value, json};

use crate::{Body, Call, error_response, full, split_pieces, stream_events};

const GENERATION_CONFIG: &[&str] = &[
    "temperature",
    "topP",
    "topK",
    "maxOutputTokens",
    "stopSequences",
    "candidateCount",
    "responseMimeType",
    "responseSchema",
    "responseJsonSchema",
    "presencePenalty",
    "frequencyPenalty",
    "seed",
    "responseLogprobs",
    "logprobs",
    "thinkingConfig",
];
const PART_DATA: &[&str] = &["text", "inlineData", "fileData", "functionCall", "functionResponse", "executableCode", "codeExecutionResult"];
const PART_META: &[&str] = &["thought", "thoughtSignature"];

/// `{"error": {"code", "message", "status"}}`.
pub(crate) fn error_body(status: u16, message: &str) -> Value {
    let s = match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        _ => "INTERNAL",
    };
    json!({"error": {"code": status, "message": message, "status": s}})
}

/// The model named in the path (`.../models/{model}:method`).
pub(crate) fn model_of(path: &str) -> &str {
    let tail = path.rsplit("/models/").next().unwrap_or("");
    tail.split(':').next().unwrap_or("")
}

fn invalid(message: String) -> Response<Body> {
    error_response(crate::Api::Google, 400, &message, None)
}

fn check_parts(parts: &[Value], at: &str) -> Result<(), String> {
    for (j, p) in parts.iter().enumerate() {
        let Some(obj) = p.as_object() else { return Err(format!("{at}.parts[{j}]: expected an object")) };
        if let Some(unknown) = obj.keys().find(|k| !PART_DATA.contains(&k.as_str()) && !PART_META.contains(&k.as_str())) {
            return Err(format!("Invalid JSON payload received. Unknown name \"{unknown}\" at '{at}.parts[{j}]'"));
        }
        let data = obj.keys().filter(|k| PART_DATA.contains(&k.as_str())).count();
        if data != 1 {
            return Err(format!("{at}.parts[{j}]: a part must hold exactly one kind of data, found {data}"));
        }
        if let Some(fr) = obj.get("functionResponse")
            && (fr.get("name").and_then(Value::as_str).is_none() || !fr.get("response").is_some_and(Value::is_object))
        {
            return Err(format!("{at}.parts[{j}].functionResponse: name and response (an object) are required"));
        }
    }
    Ok(())
}

fn check(body: &Value) -> Result<(), String> {
    let Some(contents) = body.get("contents").and_then(Value::as_array).filter(|c| !c.is_empty()) else {
        return Err("* GenerateContentRequest.contents: contents is not specified".to_owned());
    };
    for (i, c) in contents.iter().enumerate() {
        match c.get("role").and_then(Value::as_str) {
            Some("user" | "model") => {}
            other => return Err(format!("Please use a valid role: user, model. (contents[{i}].role = {other:?})")),
        }
        check_parts(c.get("parts").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]), &format!("contents[{i}]"))?;
    }
    if let Some(s) = body.get("systemInstruction") {
        check_parts(s.get("parts").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]), "system_instruction")?;
    }
    if let Some(g) = body.get("generationConfig").and_then(Value::as_object)
        && let Some(unknown) = g.keys().find(|k| !GENERATION_CONFIG.contains(&k.as_str()))
    {
        return Err(format!("Invalid JSON payload received. Unknown name \"{unknown}\" at 'generation_config'"));
    }
    Ok(())
}

fn user_text(body: &Value) -> String {
    let contents = body.get("contents").and_then(Value::as_array).cloned().unwrap_or_default();
    contents
        .iter()
        .rev()
        .find(|c| {
            c.get("role").and_then(Value::as_str) == Some("user")
                && c["parts"].as_array().is_some_and(|p| p.iter().any(|p| p.get("text").is_some()))
        })
        .map(|c| {
            c["parts"]
                .as_array()
                .map(|ps| ps.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join(" "))
                .unwrap_or_default()
        })
        .unwrap_or_default()
}

fn prompt_tokens(body: &Value) -> u64 {
    (body.get("contents").map(|c| c.to_string().len()).unwrap_or(0) as u64).div_ceil(4).max(1)
}

fn usage(body: &Value, output: u64) -> Value {
    let p = prompt_tokens(body);
    json!({"promptTokenCount": p, "candidatesTokenCount": output, "totalTokenCount": p + output})
}

/// `:generateContent` / `:streamGenerateContent`.
pub(crate) fn generate(call: &Call<'_>, stream: bool) -> Response<Body> {
    if let Err(m) = check(call.body) {
        return invalid(m);
    }
    let tools = call.model.contains("tools");
    let text = format!("mock answer to: {}", user_text(call.body));
    let output = if tools { 10 } else { text.split_whitespace().count() as u64 };
    let call_part = json!({"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "bW9jaw=="});
    if !stream {
        let parts = if tools { json!([call_part]) } else { json!([{"text": text}]) };
        let body = json!({"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": usage(call.body, output), "modelVersion": call.model, "responseId": "mock-response"});
        return full(StatusCode::OK, body.to_string());
    }
    let mut events = Vec::new();
    let event = |parts: Value, finish: Option<&str>, usage: Value| {
        let mut cand = json!({"content": {"role": "model", "parts": parts}, "index": 0});
        if let Some(f) = finish {
            cand["finishReason"] = json!(f);
        }
        Bytes::from(format!(
            "data: {}\r\n\r\n",
            json!({"candidates": [cand], "usageMetadata": usage, "modelVersion": call.model, "responseId": "mock-response"})
        ))
    };
    if tools {
        events.push(event(json!([call_part]), Some("STOP"), usage(call.body, output)));
    } else {
        let pieces = split_pieces(&text, call.chunks);
        let last = pieces.len().saturating_sub(1);
        for (i, piece) in pieces.into_iter().enumerate() {
            let finish = (i == last).then_some("STOP");
            events.push(event(json!([{"text": piece}]), finish, usage(call.body, if i == last { output } else { i as u64 + 1 })));
        }
    }
    if call.model.contains("cut-stream") {
        events.pop();
    }
    let drop_after = call.model.contains("drop-mid-stream").then_some(1);
    stream_events(events, call.interval, drop_after, call.stats.clone())
}

fn vector(text: &str, dims: usize) -> Vec<f64> {
    let mut h: u64 = 1469598103934665603;
    (0..dims)
        .map(|d| {
            for b in text.bytes().chain([d as u8]) {
                h = (h ^ u64::from(b)).wrapping_mul(1099511628211);
            }
            ((h % 2000) as f64 / 1000.0) - 1.0
        })
        .collect()
}

/// `:batchEmbedContents` (Gemini API).
pub(crate) fn batch_embed(call: &Call<'_>) -> Response<Body> {
    let Some(requests) = call.body.get("requests").and_then(Value::as_array) else { return invalid("requests is required".to_owned()) };
    let mut out = Vec::new();
    for (i, r) in requests.iter().enumerate() {
        if r.get("model").and_then(Value::as_str) != Some(&format!("models/{}", call.model)) {
            return invalid(format!("requests[{i}].model must be models/{}", call.model));
        }
        let text = r.pointer("/content/parts/0/text").and_then(Value::as_str).unwrap_or("");
        let dims = r.get("outputDimensionality").and_then(Value::as_u64).unwrap_or(8) as usize;
        out.push(json!({"values": vector(text, dims)}));
    }
    full(StatusCode::OK, json!({"embeddings": out}).to_string())
}

/// `:predict` (Vertex AI text embeddings).
pub(crate) fn predict(call: &Call<'_>) -> Response<Body> {
    let Some(instances) = call.body.get("instances").and_then(Value::as_array) else { return invalid("instances is required".to_owned()) };
    let dims = call.body.pointer("/parameters/outputDimensionality").and_then(Value::as_u64).unwrap_or(8) as usize;
    let predictions: Vec<Value> = instances
        .iter()
        .map(|i| {
            let text = i.get("content").and_then(Value::as_str).unwrap_or("");
            json!({"embeddings": {"values": vector(text, dims), "statistics": {"token_count": text.len().div_ceil(4), "truncated": false}}})
        })
        .collect();
    full(StatusCode::OK, json!({"predictions": predictions}).to_string())
}
