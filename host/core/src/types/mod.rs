//! The request/response model every stage of the pipeline works on: OpenAI's shapes.
//!
//! Provider adapters translate to and from these at the edge; nothing in the
//! middle of the pipeline knows another provider's format.

mod chat;
mod other;
mod reply;

pub use chat::{
    ChatChunk, ChatRequest, ChatResponse, Choice, ChunkChoice, Content, ContentPart, Delta, FunctionCall, FunctionDef, ImageUrl, Message,
    StreamOptions, Tool, ToolCall,
};
pub use other::{
    CompletionRequest, CompletionResponse, EmbeddingRequest, EmbeddingResponse, ImageRequest, ModerationRequest, PassthroughResponse,
    ResponsesPayload,
};
pub use reply::{HasUsage, Reply};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Token usage of one call.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Usage {
    /// Prompt tokens.
    #[serde(default)]
    pub prompt_tokens: u64,
    /// Completion tokens.
    #[serde(default)]
    pub completion_tokens: u64,
    /// Sum of both.
    #[serde(default)]
    pub total_tokens: u64,
    /// Provider details (`prompt_tokens_details`, `completion_tokens_details`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Usage {
    /// Usage from prompt and completion counts.
    pub fn new(prompt_tokens: u64, completion_tokens: u64) -> Self {
        Self { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens, extra: Map::new() }
    }
}

/// Longest duration any setting or header may ask for (a week); larger,
/// infinite or NaN values are clamped here instead of panicking.
pub const MAX_DURATION: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// Seconds (from config, a header or an upstream) as a `Duration`, clamped to
/// `[0, MAX_DURATION]`; NaN counts as 0.
pub fn duration_from_secs(secs: f64) -> std::time::Duration {
    if secs.is_nan() || secs <= 0.0 {
        return std::time::Duration::ZERO;
    }
    std::time::Duration::try_from_secs_f64(secs).map(|d| d.min(MAX_DURATION)).unwrap_or(MAX_DURATION)
}

/// Unix time in seconds, for `created` fields.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

/// A rough token estimate (four characters a token) for mock answers and
/// pre-call context-window checks when no tokenizer is available.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

impl HasUsage for ChatResponse {
    fn usage(&self) -> Option<&Usage> {
        self.usage.as_ref()
    }
}

impl HasUsage for CompletionResponse {
    fn usage(&self) -> Option<&Usage> {
        self.usage.as_ref()
    }
}

impl HasUsage for EmbeddingResponse {
    fn usage(&self) -> Option<&Usage> {
        self.usage.as_ref()
    }
}

impl HasUsage for serde_json::Value {
    fn usage(&self) -> Option<&Usage> {
        None
    }
}

impl HasUsage for ResponsesPayload {
    fn usage(&self) -> Option<&Usage> {
        self.usage.as_ref()
    }
}

impl HasUsage for ChatChunk {
    fn usage(&self) -> Option<&Usage> {
        self.usage.as_ref()
    }
}
