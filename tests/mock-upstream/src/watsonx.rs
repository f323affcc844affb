//! IBM watsonx.ai: the IAM token exchange (`POST /identity/token`, a form
//! body) and `/ml/v1/text/chat`, `/chat_stream`, `/generation` (also under
//! `/ml/v1/deployments/{id}/`). Calls must carry a token this mock issued
//! (`iam-token-N`, counting exchanges, so tests can see caching), a
//! `version` query, and `project_id` or `space_id`.

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::{Map, Value, json};

use crate::{Api, Body, Call, error_response, full, split_pieces, stream_events};

static TOKENS: AtomicU64 = AtomicU64::new(0);

/// `POST /identity/token`.
pub(crate) fn iam(form: &[u8], require_key: Option<&str>) -> Response<Body> {
    let form = String::from_utf8_lossy(form);
    let field =
        |name: &str| form.split('&').find_map(|kv| kv.strip_prefix(&format!("{name}="))).map(|v| v.replace("%3A", ":").replace("%2D", "-"));
    if field("grant_type").as_deref() != Some("urn:ibm:params:oauth:grant-type:apikey") {
        return full(
            StatusCode::BAD_REQUEST,
            json!({"errorCode": "BXNIM0109E", "errorMessage": "Property missing or empty. Operation not allowed."}).to_string(),
        );
    }
    let key = field("apikey").unwrap_or_default();
    if key.is_empty() || require_key.is_some_and(|k| k != key) {
        return full(
            StatusCode::BAD_REQUEST,
            json!({"errorCode": "BXNIM0415E", "errorMessage": "Provided API key could not be found."}).to_string(),
        );
    }
    let n = TOKENS.fetch_add(1, Ordering::Relaxed) + 1;
    full(StatusCode::OK, json!({"access_token": format!("iam-token-{n}"), "refresh_token": "not_supported", "token_type": "Bearer", "expires_in": 3600, "expiration": 1_700_003_600}).to_string())
}

/// The chat and generation routes.
pub(crate) fn handle(call: &Call<'_>, route: &str, query: &str, headers: &Map<String, Value>) -> Response<Body> {
    let auth = headers.get("authorization").and_then(Value::as_str).unwrap_or("");
    if !auth.starts_with("Bearer iam-token-") && auth != "Bearer wx-static-token" {
        return error_response(
            Api::OpenAi,
            401,
            "Failed to authenticate the request due to an expired token",
            Some("authentication_token_expired"),
        );
    }
    if !query.contains("version=") {
        return error_response(Api::OpenAi, 400, "Missing query parameter: version", Some("invalid_request_parameter"));
    }
    if call.body.get("project_id").is_none() && call.body.get("space_id").is_none() {
        return error_response(Api::OpenAi, 400, "Either project_id or space_id must be specified", Some("invalid_input_argument"));
    }
    if !route.contains("/deployments/") && call.body.get("model_id").and_then(Value::as_str).is_none() {
        return error_response(Api::OpenAi, 400, "Missing model_id", Some("json_validation_error"));
    }
    let model = call.body.get("model_id").and_then(Value::as_str).unwrap_or("deployed-model");
    if route.ends_with("/text/generation") {
        let input = call.body.get("input").and_then(Value::as_str).unwrap_or("");
        let text = format!("mock generation of: {}", input.trim());
        return full(StatusCode::OK, json!({"model_id": model, "created_at": "2026-11-22T00:00:00Z", "results": [{"generated_text": text,
            "generated_token_count": text.split_whitespace().count(), "input_token_count": input.len().div_ceil(4), "stop_reason": "eos_token"}]}).to_string());
    }
    let text = format!("mock answer to: {}", crate::last_user_text(call.body));
    let prompt = crate::prompt_tokens(call.body);
    let output = text.split_whitespace().count() as u64;
    let usage = json!({"prompt_tokens": prompt, "completion_tokens": output, "total_tokens": prompt + output});
    if route.ends_with("/text/chat") {
        return full(
            StatusCode::OK,
            json!({"id": "chat-mock", "model_id": model, "model": model, "created": 1_700_000_000,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}], "usage": usage})
            .to_string(),
        );
    }
    let mut events = Vec::new();
    let chunk = |delta: Value, finish: Value, usage: Option<&Value>| {
        let mut c = json!({"id": "chat-mock", "model_id": model, "model": model, "created": 1_700_000_000, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        if let Some(u) = usage {
            c["usage"] = u.clone();
        }
        Bytes::from(format!("id: 1\nevent: message\ndata: {c}\n\n"))
    };
    events.push(chunk(json!({"role": "assistant", "content": ""}), Value::Null, None));
    for piece in split_pieces(&text, call.chunks) {
        events.push(chunk(json!({"content": piece}), Value::Null, None));
    }
    events.push(chunk(json!({}), json!("stop"), Some(&usage)));
    stream_events(events, call.interval, None, call.stats.clone())
}
