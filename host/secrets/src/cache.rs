//! The cache in front of every secret manager.
//!
//! A value (or the fact that a secret does not exist) is trusted for the
//! TTL (`key_management_settings.cache_ttl`, default 86 400 s): reads within
//! it never reach the manager. After it the next read, or
//! [`SecretCache::refresh_expired`], fetches again; if that fails, the old
//! value keeps serving with a warning, and the fetch is retried on the next
//! read or refresh.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tianji_core::traits::{SecretError, SecretManager};

#[derive(Clone)]
struct Entry {
    value: Option<String>,
    fetched: Instant,
}

/// What [`SecretCache::refresh_expired`] did.
#[derive(Debug, Default)]
pub struct Refreshed {
    /// Secrets whose value changed (rotated, created or deleted).
    pub changed: Vec<String>,
    /// Secrets that could not be fetched again (their old value keeps serving).
    pub failed: Vec<(String, SecretError)>,
}

/// A TTL cache over one manager.
pub struct SecretCache {
    manager: Arc<dyn SecretManager>,
    ttl: Duration,
    entries: RwLock<HashMap<String, Entry>>,
}

impl SecretCache {
    /// Caches `manager`'s answers for `ttl`.
    pub fn new(manager: Arc<dyn SecretManager>, ttl: Duration) -> Self {
        Self { manager, ttl, entries: RwLock::new(HashMap::new()) }
    }

    /// The manager behind the cache.
    pub fn manager(&self) -> &dyn SecretManager {
        self.manager.as_ref()
    }

    fn entry(&self, name: &str) -> Option<Entry> {
        self.entries.read().ok().and_then(|e| e.get(name).cloned())
    }

    fn store(&self, name: &str, value: Option<String>) {
        if let Ok(mut e) = self.entries.write() {
            e.insert(name.to_owned(), Entry { value, fetched: Instant::now() });
        }
    }

    /// The secret, from the cache while fresh, else from the manager (the
    /// old value if that fails and there is one).
    pub async fn get(&self, name: &str) -> Result<Option<String>, SecretError> {
        let cached = self.entry(name);
        if let Some(e) = &cached
            && e.fetched.elapsed() < self.ttl
        {
            return Ok(e.value.clone());
        }
        match self.manager.get_secret(name).await {
            Ok(value) => {
                self.store(name, value.clone());
                Ok(value)
            }
            Err(error) => match cached {
                Some(old) => {
                    tracing::warn!(secret = name, manager = self.manager.name(), %error, "refreshing a secret failed; the previous value keeps serving");
                    Ok(old.value)
                }
                None => Err(error),
            },
        }
    }

    /// The cached value whatever its age (`None`: never fetched).
    pub fn cached(&self, name: &str) -> Option<Option<String>> {
        self.entry(name).map(|e| e.value)
    }

    /// Fetches every cached secret whose TTL has passed and says which changed.
    pub async fn refresh_expired(&self) -> Refreshed {
        let due: Vec<(String, Option<String>)> = self
            .entries
            .read()
            .map(|e| e.iter().filter(|(_, v)| v.fetched.elapsed() >= self.ttl).map(|(k, v)| (k.clone(), v.value.clone())).collect())
            .unwrap_or_default();
        let mut out = Refreshed::default();
        let fetched = futures::future::join_all(due.iter().map(|(name, _)| self.manager.get_secret(name))).await;
        for ((name, old), result) in due.into_iter().zip(fetched) {
            match result {
                Ok(value) => {
                    if value != old {
                        out.changed.push(name.clone());
                    }
                    self.store(&name, value);
                }
                Err(e) => {
                    tracing::warn!(secret = %name, manager = self.manager.name(), error = %e, "refreshing a secret failed; the previous value keeps serving");
                    out.failed.push((name, e));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU64, Ordering};

    use async_trait::async_trait;

    use super::*;

    /// A manager whose values and failures tests set.
    #[derive(Default)]
    struct Scripted {
        values: Mutex<HashMap<String, String>>,
        down: std::sync::atomic::AtomicBool,
        calls: AtomicU64,
    }

    #[async_trait]
    impl SecretManager for Scripted {
        fn name(&self) -> &'static str {
            "scripted"
        }
        async fn get_secret(&self, name: &str) -> Result<Option<String>, SecretError> {
            self.calls.fetch_add(1, Ordering::Relaxed);
            if self.down.load(Ordering::Relaxed) {
                return Err(SecretError::new("scripted", "unreachable"));
            }
            Ok(self.values.lock().expect("lock").get(name).cloned())
        }
    }

    #[tokio::test]
    async fn hits_expiry_rotation_and_stale_values() {
        let m = Arc::new(Scripted::default());
        m.values.lock().expect("lock").insert("K".into(), "v1".into());
        let cache = SecretCache::new(m.clone(), Duration::from_millis(50));
        assert_eq!(cache.get("K").await.expect("get").as_deref(), Some("v1"));
        assert_eq!(cache.get("K").await.expect("get").as_deref(), Some("v1"));
        assert_eq!(cache.get("MISSING").await.expect("get"), None);
        assert_eq!(cache.get("MISSING").await.expect("get"), None);
        assert_eq!(m.calls.load(Ordering::Relaxed), 2, "second reads are cache hits, misses included");

        m.values.lock().expect("lock").insert("K".into(), "v2".into());
        tokio::time::sleep(Duration::from_millis(60)).await;
        let r = cache.refresh_expired().await;
        assert_eq!(r.changed, vec!["K".to_owned()]);
        assert_eq!(cache.cached("K"), Some(Some("v2".to_owned())));

        m.down.store(true, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(cache.get("K").await.expect("stale").as_deref(), Some("v2"), "the old value keeps serving");
        let r = cache.refresh_expired().await;
        assert_eq!(r.failed.len(), 2);
        assert!(cache.get("NEVER_SEEN").await.is_err(), "no old value: the error");
    }
}
