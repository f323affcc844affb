//! `SecretManager`: where `os.environ/NAME` references resolve when
//! `general_settings.key_management_system` names a vault; and
//! [`SecretValues`], the resolved values plugins are granted from.

use async_trait::async_trait;

/// A secret manager failed (unreachable, denied, malformed value).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{manager}: {message}")]
pub struct SecretError {
    /// Manager name.
    pub manager: &'static str,
    /// What went wrong.
    pub message: String,
}

impl SecretError {
    /// An error of `manager`.
    pub fn new(manager: &'static str, message: impl Into<String>) -> Self {
        Self { manager, message: message.into() }
    }
}

/// A source of secrets (`key_management_system`).
#[async_trait]
pub trait SecretManager: Send + Sync + 'static {
    /// LiteLLM's name for it (`aws_secret_manager`, `hashicorp_vault`, ...).
    fn name(&self) -> &'static str;

    /// Reads one secret; `Ok(None)` when it does not exist.
    async fn get_secret(&self, name: &str) -> Result<Option<String>, SecretError>;

    /// Whether the manager answers and accepts the credentials. The default
    /// reads a name that should not exist: any answer but an error is healthy.
    async fn health(&self) -> Result<(), SecretError> {
        self.get_secret("tianji-health-check").await.map(|_| ())
    }
}

/// Resolved secret values, looked up without waiting (plugins' grants are
/// bound on the request path); `prefetch` fetches names before they are needed.
#[async_trait]
pub trait SecretValues: Send + Sync + 'static {
    /// The value of `name`, if known.
    fn get(&self, name: &str) -> Option<String>;

    /// Fetches `names` so that [`get`](Self::get) knows them.
    async fn prefetch(&self, names: &[String]);
}

/// Secrets from the process environment.
pub struct ProcessEnvironment;

#[async_trait]
impl SecretValues for ProcessEnvironment {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    async fn prefetch(&self, _names: &[String]) {}
}
