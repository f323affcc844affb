//! Converse answer → OpenAI chat completion, and the mappings the stream
//! translator shares.

use serde_json::{Map, Value, json};
use tianji_core::types::{ChatResponse, Choice, Content, FunctionCall, Message, ToolCall, Usage, unix_now};

/// Converse `stopReason` → OpenAI `finish_reason`.
pub fn finish_reason(reason: &str) -> &'static str {
    match reason {
        "tool_use" => "tool_calls",
        "max_tokens" | "model_context_window_exceeded" => "length",
        "guardrail_intervened" | "content_filtered" => "content_filter",
        _ => "stop",
    }
}

/// Converse usage → OpenAI usage (cache reads and writes count as prompt tokens).
pub fn usage(u: &Value) -> Usage {
    let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
    let (read, write) = (n("cacheReadInputTokens"), n("cacheWriteInputTokens"));
    let mut out = Usage::new(n("inputTokens") + read + write, n("outputTokens"));
    if read > 0 || write > 0 {
        out.extra.insert("prompt_tokens_details".to_owned(), json!({"cached_tokens": read}));
        out.extra.insert("cache_read_input_tokens".to_owned(), json!(read));
        out.extra.insert("cache_creation_input_tokens".to_owned(), json!(write));
    }
    out
}

/// The chat completion for a Converse answer; `None` if it lacks `output.message`.
pub fn from_converse(resp: &Value, model: &str) -> Option<ChatResponse> {
    let blocks = resp.pointer("/output/message/content")?.as_array()?;
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut calls = Vec::new();
    for b in blocks {
        if let Some(t) = b.get("text").and_then(Value::as_str) {
            text.push_str(t);
        } else if let Some(tu) = b.get("toolUse") {
            calls.push(ToolCall {
                id: tu.get("toolUseId").and_then(Value::as_str).map(str::to_owned),
                kind: Some("function".to_owned()),
                function: FunctionCall {
                    name: tu.get("name").and_then(Value::as_str).map(str::to_owned),
                    arguments: tu.get("input").cloned().unwrap_or_else(|| json!({})).to_string(),
                },
                index: None,
            });
        } else if let Some(r) = b.pointer("/reasoningContent/reasoningText/text").and_then(Value::as_str) {
            reasoning.push_str(r);
        }
    }
    let mut extra = Map::new();
    if !reasoning.is_empty() {
        extra.insert("reasoning_content".to_owned(), Value::String(reasoning));
    }
    let finish = finish_reason(resp.get("stopReason").and_then(Value::as_str).unwrap_or("end_turn"));
    let message = Message {
        role: "assistant".to_owned(),
        content: (!text.is_empty() || calls.is_empty()).then_some(Content::Text(text)),
        tool_calls: (!calls.is_empty()).then_some(calls),
        extra,
        ..Default::default()
    };
    Some(ChatResponse {
        id: format!("chatcmpl-{:016x}", fastrand::u64(..)),
        object: "chat.completion".to_owned(),
        created: unix_now(),
        model: model.to_owned(),
        choices: vec![Choice { index: 0, message, finish_reason: Some(finish.to_owned()), extra: Map::new() }],
        usage: resp.get("usage").map(usage),
        extra: Map::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_answer() {
        let resp = json!({"output": {"message": {"role": "assistant", "content": [
            {"reasoningContent": {"reasoningText": {"text": "hmm", "signature": "s"}}},
            {"text": "Calling."}, {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Paris"}}}]}},
            "stopReason": "tool_use", "usage": {"inputTokens": 30, "outputTokens": 12, "totalTokens": 42}, "metrics": {"latencyMs": 100}});
        let out = from_converse(&resp, "anthropic.claude").expect("answer");
        assert_eq!(out.choices[0].finish_reason.as_deref(), Some("tool_calls"));
        assert_eq!(out.choices[0].message.text_content(), "Calling.");
        assert_eq!(out.choices[0].message.extra["reasoning_content"], "hmm");
        assert_eq!(
            out.choices[0].message.tool_calls.as_ref().map(|c| c[0].function.arguments.clone()),
            Some("{\"city\":\"Paris\"}".to_owned())
        );
        assert_eq!(out.usage.map(|u| u.total_tokens), Some(42));
        assert!(from_converse(&json!({"unexpected": 1}), "m").is_none());
    }
}
