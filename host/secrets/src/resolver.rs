//! [`Secrets`]: resolves `os.environ/NAME` references through the
//! configured manager and its cache.
//!
//! A name maps to a secret in the manager as LiteLLM maps it, plus two
//! Tianji additions:
//! - `hosted_keys`, when set, lists the only names read from the manager;
//!   `access_mode: write_only` reads none. Other names come from the environment.
//! - `prefix` is prepended to the secret's name; `primary_secret_name`
//!   names one JSON secret that holds every name as a field (LiteLLM's AWS
//!   option, here for every manager).
//! - `NAME#field` reads `field` of the JSON secret `NAME`.
//!
//! A secret the manager does not have falls back to the environment variable
//! of the same name (as LiteLLM does); an unreachable manager, an empty value
//! or a malformed JSON secret is an error naming the secret.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use tianji_core::config::Env;
use tianji_core::config::secrets::SecretSettings;
use tianji_core::traits::{SecretManager, SecretValues};

use crate::cache::{Refreshed, SecretCache};

/// Where one referenced name lives in the manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The secret's name in the manager.
    pub secret: String,
    /// A field of the secret's JSON value, when one is selected.
    pub field: Option<String>,
}

/// The outcome of looking one name up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The value.
    Found(String),
    /// The manager is not asked for this name (`hosted_keys`, `write_only`).
    NotManaged,
    /// The manager has no such secret.
    Missing,
    /// The manager failed or the value is unusable, with why.
    Failed(String),
}

/// The configured manager, its cache and the name mapping.
pub struct Secrets {
    settings: SecretSettings,
    cache: SecretCache,
}

impl Secrets {
    /// `manager` behind a cache with the settings' TTL.
    pub fn new(settings: SecretSettings, manager: std::sync::Arc<dyn SecretManager>) -> Self {
        let ttl = Duration::from_secs_f64(settings.cache_ttl.max(0.0));
        Self { cache: SecretCache::new(manager, ttl), settings }
    }

    /// The manager's name (`hashicorp_vault`, ...).
    pub fn manager_name(&self) -> &'static str {
        self.cache.manager().name()
    }

    /// How long values are trusted.
    pub fn ttl(&self) -> Duration {
        Duration::from_secs_f64(self.settings.cache_ttl.max(0.0))
    }

    /// Where `name` lives in the manager, or `None` when it is not read from it.
    pub fn locate(&self, name: &str) -> Option<Location> {
        if !self.settings.access_mode.reads() {
            return None;
        }
        let (base, field) = match name.split_once('#') {
            Some((b, f)) => (b, Some(f.to_owned())),
            None => (name, None),
        };
        if let Some(hosted) = &self.settings.hosted_keys
            && !hosted.iter().any(|h| h == name || h == base)
        {
            return None;
        }
        let prefixed = |s: &str| match &self.settings.prefix {
            Some(p) => format!("{p}{s}"),
            None => s.to_owned(),
        };
        Some(match (&self.settings.primary_secret_name, field) {
            (_, Some(field)) => Location { secret: prefixed(base), field: Some(field) },
            (Some(primary), None) => Location { secret: prefixed(primary), field: Some(base.to_owned()) },
            (None, None) => Location { secret: prefixed(base), field: None },
        })
    }

    fn select(&self, at: &Location, value: Option<String>) -> Lookup {
        let Some(value) = value else { return Lookup::Missing };
        let value = match &at.field {
            None => value,
            Some(field) => {
                let Ok(Value::Object(map)) = serde_json::from_str::<Value>(&value) else {
                    return Lookup::Failed(format!("secret {} is not a JSON object, so field '{field}' cannot be read from it", at.secret));
                };
                match map.get(field) {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Number(n)) => n.to_string(),
                    Some(Value::Bool(b)) => b.to_string(),
                    Some(_) => return Lookup::Failed(format!("field '{field}' of secret {} is not a string", at.secret)),
                    None => return Lookup::Missing,
                }
            }
        };
        if value.trim().is_empty() {
            return Lookup::Failed(format!("secret {} in {} is empty", at.secret, self.manager_name()));
        }
        Lookup::Found(value)
    }

    /// Looks `name` up (through the cache).
    pub async fn lookup(&self, name: &str) -> Lookup {
        let Some(at) = self.locate(name) else { return Lookup::NotManaged };
        match self.cache.get(&at.secret).await {
            Ok(v) => self.select(&at, v),
            Err(e) => Lookup::Failed(e.to_string()),
        }
    }

    /// Fetches every name (concurrently) and records each value, or why it
    /// is missing, in `env`: a name the manager lacks keeps the
    /// environment's value if there is one.
    pub async fn resolve_into(&self, names: &[String], env: &mut Env) {
        let found = futures::future::join_all(names.iter().map(|n| self.lookup(n))).await;
        for (name, lookup) in names.iter().zip(found) {
            match lookup {
                Lookup::Found(v) => env.set(name.clone(), v),
                Lookup::NotManaged => {}
                Lookup::Missing if env.get(name).is_some() => {
                    tracing::info!(secret = %name, manager = self.manager_name(), "not in the secret manager; using the environment variable");
                }
                Lookup::Missing => {
                    let at = self.locate(name).map(|l| match l.field {
                        Some(f) => format!("field '{f}' of secret {}", l.secret),
                        None => format!("secret {}", l.secret),
                    });
                    env.set_unresolved(
                        name.clone(),
                        format!("{} has no {} (and no environment variable {name} is set)", self.manager_name(), at.unwrap_or_default()),
                    );
                }
                Lookup::Failed(reason) => env.set_unresolved(name.clone(), reason),
            }
        }
    }

    /// Fetches again what the TTL has expired.
    pub async fn refresh(&self) -> Refreshed {
        self.cache.refresh_expired().await
    }

    /// The manager's health check.
    pub async fn health(&self) -> Result<(), String> {
        match tokio::time::timeout(Duration::from_secs(5), self.cache.manager().health()).await {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(_) => Err(format!("{} did not answer within 5 s", self.manager_name())),
        }
    }
}

#[async_trait]
impl SecretValues for Secrets {
    fn get(&self, name: &str) -> Option<String> {
        match self.locate(name) {
            None => std::env::var(name).ok(),
            Some(at) => match self.cache.cached(&at.secret) {
                Some(v) => match self.select(&at, v) {
                    Lookup::Found(v) => Some(v),
                    Lookup::Missing => std::env::var(name).ok(),
                    _ => None,
                },
                None => None,
            },
        }
    }

    async fn prefetch(&self, names: &[String]) {
        for name in names {
            if let Lookup::Failed(reason) = self.lookup(name).await {
                tracing::warn!(secret = %name, manager = self.manager_name(), "a plugin's secret could not be read: {reason}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use tianji_core::config::secrets::AccessMode;
    use tianji_core::traits::SecretError;

    use super::*;

    struct Fixed(HashMap<&'static str, &'static str>);

    #[async_trait]
    impl SecretManager for Fixed {
        fn name(&self) -> &'static str {
            "fixed"
        }
        async fn get_secret(&self, name: &str) -> Result<Option<String>, SecretError> {
            if name == "BROKEN" {
                return Err(SecretError::new("fixed", "connection refused"));
            }
            Ok(self.0.get(name).map(|v| (*v).to_owned()))
        }
    }

    fn secrets(settings: SecretSettings) -> Secrets {
        let values = HashMap::from([
            ("OPENAI_API_KEY", "sk-live"),
            ("EMPTY", " "),
            ("db", r#"{"password": "pw", "port": 5432}"#),
            ("prod/ANTHROPIC_API_KEY", "sk-ant"),
            ("all", r#"{"OPENAI_API_KEY": "from-primary"}"#),
            ("TEXT", "not json"),
        ]);
        Secrets::new(SecretSettings { system: "fixed".into(), cache_ttl: 60.0, ..settings }, Arc::new(Fixed(values)))
    }

    #[tokio::test]
    async fn names_map_to_secrets_and_fields() {
        let s = secrets(SecretSettings::default());
        assert_eq!(s.lookup("OPENAI_API_KEY").await, Lookup::Found("sk-live".into()));
        assert_eq!(s.lookup("db#password").await, Lookup::Found("pw".into()));
        assert_eq!(s.lookup("db#port").await, Lookup::Found("5432".into()));
        assert_eq!(s.lookup("db#user").await, Lookup::Missing);
        assert!(matches!(s.lookup("TEXT#x").await, Lookup::Failed(m) if m.contains("not a JSON object")));
        assert!(matches!(s.lookup("EMPTY").await, Lookup::Failed(m) if m.contains("is empty")));
        assert!(matches!(s.lookup("BROKEN").await, Lookup::Failed(m) if m.contains("connection refused")));
        let prefixed = secrets(SecretSettings { prefix: Some("prod/".into()), ..Default::default() });
        assert_eq!(prefixed.lookup("ANTHROPIC_API_KEY").await, Lookup::Found("sk-ant".into()));
        let primary = secrets(SecretSettings { primary_secret_name: Some("all".into()), ..Default::default() });
        assert_eq!(primary.lookup("OPENAI_API_KEY").await, Lookup::Found("from-primary".into()));
        let hosted = secrets(SecretSettings { hosted_keys: Some(vec!["db".into()]), ..Default::default() });
        assert_eq!(hosted.lookup("OPENAI_API_KEY").await, Lookup::NotManaged);
        assert_eq!(hosted.lookup("db#password").await, Lookup::Found("pw".into()));
        let write_only = secrets(SecretSettings { access_mode: AccessMode::WriteOnly, ..Default::default() });
        assert_eq!(write_only.lookup("OPENAI_API_KEY").await, Lookup::NotManaged);
    }

    #[tokio::test]
    async fn resolution_falls_back_to_the_environment_only_for_missing_secrets() {
        let s = secrets(SecretSettings::default());
        let mut env = Env::isolated([("NOT_IN_VAULT".to_owned(), "from-env".to_owned())]);
        let names: Vec<String> = ["OPENAI_API_KEY", "NOT_IN_VAULT", "NOWHERE", "BROKEN"].map(String::from).to_vec();
        s.resolve_into(&names, &mut env).await;
        assert_eq!(env.get("OPENAI_API_KEY").as_deref(), Some("sk-live"));
        assert_eq!(env.get("NOT_IN_VAULT").as_deref(), Some("from-env"));
        assert!(env.unresolved("NOWHERE").is_some_and(|r| r.contains("fixed has no secret NOWHERE")), "{:?}", env.unresolved("NOWHERE"));
        assert!(env.unresolved("BROKEN").is_some_and(|r| r.contains("connection refused")));
    }
}
