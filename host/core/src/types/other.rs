//! Text completions, embeddings, moderations and image generation.
//!
//! The gateway reads only `model` (and `prompt`/`input` for mocks and
//! translations); every other field passes through unchanged.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Usage;

/// `POST /v1/completions` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CompletionRequest {
    /// Model group; may come from the URL instead.
    #[serde(default)]
    pub model: String,
    /// String, list of strings, or token arrays.
    #[serde(default)]
    pub prompt: Value,
    /// Stream the answer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stream: bool,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A text completion (OpenAI `text_completion` object).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CompletionResponse {
    /// Completion id.
    #[serde(default)]
    pub id: String,
    /// `text_completion`.
    #[serde(default)]
    pub object: String,
    /// Unix seconds.
    #[serde(default)]
    pub created: u64,
    /// The model that answered.
    #[serde(default)]
    pub model: String,
    /// Choices: `{text, index, logprobs, finish_reason}`.
    #[serde(default)]
    pub choices: Vec<Value>,
    /// Token usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST /v1/embeddings` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EmbeddingRequest {
    /// Model group; may come from the URL instead.
    #[serde(default)]
    pub model: String,
    /// String, list of strings, or token arrays.
    pub input: Value,
    /// Every other field (`encoding_format`, `dimensions`, `user`).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An embedding list (OpenAI `list` of `embedding` objects).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EmbeddingResponse {
    /// `list`.
    #[serde(default)]
    pub object: String,
    /// The embeddings.
    #[serde(default)]
    pub data: Vec<Value>,
    /// The model that answered.
    #[serde(default)]
    pub model: String,
    /// Token usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST /v1/moderations` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ModerationRequest {
    /// Model group; OpenAI's default moderation model when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Text, list of texts, or multi-modal inputs.
    pub input: Value,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST /v1/images/generations` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ImageRequest {
    /// Model group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The prompt.
    pub prompt: String,
    /// Every other field (`n`, `size`, `quality`, `response_format`).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A response the gateway relays as-is (moderations, images).
pub type PassthroughResponse = Value;
