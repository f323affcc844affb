//! `bedrock/`: Amazon Bedrock's Converse and ConverseStream APIs
//! (`{endpoint}/model/{modelId}/converse[-stream]`, SigV4-signed), and
//! `InvokeModel` for Titan and Cohere embeddings.
//!
//! `bedrock/<model>`, `bedrock/converse/<model>` and cross-region
//! inference-profile ids (`us.anthropic.claude-...`) or ARNs all use
//! Converse. `bedrock/invoke/<model>` is served through Converse too (the
//! model-specific InvokeModel formats are not implemented), which a warning
//! at start-up says.

pub mod request;
pub mod response;
pub mod stream;

use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use http::HeaderMap;
use serde_json::{Map, Value, json};
use tianji_core::traits::{CallOptions, ChunkStream, Provider};
use tianji_core::types::{ChatRequest, ChatResponse, EmbeddingRequest, EmbeddingResponse, Reply};
use tianji_core::{ErrorKind, GatewayError};

use crate::aws::{AWS_PARAMS, AwsSigner, encode_path_segment, event_stream_messages};
use crate::http::{HttpClient, UpstreamCall, decode_json, malformed, parse_uri, translate_stream};
use crate::registry::{DeploymentSpec, ProviderFactory};

/// One Bedrock deployment.
pub struct Bedrock {
    client: HttpClient,
    endpoint: String,
    model: String,
    converse: http::Uri,
    converse_stream: http::Uri,
    invoke: http::Uri,
    headers: HeaderMap,
    signer: AwsSigner,
    default_params: Map<String, Value>,
}

const PROVIDER: &str = "bedrock";

impl Bedrock {
    async fn signed(&self, uri: &http::Uri, body: &[u8]) -> Result<HeaderMap, GatewayError> {
        let mut headers = self.headers.clone();
        self.signer.sign("POST", uri, &mut headers, body).await?;
        Ok(headers)
    }

    fn body(&self, mut req: ChatRequest) -> Result<(bytes::Bytes, bool), GatewayError> {
        crate::defaults::apply(&self.default_params, &mut req);
        let include_usage = req.stream_options.as_ref().is_some_and(|o| o.include_usage);
        Ok((crate::http::json_body(&request::to_converse(req)?)?, include_usage))
    }
}

#[async_trait]
impl Provider for Bedrock {
    fn provider_name(&self) -> &str {
        PROVIDER
    }

    fn api_base(&self) -> Option<&str> {
        Some(&self.endpoint)
    }

    fn supported_params(&self) -> Option<&'static [&'static str]> {
        Some(request::SUPPORTED_PARAMS)
    }

    async fn chat(&self, req: ChatRequest, opts: &CallOptions) -> Result<Reply<ChatResponse>, GatewayError> {
        let (body, _) = self.body(req)?;
        let headers = self.signed(&self.converse, &body).await?;
        let call = UpstreamCall { client: &self.client, provider: PROVIDER, uri: &self.converse, headers: &headers, timeout: opts.timeout };
        let answer: Value = decode_json(PROVIDER, &call.bytes(body).await?)?;
        response::from_converse(&answer, &self.model)
            .map(Reply::Parsed)
            .ok_or_else(|| malformed(PROVIDER, "the answer has no output.message.content"))
    }

    async fn chat_stream(&self, req: ChatRequest, opts: &CallOptions) -> Result<ChunkStream, GatewayError> {
        let (body, include_usage) = self.body(req)?;
        let headers = self.signed(&self.converse_stream, &body).await?;
        let call =
            UpstreamCall { client: &self.client, provider: PROVIDER, uri: &self.converse_stream, headers: &headers, timeout: opts.timeout };
        let resp = call.stream(body).await?;
        let translator = stream::ConverseStream::new(PROVIDER, &self.model, include_usage);
        Ok(translate_stream(PROVIDER, event_stream_messages(resp), opts.timeout, translator).boxed())
    }

    async fn embedding(&self, req: EmbeddingRequest, opts: &CallOptions) -> Result<Reply<EmbeddingResponse>, GatewayError> {
        let texts = crate::translate::embedding_texts(&req.input, PROVIDER)?;
        let cohere = self.model.starts_with("cohere.");
        if !cohere && !self.model.starts_with("amazon.titan-embed") {
            return Err(GatewayError::not_supported(format!(
                "bedrock embeddings support amazon.titan-embed-* and cohere.embed-* models, not '{}' (not supported yet)",
                self.model
            )));
        }
        // Titan embeds one text per call; Cohere takes the batch.
        let bodies: Vec<Value> = if cohere {
            let input_type = req.extra.get("input_type").cloned().unwrap_or_else(|| json!("search_document"));
            vec![json!({"texts": texts, "input_type": input_type})]
        } else {
            texts
                .iter()
                .map(|t| {
                    let mut b = json!({"inputText": t});
                    if let Some(d) = req.extra.get("dimensions") {
                        b["dimensions"] = d.clone();
                    }
                    b
                })
                .collect()
        };
        let mut data = Vec::new();
        let mut prompt_tokens = 0;
        for body in bodies {
            let body = crate::http::json_body(&body)?;
            let headers = self.signed(&self.invoke, &body).await?;
            let call =
                UpstreamCall { client: &self.client, provider: PROVIDER, uri: &self.invoke, headers: &headers, timeout: opts.timeout };
            let answer: Value = decode_json(PROVIDER, &call.bytes(body).await?)?;
            let vectors: Vec<Value> = if cohere {
                answer.get("embeddings").and_then(Value::as_array).cloned().unwrap_or_default()
            } else {
                prompt_tokens += answer.get("inputTextTokenCount").and_then(Value::as_u64).unwrap_or(0);
                answer.get("embedding").cloned().into_iter().collect()
            };
            data.extend(vectors);
        }
        if data.len() != texts.len() {
            return Err(GatewayError::new(
                ErrorKind::UpstreamServer,
                format!("bedrock returned {} embeddings for {} inputs", data.len(), texts.len()),
            )
            .with_status(http::StatusCode::BAD_GATEWAY)
            .with_provider(PROVIDER));
        }
        if prompt_tokens == 0 {
            prompt_tokens = texts.iter().map(|t| tianji_core::types::estimate_tokens(t)).sum();
        }
        Ok(Reply::Parsed(crate::translate::embedding_response(&data, &self.model, prompt_tokens)))
    }
}

/// Builds `bedrock/` (and `bedrock_converse/`) deployments.
pub struct BedrockFactory;

impl ProviderFactory for BedrockFactory {
    fn names(&self) -> Vec<&'static str> {
        vec!["bedrock", "bedrock_converse"]
    }

    fn accepted_params(&self) -> &'static [&'static str] {
        AWS_PARAMS
    }

    fn build(&self, spec: &DeploymentSpec<'_>, client: &HttpClient) -> Result<Arc<dyn Provider>, String> {
        let mut model = spec.upstream_model;
        if let Some(rest) = model.strip_prefix("converse/") {
            model = rest;
        } else if let Some(rest) = model.strip_prefix("invoke/") {
            tracing::warn!(
                provider = PROVIDER,
                "bedrock/invoke/{rest} is served through the Converse API (InvokeModel formats are not supported yet)"
            );
            model = rest;
        }
        let signer = AwsSigner::from_spec("bedrock", spec)?;
        let endpoint = spec
            .params
            .extra
            .get("aws_bedrock_runtime_endpoint")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| spec.params.api_base.clone())
            .or_else(|| spec.env.get("AWS_BEDROCK_RUNTIME_ENDPOINT"))
            .unwrap_or_else(|| format!("https://bedrock-runtime.{}.amazonaws.com", signer.region()));
        let endpoint = endpoint.trim_end_matches('/').to_owned();
        let id = encode_path_segment(model);
        let at = |op: &str| parse_uri(&format!("{endpoint}/model/{id}/{op}"));
        let mut headers = HeaderMap::new();
        crate::http::add_extra_headers(&mut headers, &spec.params.extra_headers)?;
        Ok(Arc::new(Bedrock {
            client: client.clone(),
            converse: at("converse")?,
            converse_stream: at("converse-stream")?,
            invoke: at("invoke")?,
            endpoint,
            model: model.to_owned(),
            headers,
            signer,
            default_params: spec.params.default_params.clone(),
        }))
    }
}
