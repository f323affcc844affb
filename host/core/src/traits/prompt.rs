//! `PromptSource`: resolves a managed prompt by id into messages.

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::types::Message;

/// A resolved prompt.
#[derive(Debug, Clone, Default)]
pub struct Prompt {
    /// The messages, with variables substituted.
    pub messages: Vec<Message>,
    /// Model or parameters the prompt carries, applied under the request's own.
    pub metadata: Map<String, Value>,
}

/// A prompt could not be resolved.
#[derive(Debug, thiserror::Error)]
#[error("prompt source {source_name}: {message}")]
pub struct PromptError {
    /// Source name.
    pub source_name: String,
    /// What went wrong.
    pub message: String,
    /// The prompt does not exist (404) rather than the source failing.
    pub not_found: bool,
    /// Variables the prompt needs that the request did not give (400).
    pub missing_variables: Vec<String>,
}

/// A store of managed prompts.
#[async_trait]
pub trait PromptSource: Send + Sync + 'static {
    /// The configured name.
    fn name(&self) -> &str;
    /// Fetches and renders one prompt.
    async fn get_prompt(
        &self,
        id: &str,
        version: Option<&str>,
        label: Option<&str>,
        variables: &Map<String, Value>,
    ) -> Result<Prompt, PromptError>;
}
