//! The plugin directories and what is loaded from them.
//!
//! Each `.wasm` file (with its optional `.toml` manifest) is one plugin,
//! named by its manifest or file stem. A rescan compiles new and changed
//! files off the request path and swaps the new version in atomically;
//! callers that already hold the old version finish on it. A file that fails
//! to compile or link leaves the previous version serving and records the
//! error; a removed file unloads the plugin.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwapOption;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tianji_core::traits::{ProcessEnvironment, SecretValues};

use crate::engine::{EngineOptions, PluginEngine, PluginKind};
use crate::manifest::Manifest;
use crate::pool::World;
use crate::stats::PluginStats;
use crate::worlds::{GuardrailWorld, LoggerWorld, PromptWorld};

/// The linked form of a version, per kind.
#[doc(hidden)]
pub enum Pre {
    Guardrail(<GuardrailWorld as World>::Pre),
    Logger(<LoggerWorld as World>::Pre),
    Prompt(<PromptWorld as World>::Pre),
}

/// One loaded version of a plugin.
pub struct PluginVersion {
    /// Unique per load; pools are keyed by it.
    pub id: u64,
    /// The manifest it was loaded with.
    pub manifest: Manifest,
    /// Its kind.
    pub kind: PluginKind,
    /// SHA-256 of the `.wasm`.
    pub hash: String,
    /// Where it was loaded from.
    pub path: PathBuf,
    /// When.
    pub loaded_at: SystemTime,
    /// Whether the compiled code came from the cache.
    pub from_cache: bool,
    /// Compile or cache-load time.
    pub load_time: Duration,
    #[doc(hidden)]
    pub pre: Pre,
}

/// State of a plugin as `/plugins` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PluginState {
    /// Serving.
    Active,
    /// The newest file failed to load; the previous version (if any) serves.
    Failed,
    /// The file was removed; nothing serves.
    Removed,
}

struct SlotStatus {
    state: PluginState,
    error: Option<String>,
    /// Hash of the last `.wasm` + manifest seen, loaded or not.
    source_key: Option<String>,
    path: PathBuf,
}

/// A plugin name and whatever version currently serves under it.
pub struct PluginSlot {
    /// The plugin's name.
    pub name: String,
    /// The serving version; swapped atomically on reload.
    pub current: ArcSwapOption<PluginVersion>,
    /// Counters across versions.
    pub stats: Arc<PluginStats>,
    status: Mutex<SlotStatus>,
}

impl PluginSlot {
    /// The last load error, if the newest file failed.
    pub fn error(&self) -> Option<String> {
        self.status.lock().ok().and_then(|s| s.error.clone())
    }
}

/// One plugin on `GET /plugins`.
#[derive(Debug, Clone, Serialize)]
pub struct PluginStatus {
    /// Name.
    pub name: String,
    /// `guardrail`, `logger` or `prompt-source`.
    pub kind: Option<&'static str>,
    /// Manifest version.
    pub version: Option<String>,
    /// SHA-256 of the serving `.wasm`.
    pub hash: Option<String>,
    /// File.
    pub path: String,
    /// When the serving version was loaded (RFC 3339, UTC).
    pub loaded_at: Option<String>,
    /// Active, failed or removed.
    pub state: PluginState,
    /// Why the newest file failed.
    pub error: Option<String>,
    /// Whether the compiled code came from the on-disk cache.
    pub from_cache: Option<bool>,
    /// Compile or cache-load time, ms.
    pub load_ms: Option<f64>,
    /// Calls.
    pub calls: u64,
    /// Failed calls (including timeouts).
    pub errors: u64,
    /// Calls stopped at the deadline.
    pub timeouts: u64,
    /// Outbound requests refused by the allow-list.
    pub denied_http: u64,
    /// Instances created.
    pub instances_created: u64,
    /// The most linear memory one instance has held, bytes.
    pub instance_memory_bytes: u64,
    /// Median call latency, ms.
    pub p50_ms: Option<f64>,
    /// 99th-percentile call latency, ms.
    pub p99_ms: Option<f64>,
}

/// What a rescan changed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RescanReport {
    /// Plugins loaded or replaced.
    pub loaded: Vec<String>,
    /// Plugins whose new file failed, with the error.
    pub failed: Vec<(String, String)>,
    /// Plugins unloaded because their file is gone.
    pub removed: Vec<String>,
    /// Plugins unchanged.
    pub unchanged: Vec<String>,
}

/// The plugin directories, the engine and the loaded plugins.
pub struct PluginHost {
    options: EngineOptions,
    engine: std::sync::OnceLock<Result<Arc<PluginEngine>, String>>,
    builtin_dirs: Vec<PathBuf>,
    wanted_builtins: RwLock<std::collections::BTreeSet<String>>,
    dirs: Vec<PathBuf>,
    slots: RwLock<BTreeMap<String, Arc<PluginSlot>>>,
    rescan_lock: tokio::sync::Mutex<()>,
    next_id: AtomicU64,
    outbound: RwLock<crate::outbound::SharedOutbound>,
    secrets: RwLock<Arc<dyn SecretValues>>,
}

impl std::fmt::Debug for PluginHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginHost").field("dirs", &self.dirs).finish()
    }
}

impl PluginHost {
    /// A host over `dirs`, scanned in order (a later directory's plugin
    /// replaces an earlier one's of the same name). Nothing is loaded until
    /// [`rescan`](Self::rescan).
    /// The wasmtime engine is created with the first plugin found, so a
    /// proxy without plugins pays nothing for it. Every plugin in `dirs` is
    /// loaded; from `builtin_dirs` (the plugins shipped with the proxy) only
    /// those named in [`want_builtins`](Self::want_builtins).
    pub fn new(options: EngineOptions, builtin_dirs: Vec<PathBuf>, dirs: Vec<PathBuf>) -> Self {
        Self {
            options,
            engine: std::sync::OnceLock::new(),
            builtin_dirs,
            wanted_builtins: RwLock::new(Default::default()),
            dirs,
            slots: RwLock::new(BTreeMap::new()),
            rescan_lock: tokio::sync::Mutex::new(()),
            next_id: AtomicU64::new(1),
            outbound: RwLock::new(None),
            secrets: RwLock::new(Arc::new(ProcessEnvironment)),
        }
    }

    /// Where the secrets plugins' manifests ask for come from (default: the
    /// process environment; with a secret manager, its cached values).
    pub fn set_secret_values(&self, values: Arc<dyn SecretValues>) {
        if let Ok(mut s) = self.secrets.write() {
            *s = values;
        }
    }

    fn secret_values(&self) -> Arc<dyn SecretValues> {
        self.secrets.read().map(|s| s.clone()).unwrap_or_else(|_| Arc::new(ProcessEnvironment))
    }

    /// Routes plugins' outbound HTTP through `sender` (a pooled client).
    pub fn set_outbound(&self, sender: Arc<dyn crate::outbound::Outbound>) {
        if let Ok(mut o) = self.outbound.write() {
            *o = Some(sender);
        }
    }

    /// The outbound sender, if set.
    pub fn outbound(&self) -> crate::outbound::SharedOutbound {
        self.outbound.read().ok().and_then(|o| o.clone())
    }

    /// The engine, created on first use.
    pub fn engine(&self) -> Result<&Arc<PluginEngine>, String> {
        self.engine.get_or_init(|| PluginEngine::new(&self.options).map(Arc::new)).as_ref().map_err(Clone::clone)
    }

    /// The engine if a plugin has been loaded.
    pub fn started_engine(&self) -> Option<&Arc<PluginEngine>> {
        self.engine.get().and_then(|e| e.as_ref().ok())
    }

    /// The directories watched: built-ins first, then the operator's.
    pub fn dirs(&self) -> Vec<PathBuf> {
        self.builtin_dirs.iter().chain(&self.dirs).cloned().collect()
    }

    /// Adds built-in plugins to load (the names a config refers to); takes
    /// effect at the next rescan.
    pub fn want_builtins<'a>(&self, names: impl IntoIterator<Item = &'a str>) {
        if let Ok(mut w) = self.wanted_builtins.write() {
            w.extend(names.into_iter().map(str::to_string));
        }
    }

    /// The slot of a plugin by name, if a file for it was ever seen.
    pub fn slot(&self, name: &str) -> Option<Arc<PluginSlot>> {
        self.slots.read().ok()?.get(name).cloned()
    }

    /// Names of the plugins currently serving, with their kinds.
    pub fn active(&self) -> Vec<(String, PluginKind)> {
        let Ok(slots) = self.slots.read() else { return Vec::new() };
        slots.values().filter_map(|s| s.current.load().as_ref().map(|v| (s.name.clone(), v.kind))).collect()
    }

    fn slot_or_new(&self, name: &str, path: &Path) -> Arc<PluginSlot> {
        let mut slots = self.slots.write().unwrap_or_else(|e| e.into_inner());
        slots
            .entry(name.to_string())
            .or_insert_with(|| {
                Arc::new(PluginSlot {
                    name: name.to_string(),
                    current: ArcSwapOption::empty(),
                    stats: Arc::new(PluginStats::default()),
                    status: Mutex::new(SlotStatus { state: PluginState::Failed, error: None, source_key: None, path: path.to_path_buf() }),
                })
            })
            .clone()
    }

    /// Loads new and changed plugins, unloads removed ones. Compilation runs
    /// on the blocking pool; concurrent rescans are serialised.
    pub async fn rescan(&self) -> RescanReport {
        let _guard = self.rescan_lock.lock().await;
        let mut report = RescanReport::default();
        let mut found: BTreeMap<String, (PathBuf, Result<Manifest, String>)> = BTreeMap::new();
        let wanted = self.wanted_builtins.read().map(|w| w.clone()).unwrap_or_default();
        let dirs = self.builtin_dirs.iter().map(|d| (d, true)).chain(self.dirs.iter().map(|d| (d, false)));
        for (dir, builtin) in dirs {
            let Ok(entries) = std::fs::read_dir(dir) else { continue };
            let mut files: Vec<PathBuf> =
                entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "wasm")).collect();
            files.sort();
            for path in files {
                let manifest = Manifest::for_component(&path);
                let name = match &manifest {
                    Ok(m) => m.name.clone(),
                    Err(_) => path.file_stem().and_then(|s| s.to_str()).unwrap_or("plugin").to_string(),
                };
                if builtin && !wanted.contains(&name) {
                    continue;
                }
                if let Some((old, _)) = found.get(&name) {
                    tracing::info!(plugin = %name, replaced = %old.display(), by = %path.display(), "plugin overridden by a later directory");
                }
                found.insert(name, (path, manifest));
            }
        }

        let mut pending = Vec::new();
        for (name, (path, manifest)) in &found {
            let slot = self.slot_or_new(name, path);
            let bytes = match std::fs::read(path) {
                Ok(b) => b,
                Err(e) => {
                    self.fail(&slot, &mut report, format!("cannot read {}: {e}", path.display()), None);
                    continue;
                }
            };
            let manifest_text = std::fs::read(path.with_extension("toml")).unwrap_or_default();
            let mut h = Sha256::new();
            h.update(&bytes);
            h.update([0]);
            h.update(&manifest_text);
            let key = hex::encode(h.finalize());
            {
                let mut st = slot.status.lock().unwrap_or_else(|e| e.into_inner());
                if st.source_key.as_deref() == Some(key.as_str()) && st.path == *path && st.state != PluginState::Removed {
                    report.unchanged.push(name.clone());
                    continue;
                }
                st.path = path.clone();
            }
            let manifest = match manifest {
                Ok(m) => m.clone(),
                Err(e) => {
                    self.fail(&slot, &mut report, format!("manifest: {e}"), Some(key));
                    continue;
                }
            };
            let engine = match self.engine() {
                Ok(e) => e.clone(),
                Err(e) => {
                    self.fail(&slot, &mut report, e, Some(key));
                    continue;
                }
            };
            // Fetched now, so binding the plugin's grant (on a call) waits for nothing.
            self.secret_values().prefetch(&manifest.secrets).await;
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            let path_owned = path.clone();
            // Compile every changed plugin at once; wasmtime parallelises each
            // compile too, so ten new plugins cost about one on a small machine.
            let task = tokio::task::spawn_blocking(move || load_version(&engine, id, &bytes, manifest, path_owned));
            pending.push((name.clone(), slot, path.clone(), key, task));
        }
        for (name, slot, path, key, task) in pending {
            let loaded = task.await.unwrap_or_else(|e| Err(format!("the compile task failed: {e}")));
            match loaded {
                Ok(version) => {
                    tracing::info!(
                        plugin = %name, kind = version.kind.as_str(), version = %version.manifest.version,
                        hash = &version.hash[..12], from_cache = version.from_cache,
                        load_ms = version.load_time.as_secs_f64() * 1e3, "plugin loaded"
                    );
                    slot.current.store(Some(Arc::new(version)));
                    let mut st = slot.status.lock().unwrap_or_else(|e| e.into_inner());
                    *st = SlotStatus { state: PluginState::Active, error: None, source_key: Some(key), path };
                    report.loaded.push(name);
                }
                Err(e) => self.fail(&slot, &mut report, e, Some(key)),
            }
        }

        let slots: Vec<Arc<PluginSlot>> = self.slots.read().map(|s| s.values().cloned().collect()).unwrap_or_default();
        for slot in slots {
            if found.contains_key(&slot.name) {
                continue;
            }
            let mut st = slot.status.lock().unwrap_or_else(|e| e.into_inner());
            if st.state != PluginState::Removed {
                tracing::info!(plugin = %slot.name, "plugin file removed; unloaded");
                slot.current.store(None);
                *st = SlotStatus { state: PluginState::Removed, error: None, source_key: None, path: st.path.clone() };
                report.removed.push(slot.name.clone());
            }
        }
        report
    }

    fn fail(&self, slot: &PluginSlot, report: &mut RescanReport, error: String, key: Option<String>) {
        let serving = slot.current.load().is_some();
        tracing::error!(plugin = %slot.name, serving_previous = serving, "plugin failed to load: {error}");
        let mut st = slot.status.lock().unwrap_or_else(|e| e.into_inner());
        st.state = PluginState::Failed;
        st.error = Some(error.clone());
        st.source_key = key;
        report.failed.push((slot.name.clone(), error));
    }

    /// Every plugin ever seen, for `GET /plugins`.
    pub fn status(&self) -> Vec<PluginStatus> {
        let Ok(slots) = self.slots.read() else { return Vec::new() };
        slots
            .values()
            .map(|slot| {
                let st = slot.status.lock().unwrap_or_else(|e| e.into_inner());
                let v = slot.current.load_full();
                let s = &slot.stats;
                let ms = |d: Option<Duration>| d.map(|d| (d.as_secs_f64() * 1e6).round() / 1e3);
                PluginStatus {
                    name: slot.name.clone(),
                    kind: v.as_ref().map(|v| v.kind.as_str()),
                    version: v.as_ref().map(|v| v.manifest.version.clone()),
                    hash: v.as_ref().map(|v| v.hash.clone()),
                    path: st.path.display().to_string(),
                    loaded_at: v.as_ref().map(|v| rfc3339(v.loaded_at)),
                    state: st.state,
                    error: st.error.clone(),
                    from_cache: v.as_ref().map(|v| v.from_cache),
                    load_ms: v.as_ref().map(|v| (v.load_time.as_secs_f64() * 1e6).round() / 1e3),
                    calls: s.calls.load(Ordering::Relaxed),
                    errors: s.errors.load(Ordering::Relaxed),
                    timeouts: s.timeouts.load(Ordering::Relaxed),
                    denied_http: s.denied_http.load(Ordering::Relaxed),
                    instances_created: s.instances_created.load(Ordering::Relaxed),
                    instance_memory_bytes: s.peak_instance_memory.load(Ordering::Relaxed),
                    p50_ms: ms(s.quantile(0.5)),
                    p99_ms: ms(s.quantile(0.99)),
                }
            })
            .collect()
    }

    /// Secrets a plugin's manifest asks for (its grant: it sees no others).
    pub fn secrets_for(&self, manifest: &Manifest) -> HashMap<String, String> {
        let values = self.secret_values();
        manifest.secrets.iter().filter_map(|name| values.get(name).map(|v| (name.clone(), v))).collect()
    }
}

fn load_version(engine: &PluginEngine, id: u64, bytes: &[u8], manifest: Manifest, path: PathBuf) -> Result<PluginVersion, String> {
    let compiled = engine.compile(bytes)?;
    if let Some(declared) = &manifest.kind
        && declared != compiled.kind.as_str()
    {
        return Err(format!("the manifest says kind = {declared:?} but the component is a {}", compiled.kind.as_str()));
    }
    let pre = match compiled.kind {
        PluginKind::Guardrail => Pre::Guardrail(GuardrailWorld::pre(engine, &compiled.component)?),
        PluginKind::Logger => Pre::Logger(LoggerWorld::pre(engine, &compiled.component)?),
        PluginKind::PromptSource => Pre::Prompt(PromptWorld::pre(engine, &compiled.component)?),
    };
    Ok(PluginVersion {
        id,
        manifest,
        kind: compiled.kind,
        hash: compiled.hash,
        path,
        loaded_at: SystemTime::now(),
        from_cache: compiled.from_cache,
        load_time: compiled.load_time,
        pre,
    })
}

/// `2026-11-22T06:40:00Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_dates() {
        use std::time::{Duration, UNIX_EPOCH};
        assert_eq!(super::rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(UNIX_EPOCH + Duration::from_secs(1_795_329_000)), "2026-11-22T06:30:00Z");
        assert_eq!(super::rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)), "2000-02-29T00:00:00Z");
    }
}
