//! What every handler shares: the router, the master key, limits and the
//! metrics handle. Built once from the config at start-up.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use metrics_exporter_prometheus::PrometheusHandle;
use tianji_core::config::{Config, ConfigError, Problems};
use tianji_providers::ProviderRegistry;
use tianji_router::Router;

use crate::deployments::Deployments;

use crate::access::spend_writer::WriterSettings;
use crate::access::{Access, AccessSettings};
use crate::auth::MasterKey;
use crate::plugins::{Plugins, plugin_dirs, raw_guardrails};

/// Default request body limit when `general_settings.max_request_size_mb` is unset.
pub const DEFAULT_MAX_BODY_MB: f64 = 32.0;

/// Shared application state (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    /// Model groups and routing; swapped when models are added through the API.
    pub router: Arc<ArcSwap<Router>>,
    /// What rebuilding the router needs (config plus stored models).
    pub deployments: Arc<Deployments>,
    /// Admin key, when auth is on.
    pub master_key: Option<Arc<MasterKey>>,
    /// Request body limit in bytes.
    pub max_body_bytes: usize,
    /// Prometheus renderer.
    pub metrics: PrometheusHandle,
    /// When the process started serving.
    pub started: Instant,
    /// Plugins and the guardrail policy.
    pub plugins: Arc<Plugins>,
    /// Virtual keys, budgets, limits and spend (with a master key).
    pub access: Option<Arc<Access>>,
    /// The secret manager behind the config's references, when configured.
    pub secrets: Option<Arc<crate::secrets::ConfigSecrets>>,
}

/// Where things come from, beyond the config text.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// The config file (watched for `guardrails:` changes).
    pub config_path: Option<PathBuf>,
    /// `--plugin-dir`: overrides `general_settings.plugin_dir`.
    pub plugin_dir: Option<PathBuf>,
}

/// A validated config and everything built from it.
pub struct Loaded {
    /// The state to serve with.
    pub state: AppState,
    /// The parsed config (for summaries).
    pub config: Config,
    /// Keys Tianji ignored, by path.
    pub ignored: Vec<String>,
}

/// Parses a config file and builds the state, reporting every problem at once.
pub fn load(path: &Path, plugin_dir: Option<PathBuf>) -> Result<Loaded, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        problems: vec![tianji_core::config::Problem { path: String::new(), message: format!("cannot read {}: {e}", path.display()) }],
    })?;
    load_with(&text, tianji_core::config::Env::process(), LoadOptions { config_path: Some(path.to_path_buf()), plugin_dir })
}

/// Like [`load`], from YAML text and an explicit environment.
pub fn load_str(text: &str, env: tianji_core::config::Env) -> Result<Loaded, ConfigError> {
    load_with(text, env, LoadOptions::default())
}

/// Builds the state from YAML text, an environment and the file locations.
pub fn load_with(text: &str, env: tianji_core::config::Env, options: LoadOptions) -> Result<Loaded, ConfigError> {
    let mut problems = Problems::default();
    let control = crate::plugins::ControlRuntime::new().map_err(|e| ConfigError {
        problems: vec![tianji_core::config::Problem { path: String::new(), message: format!("cannot start the control runtime: {e}") }],
    })?;
    let (env, secrets) = crate::secrets::resolve(text, env, &control, &mut problems);
    let config = Config::parse(text, env, &mut problems);
    let configured_dir = options.plugin_dir.clone().or_else(|| {
        config.general_settings.plugin_dir.as_ref().map(|d| {
            let d = PathBuf::from(d);
            match options.config_path.as_deref().and_then(Path::parent) {
                Some(base) if d.is_relative() => base.join(d),
                _ => d,
            }
        })
    });
    let secret_values = secrets.as_ref().map(|s| s.secrets.clone() as Arc<dyn tianji_core::traits::SecretValues>);
    let plugins = Plugins::start(
        &config,
        raw_guardrails(text),
        options.config_path.clone(),
        plugin_dirs(configured_dir.as_deref()),
        (control, secret_values),
        &mut problems,
    );
    if let (Some(source), Some(plugins)) = (config.env.get("LITELLM_MODEL_COST_MAP_URL").filter(|s| !s.is_empty()), plugins.as_ref()) {
        load_cost_map(&source, plugins, &mut problems);
    }
    let metrics = crate::telemetry::metrics_handle();
    let registry = Arc::new(ProviderRegistry::with_builtin());
    let client = tianji_providers::http::build_client();
    let router = Router::build(&config, registry.clone(), client.clone(), &mut problems);
    let deployments = Arc::new(Deployments::new(config.clone(), registry, client));
    let database = database_target(&config, options.config_path.as_deref(), &mut problems);
    let ignored = problems.into_result()?;
    let plugins = Arc::new(plugins.ok_or_else(|| ConfigError { problems: Vec::new() })?);
    let access = match (database, config.general_settings.master_key.as_deref()) {
        (Some(target), Some(master)) => Some(open_access(&plugins, &config, target, master)?),
        _ => None,
    };
    let router = Arc::new(ArcSwap::from_pointee(router));
    if let Some(access) = &access {
        // Models added through the API join the config's.
        let (store, d, r) = (access.store.clone(), deployments.clone(), router.clone());
        plugins.control.block_on(async move { d.reload(&store, &r).await }).map_err(|e| ConfigError {
            problems: vec![tianji_core::config::Problem { path: "general_settings.database_url".into(), message: e.to_string() }],
        })?;
        // Other instances' model changes arrive as notifications.
        let (store, d, r, changed) = (access.store.clone(), deployments.clone(), router.clone(), access.models_changed.clone());
        plugins.control.handle().spawn(async move {
            loop {
                changed.notified().await;
                if let Err(e) = d.reload(&store, &r).await {
                    tracing::warn!(error = %e, "could not reload models changed by another instance");
                }
            }
        });
    }
    if let Some(s) = &secrets {
        s.spawn_refresher(&plugins.control, deployments.clone(), router.clone(), access.as_ref().map(|a| a.store.clone()));
    }
    let max_mb = config.general_settings.max_request_size_mb.unwrap_or(DEFAULT_MAX_BODY_MB);
    let state = AppState {
        router,
        deployments,
        master_key: config.general_settings.master_key.as_deref().map(|k| Arc::new(MasterKey::new(k))),
        max_body_bytes: (max_mb * 1024.0 * 1024.0) as usize,
        metrics,
        started: Instant::now(),
        plugins,
        access,
        secrets,
    };
    Ok(Loaded { state, config, ignored })
}

/// Where keys and spend are kept.
struct DatabaseTarget {
    url: String,
    spill_path: Option<PathBuf>,
}

/// The database to open: `general_settings.database_url`, else
/// `DATABASE_URL`, else (with a master key) `tianji.db` next to the config,
/// or an in-memory database when there is no config file.
fn database_target(config: &Config, config_path: Option<&Path>, problems: &mut Problems) -> Option<DatabaseTarget> {
    let g = &config.general_settings;
    let url = g.database_url.clone().or_else(|| config.env.get("DATABASE_URL").filter(|u| !u.is_empty()));
    if g.master_key.is_none() {
        if url.is_some() {
            problems.error(
                "general_settings.master_key",
                "is required when a database is configured (database_url or DATABASE_URL): virtual keys are managed with the master key",
            );
        }
        return None;
    }
    let dir = config_path.and_then(Path::parent).map(|d| if d.as_os_str().is_empty() { Path::new(".") } else { d });
    let url = match (url, dir) {
        (Some(u), _) => u,
        (None, Some(dir)) => tianji_store::sqlite_url(&dir.join("tianji.db")),
        (None, None) => "sqlite::memory:".to_owned(),
    };
    let spill_path = match (url.contains(":memory:"), dir) {
        (true, _) => None,
        (false, Some(dir)) => Some(dir.join("tianji-spend-spill.jsonl")),
        (false, None) => Some(PathBuf::from("tianji-spend-spill.jsonl")),
    };
    Some(DatabaseTarget { url, spill_path })
}

/// Connects to the database (on the control runtime, which also runs the
/// spend writer) and starts the key layer.
fn open_access(plugins: &Plugins, config: &Config, target: DatabaseTarget, master: &str) -> Result<Arc<Access>, ConfigError> {
    let g = &config.general_settings;
    let secs = |v: Option<f64>, default: std::time::Duration| v.map_or(default, std::time::Duration::from_secs_f64);
    let settings = AccessSettings {
        cache_ttl: secs(g.user_api_key_cache_ttl, crate::access::DEFAULT_CACHE_TTL),
        writer: WriterSettings {
            interval: secs(g.proxy_batch_write_at, crate::access::DEFAULT_WRITE_INTERVAL),
            batch_size: g.spend_log_batch_size.map_or(crate::access::DEFAULT_WRITE_BATCH, |n| n as usize),
            spill_path: target.spill_path,
        },
        allow_requests_on_db_unavailable: g.allow_requests_on_db_unavailable,
        redis_url: config.router_settings.redis().or_else(|| config.env.get("REDIS_URL").filter(|u| !u.is_empty())),
    };
    let options = tianji_store::StoreOptions {
        max_connections: g.database_connection_pool_limit.map_or(10, |n| n.min(u64::from(u32::MAX)) as u32),
        ..Default::default()
    };
    let url = target.url;
    plugins
        .control
        .block_on(async move {
            let store = tianji_store::Store::connect(&url, &options).await.map_err(|e| ("general_settings.database_url", e.to_string()))?;
            Access::start(store, settings, master).await.map_err(|e| ("router_settings.redis_host", e))
        })
        .map_err(|(path, message)| ConfigError { problems: vec![tianji_core::config::Problem { path: path.into(), message }] })
}

/// Installs the cost map named by `LITELLM_MODEL_COST_MAP_URL`: a file (path
/// or `file://`) must load, or start-up fails naming it; an `http(s)://` map
/// that cannot be fetched leaves the built-in prices in place, with a warning.
fn load_cost_map(source: &str, plugins: &Plugins, problems: &mut Problems) {
    let at = "environment.LITELLM_MODEL_COST_MAP_URL";
    let text = if source.starts_with("http://") || source.starts_with("https://") {
        let url = source.to_owned();
        let fetched = plugins.control.block_on(async move {
            let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build().map_err(|e| e.to_string())?;
            let r = client.get(&url).send().await.map_err(|e| e.to_string())?;
            if !r.status().is_success() {
                return Err(format!("HTTP {}", r.status()));
            }
            r.text().await.map_err(|e| e.to_string())
        });
        match fetched {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(url = source, error = %e, "could not fetch the cost map; using the built-in prices");
                return;
            }
        }
    } else {
        let path = source.strip_prefix("file://").unwrap_or(source);
        match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                problems.error(at, format!("cannot read the cost map {path}: {e}"));
                return;
            }
        }
    };
    match tianji_core::pricing::parse_cost_map(&text) {
        Ok(map) => {
            tracing::info!(models = map.len(), source, "cost map loaded");
            tianji_core::pricing::install(map);
        }
        Err(e) => problems.error(at, format!("cost map {source}: {e}")),
    }
}
