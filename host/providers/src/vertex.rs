//! `vertex_ai/`: Google Cloud's Vertex AI.
//!
//! Gemini models go to
//! `https://{location}-aiplatform.googleapis.com/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:generateContent`
//! (`:streamGenerateContent?alt=sse`, `:predict` for embeddings) and reuse
//! the Gemini translation ([`crate::gemini::GenerateContent`]); Claude models
//! (`vertex_ai/claude-*`) go to `.../publishers/anthropic/models/{model}:rawPredict`
//! (`:streamRawPredict`) and reuse the Anthropic one, with the model in the
//! URL and `anthropic_version: vertex-2023-10-16` in the body. Both carry an
//! OAuth2 token from [`crate::google_auth`].

use std::sync::Arc;

use http::HeaderMap;
use serde_json::Value;
use tianji_core::traits::Provider;

use crate::gemini::{EmbedStyle, Endpoints, GenerateContent};
use crate::google_auth::{CredentialSource, GoogleToken};
use crate::http::{AccessToken, HttpClient, parse_uri};
use crate::registry::{DeploymentSpec, ProviderFactory};

/// The `anthropic_version` Claude on Vertex AI takes in the body.
pub const ANTHROPIC_VERSION: &str = "vertex-2023-10-16";

/// The location when none is configured (LiteLLM's default).
pub const DEFAULT_LOCATION: &str = "us-central1";

/// `litellm_params` keys Vertex deployments read.
const PARAMS: &[&str] =
    &["vertex_project", "vertex_ai_project", "vertex_location", "vertex_ai_location", "vertex_credentials", "vertex_ai_credentials"];

/// The API host for a location (`global` has no regional prefix).
fn host_for(location: &str) -> String {
    if location == "global" {
        "https://aiplatform.googleapis.com".to_owned()
    } else {
        format!("https://{location}-aiplatform.googleapis.com")
    }
}

/// Where one model's methods live: `{prefix}:{method}`.
fn model_prefix(spec: &DeploymentSpec<'_>, publisher: &str, model: &str, project: &str, location: &str) -> String {
    match spec.params.api_base.as_deref().map(|b| b.trim_end_matches('/')) {
        // LiteLLM's custom api_base: the full model path, methods appended after ':'.
        Some(base) if base.contains("/models/") || base.contains("/endpoints/") => base.to_owned(),
        // Any other api_base replaces the host (a proxy or private endpoint in front of Vertex AI).
        other => {
            let host = other.map_or_else(|| host_for(location), str::to_owned);
            // All-digit model names are fine-tuned models served from an endpoint.
            if model.chars().all(|c| c.is_ascii_digit()) {
                format!("{host}/v1/projects/{project}/locations/{location}/endpoints/{model}")
            } else {
                format!("{host}/v1/projects/{project}/locations/{location}/publishers/{publisher}/models/{model}")
            }
        }
    }
}

fn string_param(spec: &DeploymentSpec<'_>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| spec.params.extra.get(*k).and_then(Value::as_str)).map(str::to_owned).filter(|s| !s.is_empty())
}

/// Builds `vertex_ai/` (and `vertex_ai_beta/`) deployments.
pub struct VertexFactory;

impl ProviderFactory for VertexFactory {
    fn names(&self) -> Vec<&'static str> {
        vec!["vertex_ai", "vertex_ai_beta"]
    }

    fn accepted_params(&self) -> &'static [&'static str] {
        PARAMS
    }

    fn build(&self, spec: &DeploymentSpec<'_>, client: &HttpClient) -> Result<Arc<dyn Provider>, String> {
        let credentials = match ["vertex_credentials", "vertex_ai_credentials"].iter().find_map(|k| spec.params.extra.get(*k)) {
            Some(v) => CredentialSource::from_param(v)?,
            None => match spec.env.get("VERTEXAI_CREDENTIALS") {
                Some(v) => CredentialSource::from_param(&Value::String(v))?,
                None => CredentialSource::ApplicationDefault,
            },
        };
        let project = string_param(spec, &["vertex_project", "vertex_ai_project"])
            .or_else(|| spec.env.first_of(&["VERTEXAI_PROJECT", "VERTEX_PROJECT", "GOOGLE_CLOUD_PROJECT"]))
            .or_else(|| credentials.project_id().map(str::to_owned))
            .ok_or_else(|| "vertex_project is required (or VERTEXAI_PROJECT, or a project_id in vertex_credentials)".to_owned())?;
        let location = string_param(spec, &["vertex_location", "vertex_ai_location"])
            .or_else(|| spec.env.first_of(&["VERTEXAI_LOCATION", "VERTEX_LOCATION"]))
            .unwrap_or_else(|| DEFAULT_LOCATION.to_owned());
        let model = spec.upstream_model.trim_start_matches("gemini/");
        let token: Arc<dyn AccessToken> = Arc::new(GoogleToken::new("vertex_ai", credentials));
        let mut headers = HeaderMap::new();
        crate::http::add_extra_headers(&mut headers, &spec.params.extra_headers)?;
        if model.starts_with("claude") {
            let prefix = model_prefix(spec, "anthropic", model, &project, &location);
            let endpoint = crate::anthropic::Endpoint {
                url: parse_uri(&format!("{prefix}:rawPredict"))?,
                stream_url: parse_uri(&format!("{prefix}:streamRawPredict"))?,
                count_url: None,
                headers,
                token: Some(token),
                body_version: Some(ANTHROPIC_VERSION),
            };
            return Ok(Arc::new(crate::anthropic::Anthropic::new(
                "vertex_ai",
                client.clone(),
                prefix,
                model.to_owned(),
                endpoint,
                spec.params.default_params.clone(),
            )));
        }
        if model.contains('/') {
            return Err(format!(
                "vertex_ai model '{model}': partner models other than Claude (Llama, Mistral, ... through Vertex's OpenAI-compatible endpoint) are not supported yet"
            ));
        }
        let prefix = model_prefix(spec, "google", model, &project, &location);
        let endpoints = Endpoints {
            generate: parse_uri(&format!("{prefix}:generateContent"))?,
            stream: parse_uri(&format!("{prefix}:streamGenerateContent?alt=sse"))?,
            embed: parse_uri(&format!("{prefix}:predict"))?,
            embed_style: EmbedStyle::Predict,
        };
        Ok(Arc::new(GenerateContent::new(
            "vertex_ai",
            client.clone(),
            prefix,
            model.to_owned(),
            endpoints,
            headers,
            Some(token),
            spec.params.default_params.clone(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tianji_core::config::{Env, LitellmParams};

    use super::*;

    fn prefix_for(params: serde_json::Value, model: &str, publisher: &str) -> String {
        let params: LitellmParams =
            LitellmParams { api_base: params.get("api_base").and_then(Value::as_str).map(str::to_owned), ..Default::default() };
        let env = Env::isolated([]);
        let spec = DeploymentSpec { provider: "vertex_ai", upstream_model: model, params: &params, env: &env };
        model_prefix(&spec, publisher, model, "proj", "europe-west4")
    }

    #[test]
    fn urls_follow_vertex_ai_and_litellm() {
        assert_eq!(
            prefix_for(json!({}), "gemini-2.0-flash", "google"),
            "https://europe-west4-aiplatform.googleapis.com/v1/projects/proj/locations/europe-west4/publishers/google/models/gemini-2.0-flash"
        );
        assert_eq!(
            prefix_for(json!({}), "claude-sonnet-4-5@20250929", "anthropic"),
            "https://europe-west4-aiplatform.googleapis.com/v1/projects/proj/locations/europe-west4/publishers/anthropic/models/claude-sonnet-4-5@20250929"
        );
        assert_eq!(
            prefix_for(json!({}), "1234567890", "google"),
            "https://europe-west4-aiplatform.googleapis.com/v1/projects/proj/locations/europe-west4/endpoints/1234567890"
        );
        assert_eq!(host_for("global"), "https://aiplatform.googleapis.com");
        // A full model path as api_base (LiteLLM): methods are appended after ':'.
        let full = "https://proxy.example/v1/projects/p/locations/l/publishers/google/models/gemini-pro";
        assert_eq!(prefix_for(json!({"api_base": full}), "gemini-pro", "google"), full);
        // A bare host replaces the regional one.
        assert_eq!(
            prefix_for(json!({"api_base": "http://127.0.0.1:9/"}), "gemini-pro", "google"),
            "http://127.0.0.1:9/v1/projects/proj/locations/europe-west4/publishers/google/models/gemini-pro"
        );
    }
}
