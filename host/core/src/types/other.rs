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

/// A Responses-API object or stream event (OpenAI's `/v1/responses`),
/// kept as JSON, with its token usage read from `usage` (answers) or
/// `response.usage` (the closing stream events) in the Responses API's
/// names (`input_tokens`, `output_tokens`).
#[derive(Debug, Clone, Default)]
pub struct ResponsesPayload {
    /// The JSON as it goes to the client.
    pub value: Value,
    /// Usage, in chat-completion terms.
    pub usage: Option<Usage>,
}

impl ResponsesPayload {
    /// Wraps a value, reading its usage.
    pub fn new(value: Value) -> Self {
        let u = value.get("usage").or_else(|| value.pointer("/response/usage")).filter(|u| u.is_object());
        let usage = u.map(|u| {
            let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
            Usage::new(n("input_tokens"), n("output_tokens"))
        });
        Self { value, usage }
    }
}

impl Serialize for ResponsesPayload {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

impl<'de> Deserialize<'de> for ResponsesPayload {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d).map(Self::new)
    }
}
