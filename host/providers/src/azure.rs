//! Azure OpenAI: `azure/<deployment>`, URLs of the form
//! `{api_base}/openai/deployments/{deployment}/chat/completions?api-version=...`,
//! and the `api-key` header (or a Microsoft Entra token as `Authorization: Bearer`).

use std::sync::Arc;

use http::HeaderValue;
use tianji_core::traits::Provider;

use crate::openai::{Auth, OpenAiCompatible, UrlStyle};
use crate::registry::{DeploymentSpec, ProviderFactory};

/// The `api-version` used when neither the deployment nor `AZURE_API_VERSION` sets one (latest GA).
pub const DEFAULT_API_VERSION: &str = "2024-10-21";

/// Builds Azure OpenAI deployments.
pub struct AzureFactory;

impl ProviderFactory for AzureFactory {
    fn names(&self) -> Vec<&'static str> {
        vec!["azure"]
    }

    fn accepted_params(&self) -> &'static [&'static str] {
        &["azure_ad_token"]
    }

    fn build(&self, spec: &DeploymentSpec<'_>, client: &crate::http::HttpClient) -> Result<Arc<dyn Provider>, String> {
        let base = spec
            .params
            .api_base
            .clone()
            .or_else(|| spec.env.first_of(&["AZURE_API_BASE", "AZURE_OPENAI_ENDPOINT"]))
            .ok_or("azure needs api_base (https://<resource>.openai.azure.com) or AZURE_API_BASE")?;
        let api_version =
            spec.params.api_version.clone().or_else(|| spec.env.get("AZURE_API_VERSION")).unwrap_or_else(|| DEFAULT_API_VERSION.to_owned());
        let ad_token = spec.params.extra.get("azure_ad_token").and_then(|v| v.as_str()).map(str::to_owned);
        let auth = if let Some(key) = spec.params.api_key.clone().or_else(|| spec.env.first_of(&["AZURE_API_KEY", "AZURE_OPENAI_API_KEY"]))
        {
            Auth::ApiKey(HeaderValue::from_str(&key).map_err(|_| "api_key is not a valid header value")?)
        } else if let Some(token) = ad_token.or_else(|| spec.env.get("AZURE_AD_TOKEN")) {
            Auth::Bearer(HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| "azure_ad_token is not a valid header value")?)
        } else {
            tracing::warn!(
                deployment = spec.upstream_model,
                "no key for azure: set api_key or AZURE_API_KEY; calls will be sent without one"
            );
            Auth::None
        };
        let base = base.trim_end_matches('/').to_owned();
        let p = OpenAiCompatible::new(
            "azure",
            client.clone(),
            base,
            spec.upstream_model.to_owned(),
            auth,
            UrlStyle::Azure { api_version },
            spec,
        )?;
        Ok(Arc::new(p))
    }
}
