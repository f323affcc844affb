//! Anthropic stream events → OpenAI chat chunks.
//!
//! `message_start` gives the id, model and input usage (and the first chunk,
//! with the role); text and thinking deltas become content and
//! `reasoning_content` deltas; a `tool_use` block becomes a tool call whose
//! arguments arrive as `input_json_delta` fragments; `message_delta` gives
//! the finish reason and output usage; `message_stop` ends the stream, with
//! a usage chunk when the client asked for one. Anything else, or a stream
//! that ends before `message_stop`, is an error naming the provider.

use std::collections::VecDeque;

use tianji_core::GatewayError;
use tianji_core::types::{ChatChunk, Delta, FunctionCall, Reply, ToolCall};

use super::request::{JSON_TOOL, Translated};
use super::response::{finish_reason, usage};
use super::wire::{self, StreamEvent};
use crate::http::{StreamTranslator, malformed, upstream_error};
use crate::translate::StreamHead;

/// What a content block became on the OpenAI side.
#[derive(Debug, Clone, Copy)]
enum BlockKind {
    Text,
    Thinking,
    /// A tool call with its OpenAI index.
    Tool(u32),
    /// The `response_format` tool: its input is the answer's text.
    JsonAnswer,
    Other,
}

/// Translates one Anthropic stream.
pub struct AnthropicStream {
    provider: String,
    translated: Translated,
    include_usage: bool,
    head: StreamHead,
    started: bool,
    blocks: Vec<(u32, BlockKind)>,
    tools: u32,
    usage: wire::Usage,
}

impl AnthropicStream {
    /// A translator; `include_usage` adds the final usage chunk.
    pub fn new(provider: &str, translated: Translated, include_usage: bool) -> Self {
        Self {
            provider: provider.to_owned(),
            translated,
            include_usage,
            head: StreamHead::new(String::new(), ""),
            started: false,
            blocks: Vec::new(),
            tools: 0,
            usage: wire::Usage::default(),
        }
    }

    fn chunk(&self, delta: Delta, finish: Option<&str>) -> Reply<ChatChunk> {
        self.head.delta(delta, finish)
    }

    fn kind_of(&self, index: u32) -> BlockKind {
        self.blocks.iter().rev().find(|(i, _)| *i == index).map(|(_, k)| *k).unwrap_or(BlockKind::Other)
    }

    fn parse(&self, data: &str) -> Result<StreamEvent, GatewayError> {
        serde_json::from_str(data).map_err(|e| malformed(&self.provider, format!("stream event {data:.200}: {e}")))
    }
}

impl StreamTranslator<eventsource_stream::Event> for AnthropicStream {
    type Item = Reply<ChatChunk>;

    fn frame(&mut self, ev: eventsource_stream::Event, out: &mut VecDeque<Self::Item>) -> Result<bool, GatewayError> {
        if ev.data.trim().is_empty() {
            return Ok(false);
        }
        let event = self.parse(&ev.data)?;
        if !self.started && !matches!(event, StreamEvent::MessageStart { .. } | StreamEvent::Ping | StreamEvent::Error { .. }) {
            return Err(malformed(&self.provider, format!("stream began with {} instead of message_start", event.name())));
        }
        match event {
            StreamEvent::MessageStart { message } => {
                self.started = true;
                self.head.id = message.id;
                self.head.model = message.model;
                self.usage = message.usage;
                out.push_back(self.head.role());
            }
            StreamEvent::ContentBlockStart { index, content_block } => {
                let kind = match content_block.kind.as_str() {
                    "text" => BlockKind::Text,
                    "thinking" | "redacted_thinking" => BlockKind::Thinking,
                    "tool_use" if self.translated.json_tool && content_block.name.as_deref() == Some(JSON_TOOL) => BlockKind::JsonAnswer,
                    "tool_use" => {
                        let n = self.tools;
                        self.tools += 1;
                        let call = ToolCall {
                            id: content_block.id,
                            kind: Some("function".to_owned()),
                            function: FunctionCall { name: content_block.name, arguments: String::new() },
                            index: Some(n),
                        };
                        out.push_back(self.chunk(Delta { tool_calls: Some(vec![call]), ..Default::default() }, None));
                        BlockKind::Tool(n)
                    }
                    _ => BlockKind::Other,
                };
                if let (BlockKind::Text, Some(t)) = (kind, content_block.text.filter(|t| !t.is_empty())) {
                    out.push_back(self.chunk(Delta { content: Some(t), ..Default::default() }, None));
                }
                self.blocks.push((index, kind));
            }
            StreamEvent::ContentBlockDelta { index, delta } => {
                let kind = self.kind_of(index);
                let d = match (delta.kind.as_str(), kind) {
                    ("text_delta", _) => Some(Delta { content: delta.text, ..Default::default() }),
                    ("thinking_delta", _) => {
                        let mut d = Delta::default();
                        d.extra.insert("reasoning_content".to_owned(), serde_json::Value::String(delta.thinking.unwrap_or_default()));
                        Some(d)
                    }
                    ("input_json_delta", BlockKind::JsonAnswer) => Some(Delta { content: delta.partial_json, ..Default::default() }),
                    ("input_json_delta", BlockKind::Tool(n)) => Some(Delta {
                        tool_calls: Some(vec![ToolCall {
                            id: None,
                            kind: None,
                            function: FunctionCall { name: None, arguments: delta.partial_json.unwrap_or_default() },
                            index: Some(n),
                        }]),
                        ..Default::default()
                    }),
                    ("input_json_delta", _) => {
                        return Err(malformed(
                            &self.provider,
                            format!("input_json_delta for block {index}, which is not a tool_use block"),
                        ));
                    }
                    // Signatures and citations have no OpenAI form.
                    ("signature_delta" | "citations_delta", _) => None,
                    (other, _) => return Err(malformed(&self.provider, format!("unknown content delta type '{other}'"))),
                };
                if let Some(d) = d {
                    out.push_back(self.chunk(d, None));
                }
            }
            StreamEvent::ContentBlockStop { .. } | StreamEvent::Ping => {}
            StreamEvent::MessageDelta { delta, usage: u } => {
                if let Some(u) = u {
                    // Output tokens are cumulative; input figures, when present, are final.
                    self.usage.output_tokens = u.output_tokens;
                    if u.input_tokens > 0 {
                        self.usage.input_tokens = u.input_tokens;
                    }
                    self.usage.cache_read_input_tokens = u.cache_read_input_tokens.or(self.usage.cache_read_input_tokens);
                    self.usage.cache_creation_input_tokens = u.cache_creation_input_tokens.or(self.usage.cache_creation_input_tokens);
                }
                if let Some(reason) = delta.stop_reason {
                    let finish = if reason == "tool_use" && self.tools == 0 { "stop" } else { finish_reason(&reason) };
                    out.push_back(self.chunk(Delta::default(), Some(finish)));
                }
            }
            StreamEvent::MessageStop => {
                if self.include_usage {
                    out.push_back(self.head.usage(usage(&self.usage)));
                }
                return Ok(true);
            }
            StreamEvent::Error { error } => {
                let status = http::StatusCode::from_u16(wire::error_status(&error.kind)).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
                let body = serde_json::json!({"error": {"message": error.message, "type": error.kind}}).to_string();
                return Err(upstream_error(&self.provider, status, &http::HeaderMap::new(), body.as_bytes()));
            }
        }
        Ok(false)
    }

    fn closed(&mut self, _out: &mut VecDeque<Self::Item>) -> Result<(), GatewayError> {
        Err(malformed(&self.provider, "the stream ended before message_stop"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn run(events: &[Value], include_usage: bool) -> Result<Vec<Value>, GatewayError> {
        let mut t = AnthropicStream::new("anthropic", Translated::default(), include_usage);
        let mut out = VecDeque::new();
        let mut done = false;
        for e in events {
            let ev = eventsource_stream::Event { data: e.to_string(), ..Default::default() };
            done = t.frame(ev, &mut out)?;
        }
        if !done {
            t.closed(&mut out)?;
        }
        Ok(out.into_iter().map(|r| serde_json::from_slice(&r.to_bytes().expect("bytes")).expect("json")).collect())
    }

    fn documented_tool_stream() -> Vec<Value> {
        vec![
            json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "claude-x", "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 25, "output_tokens": 1}}}),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            json!({"type": "ping"}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Checking"}}),
            json!({"type": "content_block_stop", "index": 0}),
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"city\": "}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "\"Paris\"}"}}),
            json!({"type": "content_block_stop", "index": 1}),
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 15}}),
            json!({"type": "message_stop"}),
        ]
    }

    #[test]
    fn text_then_tool_call_with_argument_deltas() {
        let chunks = run(&documented_tool_stream(), true).expect("translates");
        assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(chunks[1]["choices"][0]["delta"]["content"], "Checking");
        assert_eq!(chunks[2]["choices"][0]["delta"]["tool_calls"][0]["id"], "toolu_1");
        assert_eq!(chunks[2]["choices"][0]["delta"]["tool_calls"][0]["function"]["name"], "get_weather");
        let args: String = chunks[3..5]
            .iter()
            .map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str().unwrap_or("").to_owned())
            .collect();
        assert_eq!(args, "{\"city\": \"Paris\"}");
        assert_eq!(chunks[5]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(chunks[6]["usage"], json!({"prompt_tokens": 25, "completion_tokens": 15, "total_tokens": 40}));
        assert_eq!(chunks[6]["choices"], json!([]));
        assert!(chunks.iter().all(|c| c["id"] == "msg_1" && c["model"] == "claude-x"));
        assert_eq!(run(&documented_tool_stream(), false).expect("ok").len(), 6, "no usage chunk unless asked for");
    }

    #[test]
    fn malformed_streams_are_errors() {
        let mut cut = documented_tool_stream();
        cut.truncate(7);
        let e = run(&cut, false).expect_err("cut");
        assert_eq!(e.status, http::StatusCode::BAD_GATEWAY);
        assert!(e.message.contains("anthropic") && e.message.contains("message_stop"), "{}", e.message);
        let mut unknown = documented_tool_stream();
        unknown.insert(2, json!({"type": "surprise"}));
        assert_eq!(run(&unknown, false).expect_err("unknown").status, http::StatusCode::BAD_GATEWAY);
        let overloaded = [json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})];
        let e = run(&overloaded, false).expect_err("error event");
        assert_eq!(e.status.as_u16(), 529);
        assert!(e.is_retryable());
        let rate =
            [documented_tool_stream()[0].clone(), json!({"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}})];
        assert_eq!(run(&rate, false).expect_err("429").kind, tianji_core::ErrorKind::RateLimited);
    }
}
