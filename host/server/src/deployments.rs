//! The deployments the router serves: the config's `model_list` plus the
//! models added through the API (kept in the database). A change rebuilds
//! the router off to the side and swaps it in atomically; requests in
//! flight finish on the router they started with. Rebuilt routers start
//! with fresh health and latency statistics. The config's part is replaced
//! when a secret manager delivers rotated values ([`Deployments::set_base`]).

use std::sync::Arc;

use arc_swap::ArcSwap;
use serde_json::Value;
use tianji_core::config::{Config, Problem, Problems, deployment_from_value};
use tianji_providers::ProviderRegistry;
use tianji_providers::http::HttpClient;
use tianji_router::Router;
use tianji_store::{Store, StoredModel};

/// Builds routers from the config and the stored models.
pub struct Deployments {
    base: ArcSwap<Config>,
    registry: Arc<ProviderRegistry>,
    client: HttpClient,
    rebuild: tokio::sync::Mutex<()>,
}

/// Where a stored model sits in problem messages.
fn path_of(m: &StoredModel) -> String {
    format!("database.models[{}]", m.id)
}

impl Deployments {
    /// Keeps what building a router needs.
    pub fn new(base: Config, registry: Arc<ProviderRegistry>, client: HttpClient) -> Self {
        Self { base: ArcSwap::from_pointee(base), registry, client, rebuild: tokio::sync::Mutex::new(()) }
    }

    /// A router over the config's deployments and `stored`. Problems with a
    /// stored model are returned (the config's own were reported at start-up).
    pub fn build(&self, stored: &[StoredModel]) -> (Router, Vec<Problem>) {
        let mut problems = Problems::default();
        let mut config = Config::clone(&self.base.load());
        for m in stored {
            let mut entry = m.entry.clone();
            // Listings show which models came from the database.
            if let Some(info) = entry
                .as_object_mut()
                .map(|o| o.entry("model_info").or_insert_with(|| Value::Object(Default::default())))
                .and_then(Value::as_object_mut)
            {
                info.insert("id".into(), Value::String(m.id.clone()));
                info.insert("db_model".into(), Value::Bool(true));
            }
            if let Some(d) = deployment_from_value(&path_of(m), entry, &config.env, &mut problems) {
                config.model_list.push(d);
            }
        }
        let mut build_problems = Problems::default();
        let router = Router::build(&config, self.registry.clone(), self.client.clone(), &mut build_problems);
        let mut errors = problems.errors;
        errors.extend(build_problems.errors.into_iter().filter(|p| p.path.starts_with("database.")));
        (router, errors)
    }

    /// Rebuilds from the database and swaps the new router in. Stored models
    /// that no longer build are skipped with a warning.
    pub async fn reload(&self, store: &Store, router: &ArcSwap<Router>) -> Result<(), tianji_store::StoreError> {
        self.rebuild(Some(store), router).await
    }

    /// Replaces the config the routers are built from (re-resolved secrets).
    pub fn set_base(&self, config: Config) {
        self.base.store(Arc::new(config));
    }

    /// Rebuilds from the config and, with a database, the stored models, and swaps the new router in.
    pub async fn rebuild(&self, store: Option<&Store>, router: &ArcSwap<Router>) -> Result<(), tianji_store::StoreError> {
        let _one_at_a_time = self.rebuild.lock().await;
        let stored = match store {
            Some(store) => store.models().await?,
            None => Vec::new(),
        };
        let (built, problems) = self.build(&stored);
        for p in problems {
            tracing::warn!(path = %p.path, "stored model skipped: {}", p.message);
        }
        router.store(Arc::new(built));
        Ok(())
    }

    /// Serializes changes to the stored models with rebuilds.
    pub async fn lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.rebuild.lock().await
    }

    /// The config's own deployment ids (those cannot be changed through the API).
    pub fn is_config_model(&self, id: &str) -> bool {
        self.base.load().model_list.iter().any(|d| d.model_info.id.as_deref() == Some(id))
    }
}
