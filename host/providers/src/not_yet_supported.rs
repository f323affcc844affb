//! LiteLLM providers Tianji knows by name but does not implement yet.
//!
//! A config that uses them still starts (the start-up log lists each such
//! deployment), and calls to them answer 501 "not supported yet", so the
//! rest of a migrated LiteLLM config keeps working. Each name leaves this
//! list when its adapter lands.

use std::sync::Arc;

use async_trait::async_trait;
use tianji_core::GatewayError;
use tianji_core::traits::{CallOptions, ChunkStream, Provider};
use tianji_core::types::{ChatRequest, ChatResponse, Reply};

use crate::http::HttpClient;
use crate::registry::{DeploymentSpec, ProviderFactory};

/// LiteLLM provider names without an adapter here yet.
pub const NAMES: &[&str] = &[
    "azure_ai",
    "azure_text",
    "huggingface",
    "replicate",
    "databricks",
    "nvidia_nim",
    "cloudflare",
    "voyage",
    "jina_ai",
    "triton",
    "predibase",
    "codestral",
    "text-completion-codestral",
    "friendliai",
    "github",
    "sambanova",
    "litellm_proxy",
    "custom_openai",
    "dashscope",
    "moonshot",
    "volcengine",
    "nebius",
    "novita",
    "featherless_ai",
    "nscale",
    "hyperbolic",
    "lambda_ai",
    "baseten",
    "clarifai",
];

/// Builds placeholder deployments for [`NAMES`].
pub struct NotYetSupportedFactory;

impl ProviderFactory for NotYetSupportedFactory {
    fn names(&self) -> Vec<&'static str> {
        NAMES.to_vec()
    }

    fn implemented(&self) -> bool {
        false
    }

    fn build(&self, spec: &DeploymentSpec<'_>, _client: &HttpClient) -> Result<Arc<dyn Provider>, String> {
        Ok(Arc::new(NotYetSupported { provider: spec.provider.to_owned() }))
    }
}

/// A deployment whose provider has no adapter yet: every call answers 501.
pub struct NotYetSupported {
    provider: String,
}

impl NotYetSupported {
    fn error(&self) -> GatewayError {
        GatewayError::not_supported(format!(
            "provider '{}' is not supported yet by Tianji; this deployment cannot be called (see the README's roadmap)",
            self.provider
        ))
    }
}

#[async_trait]
impl Provider for NotYetSupported {
    fn provider_name(&self) -> &str {
        &self.provider
    }

    fn api_base(&self) -> Option<&str> {
        None
    }

    async fn chat(&self, _req: ChatRequest, _opts: &CallOptions) -> Result<Reply<ChatResponse>, GatewayError> {
        Err(self.error())
    }

    async fn chat_stream(&self, _req: ChatRequest, _opts: &CallOptions) -> Result<ChunkStream, GatewayError> {
        Err(self.error())
    }
}
