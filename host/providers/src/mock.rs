//! `mock_response`: answers without any upstream, as LiteLLM does, both for
//! a deployment (`litellm_params.mock_response`) and per request. A string
//! is the answer (streamed word by word when `stream` is set); LiteLLM's
//! exception names (`litellm.RateLimitError`, ...) and `Exception: <msg>`
//! raise the matching error; a mapping is a full chat completion.

use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use serde_json::{Map, Value};
use tianji_core::traits::{CallOptions, ChunkStream, Provider, ValueStream};
use tianji_core::types::{
    ChatChunk, ChatRequest, ChatResponse, Choice, ChunkChoice, CompletionRequest, CompletionResponse, Delta, EmbeddingRequest,
    EmbeddingResponse, Message, Reply, Usage, estimate_tokens, unix_now,
};
use tianji_core::{ErrorKind, GatewayError};

/// A deployment that answers with a canned response.
pub struct MockProvider {
    provider: String,
    model: String,
    response: Value,
}

impl MockProvider {
    /// Wraps a `mock_response` value for a deployment of `provider/model`.
    pub fn new(provider: &str, model: &str, response: Value) -> Arc<Self> {
        Arc::new(Self { provider: provider.to_owned(), model: model.to_owned(), response })
    }
}

/// The error a mock string stands for, if it names one.
pub fn mock_error(response: &Value) -> Option<GatewayError> {
    let s = response.as_str()?;
    if let Some(msg) = s.strip_prefix("Exception: ") {
        return Some(GatewayError::new(ErrorKind::UpstreamServer, msg.to_owned()).with_provider("mock"));
    }
    let (kind, msg) = match s {
        "litellm.RateLimitError" => (ErrorKind::RateLimited, "Mock rate limit error"),
        "litellm.InternalServerError" | "litellm.APIError" => (ErrorKind::UpstreamServer, "Mock internal server error"),
        "litellm.Timeout" => (ErrorKind::Timeout, "Mock timeout"),
        "litellm.ContextWindowExceededError" => (ErrorKind::ContextWindowExceeded, "Mock context window exceeded"),
        "litellm.ContentPolicyViolationError" => (ErrorKind::ContentPolicy, "Mock content policy violation"),
        "litellm.BadRequestError" => (ErrorKind::BadRequest, "Mock bad request"),
        "litellm.AuthenticationError" => (ErrorKind::Authentication, "Mock authentication error"),
        "litellm.NotFoundError" => (ErrorKind::NotFound, "Mock not found error"),
        "litellm.ServiceUnavailableError" => {
            return Some(
                GatewayError::new(ErrorKind::UpstreamServer, "Mock service unavailable")
                    .with_status(http::StatusCode::SERVICE_UNAVAILABLE)
                    .with_provider("mock"),
            );
        }
        _ => return None,
    };
    let mut e = GatewayError::new(kind, format!("litellm.{msg}"));
    e.origin = tianji_core::ErrorSource::Upstream;
    Some(e.with_provider("mock"))
}

fn content_of(response: &Value) -> String {
    match response {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn prompt_tokens(req: &ChatRequest) -> u64 {
    req.messages.iter().map(|m| estimate_tokens(&m.text_content())).sum::<u64>().max(1)
}

/// A complete mock chat answer.
pub fn mock_chat(req: &ChatRequest, model: &str, response: &Value) -> Result<ChatResponse, GatewayError> {
    if let Some(e) = mock_error(response) {
        return Err(e);
    }
    if response.is_object() {
        return serde_json::from_value(response.clone())
            .map_err(|e| GatewayError::bad_request(format!("mock_response is not a valid chat completion: {e}"), Some("mock_response")));
    }
    let text = content_of(response);
    let usage = Usage::new(prompt_tokens(req), estimate_tokens(&text));
    Ok(ChatResponse {
        id: format!("chatcmpl-{}", tianji_core::new_call_id()),
        object: "chat.completion".into(),
        created: unix_now(),
        model: model.to_owned(),
        choices: vec![Choice {
            index: 0,
            message: Message::text("assistant", text),
            finish_reason: Some("stop".into()),
            extra: Map::new(),
        }],
        usage: Some(usage),
        extra: Map::new(),
    })
}

/// A streamed mock chat answer: role, one delta per word, finish, optional usage.
pub fn mock_chat_stream(req: &ChatRequest, model: &str, response: &Value) -> Result<ChunkStream, GatewayError> {
    let full = mock_chat(req, model, response)?;
    let id = full.id.clone();
    let created = full.created;
    let text = full.choices.first().map(|c| c.message.text_content()).unwrap_or_default();
    let chunk = |delta: Delta, finish: Option<&str>| ChatChunk {
        id: id.clone(),
        object: "chat.completion.chunk".into(),
        created,
        model: model.to_owned(),
        choices: vec![ChunkChoice { index: 0, delta, finish_reason: finish.map(str::to_owned), extra: Map::new() }],
        usage: None,
        extra: Map::new(),
    };
    let mut chunks = vec![chunk(Delta { role: Some("assistant".into()), content: Some(String::new()), ..Default::default() }, None)];
    for word in text.split_inclusive(' ') {
        chunks.push(chunk(Delta { content: Some(word.to_owned()), ..Default::default() }, None));
    }
    chunks.push(chunk(Delta::default(), Some("stop")));
    if req.stream_options.as_ref().is_some_and(|o| o.include_usage) {
        chunks.push(ChatChunk { choices: vec![], usage: full.usage.clone(), ..chunk(Delta::default(), None) });
    }
    Ok(futures::stream::iter(chunks.into_iter().map(|c| Ok(Reply::Parsed(c)))).boxed())
}

#[async_trait]
impl Provider for MockProvider {
    fn provider_name(&self) -> &str {
        &self.provider
    }

    fn api_base(&self) -> Option<&str> {
        None
    }

    async fn chat(&self, req: ChatRequest, _opts: &CallOptions) -> Result<Reply<ChatResponse>, GatewayError> {
        mock_chat(&req, &self.model, &self.response).map(Reply::from)
    }

    async fn chat_stream(&self, req: ChatRequest, _opts: &CallOptions) -> Result<ChunkStream, GatewayError> {
        mock_chat_stream(&req, &self.model, &self.response)
    }

    async fn completion(&self, req: CompletionRequest, _opts: &CallOptions) -> Result<Reply<CompletionResponse>, GatewayError> {
        if let Some(e) = mock_error(&self.response) {
            return Err(e);
        }
        let text = content_of(&self.response);
        let prompt = estimate_tokens(&req.prompt.to_string());
        Ok(CompletionResponse {
            id: format!("cmpl-{}", tianji_core::new_call_id()),
            object: "text_completion".into(),
            created: unix_now(),
            model: self.model.clone(),
            choices: vec![serde_json::json!({"text": text, "index": 0, "logprobs": null, "finish_reason": "stop"})],
            usage: Some(Usage::new(prompt, estimate_tokens(&text))),
            extra: Map::new(),
        }
        .into())
    }

    async fn completion_stream(&self, req: CompletionRequest, opts: &CallOptions) -> Result<ValueStream, GatewayError> {
        let full = self.completion(req, opts).await?.into_parsed()?;
        let text = full.choices.first().and_then(|c| c.get("text")).and_then(Value::as_str).unwrap_or_default().to_owned();
        let event = |text: &str, finish: Value| {
            serde_json::json!({"id": full.id, "object": "text_completion", "created": full.created, "model": full.model,
                "choices": [{"text": text, "index": 0, "logprobs": null, "finish_reason": finish}]})
        };
        let mut events: Vec<Value> = text.split_inclusive(' ').map(|w| event(w, Value::Null)).collect();
        events.push(event("", Value::String("stop".into())));
        Ok(futures::stream::iter(events.into_iter().map(|v| Ok(Reply::Parsed(v)))).boxed())
    }

    async fn embedding(&self, req: EmbeddingRequest, _opts: &CallOptions) -> Result<Reply<EmbeddingResponse>, GatewayError> {
        if let Some(e) = mock_error(&self.response) {
            return Err(e);
        }
        let inputs: Vec<String> = match &req.input {
            Value::Array(items) => items.iter().map(|v| v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())).collect(),
            Value::String(s) => vec![s.clone()],
            other => vec![other.to_string()],
        };
        let dims = req.extra.get("dimensions").and_then(Value::as_u64).unwrap_or(8) as usize;
        let tokens: u64 = inputs.iter().map(|i| estimate_tokens(i)).sum();
        let data = inputs
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let seed = text.bytes().fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
                let v: Vec<f64> = (0..dims).map(|d| ((seed.rotate_left(d as u32) % 2000) as f64 / 1000.0) - 1.0).collect();
                serde_json::json!({"object": "embedding", "index": i, "embedding": v})
            })
            .collect();
        Ok(EmbeddingResponse {
            object: "list".into(),
            data,
            model: self.model.clone(),
            usage: Some(Usage::new(tokens, 0)),
            extra: Map::new(),
        }
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tianji_core::types::StreamOptions;

    #[tokio::test]
    async fn mock_stream_words_and_usage() {
        let req = ChatRequest {
            messages: vec![Message::text("user", "hi there")],
            stream_options: Some(StreamOptions { include_usage: true, ..Default::default() }),
            ..Default::default()
        };
        let chunks: Vec<_> = mock_chat_stream(&req, "m", &Value::String("hello big world".into())).expect("stream").collect().await;
        let chunks: Vec<ChatChunk> = chunks.into_iter().map(|c| c.and_then(Reply::into_parsed).expect("chunk")).collect();
        let text: String = chunks.iter().flat_map(|c| c.choices.iter().filter_map(|ch| ch.delta.content.clone())).collect();
        assert_eq!(text, "hello big world");
        let last = chunks.last().expect("last chunk");
        assert!(last.usage.is_some());
        assert!(last.choices.is_empty());
    }

    #[test]
    fn mock_errors_by_name() {
        let e = mock_error(&Value::String("litellm.RateLimitError".into())).expect("error");
        assert_eq!(e.status.as_u16(), 429);
        assert!(mock_error(&Value::String("plain answer".into())).is_none());
    }
}
