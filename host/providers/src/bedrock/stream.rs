//! ConverseStream events (AWS event-stream messages) → OpenAI chat chunks.
//!
//! `messageStart` opens the answer; `contentBlockStart` with a `toolUse`
//! opens a tool call; `contentBlockDelta` carries text, tool-input JSON
//! fragments or reasoning; `messageStop` gives the stop reason; `metadata`
//! (the last event) gives the usage. Exception messages end the stream with
//! the error they name; a stream without `messageStop` was cut short.

use std::collections::VecDeque;

use serde_json::Value;
use tianji_core::GatewayError;
use tianji_core::types::{ChatChunk, Delta, FunctionCall, Reply, ToolCall};

use super::response::{finish_reason, usage};
use crate::aws::EventMessage;
use crate::http::{StreamTranslator, malformed, upstream_error};
use crate::translate::StreamHead;

/// Translates one ConverseStream.
pub struct ConverseStream {
    provider: String,
    include_usage: bool,
    head: StreamHead,
    stopped: bool,
    tools: Vec<(u64, u32)>,
}

impl ConverseStream {
    /// A translator; `include_usage` adds the final usage chunk.
    pub fn new(provider: &str, model: &str, include_usage: bool) -> Self {
        Self {
            provider: provider.to_owned(),
            include_usage,
            head: StreamHead::new(format!("chatcmpl-{:016x}", fastrand::u64(..)), model),
            stopped: false,
            tools: Vec::new(),
        }
    }

    fn chunk(&self, delta: Delta, finish: Option<&str>) -> Reply<ChatChunk> {
        self.head.delta(delta, finish)
    }
}

/// The HTTP status AWS documents for a Bedrock exception.
fn exception_status(name: &str) -> u16 {
    match name {
        "throttlingException" | "ThrottlingException" => 429,
        "validationException" | "ValidationException" => 400,
        "accessDeniedException" | "AccessDeniedException" => 403,
        "resourceNotFoundException" | "ResourceNotFoundException" => 404,
        "modelTimeoutException" | "ModelTimeoutException" => 408,
        "serviceUnavailableException" | "ServiceUnavailableException" => 503,
        _ => 500,
    }
}

impl StreamTranslator<EventMessage> for ConverseStream {
    type Item = Reply<ChatChunk>;

    fn frame(&mut self, msg: EventMessage, out: &mut VecDeque<Self::Item>) -> Result<bool, GatewayError> {
        if msg.message_type != "event" {
            let status = http::StatusCode::from_u16(exception_status(&msg.name)).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
            let text = String::from_utf8_lossy(&msg.payload);
            let body = serde_json::json!({"message": format!("{}: {}", msg.name, serde_json::from_str::<Value>(&text).ok().and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned)).unwrap_or_else(|| text.into_owned()))});
            return Err(upstream_error(&self.provider, status, &http::HeaderMap::new(), body.to_string().as_bytes()));
        }
        let v: Value = serde_json::from_slice(&msg.payload).map_err(|e| malformed(&self.provider, format!("{} event: {e}", msg.name)))?;
        let index = v.get("contentBlockIndex").and_then(Value::as_u64).unwrap_or(0);
        match msg.name.as_str() {
            "messageStart" => {
                out.push_back(self.head.role());
            }
            "contentBlockStart" => {
                if let Some(tu) = v.pointer("/start/toolUse") {
                    let n = self.tools.len() as u32;
                    self.tools.push((index, n));
                    let call = ToolCall {
                        id: tu.get("toolUseId").and_then(Value::as_str).map(str::to_owned),
                        kind: Some("function".to_owned()),
                        function: FunctionCall {
                            name: tu.get("name").and_then(Value::as_str).map(str::to_owned),
                            arguments: String::new(),
                        },
                        index: Some(n),
                    };
                    out.push_back(self.chunk(Delta { tool_calls: Some(vec![call]), ..Default::default() }, None));
                }
            }
            "contentBlockDelta" => {
                let delta = v.get("delta").ok_or_else(|| malformed(&self.provider, "contentBlockDelta without delta"))?;
                if let Some(t) = delta.get("text").and_then(Value::as_str) {
                    out.push_back(self.chunk(Delta { content: Some(t.to_owned()), ..Default::default() }, None));
                } else if let Some(input) = delta.pointer("/toolUse/input").and_then(Value::as_str) {
                    let n = self.tools.iter().find(|(i, _)| *i == index).map(|(_, n)| *n).ok_or_else(|| {
                        malformed(&self.provider, format!("tool input for block {index}, which no toolUse block started"))
                    })?;
                    let call = ToolCall {
                        id: None,
                        kind: None,
                        function: FunctionCall { name: None, arguments: input.to_owned() },
                        index: Some(n),
                    };
                    out.push_back(self.chunk(Delta { tool_calls: Some(vec![call]), ..Default::default() }, None));
                } else if let Some(r) = delta.pointer("/reasoningContent/text").and_then(Value::as_str) {
                    let mut d = Delta::default();
                    d.extra.insert("reasoning_content".to_owned(), Value::String(r.to_owned()));
                    out.push_back(self.chunk(d, None));
                }
            }
            "contentBlockStop" => {}
            "messageStop" => {
                self.stopped = true;
                let reason = v.get("stopReason").and_then(Value::as_str).unwrap_or("end_turn");
                out.push_back(self.chunk(Delta::default(), Some(finish_reason(reason))));
            }
            "metadata" => {
                if self.include_usage
                    && let Some(u) = v.get("usage")
                {
                    out.push_back(self.head.usage(usage(u)));
                }
                return Ok(true);
            }
            other => return Err(malformed(&self.provider, format!("unknown event type '{other}'"))),
        }
        Ok(false)
    }

    fn closed(&mut self, _out: &mut VecDeque<Self::Item>) -> Result<(), GatewayError> {
        // Bedrock ends with metadata; a stream that stopped without it lost only the usage.
        if self.stopped { Ok(()) } else { Err(malformed(&self.provider, "the stream ended before messageStop")) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(name: &str, payload: Value) -> EventMessage {
        EventMessage { message_type: "event".to_owned(), name: name.to_owned(), payload: bytes::Bytes::from(payload.to_string()) }
    }

    #[test]
    fn documented_event_sequence() {
        let events = vec![
            ev("messageStart", json!({"role": "assistant"})),
            ev("contentBlockDelta", json!({"contentBlockIndex": 0, "delta": {"text": "Hi"}})),
            ev("contentBlockStop", json!({"contentBlockIndex": 0})),
            ev("contentBlockStart", json!({"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "tu1", "name": "f"}}})),
            ev("contentBlockDelta", json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "{\"a\":"}}})),
            ev("contentBlockDelta", json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "1}"}}})),
            ev("contentBlockStop", json!({"contentBlockIndex": 1})),
            ev("messageStop", json!({"stopReason": "tool_use"})),
            ev("metadata", json!({"usage": {"inputTokens": 5, "outputTokens": 7, "totalTokens": 12}, "metrics": {"latencyMs": 9}})),
        ];
        let mut t = ConverseStream::new("bedrock", "m", true);
        let mut out = VecDeque::new();
        let mut done = false;
        for e in events {
            done = t.frame(e, &mut out).expect("frame");
        }
        assert!(done);
        let chunks: Vec<Value> = out.into_iter().map(|r| serde_json::from_slice(&r.to_bytes().expect("bytes")).expect("json")).collect();
        let args: String =
            chunks.iter().filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str()).collect();
        assert_eq!(args, "{\"a\":1}");
        assert!(chunks.iter().any(|c| c["choices"][0]["finish_reason"] == "tool_calls"));
        assert_eq!(chunks.last().expect("usage")["usage"]["total_tokens"], 12);
    }

    #[test]
    fn exceptions_and_cuts() {
        let mut t = ConverseStream::new("bedrock", "m", false);
        let throttled = EventMessage {
            message_type: "exception".to_owned(),
            name: "throttlingException".to_owned(),
            payload: bytes::Bytes::from_static(b"{\"message\":\"slow down\"}"),
        };
        let e = t.frame(throttled, &mut VecDeque::new()).expect_err("exception");
        assert_eq!(e.kind, tianji_core::ErrorKind::RateLimited);
        assert!(e.message.contains("slow down"));
        let mut t = ConverseStream::new("bedrock", "m", false);
        t.frame(ev("messageStart", json!({"role": "assistant"})), &mut VecDeque::new()).expect("start");
        assert_eq!(t.closed(&mut VecDeque::new()).expect_err("cut").status, http::StatusCode::BAD_GATEWAY);
        assert!(t.frame(ev("surprise", json!({})), &mut VecDeque::new()).is_err());
    }
}
