//! OpenAI chat request → Anthropic Messages request.
//!
//! System and developer messages become the `system` blocks; tool messages
//! become `tool_result` blocks of a user turn; consecutive turns of one role
//! are merged, since Anthropic wants them alternating. `cache_control` on a
//! message, a content part or a tool is kept. `response_format` with a JSON
//! schema is served the way LiteLLM serves it: a forced tool whose input is
//! the answer (see [`JSON_TOOL`]).

use serde_json::{Map, Value, json};
use tianji_core::GatewayError;
use tianji_core::types::{ChatRequest, Content, ContentPart, Message};

use super::wire::{self, Block, MessageParam, MessagesRequest, ToolParam};

/// Output-token cap sent when the request names none (Anthropic requires one; LiteLLM's default).
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

/// The forced tool that carries a `response_format` JSON answer.
pub const JSON_TOOL: &str = "json_tool_call";

/// OpenAI parameters this adapter translates (others are refused, or dropped with `drop_params`).
pub const SUPPORTED_PARAMS: &[&str] = &[
    "temperature",
    "top_p",
    "top_k",
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "user",
    "response_format",
    "thinking",
    "reasoning_effort",
    "stream_options",
    "service_tier",
];

/// Thinking budgets for `reasoning_effort` (LiteLLM's values).
fn thinking_budget(effort: &str) -> Option<u64> {
    match effort {
        "minimal" | "low" => Some(1024),
        "medium" => Some(2048),
        "high" => Some(4096),
        _ => None,
    }
}

/// What the response side must know about how the request was built.
#[derive(Debug, Clone, Copy, Default)]
pub struct Translated {
    /// The answer comes as the [`JSON_TOOL`] call's input.
    pub json_tool: bool,
}

/// Builds the Anthropic request for `model`.
pub fn to_anthropic(req: ChatRequest, model: &str) -> Result<(MessagesRequest, Translated), GatewayError> {
    let mut out = MessagesRequest {
        model: model.to_owned(),
        max_tokens: req.max_completion_tokens.or(req.max_tokens).unwrap_or(DEFAULT_MAX_TOKENS),
        stream: req.stream,
        temperature: req.temperature,
        top_p: req.top_p,
        ..Default::default()
    };
    let mut translated = Translated::default();
    let mut system: Vec<Block> = Vec::new();
    let mut turns: Vec<MessageParam> = Vec::new();
    for (i, m) in req.messages.into_iter().enumerate() {
        match m.role.as_str() {
            "system" | "developer" => system.extend(blocks_of(m, i)?),
            "user" => push_turn(&mut turns, "user", blocks_of(m, i)?),
            "assistant" => {
                let blocks = assistant_blocks(m, i)?;
                if !blocks.is_empty() {
                    push_turn(&mut turns, "assistant", blocks);
                }
            }
            "tool" => push_turn(&mut turns, "user", vec![tool_result(m, i)?]),
            other => {
                return Err(GatewayError::bad_request(
                    format!("anthropic does not support messages with role '{other}'"),
                    Some(&format!("messages[{i}].role")),
                ));
            }
        }
    }
    if turns.is_empty() {
        return Err(GatewayError::bad_request(
            "anthropic needs at least one user or assistant message besides the system prompt",
            Some("messages"),
        ));
    }
    out.messages = turns;
    if !system.is_empty() {
        out.system = Some(wire::Content::Blocks(system));
    }
    if let Some(n) = req.n.filter(|n| *n > 1) {
        return Err(GatewayError::bad_request(format!("anthropic does not support n={n} (one choice per call)"), Some("n")));
    }
    if let Some(stop) = req.stop {
        let list: Vec<String> = match stop {
            Value::String(s) => vec![s],
            Value::Array(a) => a.into_iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
            _ => return Err(GatewayError::bad_request("stop must be a string or a list of strings", Some("stop"))),
        };
        // Anthropic refuses whitespace-only stop sequences.
        let list: Vec<String> = list.into_iter().filter(|s| !s.trim().is_empty()).collect();
        if !list.is_empty() {
            out.stop_sequences = Some(list);
        }
    }
    if let Some(user) = req.user {
        out.metadata = Some(json!({ "user_id": user }));
    }
    if let Some(tools) = req.tools {
        let mut list = Vec::with_capacity(tools.len());
        for (i, t) in tools.into_iter().enumerate() {
            let Some(f) = t.function else {
                return Err(GatewayError::bad_request(
                    format!("tools[{i}]: only function tools are supported"),
                    Some(&format!("tools[{i}]")),
                ));
            };
            let mut extra = t.extra;
            let cache_control = extra.remove("cache_control");
            list.push(ToolParam {
                name: f.name,
                description: f.description,
                input_schema: Some(f.parameters.unwrap_or_else(|| json!({"type": "object", "properties": {}}))),
                cache_control,
                extra: Map::new(),
            });
        }
        out.tools = Some(list);
    }
    if let Some(choice) = req.tool_choice {
        out.tool_choice = tool_choice(&choice)?;
    }
    let mut extra = req.extra;
    if let Some(Value::Bool(false)) = extra.remove("parallel_tool_calls") {
        let choice = out.tool_choice.get_or_insert_with(|| json!({"type": "auto"}));
        if let Some(obj) = choice.as_object_mut() {
            obj.insert("disable_parallel_tool_use".to_owned(), Value::Bool(true));
        }
    }
    if let Some(v) = extra.remove("top_k") {
        out.top_k = v.as_u64();
    }
    if let Some(v) = extra.remove("thinking") {
        out.thinking = Some(v);
    }
    if let Some(v) = extra.remove("reasoning_effort")
        && out.thinking.is_none()
        && let Some(effort) = v.as_str()
    {
        let budget = thinking_budget(effort)
            .ok_or_else(|| GatewayError::bad_request(format!("unknown reasoning_effort '{effort}'"), Some("reasoning_effort")))?;
        out.thinking = Some(json!({"type": "enabled", "budget_tokens": budget}));
    }
    if let Some(v) = extra.remove("service_tier") {
        out.extra.insert("service_tier".to_owned(), v);
    }
    if let Some(format) = extra.remove("response_format")
        && let Some(schema) = json_schema_of(&format)
    {
        out.tools.get_or_insert_with(Vec::new).push(ToolParam {
            name: JSON_TOOL.to_owned(),
            description: Some("Respond with a JSON object.".to_owned()),
            input_schema: Some(schema),
            ..Default::default()
        });
        out.tool_choice = Some(json!({"type": "tool", "name": JSON_TOOL}));
        translated.json_tool = true;
    }
    // Remaining keys are ones the gateway lets through (stream_options is
    // answered by the adapter itself); nothing else reaches Anthropic.
    Ok((out, translated))
}

/// The schema of `response_format: {"type": "json_schema", "json_schema": {"schema": ...}}`.
fn json_schema_of(format: &Value) -> Option<Value> {
    match format.get("type").and_then(Value::as_str) {
        Some("json_schema") => Some(format.pointer("/json_schema/schema").cloned().unwrap_or_else(|| json!({"type": "object"}))),
        Some("json_object") => format.get("response_schema").cloned(),
        _ => None,
    }
}

/// OpenAI `tool_choice` → Anthropic's.
fn tool_choice(choice: &Value) -> Result<Option<Value>, GatewayError> {
    use crate::translate::ToolChoice;
    Ok(ToolChoice::parse(Some(choice))?.map(|c| match c {
        ToolChoice::Auto => json!({"type": "auto"}),
        ToolChoice::Required => json!({"type": "any"}),
        ToolChoice::None => json!({"type": "none"}),
        ToolChoice::Function(name) => json!({"type": "tool", "name": name}),
    }))
}

/// Appends blocks to the last turn when it has the same role, else starts a turn.
fn push_turn(turns: &mut Vec<MessageParam>, role: &str, blocks: Vec<Block>) {
    if let Some(last) = turns.last_mut()
        && last.role == role
        && let wire::Content::Blocks(b) = &mut last.content
    {
        b.extend(blocks);
        return;
    }
    turns.push(MessageParam { role: role.to_owned(), content: wire::Content::Blocks(blocks) });
}

/// The blocks of a user or system message; a message-level `cache_control`
/// goes on its last block.
fn blocks_of(m: Message, i: usize) -> Result<Vec<Block>, GatewayError> {
    let mut extra = m.extra;
    let mut blocks = match m.content {
        None => Vec::new(),
        Some(Content::Text(t)) => vec![Block::text(t)],
        Some(Content::Parts(parts)) => {
            parts.into_iter().enumerate().map(|(j, p)| part_block(p, i, j)).collect::<Result<Vec<_>, _>>()?.into_iter().flatten().collect()
        }
    };
    if let Some(cc) = extra.remove("cache_control")
        && let Some(last) = blocks.last_mut()
    {
        last.cache_control = Some(cc);
    }
    Ok(blocks)
}

/// One OpenAI content part as an Anthropic block (`None` for empty text).
fn part_block(p: ContentPart, i: usize, j: usize) -> Result<Option<Block>, GatewayError> {
    let mut extra = p.extra;
    let cache_control = extra.remove("cache_control");
    let mut block = match p.kind.as_str() {
        "text" => Block::text(p.text.unwrap_or_default()),
        "image_url" => {
            let url = p.image_url.map(|u| u.url).ok_or_else(|| {
                GatewayError::bad_request("image_url part without a URL", Some(&format!("messages[{i}].content[{j}].image_url")))
            })?;
            Block { kind: "image".to_owned(), source: Some(media_source(&url, i, j)?), ..Default::default() }
        }
        "file" => {
            let data = extra.get("file").and_then(|f| f.get("file_data")).and_then(Value::as_str).ok_or_else(|| {
                GatewayError::bad_request(
                    "anthropic takes files as file.file_data data URLs",
                    Some(&format!("messages[{i}].content[{j}].file")),
                )
            })?;
            Block { kind: "document".to_owned(), source: Some(media_source(data, i, j)?), ..Default::default() }
        }
        other => {
            return Err(GatewayError::bad_request(
                format!("anthropic does not support content parts of type '{other}'"),
                Some(&format!("messages[{i}].content[{j}].type")),
            ));
        }
    };
    block.cache_control = cache_control;
    Ok(Some(block))
}

/// A data URL → a base64 source; any other URL → a URL source.
fn media_source(url: &str, i: usize, j: usize) -> Result<Value, GatewayError> {
    Ok(match crate::translate::data_url(url, || format!("messages[{i}].content[{j}]"))? {
        Some((media_type, data)) => json!({"type": "base64", "media_type": media_type, "data": data}),
        None => json!({"type": "url", "url": url}),
    })
}

/// An assistant turn: thinking blocks (kept for extended thinking with tools), text, tool uses.
fn assistant_blocks(m: Message, i: usize) -> Result<Vec<Block>, GatewayError> {
    let mut extra = m.extra;
    let mut blocks = Vec::new();
    if let Some(Value::Array(thinking)) = extra.remove("thinking_blocks") {
        for t in thinking {
            if let Ok(b) = serde_json::from_value::<Block>(t) {
                blocks.push(b);
            }
        }
    }
    let tool_calls = m.tool_calls;
    let msg = Message { role: m.role, content: m.content, extra, ..Default::default() };
    blocks.extend(blocks_of(msg, i)?.into_iter().filter(|b| b.kind != "text" || b.text.as_deref().is_some_and(|t| !t.is_empty())));
    for (k, call) in tool_calls.unwrap_or_default().into_iter().enumerate() {
        let input =
            crate::translate::tool_arguments(&call.function.arguments, || format!("messages[{i}].tool_calls[{k}].function.arguments"))?;
        blocks.push(Block {
            kind: "tool_use".to_owned(),
            id: Some(call.id.unwrap_or_else(|| format!("toolu_{i}_{k}"))),
            name: Some(call.function.name.unwrap_or_default()),
            input: Some(input),
            ..Default::default()
        });
    }
    Ok(blocks)
}

/// A tool message → a `tool_result` block.
fn tool_result(m: Message, i: usize) -> Result<Block, GatewayError> {
    let id = m
        .tool_call_id
        .clone()
        .ok_or_else(|| GatewayError::bad_request("tool messages need tool_call_id", Some(&format!("messages[{i}].tool_call_id"))))?;
    let mut extra = m.extra.clone();
    let cache_control = extra.remove("cache_control");
    let content = match m.content {
        None => wire::Content::Text(String::new()),
        Some(Content::Text(t)) => wire::Content::Text(t),
        Some(Content::Parts(_)) => wire::Content::Blocks(blocks_of(Message { extra: Map::new(), ..m }, i)?),
    };
    Ok(Block { kind: "tool_result".to_owned(), tool_use_id: Some(id), content: Some(content), cache_control, ..Default::default() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translate(body: Value) -> Value {
        let req: ChatRequest = serde_json::from_value(body).expect("request");
        let (out, _) = to_anthropic(req, "claude-x").expect("translates");
        serde_json::to_value(out).expect("json")
    }

    #[test]
    fn system_tools_images_and_tool_results() {
        let out = translate(json!({
            "model": "m", "max_tokens": 100, "stop": ["\n\n", "END"], "user": "u1",
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [
                    {"type": "text", "text": "what is here?", "cache_control": {"type": "ephemeral"}},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}},
                    {"type": "image_url", "image_url": {"url": "https://x.invalid/a.jpg"}}
                ]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
                {"role": "user", "content": "thanks"}
            ],
            "tools": [{"type": "function", "function": {"name": "get_weather", "description": "weather", "parameters": {"type": "object"}}}],
            "tool_choice": "required", "parallel_tool_calls": false
        }));
        assert_eq!(out["model"], "claude-x");
        assert_eq!(out["system"], json!([{"type": "text", "text": "be brief"}]));
        assert_eq!(out["stop_sequences"], json!(["END"]), "whitespace-only stop sequences are dropped");
        assert_eq!(out["metadata"]["user_id"], "u1");
        let msgs = out["messages"].as_array().expect("messages");
        assert_eq!(msgs.len(), 3, "tool result and the next user text merge into one user turn: {msgs:?}");
        assert_eq!(msgs[0]["content"][0]["cache_control"]["type"], "ephemeral");
        assert_eq!(msgs[0]["content"][1]["source"], json!({"type": "base64", "media_type": "image/png", "data": "iVBOR"}));
        assert_eq!(msgs[0]["content"][2]["source"], json!({"type": "url", "url": "https://x.invalid/a.jpg"}));
        assert_eq!(msgs[1]["content"][0], json!({"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}}));
        assert_eq!(msgs[2]["content"][0], json!({"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"}));
        assert_eq!(msgs[2]["content"][1], json!({"type": "text", "text": "thanks"}));
        assert_eq!(out["tools"][0]["input_schema"], json!({"type": "object"}));
        assert_eq!(out["tool_choice"], json!({"type": "any", "disable_parallel_tool_use": true}));
        assert_eq!(out["max_tokens"], 100);
    }

    #[test]
    fn defaults_and_refusals() {
        let out = translate(json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "reasoning_effort": "low"}));
        assert_eq!(out["max_tokens"], DEFAULT_MAX_TOKENS);
        assert_eq!(out["thinking"], json!({"type": "enabled", "budget_tokens": 1024}));
        let req: ChatRequest =
            serde_json::from_value(json!({"model": "m", "n": 2, "messages": [{"role": "user", "content": "hi"}]})).expect("req");
        assert_eq!(to_anthropic(req, "c").expect_err("n").param.as_deref(), Some("n"));
        let req: ChatRequest =
            serde_json::from_value(json!({"model": "m", "messages": [{"role": "system", "content": "only"}]})).expect("req");
        assert!(to_anthropic(req, "c").is_err());
        let req: ChatRequest = serde_json::from_value(json!({"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"id": "a", "function": {"name": "f", "arguments": "{bad"}}]}]})).expect("req");
        assert_eq!(to_anthropic(req, "c").expect_err("args").param.as_deref(), Some("messages[0].tool_calls[0].function.arguments"));
    }

    #[test]
    fn json_schema_becomes_a_forced_tool() {
        let req: ChatRequest = serde_json::from_value(json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}}}))
        .expect("req");
        let (out, t) = to_anthropic(req, "c").expect("ok");
        assert!(t.json_tool);
        assert_eq!(out.tool_choice, Some(json!({"type": "tool", "name": JSON_TOOL})));
        assert_eq!(out.tools.as_ref().map(|t| t[0].name.as_str()), Some(JSON_TOOL));
    }
}
