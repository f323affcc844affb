//! `Provider`: one upstream deployment that speaks some model API.

use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use futures::Stream;
use serde_json::Value;

use crate::error::GatewayError;
use crate::types::Reply;
use crate::types::{
    ChatChunk, ChatRequest, ChatResponse, CompletionRequest, CompletionResponse, EmbeddingRequest, EmbeddingResponse, ImageRequest,
    ModerationRequest, PassthroughResponse, ResponsesPayload,
};

/// A stream of chat chunks (raw from OpenAI-format upstreams, typed from
/// translating adapters); ends after the last chunk, or with one error.
pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<Reply<ChatChunk>, GatewayError>> + Send>>;

/// A stream of JSON events in OpenAI's shape (text-completion streams).
pub type ValueStream = Pin<Box<dyn Stream<Item = Result<Reply<Value>, GatewayError>> + Send>>;

/// A stream of Responses-API events (`response.created`, ..., `response.completed`).
pub type ResponsesStream = Pin<Box<dyn Stream<Item = Result<Reply<ResponsesPayload>, GatewayError>> + Send>>;

/// Per-attempt options the router hands a provider.
#[derive(Debug, Clone)]
pub struct CallOptions {
    /// Deadline for the upstream to answer (streams: to send its first byte, and between chunks).
    pub timeout: Duration,
    /// The call id, forwarded where the upstream accepts one.
    pub call_id: String,
}

/// One configured upstream deployment (a model at an endpoint with credentials).
///
/// Implementations translate Tianji's OpenAI-shaped model to their API and
/// back. Operations a provider lacks answer with a "not supported" error.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// The provider's name (`openai`, `azure`, `groq`, ...).
    fn provider_name(&self) -> &str;

    /// The base URL called, for `x-litellm-model-api-base`.
    fn api_base(&self) -> Option<&str>;

    /// OpenAI request parameters this provider accepts; `None` means all pass through.
    fn supported_params(&self) -> Option<&'static [&'static str]> {
        None
    }

    /// A chat completion (OpenAI-format upstreams may hand back their raw bytes).
    async fn chat(&self, req: ChatRequest, opts: &CallOptions) -> Result<Reply<ChatResponse>, GatewayError>;

    /// A streamed chat completion. Errors before the first chunk are returned
    /// here (so the router may retry); later errors end the stream.
    async fn chat_stream(&self, req: ChatRequest, opts: &CallOptions) -> Result<ChunkStream, GatewayError>;

    /// A text completion.
    async fn completion(&self, _req: CompletionRequest, _opts: &CallOptions) -> Result<Reply<CompletionResponse>, GatewayError> {
        Err(unsupported(self.provider_name(), "text completions"))
    }

    /// A streamed text completion.
    async fn completion_stream(&self, _req: CompletionRequest, _opts: &CallOptions) -> Result<ValueStream, GatewayError> {
        Err(unsupported(self.provider_name(), "streamed text completions"))
    }

    /// Embeddings.
    async fn embedding(&self, _req: EmbeddingRequest, _opts: &CallOptions) -> Result<Reply<EmbeddingResponse>, GatewayError> {
        Err(unsupported(self.provider_name(), "embeddings"))
    }

    /// Moderation.
    async fn moderation(&self, _req: ModerationRequest, _opts: &CallOptions) -> Result<PassthroughResponse, GatewayError> {
        Err(unsupported(self.provider_name(), "moderations"))
    }

    /// Input tokens of a chat request, counted by the provider (Anthropic's
    /// `count_tokens`); providers without such an API answer "not supported".
    async fn count_tokens(&self, _req: ChatRequest, _opts: &CallOptions) -> Result<u64, GatewayError> {
        Err(unsupported(self.provider_name(), "token counting"))
    }

    /// Whether the upstream serves OpenAI's Responses API itself (OpenAI,
    /// Azure); for the others the gateway translates it through chat.
    fn serves_responses(&self) -> bool {
        false
    }

    /// `POST /responses`, passed through; `body` already names the upstream's model.
    async fn responses(&self, _body: Value, _opts: &CallOptions) -> Result<Reply<ResponsesPayload>, GatewayError> {
        Err(unsupported(self.provider_name(), "the Responses API"))
    }

    /// `POST /responses` with `stream: true`, passed through.
    async fn responses_stream(&self, _body: Value, _opts: &CallOptions) -> Result<ResponsesStream, GatewayError> {
        Err(unsupported(self.provider_name(), "the Responses API"))
    }

    /// `GET /responses/{id}`, where the upstream keeps responses.
    async fn get_response(&self, _id: &str, _opts: &CallOptions) -> Result<Reply<ResponsesPayload>, GatewayError> {
        Err(unsupported(self.provider_name(), "stored responses"))
    }

    /// Image generation.
    async fn image_generation(&self, _req: ImageRequest, _opts: &CallOptions) -> Result<PassthroughResponse, GatewayError> {
        Err(unsupported(self.provider_name(), "image generation"))
    }
}

/// The "not supported yet" error for `what` on `provider`.
pub fn unsupported(provider: &str, what: &str) -> GatewayError {
    GatewayError::not_supported(format!("provider '{provider}' does not support {what} (not supported yet)"))
}
