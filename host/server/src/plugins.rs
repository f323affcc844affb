//! The proxy's side of plugins: which directories are scanned, a small
//! control runtime for background work (compiling, watching), hot reload of
//! plugins and of the config's `guardrails:` section, and the `/plugins`,
//! `/plugins/reload` and `/guardrails/list` endpoints.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::Json;
use axum::extract::State;
use serde_json::{Map, Value, json};
use tianji_core::config::{Config, Env, Problems};
use tianji_core::traits::SecretValues;
use tianji_plugin_host::engine::EngineOptions;
use tianji_plugin_host::registry::PluginHost;

use crate::auth::Caller;
use crate::guardrails::GuardrailPolicy;
use crate::logging::LogPipeline;
use crate::prompts::PromptRegistry;
use crate::state::AppState;

/// How long file events are collected before a rescan.
const DEBOUNCE: Duration = Duration::from_millis(100);

/// A background tokio runtime for work that must not run on the request
/// workers: compiling plugins, watching files, reloading policies.
pub struct ControlRuntime {
    runtime: Option<tokio::runtime::Runtime>,
}

impl ControlRuntime {
    /// One worker thread.
    pub fn new() -> std::io::Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).thread_name("tianji-control").enable_all().build()?;
        Ok(Self { runtime: Some(rt) })
    }

    /// The runtime's handle.
    pub fn handle(&self) -> &tokio::runtime::Handle {
        self.runtime.as_ref().map(|r| r.handle()).expect("the control runtime lives until drop")
    }

    /// Runs `fut` to completion on the control runtime from any context
    /// (including inside another runtime), blocking the calling thread.
    pub fn block_on<F: Future + Send>(&self, fut: F) -> F::Output
    where
        F::Output: Send,
    {
        let handle = self.handle().clone();
        std::thread::scope(|s| s.spawn(move || handle.block_on(fut)).join()).unwrap_or_else(|p| std::panic::resume_unwind(p))
    }
}

impl Drop for ControlRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// The directories plugins are loaded from: the built-in plugins shipped with
/// the binary (loaded when a config names them), then the operator's
/// directory (everything in it is loaded, and overrides a built-in).
///
/// Built-ins: `$TIANJI_BUILTIN_PLUGIN_DIR`, else `<binary dir>/plugins`, else
/// (in a cargo build tree) `<target>/wasm32-wasip2/plugin` as written by
/// `scripts/build-plugins`.
pub fn plugin_dirs(configured: Option<&Path>) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut dirs = Vec::new();
    if let Some(d) = std::env::var_os("TIANJI_BUILTIN_PLUGIN_DIR") {
        dirs.push(PathBuf::from(d));
    } else if let Ok(exe) = std::env::current_exe()
        && let Some(bin_dir) = exe.parent()
    {
        let shipped = bin_dir.join("plugins");
        let cargo_tree = bin_dir.parent().map(|t| t.join("wasm32-wasip2").join("plugin"));
        // Test binaries live one level deeper (target/debug/deps).
        let cargo_tree_deps = bin_dir.parent().and_then(|p| p.parent()).map(|t| t.join("wasm32-wasip2").join("plugin"));
        if let Some(d) = [Some(shipped), cargo_tree, cargo_tree_deps].into_iter().flatten().find(|d| d.is_dir()) {
            dirs.push(d);
        }
    }
    (dirs, vec![configured.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("plugins"))])
}

/// Everything the proxy keeps about plugins and guardrail policy.
pub struct Plugins {
    /// The plugin host.
    pub host: Arc<PluginHost>,
    /// The guardrail policy; swapped on reload.
    pub policy: ArcSwap<GuardrailPolicy>,
    /// Call-log delivery.
    pub logging: LogPipeline,
    /// Managed prompts.
    pub prompts: PromptRegistry,
    /// The background runtime.
    pub control: ControlRuntime,
    /// The config file, re-read for `guardrails:` changes.
    config_path: Option<PathBuf>,
    /// The environment references resolve against (with the secret manager's values).
    env: Env,
    /// The `guardrails:` section the serving policy was built from.
    policy_source: Mutex<Value>,
    /// One reload at a time (the watcher's and `/plugins/reload` may overlap).
    reloading: tokio::sync::Mutex<()>,
    /// Errors of the last rejected policy change.
    policy_errors: Mutex<Vec<String>>,
    watch: Mutex<Option<tianji_plugin_host::watch::WatchGuard>>,
}

impl Plugins {
    /// Starts the engine, loads the plugins and builds the guardrail policy;
    /// problems are recorded with their config paths.
    pub fn start(
        config: &Config,
        raw_guardrails: Value,
        config_path: Option<PathBuf>,
        (builtin_dirs, dirs): (Vec<PathBuf>, Vec<PathBuf>),
        (control, secret_values): (ControlRuntime, Option<Arc<dyn SecretValues>>),
        problems: &mut Problems,
    ) -> Option<Self> {
        let host = Arc::new(PluginHost::new(EngineOptions::from_env(), builtin_dirs, dirs));
        host.set_outbound(crate::outbound::PooledOutbound::new());
        if let Some(values) = secret_values {
            host.set_secret_values(values);
        }
        let base_dir = config_path.as_deref().and_then(Path::parent).map(Path::to_path_buf);
        host.want_builtins(config.guardrails.iter().map(|g| g.guardrail.as_str()));
        let handle = control.handle().clone();
        let (report, policy, logging) = control.block_on(async {
            let report = host.rescan().await;
            let mut p = Problems::default();
            let policy = GuardrailPolicy::build(&config.guardrails, &host, base_dir.as_deref(), &mut p).await;
            let logging = LogPipeline::build(config, &host, &handle, &mut p).await;
            let prompts = PromptRegistry::build(&config.prompts, &host, base_dir.as_deref(), &mut p).await;
            (report, (policy, p), (logging, prompts))
        });
        let (logging, prompts) = logging;
        let (policy, p) = policy;
        problems.ignored.extend(p.ignored);
        problems.errors.extend(p.errors);
        for (name, error) in &report.failed {
            let used = config.guardrails.iter().any(|g| &g.guardrail == name);
            if used {
                problems.error(&format!("plugins.{name}"), error.clone());
            }
        }
        Some(Self {
            host,
            policy: ArcSwap::from_pointee(policy),
            logging,
            prompts,
            control,
            config_path,
            env: config.env.clone(),
            policy_source: Mutex::new(raw_guardrails),
            reloading: tokio::sync::Mutex::new(()),
            policy_errors: Mutex::new(Vec::new()),
            watch: Mutex::new(None),
        })
    }

    /// Rescans the plugin directories and, if the config file's `guardrails:`
    /// section changed, validates and swaps in the new policy (an invalid
    /// change is rejected and the old policy keeps serving).
    pub async fn reload(&self) -> Value {
        let _one_at_a_time = self.reloading.lock().await;
        let report = self.host.rescan().await;
        let mut policy = json!("unchanged");
        if let Some(path) = &self.config_path {
            match std::fs::read_to_string(path) {
                // A config is never empty: this one is being written (truncated, not yet
                // filled); the write's own change event reloads it once complete.
                Ok(text) if text.trim().is_empty() => {
                    tracing::debug!(path = %path.display(), "the config file is empty (being written?); guardrail policy unchanged");
                }
                Ok(text) => {
                    let raw = raw_guardrails(&text);
                    let changed = self.policy_source.lock().map(|s| *s != raw).unwrap_or(true);
                    if changed {
                        let mut problems = Problems::default();
                        let config = Config::parse(&text, self.env.clone(), &mut problems);
                        problems.errors.retain(|p| p.path.starts_with("guardrails"));
                        self.host.want_builtins(config.guardrails.iter().map(|g| g.guardrail.as_str()));
                        self.host.rescan().await;
                        let built = GuardrailPolicy::build(&config.guardrails, &self.host, path.parent(), &mut problems).await;
                        let errors: Vec<String> = problems.errors.iter().map(|p| p.to_string()).collect();
                        if errors.is_empty() {
                            tracing::info!(guardrails = built.entries.len(), "guardrail policy reloaded");
                            self.policy.store(Arc::new(built));
                            if let Ok(mut s) = self.policy_source.lock() {
                                *s = raw;
                            }
                            policy = json!("reloaded");
                        } else {
                            tracing::error!(?errors, "guardrail policy change rejected; the previous policy keeps serving");
                            policy = json!({ "rejected": errors });
                        }
                        if let Ok(mut e) = self.policy_errors.lock() {
                            *e = errors;
                        }
                    }
                }
                Err(e) => tracing::warn!(path = %path.display(), "cannot re-read the config: {e}"),
            }
        }
        json!({ "plugins": report, "guardrails": policy })
    }

    /// Watches the plugin directories and the config file; changes trigger
    /// [`reload`](Self::reload) after a short debounce.
    pub fn watch(self: &Arc<Self>) {
        let changed = Arc::new(tokio::sync::Notify::new());
        let mut paths: Vec<PathBuf> = self.host.dirs();
        if let Some(p) = &self.config_path {
            paths.push(p.clone());
        }
        match tianji_plugin_host::watch::watch(&paths, changed.clone()) {
            Ok(guard) => {
                if let Ok(mut w) = self.watch.lock() {
                    *w = Some(guard);
                }
            }
            Err(e) => {
                tracing::warn!("hot reload disabled: {e}");
                return;
            }
        }
        let weak = Arc::downgrade(self);
        self.control.handle().spawn(async move {
            loop {
                changed.notified().await;
                tokio::time::sleep(DEBOUNCE).await;
                let Some(this) = weak.upgrade() else { break };
                let result = this.reload().await;
                tracing::debug!(%result, "reload after file change");
            }
        });
    }

    /// Flushes every logger's queue (call at shutdown).
    pub fn flush_logs(&self, grace: Duration) {
        self.control.block_on(self.logging.shutdown(grace));
    }

    /// The rejected policy change's errors, if the last one was rejected.
    pub fn policy_errors(&self) -> Vec<String> {
        self.policy_errors.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

/// The settings of a configured plugin use, with every string setting whose
/// name ends in `_file` read (relative to `base_dir`) and added as
/// `<name>_content`: plugins have no filesystem. Unreadable files are
/// problems at `<path>.litellm_params.<name>`.
pub fn with_file_contents(params: &Map<String, Value>, base_dir: Option<&Path>, path: &str, problems: &mut Problems) -> Map<String, Value> {
    let mut out = params.clone();
    for (key, value) in params {
        let (Some(file), true) = (value.as_str(), key.ends_with("_file")) else { continue };
        let full = match base_dir {
            Some(base) if Path::new(file).is_relative() => base.join(file),
            _ => PathBuf::from(file),
        };
        match std::fs::read_to_string(&full) {
            Ok(text) => {
                out.insert(format!("{key}_content"), Value::String(text));
            }
            Err(e) => problems.error(&format!("{path}.litellm_params.{key}"), format!("cannot read {}: {e}", full.display())),
        }
    }
    out
}

/// The `guardrails:` section of a config text, for change detection.
pub fn raw_guardrails(text: &str) -> Value {
    serde_yaml_ng::from_str::<Value>(text).ok().and_then(|v| v.get("guardrails").cloned()).unwrap_or(Value::Null)
}

/// `GET /plugins`.
pub async fn list(State(state): State<AppState>, _caller: Caller) -> Json<Value> {
    let p = &state.plugins;
    Json(json!({
        "plugin_dirs": p.host.dirs(),
        "engine_started": p.host.started_engine().is_some(),
        "pooling_allocator": p.host.started_engine().map(|e| e.pooling()),
        "plugins": p.host.status(),
        "guardrail_policy_errors": p.policy_errors(),
        "loggers": p.logging.sinks().iter().map(|s| json!({
            "name": s.name,
            "queued": s.stats.queued.load(std::sync::atomic::Ordering::Relaxed),
            "delivered": s.stats.delivered.load(std::sync::atomic::Ordering::Relaxed),
            "failed": s.stats.failed.load(std::sync::atomic::Ordering::Relaxed),
            "dropped": s.stats.dropped.load(std::sync::atomic::Ordering::Relaxed),
        })).collect::<Vec<_>>(),
    }))
}

/// `POST /plugins/reload`: rescans now and answers with what changed.
pub async fn reload(State(state): State<AppState>, _caller: Caller) -> Json<Value> {
    let plugins = state.plugins.clone();
    let handle = plugins.control.handle().clone();
    let result = handle.spawn(async move { plugins.reload().await }).await.unwrap_or_else(|e| json!({ "error": e.to_string() }));
    Json(result)
}

/// `GET /guardrails/list`, in LiteLLM's shape.
pub async fn guardrails_list(State(state): State<AppState>, _caller: Caller) -> Json<Value> {
    let policy = state.plugins.policy.load();
    let list: Vec<Value> = policy
        .entries
        .iter()
        .map(|e| {
            let modes: Vec<&str> = e.modes.iter().map(|m| m.as_str()).collect();
            json!({
                "guardrail_name": e.name,
                "litellm_params": {
                    "guardrail": e.implementation,
                    "mode": if modes.len() == 1 { json!(modes[0]) } else { json!(modes) },
                    "default_on": e.default_on,
                },
                "guardrail_info": {
                    "failure_policy": match e.failure_policy {
                        tianji_core::config::guardrails::FailurePolicy::FailOpen => "fail_open",
                        tianji_core::config::guardrails::FailurePolicy::FailClosed => "fail_closed",
                    },
                },
            })
        })
        .collect();
    Json(json!({ "guardrails": list }))
}
