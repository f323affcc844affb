//! Google's `generateContent` API on the wire (Gemini API and Vertex AI
//! share it): <https://ai.google.dev/api/generate-content>. Field names are
//! the documented camelCase ones.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `models/{model}:generateContent` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateRequest {
    /// The conversation.
    pub contents: Vec<Content>,
    /// The system prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_instruction: Option<Content>,
    /// Function declarations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Value>,
    /// `{"functionCallingConfig": {"mode", "allowedFunctionNames"}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_config: Option<Value>,
    /// Sampling and output settings.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub generation_config: Map<String, Value>,
    /// Safety thresholds, passed through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_settings: Option<Value>,
    /// A cached-content resource name, passed through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_content: Option<Value>,
}

/// One turn: a role (`user` or `model`) and its parts.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Content {
    /// `user` or `model` (absent on the system instruction).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The parts.
    #[serde(default)]
    pub parts: Vec<Part>,
}

/// One part of a turn; exactly one of the data fields is set.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Part {
    /// Text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Inline bytes: `{"mimeType", "data"}` (base64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline_data: Option<Value>,
    /// A file by URI: `{"mimeType", "fileUri"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_data: Option<Value>,
    /// A call the model makes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_call: Option<FunctionCall>,
    /// A tool's answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_response: Option<Value>,
    /// The part is the model's reasoning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thought: Option<bool>,
    /// Opaque signature of the reasoning, to send back with the turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thought_signature: Option<String>,
    /// Other fields (`executableCode`, `codeExecutionResult`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A function call.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FunctionCall {
    /// Call id (newer models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Function name.
    pub name: String,
    /// Arguments.
    #[serde(default)]
    pub args: Value,
}

/// A `generateContent` answer (also each event of a stream).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateResponse {
    /// The candidates.
    #[serde(default)]
    pub candidates: Vec<Candidate>,
    /// Why the prompt was blocked, if it was.
    #[serde(default)]
    pub prompt_feedback: Option<Value>,
    /// Token counts.
    #[serde(default)]
    pub usage_metadata: Option<UsageMetadata>,
    /// The model version that answered.
    #[serde(default)]
    pub model_version: Option<String>,
    /// Answer id.
    #[serde(default)]
    pub response_id: Option<String>,
}

/// One candidate answer.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    /// The answer's content.
    #[serde(default)]
    pub content: Option<Content>,
    /// `STOP`, `MAX_TOKENS`, `SAFETY`, `RECITATION`, ...
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// Candidate index.
    #[serde(default)]
    pub index: Option<u32>,
}

/// Token counts.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageMetadata {
    /// Prompt tokens (including cached ones).
    #[serde(default)]
    pub prompt_token_count: u64,
    /// Answer tokens.
    #[serde(default)]
    pub candidates_token_count: u64,
    /// Reasoning tokens.
    #[serde(default)]
    pub thoughts_token_count: u64,
    /// Prompt tokens read from the cache.
    #[serde(default)]
    pub cached_content_token_count: u64,
    /// Sum.
    #[serde(default)]
    pub total_token_count: u64,
}
