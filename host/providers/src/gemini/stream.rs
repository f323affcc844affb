//! `streamGenerateContent?alt=sse` events → OpenAI chat chunks.
//!
//! Each event is a whole `GenerateContentResponse` carrying the next piece
//! of text (or a whole function call) and the usage so far. Gemini has no
//! closing event: the stream ends when the connection does, and a stream
//! that ends before any candidate carried a `finishReason` was cut short.

use std::collections::VecDeque;

use serde_json::{Map, Value};
use tianji_core::GatewayError;
use tianji_core::types::{ChatChunk, ChunkChoice, Delta, Reply};

use super::response::{finish_reason, tool_call, usage};
use super::wire::{GenerateResponse, UsageMetadata};
use crate::http::{StreamTranslator, malformed, upstream_error};
use crate::translate::StreamHead;

/// Translates one Gemini stream.
pub struct GeminiStream {
    provider: String,
    include_usage: bool,
    head: StreamHead,
    started: bool,
    tools: u32,
    finished: bool,
    usage: Option<UsageMetadata>,
}

impl GeminiStream {
    /// A translator for `model`; `include_usage` adds the final usage chunk.
    pub fn new(provider: &str, model: &str, include_usage: bool) -> Self {
        Self {
            provider: provider.to_owned(),
            include_usage,
            head: StreamHead::new(String::new(), model),
            started: false,
            tools: 0,
            finished: false,
            usage: None,
        }
    }
}

impl StreamTranslator<eventsource_stream::Event> for GeminiStream {
    type Item = Reply<ChatChunk>;

    fn frame(&mut self, ev: eventsource_stream::Event, out: &mut VecDeque<Self::Item>) -> Result<bool, GatewayError> {
        let data = ev.data.trim();
        if data.is_empty() {
            return Ok(false);
        }
        if data.contains("\"error\"")
            && let Ok(v) = serde_json::from_str::<Value>(data)
            && let Some(err) = v.get("error")
        {
            let status = err.get("code").and_then(Value::as_u64).and_then(|c| http::StatusCode::from_u16(c as u16).ok());
            return Err(upstream_error(
                &self.provider,
                status.unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR),
                &http::HeaderMap::new(),
                data.as_bytes(),
            ));
        }
        let resp: GenerateResponse =
            serde_json::from_str(data).map_err(|e| malformed(&self.provider, format!("stream event {data:.200}: {e}")))?;
        if !self.started {
            self.started = true;
            self.head.id =
                resp.response_id.as_ref().map(|r| format!("chatcmpl-{r}")).unwrap_or_else(|| format!("chatcmpl-{}", self.head.created));
            if let Some(v) = &resp.model_version {
                self.head.model.clone_from(v);
            }
            out.push_back(self.head.role());
        }
        if resp.usage_metadata.is_some() {
            self.usage = resp.usage_metadata;
        }
        if resp.candidates.is_empty() && resp.prompt_feedback.as_ref().is_some_and(|f| f.get("blockReason").is_some()) {
            self.finished = true;
            let choice =
                ChunkChoice { index: 0, delta: Delta::default(), finish_reason: Some("content_filter".to_owned()), extra: Map::new() };
            out.push_back(self.head.choices(vec![choice]));
        }
        for (i, cand) in resp.candidates.into_iter().enumerate() {
            let index = cand.index.unwrap_or(i as u32);
            let mut delta = Delta::default();
            let mut calls = Vec::new();
            for part in cand.content.map(|c| c.parts).unwrap_or_default() {
                if let Some(call) = part.function_call {
                    let n = self.tools;
                    self.tools += 1;
                    calls.push(tool_call(call, part.thought_signature, n as usize, Some(n)));
                } else if let Some(t) = part.text {
                    if part.thought == Some(true) {
                        let r = delta.extra.entry("reasoning_content").or_insert_with(|| Value::String(String::new()));
                        if let Value::String(s) = r {
                            s.push_str(&t);
                        }
                    } else {
                        delta.content.get_or_insert_with(String::new).push_str(&t);
                    }
                }
            }
            if !calls.is_empty() {
                delta.tool_calls = Some(calls);
            }
            let has_delta = delta.content.is_some() || delta.tool_calls.is_some() || !delta.extra.is_empty();
            if has_delta {
                out.push_back(self.head.choices(vec![ChunkChoice { index, delta, finish_reason: None, extra: Map::new() }]));
            }
            if let Some(reason) = cand.finish_reason {
                self.finished = true;
                let finish = finish_reason(&reason, self.tools > 0);
                let choice = ChunkChoice { index, delta: Delta::default(), finish_reason: Some(finish.to_owned()), extra: Map::new() };
                out.push_back(self.head.choices(vec![choice]));
            }
        }
        Ok(false)
    }

    fn closed(&mut self, out: &mut VecDeque<Self::Item>) -> Result<(), GatewayError> {
        if !self.finished {
            return Err(malformed(&self.provider, "the stream ended before any candidate had a finishReason"));
        }
        if self.include_usage
            && let Some(u) = &self.usage
        {
            out.push_back(self.head.usage(usage(u)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(events: &[Value]) -> Result<Vec<Value>, GatewayError> {
        let mut t = GeminiStream::new("gemini", "gemini-x", true);
        let mut out = VecDeque::new();
        for e in events {
            t.frame(eventsource_stream::Event { data: e.to_string(), ..Default::default() }, &mut out)?;
        }
        t.closed(&mut out)?;
        Ok(out.into_iter().map(|r| serde_json::from_slice(&r.to_bytes().expect("bytes")).expect("json")).collect())
    }

    #[test]
    fn text_then_function_call() {
        let events = [
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}, "index": 0}], "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 1}}),
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "lo"}]}, "index": 0}]}),
            json!({"candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {"a": 1}}}]}, "finishReason": "STOP", "index": 0}],
                   "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 6, "totalTokenCount": 10}}),
        ];
        let chunks = run(&events).expect("ok");
        let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
        assert_eq!(text, "Hello");
        let call = chunks.iter().find_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0).cloned()).expect("tool call");
        assert_eq!(call["function"]["arguments"], "{\"a\":1}");
        assert_eq!(call["index"], 0);
        assert!(chunks.iter().any(|c| c["choices"][0]["finish_reason"] == "tool_calls"));
        assert_eq!(chunks.last().expect("usage")["usage"]["total_tokens"], 10);
    }

    #[test]
    fn cut_and_malformed_streams_are_502s() {
        let cut = [json!({"candidates": [{"content": {"parts": [{"text": "Hel"}]}}]})];
        assert_eq!(run(&cut).expect_err("cut").status, http::StatusCode::BAD_GATEWAY);
        let mut t = GeminiStream::new("gemini", "m", false);
        let e = t.frame(eventsource_stream::Event { data: "{\"candidates\": [".to_owned(), ..Default::default() }, &mut VecDeque::new());
        assert!(e.expect_err("bad").message.contains("gemini sent a malformed response"));
        let err = [json!({"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}})];
        assert_eq!(run(&err).expect_err("429").kind, tianji_core::ErrorKind::RateLimited);
    }
}
