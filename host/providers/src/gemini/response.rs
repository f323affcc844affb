//! `generateContent` answer → OpenAI chat completion; the pieces the stream
//! translator shares (finish reasons, usage, tool-call ids).

use serde_json::{Map, Value, json};
use tianji_core::types::{ChatResponse, Choice, Content, FunctionCall, Message, ToolCall, Usage, unix_now};

use super::request::SIGNATURE_MARK;
use super::wire::{self, GenerateResponse, UsageMetadata};

/// Gemini `finishReason` → OpenAI `finish_reason`.
pub fn finish_reason(reason: &str, has_tool_calls: bool) -> &'static str {
    match reason {
        _ if has_tool_calls => "tool_calls",
        "MAX_TOKENS" => "length",
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" | "LANGUAGE" => "content_filter",
        _ => "stop",
    }
}

/// Token counts → usage; reasoning tokens count as completion tokens, as OpenAI counts them.
pub fn usage(u: &UsageMetadata) -> Usage {
    let completion = u.candidates_token_count + u.thoughts_token_count;
    let mut out = Usage::new(u.prompt_token_count, completion);
    if u.thoughts_token_count > 0 {
        out.extra.insert("completion_tokens_details".to_owned(), json!({"reasoning_tokens": u.thoughts_token_count}));
    }
    if u.cached_content_token_count > 0 {
        out.extra.insert("prompt_tokens_details".to_owned(), json!({"cached_tokens": u.cached_content_token_count}));
    }
    out
}

/// An OpenAI tool call for a `functionCall` part; its id carries the
/// part's thought signature so the next turn can send it back.
pub fn tool_call(call: wire::FunctionCall, signature: Option<String>, n: usize, index: Option<u32>) -> ToolCall {
    let base = call.id.unwrap_or_else(|| format!("call_{n}_{:08x}", fastrand_u32()));
    let id = match signature {
        Some(s) => format!("{base}{SIGNATURE_MARK}{s}"),
        None => base,
    };
    ToolCall {
        id: Some(id),
        kind: Some("function".to_owned()),
        function: FunctionCall { name: Some(call.name), arguments: call.args.to_string() },
        index,
    }
}

/// A random suffix so ids differ between answers.
fn fastrand_u32() -> u32 {
    fastrand::u32(..)
}

/// The chat completion for an answer.
pub fn from_gemini(resp: GenerateResponse, model: &str) -> ChatResponse {
    let mut choices = Vec::new();
    for (i, cand) in resp.candidates.into_iter().enumerate() {
        let mut text = String::new();
        let mut reasoning = String::new();
        let mut calls = Vec::new();
        for part in cand.content.map(|c| c.parts).unwrap_or_default() {
            if let Some(call) = part.function_call {
                let n = calls.len();
                calls.push(tool_call(call, part.thought_signature, n, None));
            } else if let Some(t) = part.text {
                if part.thought == Some(true) { reasoning.push_str(&t) } else { text.push_str(&t) }
            }
        }
        let finish = finish_reason(cand.finish_reason.as_deref().unwrap_or("STOP"), !calls.is_empty());
        let mut extra = Map::new();
        if !reasoning.is_empty() {
            extra.insert("reasoning_content".to_owned(), Value::String(reasoning));
        }
        let message = Message {
            role: "assistant".to_owned(),
            content: (!text.is_empty() || calls.is_empty()).then_some(Content::Text(text)),
            tool_calls: (!calls.is_empty()).then_some(calls),
            extra,
            ..Default::default()
        };
        choices.push(Choice { index: cand.index.unwrap_or(i as u32), message, finish_reason: Some(finish.to_owned()), extra: Map::new() });
    }
    if choices.is_empty() {
        // The prompt itself was blocked (promptFeedback.blockReason): no candidates.
        let message = Message { role: "assistant".to_owned(), content: Some(Content::Text(String::new())), ..Default::default() };
        choices.push(Choice { index: 0, message, finish_reason: Some("content_filter".to_owned()), extra: Map::new() });
    }
    ChatResponse {
        id: resp.response_id.map(|r| format!("chatcmpl-{r}")).unwrap_or_else(|| format!("chatcmpl-{:08x}", fastrand_u32())),
        object: "chat.completion".to_owned(),
        created: unix_now(),
        model: resp.model_version.unwrap_or_else(|| model.to_owned()),
        choices,
        usage: resp.usage_metadata.as_ref().map(usage),
        extra: Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_answer() {
        let resp: GenerateResponse = serde_json::from_value(json!({
            "candidates": [{"content": {"role": "model", "parts": [
                {"text": "thinking...", "thought": true},
                {"text": "Sure."},
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "c2ln"}
            ]}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "thoughtsTokenCount": 7, "totalTokenCount": 22},
            "modelVersion": "gemini-2.5-flash", "responseId": "abc"
        }))
        .expect("parse");
        let out = from_gemini(resp, "gemini-2.5-flash");
        let m = &out.choices[0].message;
        assert_eq!(out.choices[0].finish_reason.as_deref(), Some("tool_calls"));
        assert_eq!(m.text_content(), "Sure.");
        assert_eq!(m.extra["reasoning_content"], "thinking...");
        let call = &m.tool_calls.as_ref().expect("calls")[0];
        assert!(call.id.as_deref().is_some_and(|id| id.ends_with("__thought__c2ln")));
        assert_eq!(call.function.arguments, "{\"city\":\"Paris\"}");
        let u = out.usage.expect("usage");
        assert_eq!((u.prompt_tokens, u.completion_tokens, u.total_tokens), (10, 12, 22));
        assert_eq!(out.id, "chatcmpl-abc");
    }

    #[test]
    fn blocked_prompt_is_a_content_filter_finish() {
        let resp: GenerateResponse = serde_json::from_value(json!({"promptFeedback": {"blockReason": "SAFETY"}})).expect("parse");
        assert_eq!(from_gemini(resp, "m").choices[0].finish_reason.as_deref(), Some("content_filter"));
    }
}
