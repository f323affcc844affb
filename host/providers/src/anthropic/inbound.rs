//! The other direction, for the `/v1/messages` endpoint: an Anthropic
//! request from a client → the OpenAI request the router serves with any
//! provider, and the OpenAI answer (whole or streamed) → Anthropic's shape.

use serde_json::{Map, Value, json};
use tianji_core::GatewayError;
use tianji_core::types::{
    ChatChunk, ChatRequest, ChatResponse, Content, ContentPart, FunctionCall, FunctionDef, ImageUrl, Message, StreamOptions, Tool,
    ToolCall, Usage,
};

use super::wire::{self, Block, BlockDelta, MessageDelta, MessagesRequest, MessagesResponse, StreamEvent};

/// The OpenAI request for an Anthropic one.
pub fn request_to_openai(req: MessagesRequest) -> Result<ChatRequest, GatewayError> {
    let mut out = ChatRequest {
        model: req.model,
        stream: req.stream,
        max_tokens: Some(req.max_tokens),
        temperature: req.temperature,
        top_p: req.top_p,
        stop: req.stop_sequences.map(|s| Value::Array(s.into_iter().map(Value::String).collect())),
        ..Default::default()
    };
    if req.stream {
        // The answer's usage goes into message_delta.
        out.stream_options = Some(StreamOptions { include_usage: true, extra: Map::new() });
    }
    if let Some(system) = req.system {
        let message = match system {
            wire::Content::Text(t) => Message::text("system", t),
            wire::Content::Blocks(blocks) => {
                let parts = blocks.into_iter().enumerate().map(|(j, b)| part_of(b, &format!("system[{j}]"))).collect::<Result<_, _>>()?;
                Message { role: "system".to_owned(), content: Some(Content::Parts(parts)), ..Default::default() }
            }
        };
        out.messages.push(message);
    }
    for (i, m) in req.messages.into_iter().enumerate() {
        match m.role.as_str() {
            "user" => user_messages(m.content, i, &mut out.messages)?,
            "assistant" => out.messages.push(assistant_message(m.content, i)?),
            other => {
                return Err(GatewayError::bad_request(
                    format!("messages[{i}].role: unexpected role '{other}' (expected user or assistant)"),
                    Some(&format!("messages[{i}].role")),
                ));
            }
        }
    }
    if let Some(tools) = req.tools {
        let mut list = Vec::with_capacity(tools.len());
        for (i, t) in tools.into_iter().enumerate() {
            let Some(schema) = t.input_schema else {
                return Err(GatewayError::not_supported(format!(
                    "tools[{i}] ('{}'): Anthropic server tools are not supported yet through /v1/messages",
                    t.name
                )));
            };
            let mut extra = Map::new();
            if let Some(cc) = t.cache_control {
                extra.insert("cache_control".to_owned(), cc);
            }
            list.push(Tool {
                kind: "function".to_owned(),
                function: Some(FunctionDef { name: t.name, description: t.description, parameters: Some(schema), extra: Map::new() }),
                extra,
            });
        }
        out.tools = Some(list);
    }
    if let Some(choice) = req.tool_choice {
        let kind = choice.get("type").and_then(Value::as_str).unwrap_or("auto");
        out.tool_choice = Some(match kind {
            "auto" => json!("auto"),
            "any" => json!("required"),
            "none" => json!("none"),
            "tool" => {
                let name = choice.get("name").and_then(Value::as_str).unwrap_or_default();
                json!({"type": "function", "function": {"name": name}})
            }
            other => return Err(GatewayError::bad_request(format!("unknown tool_choice type '{other}'"), Some("tool_choice"))),
        });
        if choice.get("disable_parallel_tool_use").and_then(Value::as_bool) == Some(true) {
            out.extra.insert("parallel_tool_calls".to_owned(), Value::Bool(false));
        }
    }
    if let Some(user) = req.metadata.as_ref().and_then(|m| m.get("user_id")).and_then(Value::as_str) {
        out.user = Some(user.to_owned());
    }
    if let Some(k) = req.top_k {
        out.extra.insert("top_k".to_owned(), json!(k));
    }
    if let Some(t) = req.thinking {
        out.extra.insert("thinking".to_owned(), t);
    }
    // Gateway controls LiteLLM accepts on any route (fallbacks, tags, ...) ride along.
    out.extra.extend(req.extra);
    Ok(out)
}

/// A user turn: its tool results become tool messages (first, as they
/// answer the previous assistant turn), the rest one user message.
fn user_messages(content: wire::Content, i: usize, out: &mut Vec<Message>) -> Result<(), GatewayError> {
    let blocks = match content {
        wire::Content::Text(t) => {
            out.push(Message::text("user", t));
            return Ok(());
        }
        wire::Content::Blocks(b) => b,
    };
    let mut parts = Vec::new();
    for (j, b) in blocks.into_iter().enumerate() {
        if b.kind == "tool_result" {
            let text = match b.content {
                None => String::new(),
                Some(wire::Content::Text(t)) => t,
                Some(wire::Content::Blocks(inner)) => inner.into_iter().filter_map(|b| b.text).collect::<Vec<_>>().join("\n"),
            };
            let text = if b.is_error == Some(true) { format!("Error: {text}") } else { text };
            out.push(Message {
                role: "tool".to_owned(),
                content: Some(Content::Text(text)),
                tool_call_id: b.tool_use_id,
                ..Default::default()
            });
        } else {
            parts.push(part_of(b, &format!("messages[{i}].content[{j}]"))?);
        }
    }
    if !parts.is_empty() {
        out.push(Message { role: "user".to_owned(), content: Some(Content::Parts(parts)), ..Default::default() });
    }
    Ok(())
}

/// A text, image or document block → an OpenAI content part.
fn part_of(b: Block, at: &str) -> Result<ContentPart, GatewayError> {
    let mut extra = Map::new();
    if let Some(cc) = b.cache_control {
        extra.insert("cache_control".to_owned(), cc);
    }
    match b.kind.as_str() {
        "text" => Ok(ContentPart { kind: "text".to_owned(), text: b.text, image_url: None, extra }),
        "image" | "document" => {
            let source = b.source.unwrap_or(Value::Null);
            let url = match source.get("type").and_then(Value::as_str) {
                Some("base64") => format!(
                    "data:{};base64,{}",
                    source.get("media_type").and_then(Value::as_str).unwrap_or("application/octet-stream"),
                    source.get("data").and_then(Value::as_str).unwrap_or("")
                ),
                Some("url") => source.get("url").and_then(Value::as_str).unwrap_or("").to_owned(),
                Some("text") if b.kind == "document" => {
                    return Ok(ContentPart {
                        kind: "text".to_owned(),
                        text: source.get("data").and_then(Value::as_str).map(str::to_owned),
                        image_url: None,
                        extra,
                    });
                }
                _ => return Err(GatewayError::bad_request(format!("{at}.source: expected a base64 or url source"), Some(at))),
            };
            if b.kind == "image" {
                Ok(ContentPart { kind: "image_url".to_owned(), text: None, image_url: Some(ImageUrl { url, detail: None }), extra })
            } else {
                extra.insert("file".to_owned(), json!({"file_data": url}));
                Ok(ContentPart { kind: "file".to_owned(), text: None, image_url: None, extra })
            }
        }
        other => Err(GatewayError::bad_request(format!("{at}: content blocks of type '{other}' are not supported here"), Some(at))),
    }
}

/// An assistant turn: text, tool uses and thinking blocks.
fn assistant_message(content: wire::Content, i: usize) -> Result<Message, GatewayError> {
    let mut m = Message { role: "assistant".to_owned(), ..Default::default() };
    let blocks = content.into_blocks();
    let mut text = String::new();
    let mut calls = Vec::new();
    let mut thinking = Vec::new();
    for (j, b) in blocks.into_iter().enumerate() {
        match b.kind.as_str() {
            "text" => text.push_str(b.text.as_deref().unwrap_or("")),
            "tool_use" => calls.push(ToolCall {
                id: b.id,
                kind: Some("function".to_owned()),
                function: FunctionCall { name: b.name, arguments: b.input.unwrap_or_else(|| json!({})).to_string() },
                index: None,
            }),
            "thinking" | "redacted_thinking" => thinking.push(serde_json::to_value(&b).unwrap_or(Value::Null)),
            other => {
                let at = format!("messages[{i}].content[{j}]");
                return Err(GatewayError::bad_request(
                    format!("{at}: assistant blocks of type '{other}' are not supported here"),
                    Some(&at),
                ));
            }
        }
    }
    m.content = (!text.is_empty() || calls.is_empty()).then_some(Content::Text(text));
    m.tool_calls = (!calls.is_empty()).then_some(calls);
    if !thinking.is_empty() {
        m.extra.insert("thinking_blocks".to_owned(), Value::Array(thinking));
    }
    Ok(m)
}

/// OpenAI `finish_reason` → Anthropic `stop_reason`.
pub fn stop_reason(finish: &str) -> &'static str {
    match finish {
        "length" => "max_tokens",
        "tool_calls" | "function_call" => "tool_use",
        "content_filter" => "refusal",
        _ => "end_turn",
    }
}

/// OpenAI usage → Anthropic usage (cache figures, when the upstream gave them, split back out).
pub fn usage_to_anthropic(u: &Usage) -> wire::Usage {
    let read = u.extra.get("cache_read_input_tokens").and_then(Value::as_u64).unwrap_or(0);
    let created = u.extra.get("cache_creation_input_tokens").and_then(Value::as_u64).unwrap_or(0);
    wire::Usage {
        input_tokens: u.prompt_tokens.saturating_sub(read + created),
        output_tokens: u.completion_tokens,
        cache_creation_input_tokens: Some(created),
        cache_read_input_tokens: Some(read),
        extra: Map::new(),
    }
}

/// The Anthropic message for a chat completion.
pub fn response_to_anthropic(resp: ChatResponse) -> MessagesResponse {
    let mut content = Vec::new();
    let mut stop = "end_turn";
    if let Some(choice) = resp.choices.into_iter().next() {
        let m = choice.message;
        match m.extra.get("thinking_blocks") {
            Some(Value::Array(blocks)) => content.extend(blocks.iter().filter_map(|b| serde_json::from_value::<Block>(b.clone()).ok())),
            _ => {
                if let Some(r) = m.extra.get("reasoning_content").and_then(Value::as_str).filter(|r| !r.is_empty()) {
                    content.push(Block { kind: "thinking".to_owned(), thinking: Some(r.to_owned()), ..Default::default() });
                }
            }
        }
        let text = m.text_content();
        if !text.is_empty() {
            content.push(Block::text(text));
        }
        for call in m.tool_calls.unwrap_or_default() {
            content.push(Block {
                kind: "tool_use".to_owned(),
                id: call.id,
                name: call.function.name,
                input: Some(serde_json::from_str(&call.function.arguments).unwrap_or_else(|_| json!({}))),
                ..Default::default()
            });
        }
        stop = stop_reason(choice.finish_reason.as_deref().unwrap_or("stop"));
    }
    MessagesResponse {
        id: resp.id,
        kind: "message".to_owned(),
        role: "assistant".to_owned(),
        model: resp.model,
        content,
        stop_reason: Some(stop.to_owned()),
        stop_sequence: None,
        usage: resp.usage.as_ref().map(usage_to_anthropic).unwrap_or_default(),
    }
}

/// What the open content block is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Open {
    Text,
    Thinking,
    /// A tool call, by its OpenAI index.
    Tool(u32),
}

/// Turns OpenAI chat chunks into Anthropic stream events.
#[derive(Debug, Default)]
pub struct ToAnthropicStream {
    started: bool,
    open: Option<(u32, Open)>,
    next_index: u32,
    stop_reason: Option<&'static str>,
    usage: Option<Usage>,
}

impl ToAnthropicStream {
    /// A converter for one stream.
    pub fn new() -> Self {
        Self::default()
    }

    fn start(&mut self, id: &str, model: &str, out: &mut Vec<StreamEvent>) {
        if self.started {
            return;
        }
        self.started = true;
        let message = MessagesResponse {
            id: id.to_owned(),
            kind: "message".to_owned(),
            role: "assistant".to_owned(),
            model: model.to_owned(),
            ..Default::default()
        };
        out.push(StreamEvent::MessageStart { message });
    }

    fn close(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some((index, _)) = self.open.take() {
            out.push(StreamEvent::ContentBlockStop { index });
        }
    }

    /// Opens a block of `kind` unless it is the open one.
    fn open(&mut self, kind: Open, block: Block, out: &mut Vec<StreamEvent>) -> u32 {
        if let Some((index, open)) = self.open
            && open == kind
        {
            return index;
        }
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        self.open = Some((index, kind));
        out.push(StreamEvent::ContentBlockStart { index, content_block: block });
        index
    }

    /// The events for one chunk.
    pub fn chunk(&mut self, chunk: ChatChunk) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        self.start(&chunk.id, &chunk.model, &mut out);
        if let Some(u) = chunk.usage {
            self.usage = Some(u);
        }
        let Some(choice) = chunk.choices.into_iter().next() else { return out };
        let delta = choice.delta;
        if let Some(r) = delta.extra.get("reasoning_content").and_then(Value::as_str).filter(|r| !r.is_empty()) {
            let block = Block { kind: "thinking".to_owned(), thinking: Some(String::new()), ..Default::default() };
            let index = self.open(Open::Thinking, block, &mut out);
            let delta = BlockDelta { kind: "thinking_delta".to_owned(), thinking: Some(r.to_owned()), ..Default::default() };
            out.push(StreamEvent::ContentBlockDelta { index, delta });
        }
        if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
            let index = self.open(Open::Text, Block::text(""), &mut out);
            out.push(StreamEvent::ContentBlockDelta {
                index,
                delta: BlockDelta { kind: "text_delta".to_owned(), text: Some(text), ..Default::default() },
            });
        }
        for call in delta.tool_calls.unwrap_or_default() {
            let n = call.index.unwrap_or(0);
            let is_new = call.id.is_some() || !matches!(self.open, Some((_, Open::Tool(open))) if open == n);
            if is_new {
                self.close(&mut out);
            }
            let block =
                Block { kind: "tool_use".to_owned(), id: call.id, name: call.function.name, input: Some(json!({})), ..Default::default() };
            let index = self.open(Open::Tool(n), block, &mut out);
            if !call.function.arguments.is_empty() {
                let delta =
                    BlockDelta { kind: "input_json_delta".to_owned(), partial_json: Some(call.function.arguments), ..Default::default() };
                out.push(StreamEvent::ContentBlockDelta { index, delta });
            }
        }
        if let Some(finish) = choice.finish_reason {
            self.close(&mut out);
            self.stop_reason = Some(stop_reason(&finish));
        }
        out
    }

    /// The closing events, after the last chunk.
    pub fn finish(&mut self, id: &str, model: &str) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        self.start(id, model, &mut out);
        self.close(&mut out);
        let usage = self.usage.as_ref().map(usage_to_anthropic).unwrap_or_default();
        out.push(StreamEvent::MessageDelta {
            delta: MessageDelta { stop_reason: Some(self.stop_reason.unwrap_or("end_turn").to_owned()), stop_sequence: None },
            usage: Some(usage),
        });
        out.push(StreamEvent::MessageStop);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trip_through_openai() {
        let req: MessagesRequest = serde_json::from_value(json!({
            "model": "claude", "max_tokens": 64, "system": [{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}],
            "messages": [
                {"role": "user", "content": "weather?"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"city": "Paris"}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "sunny"}, {"type": "text", "text": "and?"}]}
            ],
            "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
            "stop_sequences": ["X"], "metadata": {"user_id": "u"}, "stream": true
        }))
        .expect("parse");
        let out = serde_json::to_value(request_to_openai(req).expect("ok")).expect("json");
        let msgs = out["messages"].as_array().expect("messages");
        assert_eq!(msgs[0]["role"], "system");
        assert_eq!(msgs[0]["content"][0]["cache_control"]["type"], "ephemeral");
        assert_eq!(msgs[2]["tool_calls"][0]["function"]["arguments"], "{\"city\":\"Paris\"}");
        assert_eq!(msgs[3], json!({"role": "tool", "content": "sunny", "tool_call_id": "t1"}));
        assert_eq!(msgs[4]["content"][0]["text"], "and?");
        assert_eq!(out["tool_choice"], "required");
        assert_eq!(out["parallel_tool_calls"], false);
        assert_eq!(out["stop"], json!(["X"]));
        assert_eq!(out["user"], "u");
        assert_eq!(out["stream_options"]["include_usage"], true);
    }

    #[test]
    fn stream_of_text_and_tool_call() {
        let chunks: Vec<ChatChunk> = [
            json!({"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}),
            json!({"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"content": "Hi"}}]}),
            json!({"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_1", "function": {"name": "f", "arguments": ""}}]}}]}),
            json!({"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}}]}),
            json!({"id": "c", "model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
            json!({"id": "c", "model": "m", "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}}),
        ]
        .into_iter()
        .map(|v| serde_json::from_value(v).expect("chunk"))
        .collect();
        let mut conv = ToAnthropicStream::new();
        let mut events: Vec<StreamEvent> = chunks.into_iter().flat_map(|c| conv.chunk(c)).collect();
        events.extend(conv.finish("c", "m"));
        let names: Vec<&str> = events.iter().map(StreamEvent::name).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        let delta = serde_json::to_value(&events[7]).expect("json");
        assert_eq!(delta["delta"]["stop_reason"], "tool_use");
        assert_eq!(delta["usage"]["output_tokens"], 3);
        assert_eq!(delta["usage"]["input_tokens"], 7);
    }
}
