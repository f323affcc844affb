//! `Guardrail`: inspects a request before the call or a response after it.

use async_trait::async_trait;
use serde_json::Value;

use crate::context::CallContext;
use crate::types::{ChatRequest, ChatResponse};

/// When a guardrail runs (LiteLLM's `mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardrailPhase {
    /// Before the upstream call (`pre_call`).
    PreCall,
    /// Alongside the upstream call (`during_call`).
    DuringCall,
    /// After the upstream answered (`post_call`).
    PostCall,
    /// After the call, observing only (`logging_only`).
    LoggingOnly,
}

impl GuardrailPhase {
    /// LiteLLM's name for the mode.
    pub fn as_str(self) -> &'static str {
        match self {
            GuardrailPhase::PreCall => "pre_call",
            GuardrailPhase::DuringCall => "during_call",
            GuardrailPhase::PostCall => "post_call",
            GuardrailPhase::LoggingOnly => "logging_only",
        }
    }
}

/// What a guardrail knows about the check it is asked to make.
#[derive(Debug, Clone, Copy)]
pub struct GuardrailCall<'a> {
    /// The call being served.
    pub ctx: &'a CallContext,
    /// The phase of this check.
    pub phase: GuardrailPhase,
    /// The model group the client asked for.
    pub model_group: &'a str,
}

/// A guardrail's decision about one request or response.
#[derive(Debug, Clone)]
pub enum Verdict<T> {
    /// Let it through unchanged.
    Allow,
    /// Refuse it; the reason and details reach the client.
    Block {
        /// Why.
        reason: String,
        /// Violation details (categories, scores, matched text).
        details: Value,
    },
    /// Let a modified version through (e.g. with PII redacted).
    Modify(T),
}

/// A guardrail failed to decide (timeout, trap, upstream error); its
/// fail-open / fail-closed policy decides what happens to the call.
#[derive(Debug, thiserror::Error)]
#[error("guardrail {guardrail}: {message}")]
pub struct GuardrailError {
    /// Guardrail name.
    pub guardrail: String,
    /// What went wrong.
    pub message: String,
}

/// A content check on the request path.
#[async_trait]
pub trait Guardrail: Send + Sync + 'static {
    /// The configured name (`guardrail_name`).
    fn name(&self) -> &str;
    /// Checks a request before (or while) it is sent upstream.
    async fn check_request(&self, call: &GuardrailCall<'_>, req: &ChatRequest) -> Result<Verdict<ChatRequest>, GuardrailError>;
    /// Checks a response before it reaches the client.
    async fn check_response(
        &self,
        call: &GuardrailCall<'_>,
        req: &ChatRequest,
        resp: &ChatResponse,
    ) -> Result<Verdict<ChatResponse>, GuardrailError>;
}
