//! OpenAI chat request → Bedrock Converse request
//! (<https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html>).
//!
//! System messages become `system` blocks, tool calls `toolUse` blocks and
//! tool messages `toolResult` blocks of a user turn; consecutive turns of one
//! role merge, as Converse wants them alternating. `cache_control` becomes a
//! `cachePoint` after the block. Parameters Converse has no field for
//! (`top_k`, `thinking`) go in `additionalModelRequestFields`.

use serde_json::{Map, Value, json};
use tianji_core::GatewayError;
use tianji_core::types::{ChatRequest, Content, Message};

/// OpenAI parameters this adapter translates.
pub const SUPPORTED_PARAMS: &[&str] = &[
    "temperature",
    "top_p",
    "top_k",
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "tools",
    "tool_choice",
    "thinking",
    "reasoning_effort",
    "stream_options",
    "user",
    "guardrailConfig",
    "performanceConfig",
    "requestMetadata",
];

/// Builds the Converse body.
pub fn to_converse(req: ChatRequest) -> Result<Value, GatewayError> {
    let mut system: Vec<Value> = Vec::new();
    let mut turns: Vec<(String, Vec<Value>)> = Vec::new();
    for (i, m) in req.messages.into_iter().enumerate() {
        match m.role.as_str() {
            "system" | "developer" => system.extend(blocks_of(&m, i)?),
            "user" => push(&mut turns, "user", blocks_of(&m, i)?),
            "assistant" => {
                let mut blocks: Vec<Value> = blocks_of(&m, i)?.into_iter().filter(|b| b.get("text").is_none_or(|t| t != "")).collect();
                for (k, call) in m.tool_calls.iter().flatten().enumerate() {
                    let input = crate::translate::tool_arguments(&call.function.arguments, || {
                        format!("messages[{i}].tool_calls[{k}].function.arguments")
                    })?;
                    blocks.push(json!({"toolUse": {"toolUseId": call.id.clone().unwrap_or_else(|| format!("tooluse_{i}_{k}")),
                        "name": call.function.name.clone().unwrap_or_default(), "input": input}}));
                }
                if !blocks.is_empty() {
                    push(&mut turns, "assistant", blocks);
                }
            }
            "tool" => {
                let id = m.tool_call_id.clone().ok_or_else(|| {
                    GatewayError::bad_request("tool messages need tool_call_id", Some(&format!("messages[{i}].tool_call_id")))
                })?;
                let text = m.text_content();
                let content = match serde_json::from_str::<Value>(&text) {
                    Ok(v @ Value::Object(_)) => json!([{"json": v}]),
                    _ => json!([{"text": text}]),
                };
                push(&mut turns, "user", vec![json!({"toolResult": {"toolUseId": id, "content": content}})]);
            }
            other => {
                return Err(GatewayError::bad_request(
                    format!("bedrock does not support messages with role '{other}'"),
                    Some(&format!("messages[{i}].role")),
                ));
            }
        }
    }
    if turns.is_empty() {
        return Err(GatewayError::bad_request("bedrock needs at least one user or assistant message", Some("messages")));
    }
    let messages: Vec<Value> = turns.into_iter().map(|(role, content)| json!({"role": role, "content": content})).collect();
    let mut body = Map::new();
    body.insert("messages".to_owned(), Value::Array(messages));
    if !system.is_empty() {
        body.insert("system".to_owned(), Value::Array(system));
    }
    let mut inference = Map::new();
    if let Some(n) = req.max_completion_tokens.or(req.max_tokens) {
        inference.insert("maxTokens".to_owned(), json!(n));
    }
    if let Some(t) = req.temperature {
        inference.insert("temperature".to_owned(), json!(t));
    }
    if let Some(p) = req.top_p {
        inference.insert("topP".to_owned(), json!(p));
    }
    if let Some(stop) = crate::translate::stop_list(req.stop)? {
        inference.insert("stopSequences".to_owned(), Value::Array(stop));
    }
    if !inference.is_empty() {
        body.insert("inferenceConfig".to_owned(), Value::Object(inference));
    }
    let mut extra = req.extra;
    let mut additional = Map::new();
    if let Some(k) = extra.remove("top_k") {
        additional.insert("top_k".to_owned(), k);
    }
    if let Some(t) = extra.remove("thinking") {
        additional.insert("thinking".to_owned(), t);
    }
    if let Some(Value::String(effort)) = extra.remove("reasoning_effort") {
        let budget = match effort.as_str() {
            "minimal" | "low" => 1024,
            "medium" => 2048,
            "high" => 4096,
            other => return Err(GatewayError::bad_request(format!("unknown reasoning_effort '{other}'"), Some("reasoning_effort"))),
        };
        additional.insert("thinking".to_owned(), json!({"type": "enabled", "budget_tokens": budget}));
    }
    if !additional.is_empty() {
        body.insert("additionalModelRequestFields".to_owned(), Value::Object(additional));
    }
    for key in ["guardrailConfig", "performanceConfig", "requestMetadata"] {
        if let Some(v) = extra.remove(key) {
            body.insert(key.to_owned(), v);
        }
    }
    if let Some(tools) = req.tools {
        let mut specs = Vec::with_capacity(tools.len());
        for (i, t) in tools.into_iter().enumerate() {
            let f = t.function.ok_or_else(|| {
                GatewayError::bad_request(format!("tools[{i}]: only function tools are supported"), Some(&format!("tools[{i}]")))
            })?;
            let mut spec = json!({"name": f.name, "inputSchema": {"json": f.parameters.unwrap_or_else(|| json!({"type": "object", "properties": {}}))}});
            if let Some(d) = f.description {
                spec["description"] = Value::String(d);
            }
            specs.push(json!({ "toolSpec": spec }));
        }
        let mut config = json!({ "tools": specs });
        match crate::translate::ToolChoice::parse(req.tool_choice.as_ref())? {
            Some(crate::translate::ToolChoice::Auto) => config["toolChoice"] = json!({"auto": {}}),
            Some(crate::translate::ToolChoice::Required) => config["toolChoice"] = json!({"any": {}}),
            Some(crate::translate::ToolChoice::Function(name)) => config["toolChoice"] = json!({"tool": {"name": name}}),
            // Converse has no "none": the model is told nothing and may still call a tool.
            Some(crate::translate::ToolChoice::None) | None => {}
        }
        body.insert("toolConfig".to_owned(), config);
    }
    Ok(Value::Object(body))
}

fn push(turns: &mut Vec<(String, Vec<Value>)>, role: &str, blocks: Vec<Value>) {
    if let Some((r, b)) = turns.last_mut()
        && r == role
    {
        b.extend(blocks);
        return;
    }
    turns.push((role.to_owned(), blocks));
}

/// Text, image and document blocks of a message, with cache points.
fn blocks_of(m: &Message, i: usize) -> Result<Vec<Value>, GatewayError> {
    let mut out = Vec::new();
    match &m.content {
        None => {}
        Some(Content::Text(t)) => out.push(json!({"text": t})),
        Some(Content::Parts(parts)) => {
            for (j, p) in parts.iter().enumerate() {
                match p.kind.as_str() {
                    "text" => out.push(json!({"text": p.text.clone().unwrap_or_default()})),
                    "image_url" => {
                        let url = p.image_url.as_ref().map(|u| u.url.as_str()).unwrap_or("");
                        let (mime, data) = data_url(url, i, j)?;
                        let format = mime.strip_prefix("image/").unwrap_or(mime);
                        out.push(json!({"image": {"format": format, "source": {"bytes": data}}}));
                    }
                    "file" => {
                        let url = p.extra.get("file").and_then(|f| f.get("file_data")).and_then(Value::as_str).unwrap_or("");
                        let (mime, data) = data_url(url, i, j)?;
                        let format = mime.rsplit('/').next().unwrap_or("pdf");
                        out.push(json!({"document": {"format": format, "name": format!("document-{i}-{j}"), "source": {"bytes": data}}}));
                    }
                    other => {
                        return Err(GatewayError::bad_request(
                            format!("bedrock does not support content parts of type '{other}'"),
                            Some(&format!("messages[{i}].content[{j}].type")),
                        ));
                    }
                }
                if p.extra.contains_key("cache_control") {
                    out.push(json!({"cachePoint": {"type": "default"}}));
                }
            }
        }
    }
    if m.extra.contains_key("cache_control") && !out.is_empty() {
        out.push(json!({"cachePoint": {"type": "default"}}));
    }
    Ok(out)
}

/// `data:<mime>;base64,<data>` → (mime, data); Converse takes media inline only.
fn data_url(url: &str, i: usize, j: usize) -> Result<(&str, &str), GatewayError> {
    let at = || format!("messages[{i}].content[{j}]");
    crate::translate::data_url(url, at)?.ok_or_else(|| {
        GatewayError::bad_request(
            "bedrock takes images and documents inline: pass a data:<type>;base64,... URL (fetching URLs is not supported yet)",
            Some(&at()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_shape() {
        let req: ChatRequest = serde_json::from_value(json!({
            "model": "m", "max_tokens": 50, "temperature": 0.3, "stop": "END", "top_k": 5,
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "look", "cache_control": {"type": "ephemeral"}},
                                             {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
                {"role": "assistant", "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]},
                {"role": "tool", "tool_call_id": "t1", "content": "{\"ok\": true}"}
            ],
            "tools": [{"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object"}}}],
            "tool_choice": "required"
        }))
        .expect("request");
        let out = to_converse(req).expect("ok");
        assert_eq!(out["system"], json!([{"text": "be brief"}]));
        assert_eq!(out["messages"][0]["content"][1], json!({"cachePoint": {"type": "default"}}));
        assert_eq!(out["messages"][0]["content"][2], json!({"image": {"format": "png", "source": {"bytes": "AAAA"}}}));
        assert_eq!(out["messages"][1]["content"][0], json!({"toolUse": {"toolUseId": "t1", "name": "f", "input": {"a": 1}}}));
        assert_eq!(out["messages"][2]["content"][0], json!({"toolResult": {"toolUseId": "t1", "content": [{"json": {"ok": true}}]}}));
        assert_eq!(out["inferenceConfig"], json!({"maxTokens": 50, "temperature": 0.3, "stopSequences": ["END"]}));
        assert_eq!(out["additionalModelRequestFields"], json!({"top_k": 5}));
        assert_eq!(out["toolConfig"]["toolChoice"], json!({"any": {}}));
        assert_eq!(out["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"], json!({"type": "object"}));
    }

    #[test]
    fn remote_images_are_refused_with_the_reason() {
        let req: ChatRequest = serde_json::from_value(json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://x.invalid/a.png"}}]}]}))
        .expect("request");
        assert_eq!(to_converse(req).expect_err("url").param.as_deref(), Some("messages[0].content[0]"));
    }
}
