//! `cohere/` and `cohere_chat/`: Cohere's v2 Chat API
//! (`POST {base}/v2/chat`, <https://docs.cohere.com/reference/chat>) and v2
//! Embed (`POST {base}/v2/embed`).
//!
//! Cohere v2 messages are close to OpenAI's (roles, `tool_calls`,
//! `tool_call_id`), so the request mostly renames sampling parameters
//! (`top_p` → `p`, `stop` → `stop_sequences`, `top_k` → `k`); answers carry
//! content blocks, a `finish_reason` in capitals and billed usage; streams
//! are typed events from `message-start` to `message-end`.

use std::collections::VecDeque;
use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use http::{HeaderMap, HeaderValue};
use serde_json::{Map, Value, json};
use tianji_core::GatewayError;
use tianji_core::traits::{CallOptions, ChunkStream, Provider};
use tianji_core::types::{
    ChatChunk, ChatRequest, ChatResponse, Choice, Content, Delta, EmbeddingRequest, EmbeddingResponse, FunctionCall, Message, Reply,
    ToolCall, Usage, unix_now,
};

use crate::http::{HttpClient, StreamTranslator, UpstreamCall, decode_json, json_body, malformed, parse_uri, sse_events, translate_stream};
use crate::registry::{DeploymentSpec, ProviderFactory};
use crate::translate::StreamHead;

/// Default base URL.
pub const DEFAULT_BASE: &str = "https://api.cohere.com";

const PROVIDER: &str = "cohere";

/// OpenAI parameters this adapter translates.
pub const SUPPORTED_PARAMS: &[&str] = &[
    "temperature",
    "top_p",
    "top_k",
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "tools",
    "tool_choice",
    "response_format",
    "stream_options",
    "user",
];

/// One Cohere deployment.
pub struct Cohere {
    client: HttpClient,
    api_base: String,
    model: String,
    chat_url: http::Uri,
    embed_url: http::Uri,
    headers: HeaderMap,
    default_params: Map<String, Value>,
}

/// The Cohere v2 chat body.
pub fn to_cohere(req: ChatRequest, model: &str) -> Result<Value, GatewayError> {
    let mut body = Map::new();
    body.insert("model".to_owned(), json!(model));
    let mut messages = Vec::with_capacity(req.messages.len());
    for (i, m) in req.messages.into_iter().enumerate() {
        let role = match m.role.as_str() {
            "developer" => "system",
            r @ ("system" | "user" | "assistant" | "tool") => r,
            other => {
                return Err(GatewayError::bad_request(
                    format!("cohere does not support role '{other}'"),
                    Some(&format!("messages[{i}].role")),
                ));
            }
        };
        let mut out = json!({"role": role});
        match m.content {
            Some(Content::Text(t)) => out["content"] = json!(t),
            Some(Content::Parts(parts)) => {
                let mut blocks = Vec::with_capacity(parts.len());
                for (j, p) in parts.into_iter().enumerate() {
                    match p.kind.as_str() {
                        "text" => blocks.push(json!({"type": "text", "text": p.text.unwrap_or_default()})),
                        "image_url" => {
                            blocks.push(json!({"type": "image_url", "image_url": {"url": p.image_url.map(|u| u.url).unwrap_or_default()}}))
                        }
                        other => {
                            return Err(GatewayError::bad_request(
                                format!("cohere does not support content parts of type '{other}'"),
                                Some(&format!("messages[{i}].content[{j}].type")),
                            ));
                        }
                    }
                }
                out["content"] = Value::Array(blocks);
            }
            None => {}
        }
        if let Some(calls) = m.tool_calls {
            out["tool_calls"] = serde_json::to_value(calls).unwrap_or(Value::Null);
        }
        if let Some(id) = m.tool_call_id {
            out["tool_call_id"] = json!(id);
        }
        messages.push(out);
    }
    body.insert("messages".to_owned(), Value::Array(messages));
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            body.insert(k.to_owned(), v);
        }
    };
    put("stream", req.stream.then_some(Value::Bool(true)));
    put("temperature", req.temperature.map(Value::from));
    put("p", req.top_p.map(Value::from));
    put("max_tokens", req.max_completion_tokens.or(req.max_tokens).map(Value::from));
    put("stop_sequences", crate::translate::stop_list(req.stop)?.map(Value::Array));
    put("tools", req.tools.map(|t| serde_json::to_value(t).unwrap_or(Value::Null)));
    put(
        "tool_choice",
        match req.tool_choice.as_ref().and_then(Value::as_str) {
            Some("required") => Some(json!("REQUIRED")),
            Some("none") => Some(json!("NONE")),
            _ => None,
        },
    );
    let mut extra = req.extra;
    for (from, to) in
        [("top_k", "k"), ("seed", "seed"), ("frequency_penalty", "frequency_penalty"), ("presence_penalty", "presence_penalty")]
    {
        put(to, extra.remove(from));
    }
    if let Some(format) = extra.remove("response_format") {
        match format.get("type").and_then(Value::as_str) {
            Some("json_object") => put("response_format", Some(json!({"type": "json_object"}))),
            Some("json_schema") => {
                put("response_format", Some(json!({"type": "json_object", "json_schema": format.pointer("/json_schema/schema")})))
            }
            _ => {}
        }
    }
    Ok(Value::Object(body))
}

fn finish_reason(reason: &str) -> &'static str {
    match reason {
        "MAX_TOKENS" => "length",
        "TOOL_CALL" => "tool_calls",
        "ERROR" | "ERROR_TOXIC" => "content_filter",
        _ => "stop",
    }
}

fn usage(u: &Value) -> Usage {
    let t = u.get("tokens").or_else(|| u.get("billed_units")).unwrap_or(u);
    let n = |k: &str| t.get(k).and_then(Value::as_f64).unwrap_or(0.0) as u64;
    Usage::new(n("input_tokens"), n("output_tokens"))
}

fn text_of(content: Option<&Value>) -> String {
    match content {
        Some(Value::Array(blocks)) => blocks.iter().filter_map(|b| b.get("text").and_then(Value::as_str)).collect(),
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    }
}

/// The chat completion for a Cohere answer.
pub fn from_cohere(resp: &Value, model: &str) -> Result<ChatResponse, GatewayError> {
    let message = resp.get("message").ok_or_else(|| malformed(PROVIDER, "the answer has no message"))?;
    let calls: Option<Vec<ToolCall>> = message
        .get("tool_calls")
        .filter(|c| !c.is_null())
        .map(|c| serde_json::from_value(c.clone()))
        .transpose()
        .map_err(|e| malformed(PROVIDER, e))?;
    let text = text_of(message.get("content"));
    let mut extra = Map::new();
    if let Some(plan) = message.get("tool_plan").and_then(Value::as_str) {
        extra.insert("reasoning_content".to_owned(), json!(plan));
    }
    let has_calls = calls.as_ref().is_some_and(|c| !c.is_empty());
    let msg = Message {
        role: "assistant".to_owned(),
        content: (!text.is_empty() || !has_calls).then_some(Content::Text(text)),
        tool_calls: calls.filter(|c| !c.is_empty()),
        extra,
        ..Default::default()
    };
    Ok(ChatResponse {
        id: resp.get("id").and_then(Value::as_str).unwrap_or("cohere").to_owned(),
        object: "chat.completion".to_owned(),
        created: unix_now(),
        model: model.to_owned(),
        choices: vec![Choice {
            index: 0,
            message: msg,
            finish_reason: Some(finish_reason(resp.get("finish_reason").and_then(Value::as_str).unwrap_or("COMPLETE")).to_owned()),
            extra: Map::new(),
        }],
        usage: resp.get("usage").map(usage),
        extra: Map::new(),
    })
}

/// Cohere stream events → chat chunks.
pub struct CohereStream {
    include_usage: bool,
    head: StreamHead,
}

impl CohereStream {
    fn chunk(&self, delta: Delta, finish: Option<&str>) -> Reply<ChatChunk> {
        self.head.delta(delta, finish)
    }
}

impl StreamTranslator<eventsource_stream::Event> for CohereStream {
    type Item = Reply<ChatChunk>;

    fn frame(&mut self, ev: eventsource_stream::Event, out: &mut VecDeque<Self::Item>) -> Result<bool, GatewayError> {
        if ev.data.trim().is_empty() {
            return Ok(false);
        }
        let v: Value = serde_json::from_str(&ev.data).map_err(|e| malformed(PROVIDER, format!("stream event: {e}")))?;
        let index = v.get("index").and_then(Value::as_u64).unwrap_or(0) as u32;
        let d = v.pointer("/delta/message");
        match v.get("type").and_then(Value::as_str).unwrap_or("") {
            "message-start" => {
                if let Some(id) = v.get("id").and_then(Value::as_str) {
                    self.head.id = id.to_owned();
                }
                out.push_back(self.head.role());
            }
            "content-delta" => {
                let text = d.and_then(|m| m.pointer("/content/text")).and_then(Value::as_str).unwrap_or("").to_owned();
                out.push_back(self.chunk(Delta { content: Some(text), ..Default::default() }, None));
            }
            "tool-plan-delta" => {
                let mut delta = Delta::default();
                delta.extra.insert("reasoning_content".to_owned(), d.and_then(|m| m.get("tool_plan")).cloned().unwrap_or(json!("")));
                out.push_back(self.chunk(delta, None));
            }
            "tool-call-start" | "tool-call-delta" => {
                let tc = d.and_then(|m| m.get("tool_calls")).ok_or_else(|| malformed(PROVIDER, "tool-call event without tool_calls"))?;
                let call = ToolCall {
                    id: tc.get("id").and_then(Value::as_str).map(str::to_owned),
                    kind: tc.get("type").and_then(Value::as_str).map(str::to_owned),
                    function: FunctionCall {
                        name: tc.pointer("/function/name").and_then(Value::as_str).map(str::to_owned),
                        arguments: tc.pointer("/function/arguments").and_then(Value::as_str).unwrap_or("").to_owned(),
                    },
                    index: Some(index),
                };
                out.push_back(self.chunk(Delta { tool_calls: Some(vec![call]), ..Default::default() }, None));
            }
            "content-start" | "content-end" | "tool-call-end" | "citation-start" | "citation-end" | "debug" => {}
            "message-end" => {
                let reason = v.pointer("/delta/finish_reason").and_then(Value::as_str).unwrap_or("COMPLETE");
                out.push_back(self.chunk(Delta::default(), Some(finish_reason(reason))));
                if self.include_usage
                    && let Some(u) = v.pointer("/delta/usage")
                {
                    out.push_back(self.head.usage(usage(u)));
                }
                return Ok(true);
            }
            other => return Err(malformed(PROVIDER, format!("unknown event type '{other}'"))),
        }
        Ok(false)
    }

    fn closed(&mut self, _out: &mut VecDeque<Self::Item>) -> Result<(), GatewayError> {
        Err(malformed(PROVIDER, "the stream ended before message-end"))
    }
}

impl Cohere {
    fn call<'a>(&'a self, uri: &'a http::Uri, opts: &CallOptions) -> UpstreamCall<'a> {
        UpstreamCall { client: &self.client, provider: PROVIDER, uri, headers: &self.headers, timeout: opts.timeout }
    }
}

#[async_trait]
impl Provider for Cohere {
    fn provider_name(&self) -> &str {
        PROVIDER
    }

    fn api_base(&self) -> Option<&str> {
        Some(&self.api_base)
    }

    fn supported_params(&self) -> Option<&'static [&'static str]> {
        Some(SUPPORTED_PARAMS)
    }

    async fn chat(&self, mut req: ChatRequest, opts: &CallOptions) -> Result<Reply<ChatResponse>, GatewayError> {
        crate::defaults::apply(&self.default_params, &mut req);
        req.stream = false;
        let body = json_body(&to_cohere(req, &self.model)?)?;
        let answer: Value = decode_json(PROVIDER, &self.call(&self.chat_url, opts).bytes(body).await?)?;
        Ok(Reply::Parsed(from_cohere(&answer, &self.model)?))
    }

    async fn chat_stream(&self, mut req: ChatRequest, opts: &CallOptions) -> Result<ChunkStream, GatewayError> {
        crate::defaults::apply(&self.default_params, &mut req);
        req.stream = true;
        let include_usage = req.stream_options.as_ref().is_some_and(|o| o.include_usage);
        let body = json_body(&to_cohere(req, &self.model)?)?;
        let resp = self.call(&self.chat_url, opts).stream(body).await?;
        let translator = CohereStream { include_usage, head: StreamHead::new(String::new(), &self.model) };
        Ok(translate_stream(PROVIDER, sse_events(resp), opts.timeout, translator).boxed())
    }

    async fn embedding(&self, req: EmbeddingRequest, opts: &CallOptions) -> Result<Reply<EmbeddingResponse>, GatewayError> {
        let texts = match &req.input {
            Value::String(s) => json!([s]),
            Value::Array(a) if a.iter().all(Value::is_string) => Value::Array(a.clone()),
            _ => return Err(GatewayError::bad_request("cohere embeddings take a string or a list of strings", Some("input"))),
        };
        let input_type = req.extra.get("input_type").cloned().unwrap_or_else(|| json!("search_document"));
        let body = json!({"model": self.model, "texts": texts, "input_type": input_type, "embedding_types": ["float"]});
        let answer: Value = decode_json(PROVIDER, &self.call(&self.embed_url, opts).bytes(json_body(&body)?).await?)?;
        let vectors = answer
            .pointer("/embeddings/float")
            .and_then(Value::as_array)
            .ok_or_else(|| malformed(PROVIDER, "the answer has no embeddings.float"))?;
        let prompt = answer.pointer("/meta/billed_units/input_tokens").and_then(Value::as_f64).unwrap_or(0.0) as u64;
        Ok(Reply::Parsed(crate::translate::embedding_response(vectors, &self.model, prompt)))
    }
}

/// Builds `cohere/` and `cohere_chat/` deployments.
pub struct CohereFactory;

impl ProviderFactory for CohereFactory {
    fn names(&self) -> Vec<&'static str> {
        vec!["cohere", "cohere_chat"]
    }

    fn build(&self, spec: &DeploymentSpec<'_>, client: &HttpClient) -> Result<Arc<dyn Provider>, String> {
        let base =
            spec.params.api_base.clone().or_else(|| spec.env.first_of(&["COHERE_API_BASE"])).unwrap_or_else(|| DEFAULT_BASE.to_owned());
        let base = base.trim_end_matches('/').trim_end_matches("/v2/chat").trim_end_matches("/v2").to_owned();
        let mut headers = HeaderMap::new();
        match spec.params.api_key.clone().or_else(|| spec.env.first_of(&["COHERE_API_KEY", "CO_API_KEY"])) {
            Some(k) => {
                let v = HeaderValue::from_str(&format!("Bearer {k}")).map_err(|_| "api_key is not a valid header value".to_owned())?;
                headers.insert(http::header::AUTHORIZATION, v);
            }
            None => {
                tracing::warn!(provider = PROVIDER, "no API key for {}: set litellm_params.api_key or COHERE_API_KEY", spec.upstream_model)
            }
        }
        crate::http::add_extra_headers(&mut headers, &spec.params.extra_headers)?;
        Ok(Arc::new(Cohere {
            client: client.clone(),
            chat_url: parse_uri(&format!("{base}/v2/chat"))?,
            embed_url: parse_uri(&format!("{base}/v2/embed"))?,
            api_base: base,
            model: spec.upstream_model.to_owned(),
            headers,
            default_params: spec.params.default_params.clone(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_answer_in_the_documented_shapes() {
        let req: ChatRequest =
            serde_json::from_value(json!({"model": "m", "top_p": 0.5, "top_k": 3, "stop": "END", "tool_choice": "required",
            "messages": [{"role": "developer", "content": "sys"}, {"role": "user", "content": "hi"}],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]}))
            .expect("req");
        let out = to_cohere(req, "command-r").expect("ok");
        assert_eq!(out["messages"][0], json!({"role": "system", "content": "sys"}));
        assert_eq!((out["p"].clone(), out["k"].clone(), out["stop_sequences"].clone()), (json!(0.5), json!(3), json!(["END"])));
        assert_eq!(out["tool_choice"], "REQUIRED");
        let answer = json!({"id": "x", "finish_reason": "TOOL_CALL", "message": {"role": "assistant", "tool_plan": "call f",
            "tool_calls": [{"id": "f_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            "usage": {"billed_units": {"input_tokens": 5, "output_tokens": 2}, "tokens": {"input_tokens": 50, "output_tokens": 2}}});
        let chat = from_cohere(&answer, "command-r").expect("chat");
        assert_eq!(chat.choices[0].finish_reason.as_deref(), Some("tool_calls"));
        assert_eq!(chat.usage.map(|u| u.prompt_tokens), Some(50));
        assert!(from_cohere(&json!({"id": "x"}), "m").is_err());
    }
}
