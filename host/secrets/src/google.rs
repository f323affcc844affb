//! Google Secret Manager, over its REST API:
//! `GET {endpoint}/v1/projects/{project}/secrets/{name}/versions/latest:access`
//! with a Google OAuth2 token (`google-cloud-auth`), the value base64 in
//! `payload.data`.
//!
//! Project: `GOOGLE_SECRET_MANAGER_PROJECT_ID` (LiteLLM's), else the
//! credentials' `project_id`. Credentials: the key file named by
//! `GOOGLE_APPLICATION_CREDENTIALS` or `GCS_PATH_SERVICE_ACCOUNT`, else
//! Application Default Credentials. `GOOGLE_SECRET_MANAGER_ENDPOINT`
//! replaces `https://secretmanager.googleapis.com` (private endpoints, tests).

use async_trait::async_trait;
use base64::Engine;
use serde_json::Value;
use tianji_core::config::Env;
use tianji_core::traits::{SecretError, SecretManager};
use tianji_providers::google_auth::{CredentialSource, GoogleToken};
use tianji_providers::http::AccessToken;

const NAME: &str = "google_secret_manager";

/// The public endpoint.
pub const DEFAULT_ENDPOINT: &str = "https://secretmanager.googleapis.com";

fn err(message: impl Into<String>) -> SecretError {
    SecretError::new(NAME, message)
}

/// A Secret Manager client for one project.
pub struct GoogleSecretManager {
    http: reqwest::Client,
    endpoint: String,
    project: String,
    token: GoogleToken,
}

impl GoogleSecretManager {
    /// Reads the project, credentials and endpoint from `env`.
    pub fn from_env(env: &Env, http: reqwest::Client) -> Result<Self, SecretError> {
        let source = match env.first_of(&["GOOGLE_APPLICATION_CREDENTIALS", "GCS_PATH_SERVICE_ACCOUNT"]) {
            Some(path) => CredentialSource::from_param(&Value::String(path)).map_err(err)?,
            None => CredentialSource::ApplicationDefault,
        };
        let project = env
            .get("GOOGLE_SECRET_MANAGER_PROJECT_ID")
            .or_else(|| source.project_id().map(str::to_owned))
            .ok_or_else(|| err("set GOOGLE_SECRET_MANAGER_PROJECT_ID (the project that holds the secrets)"))?;
        let endpoint =
            env.get("GOOGLE_SECRET_MANAGER_ENDPOINT").unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned()).trim_end_matches('/').to_owned();
        Ok(Self { http, endpoint, project, token: GoogleToken::new(NAME, source) })
    }
}

#[async_trait]
impl SecretManager for GoogleSecretManager {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn get_secret(&self, name: &str) -> Result<Option<String>, SecretError> {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(err(format!("'{name}' is not a valid Secret Manager secret id (letters, digits, _ and -)")));
        }
        let auth = self.token.authorization().await.map_err(|e| err(e.message))?;
        let url = format!("{}/v1/projects/{}/secrets/{name}/versions/latest:access", self.endpoint, self.project);
        let resp = self
            .http
            .get(&url)
            .header(reqwest::header::AUTHORIZATION, auth)
            .send()
            .await
            .map_err(|e| err(format!("cannot reach {}: {e}", self.endpoint)))?;
        let status = resp.status();
        let body: Value = resp.json().await.map_err(|e| err(format!("{url} answered {status} with a body that is not JSON: {e}")))?;
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            let message = body.pointer("/error/message").and_then(Value::as_str).unwrap_or("no message");
            return Err(err(format!("reading {name}: {status}: {message}")));
        }
        let data = body
            .pointer("/payload/data")
            .and_then(Value::as_str)
            .ok_or_else(|| err(format!("the answer for {name} has no payload.data")))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| err(format!("payload.data of {name} is not base64: {e}")))?;
        String::from_utf8(bytes).map(Some).map_err(|_| err(format!("secret {name} is not UTF-8 text")))
    }
}
