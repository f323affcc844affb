//! OpenAI chat request → `generateContent` request.
//!
//! System messages become `systemInstruction`; assistant turns are `model`
//! turns whose tool calls are `functionCall` parts; tool messages are
//! `functionResponse` parts of a user turn, named after the call they
//! answer; sampling parameters go to `generationConfig`.

use std::collections::HashMap;

use serde_json::{Map, Value, json};
use tianji_core::GatewayError;
use tianji_core::types::{ChatRequest, Content as OpenAiContent, Message};

use super::wire::{Content, FunctionCall, GenerateRequest, Part};

/// OpenAI parameters this adapter translates.
pub const SUPPORTED_PARAMS: &[&str] = &[
    "temperature",
    "top_p",
    "top_k",
    "max_tokens",
    "max_completion_tokens",
    "n",
    "stop",
    "tools",
    "tool_choice",
    "response_format",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "logprobs",
    "top_logprobs",
    "reasoning_effort",
    "thinking",
    "safety_settings",
    "cached_content",
    "stream_options",
    "user",
];

/// Builds the request.
pub fn to_gemini(req: ChatRequest) -> Result<GenerateRequest, GatewayError> {
    let mut out = GenerateRequest::default();
    let mut system = Vec::new();
    let mut call_names: HashMap<String, String> = HashMap::new();
    for (i, m) in req.messages.into_iter().enumerate() {
        match m.role.as_str() {
            "system" | "developer" => system.extend(parts_of(&m, i)?),
            "user" => push(&mut out.contents, "user", parts_of(&m, i)?),
            "assistant" => {
                let mut parts = parts_of(&m, i)?;
                parts.retain(|p| p.text.as_deref().is_none_or(|t| !t.is_empty()));
                for (k, call) in m.tool_calls.iter().flatten().enumerate() {
                    let name = call.function.name.clone().unwrap_or_default();
                    let args = crate::translate::tool_arguments(&call.function.arguments, || {
                        format!("messages[{i}].tool_calls[{k}].function.arguments")
                    })?;
                    if let Some(id) = &call.id {
                        call_names.insert(id.clone(), name.clone());
                    }
                    let signature = call.id.as_deref().and_then(signature_of);
                    parts.push(Part {
                        function_call: Some(FunctionCall { id: None, name, args }),
                        thought_signature: signature,
                        ..Default::default()
                    });
                }
                if !parts.is_empty() {
                    push(&mut out.contents, "model", parts);
                }
            }
            "tool" | "function" => {
                let id = m.tool_call_id.clone().unwrap_or_default();
                let name = m.name.clone().or_else(|| call_names.get(&id).cloned()).ok_or_else(|| {
                    GatewayError::bad_request(
                        format!("messages[{i}]: tool_call_id '{id}' answers no earlier tool call"),
                        Some(&format!("messages[{i}].tool_call_id")),
                    )
                })?;
                let text = m.text_content();
                let response = match serde_json::from_str::<Value>(&text) {
                    Ok(Value::Object(o)) => Value::Object(o),
                    _ => json!({ "content": text }),
                };
                let part = Part { function_response: Some(json!({"name": name, "response": response})), ..Default::default() };
                push(&mut out.contents, "user", vec![part]);
            }
            other => {
                return Err(GatewayError::bad_request(
                    format!("gemini does not support messages with role '{other}'"),
                    Some(&format!("messages[{i}].role")),
                ));
            }
        }
    }
    if out.contents.is_empty() {
        return Err(GatewayError::bad_request("gemini needs at least one user or assistant message", Some("messages")));
    }
    if !system.is_empty() {
        out.system_instruction = Some(Content { role: None, parts: system });
    }
    let g = &mut out.generation_config;
    let mut set = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            g.insert(k.to_owned(), v);
        }
    };
    set("temperature", req.temperature.map(Value::from));
    set("topP", req.top_p.map(Value::from));
    set("maxOutputTokens", req.max_completion_tokens.or(req.max_tokens).map(Value::from));
    set("candidateCount", req.n.filter(|n| *n > 1).map(Value::from));
    set("stopSequences", crate::translate::stop_list(req.stop)?.map(Value::Array));
    let mut extra = req.extra;
    for (from, to) in [
        ("top_k", "topK"),
        ("seed", "seed"),
        ("presence_penalty", "presencePenalty"),
        ("frequency_penalty", "frequencyPenalty"),
        ("logprobs", "responseLogprobs"),
        ("top_logprobs", "logprobs"),
    ] {
        set(to, extra.remove(from));
    }
    if let Some(format) = extra.remove("response_format") {
        match format.get("type").and_then(Value::as_str) {
            Some("json_object") => set("responseMimeType", Some(json!("application/json"))),
            Some("json_schema") => {
                set("responseMimeType", Some(json!("application/json")));
                set("responseJsonSchema", format.pointer("/json_schema/schema").cloned());
            }
            _ => {}
        }
    }
    if let Some(Value::String(effort)) = extra.remove("reasoning_effort") {
        let budget = match effort.as_str() {
            "none" | "disable" => 0,
            "minimal" | "low" => 1024,
            "medium" => 2048,
            "high" => 4096,
            other => return Err(GatewayError::bad_request(format!("unknown reasoning_effort '{other}'"), Some("reasoning_effort"))),
        };
        set("thinkingConfig", Some(json!({"thinkingBudget": budget, "includeThoughts": budget > 0})));
    }
    if let Some(thinking) = extra.remove("thinking") {
        let budget = thinking.get("budget_tokens").cloned().unwrap_or(json!(-1));
        set("thinkingConfig", Some(json!({"thinkingBudget": budget, "includeThoughts": true})));
    }
    out.safety_settings = extra.remove("safety_settings");
    out.cached_content = extra.remove("cached_content");
    if let Some(tools) = req.tools {
        let mut decls = Vec::with_capacity(tools.len());
        for (i, t) in tools.into_iter().enumerate() {
            let f = t.function.ok_or_else(|| {
                GatewayError::bad_request(format!("tools[{i}]: only function tools are supported"), Some(&format!("tools[{i}]")))
            })?;
            let mut d = Map::new();
            d.insert("name".to_owned(), Value::String(f.name));
            if let Some(desc) = f.description {
                d.insert("description".to_owned(), Value::String(desc));
            }
            if let Some(p) = f.parameters.filter(has_properties) {
                d.insert("parametersJsonSchema".to_owned(), p);
            }
            decls.push(Value::Object(d));
        }
        out.tools.push(json!({ "functionDeclarations": decls }));
    }
    if let Some(choice) = crate::translate::ToolChoice::parse(req.tool_choice.as_ref())? {
        use crate::translate::ToolChoice;
        let config = match choice {
            ToolChoice::Auto => json!({"mode": "AUTO"}),
            ToolChoice::Required => json!({"mode": "ANY"}),
            ToolChoice::None => json!({"mode": "NONE"}),
            ToolChoice::Function(name) => json!({"mode": "ANY", "allowedFunctionNames": [name]}),
        };
        out.tool_config = Some(json!({ "functionCallingConfig": config }));
    }
    Ok(out)
}

/// A schema worth sending (Gemini rejects an object schema without properties).
fn has_properties(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) != Some("object")
        || schema.get("properties").is_some_and(|p| p.as_object().is_some_and(|o| !o.is_empty()))
}

/// Tool-call ids this adapter made carry the call's thought signature
/// (Gemini 3 requires it back): `call_<n>__thought__<signature>`.
pub const SIGNATURE_MARK: &str = "__thought__";

fn signature_of(id: &str) -> Option<String> {
    id.split_once(SIGNATURE_MARK).map(|(_, s)| s.to_owned())
}

/// Appends parts to the last turn when it has the same role.
fn push(contents: &mut Vec<Content>, role: &str, parts: Vec<Part>) {
    if let Some(last) = contents.last_mut()
        && last.role.as_deref() == Some(role)
    {
        last.parts.extend(parts);
        return;
    }
    contents.push(Content { role: Some(role.to_owned()), parts });
}

/// Text, image and file parts of a message.
fn parts_of(m: &Message, i: usize) -> Result<Vec<Part>, GatewayError> {
    match &m.content {
        None => Ok(Vec::new()),
        Some(OpenAiContent::Text(t)) => Ok(vec![Part { text: Some(t.clone()), ..Default::default() }]),
        Some(OpenAiContent::Parts(parts)) => parts
            .iter()
            .enumerate()
            .map(|(j, p)| match p.kind.as_str() {
                "text" => Ok(Part { text: Some(p.text.clone().unwrap_or_default()), ..Default::default() }),
                "image_url" => {
                    let url = p.image_url.as_ref().map(|u| u.url.as_str()).unwrap_or("");
                    media_part(url, i, j)
                }
                "file" => {
                    let file = p.extra.get("file");
                    let url = file.and_then(|f| f.get("file_data").or_else(|| f.get("file_id"))).and_then(Value::as_str).unwrap_or("");
                    media_part(url, i, j)
                }
                other => Err(GatewayError::bad_request(
                    format!("gemini does not support content parts of type '{other}'"),
                    Some(&format!("messages[{i}].content[{j}].type")),
                )),
            })
            .collect(),
    }
}

/// A data URL → inline data; any other URL → file data with a MIME type guessed from its extension.
fn media_part(url: &str, i: usize, j: usize) -> Result<Part, GatewayError> {
    if let Some((mime, data)) = crate::translate::data_url(url, || format!("messages[{i}].content[{j}]"))? {
        return Ok(Part { inline_data: Some(json!({"mimeType": mime, "data": data})), ..Default::default() });
    }
    if url.is_empty() {
        return Err(GatewayError::bad_request("media part without a URL", Some(&format!("messages[{i}].content[{j}]"))));
    }
    let ext = url.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    let mime = match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "pdf" => "application/pdf",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "mp4" => "video/mp4",
        "txt" => "text/plain",
        _ => "application/octet-stream",
    };
    Ok(Part { file_data: Some(json!({"mimeType": mime, "fileUri": url})), ..Default::default() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_shape() {
        let req: ChatRequest = serde_json::from_value(json!({
            "model": "m", "temperature": 0.5, "max_tokens": 99, "stop": "END", "top_k": 3,
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "what is this?"}, {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/"}}]},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}
            ],
            "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
                      {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}}],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            "response_format": {"type": "json_object"}
        }))
        .expect("request");
        let out = serde_json::to_value(to_gemini(req).expect("ok")).expect("json");
        assert_eq!(out["systemInstruction"], json!({"parts": [{"text": "be brief"}]}));
        assert_eq!(out["contents"][0]["role"], "user");
        assert_eq!(out["contents"][0]["parts"][1]["inlineData"], json!({"mimeType": "image/jpeg", "data": "/9j/"}));
        assert_eq!(
            out["contents"][1],
            json!({"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]})
        );
        assert_eq!(out["contents"][2]["parts"][0]["functionResponse"], json!({"name": "get_weather", "response": {"content": "sunny"}}));
        let g = &out["generationConfig"];
        assert_eq!((g["temperature"].clone(), g["maxOutputTokens"].clone(), g["topK"].clone()), (json!(0.5), json!(99), json!(3)));
        assert_eq!(g["stopSequences"], json!(["END"]));
        assert_eq!(g["responseMimeType"], "application/json");
        assert_eq!(out["tools"][0]["functionDeclarations"][0]["parametersJsonSchema"]["properties"]["city"]["type"], "string");
        assert!(out["tools"][0]["functionDeclarations"][1].get("parametersJsonSchema").is_none(), "empty object schemas are left out");
        assert_eq!(out["toolConfig"]["functionCallingConfig"], json!({"mode": "ANY", "allowedFunctionNames": ["get_weather"]}));
    }

    #[test]
    fn unknown_tool_result_is_refused() {
        let req: ChatRequest = serde_json::from_value(json!({"model": "m", "messages": [
            {"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "nope", "content": "y"}]}))
        .expect("request");
        assert_eq!(to_gemini(req).expect_err("unknown").param.as_deref(), Some("messages[1].tool_call_id"));
    }
}
