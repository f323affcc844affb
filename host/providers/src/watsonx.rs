//! `watsonx/` and `watsonx_text/`: IBM watsonx.ai
//! (<https://cloud.ibm.com/apidocs/watsonx-ai>).
//!
//! Calls carry an IAM bearer token, exchanged for the API key at IBM Cloud
//! IAM (`POST {iam}/identity/token`, `grant_type=urn:ibm:params:oauth:grant-type:apikey`)
//! and cached until a minute before it expires; a `token` (or
//! `WATSONX_TOKEN`) is used as is instead. `watsonx/<model>` uses the chat
//! API (`/ml/v1/text/chat`, `/ml/v1/text/chat_stream`), whose messages,
//! tools and answers are OpenAI-shaped, adding `model_id` and `project_id`
//! (or `space_id`); `watsonx/deployment/<id>` calls a deployment
//! (`/ml/v1/deployments/{id}/text/chat`). `watsonx_text/<model>` uses text
//! generation (`/ml/v1/text/generation`) with the conversation as one prompt.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use async_trait::async_trait;
use futures::StreamExt;
use http::{HeaderMap, HeaderValue};
use serde_json::{Map, Value, json};
use tianji_core::traits::{CallOptions, ChunkStream, Provider};
use tianji_core::types::{ChatChunk, ChatRequest, ChatResponse, Choice, Message, Reply, Usage, unix_now};
use tianji_core::{ErrorKind, GatewayError};
use tokio::sync::Mutex;

use crate::http::{HttpClient, UpstreamCall, decode_json, json_body, malformed, parse_uri, sse_json_stream};
use crate::registry::{DeploymentSpec, ProviderFactory};

/// Default IAM endpoint.
pub const DEFAULT_IAM: &str = "https://iam.cloud.ibm.com";

/// API version sent as `?version=` (LiteLLM's default).
pub const DEFAULT_VERSION: &str = "2024-03-13";

/// Params this factory reads.
const PARAMS: &[&str] = &["project_id", "space_id", "token", "api_version", "watsonx_iam_url", "deployment_space_id"];

/// How long before expiry a token is replaced.
const REFRESH_BEFORE: Duration = Duration::from_secs(60);

/// Where the bearer token comes from.
enum Credential {
    /// Used as given.
    Static(HeaderValue),
    /// Exchanged for an API key at IAM, cached until shortly before expiry.
    ApiKey { key: String, iam: http::Uri, cached: ArcSwapOption<(HeaderValue, Instant)>, refresh: Mutex<()> },
}

/// One watsonx.ai deployment.
pub struct Watsonx {
    provider: &'static str,
    client: HttpClient,
    api_base: String,
    model: String,
    /// `model_id` (absent for deployments).
    model_id: Option<String>,
    /// `project_id` / `space_id`.
    scope: Map<String, Value>,
    chat: http::Uri,
    chat_stream: http::Uri,
    generation: http::Uri,
    text: bool,
    credential: Credential,
    default_params: Map<String, Value>,
}

impl Watsonx {
    async fn authorization(&self, opts: &CallOptions) -> Result<HeaderValue, GatewayError> {
        let (key, iam, cached, refresh) = match &self.credential {
            Credential::Static(v) => return Ok(v.clone()),
            Credential::ApiKey { key, iam, cached, refresh } => (key, iam, cached, refresh),
        };
        let fresh =
            |c: &Option<Arc<(HeaderValue, Instant)>>| c.as_ref().filter(|c| Instant::now() + REFRESH_BEFORE < c.1).map(|c| c.0.clone());
        if let Some(v) = fresh(&cached.load_full()) {
            return Ok(v);
        }
        // One exchange at a time; the others wait for its token.
        let _guard = refresh.lock().await;
        if let Some(v) = fresh(&cached.load_full()) {
            return Ok(v);
        }
        let body = format!("grant_type=urn%3Aibm%3Aparams%3Aoauth%3Agrant-type%3Aapikey&apikey={}", form_encode(key));
        let mut headers = HeaderMap::new();
        headers.insert(http::header::ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
        let call = UpstreamCall { client: &self.client, provider: self.provider, uri: iam, headers: &headers, timeout: opts.timeout };
        let resp = call.bytes(body.into()).await.map_err(|e| {
            GatewayError::new(e.kind, format!("watsonx IAM token exchange failed: {}", e.message))
                .with_status(e.status)
                .with_provider(self.provider)
        })?;
        let v: Value = decode_json(self.provider, &resp)?;
        let token =
            v.get("access_token").and_then(Value::as_str).ok_or_else(|| malformed(self.provider, "IAM answer without access_token"))?;
        let ttl = v.get("expires_in").and_then(Value::as_u64).unwrap_or(3600);
        let header = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| malformed(self.provider, "IAM token is not a valid header value"))?;
        cached.store(Some(Arc::new((header.clone(), Instant::now() + Duration::from_secs(ttl)))));
        Ok(header)
    }

    async fn headers(&self, opts: &CallOptions) -> Result<HeaderMap, GatewayError> {
        let mut h = HeaderMap::new();
        h.insert(http::header::AUTHORIZATION, self.authorization(opts).await?);
        h.insert(http::header::ACCEPT, HeaderValue::from_static("application/json"));
        Ok(h)
    }

    fn chat_body(&self, mut req: ChatRequest) -> Result<bytes::Bytes, GatewayError> {
        crate::defaults::apply(&self.default_params, &mut req);
        let mut v = serde_json::to_value(&req).map_err(|e| GatewayError::internal(e.to_string()))?;
        let o = v.as_object_mut().ok_or_else(|| GatewayError::internal("chat request is not an object"))?;
        o.remove("model");
        o.remove("stream");
        o.remove("stream_options");
        if let Some(id) = &self.model_id {
            o.insert("model_id".to_owned(), json!(id));
        }
        o.extend(self.scope.clone());
        json_body(&v)
    }

    fn generation_body(&self, mut req: ChatRequest) -> Result<bytes::Bytes, GatewayError> {
        crate::defaults::apply(&self.default_params, &mut req);
        let mut prompt = String::new();
        for m in &req.messages {
            prompt.push_str(&m.text_content());
            prompt.push('\n');
        }
        let mut params = Map::new();
        if let Some(n) = req.max_completion_tokens.or(req.max_tokens) {
            params.insert("max_new_tokens".to_owned(), json!(n));
        }
        if let Some(t) = req.temperature {
            params.insert("temperature".to_owned(), json!(t));
            params.insert("decoding_method".to_owned(), json!(if t > 0.0 { "sample" } else { "greedy" }));
        }
        if let Some(p) = req.top_p {
            params.insert("top_p".to_owned(), json!(p));
        }
        if let Some(stop) = crate::translate::stop_list(req.stop)? {
            params.insert("stop_sequences".to_owned(), Value::Array(stop));
        }
        let mut body = json!({"input": prompt, "parameters": params});
        if let Some(id) = &self.model_id {
            body["model_id"] = json!(id);
        }
        if let Some(o) = body.as_object_mut() {
            o.extend(self.scope.clone());
        }
        json_body(&body)
    }
}

/// `application/x-www-form-urlencoded` value encoding.
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[async_trait]
impl Provider for Watsonx {
    fn provider_name(&self) -> &str {
        self.provider
    }

    fn api_base(&self) -> Option<&str> {
        Some(&self.api_base)
    }

    async fn chat(&self, req: ChatRequest, opts: &CallOptions) -> Result<Reply<ChatResponse>, GatewayError> {
        let headers = self.headers(opts).await?;
        if self.text {
            let body = self.generation_body(req)?;
            let call = UpstreamCall {
                client: &self.client,
                provider: self.provider,
                uri: &self.generation,
                headers: &headers,
                timeout: opts.timeout,
            };
            let v: Value = decode_json(self.provider, &call.bytes(body).await?)?;
            let r = v.pointer("/results/0").ok_or_else(|| malformed(self.provider, "the answer has no results"))?;
            let n = |k: &str| r.get(k).and_then(Value::as_u64).unwrap_or(0);
            let finish = match r.get("stop_reason").and_then(Value::as_str) {
                Some("max_tokens" | "token_limit") => "length",
                _ => "stop",
            };
            let text = r.get("generated_text").and_then(Value::as_str).unwrap_or_default();
            return Ok(Reply::Parsed(ChatResponse {
                id: format!("chatcmpl-{:016x}", fastrand::u64(..)),
                object: "chat.completion".to_owned(),
                created: unix_now(),
                model: self.model.clone(),
                choices: vec![Choice {
                    index: 0,
                    message: Message::text("assistant", text),
                    finish_reason: Some(finish.to_owned()),
                    extra: Map::new(),
                }],
                usage: Some(Usage::new(n("input_token_count"), n("generated_token_count"))),
                extra: Map::new(),
            }));
        }
        let call =
            UpstreamCall { client: &self.client, provider: self.provider, uri: &self.chat, headers: &headers, timeout: opts.timeout };
        Reply::from_upstream(self.provider, call.bytes(self.chat_body(req)?).await?)
    }

    async fn chat_stream(&self, req: ChatRequest, opts: &CallOptions) -> Result<ChunkStream, GatewayError> {
        if self.text {
            return Err(GatewayError::new(
                ErrorKind::NotSupported,
                "watsonx_text streams are not supported yet; use watsonx/ (the chat API)",
            ));
        }
        let include_usage = req.stream_options.as_ref().is_some_and(|o| o.include_usage);
        let headers = self.headers(opts).await?;
        let call = UpstreamCall {
            client: &self.client,
            provider: self.provider,
            uri: &self.chat_stream,
            headers: &headers,
            timeout: opts.timeout,
        };
        let resp = call.stream(self.chat_body(req)?).await?;
        // watsonx puts usage on its last chunk; keep it from clients that did not ask.
        let stream = sse_json_stream::<ChatChunk>(self.provider, resp, opts.timeout).map(move |item| {
            item.map(|mut reply| {
                if !include_usage && let Ok(chunk) = reply.parsed() {
                    chunk.usage = None;
                }
                reply
            })
        });
        Ok(stream.boxed())
    }
}

fn param(spec: &DeploymentSpec<'_>, key: &str) -> Option<String> {
    spec.params.extra.get(key).and_then(Value::as_str).map(str::to_owned).filter(|s| !s.is_empty())
}

/// Builds `watsonx/` and `watsonx_text/` deployments.
pub struct WatsonxFactory;

impl ProviderFactory for WatsonxFactory {
    fn names(&self) -> Vec<&'static str> {
        vec!["watsonx", "watsonx_text"]
    }

    fn accepted_params(&self) -> &'static [&'static str] {
        PARAMS
    }

    fn build(&self, spec: &DeploymentSpec<'_>, client: &HttpClient) -> Result<Arc<dyn Provider>, String> {
        let env = spec.env;
        let provider = if spec.provider == "watsonx_text" { "watsonx_text" } else { "watsonx" };
        let base = spec
            .params
            .api_base
            .clone()
            .or_else(|| env.first_of(&["WATSONX_URL", "WATSONX_API_BASE", "WML_URL"]))
            .ok_or("watsonx needs api_base (e.g. https://us-south.ml.cloud.ibm.com) or WATSONX_URL")?;
        let base = base.trim_end_matches('/').to_owned();
        let version = param(spec, "api_version").or_else(|| env.get("WATSONX_API_VERSION")).unwrap_or_else(|| DEFAULT_VERSION.to_owned());
        let mut scope = Map::new();
        match (
            param(spec, "project_id").or_else(|| env.first_of(&["WATSONX_PROJECT_ID", "WX_PROJECT_ID", "PROJECT_ID"])),
            param(spec, "space_id")
                .or_else(|| param(spec, "deployment_space_id"))
                .or_else(|| env.first_of(&["WATSONX_DEPLOYMENT_SPACE_ID", "WATSONX_SPACE_ID"])),
        ) {
            (Some(p), _) => {
                scope.insert("project_id".to_owned(), json!(p));
            }
            (None, Some(s)) => {
                scope.insert("space_id".to_owned(), json!(s));
            }
            (None, None) => {
                return Err("watsonx needs project_id (or WATSONX_PROJECT_ID) or space_id (WATSONX_DEPLOYMENT_SPACE_ID)".to_owned());
            }
        }
        let (model_id, prefix) = match spec.upstream_model.strip_prefix("deployment/") {
            Some(id) => (None, format!("{base}/ml/v1/deployments/{}", crate::aws::encode_path_segment(id))),
            None => (Some(spec.upstream_model.to_owned()), format!("{base}/ml/v1")),
        };
        let at = |op: &str| parse_uri(&format!("{prefix}/text/{op}?version={version}"));
        let credential = match param(spec, "token").or_else(|| env.get("WATSONX_TOKEN")) {
            Some(t) => Credential::Static(
                HeaderValue::from_str(&format!("Bearer {t}")).map_err(|_| "token is not a valid header value".to_owned())?,
            ),
            None => {
                let key = spec
                    .params
                    .api_key
                    .clone()
                    .or_else(|| env.first_of(&["WATSONX_APIKEY", "WATSONX_API_KEY", "WX_API_KEY"]))
                    .ok_or("watsonx needs api_key (or WATSONX_APIKEY) or token (WATSONX_TOKEN)")?;
                let iam = param(spec, "watsonx_iam_url").or_else(|| env.get("WATSONX_IAM_URL")).unwrap_or_else(|| DEFAULT_IAM.to_owned());
                let iam = parse_uri(&format!("{}/identity/token", iam.trim_end_matches('/').trim_end_matches("/identity/token")))?;
                Credential::ApiKey { key, iam, cached: ArcSwapOption::empty(), refresh: Mutex::new(()) }
            }
        };
        Ok(Arc::new(Watsonx {
            provider,
            client: client.clone(),
            chat: at("chat")?,
            chat_stream: at("chat_stream")?,
            generation: at("generation")?,
            api_base: base,
            model: spec.upstream_model.to_owned(),
            model_id,
            scope,
            text: provider == "watsonx_text",
            credential,
            default_params: spec.params.default_params.clone(),
        }))
    }
}
