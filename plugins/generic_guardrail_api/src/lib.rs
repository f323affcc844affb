//! `generic_guardrail_api`: LiteLLM's generic guardrail API as a WASM plugin.
//!
//! ```yaml
//! guardrails:
//!   - guardrail_name: my-guard
//!     litellm_params:
//!       guardrail: generic_guardrail_api
//!       mode: [pre_call, post_call]
//!       api_base: https://guard.example.com      # the plugin may call this host
//!       api_key: os.environ/GUARD_API_KEY        # sent as x-api-key
//!       headers: {x-tenant: acme}                # extra headers
//!       additional_provider_specific_params: {policy: strict}
//! ```
//!
//! For each check it POSTs `{api_base}/beta/litellm_basic_guardrail_api`
//! with `texts` (every text of the request's messages, or of the response's
//! choices, in order), `images`, `tools`, `tool_calls`, `structured_messages`,
//! `request_data` (key alias, team, user, end user), `input_type`
//! (`request` | `response`), `litellm_call_id`, `model` and
//! `additional_provider_specific_params`. The answer's `action` decides:
//! `BLOCKED` refuses with `blocked_reason`; `NONE` and `GUARDRAIL_INTERVENED`
//! let the call through, with `texts` (if returned) replacing the texts in
//! order. Outbound HTTP goes only to `api_base`'s host.

use serde::Deserialize;
use serde_json::{Map, Value, json};
use tianji_plugin_sdk::guardrail::{Guardrail, RequestVerdict, ResponseVerdict};
use tianji_plugin_sdk::{CallContext, ChatRequest, ChatResponse, Config, ContentPart, Message};

/// The endpoint path LiteLLM's generic guardrail API defines.
pub const PATH: &str = "/beta/litellm_basic_guardrail_api";

#[derive(Deserialize)]
struct Settings {
    api_base: Option<String>,
    api_key: Option<String>,
    #[serde(default)]
    headers: Map<String, Value>,
    #[serde(default)]
    additional_provider_specific_params: Map<String, Value>,
}

/// The configured client.
pub struct GenericGuardrailApi {
    url: String,
    headers: Vec<(String, String)>,
    extra: Map<String, Value>,
}

#[derive(Deserialize)]
struct Answer {
    action: Option<String>,
    blocked_reason: Option<String>,
    texts: Option<Vec<String>>,
}

/// Every text part of the messages, in order.
pub fn texts(messages: &[Message]) -> Vec<String> {
    messages
        .iter()
        .flat_map(|m| m.content.iter())
        .filter_map(|p| if let ContentPart::Text(t) = p { Some(t.clone()) } else { None })
        .collect()
}

fn images(messages: &[Message]) -> Vec<String> {
    messages
        .iter()
        .flat_map(|m| m.content.iter())
        .filter_map(|p| if let ContentPart::Image(i) = p { Some(i.url.clone()) } else { None })
        .collect()
}

/// Writes replacement texts back in order; extra or missing entries are ignored.
pub fn replace_texts(messages: &mut [Message], new: &[String]) -> bool {
    let mut it = new.iter();
    let mut changed = false;
    for part in messages.iter_mut().flat_map(|m| m.content.iter_mut()) {
        if let ContentPart::Text(t) = part {
            match it.next() {
                Some(n) if n != t => {
                    *t = n.clone();
                    changed = true;
                }
                Some(_) => {}
                None => return changed,
            }
        }
    }
    changed
}

fn structured(messages: &[Message]) -> Vec<Value> {
    messages
        .iter()
        .map(|m| {
            let mut v = json!({"role": m.role, "content": m.text()});
            if !m.tool_calls.is_empty() {
                v["tool_calls"] = m
                    .tool_calls
                    .iter()
                    .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
                    .collect();
            }
            if let Some(id) = &m.tool_call_id {
                v["tool_call_id"] = json!(id);
            }
            v
        })
        .collect()
}

impl GenericGuardrailApi {
    fn call(&self, ctx: &CallContext, input_type: &str, model: &str, messages: &[Message], tools: Vec<Value>) -> Result<Answer, String> {
        let tool_calls: Vec<Value> = messages
            .iter()
            .flat_map(|m| m.tool_calls.iter())
            .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
            .collect();
        let body = json!({
            "texts": texts(messages),
            "images": images(messages),
            "tools": tools,
            "tool_calls": tool_calls,
            "structured_messages": structured(messages),
            "request_data": {
                "user_api_key_alias": ctx.key_alias,
                "user_api_key_team_id": ctx.team_id,
                "user_api_key_user_id": ctx.user_id,
                "user_api_key_end_user_id": ctx.end_user,
            },
            "input_type": input_type,
            "litellm_call_id": ctx.request_id,
            "model": model,
            "additional_provider_specific_params": self.extra,
        });
        let headers: Vec<(&str, &str)> = self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let resp = tianji_plugin_sdk::http::post_json(&self.url, &headers, &body)?;
        if !(200..300).contains(&resp.status) {
            return Err(format!(
                "Generic Guardrail API failed: HTTP {} {}",
                resp.status,
                resp.text().chars().take(200).collect::<String>()
            ));
        }
        resp.json::<Answer>().map_err(String::from)
    }
}

fn action(a: &Answer) -> &str {
    a.action.as_deref().unwrap_or("NONE")
}

impl Guardrail for GenericGuardrailApi {
    fn new(config: &Config) -> Result<Self, String> {
        let s: Settings = config.parse()?;
        let base = s.api_base.ok_or("api_base is required (the guardrail service's URL)")?;
        let base = base.trim_end_matches('/');
        let url = if base.ends_with(PATH) { base.to_string() } else { format!("{base}{PATH}") };
        let mut headers: Vec<(String, String)> = Vec::new();
        if let Some(k) = s.api_key {
            headers.push(("x-api-key".into(), k));
        }
        for (k, v) in s.headers {
            headers.push((k, v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())));
        }
        Ok(Self { url, headers, extra: s.additional_provider_specific_params })
    }

    fn check_request(&self, ctx: &CallContext, request: &ChatRequest) -> Result<RequestVerdict, String> {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|t| {
                let params: Value = t.parameters.as_deref().and_then(|p| serde_json::from_str(p).ok()).unwrap_or(Value::Null);
                json!({"type": t.kind, "function": {"name": t.name, "description": t.description, "parameters": params}})
            })
            .collect();
        let answer = self.call(ctx, "request", &request.model, &request.messages, tools)?;
        if action(&answer) == "BLOCKED" {
            let reason = answer.blocked_reason.unwrap_or_else(|| "Content violates policy".into());
            return Ok(RequestVerdict::block(reason.clone(), json!({"action": "BLOCKED", "blocked_reason": reason})));
        }
        if let Some(new) = &answer.texts {
            let mut r = request.clone();
            if replace_texts(&mut r.messages, new) {
                return Ok(RequestVerdict::Modify(r));
            }
        }
        Ok(RequestVerdict::Allow)
    }

    fn check_response(&self, ctx: &CallContext, request: &ChatRequest, response: &ChatResponse) -> Result<ResponseVerdict, String> {
        let messages: Vec<Message> = response.choices.iter().map(|c| c.message.clone()).collect();
        let answer = self.call(ctx, "response", &request.model, &messages, Vec::new())?;
        if action(&answer) == "BLOCKED" {
            let reason = answer.blocked_reason.unwrap_or_else(|| "Content violates policy".into());
            return Ok(ResponseVerdict::block(reason.clone(), json!({"action": "BLOCKED", "blocked_reason": reason})));
        }
        if let Some(new) = &answer.texts {
            let mut msgs = messages;
            if replace_texts(&mut msgs, new) {
                let mut r = response.clone();
                for (c, m) in r.choices.iter_mut().zip(msgs) {
                    c.message = m;
                }
                return Ok(ResponseVerdict::Modify(r));
            }
        }
        Ok(ResponseVerdict::Allow)
    }
}

#[cfg(target_arch = "wasm32")]
tianji_plugin_sdk::export_guardrail!(GenericGuardrailApi);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_round_trip_in_order() {
        let mut msgs = vec![Message::new("system", "be nice"), Message::new("user", "my email is a@b.c")];
        assert_eq!(texts(&msgs), vec!["be nice", "my email is a@b.c"]);
        assert!(replace_texts(&mut msgs, &["be nice".into(), "my email is [EMAIL]".into()]));
        assert_eq!(msgs[1].text(), "my email is [EMAIL]");
        assert!(!replace_texts(&mut msgs, &["be nice".into()]), "a shorter list changes nothing it does not name");
    }
}
