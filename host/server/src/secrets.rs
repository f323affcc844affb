//! The config's `os.environ/` references resolved through the secret
//! manager (`general_settings.key_management_system`), at start-up and
//! again whenever the cache's TTL has passed.
//!
//! At start-up every reference is fetched before the config is parsed, so
//! the one start-up error lists each reference the manager could not
//! deliver, with its config path and reason. Afterwards a background task
//! refreshes expired values; when one changed (a rotated provider key) the
//! config is parsed again with the new values and the router rebuilt and
//! swapped, without a restart. Settings read once at start-up
//! (`master_key`, `database_url`, Redis) need a restart to change.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use serde_json::{Value, json};
use tianji_core::config::{Config, Env, Problems, secrets};
use tianji_router::Router;
use tianji_secrets::Secrets;

use crate::deployments::Deployments;
use crate::plugins::ControlRuntime;

/// How soon a refresh that failed is tried again (at most the TTL).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(30);

/// The manager and what the config references through it.
pub struct ConfigSecrets {
    /// The manager with its cache.
    pub secrets: Arc<Secrets>,
    /// The referenced names the manager resolves.
    names: Vec<String>,
    /// The config tree, for parsing again with refreshed values.
    tree: Value,
    /// The environment before the manager's values were added.
    base_env: Env,
}

/// Connects the configured secret manager (if any) and resolves every
/// reference into `env`; problems (an unknown manager, bad settings) are
/// recorded, and references that cannot be resolved are marked so the
/// config parse reports each with its path.
pub fn resolve(text: &str, env: Env, control: &ControlRuntime, problems: &mut Problems) -> (Env, Option<Arc<ConfigSecrets>>) {
    let Ok(tree) = Config::tree(text) else { return (env, None) };
    // The settings' own problems are reported by the config parse.
    let Some(settings) = secrets::parse(&tree, &env, &mut Problems::default()) else { return (env, None) };
    let names = secrets::managed_names(&tree);
    let base_env = env.clone();
    let mut env = env;
    let connected = control.block_on(async {
        let secrets = tianji_secrets::connect(&settings, &base_env).await?;
        secrets.resolve_into(&names, &mut env).await;
        Ok::<_, tianji_core::traits::SecretError>(secrets)
    });
    match connected {
        Ok(secrets) => {
            let resolved = names.iter().filter(|n| env.unresolved(n).is_none()).count();
            tracing::info!(
                manager = secrets.manager_name(),
                references = names.len(),
                resolved,
                "secrets resolved through the secret manager"
            );
            let refs = ConfigSecrets { secrets: Arc::new(secrets), names, tree, base_env };
            (env, Some(Arc::new(refs)))
        }
        Err(e) => {
            problems.error("general_settings.key_management_system", format!("cannot use the secret manager: {e}"));
            let managed = |n: &String| settings.access_mode.reads() && settings.hosted_keys.as_ref().is_none_or(|h| h.contains(n));
            for name in names.iter().filter(|n| managed(n)) {
                env.set_unresolved(name.clone(), format!("the secret manager {} is not usable", settings.system));
            }
            (env, None)
        }
    }
}

impl ConfigSecrets {
    /// The manager's name.
    pub fn manager_name(&self) -> &'static str {
        self.secrets.manager_name()
    }

    /// `{"name", "status", "error"?}` for `/health/readiness`.
    pub async fn health(&self) -> Value {
        match self.secrets.health().await {
            Ok(()) => json!({"name": self.manager_name(), "status": "healthy", "references": self.names.len()}),
            Err(e) => json!({"name": self.manager_name(), "status": "unhealthy", "error": e, "references": self.names.len()}),
        }
    }

    /// Refreshes what expired; if a value changed, parses the config again
    /// with the new values and swaps in a rebuilt router.
    async fn refresh(&self, deployments: &Deployments, router: &ArcSwap<Router>, store: Option<&tianji_store::Store>) -> bool {
        let report = self.secrets.refresh().await;
        if report.changed.is_empty() {
            return report.failed.is_empty();
        }
        let mut env = self.base_env.clone();
        self.secrets.resolve_into(&self.names, &mut env).await;
        let mut problems = Problems::default();
        let config = Config::from_value(self.tree.clone(), env, &mut problems);
        if !problems.errors.is_empty() {
            let errors: Vec<String> = problems.errors.iter().map(ToString::to_string).collect();
            tracing::error!(?errors, changed = ?report.changed, "rotated secrets do not make a valid config; the previous values keep serving");
            return false;
        }
        deployments.set_base(config);
        match deployments.rebuild(store, router).await {
            Ok(()) => {
                tracing::info!(changed = ?report.changed, "secrets changed in the secret manager; deployments rebuilt with the new values");
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "rebuilding the deployments after a secret rotation failed");
                false
            }
        }
    }

    /// Refreshes every TTL (sooner after a failure) on the control runtime.
    pub fn spawn_refresher(
        self: &Arc<Self>,
        control: &ControlRuntime,
        deployments: Arc<Deployments>,
        router: Arc<ArcSwap<Router>>,
        store: Option<tianji_store::Store>,
    ) {
        let ttl = self.secrets.ttl();
        if ttl.is_zero() {
            return;
        }
        let this = self.clone();
        control.handle().spawn(async move {
            let mut wait = ttl;
            loop {
                tokio::time::sleep(wait).await;
                let ok = this.refresh(&deployments, &router, store.as_ref()).await;
                wait = if ok { ttl } else { ttl.min(RETRY_AFTER_FAILURE) };
            }
        });
    }
}
