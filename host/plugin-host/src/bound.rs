//! A plugin bound to one configured use (a guardrail entry, a callback, a
//! prompt source): its name, the operator's parameters, and the instance
//! pool for whichever version currently serves, rebuilt when the version
//! changes. Shared by the guardrail, logger and prompt-source adapters.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use serde_json::{Map, Value};

use crate::manifest::HostPattern;
use crate::pool::{InstancePool, World};
use crate::registry::{PluginHost, PluginSlot, Pre};
use crate::state::Grant;

/// Parameters that name a URL the plugin is expected to call; their hosts
/// are granted implicitly, so a LiteLLM config works unchanged.
const URL_PARAMS: &[&str] = &["api_base", "url", "endpoint"];

/// Picks a world's linked form out of a version.
pub trait PickPre: World {
    /// The world's `InstancePre`, if the version is of this kind.
    #[doc(hidden)]
    fn pick(pre: &Pre) -> Option<&Self::Pre>;
    /// The kind's name, for errors.
    fn kind_name() -> &'static str;
}

/// A plugin bound to a configured use.
pub struct Bound<W: World> {
    /// The configured name (guardrail_name, callback name, ...).
    pub name: String,
    host: Arc<PluginHost>,
    slot: Arc<PluginSlot>,
    params: Map<String, Value>,
    pool: ArcSwapOption<InstancePool<W>>,
}

impl<W: PickPre> Bound<W> {
    /// Binds `name` to the plugin `plugin`; fails if no such plugin was found.
    pub fn new(host: Arc<PluginHost>, name: &str, plugin: &str, params: Map<String, Value>) -> Result<Self, String> {
        let slot = host.slot(plugin).ok_or_else(|| {
            let dirs: Vec<String> = host.dirs().iter().map(|d| d.display().to_string()).collect();
            let dirs = if dirs.is_empty() { "the plugin directories (none configured)".into() } else { dirs.join(", ") };
            format!("no plugin named {plugin:?} in {dirs}")
        })?;
        Ok(Self { name: name.to_string(), host, slot, params, pool: ArcSwapOption::empty() })
    }

    /// The plugin's name.
    pub fn plugin(&self) -> &str {
        &self.slot.name
    }

    /// The pool for the serving version.
    pub fn pool(&self) -> Result<Arc<InstancePool<W>>, String> {
        let Some(version) = self.slot.current.load_full() else {
            let why = self.slot.error().map(|e| format!(": {e}")).unwrap_or_default();
            return Err(format!("plugin {} is not loaded{why}", self.slot.name));
        };
        if let Some(pool) = self.pool.load_full()
            && pool.version_id == version.id
        {
            return Ok(pool);
        }
        let pre = W::pick(&version.pre)
            .ok_or_else(|| format!("plugin {} is a {}, not a {}", self.slot.name, version.kind.as_str(), W::kind_name()))?;
        let engine = self.host.engine()?;
        engine.ensure_ticker()?;
        let mut config = version.manifest.config.clone();
        config.extend(self.params.clone());
        let grant = Arc::new(Grant {
            plugin: self.slot.name.clone(),
            instance: self.name.clone(),
            config_json: Value::Object(config).to_string(),
            secrets: self.host.secrets_for(&version.manifest),
            allowed_hosts: self.allowed_hosts(&version.manifest.allowed_hosts),
            memory_bytes: (version.manifest.limits.memory_mb as usize).saturating_mul(1 << 20),
            stats: self.slot.stats.clone(),
            full_body: version.manifest.full_body,
            outbound: self.host.outbound(),
        });
        let pool = Arc::new(InstancePool::new(engine.engine().clone(), pre.clone(), grant, version.manifest.limits.clone(), version.id));
        self.pool.store(Some(pool.clone()));
        Ok(pool)
    }

    /// The manifest's hosts, plus what the operator's config grants: the
    /// `allowed_hosts` parameter and the hosts of `api_base`, `url` and `endpoint`.
    fn allowed_hosts(&self, manifest: &[HostPattern]) -> Vec<HostPattern> {
        let mut hosts = manifest.to_vec();
        if let Some(list) = self.params.get("allowed_hosts").and_then(Value::as_array) {
            for h in list.iter().filter_map(Value::as_str) {
                match HostPattern::parse(h) {
                    Ok(p) => hosts.push(p),
                    Err(e) => tracing::warn!(instance = %self.name, "ignoring allowed_hosts entry: {e}"),
                }
            }
        }
        for key in URL_PARAMS {
            if let Some(base) = self.params.get(*key).and_then(Value::as_str)
                && let Ok(uri) = base.parse::<http::Uri>()
                && let Some(host) = uri.host()
            {
                let port = uri.port_u16().unwrap_or(if uri.scheme_str() == Some("http") { 80 } else { 443 });
                if let Ok(p) = HostPattern::parse(&format!("{host}:{port}")) {
                    hosts.push(p);
                }
            }
        }
        hosts
    }
}
