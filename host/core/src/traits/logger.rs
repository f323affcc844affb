//! `Logger`: receives batches of finished calls, off the request path.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One finished call: LiteLLM's standard logging payload.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LogEvent {
    /// Call id.
    pub id: String,
    /// `acompletion`, `aembedding`, ...
    pub call_type: String,
    /// Model group requested.
    pub model_group: String,
    /// Upstream model called.
    pub model: String,
    /// Deployment id.
    pub model_id: Option<String>,
    /// Provider.
    pub custom_llm_provider: Option<String>,
    /// API base called.
    pub api_base: Option<String>,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Sum of both.
    pub total_tokens: u64,
    /// Cost in USD.
    pub response_cost: f64,
    /// Unix seconds (float) the call started.
    pub start_time: f64,
    /// Unix seconds (float) the call ended.
    pub end_time: f64,
    /// `success` or `failure`.
    pub status: String,
    /// Error message on failure.
    pub error_str: Option<String>,
    /// End user.
    pub end_user: Option<String>,
    /// Request tags.
    pub request_tags: Vec<String>,
    /// Request metadata.
    pub metadata: Value,
    /// Request body, unless redacted.
    pub messages: Option<Value>,
    /// Response body, unless redacted.
    pub response: Option<Value>,
}

/// A logger failed; the batch is retried or spooled by the caller.
#[derive(Debug, thiserror::Error)]
#[error("logger {logger}: {message}")]
pub struct LoggerError {
    /// Logger name.
    pub logger: String,
    /// What went wrong.
    pub message: String,
    /// Whether sending the same batch again may succeed.
    pub retryable: bool,
}

/// A destination for call logs (callbacks in LiteLLM's terms).
#[async_trait]
pub trait Logger: Send + Sync + 'static {
    /// The configured callback name.
    fn name(&self) -> &str;
    /// Delivers one batch.
    async fn log_batch(&self, events: &[LogEvent]) -> Result<(), LoggerError>;
}
