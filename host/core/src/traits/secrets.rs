//! `SecretManager`: resolves `os.environ/NAME` references from a vault.

use async_trait::async_trait;

/// A secret manager failed (unreachable, denied, malformed value).
#[derive(Debug, thiserror::Error)]
#[error("secret manager {manager}: {message}")]
pub struct SecretError {
    /// Manager name.
    pub manager: &'static str,
    /// What went wrong.
    pub message: String,
}

/// A source of secrets (`key_management_system`).
#[async_trait]
pub trait SecretManager: Send + Sync + 'static {
    /// LiteLLM's name for it (`aws_secret_manager`, `hashicorp_vault`, ...).
    fn name(&self) -> &'static str;
    /// Reads one secret; `Ok(None)` when it does not exist.
    async fn get_secret(&self, name: &str) -> Result<Option<String>, SecretError>;
}
