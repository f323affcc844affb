//! What every handler shares: the router, the master key, limits and the
//! metrics handle. Built once from the config at start-up.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use metrics_exporter_prometheus::PrometheusHandle;
use tianji_core::config::{Config, ConfigError, Problems};
use tianji_providers::ProviderRegistry;
use tianji_router::Router;

use crate::auth::MasterKey;
use crate::plugins::{Plugins, plugin_dirs, raw_guardrails};

/// Default request body limit when `general_settings.max_request_size_mb` is unset.
pub const DEFAULT_MAX_BODY_MB: f64 = 32.0;

/// Shared application state (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    /// Model groups and routing.
    pub router: Arc<Router>,
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
    let plugins =
        Plugins::start(&config, raw_guardrails(text), options.config_path.clone(), plugin_dirs(configured_dir.as_deref()), &mut problems);
    let metrics = crate::telemetry::metrics_handle();
    let router = Router::build(&config, Arc::new(ProviderRegistry::with_builtin()), tianji_providers::http::build_client(), &mut problems);
    let ignored = problems.into_result()?;
    let plugins = Arc::new(plugins.ok_or_else(|| ConfigError { problems: Vec::new() })?);
    let max_mb = config.general_settings.max_request_size_mb.unwrap_or(DEFAULT_MAX_BODY_MB);
    let state = AppState {
        router: Arc::new(router),
        master_key: config.general_settings.master_key.as_deref().map(|k| Arc::new(MasterKey::new(k))),
        max_body_bytes: (max_mb * 1024.0 * 1024.0) as usize,
        metrics,
        started: Instant::now(),
        plugins,
    };
    Ok(Loaded { state, config, ignored })
}
