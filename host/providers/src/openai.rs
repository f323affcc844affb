//! OpenAI and the OpenAI-compatible family (`groq`, `together_ai`,
//! `fireworks_ai`, `deepseek`, `xai`, `mistral`, `openrouter`, `perplexity`,
//! `cerebras`, `deepinfra`, `hosted_vllm`, `ollama`, `ollama_chat`,
//! `lm_studio`, `openai_like`, AI21's Jamba `ai21`/`ai21_chat`) and Azure OpenAI.
//!
//! They share one wire format, so one adapter serves all of them; the
//! [`FAMILY`] table holds what differs (default base URL, the environment
//! variables LiteLLM reads for the base and the key, model-name rules).
//! Azure differs in URL shape and auth header and is built by `azure.rs`
//! through [`OpenAiCompatible::new`]. Request bodies pass through untouched
//! apart from the model name and per-deployment default parameters.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value};
use tianji_core::GatewayError;
use tianji_core::traits::{CallOptions, ChunkStream, Provider, ResponsesStream, ValueStream};
use tianji_core::types::{
    ChatChunk, ChatRequest, ChatResponse, CompletionRequest, CompletionResponse, EmbeddingRequest, EmbeddingResponse, ImageRequest,
    ModerationRequest, PassthroughResponse, Reply, ResponsesPayload,
};

use crate::http::{HttpClient, UpstreamCall, json_body, parse_uri, sse_json_stream};
use crate::registry::{DeploymentSpec, ProviderFactory};

/// What differs between members of the OpenAI-compatible family.
#[derive(Debug, Clone, Copy)]
pub struct FamilyMember {
    /// Provider prefix in `model: <name>/...`.
    pub name: &'static str,
    /// Base URL when neither `api_base` nor an env var gives one.
    pub default_base: Option<&'static str>,
    /// Env vars LiteLLM reads for the base URL, in order.
    pub base_env: &'static [&'static str],
    /// Env vars LiteLLM reads for the key, in order.
    pub key_env: &'static [&'static str],
    /// Whether calls are expected to need a key (a warning at start-up if none).
    pub key_expected: bool,
    /// Prefix the upstream expects on model names (Fireworks' `accounts/fireworks/models/`).
    pub model_prefix: Option<&'static str>,
    /// Path appended to a base URL that lacks it (Ollama's OpenAI API lives under `/v1`).
    pub base_suffix: Option<&'static str>,
}

const fn member(
    name: &'static str,
    default_base: Option<&'static str>,
    base_env: &'static [&'static str],
    key_env: &'static [&'static str],
    key_expected: bool,
) -> FamilyMember {
    FamilyMember { name, default_base, base_env, key_env, key_expected, model_prefix: None, base_suffix: None }
}

/// The OpenAI-compatible family.
pub static FAMILY: &[FamilyMember] = &[
    member("openai", Some("https://api.openai.com/v1"), &["OPENAI_API_BASE", "OPENAI_BASE_URL"], &["OPENAI_API_KEY"], true),
    member("groq", Some("https://api.groq.com/openai/v1"), &["GROQ_API_BASE"], &["GROQ_API_KEY"], true),
    member(
        "together_ai",
        Some("https://api.together.xyz/v1"),
        &["TOGETHER_AI_API_BASE"],
        &["TOGETHERAI_API_KEY", "TOGETHER_AI_API_KEY", "TOGETHER_API_KEY"],
        true,
    ),
    FamilyMember {
        model_prefix: Some("accounts/fireworks/models/"),
        ..member(
            "fireworks_ai",
            Some("https://api.fireworks.ai/inference/v1"),
            &["FIREWORKS_API_BASE"],
            &["FIREWORKS_API_KEY", "FIREWORKS_AI_API_KEY", "FIREWORKSAI_API_KEY"],
            true,
        )
    },
    member("deepseek", Some("https://api.deepseek.com/v1"), &["DEEPSEEK_API_BASE"], &["DEEPSEEK_API_KEY"], true),
    member("xai", Some("https://api.x.ai/v1"), &["XAI_API_BASE"], &["XAI_API_KEY"], true),
    member("mistral", Some("https://api.mistral.ai/v1"), &["MISTRAL_API_BASE"], &["MISTRAL_API_KEY"], true),
    member("openrouter", Some("https://openrouter.ai/api/v1"), &["OPENROUTER_API_BASE"], &["OPENROUTER_API_KEY", "OR_API_KEY"], true),
    member(
        "perplexity",
        Some("https://api.perplexity.ai"),
        &["PERPLEXITY_API_BASE"],
        &["PERPLEXITYAI_API_KEY", "PERPLEXITY_API_KEY"],
        true,
    ),
    member("cerebras", Some("https://api.cerebras.ai/v1"), &["CEREBRAS_API_BASE"], &["CEREBRAS_API_KEY"], true),
    member("deepinfra", Some("https://api.deepinfra.com/v1/openai"), &["DEEPINFRA_API_BASE"], &["DEEPINFRA_API_KEY"], true),
    member("hosted_vllm", None, &["HOSTED_VLLM_API_BASE"], &["HOSTED_VLLM_API_KEY"], false),
    FamilyMember {
        base_suffix: Some("/v1"),
        ..member("ollama", Some("http://localhost:11434"), &["OLLAMA_API_BASE"], &["OLLAMA_API_KEY"], false)
    },
    FamilyMember {
        base_suffix: Some("/v1"),
        ..member("ollama_chat", Some("http://localhost:11434"), &["OLLAMA_API_BASE"], &["OLLAMA_API_KEY"], false)
    },
    member("lm_studio", Some("http://localhost:1234/v1"), &["LM_STUDIO_API_BASE"], &["LM_STUDIO_API_KEY"], false),
    member("openai_like", None, &[], &["OPENAI_LIKE_API_KEY"], false),
    // AI21's Jamba chat API speaks OpenAI's chat format.
    member("ai21_chat", Some("https://api.ai21.com/studio/v1"), &["AI21_API_BASE"], &["AI21_API_KEY"], true),
    member("ai21", Some("https://api.ai21.com/studio/v1"), &["AI21_API_BASE"], &["AI21_API_KEY"], true),
];

/// How the upstream authenticates.
#[derive(Debug, Clone)]
pub enum Auth {
    /// No credentials.
    None,
    /// `Authorization: Bearer <key>`.
    Bearer(HeaderValue),
    /// `api-key: <key>` (Azure).
    ApiKey(HeaderValue),
}

/// How operation URLs are formed.
#[derive(Debug, Clone)]
pub enum UrlStyle {
    /// `{base}/chat/completions`.
    Standard,
    /// `{base}/openai/deployments/{deployment}/chat/completions?api-version={v}`.
    Azure {
        /// `api-version` query value.
        api_version: String,
    },
}

/// One deployment on an OpenAI-format API.
pub struct OpenAiCompatible {
    provider: String,
    client: HttpClient,
    api_base: String,
    upstream_model: String,
    headers: HeaderMap,
    default_params: Map<String, Value>,
    chat_url: http::Uri,
    completions_url: http::Uri,
    embeddings_url: http::Uri,
    moderations_url: http::Uri,
    images_url: http::Uri,
    responses_url: http::Uri,
    /// `{base}/responses/` (Azure: with the `api-version` query added per call).
    responses_base: String,
    responses_query: String,
}

impl OpenAiCompatible {
    /// Builds the adapter; `api_base` has no trailing slash.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        provider: &str,
        client: HttpClient,
        api_base: String,
        upstream_model: String,
        auth: Auth,
        url_style: UrlStyle,
        spec: &DeploymentSpec<'_>,
    ) -> Result<Self, String> {
        let mut headers = HeaderMap::new();
        match auth {
            Auth::None => {}
            Auth::Bearer(v) => {
                headers.insert(http::header::AUTHORIZATION, v);
            }
            Auth::ApiKey(v) => {
                headers.insert(HeaderName::from_static("api-key"), v);
            }
        }
        if let Some(org) = &spec.params.organization {
            let v = HeaderValue::from_str(org).map_err(|_| "organization is not a valid header value".to_owned())?;
            headers.insert(HeaderName::from_static("openai-organization"), v);
        }
        crate::http::add_extra_headers(&mut headers, &spec.params.extra_headers)?;
        // URLs are parsed once here, not on every request.
        let url = |op: &str| {
            let text = match &url_style {
                UrlStyle::Standard => format!("{api_base}/{op}"),
                UrlStyle::Azure { api_version } => {
                    format!("{api_base}/openai/deployments/{upstream_model}/{op}?api-version={api_version}")
                }
            };
            parse_uri(&text).map_err(|e| format!("api_base '{api_base}' does not make a valid URL: {e}"))
        };
        Ok(Self {
            provider: provider.to_owned(),
            client,
            chat_url: url("chat/completions")?,
            completions_url: url("completions")?,
            embeddings_url: url("embeddings")?,
            moderations_url: url("moderations")?,
            images_url: url("images/generations")?,
            responses_url: match &url_style {
                UrlStyle::Standard => parse_uri(&format!("{api_base}/responses")),
                UrlStyle::Azure { api_version } => parse_uri(&format!("{api_base}/openai/responses?api-version={api_version}")),
            }
            .map_err(|e| format!("api_base '{api_base}' does not make a valid URL: {e}"))?,
            responses_base: match &url_style {
                UrlStyle::Standard => format!("{api_base}/responses/"),
                UrlStyle::Azure { .. } => format!("{api_base}/openai/responses/"),
            },
            responses_query: match &url_style {
                UrlStyle::Standard => String::new(),
                UrlStyle::Azure { api_version } => format!("?api-version={api_version}"),
            },
            api_base,
            upstream_model,
            headers,
            default_params: spec.params.default_params.clone(),
        })
    }

    fn call<'a>(&'a self, uri: &'a http::Uri, opts: &CallOptions) -> UpstreamCall<'a> {
        UpstreamCall { client: &self.client, provider: &self.provider, uri, headers: &self.headers, timeout: opts.timeout }
    }

    /// Applies per-deployment defaults under the request's own values.
    fn apply_defaults(&self, req: &mut ChatRequest) {
        crate::defaults::apply(&self.default_params, req);
    }

    fn apply_defaults_map(&self, extra: &mut Map<String, Value>) {
        for (k, v) in &self.default_params {
            extra.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
}

#[async_trait]
impl Provider for OpenAiCompatible {
    fn provider_name(&self) -> &str {
        &self.provider
    }

    fn api_base(&self) -> Option<&str> {
        Some(&self.api_base)
    }

    async fn chat(&self, mut req: ChatRequest, opts: &CallOptions) -> Result<Reply<ChatResponse>, GatewayError> {
        req.model.clone_from(&self.upstream_model);
        req.stream = false;
        self.apply_defaults(&mut req);
        let body = json_body(&req)?;
        self.call(&self.chat_url, opts).reply(body).await
    }

    async fn chat_stream(&self, mut req: ChatRequest, opts: &CallOptions) -> Result<ChunkStream, GatewayError> {
        req.model.clone_from(&self.upstream_model);
        req.stream = true;
        self.apply_defaults(&mut req);
        let body = json_body(&req)?;
        let resp = self.call(&self.chat_url, opts).stream(body).await?;
        Ok(sse_json_stream::<ChatChunk>(&self.provider, resp, opts.timeout).boxed())
    }

    async fn completion(&self, mut req: CompletionRequest, opts: &CallOptions) -> Result<Reply<CompletionResponse>, GatewayError> {
        req.model.clone_from(&self.upstream_model);
        req.stream = false;
        self.apply_defaults_map(&mut req.extra);
        let body = json_body(&req)?;
        self.call(&self.completions_url, opts).reply(body).await
    }

    async fn completion_stream(&self, mut req: CompletionRequest, opts: &CallOptions) -> Result<ValueStream, GatewayError> {
        req.model.clone_from(&self.upstream_model);
        req.stream = true;
        self.apply_defaults_map(&mut req.extra);
        let body = json_body(&req)?;
        let resp = self.call(&self.completions_url, opts).stream(body).await?;
        Ok(sse_json_stream::<Value>(&self.provider, resp, opts.timeout).boxed())
    }

    async fn embedding(&self, mut req: EmbeddingRequest, opts: &CallOptions) -> Result<Reply<EmbeddingResponse>, GatewayError> {
        req.model.clone_from(&self.upstream_model);
        let body = json_body(&req)?;
        self.call(&self.embeddings_url, opts).reply(body).await
    }

    fn serves_responses(&self) -> bool {
        matches!(self.provider.as_str(), "openai" | "azure")
    }

    async fn responses(&self, mut body: Value, opts: &CallOptions) -> Result<Reply<ResponsesPayload>, GatewayError> {
        body["model"] = Value::String(self.upstream_model.clone());
        let bytes = self.call(&self.responses_url, opts).bytes(json_body(&body)?).await?;
        Ok(Reply::Parsed(crate::http::decode_json(&self.provider, &bytes)?))
    }

    async fn responses_stream(&self, mut body: Value, opts: &CallOptions) -> Result<ResponsesStream, GatewayError> {
        body["model"] = Value::String(self.upstream_model.clone());
        let resp = self.call(&self.responses_url, opts).stream(json_body(&body)?).await?;
        let relay = crate::responses::PassThroughEvents::new(&self.provider);
        Ok(crate::http::translate_stream(&self.provider, crate::http::sse_events(resp), opts.timeout, relay).boxed())
    }

    async fn get_response(&self, id: &str, opts: &CallOptions) -> Result<Reply<ResponsesPayload>, GatewayError> {
        let encoded = crate::aws::encode_path_segment(id);
        let uri = parse_uri(&format!("{}{encoded}{}", self.responses_base, self.responses_query))
            .map_err(|e| GatewayError::bad_request(e, Some("id")))?;
        let bytes = self.call(&uri, opts).get().await?;
        Ok(Reply::Parsed(crate::http::decode_json(&self.provider, &bytes)?))
    }

    async fn moderation(&self, mut req: ModerationRequest, opts: &CallOptions) -> Result<PassthroughResponse, GatewayError> {
        req.model = Some(self.upstream_model.clone());
        let body = json_body(&req)?;
        self.call(&self.moderations_url, opts).json(body).await
    }

    async fn image_generation(&self, mut req: ImageRequest, opts: &CallOptions) -> Result<PassthroughResponse, GatewayError> {
        req.model = Some(self.upstream_model.clone());
        let body = json_body(&req)?;
        self.call(&self.images_url, opts).json(body).await
    }
}

/// Builds every member of [`FAMILY`].
pub struct OpenAiFamilyFactory;

impl ProviderFactory for OpenAiFamilyFactory {
    fn names(&self) -> Vec<&'static str> {
        FAMILY.iter().map(|m| m.name).collect()
    }

    fn build(&self, spec: &DeploymentSpec<'_>, client: &HttpClient) -> Result<Arc<dyn Provider>, String> {
        let member = FAMILY
            .iter()
            .find(|m| m.name == spec.provider)
            .ok_or_else(|| format!("'{}' is not an OpenAI-compatible provider", spec.provider))?;
        let base = spec
            .params
            .api_base
            .clone()
            .or_else(|| spec.env.first_of(member.base_env))
            .or_else(|| member.default_base.map(str::to_owned))
            .ok_or_else(|| {
                let envs = if member.base_env.is_empty() { String::new() } else { format!(" or set {}", member.base_env.join(" / ")) };
                format!("{} needs api_base (the server's URL, e.g. http://localhost:8000/v1){envs}", member.name)
            })?;
        let mut base = base.trim_end_matches('/').to_owned();
        if let Some(suffix) = member.base_suffix
            && !base.ends_with(suffix)
        {
            base.push_str(suffix);
        }
        let key = spec.params.api_key.clone().or_else(|| spec.env.first_of(member.key_env));
        let auth = match key {
            Some(k) => {
                Auth::Bearer(HeaderValue::from_str(&format!("Bearer {k}")).map_err(|_| "api_key is not a valid header value".to_owned())?)
            }
            None => {
                if member.key_expected {
                    tracing::warn!(
                        provider = member.name,
                        "no API key for {}: set litellm_params.api_key or {}; calls will be sent without one",
                        spec.upstream_model,
                        member.key_env.join(" / ")
                    );
                }
                Auth::None
            }
        };
        let model = match member.model_prefix {
            Some(prefix) if !spec.upstream_model.starts_with(prefix) && !spec.upstream_model.contains('/') => {
                format!("{prefix}{}", spec.upstream_model)
            }
            _ => spec.upstream_model.to_owned(),
        };
        let p = OpenAiCompatible::new(member.name, client.clone(), base, model, auth, UrlStyle::Standard, spec)?;
        Ok(Arc::new(p))
    }
}

/// Default per-attempt timeout when nothing configures one (LiteLLM's 600 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
