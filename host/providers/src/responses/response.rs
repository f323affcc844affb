//! Chat completion → Responses-API `response` object.

use serde_json::{Value, json};
use tianji_core::types::{ChatResponse, Usage, unix_now};

/// Prefix of ids the gateway makes for translated responses; `GET
/// /v1/responses/{id}` answers 400 for them (nothing is stored upstream).
pub const TRANSLATED_PREFIX: &str = "resp_tianji_";

/// A fresh id for a translated response.
pub fn new_id() -> String {
    format!("{TRANSLATED_PREFIX}{:016x}{:08x}", fastrand::u64(..), fastrand::u32(..))
}

/// Responses-API usage from chat usage.
pub fn usage(u: &Usage) -> Value {
    let cached = u.extra.get("prompt_tokens_details").and_then(|d| d.get("cached_tokens")).and_then(Value::as_u64).unwrap_or(0);
    let reasoning = u.extra.get("completion_tokens_details").and_then(|d| d.get("reasoning_tokens")).and_then(Value::as_u64).unwrap_or(0);
    json!({
        "input_tokens": u.prompt_tokens, "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": u.completion_tokens, "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": u.prompt_tokens + u.completion_tokens
    })
}

/// The response envelope around `output`, echoing the request's settings.
pub fn envelope(id: &str, model: &str, request: &Value, status: &str, output: Vec<Value>, usage: Option<Value>) -> Value {
    let incomplete = (status == "incomplete").then(|| json!({"reason": "max_output_tokens"}));
    json!({
        "id": id, "object": "response", "created_at": unix_now(), "status": status, "model": model,
        "output": output, "usage": usage, "error": null, "incomplete_details": incomplete,
        "instructions": request.get("instructions").cloned().unwrap_or(Value::Null),
        "max_output_tokens": request.get("max_output_tokens").cloned().unwrap_or(Value::Null),
        "metadata": request.get("metadata").cloned().unwrap_or_else(|| json!({})),
        "parallel_tool_calls": request.get("parallel_tool_calls").cloned().unwrap_or(json!(true)),
        "previous_response_id": null,
        "reasoning": request.get("reasoning").cloned().unwrap_or_else(|| json!({"effort": null, "summary": null})),
        "store": false,
        "temperature": request.get("temperature").cloned().unwrap_or(json!(1.0)),
        "text": request.get("text").cloned().unwrap_or_else(|| json!({"format": {"type": "text"}})),
        "tool_choice": request.get("tool_choice").cloned().unwrap_or(json!("auto")),
        "tools": request.get("tools").cloned().unwrap_or_else(|| json!([])),
        "top_p": request.get("top_p").cloned().unwrap_or(json!(1.0)),
        "truncation": "disabled",
        "user": request.get("user").cloned().unwrap_or(Value::Null),
    })
}

/// A completed assistant message item.
pub fn message_item(id: &str, text: &str) -> Value {
    json!({"type": "message", "id": id, "status": "completed", "role": "assistant",
           "content": [{"type": "output_text", "text": text, "annotations": []}]})
}

/// A completed function-call item.
pub fn function_call_item(id: &str, call_id: &str, name: &str, arguments: &str) -> Value {
    json!({"type": "function_call", "id": id, "call_id": call_id, "name": name, "arguments": arguments, "status": "completed"})
}

/// The response object for a chat completion.
pub fn from_chat(resp: ChatResponse, request: &Value) -> Value {
    let id = new_id();
    let mut output = Vec::new();
    let mut status = "completed";
    if let Some(choice) = resp.choices.into_iter().next() {
        if let Some(r) = choice.message.extra.get("reasoning_content").and_then(Value::as_str).filter(|r| !r.is_empty()) {
            output.push(json!({"type": "reasoning", "id": format!("rs_{}", &id[TRANSLATED_PREFIX.len()..]), "summary": [{"type": "summary_text", "text": r}]}));
        }
        let text = choice.message.text_content();
        if !text.is_empty() {
            output.push(message_item(&format!("msg_{}", &id[TRANSLATED_PREFIX.len()..]), &text));
        }
        for (k, call) in choice.message.tool_calls.unwrap_or_default().into_iter().enumerate() {
            let call_id = call.id.unwrap_or_else(|| format!("call_{k}"));
            output.push(function_call_item(
                &format!("fc_{}_{k}", &id[TRANSLATED_PREFIX.len()..]),
                &call_id,
                call.function.name.as_deref().unwrap_or(""),
                &call.function.arguments,
            ));
        }
        if choice.finish_reason.as_deref() == Some("length") {
            status = "incomplete";
        }
    }
    envelope(&id, &resp.model, request, status, output, resp.usage.as_ref().map(usage))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_tool_calls() {
        let chat: ChatResponse = serde_json::from_value(json!({"id": "c", "model": "claude", "choices": [{"index": 0, "finish_reason": "tool_calls",
            "message": {"role": "assistant", "content": "Checking.", "tool_calls": [{"id": "toolu_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}}))
        .expect("chat");
        let out = from_chat(chat, &json!({"model": "claude", "input": "x"}));
        assert_eq!(out["object"], "response");
        assert_eq!(out["status"], "completed");
        assert!(out["id"].as_str().is_some_and(|id| id.starts_with(TRANSLATED_PREFIX)));
        assert_eq!(out["output"][0]["content"][0], json!({"type": "output_text", "text": "Checking.", "annotations": []}));
        assert_eq!(out["output"][1]["call_id"], "toolu_1");
        assert_eq!(out["usage"]["input_tokens"], 5);
        assert_eq!(out["usage"]["total_tokens"], 8);
    }
}
