//! Azure Key Vault, over its REST API (`GET {vault}/secrets/{name}?api-version=7.5`)
//! with a bearer token from `azure_identity`.
//!
//! Vault: `AZURE_KEY_VAULT_URI` (LiteLLM's; a trailing slash is dropped).
//! Credentials, in order: a service principal's client secret
//! (`AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`, `AZURE_TENANT_ID`, and
//! `AZURE_AUTHORITY_HOST` for other clouds); a managed identity when
//! `IDENTITY_ENDPOINT` is set or `key_management_settings.azure_credential`
//! is `managed_identity` (`AZURE_CLIENT_ID` then names a user-assigned
//! one); else the Azure CLI's login (`az`). `azure_credential` may also
//! force `client_secret` or `cli`.
//!
//! Key Vault names allow only letters, digits and `-`, so `_` in a
//! referenced name is read as `-` (`OPENAI_API_KEY` → `OPENAI-API-KEY`).

use std::sync::Arc;

use async_trait::async_trait;
use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::ClientOptions;
use azure_identity::{
    AzureCliCredential, ClientSecretCredential, ClientSecretCredentialOptions, ManagedIdentityCredential, ManagedIdentityCredentialOptions,
    UserAssignedId,
};
use serde_json::Value;
use tianji_core::config::Env;
use tianji_core::config::secrets::SecretSettings;
use tianji_core::traits::{SecretError, SecretManager};

const NAME: &str = "azure_key_vault";

/// The scope Key Vault tokens are issued for.
pub const SCOPE: &str = "https://vault.azure.net/.default";

/// The Key Vault REST API version.
pub const API_VERSION: &str = "7.5";

fn err(message: impl Into<String>) -> SecretError {
    SecretError::new(NAME, message)
}

/// A Key Vault reader.
pub struct AzureKeyVault {
    http: reqwest::Client,
    vault: String,
    credential: Arc<dyn TokenCredential>,
}

/// The Key Vault name for a referenced name.
pub fn vault_name(name: &str) -> String {
    name.replace('_', "-")
}

/// The credential the settings and environment call for.
pub fn credential_from_env(settings: &SecretSettings, env: &Env) -> Result<Arc<dyn TokenCredential>, SecretError> {
    let kind = settings.option("azure_credential");
    let client_secret = (env.get("AZURE_CLIENT_ID"), env.get("AZURE_CLIENT_SECRET"), env.get("AZURE_TENANT_ID"));
    let mut client_options = ClientOptions::default();
    if let Some(host) = env.get("AZURE_AUTHORITY_HOST") {
        let mut custom = CustomConfiguration::default();
        custom.authority_host = host;
        client_options.cloud = Some(Arc::new(CloudConfiguration::Custom(custom)));
    }
    let kind = kind.unwrap_or(match (&client_secret, env.get("IDENTITY_ENDPOINT")) {
        ((Some(_), Some(_), Some(_)), _) => "client_secret",
        (_, Some(_)) => "managed_identity",
        _ => "cli",
    });
    let built: azure_core::Result<Arc<dyn TokenCredential>> = match (kind, client_secret) {
        ("client_secret", (Some(id), Some(secret), Some(tenant))) => {
            ClientSecretCredential::new(&tenant, id, Secret::new(secret), Some(ClientSecretCredentialOptions { client_options }))
                .map(|c| c as Arc<dyn TokenCredential>)
        }
        ("client_secret", _) => {
            return Err(err("azure_credential client_secret needs AZURE_CLIENT_ID, AZURE_CLIENT_SECRET and AZURE_TENANT_ID"));
        }
        ("managed_identity", (id, ..)) => ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
            user_assigned_id: id.map(UserAssignedId::ClientId),
            client_options,
        }))
        .map(|c| c as Arc<dyn TokenCredential>),
        ("cli", _) => AzureCliCredential::new(None).map(|c| c as Arc<dyn TokenCredential>),
        (other, _) => return Err(err(format!("azure_credential must be client_secret, managed_identity or cli, not '{other}'"))),
    };
    built.map_err(|e| err(format!("invalid Azure credentials: {e}")))
}

impl AzureKeyVault {
    /// A reader of `vault` (`https://NAME.vault.azure.net`) with `credential`.
    pub fn new(vault: &str, credential: Arc<dyn TokenCredential>, http: reqwest::Client) -> Result<Self, SecretError> {
        let vault = vault.trim_end_matches('/').to_owned();
        reqwest::Url::parse(&vault).map_err(|e| err(format!("AZURE_KEY_VAULT_URI is not a URL ({vault}): {e}")))?;
        Ok(Self { http, vault, credential })
    }

    /// Reads `AZURE_KEY_VAULT_URI` and the credential from the environment.
    pub fn from_env(settings: &SecretSettings, env: &Env, http: reqwest::Client) -> Result<Self, SecretError> {
        let vault = env.get("AZURE_KEY_VAULT_URI").ok_or_else(|| err("set AZURE_KEY_VAULT_URI (https://<vault>.vault.azure.net)"))?;
        Self::new(&vault, credential_from_env(settings, env)?, http)
    }
}

#[async_trait]
impl SecretManager for AzureKeyVault {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn get_secret(&self, name: &str) -> Result<Option<String>, SecretError> {
        let name = vault_name(name);
        if name.is_empty() || name.len() > 127 || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(err(format!("'{name}' is not a valid Key Vault secret name (letters, digits and -, at most 127)")));
        }
        let token = self.credential.get_token(&[SCOPE], None).await.map_err(|e| err(format!("could not get a token: {e}")))?;
        let url = format!("{}/secrets/{name}?api-version={API_VERSION}", self.vault);
        let resp = self
            .http
            .get(&url)
            .bearer_auth(token.token.secret())
            .send()
            .await
            .map_err(|e| err(format!("cannot reach {}: {e}", self.vault)))?;
        let status = resp.status();
        let body: Value =
            resp.json().await.map_err(|e| err(format!("{} answered {status} with a body that is not JSON: {e}", self.vault)))?;
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            let code = body.pointer("/error/code").and_then(Value::as_str).unwrap_or("");
            let message = body.pointer("/error/message").and_then(Value::as_str).unwrap_or("no message");
            return Err(err(format!("reading {name}: {status} {code}: {message}")));
        }
        match body.get("value") {
            Some(Value::String(v)) => Ok(Some(v.clone())),
            _ => Err(err(format!("the answer for {name} has no string value"))),
        }
    }
}
