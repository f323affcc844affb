//! `gemini/`: Google AI Studio's Gemini API
//! (`{base}/v1beta/models/{model}:generateContent`, `x-goog-api-key`).
//!
//! [`request`], [`response`] and [`stream`] translate to and from the
//! `generateContent` format; [`GenerateContent`] is the deployment, and
//! Vertex AI (`vertex.rs`) builds the same deployment with its own URLs and
//! an OAuth2 token instead of the key.

pub mod request;
pub mod response;
pub mod stream;
pub mod wire;

use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value, json};
use tianji_core::traits::{CallOptions, ChunkStream, Provider};
use tianji_core::types::{ChatRequest, ChatResponse, EmbeddingRequest, EmbeddingResponse, Reply, estimate_tokens};
use tianji_core::{ErrorKind, GatewayError};

use crate::http::{AccessToken, HttpClient, UpstreamCall, decode_json, json_body, parse_uri, sse_events, translate_stream};
use crate::registry::{DeploymentSpec, ProviderFactory};

/// Default base URL of the Gemini API.
pub const DEFAULT_BASE: &str = "https://generativelanguage.googleapis.com";

/// The endpoints of one deployment.
pub struct Endpoints {
    /// `...:generateContent`.
    pub generate: http::Uri,
    /// `...:streamGenerateContent?alt=sse`.
    pub stream: http::Uri,
    /// `...:batchEmbedContents` (Gemini API) or `...:predict` (Vertex AI).
    pub embed: http::Uri,
    /// Which embedding request shape `embed` takes.
    pub embed_style: EmbedStyle,
}

/// The embedding request shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EmbedStyle {
    /// Gemini API `batchEmbedContents`: `{"requests": [{"model", "content": {"parts"}}]}`.
    BatchEmbedContents,
    /// Vertex AI `predict`: `{"instances": [{"content"}]}`.
    Predict,
}

/// One deployment speaking `generateContent` (Gemini API or Vertex AI).
pub struct GenerateContent {
    provider: &'static str,
    client: HttpClient,
    api_base: String,
    model: String,
    endpoints: Endpoints,
    headers: HeaderMap,
    token: Option<Arc<dyn AccessToken>>,
    default_params: Map<String, Value>,
}

impl GenerateContent {
    /// A deployment; `token`, when given, sets `Authorization` on every call.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        provider: &'static str,
        client: HttpClient,
        api_base: String,
        model: String,
        endpoints: Endpoints,
        headers: HeaderMap,
        token: Option<Arc<dyn AccessToken>>,
        default_params: Map<String, Value>,
    ) -> Self {
        Self { provider, client, api_base, model, endpoints, headers, token, default_params }
    }

    /// The headers for one call (with a fresh token where there is one).
    async fn headers(&self) -> Result<std::borrow::Cow<'_, HeaderMap>, GatewayError> {
        crate::http::with_token(&self.headers, self.token.as_deref()).await
    }

    fn build(&self, mut req: ChatRequest) -> Result<(bytes::Bytes, bool), GatewayError> {
        crate::defaults::apply(&self.default_params, &mut req);
        let include_usage = req.stream_options.as_ref().is_some_and(|o| o.include_usage);
        Ok((json_body(&request::to_gemini(req)?)?, include_usage))
    }
}

#[async_trait]
impl Provider for GenerateContent {
    fn provider_name(&self) -> &str {
        self.provider
    }

    fn api_base(&self) -> Option<&str> {
        Some(&self.api_base)
    }

    fn supported_params(&self) -> Option<&'static [&'static str]> {
        Some(request::SUPPORTED_PARAMS)
    }

    async fn chat(&self, req: ChatRequest, opts: &CallOptions) -> Result<Reply<ChatResponse>, GatewayError> {
        let (body, _) = self.build(req)?;
        let headers = self.headers().await?;
        let call = UpstreamCall {
            client: &self.client,
            provider: self.provider,
            uri: &self.endpoints.generate,
            headers: &headers,
            timeout: opts.timeout,
        };
        let answer: wire::GenerateResponse = decode_json(self.provider, &call.bytes(body).await?)?;
        Ok(Reply::Parsed(response::from_gemini(answer, &self.model)))
    }

    async fn chat_stream(&self, req: ChatRequest, opts: &CallOptions) -> Result<ChunkStream, GatewayError> {
        let (body, include_usage) = self.build(req)?;
        let headers = self.headers().await?;
        let call = UpstreamCall {
            client: &self.client,
            provider: self.provider,
            uri: &self.endpoints.stream,
            headers: &headers,
            timeout: opts.timeout,
        };
        let resp = call.stream(body).await?;
        let translator = stream::GeminiStream::new(self.provider, &self.model, include_usage);
        Ok(translate_stream(self.provider, sse_events(resp), opts.timeout, translator).boxed())
    }

    async fn embedding(&self, req: EmbeddingRequest, opts: &CallOptions) -> Result<Reply<EmbeddingResponse>, GatewayError> {
        let texts = crate::translate::embedding_texts(&req.input, self.provider)?;
        let dims = req.extra.get("dimensions").and_then(Value::as_u64);
        let body = match self.endpoints.embed_style {
            EmbedStyle::BatchEmbedContents => {
                let requests: Vec<Value> = texts
                    .iter()
                    .map(|t| {
                        let mut r = json!({"model": format!("models/{}", self.model), "content": {"parts": [{"text": t}]}});
                        if let Some(d) = dims {
                            r["outputDimensionality"] = json!(d);
                        }
                        r
                    })
                    .collect();
                json!({ "requests": requests })
            }
            EmbedStyle::Predict => {
                let instances: Vec<Value> = texts.iter().map(|t| json!({"content": t})).collect();
                let mut b = json!({ "instances": instances });
                if let Some(d) = dims {
                    b["parameters"] = json!({"outputDimensionality": d});
                }
                b
            }
        };
        let headers = self.headers().await?;
        let call = UpstreamCall {
            client: &self.client,
            provider: self.provider,
            uri: &self.endpoints.embed,
            headers: &headers,
            timeout: opts.timeout,
        };
        let answer: Value = decode_json(self.provider, &call.bytes(json_body(&body)?).await?)?;
        let vectors: Vec<&Value> = match self.endpoints.embed_style {
            EmbedStyle::BatchEmbedContents => {
                answer.get("embeddings").and_then(Value::as_array).map(|a| a.iter().filter_map(|e| e.get("values")).collect())
            }
            EmbedStyle::Predict => answer
                .get("predictions")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|p| p.pointer("/embeddings/values")).collect()),
        }
        .unwrap_or_default();
        if vectors.len() != texts.len() {
            return Err(GatewayError::new(
                ErrorKind::UpstreamServer,
                format!("{} returned {} embeddings for {} inputs", self.provider, vectors.len(), texts.len()),
            )
            .with_status(http::StatusCode::BAD_GATEWAY)
            .with_provider(self.provider));
        }
        let prompt: u64 = texts.iter().map(|t| estimate_tokens(t)).sum();
        Ok(Reply::Parsed(crate::translate::embedding_response(vectors, &self.model, prompt)))
    }
}

/// Builds `gemini/` deployments.
pub struct GeminiFactory;

impl ProviderFactory for GeminiFactory {
    fn names(&self) -> Vec<&'static str> {
        vec!["gemini"]
    }

    fn build(&self, spec: &DeploymentSpec<'_>, client: &HttpClient) -> Result<Arc<dyn Provider>, String> {
        let base =
            spec.params.api_base.clone().or_else(|| spec.env.first_of(&["GEMINI_API_BASE"])).unwrap_or_else(|| DEFAULT_BASE.to_owned());
        let base = base.trim_end_matches('/').to_owned();
        let model = spec.upstream_model.trim_start_matches("models/");
        let root = if base.ends_with("/v1beta") || base.ends_with("/v1") { base.clone() } else { format!("{base}/v1beta") };
        let at = |op: &str| parse_uri(&format!("{root}/models/{model}:{op}"));
        let endpoints = Endpoints {
            generate: at("generateContent")?,
            stream: at("streamGenerateContent?alt=sse")?,
            embed: at("batchEmbedContents")?,
            embed_style: EmbedStyle::BatchEmbedContents,
        };
        let mut headers = HeaderMap::new();
        match spec.params.api_key.clone().or_else(|| spec.env.first_of(&["GEMINI_API_KEY", "GOOGLE_API_KEY"])) {
            Some(key) => {
                let v = HeaderValue::from_str(&key).map_err(|_| "api_key is not a valid header value".to_owned())?;
                headers.insert(HeaderName::from_static("x-goog-api-key"), v);
            }
            None => tracing::warn!(
                provider = "gemini",
                "no API key for {model}: set litellm_params.api_key or GEMINI_API_KEY; calls will be sent without one"
            ),
        }
        crate::http::add_extra_headers(&mut headers, &spec.params.extra_headers)?;
        Ok(Arc::new(GenerateContent::new(
            "gemini",
            client.clone(),
            base,
            model.to_owned(),
            endpoints,
            headers,
            None,
            spec.params.default_params.clone(),
        )))
    }
}
