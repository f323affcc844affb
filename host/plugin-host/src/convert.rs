//! Between Tianji's request model and the WIT types plugins see, and back:
//! a plugin's `modify` verdict is applied to the original request so that
//! fields the WIT model does not carry (audio parts, cache control, provider
//! extras) survive a redaction.

use serde_json::Value;
use tianji_core::context::CallContext;
use tianji_core::traits::{GuardrailCall, GuardrailPhase};
use tianji_core::types::{
    ChatRequest, ChatResponse, Content, ContentPart as CorePart, FunctionCall, ImageUrl as CoreImage, Message, ToolCall,
};

use crate::bindings::wit_types as wit;

/// The typed context of a guardrail call.
pub fn call_context(call: &GuardrailCall<'_>, guardrail_name: &str) -> wit::CallContext {
    let ctx: &CallContext = call.ctx;
    wit::CallContext {
        request_id: ctx.call_id.clone(),
        call_type: ctx.call_type.as_str().to_string(),
        phase: match call.phase {
            GuardrailPhase::PreCall => wit::Phase::PreCall,
            GuardrailPhase::DuringCall => wit::Phase::DuringCall,
            GuardrailPhase::PostCall => wit::Phase::PostCall,
            GuardrailPhase::LoggingOnly => wit::Phase::LoggingOnly,
        },
        model_group: call.model_group.to_string(),
        guardrail_name: guardrail_name.to_string(),
        key_alias: ctx.key_alias.clone(),
        team_id: ctx.team_id.clone(),
        user_id: ctx.user_id.clone(),
        end_user: ctx.end_user.clone(),
        metadata: Value::Object(ctx.metadata.clone()).to_string(),
    }
}

fn parts_of(content: &Option<Content>) -> Vec<wit::ContentPart> {
    match content {
        None => Vec::new(),
        Some(Content::Text(t)) => vec![wit::ContentPart::Text(t.clone())],
        Some(Content::Parts(parts)) => parts.iter().filter_map(part_of).collect(),
    }
}

fn part_of(p: &CorePart) -> Option<wit::ContentPart> {
    if let Some(t) = &p.text
        && p.kind == "text"
    {
        return Some(wit::ContentPart::Text(t.clone()));
    }
    p.image_url.as_ref().map(|i| wit::ContentPart::Image(wit::ImageUrl { url: i.url.clone(), detail: i.detail.clone() }))
}

/// One message in WIT form.
pub fn message(m: &Message) -> wit::Message {
    wit::Message {
        role: m.role.clone(),
        content: parts_of(&m.content),
        name: m.name.clone(),
        tool_calls: m
            .tool_calls
            .iter()
            .flatten()
            .map(|c| wit::ToolCall {
                id: c.id.clone().unwrap_or_default(),
                name: c.function.name.clone().unwrap_or_default(),
                arguments: c.function.arguments.clone(),
            })
            .collect(),
        tool_call_id: m.tool_call_id.clone(),
    }
}

/// A request in WIT form; `body` is the whole JSON when `full_body`, else `{}`.
pub fn request(req: &ChatRequest, full_body: bool) -> wit::ChatRequest {
    wit::ChatRequest {
        model: req.model.clone(),
        messages: req.messages.iter().map(message).collect(),
        tools: req
            .tools
            .iter()
            .flatten()
            .map(|t| wit::Tool {
                kind: t.kind.clone(),
                name: t.function.as_ref().map(|f| f.name.clone()).unwrap_or_default(),
                description: t.function.as_ref().and_then(|f| f.description.clone()),
                parameters: t.function.as_ref().and_then(|f| f.parameters.as_ref()).map(|p| p.to_string()),
            })
            .collect(),
        body: if full_body { serde_json::to_string(req).unwrap_or_default() } else { "{}".into() },
    }
}

/// A response in WIT form; `body` as for [`request`].
pub fn response(resp: &ChatResponse, full_body: bool) -> wit::ChatResponse {
    wit::ChatResponse {
        model: resp.model.clone(),
        choices: resp
            .choices
            .iter()
            .map(|c| wit::Choice { index: c.index, message: message(&c.message), finish_reason: c.finish_reason.clone() })
            .collect(),
        body: if full_body { serde_json::to_string(resp).unwrap_or_default() } else { "{}".into() },
    }
}

fn core_part(p: wit::ContentPart) -> CorePart {
    match p {
        wit::ContentPart::Text(t) => CorePart { kind: "text".into(), text: Some(t), ..Default::default() },
        wit::ContentPart::Image(i) => {
            CorePart { kind: "image_url".into(), image_url: Some(CoreImage { url: i.url, detail: i.detail }), ..Default::default() }
        }
    }
}

/// Applies a plugin's version of a message onto the original.
fn apply_message(orig: &mut Message, new: wit::Message) {
    orig.role = new.role;
    orig.name = new.name;
    orig.tool_call_id = new.tool_call_id;
    match &mut orig.content {
        Some(Content::Text(t)) if new.content.len() == 1 => {
            if let Some(wit::ContentPart::Text(nt)) = new.content.first() {
                *t = nt.clone();
            } else {
                orig.content = Some(Content::Parts(new.content.into_iter().map(core_part).collect()));
            }
        }
        Some(Content::Parts(parts)) => {
            let exposed: Vec<usize> = parts.iter().enumerate().filter(|(_, p)| part_of(p).is_some()).map(|(i, _)| i).collect();
            if exposed.len() == new.content.len() {
                for (i, np) in exposed.into_iter().zip(new.content) {
                    let extra = std::mem::take(&mut parts[i].extra);
                    parts[i] = core_part(np);
                    parts[i].extra = extra;
                }
            } else {
                let kept: Vec<CorePart> = parts.iter().filter(|p| part_of(p).is_none()).cloned().collect();
                *parts = new.content.into_iter().map(core_part).chain(kept).collect();
            }
        }
        _ if new.content.is_empty() => orig.content = None,
        _ => {
            orig.content = Some(match <[_; 1]>::try_from(new.content) {
                Ok([wit::ContentPart::Text(t)]) => Content::Text(t),
                Ok([other]) => Content::Parts(vec![core_part(other)]),
                Err(parts) => Content::Parts(parts.into_iter().map(core_part).collect()),
            })
        }
    }
    let calls = orig.tool_calls.get_or_insert_with(Vec::new);
    if calls.len() == new.tool_calls.len() {
        for (c, n) in calls.iter_mut().zip(new.tool_calls) {
            c.id = Some(n.id);
            c.function.name = Some(n.name);
            c.function.arguments = n.arguments;
        }
    } else {
        // Calls removed (or added): keep the originals the plugin kept, by id.
        let mut old: Vec<ToolCall> = std::mem::take(calls);
        *calls = new
            .tool_calls
            .into_iter()
            .map(|n| match old.iter().position(|c| c.id.as_deref() == Some(n.id.as_str())) {
                Some(pos) => {
                    let mut c = old.swap_remove(pos);
                    c.function.arguments = n.arguments;
                    c
                }
                None => ToolCall {
                    id: Some(n.id),
                    kind: Some("function".into()),
                    function: FunctionCall { name: Some(n.name), arguments: n.arguments },
                    index: None,
                },
            })
            .collect();
    }
    if calls.is_empty() {
        orig.tool_calls = None;
    }
}

fn new_message(m: wit::Message) -> Message {
    let mut out = Message { role: String::new(), ..Default::default() };
    apply_message(&mut out, m);
    out
}

/// The original request with a plugin's modifications (messages and tools) applied.
pub fn apply_request(orig: &ChatRequest, new: wit::ChatRequest) -> ChatRequest {
    let mut out = orig.clone();
    if out.messages.len() == new.messages.len() {
        for (m, n) in out.messages.iter_mut().zip(new.messages) {
            apply_message(m, n);
        }
    } else {
        out.messages = new.messages.into_iter().map(new_message).collect();
    }
    if let Some(tools) = &mut out.tools {
        let names: Vec<&str> = new.tools.iter().map(|t| t.name.as_str()).collect();
        tools.retain(|t| names.contains(&t.function.as_ref().map(|f| f.name.as_str()).unwrap_or("")));
    }
    out
}

/// The original response with a plugin's modified choices applied.
pub fn apply_response(orig: &ChatResponse, new: wit::ChatResponse) -> ChatResponse {
    let mut out = orig.clone();
    let mut choices = Vec::with_capacity(new.choices.len());
    for n in new.choices {
        let mut c = match orig.choices.iter().find(|c| c.index == n.index) {
            Some(c) => c.clone(),
            None => tianji_core::types::Choice { index: n.index, ..Default::default() },
        };
        apply_message(&mut c.message, n.message);
        c.finish_reason = n.finish_reason;
        choices.push(c);
    }
    out.choices = choices;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(v: Value) -> ChatRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn redaction_keeps_what_the_wit_model_does_not_carry() {
        let orig = req(json!({
            "model": "m",
            "messages": [
                {"role": "system", "content": "be nice", "cache_control": {"type": "ephemeral"}},
                {"role": "user", "content": [
                    {"type": "text", "text": "my email is a@b.c", "cache_control": {"type": "ephemeral"}},
                    {"type": "input_audio", "input_audio": {"data": "..."}},
                    {"type": "image_url", "image_url": {"url": "https://x/y.png"}}
                ]}
            ],
            "tools": [{"type": "function", "function": {"name": "a"}}, {"type": "function", "function": {"name": "b"}}],
            "temperature": 0.2
        }));
        let mut w = request(&orig, true);
        assert_eq!(w.messages[1].content.len(), 2, "audio is not exposed");
        w.messages[1].content[0] = wit::ContentPart::Text("my email is [EMAIL]".into());
        w.tools.retain(|t| t.name == "b");
        let out = apply_request(&orig, w);
        let v = serde_json::to_value(&out).unwrap();
        assert_eq!(v["messages"][1]["content"][0]["text"], "my email is [EMAIL]");
        assert_eq!(v["messages"][1]["content"][0]["cache_control"]["type"], "ephemeral");
        assert_eq!(v["messages"][1]["content"][1]["type"], "input_audio");
        assert_eq!(v["messages"][0]["cache_control"]["type"], "ephemeral");
        assert_eq!(v["tools"].as_array().unwrap().len(), 1);
        assert_eq!(v["tools"][0]["function"]["name"], "b");
        assert_eq!(v["temperature"], 0.2);
    }

    #[test]
    fn response_choices_and_tool_calls() {
        let orig: ChatResponse = serde_json::from_value(json!({
            "id": "x", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": null,
                "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "rm", "arguments": "{}"}},
                               {"id": "c2", "type": "function", "function": {"name": "ls", "arguments": "{}"}}]}}]
        }))
        .unwrap();
        let mut w = response(&orig, false);
        w.choices[0].message.tool_calls.retain(|c| c.name == "ls");
        let out = apply_response(&orig, w);
        let calls = out.choices[0].message.tool_calls.as_ref().unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].id.as_deref(), Some("c2"));
        assert_eq!(calls[0].kind.as_deref(), Some("function"));
    }
}
