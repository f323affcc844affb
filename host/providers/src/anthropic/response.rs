//! Anthropic message → OpenAI chat completion, and the usage and stop
//! reason mappings the stream translator shares.

use serde_json::{Map, Value, json};
use tianji_core::types::{ChatResponse, Choice, Content, FunctionCall, Message, ToolCall, Usage, unix_now};

use super::request::{JSON_TOOL, Translated};
use super::wire::{self, MessagesResponse};

/// Anthropic `stop_reason` → OpenAI `finish_reason`.
pub fn finish_reason(stop_reason: &str) -> &'static str {
    match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        _ => "stop",
    }
}

/// Anthropic usage → OpenAI usage: prompt tokens include the cached and
/// cache-writing ones (all are input the model read), with the cache figures
/// kept under their Anthropic names and in `prompt_tokens_details`.
pub fn usage(u: &wire::Usage) -> Usage {
    let cached = u.cache_read_input_tokens.unwrap_or(0);
    let created = u.cache_creation_input_tokens.unwrap_or(0);
    let mut out = Usage::new(u.input_tokens + cached + created, u.output_tokens);
    if cached > 0 || created > 0 {
        out.extra.insert("prompt_tokens_details".to_owned(), json!({"cached_tokens": cached}));
        out.extra.insert("cache_read_input_tokens".to_owned(), json!(cached));
        out.extra.insert("cache_creation_input_tokens".to_owned(), json!(created));
    }
    out
}

/// Builds the chat completion.
pub fn from_anthropic(resp: MessagesResponse, translated: Translated) -> ChatResponse {
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut thinking_blocks = Vec::new();
    let mut tool_calls = Vec::new();
    for block in resp.content {
        match block.kind.as_str() {
            "text" => text.push_str(block.text.as_deref().unwrap_or("")),
            "thinking" | "redacted_thinking" => {
                reasoning.push_str(block.thinking.as_deref().unwrap_or(""));
                thinking_blocks.push(serde_json::to_value(&block).unwrap_or(Value::Null));
            }
            "tool_use" if translated.json_tool && block.name.as_deref() == Some(JSON_TOOL) => {
                text.push_str(&block.input.unwrap_or_else(|| json!({})).to_string());
            }
            "tool_use" => tool_calls.push(ToolCall {
                id: block.id,
                kind: Some("function".to_owned()),
                function: FunctionCall { name: block.name, arguments: block.input.unwrap_or_else(|| json!({})).to_string() },
                index: None,
            }),
            // Server-tool blocks (web search results, ...) have no OpenAI form.
            _ => {}
        }
    }
    let mut extra = Map::new();
    if !thinking_blocks.is_empty() {
        extra.insert("reasoning_content".to_owned(), Value::String(reasoning));
        extra.insert("thinking_blocks".to_owned(), Value::Array(thinking_blocks));
    }
    let finish = match resp.stop_reason.as_deref() {
        Some("tool_use") if tool_calls.is_empty() => "stop",
        Some(r) => finish_reason(r),
        None => "stop",
    };
    let message = Message {
        role: "assistant".to_owned(),
        content: (!text.is_empty() || tool_calls.is_empty()).then_some(Content::Text(text)),
        tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
        extra,
        ..Default::default()
    };
    ChatResponse {
        id: resp.id,
        object: "chat.completion".to_owned(),
        created: unix_now(),
        model: resp.model,
        choices: vec![Choice { index: 0, message, finish_reason: Some(finish.to_owned()), extra: Map::new() }],
        usage: Some(usage(&resp.usage)),
        extra: Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_tools_thinking_and_cache_usage() {
        let resp: MessagesResponse = serde_json::from_value(json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
            ],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 3}
        }))
        .expect("parse");
        let out = serde_json::to_value(from_anthropic(resp, Translated::default())).expect("json");
        let choice = &out["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls");
        assert_eq!(choice["message"]["content"], "Let me check.");
        assert_eq!(choice["message"]["reasoning_content"], "hmm");
        assert_eq!(choice["message"]["tool_calls"][0]["id"], "toolu_1");
        assert_eq!(choice["message"]["tool_calls"][0]["function"]["arguments"], "{\"city\":\"Paris\"}");
        assert_eq!(out["usage"]["prompt_tokens"], 113);
        assert_eq!(out["usage"]["completion_tokens"], 5);
        assert_eq!(out["usage"]["prompt_tokens_details"]["cached_tokens"], 100);
    }

    #[test]
    fn json_tool_answer_is_content() {
        let resp: MessagesResponse = serde_json::from_value(json!({
            "id": "msg_1", "model": "c", "content": [{"type": "tool_use", "id": "t", "name": JSON_TOOL, "input": {"a": 1}}],
            "stop_reason": "tool_use", "usage": {"input_tokens": 1, "output_tokens": 1}
        }))
        .expect("parse");
        let out = from_anthropic(resp, Translated { json_tool: true });
        assert_eq!(out.choices[0].message.text_content(), "{\"a\":1}");
        assert_eq!(out.choices[0].finish_reason.as_deref(), Some("stop"));
        assert!(out.choices[0].message.tool_calls.is_none());
    }
}
