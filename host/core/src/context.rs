//! What every stage knows about the call it is serving.

use std::time::Duration;

use serde_json::{Map, Value};

/// A random UUID (v4) for call and response ids, drawn from a userspace RNG
/// so the request path makes no `getrandom` syscall.
pub fn new_call_id() -> String {
    let mut bytes = [0u8; 16];
    fastrand::fill(&mut bytes);
    uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
}

/// The kind of call, as LiteLLM names it in logs and guardrail hooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallType {
    /// `/chat/completions`.
    Completion,
    /// `/completions`.
    TextCompletion,
    /// `/embeddings`.
    Embeddings,
    /// `/moderations`.
    Moderation,
    /// `/images/generations`.
    ImageGeneration,
    /// `/responses`.
    Responses,
}

impl CallType {
    /// LiteLLM's name for the call type.
    pub fn as_str(self) -> &'static str {
        match self {
            CallType::Completion => "acompletion",
            CallType::TextCompletion => "atext_completion",
            CallType::Embeddings => "aembedding",
            CallType::Moderation => "amoderation",
            CallType::ImageGeneration => "aimage_generation",
            CallType::Responses => "aresponses",
        }
    }
}

/// Request-scoped facts shared by auth, routing, guardrails and loggers.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// `x-litellm-call-id`: one per client request.
    pub call_id: String,
    /// The kind of call.
    pub call_type: CallType,
    /// The end user (`user` field).
    pub end_user: Option<String>,
    /// `metadata` from the request.
    pub metadata: Map<String, Value>,
    /// `tags` from the request.
    pub tags: Vec<String>,
    /// A per-attempt timeout requested by the client (`timeout`, `x-litellm-timeout`).
    pub timeout: Option<Duration>,
    /// The virtual key's alias, when the caller used one.
    pub key_alias: Option<String>,
    /// The caller's team.
    pub team_id: Option<String>,
    /// The caller's user id.
    pub user_id: Option<String>,
}

impl CallContext {
    /// A fresh context with a new call id.
    pub fn new(call_type: CallType) -> Self {
        Self {
            call_id: new_call_id(),
            call_type,
            end_user: None,
            metadata: Map::new(),
            tags: Vec::new(),
            timeout: None,
            key_alias: None,
            team_id: None,
            user_id: None,
        }
    }
}
