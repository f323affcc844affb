//! Google OAuth2 access tokens, through `google-cloud-auth`, for Vertex AI
//! and Google Secret Manager.
//!
//! Credentials are a service-account, authorized-user, impersonated or
//! external-account JSON (given inline or as a file path, as LiteLLM takes
//! `vertex_credentials`) or, without one, Application Default Credentials
//! (`GOOGLE_APPLICATION_CREDENTIALS`, gcloud's file, the metadata server).
//! The credentials are built on the first call (they need a Tokio runtime)
//! and cache and refresh their token themselves; a call only reads the
//! cached token.

use std::path::Path;

use async_trait::async_trait;
use google_cloud_auth::credentials::{self, AccessTokenCredentials};
use http::HeaderValue;
use serde_json::Value;
use tianji_core::GatewayError;
use tokio::sync::OnceCell;

use crate::http::AccessToken;

/// The scope Vertex AI calls need.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// Where a deployment's credentials come from.
#[derive(Debug, Clone)]
pub enum CredentialSource {
    /// A credentials JSON (from `vertex_credentials`).
    Json(Value),
    /// Application Default Credentials.
    ApplicationDefault,
}

impl CredentialSource {
    /// Reads a credentials parameter (`vertex_credentials`): a JSON object, a
    /// JSON string, or a path to a JSON file.
    pub fn from_param(value: &Value) -> Result<Self, String> {
        let json = match value {
            Value::Object(_) => value.clone(),
            Value::String(s) if s.trim_start().starts_with('{') => {
                serde_json::from_str(s).map_err(|e| format!("vertex_credentials is not valid JSON: {e}"))?
            }
            Value::String(path) => {
                let text = std::fs::read_to_string(Path::new(path))
                    .map_err(|e| format!("vertex_credentials: cannot read credentials file {path}: {e}"))?;
                serde_json::from_str(&text).map_err(|e| format!("vertex_credentials: {path} is not valid JSON: {e}"))?
            }
            other => return Err(format!("vertex_credentials: expected a JSON object, a JSON string or a file path, found {other}")),
        };
        match json.get("type").and_then(Value::as_str) {
            Some("service_account" | "authorized_user" | "impersonated_service_account" | "external_account") => Ok(Self::Json(json)),
            Some(other) => Err(format!(
                "vertex_credentials: credentials of type '{other}' are not supported (service_account, authorized_user, impersonated_service_account, external_account)"
            )),
            None => Err("vertex_credentials: the JSON has no \"type\" (expected a service-account key or another Google credentials file)"
                .to_owned()),
        }
    }

    /// The `project_id` the credentials name, as LiteLLM's default project.
    pub fn project_id(&self) -> Option<&str> {
        match self {
            Self::Json(v) => v.get("project_id").or_else(|| v.get("quota_project_id")).and_then(Value::as_str),
            Self::ApplicationDefault => None,
        }
    }

    /// Builds the credentials (inside a Tokio runtime: they refresh their token in the background).
    pub fn access_token_credentials(&self) -> Result<AccessTokenCredentials, String> {
        let scopes = [CLOUD_PLATFORM_SCOPE];
        let built = match self {
            Self::ApplicationDefault => credentials::Builder::default().with_scopes(scopes).build_access_token_credentials(),
            Self::Json(json) => match json.get("type").and_then(Value::as_str) {
                Some("service_account") => credentials::service_account::Builder::new(json.clone())
                    .with_access_specifier(credentials::service_account::AccessSpecifier::from_scopes(scopes))
                    .build_access_token_credentials(),
                Some("authorized_user") => {
                    credentials::user_account::Builder::new(json.clone()).with_scopes(scopes).build_access_token_credentials()
                }
                Some("impersonated_service_account") => {
                    credentials::impersonated::Builder::new(json.clone()).with_scopes(scopes).build_access_token_credentials()
                }
                _ => credentials::external_account::Builder::new(json.clone()).with_scopes(scopes).build_access_token_credentials(),
            },
        };
        built.map_err(|e| format!("invalid Google credentials: {e}"))
    }
}

/// A deployment's token source: built once, on first use.
pub struct GoogleToken {
    provider: &'static str,
    source: CredentialSource,
    credentials: OnceCell<AccessTokenCredentials>,
}

impl GoogleToken {
    /// Tokens for `provider`'s calls from `source`.
    pub fn new(provider: &'static str, source: CredentialSource) -> Self {
        Self { provider, source, credentials: OnceCell::new() }
    }

    fn auth_error(&self, message: String) -> GatewayError {
        GatewayError::authentication(format!("{}: could not get a Google access token: {message}", self.provider))
            .with_provider(self.provider)
    }
}

#[async_trait]
impl AccessToken for GoogleToken {
    async fn authorization(&self) -> Result<HeaderValue, GatewayError> {
        let creds =
            self.credentials.get_or_try_init(|| async { self.source.access_token_credentials() }).await.map_err(|e| self.auth_error(e))?;
        let token = creds.access_token().await.map_err(|e| self.auth_error(e.to_string()))?;
        HeaderValue::try_from(format!("Bearer {}", token.token))
            .map_err(|_| self.auth_error("the token is not a valid header value".to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::CredentialSource;

    #[test]
    fn credentials_are_read_inline_or_from_a_file() {
        let key = json!({"type": "service_account", "project_id": "p-1", "client_email": "a@b"});
        let inline = CredentialSource::from_param(&json!(key.to_string())).expect("inline");
        assert_eq!(inline.project_id(), Some("p-1"));
        let dir = std::env::temp_dir().join(format!("tianji-vertex-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("key.json");
        std::fs::write(&file, key.to_string()).expect("write");
        let from_file = CredentialSource::from_param(&json!(file.to_string_lossy())).expect("file");
        assert_eq!(from_file.project_id(), Some("p-1"));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn bad_credentials_say_what_is_wrong() {
        let missing = CredentialSource::from_param(&json!("/nonexistent/key.json")).expect_err("missing file");
        assert!(missing.contains("cannot read credentials file /nonexistent/key.json"), "{missing}");
        let bad = CredentialSource::from_param(&json!("{not json")).expect_err("bad json");
        assert!(bad.contains("not valid JSON"), "{bad}");
        let untyped = CredentialSource::from_param(&json!({"client_email": "a@b"})).expect_err("no type");
        assert!(untyped.contains("no \"type\""), "{untyped}");
        let odd = CredentialSource::from_param(&json!({"type": "gdch_service_account"})).expect_err("type");
        assert!(odd.contains("not supported"), "{odd}");
    }
}
