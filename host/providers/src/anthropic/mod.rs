//! `anthropic/`: Anthropic's Messages API (`POST {base}/v1/messages`,
//! `x-api-key`, `anthropic-version`).
//!
//! [`request`] builds the Anthropic request from the OpenAI one,
//! [`response`] the chat completion from the answer, [`stream`] chat chunks
//! from the event stream; [`wire`] holds the API's types, which the
//! `/v1/messages` endpoint's [`inbound`] translation shares.

pub mod inbound;
pub mod request;
pub mod response;
pub mod stream;
pub mod wire;

use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value};
use tianji_core::GatewayError;
use tianji_core::traits::{CallOptions, ChunkStream, Provider};
use tianji_core::types::{ChatRequest, ChatResponse, Reply};

use crate::http::{AccessToken, HttpClient, UpstreamCall, decode_json, json_body, parse_uri, sse_events, translate_stream};
use crate::registry::{DeploymentSpec, ProviderFactory};

/// The API version sent as `anthropic-version`.
pub const API_VERSION: &str = "2023-06-01";

/// Default base URL.
pub const DEFAULT_BASE: &str = "https://api.anthropic.com";

/// Where and how one deployment reaches the Messages API: Anthropic's own
/// (`/v1/messages`, `x-api-key`) or a cloud's (Vertex AI's `:rawPredict`
/// with an OAuth2 token, the model in the URL and the version in the body).
pub struct Endpoint {
    /// Non-streamed calls.
    pub url: http::Uri,
    /// Streamed calls (the same URL on Anthropic's API).
    pub stream_url: http::Uri,
    /// `count_tokens`, where the endpoint has it.
    pub count_url: Option<http::Uri>,
    /// Fixed headers (key, version, extra headers).
    pub headers: HeaderMap,
    /// Sets `Authorization` per call, when the endpoint takes a bearer token.
    pub token: Option<Arc<dyn AccessToken>>,
    /// `anthropic_version` sent in the body instead of the model (Vertex AI).
    pub body_version: Option<&'static str>,
}

/// One Anthropic deployment.
pub struct Anthropic {
    provider: &'static str,
    client: HttpClient,
    api_base: String,
    model: String,
    endpoint: Endpoint,
    default_params: Map<String, Value>,
}

impl Anthropic {
    /// A deployment of `model` at `endpoint`.
    pub fn new(
        provider: &'static str,
        client: HttpClient,
        api_base: String,
        model: String,
        endpoint: Endpoint,
        default_params: Map<String, Value>,
    ) -> Self {
        Self { provider, client, api_base, model, endpoint, default_params }
    }

    /// The endpoint's headers for one call (with a fresh token where it takes one).
    async fn headers(&self) -> Result<std::borrow::Cow<'_, HeaderMap>, GatewayError> {
        crate::http::with_token(&self.endpoint.headers, self.endpoint.token.as_deref()).await
    }

    fn upstream<'a>(&'a self, uri: &'a http::Uri, headers: &'a HeaderMap, opts: &CallOptions) -> UpstreamCall<'a> {
        UpstreamCall { client: &self.client, provider: self.provider, uri, headers, timeout: opts.timeout }
    }

    async fn post(&self, uri: &http::Uri, body: bytes::Bytes, opts: &CallOptions) -> Result<bytes::Bytes, GatewayError> {
        let headers = self.headers().await?;
        self.upstream(uri, &headers, opts).bytes(body).await
    }

    /// The wire request for `req`, shaped for this endpoint.
    fn request(&self, req: ChatRequest) -> Result<(wire::MessagesRequest, request::Translated), GatewayError> {
        let (mut body, translated) = request::to_anthropic(req, &self.model)?;
        if let Some(version) = self.endpoint.body_version {
            body.model.clear();
            body.extra.insert("anthropic_version".to_owned(), Value::from(version));
        }
        Ok((body, translated))
    }

    fn build(&self, mut req: ChatRequest, stream: bool) -> Result<(bytes::Bytes, request::Translated, bool), GatewayError> {
        crate::defaults::apply(&self.default_params, &mut req);
        req.stream = stream;
        let include_usage = req.stream_options.as_ref().is_some_and(|o| o.include_usage);
        let (body, translated) = self.request(req)?;
        Ok((json_body(&body)?, translated, include_usage))
    }
}

/// `{base}/v1/messages`, accepting a base that already ends in `/v1` or `/v1/messages`.
pub fn messages_url(base: &str) -> String {
    let base = base.trim_end_matches('/');
    if base.ends_with("/v1/messages") {
        base.to_owned()
    } else if base.ends_with("/v1") {
        format!("{base}/messages")
    } else {
        format!("{base}/v1/messages")
    }
}

#[async_trait]
impl Provider for Anthropic {
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
        let (body, translated, _) = self.build(req, false)?;
        let bytes = self.post(&self.endpoint.url, body, opts).await?;
        let answer: wire::MessagesResponse = decode_json(self.provider, &bytes)?;
        Ok(Reply::Parsed(response::from_anthropic(answer, translated)))
    }

    async fn count_tokens(&self, req: ChatRequest, opts: &CallOptions) -> Result<u64, GatewayError> {
        let Some(count_url) = &self.endpoint.count_url else {
            return Err(tianji_core::traits::unsupported(self.provider, "token counting"));
        };
        let (request, _) = request::to_anthropic(req, &self.model)?;
        let mut body = serde_json::to_value(&request).map_err(|e| GatewayError::internal(e.to_string()))?;
        // count_tokens takes the prompt only; sampling fields are refused there.
        if let Some(o) = body.as_object_mut() {
            o.retain(|k, _| matches!(k.as_str(), "model" | "messages" | "system" | "tools" | "tool_choice" | "thinking"));
        }
        let answer: Value = decode_json(self.provider, &self.post(count_url, json_body(&body)?, opts).await?)?;
        answer
            .get("input_tokens")
            .and_then(Value::as_u64)
            .ok_or_else(|| crate::http::malformed(self.provider, "count_tokens answer without input_tokens"))
    }

    async fn chat_stream(&self, req: ChatRequest, opts: &CallOptions) -> Result<ChunkStream, GatewayError> {
        let (body, translated, include_usage) = self.build(req, true)?;
        let headers = self.headers().await?;
        let resp = self.upstream(&self.endpoint.stream_url, &headers, opts).stream(body).await?;
        let translator = stream::AnthropicStream::new(self.provider, translated, include_usage);
        Ok(translate_stream(self.provider, sse_events(resp), opts.timeout, translator).boxed())
    }
}

/// Builds `anthropic/` deployments.
pub struct AnthropicFactory;

impl ProviderFactory for AnthropicFactory {
    fn names(&self) -> Vec<&'static str> {
        vec!["anthropic"]
    }

    fn build(&self, spec: &DeploymentSpec<'_>, client: &HttpClient) -> Result<Arc<dyn Provider>, String> {
        let base = spec
            .params
            .api_base
            .clone()
            .or_else(|| spec.env.first_of(&["ANTHROPIC_API_BASE", "ANTHROPIC_BASE_URL"]))
            .unwrap_or_else(|| DEFAULT_BASE.to_owned());
        let url = parse_uri(&messages_url(&base))?;
        let count_url = parse_uri(&format!("{}/count_tokens", messages_url(&base)))?;
        let mut headers = HeaderMap::new();
        match spec.params.api_key.clone().or_else(|| spec.env.first_of(&["ANTHROPIC_API_KEY"])) {
            Some(key) => {
                let v = HeaderValue::from_str(&key).map_err(|_| "api_key is not a valid header value".to_owned())?;
                headers.insert(HeaderName::from_static("x-api-key"), v);
            }
            None => tracing::warn!(
                provider = "anthropic",
                "no API key for {}: set litellm_params.api_key or ANTHROPIC_API_KEY; calls will be sent without one",
                spec.upstream_model
            ),
        }
        headers.insert(HeaderName::from_static("anthropic-version"), HeaderValue::from_static(API_VERSION));
        crate::http::add_extra_headers(&mut headers, &spec.params.extra_headers)?;
        let endpoint = Endpoint { stream_url: url.clone(), url, count_url: Some(count_url), headers, token: None, body_version: None };
        Ok(Arc::new(Anthropic::new(
            "anthropic",
            client.clone(),
            base.trim_end_matches('/').to_owned(),
            spec.upstream_model.to_owned(),
            endpoint,
            spec.params.default_params.clone(),
        )))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn messages_url_accepts_each_base_form() {
        for base in [
            "https://api.anthropic.com",
            "https://api.anthropic.com/",
            "https://api.anthropic.com/v1",
            "https://api.anthropic.com/v1/messages",
        ] {
            assert_eq!(super::messages_url(base), "https://api.anthropic.com/v1/messages", "{base}");
        }
    }
}
