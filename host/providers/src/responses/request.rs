//! Responses-API request → chat-completion request, for providers that do
//! not serve the Responses API themselves.
//!
//! `instructions` becomes the system message; `input` items become messages
//! (`function_call` items an assistant turn's tool calls,
//! `function_call_output` items tool messages); function tools, tool
//! choice, `max_output_tokens`, `text.format` and `reasoning.effort` map to
//! their chat names. Built-in tools (web search, file search) and
//! `previous_response_id` need state or tools only OpenAI has, and are
//! refused with a 400 naming them.

use serde_json::{Map, Value, json};
use tianji_core::GatewayError;
use tianji_core::types::{ChatRequest, Content, ContentPart, FunctionCall, FunctionDef, ImageUrl, Message, StreamOptions, Tool, ToolCall};

fn bad(message: impl Into<String>, param: &str) -> GatewayError {
    GatewayError::bad_request(message, Some(param))
}

/// The chat request for a Responses request (`provider` names the target in errors).
pub fn to_chat(body: &Value, provider: &str) -> Result<ChatRequest, GatewayError> {
    let obj = body.as_object().ok_or_else(|| bad("the request body must be a JSON object", "body"))?;
    if obj.get("previous_response_id").is_some_and(|v| !v.is_null()) {
        return Err(bad(
            format!(
                "previous_response_id is not supported for {provider} deployments: the gateway translates the Responses API for them and keeps no response state; send the whole conversation in `input`"
            ),
            "previous_response_id",
        ));
    }
    let mut req = ChatRequest { model: obj.get("model").and_then(Value::as_str).unwrap_or_default().to_owned(), ..Default::default() };
    if let Some(i) = obj.get("instructions").and_then(Value::as_str) {
        req.messages.push(Message::text("system", i));
    }
    match obj.get("input") {
        Some(Value::String(s)) => req.messages.push(Message::text("user", s.clone())),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                input_item(item, i, &mut req.messages)?;
            }
        }
        None | Some(Value::Null) => {}
        Some(_) => return Err(bad("input must be a string or a list of items", "input")),
    }
    if req.messages.iter().all(|m| m.role == "system") {
        return Err(bad("input is required", "input"));
    }
    req.stream = obj.get("stream").and_then(Value::as_bool).unwrap_or(false);
    if req.stream {
        // response.completed carries the usage.
        req.stream_options = Some(StreamOptions { include_usage: true, extra: Map::new() });
    }
    req.max_tokens = obj.get("max_output_tokens").and_then(Value::as_u64);
    req.temperature = obj.get("temperature").and_then(Value::as_f64);
    req.top_p = obj.get("top_p").and_then(Value::as_f64);
    req.user = obj.get("user").and_then(Value::as_str).map(str::to_owned);
    if let Some(tools) = obj.get("tools").and_then(Value::as_array).filter(|t| !t.is_empty()) {
        let mut list = Vec::with_capacity(tools.len());
        for (i, t) in tools.iter().enumerate() {
            let kind = t.get("type").and_then(Value::as_str).unwrap_or("");
            if kind != "function" {
                return Err(bad(
                    format!("tools[{i}]: '{kind}' tools are served by OpenAI only; {provider} deployments take function tools"),
                    &format!("tools[{i}]"),
                ));
            }
            let mut extra = Map::new();
            if let Some(s) = t.get("strict") {
                extra.insert("strict".to_owned(), s.clone());
            }
            list.push(Tool {
                kind: "function".to_owned(),
                function: Some(FunctionDef {
                    name: t
                        .get("name")
                        .and_then(Value::as_str)
                        .ok_or_else(|| bad("function tools need a name", &format!("tools[{i}].name")))?
                        .to_owned(),
                    description: t.get("description").and_then(Value::as_str).map(str::to_owned),
                    parameters: t.get("parameters").cloned(),
                    extra,
                }),
                extra: Map::new(),
            });
        }
        req.tools = Some(list);
    }
    match obj.get("tool_choice") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => req.tool_choice = Some(Value::String(s.clone())),
        Some(Value::Object(o)) if o.get("type").and_then(Value::as_str) == Some("function") => {
            let name = o.get("name").and_then(Value::as_str).unwrap_or_default();
            req.tool_choice = Some(json!({"type": "function", "function": {"name": name}}));
        }
        Some(_) => return Err(bad("tool_choice must be auto, none, required or a function", "tool_choice")),
    }
    if let Some(p) = obj.get("parallel_tool_calls").filter(|v| v.is_boolean()) {
        req.extra.insert("parallel_tool_calls".to_owned(), p.clone());
    }
    if let Some(effort) = body.pointer("/reasoning/effort").and_then(Value::as_str) {
        req.extra.insert("reasoning_effort".to_owned(), Value::String(effort.to_owned()));
    }
    if let Some(format) = body.pointer("/text/format") {
        match format.get("type").and_then(Value::as_str) {
            Some("json_schema") => {
                let mut schema = Map::new();
                for k in ["name", "schema", "strict", "description"] {
                    if let Some(v) = format.get(k) {
                        schema.insert(k.to_owned(), v.clone());
                    }
                }
                req.extra.insert("response_format".to_owned(), json!({"type": "json_schema", "json_schema": schema}));
            }
            Some("json_object") => {
                req.extra.insert("response_format".to_owned(), json!({"type": "json_object"}));
            }
            _ => {}
        }
    }
    // Gateway controls (fallbacks, tags, mock_response, ...) ride along for the chat pipeline.
    for (k, v) in obj {
        if !RESPONSES_FIELDS.contains(&k.as_str()) {
            req.extra.insert(k.clone(), v.clone());
        }
    }
    Ok(req)
}

/// Responses-API fields handled above or without a chat equivalent (`store`, `truncation`, `include`).
const RESPONSES_FIELDS: &[&str] = &[
    "model",
    "input",
    "instructions",
    "stream",
    "max_output_tokens",
    "temperature",
    "top_p",
    "user",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "reasoning",
    "text",
    "previous_response_id",
    "store",
    "truncation",
    "include",
    "service_tier",
    "background",
    "stream_options",
    "prompt_cache_key",
    "safety_identifier",
];

/// One input item → messages.
fn input_item(item: &Value, i: usize, out: &mut Vec<Message>) -> Result<(), GatewayError> {
    let at = format!("input[{i}]");
    let kind = item.get("type").and_then(Value::as_str).unwrap_or("message");
    match kind {
        "message" => {
            let role = item.get("role").and_then(Value::as_str).ok_or_else(|| bad("messages need a role", &format!("{at}.role")))?;
            let content = match item.get("content") {
                Some(Value::String(s)) => Content::Text(s.clone()),
                Some(Value::Array(parts)) => {
                    let mut list = Vec::with_capacity(parts.len());
                    for (j, p) in parts.iter().enumerate() {
                        list.push(content_part(p, &format!("{at}.content[{j}]"))?);
                    }
                    Content::Parts(list)
                }
                _ => return Err(bad("message content must be a string or a list of parts", &format!("{at}.content"))),
            };
            out.push(Message { role: role.to_owned(), content: Some(content), ..Default::default() });
        }
        "function_call" => {
            let call = ToolCall {
                id: item.get("call_id").and_then(Value::as_str).map(str::to_owned),
                kind: Some("function".to_owned()),
                function: FunctionCall {
                    name: item.get("name").and_then(Value::as_str).map(str::to_owned),
                    arguments: item.get("arguments").and_then(Value::as_str).unwrap_or("{}").to_owned(),
                },
                index: None,
            };
            // Consecutive calls are one assistant turn.
            match out.last_mut() {
                Some(m) if m.role == "assistant" && m.tool_calls.is_some() => m.tool_calls.get_or_insert_with(Vec::new).push(call),
                _ => out.push(Message { role: "assistant".to_owned(), content: None, tool_calls: Some(vec![call]), ..Default::default() }),
            }
        }
        "function_call_output" => {
            let output = match item.get("output") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            out.push(Message {
                role: "tool".to_owned(),
                content: Some(Content::Text(output)),
                tool_call_id: item.get("call_id").and_then(Value::as_str).map(str::to_owned),
                ..Default::default()
            });
        }
        // Reasoning items from an earlier answer carry nothing another provider can use.
        "reasoning" => {}
        other => return Err(bad(format!("input items of type '{other}' are not supported for this deployment"), &format!("{at}.type"))),
    }
    Ok(())
}

fn content_part(p: &Value, at: &str) -> Result<ContentPart, GatewayError> {
    let kind = p.get("type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "input_text" | "output_text" | "text" => Ok(ContentPart {
            kind: "text".to_owned(),
            text: p.get("text").and_then(Value::as_str).map(str::to_owned),
            ..Default::default()
        }),
        "input_image" => {
            let url = p
                .get("image_url")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("input_image needs image_url (file_id is OpenAI-only)", at))?;
            let detail = p.get("detail").and_then(Value::as_str).map(str::to_owned);
            Ok(ContentPart {
                kind: "image_url".to_owned(),
                image_url: Some(ImageUrl { url: url.to_owned(), detail }),
                ..Default::default()
            })
        }
        "input_file" => {
            let data =
                p.get("file_data").and_then(Value::as_str).ok_or_else(|| bad("input_file needs file_data (file_id is OpenAI-only)", at))?;
            let mut extra = Map::new();
            extra.insert("file".to_owned(), json!({"file_data": data, "filename": p.get("filename")}));
            Ok(ContentPart { kind: "file".to_owned(), extra, ..Default::default() })
        }
        other => Err(bad(format!("content parts of type '{other}' are not supported here"), at)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_tools_and_formats() {
        let body = json!({
            "model": "m", "instructions": "be brief", "max_output_tokens": 50, "reasoning": {"effort": "low"},
            "input": [
                {"role": "user", "content": [{"type": "input_text", "text": "weather?"}, {"type": "input_image", "image_url": "data:image/png;base64,AA"}]},
                {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
                {"type": "function_call_output", "call_id": "c1", "output": "sunny"}
            ],
            "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}],
            "tool_choice": {"type": "function", "name": "get_weather"},
            "text": {"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}}},
            "store": false, "fallbacks": ["other"]
        });
        let out = serde_json::to_value(to_chat(&body, "anthropic").expect("ok")).expect("json");
        assert_eq!(out["messages"][0], json!({"role": "system", "content": "be brief"}));
        assert_eq!(out["messages"][1]["content"][1]["image_url"]["url"], "data:image/png;base64,AA");
        assert_eq!(out["messages"][2]["tool_calls"][0]["function"]["name"], "get_weather");
        assert_eq!(out["messages"][3], json!({"role": "tool", "content": "sunny", "tool_call_id": "c1"}));
        assert_eq!(out["tools"][0]["function"]["name"], "get_weather");
        assert_eq!(out["tool_choice"], json!({"type": "function", "function": {"name": "get_weather"}}));
        assert_eq!(out["response_format"]["json_schema"]["name"], "w");
        assert_eq!(out["reasoning_effort"], "low");
        assert_eq!(out["max_tokens"], 50);
        assert_eq!(out["fallbacks"], json!(["other"]), "gateway controls ride along");
        assert!(out.get("store").is_none());
    }

    #[test]
    fn state_and_builtin_tools_are_refused() {
        let e = to_chat(&json!({"model": "m", "input": "x", "previous_response_id": "resp_1"}), "gemini").expect_err("state");
        assert_eq!(e.param.as_deref(), Some("previous_response_id"));
        let e = to_chat(&json!({"model": "m", "input": "x", "tools": [{"type": "web_search"}]}), "gemini").expect_err("tool");
        assert_eq!(e.param.as_deref(), Some("tools[0]"));
        assert!(to_chat(&json!({"model": "m"}), "gemini").is_err());
    }
}
