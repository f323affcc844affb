//! `sagemaker/` and `sagemaker_chat/`: Amazon SageMaker endpoints through
//! `InvokeEndpoint` and `InvokeEndpointWithResponseStream`
//! (`{runtime}/endpoints/{name}/invocations[-response-stream]`, SigV4 for
//! the `sagemaker` service).
//!
//! `sagemaker/<endpoint>` speaks the Hugging Face TGI / JumpStart text
//! generation shape (`{"inputs", "parameters"}` → `[{"generated_text"}]`,
//! streams of `data:{"token": ...}` lines); the conversation is rendered as
//! one prompt (`System:` / `User:` / `Assistant:` turns ending with
//! `Assistant:`). Endpoints with a chat template of their own are better
//! served by `sagemaker_chat/<endpoint>`, which sends OpenAI's chat format
//! to containers that serve it (vLLM, TGI's Messages API, LMI) and relays
//! their answer. Streamed payload parts are reassembled into lines, so an
//! event may split anywhere.

use std::collections::VecDeque;
use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use http::{HeaderMap, HeaderValue};
use serde_json::{Map, Value, json};
use tianji_core::GatewayError;
use tianji_core::traits::{CallOptions, ChunkStream, Provider};
use tianji_core::types::{ChatChunk, ChatRequest, ChatResponse, Choice, Delta, Message, Reply, Usage, estimate_tokens, unix_now};

use crate::aws::{AWS_PARAMS, AwsSigner, EventMessage, encode_path_segment, event_stream_messages};
use crate::http::{HttpClient, StreamTranslator, UpstreamCall, json_body, malformed, parse_uri, translate_stream, upstream_error};
use crate::registry::{DeploymentSpec, ProviderFactory};
use crate::translate::StreamHead;

/// Which body shape the endpoint takes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Shape {
    /// TGI / JumpStart text generation.
    TextGeneration,
    /// OpenAI chat completions.
    Chat,
}

/// One SageMaker endpoint.
pub struct SageMaker {
    provider: &'static str,
    shape: Shape,
    client: HttpClient,
    endpoint_name: String,
    runtime: String,
    invoke: http::Uri,
    invoke_stream: http::Uri,
    headers: HeaderMap,
    signer: AwsSigner,
    default_params: Map<String, Value>,
}

/// OpenAI parameters the text-generation shape takes.
const TEXT_PARAMS: &[&str] =
    &["temperature", "top_p", "top_k", "max_tokens", "max_completion_tokens", "stop", "seed", "stream_options", "user"];

/// The conversation as one prompt for a text-generation endpoint.
fn prompt_of(messages: &[Message]) -> String {
    let mut prompt = String::new();
    for m in messages {
        let who = match m.role.as_str() {
            "system" | "developer" => "System",
            "assistant" => "Assistant",
            "tool" => "Tool",
            _ => "User",
        };
        prompt.push_str(&format!("{who}: {}\n", m.text_content()));
    }
    prompt.push_str("Assistant:");
    prompt
}

/// The TGI body: `{"inputs", "parameters"}`.
fn text_generation_body(req: &ChatRequest) -> Value {
    let mut params = Map::new();
    if let Some(n) = req.max_completion_tokens.or(req.max_tokens) {
        params.insert("max_new_tokens".to_owned(), json!(n));
    }
    if let Some(t) = req.temperature {
        params.insert("temperature".to_owned(), json!(t));
        params.insert("do_sample".to_owned(), json!(t > 0.0));
    }
    if let Some(p) = req.top_p {
        params.insert("top_p".to_owned(), json!(p));
    }
    if let Ok(Some(stop)) = crate::translate::stop_list(req.stop.clone()) {
        params.insert("stop".to_owned(), Value::Array(stop));
    }
    for k in ["top_k", "seed"] {
        if let Some(v) = req.extra.get(k) {
            params.insert(k.to_owned(), v.clone());
        }
    }
    let mut body = json!({"inputs": prompt_of(&req.messages), "parameters": params});
    if req.stream {
        body["stream"] = json!(true);
    }
    body
}

/// `generated_text` of a TGI answer (`[{...}]` or `{...}`).
fn generated_text(v: &Value) -> Option<&str> {
    match v {
        Value::Array(a) => a.first().and_then(|o| o.get("generated_text")).and_then(Value::as_str),
        Value::Object(o) => o.get("generated_text").and_then(Value::as_str),
        _ => None,
    }
}

fn chat_of(text: String, prompt_tokens: u64, model: &str) -> ChatResponse {
    let completion = estimate_tokens(&text);
    ChatResponse {
        id: format!("chatcmpl-{:016x}", fastrand::u64(..)),
        object: "chat.completion".to_owned(),
        created: unix_now(),
        model: model.to_owned(),
        choices: vec![Choice {
            index: 0,
            message: Message::text("assistant", text),
            finish_reason: Some("stop".to_owned()),
            extra: Map::new(),
        }],
        usage: Some(Usage::new(prompt_tokens, completion)),
        extra: Map::new(),
    }
}

/// Reassembles streamed payload parts into lines and turns `data:` lines into chunks.
pub struct PayloadLines {
    provider: &'static str,
    shape: Shape,
    include_usage: bool,
    prompt_tokens: u64,
    buffer: String,
    head: StreamHead,
    started: bool,
    text: String,
}

impl PayloadLines {
    fn chunk(&self, delta: Delta, finish: Option<&str>) -> Reply<ChatChunk> {
        self.head.delta(delta, finish)
    }

    /// One `data:` line; `true` at the end of the answer.
    fn line(&mut self, data: &str, out: &mut VecDeque<Reply<ChatChunk>>) -> Result<bool, GatewayError> {
        if data == "[DONE]" {
            return Ok(true);
        }
        let v: Value = serde_json::from_str(data).map_err(|e| malformed(self.provider, format!("stream line {data:.200}: {e}")))?;
        if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
            let body = json!({"error": err}).to_string();
            return Err(upstream_error(self.provider, http::StatusCode::INTERNAL_SERVER_ERROR, &HeaderMap::new(), body.as_bytes()));
        }
        if self.shape == Shape::Chat {
            let chunk: ChatChunk = serde_json::from_value(v).map_err(|e| malformed(self.provider, e))?;
            out.push_back(Reply::Parsed(chunk));
            return Ok(false);
        }
        if !self.started {
            self.started = true;
            out.push_back(self.head.role());
        }
        if let Some(token) = v.get("token").filter(|t| t.get("special").and_then(Value::as_bool) != Some(true))
            && let Some(t) = token.get("text").and_then(Value::as_str)
        {
            self.text.push_str(t);
            out.push_back(self.chunk(Delta { content: Some(t.to_owned()), ..Default::default() }, None));
        }
        if v.get("generated_text").is_some_and(|g| !g.is_null()) {
            let finish = match v.pointer("/details/finish_reason").and_then(Value::as_str) {
                Some("length") => "length",
                _ => "stop",
            };
            out.push_back(self.chunk(Delta::default(), Some(finish)));
            if self.include_usage {
                let usage = Usage::new(self.prompt_tokens, estimate_tokens(&self.text));
                out.push_back(self.head.usage(usage));
            }
            return Ok(true);
        }
        Ok(false)
    }
}

impl StreamTranslator<EventMessage> for PayloadLines {
    type Item = Reply<ChatChunk>;

    fn frame(&mut self, msg: EventMessage, out: &mut VecDeque<Self::Item>) -> Result<bool, GatewayError> {
        if msg.message_type != "event" {
            let status = if msg.name.contains("ModelStreamError") || msg.name.contains("InternalStreamFailure") { 500 } else { 400 };
            let body = json!({"message": format!("{}: {}", msg.name, String::from_utf8_lossy(&msg.payload))}).to_string();
            return Err(upstream_error(
                self.provider,
                http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR),
                &HeaderMap::new(),
                body.as_bytes(),
            ));
        }
        if msg.name != "PayloadPart" {
            return Err(malformed(self.provider, format!("unknown event type '{}'", msg.name)));
        }
        self.buffer.push_str(&String::from_utf8_lossy(&msg.payload));
        while let Some(end) = self.buffer.find('\n') {
            let line: String = self.buffer.drain(..=end).collect();
            let line = line.trim();
            if let Some(data) = line.strip_prefix("data:")
                && self.line(data.trim(), out)?
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn closed(&mut self, out: &mut VecDeque<Self::Item>) -> Result<(), GatewayError> {
        // A last line without its newline.
        let rest = std::mem::take(&mut self.buffer);
        if let Some(data) = rest.trim().strip_prefix("data:")
            && self.line(data.trim(), out)?
        {
            return Ok(());
        }
        Err(malformed(self.provider, "the stream ended before the answer was complete"))
    }
}

impl SageMaker {
    async fn signed(&self, uri: &http::Uri, body: &[u8]) -> Result<HeaderMap, GatewayError> {
        let mut headers = self.headers.clone();
        self.signer.sign("POST", uri, &mut headers, body).await?;
        Ok(headers)
    }

    fn body(&self, mut req: ChatRequest, stream: bool) -> Result<(bytes::Bytes, bool, u64), GatewayError> {
        crate::defaults::apply(&self.default_params, &mut req);
        req.stream = stream;
        let include_usage = req.stream_options.as_ref().is_some_and(|o| o.include_usage);
        let prompt_tokens = req.messages.iter().map(|m| estimate_tokens(&m.text_content())).sum();
        let body = match self.shape {
            Shape::TextGeneration => json_body(&text_generation_body(&req))?,
            Shape::Chat => {
                let mut v = serde_json::to_value(&req).map_err(|e| GatewayError::internal(e.to_string()))?;
                if let Some(o) = v.as_object_mut() {
                    o.remove("model");
                }
                json_body(&v)?
            }
        };
        Ok((body, include_usage, prompt_tokens))
    }
}

#[async_trait]
impl Provider for SageMaker {
    fn provider_name(&self) -> &str {
        self.provider
    }

    fn api_base(&self) -> Option<&str> {
        Some(&self.runtime)
    }

    fn supported_params(&self) -> Option<&'static [&'static str]> {
        match self.shape {
            Shape::TextGeneration => Some(TEXT_PARAMS),
            Shape::Chat => None,
        }
    }

    async fn chat(&self, req: ChatRequest, opts: &CallOptions) -> Result<Reply<ChatResponse>, GatewayError> {
        let (body, _, prompt_tokens) = self.body(req, false)?;
        let headers = self.signed(&self.invoke, &body).await?;
        let call =
            UpstreamCall { client: &self.client, provider: self.provider, uri: &self.invoke, headers: &headers, timeout: opts.timeout };
        let bytes = call.bytes(body).await?;
        match self.shape {
            Shape::Chat => Reply::from_upstream(self.provider, bytes).map_err(|e| malformed(self.provider, e.message)),
            Shape::TextGeneration => {
                let v: Value = crate::http::decode_json(self.provider, &bytes)?;
                let text = generated_text(&v).ok_or_else(|| malformed(self.provider, "the answer has no generated_text"))?;
                Ok(Reply::Parsed(chat_of(text.to_owned(), prompt_tokens, &self.endpoint_name)))
            }
        }
    }

    async fn chat_stream(&self, req: ChatRequest, opts: &CallOptions) -> Result<ChunkStream, GatewayError> {
        let (body, include_usage, prompt_tokens) = self.body(req, true)?;
        let headers = self.signed(&self.invoke_stream, &body).await?;
        let call = UpstreamCall {
            client: &self.client,
            provider: self.provider,
            uri: &self.invoke_stream,
            headers: &headers,
            timeout: opts.timeout,
        };
        let resp = call.stream(body).await?;
        let lines = PayloadLines {
            provider: self.provider,
            shape: self.shape,
            include_usage,
            prompt_tokens,
            buffer: String::new(),
            head: StreamHead::new(format!("chatcmpl-{:016x}", fastrand::u64(..)), &self.endpoint_name),
            started: false,
            text: String::new(),
        };
        Ok(translate_stream(self.provider, event_stream_messages(resp), opts.timeout, lines).boxed())
    }
}

/// Builds `sagemaker/` and `sagemaker_chat/` deployments.
pub struct SageMakerFactory;

impl ProviderFactory for SageMakerFactory {
    fn names(&self) -> Vec<&'static str> {
        vec!["sagemaker", "sagemaker_chat"]
    }

    fn accepted_params(&self) -> &'static [&'static str] {
        AWS_PARAMS
    }

    fn build(&self, spec: &DeploymentSpec<'_>, client: &HttpClient) -> Result<Arc<dyn Provider>, String> {
        let (provider, shape) =
            if spec.provider == "sagemaker_chat" { ("sagemaker_chat", Shape::Chat) } else { ("sagemaker", Shape::TextGeneration) };
        let signer = AwsSigner::from_spec("sagemaker", spec)?;
        let runtime = spec
            .params
            .extra
            .get("aws_sagemaker_runtime_endpoint")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| spec.params.api_base.clone())
            .unwrap_or_else(|| format!("https://runtime.sagemaker.{}.amazonaws.com", signer.region()));
        let runtime = runtime.trim_end_matches('/').to_owned();
        let name = encode_path_segment(spec.upstream_model);
        let mut headers = HeaderMap::new();
        headers.insert(http::header::ACCEPT, HeaderValue::from_static("application/json"));
        crate::http::add_extra_headers(&mut headers, &spec.params.extra_headers)?;
        Ok(Arc::new(SageMaker {
            provider,
            shape,
            client: client.clone(),
            invoke: parse_uri(&format!("{runtime}/endpoints/{name}/invocations"))?,
            invoke_stream: parse_uri(&format!("{runtime}/endpoints/{name}/invocations-response-stream"))?,
            endpoint_name: spec.upstream_model.to_owned(),
            runtime,
            headers,
            signer,
            default_params: spec.params.default_params.clone(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tgi_body_and_stream_lines_split_anywhere() {
        let req: ChatRequest = serde_json::from_value(json!({"model": "m", "max_tokens": 20, "temperature": 0.5, "stop": "###",
            "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"}]}))
        .expect("req");
        let body = text_generation_body(&req);
        assert_eq!(body["inputs"], "System: sys\nUser: hi\nAssistant:");
        assert_eq!(body["parameters"], json!({"max_new_tokens": 20, "temperature": 0.5, "do_sample": true, "stop": ["###"]}));
        let mut lines = PayloadLines {
            provider: "sagemaker",
            shape: Shape::TextGeneration,
            include_usage: true,
            prompt_tokens: 3,
            buffer: String::new(),
            head: StreamHead::new("x".into(), "ep"),
            started: false,
            text: String::new(),
        };
        let stream = "data:{\"token\": {\"text\": \"Hel\", \"special\": false}, \"generated_text\": null}\n\ndata:{\"token\": {\"text\": \"lo\", \"special\": false}, \"generated_text\": \"Hello\", \"details\": {\"finish_reason\": \"eos_token\"}}\n\n";
        let mut out = VecDeque::new();
        let mut done = false;
        for part in [&stream[..17], &stream[17..70], &stream[70..]] {
            let msg =
                EventMessage { message_type: "event".into(), name: "PayloadPart".into(), payload: bytes::Bytes::from(part.to_owned()) };
            done = lines.frame(msg, &mut out).expect("frame");
        }
        assert!(done);
        let text: String = out
            .iter()
            .filter_map(|r| match r {
                Reply::Parsed(c) => c.choices.first().and_then(|c| c.delta.content.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(text, "Hello");
    }
}
