//! Secret managers behind one trait ([`tianji_core::traits::SecretManager`]),
//! so a proxy can start with no secret in its config or environment.
//!
//! `general_settings.key_management_system` names the manager (LiteLLM's
//! names); [`connect`] builds it from `key_management_settings` and the
//! manager's own environment variables, and wraps it in [`Secrets`]: the
//! name mapping (`hosted_keys`, `prefix`, `primary_secret_name`,
//! `NAME#field`) and a TTL [`cache`] that keeps serving the old value when
//! a refresh fails. Each manager is one file; adding one is that file and a
//! line in [`connect`].

pub mod aws;
pub mod azure;
pub mod cache;
pub mod google;
pub mod resolver;
pub mod vault;

use std::sync::Arc;
use std::time::Duration;

use tianji_core::config::Env;
use tianji_core::config::secrets::SecretSettings;
use tianji_core::traits::{SecretError, SecretManager};

pub use resolver::{Lookup, Secrets};

/// The HTTP client the REST-based managers share (rustls, 10 s timeout).
fn http_client() -> Result<reqwest::Client, SecretError> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| SecretError::new("secret manager", format!("cannot build the HTTP client: {e}")))
}

/// Builds the manager `settings.system` names (inside a Tokio runtime).
pub async fn connect(settings: &SecretSettings, env: &Env) -> Result<Secrets, SecretError> {
    let manager: Arc<dyn SecretManager> = match settings.system.as_str() {
        "aws_secret_manager" => Arc::new(aws::AwsSecretsManager::connect(settings, env).await?),
        "google_secret_manager" => Arc::new(google::GoogleSecretManager::from_env(env, http_client()?)?),
        "azure_key_vault" => Arc::new(azure::AzureKeyVault::from_env(settings, env, http_client()?)?),
        "hashicorp_vault" => Arc::new(vault::Vault::from_env(env)?),
        other => return Err(SecretError::new("secret manager", format!("unknown secret manager '{other}'"))),
    };
    Ok(Secrets::new(settings.clone(), manager))
}
