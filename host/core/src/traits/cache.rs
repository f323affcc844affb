//! `Cache`: a response cache keyed by a hash of the request.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

/// A cache backend failed; the request proceeds uncached.
#[derive(Debug, thiserror::Error)]
#[error("cache {backend}: {message}")]
pub struct CacheError {
    /// Backend name.
    pub backend: &'static str,
    /// What went wrong.
    pub message: String,
}

/// A key-value store for serialized responses.
#[async_trait]
pub trait Cache: Send + Sync + 'static {
    /// The backend's name (`local`, `redis`, `disk`, ...).
    fn name(&self) -> &'static str;
    /// Looks a key up.
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError>;
    /// Stores a value, optionally expiring.
    async fn set(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<(), CacheError>;
    /// Removes a key.
    async fn delete(&self, key: &str) -> Result<(), CacheError>;
}
