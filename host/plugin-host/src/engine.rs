//! The wasmtime engine shared by every plugin: configuration (component
//! model, epoch interruption, pooling allocator), the linker with the host's
//! imports, the epoch ticker that enforces deadlines, and compilation with an
//! on-disk cache of precompiled components keyed by content hash and engine.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, Linker, types::ComponentItem};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::bindings;
use crate::state::PluginState;

/// How often the epoch advances: the granularity of call deadlines and of
/// yielding a long-running plugin back to the async runtime.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// What kind of plugin a component is, read from its exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PluginKind {
    /// Exports `tianji:plugin/guardrail`.
    Guardrail,
    /// Exports `tianji:plugin/logger`.
    Logger,
    /// Exports `tianji:plugin/prompt-source`.
    PromptSource,
}

impl PluginKind {
    /// The kind's name in manifests and on `/plugins`.
    pub fn as_str(self) -> &'static str {
        match self {
            PluginKind::Guardrail => "guardrail",
            PluginKind::Logger => "logger",
            PluginKind::PromptSource => "prompt-source",
        }
    }
}

/// Engine-wide settings.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Where precompiled components are cached; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// Use the pooling allocator (falls back to on-demand if the pool cannot be reserved).
    pub pooling: bool,
    /// Instance slots in the pool (all plugins together).
    pub pool_instances: u32,
    /// The largest memory cap any plugin may ask for, MiB.
    pub max_memory_mb: u64,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self { cache_dir: default_cache_dir(), pooling: true, pool_instances: 1000, max_memory_mb: 1024 }
    }
}

impl EngineOptions {
    /// Defaults overridden by the environment: `TIANJI_PLUGIN_CACHE_DIR`
    /// (empty disables the cache), `TIANJI_PLUGIN_POOLING` (`0` for on-demand
    /// allocation), `TIANJI_PLUGIN_POOL_INSTANCES`, `TIANJI_PLUGIN_MAX_MEMORY_MB`.
    pub fn from_env() -> Self {
        let mut o = Self::default();
        if let Some(dir) = std::env::var_os("TIANJI_PLUGIN_CACHE_DIR") {
            o.cache_dir = (!dir.is_empty()).then(|| PathBuf::from(dir));
        }
        if let Ok(v) = std::env::var("TIANJI_PLUGIN_POOLING") {
            o.pooling = !matches!(v.as_str(), "0" | "false" | "no" | "off");
        }
        if let Some(n) = std::env::var("TIANJI_PLUGIN_POOL_INSTANCES").ok().and_then(|v| v.parse().ok()) {
            o.pool_instances = n;
        }
        if let Some(n) = std::env::var("TIANJI_PLUGIN_MAX_MEMORY_MB").ok().and_then(|v| v.parse().ok()) {
            o.max_memory_mb = n;
        }
        o
    }
}

/// `$XDG_CACHE_HOME/tianji/plugins` or `~/.cache/tianji/plugins`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("tianji").join("plugins"))
}

/// A compiled component and what is known about it.
pub struct Compiled {
    /// The component, ready to link.
    pub component: Component,
    /// Its kind.
    pub kind: PluginKind,
    /// SHA-256 of the `.wasm` bytes, hex.
    pub hash: String,
    /// Whether it came from the on-disk cache.
    pub from_cache: bool,
    /// Time to compile or load it.
    pub load_time: Duration,
}

/// What [`PluginEngine::inspect`] found in a component.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// The plugin kind, when the component exports exactly one plugin interface.
    pub kind: Result<PluginKind, String>,
    /// Exported names (`tianji:plugin/guardrail@0.1.0`, ...).
    pub exports: Vec<String>,
    /// Imported names (`tianji:plugin/host@0.1.0`, `wasi:http/outgoing-handler@0.2.6`, ...).
    pub imports: Vec<String>,
    /// Why the host would not run it (imports it does not provide); empty when it would.
    pub refused: Vec<String>,
}

/// The engine, its linker and its epoch ticker.
pub struct PluginEngine {
    engine: Engine,
    linker: Linker<PluginState>,
    cache_dir: Option<PathBuf>,
    engine_key: String,
    pooling: bool,
    ticker_stop: Arc<AtomicBool>,
    ticker: std::sync::OnceLock<Result<(), String>>,
}

impl std::fmt::Debug for PluginEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginEngine").field("cache_dir", &self.cache_dir).field("pooling", &self.pooling).finish()
    }
}

fn engine_config(options: &EngineOptions, pooling: bool) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true).epoch_interruption(true);
    if pooling {
        let mut pool = PoolingAllocationConfig::default();
        let n = options.pool_instances.max(1);
        pool.total_component_instances(n)
            .total_core_instances(n.saturating_mul(4))
            .total_memories(n.saturating_mul(2))
            .total_tables(n.saturating_mul(4))
            .total_stacks(n)
            .max_memory_size((options.max_memory_mb as usize).saturating_mul(1 << 20));
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

impl PluginEngine {
    /// Builds the engine and its linker. The epoch ticker starts with the first instance pool.
    pub fn new(options: &EngineOptions) -> Result<Self, String> {
        let (engine, pooling) = match options.pooling.then(|| Engine::new(&engine_config(options, true))) {
            Some(Ok(engine)) => (engine, true),
            other => {
                if let Some(Err(e)) = other {
                    tracing::warn!("plugin engine: pooling allocator unavailable ({e}); using on-demand allocation");
                }
                (Engine::new(&engine_config(options, false)).map_err(|e| format!("cannot create the wasm engine: {e}"))?, false)
            }
        };
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| format!("linking WASI: {e}"))?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(|e| format!("linking wasi:http: {e}"))?;
        bindings::guardrail::GuardrailPlugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            .map_err(|e| format!("linking tianji:plugin/host: {e}"))?;

        let mut hasher = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_key = format!("{:016x}", hasher.finish());

        let ticker_stop = Arc::new(AtomicBool::new(false));
        Ok(Self {
            engine,
            linker,
            cache_dir: options.cache_dir.clone(),
            engine_key,
            pooling,
            ticker_stop,
            ticker: std::sync::OnceLock::new(),
        })
    }

    /// Starts the epoch ticker (once): deadlines need it, but a proxy with no
    /// plugin instances should not wake up every millisecond for nothing.
    pub fn ensure_ticker(&self) -> Result<(), String> {
        self.ticker
            .get_or_init(|| {
                let (engine, stop) = (self.engine.clone(), self.ticker_stop.clone());
                std::thread::Builder::new()
                    .name("tianji-plugin-epoch".into())
                    .spawn(move || {
                        while !stop.load(Ordering::Relaxed) {
                            std::thread::sleep(EPOCH_TICK);
                            engine.increment_epoch();
                        }
                    })
                    .map(|_| ())
                    .map_err(|e| format!("cannot start the plugin epoch thread: {e}"))
            })
            .clone()
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The linker with every host import.
    pub fn linker(&self) -> &Linker<PluginState> {
        &self.linker
    }

    /// Whether the pooling allocator is in use.
    pub fn pooling(&self) -> bool {
        self.pooling
    }

    /// Compiles a component, or loads it precompiled from the cache. Blocking
    /// (a compile takes tens of milliseconds to seconds): call it off the
    /// request path.
    pub fn compile(&self, bytes: &[u8]) -> Result<Compiled, String> {
        let started = Instant::now();
        let (component, hash, from_cache) = self.component(bytes)?;
        let kind = self.kind_of(&component)?;
        Ok(Compiled { component, kind, hash, from_cache, load_time: started.elapsed() })
    }

    /// The compiled component (from the cache when there), its hash, and whether it was cached.
    fn component(&self, bytes: &[u8]) -> Result<(Component, String, bool), String> {
        let hash = hex::encode(Sha256::digest(bytes));
        let cached = self.cache_dir.as_ref().map(|dir| dir.join(format!("{hash}-{}.cwasm", self.engine_key)));
        let mut from_cache = false;
        let component = match cached.as_deref().and_then(|p| self.load_cached(p)) {
            Some(c) => {
                from_cache = true;
                c
            }
            None => {
                let serialized = self.engine.precompile_component(bytes).map_err(|e| format!("not a valid component: {e:#}"))?;
                if let Some(path) = &cached {
                    store_cached(path, &serialized);
                }
                self.deserialize(&serialized)?
            }
        };
        Ok((component, hash, from_cache))
    }

    #[allow(unsafe_code)]
    fn deserialize(&self, serialized: &[u8]) -> Result<Component, String> {
        // SAFETY: the bytes were produced by `precompile_component` of this
        // very engine a moment ago.
        unsafe { Component::deserialize(&self.engine, serialized) }.map_err(|e| format!("loading the compiled component: {e:#}"))
    }

    #[allow(unsafe_code)]
    fn load_cached(&self, path: &Path) -> Option<Component> {
        if !path.exists() {
            return None;
        }
        // SAFETY: cache files are written only by `store_cached` (atomically,
        // via rename) from `precompile_component` output, named by the source's
        // SHA-256 and this engine's compatibility hash, in a directory owned by
        // the proxy's user; wasmtime also checks the header and engine settings.
        // Anyone who can write to the cache directory can run code as the proxy:
        // keep it private (the README says so).
        match unsafe { Component::deserialize_file(&self.engine, path) } {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(path = %path.display(), "ignoring unusable compiled-plugin cache entry: {e:#}");
                let _ = std::fs::remove_file(path);
                None
            }
        }
    }

    /// Compiles `bytes` and reports the component's world: its kind, exports,
    /// imports, and what the host would refuse (an import it does not provide).
    pub fn inspect(&self, bytes: &[u8]) -> Result<Inspection, String> {
        let (component, _, _) = self.component(bytes)?;
        let ty = component.component_type();
        let exports: Vec<String> = ty.exports(&self.engine).map(|(n, _)| n.to_string()).collect();
        let imports: Vec<String> = ty.imports(&self.engine).map(|(n, _)| n.to_string()).collect();
        // WASI's sockets and filesystem link (language runtimes import them) but grant
        // nothing: no socket may be opened, no directory is preopened. What the linker
        // lacks altogether is refused.
        let mut refused = Vec::new();
        if let Err(e) = self.linker.instantiate_pre(&component) {
            refused.push(format!("imports what the host does not provide: {e:#}"));
        }
        Ok(Inspection { kind: self.kind_of(&component), exports, imports, refused })
    }

    fn kind_of(&self, component: &Component) -> Result<PluginKind, String> {
        let ty = component.component_type();
        let mut kinds = Vec::new();
        let mut names = Vec::new();
        for (name, item) in ty.exports(&self.engine) {
            names.push(name.to_string());
            if !matches!(item.ty, ComponentItem::ComponentInstance(_)) {
                continue;
            }
            let iface = name.split('@').next().unwrap_or(name);
            match iface {
                "tianji:plugin/guardrail" => kinds.push(PluginKind::Guardrail),
                "tianji:plugin/logger" => kinds.push(PluginKind::Logger),
                "tianji:plugin/prompt-source" => kinds.push(PluginKind::PromptSource),
                _ => {}
            }
        }
        match kinds.as_slice() {
            [one] => Ok(*one),
            [] => Err(format!(
                "the component exports none of tianji:plugin/guardrail, /logger or /prompt-source (it exports: {})",
                if names.is_empty() { "nothing".to_string() } else { names.join(", ") }
            )),
            _ => Err("the component exports more than one plugin interface; build one component per plugin".into()),
        }
    }
}

fn store_cached(path: &Path, bytes: &[u8]) {
    let Some(dir) = path.parent() else { return };
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let result = std::fs::create_dir_all(dir).and_then(|_| std::fs::write(&tmp, bytes)).and_then(|_| std::fs::rename(&tmp, path));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        tracing::warn!(path = %path.display(), "cannot cache the compiled plugin: {e}");
    }
}

impl Drop for PluginEngine {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}
