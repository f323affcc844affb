//! Resolves `model: provider/name` to a provider and builds its adapter.
//!
//! Each provider family registers one [`ProviderFactory`] in
//! [`ProviderRegistry::with_builtin`]; adding a provider is its own file plus
//! one line there.

use std::collections::HashMap;
use std::sync::Arc;

use tianji_core::config::{Env, LitellmParams};
use tianji_core::traits::Provider;

/// Everything a factory needs to build one deployment's adapter.
pub struct DeploymentSpec<'a> {
    /// Resolved provider name.
    pub provider: &'a str,
    /// Model name as the upstream knows it (after the `provider/` prefix).
    pub upstream_model: &'a str,
    /// The deployment's `litellm_params`.
    pub params: &'a LitellmParams,
    /// Environment for default keys and bases.
    pub env: &'a Env,
}

/// Builds adapters for one or more provider names.
pub trait ProviderFactory: Send + Sync {
    /// Provider prefixes this factory handles.
    fn names(&self) -> Vec<&'static str>;

    /// Provider-specific `litellm_params` keys this factory reads; others are reported as ignored.
    fn accepted_params(&self) -> &'static [&'static str] {
        &[]
    }

    /// Whether the adapter really calls the provider (false for placeholders of
    /// providers that are not supported yet).
    fn implemented(&self) -> bool {
        true
    }

    /// Builds the adapter, or says what is wrong with the deployment.
    fn build(&self, spec: &DeploymentSpec<'_>, client: &crate::http::HttpClient) -> Result<Arc<dyn Provider>, String>;
}

/// All known providers.
pub struct ProviderRegistry {
    factories: Vec<Box<dyn ProviderFactory>>,
    by_name: HashMap<&'static str, usize>,
}

/// Models LiteLLM routes to OpenAI when written without a provider prefix.
const OPENAI_PREFIXES: &[&str] = &[
    "gpt-",
    "o1",
    "o3",
    "o4",
    "chatgpt-",
    "text-embedding-",
    "dall-e",
    "omni-moderation",
    "text-moderation",
    "gpt-image",
    "tts-",
    "whisper",
];

/// OpenAI models served by the legacy completions endpoint.
const OPENAI_TEXT_COMPLETION: &[&str] = &["gpt-3.5-turbo-instruct", "davinci-002", "babbage-002"];

impl ProviderRegistry {
    /// An empty registry.
    pub fn empty() -> Self {
        Self { factories: Vec::new(), by_name: HashMap::new() }
    }

    /// Every built-in provider.
    pub fn with_builtin() -> Self {
        let mut r = Self::empty();
        r.register(Box::new(crate::openai::OpenAiFamilyFactory));
        r.register(Box::new(crate::azure::AzureFactory));
        r.register(Box::new(crate::anthropic::AnthropicFactory));
        r.register(Box::new(crate::gemini::GeminiFactory));
        r.register(Box::new(crate::vertex::VertexFactory));
        r.register(Box::new(crate::bedrock::BedrockFactory));
        r.register(Box::new(crate::cohere::CohereFactory));
        r.register(Box::new(crate::sagemaker::SageMakerFactory));
        r.register(Box::new(crate::watsonx::WatsonxFactory));
        r.register(Box::new(crate::text_completion_openai::TextCompletionOpenAiFactory));
        r.register(Box::new(crate::not_yet_supported::NotYetSupportedFactory));
        r
    }

    /// Adds a factory.
    pub fn register(&mut self, factory: Box<dyn ProviderFactory>) {
        let idx = self.factories.len();
        for name in factory.names() {
            self.by_name.insert(name, idx);
        }
        self.factories.push(factory);
    }

    /// Whether a provider name is known.
    pub fn knows(&self, provider: &str) -> bool {
        self.by_name.contains_key(provider)
    }

    /// Known provider names, sorted.
    pub fn provider_names(&self) -> Vec<&'static str> {
        let mut v: Vec<_> = self.by_name.keys().copied().collect();
        v.sort_unstable();
        v
    }

    /// Whether a known provider has a working adapter (not a "not supported yet" placeholder).
    pub fn is_implemented(&self, provider: &str) -> bool {
        self.by_name.get(provider).is_some_and(|&i| self.factories[i].implemented())
    }

    /// Provider-specific params the provider's factory reads.
    pub fn accepted_params(&self, provider: &str) -> &'static [&'static str] {
        self.by_name.get(provider).map(|&i| self.factories[i].accepted_params()).unwrap_or(&[])
    }

    /// Splits `model` into (provider, upstream model), as LiteLLM does:
    /// `custom_llm_provider` wins, then a known `provider/` prefix, then
    /// inference from well-known OpenAI model names.
    pub fn resolve(&self, model: &str, custom_llm_provider: Option<&str>) -> Result<(String, String), String> {
        if let Some(p) = custom_llm_provider {
            if !self.knows(p) {
                return Err(self.unknown(p));
            }
            let name = model.strip_prefix(p).and_then(|m| m.strip_prefix('/')).unwrap_or(model);
            return Ok((p.to_owned(), name.to_owned()));
        }
        if let Some((prefix, rest)) = model.split_once('/') {
            if self.knows(prefix) {
                return Ok((prefix.to_owned(), rest.to_owned()));
            }
            if !OPENAI_PREFIXES.iter().any(|p| model.starts_with(p)) {
                return Err(self.unknown(prefix));
            }
        }
        if OPENAI_TEXT_COMPLETION.contains(&model) {
            return Ok(("text-completion-openai".to_owned(), model.to_owned()));
        }
        if OPENAI_PREFIXES.iter().any(|p| model.starts_with(p)) {
            return Ok(("openai".to_owned(), model.to_owned()));
        }
        Err(format!(
            "cannot tell the provider of model '{model}': write it as <provider>/<model> (known providers: {})",
            self.provider_names().join(", ")
        ))
    }

    fn unknown(&self, provider: &str) -> String {
        format!("unknown provider '{provider}' (known providers: {})", self.provider_names().join(", "))
    }

    /// Builds the adapter for a resolved deployment.
    pub fn build(&self, spec: &DeploymentSpec<'_>, client: &crate::http::HttpClient) -> Result<Arc<dyn Provider>, String> {
        let idx = *self.by_name.get(spec.provider).ok_or_else(|| self.unknown(spec.provider))?;
        self.factories[idx].build(spec, client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_like_litellm() {
        let r = ProviderRegistry::with_builtin();
        assert_eq!(r.resolve("openai/gpt-4o", None), Ok(("openai".into(), "gpt-4o".into())));
        assert_eq!(r.resolve("gpt-4o", None), Ok(("openai".into(), "gpt-4o".into())));
        assert_eq!(r.resolve("gpt-3.5-turbo-instruct", None), Ok(("text-completion-openai".into(), "gpt-3.5-turbo-instruct".into())));
        assert_eq!(r.resolve("groq/llama-3.1-8b-instant", None), Ok(("groq".into(), "llama-3.1-8b-instant".into())));
        assert_eq!(
            r.resolve("openrouter/anthropic/claude-3.5-sonnet", None),
            Ok(("openrouter".into(), "anthropic/claude-3.5-sonnet".into()))
        );
        assert_eq!(r.resolve("meta-llama/Llama-3-8b", Some("hosted_vllm")), Ok(("hosted_vllm".into(), "meta-llama/Llama-3-8b".into())));
        assert!(r.resolve("nosuch/model", None).unwrap_err().contains("unknown provider 'nosuch'"));
        assert!(r.resolve("mystery-model", None).unwrap_err().contains("cannot tell the provider"));
        assert_eq!(r.resolve("anthropic/claude-3-5-haiku-20241022", None), Ok(("anthropic".into(), "claude-3-5-haiku-20241022".into())));
        assert!(r.is_implemented("anthropic"));
        assert!(r.is_implemented("vertex_ai"));
        assert!(!r.is_implemented("huggingface"));
        assert!(r.is_implemented("openai"));
    }
}
