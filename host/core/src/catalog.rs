//! A small built-in catalog of well-known models: provider, mode, context
//! window and list prices. It fills in `model_info` that a config leaves out
//! and expands wildcard routes (`anthropic/*`) in model listings. A
//! deployment's own `model_info` always wins. Prices are list prices in USD
//! per token as published by each provider; treat them as defaults.

/// One catalog entry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CatalogModel {
    /// Provider prefix (`openai`, `anthropic`, ...).
    pub provider: &'static str,
    /// Model name as the provider spells it.
    pub name: &'static str,
    /// `chat`, `embedding`, `completion`, `moderation`, `image_generation`.
    pub mode: &'static str,
    /// Context window in tokens.
    pub max_input_tokens: u64,
    /// Output cap in tokens.
    pub max_output_tokens: u64,
    /// USD per input token.
    pub input_cost_per_token: f64,
    /// USD per output token.
    pub output_cost_per_token: f64,
}

const fn m(
    provider: &'static str,
    name: &'static str,
    mode: &'static str,
    max_input_tokens: u64,
    max_output_tokens: u64,
    input_cost_per_token: f64,
    output_cost_per_token: f64,
) -> CatalogModel {
    CatalogModel { provider, name, mode, max_input_tokens, max_output_tokens, input_cost_per_token, output_cost_per_token }
}

/// The catalog.
pub static MODELS: &[CatalogModel] = &[
    m("openai", "gpt-4o", "chat", 128_000, 16_384, 2.5e-6, 1.0e-5),
    m("openai", "gpt-4o-mini", "chat", 128_000, 16_384, 1.5e-7, 6.0e-7),
    m("openai", "gpt-4.1", "chat", 1_047_576, 32_768, 2.0e-6, 8.0e-6),
    m("openai", "gpt-4.1-mini", "chat", 1_047_576, 32_768, 4.0e-7, 1.6e-6),
    m("openai", "gpt-4.1-nano", "chat", 1_047_576, 32_768, 1.0e-7, 4.0e-7),
    m("openai", "o3", "chat", 200_000, 100_000, 2.0e-6, 8.0e-6),
    m("openai", "o4-mini", "chat", 200_000, 100_000, 1.1e-6, 4.4e-6),
    m("openai", "gpt-4-turbo", "chat", 128_000, 4_096, 1.0e-5, 3.0e-5),
    m("openai", "gpt-3.5-turbo", "chat", 16_385, 4_096, 5.0e-7, 1.5e-6),
    m("openai", "gpt-3.5-turbo-instruct", "completion", 4_096, 4_096, 1.5e-6, 2.0e-6),
    m("openai", "text-embedding-3-small", "embedding", 8_191, 0, 2.0e-8, 0.0),
    m("openai", "text-embedding-3-large", "embedding", 8_191, 0, 1.3e-7, 0.0),
    m("openai", "text-embedding-ada-002", "embedding", 8_191, 0, 1.0e-7, 0.0),
    m("openai", "omni-moderation-latest", "moderation", 32_768, 0, 0.0, 0.0),
    m("openai", "dall-e-3", "image_generation", 4_000, 0, 0.0, 0.0),
    m("anthropic", "claude-opus-4-20250514", "chat", 200_000, 32_000, 1.5e-5, 7.5e-5),
    m("anthropic", "claude-sonnet-4-20250514", "chat", 200_000, 64_000, 3.0e-6, 1.5e-5),
    m("anthropic", "claude-3-7-sonnet-20250219", "chat", 200_000, 64_000, 3.0e-6, 1.5e-5),
    m("anthropic", "claude-3-5-haiku-20241022", "chat", 200_000, 8_192, 8.0e-7, 4.0e-6),
    m("anthropic", "claude-3-haiku-20240307", "chat", 200_000, 4_096, 2.5e-7, 1.25e-6),
    m("gemini", "gemini-2.5-pro", "chat", 1_048_576, 65_535, 1.25e-6, 1.0e-5),
    m("gemini", "gemini-2.5-flash", "chat", 1_048_576, 65_535, 3.0e-7, 2.5e-6),
    m("gemini", "gemini-2.0-flash", "chat", 1_048_576, 8_192, 1.0e-7, 4.0e-7),
    m("groq", "llama-3.3-70b-versatile", "chat", 128_000, 32_768, 5.9e-7, 7.9e-7),
    m("groq", "llama-3.1-8b-instant", "chat", 128_000, 8_192, 5.0e-8, 8.0e-8),
    m("mistral", "mistral-large-latest", "chat", 128_000, 128_000, 2.0e-6, 6.0e-6),
    m("mistral", "mistral-small-latest", "chat", 32_000, 32_000, 1.0e-7, 3.0e-7),
    m("deepseek", "deepseek-chat", "chat", 65_536, 8_192, 2.7e-7, 1.1e-6),
    m("deepseek", "deepseek-reasoner", "chat", 65_536, 8_192, 5.5e-7, 2.19e-6),
    m("xai", "grok-3", "chat", 131_072, 131_072, 3.0e-6, 1.5e-5),
    m("xai", "grok-3-mini", "chat", 131_072, 131_072, 3.0e-7, 5.0e-7),
];

/// Looks a model up by provider and name (a `provider/` prefix on the name is ignored).
pub fn lookup(provider: &str, name: &str) -> Option<&'static CatalogModel> {
    let name = name.strip_prefix(provider).and_then(|n| n.strip_prefix('/')).unwrap_or(name);
    MODELS.iter().find(|m| m.provider == provider && m.name == name)
}

/// Every catalog model of a provider, for wildcard expansion.
pub fn of_provider(provider: &str) -> impl Iterator<Item = &'static CatalogModel> {
    MODELS.iter().filter(move |m| m.provider == provider)
}

#[cfg(test)]
mod tests {
    #[test]
    fn lookup_ignores_prefix() {
        assert_eq!(super::lookup("openai", "openai/gpt-4o").map(|m| m.max_input_tokens), Some(128_000));
        assert!(super::lookup("openai", "nope").is_none());
        assert!(super::of_provider("anthropic").count() >= 3);
    }
}
