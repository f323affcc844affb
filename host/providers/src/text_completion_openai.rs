//! `text-completion-openai`: OpenAI's legacy `/completions` models
//! (`gpt-3.5-turbo-instruct`, `davinci-002`). Chat requests are turned into a
//! prompt and the text answer back into a chat message, as LiteLLM does.

use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use serde_json::{Map, Value};
use tianji_core::GatewayError;
use tianji_core::traits::{CallOptions, ChunkStream, Provider, ValueStream};
use tianji_core::types::{
    ChatChunk, ChatRequest, ChatResponse, Choice, ChunkChoice, CompletionRequest, CompletionResponse, Delta, Message, Reply,
};

use crate::openai::OpenAiFamilyFactory;
use crate::registry::{DeploymentSpec, ProviderFactory};

/// Builds `text-completion-openai` deployments on OpenAI's base URL and key.
pub struct TextCompletionOpenAiFactory;

impl ProviderFactory for TextCompletionOpenAiFactory {
    fn names(&self) -> Vec<&'static str> {
        vec!["text-completion-openai"]
    }

    fn build(&self, spec: &DeploymentSpec<'_>, client: &crate::http::HttpClient) -> Result<Arc<dyn Provider>, String> {
        let openai = DeploymentSpec { provider: "openai", ..*spec };
        let inner = OpenAiFamilyFactory.build(&openai, client)?;
        Ok(Arc::new(TextCompletionOpenAi { inner }))
    }
}

/// Adapter that serves chat over the completions endpoint.
pub struct TextCompletionOpenAi {
    inner: Arc<dyn Provider>,
}

/// Body fields of OpenAI's `/completions` (besides model and prompt); chat-only
/// ones (`tools`, `response_format`, ...) are refused, or dropped with `drop_params`.
const COMPLETION_PARAMS: &[&str] = &[
    "best_of",
    "echo",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "max_tokens",
    "n",
    "presence_penalty",
    "seed",
    "stop",
    "stream",
    "stream_options",
    "suffix",
    "temperature",
    "top_p",
    "user",
];

/// Joins message texts into one prompt.
fn prompt_of(req: &ChatRequest) -> String {
    req.messages.iter().map(Message::text_content).collect::<Vec<_>>().join("\n")
}

fn to_completion(req: ChatRequest) -> CompletionRequest {
    let mut extra: Map<String, Value> = req.extra;
    let typed = [
        ("max_tokens", req.max_tokens.or(req.max_completion_tokens).map(Value::from)),
        ("temperature", req.temperature.map(Value::from)),
        ("top_p", req.top_p.map(Value::from)),
        ("n", req.n.map(Value::from)),
        ("stop", req.stop.clone()),
        ("user", req.user.clone().map(Value::from)),
    ];
    for (k, v) in typed {
        if let Some(v) = v {
            extra.insert(k.to_owned(), v);
        }
    }
    if let Some(opts) = &req.stream_options {
        extra.insert("stream_options".to_owned(), serde_json::to_value(opts).unwrap_or(Value::Null));
    }
    let prompt = Value::String(prompt_of(&ChatRequest { messages: req.messages, ..Default::default() }));
    CompletionRequest { model: req.model, prompt, stream: req.stream, extra }
}

fn choice_text(c: &Value) -> String {
    c.get("text").and_then(Value::as_str).unwrap_or_default().to_owned()
}

#[async_trait]
impl Provider for TextCompletionOpenAi {
    fn provider_name(&self) -> &str {
        "text-completion-openai"
    }

    fn api_base(&self) -> Option<&str> {
        self.inner.api_base()
    }

    fn supported_params(&self) -> Option<&'static [&'static str]> {
        Some(COMPLETION_PARAMS)
    }

    async fn chat(&self, req: ChatRequest, opts: &CallOptions) -> Result<Reply<ChatResponse>, GatewayError> {
        let resp = self.inner.completion(to_completion(req), opts).await?.into_parsed()?;
        let choices = resp
            .choices
            .iter()
            .enumerate()
            .map(|(i, c)| Choice {
                index: c.get("index").and_then(Value::as_u64).unwrap_or(i as u64) as u32,
                message: Message::text("assistant", choice_text(c)),
                finish_reason: c.get("finish_reason").and_then(Value::as_str).map(str::to_owned),
                extra: Map::new(),
            })
            .collect();
        Ok(ChatResponse {
            id: resp.id,
            object: "chat.completion".into(),
            created: resp.created,
            model: resp.model,
            choices,
            usage: resp.usage,
            extra: Map::new(),
        }
        .into())
    }

    async fn chat_stream(&self, req: ChatRequest, opts: &CallOptions) -> Result<ChunkStream, GatewayError> {
        let stream = self.inner.completion_stream(to_completion(req), opts).await?;
        Ok(stream
            .map(|ev| {
                ev.and_then(Reply::into_parsed)
                    .map(|v| ChatChunk {
                        id: v.get("id").and_then(Value::as_str).unwrap_or_default().to_owned(),
                        object: "chat.completion.chunk".into(),
                        created: v.get("created").and_then(Value::as_u64).unwrap_or_default(),
                        model: v.get("model").and_then(Value::as_str).unwrap_or_default().to_owned(),
                        choices: v
                            .get("choices")
                            .and_then(Value::as_array)
                            .map(|cs| {
                                cs.iter()
                                    .map(|c| ChunkChoice {
                                        index: c.get("index").and_then(Value::as_u64).unwrap_or(0) as u32,
                                        delta: Delta { content: Some(choice_text(c)), ..Default::default() },
                                        finish_reason: c.get("finish_reason").and_then(Value::as_str).map(str::to_owned),
                                        extra: Map::new(),
                                    })
                                    .collect()
                            })
                            .unwrap_or_default(),
                        usage: v.get("usage").and_then(|u| serde_json::from_value(u.clone()).ok()),
                        extra: Map::new(),
                    })
                    .map(Reply::Parsed)
            })
            .boxed())
    }

    async fn completion(&self, req: CompletionRequest, opts: &CallOptions) -> Result<Reply<CompletionResponse>, GatewayError> {
        self.inner.completion(req, opts).await
    }

    async fn completion_stream(&self, req: CompletionRequest, opts: &CallOptions) -> Result<ValueStream, GatewayError> {
        self.inner.completion_stream(req, opts).await
    }
}
