//! A WASM guardrail plugin as a [`Guardrail`]: the proxy's pipeline calls it
//! exactly like a native one.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use async_trait::async_trait;
use serde_json::{Map, Value};
use tianji_core::traits::{Guardrail, GuardrailCall, GuardrailError, Verdict};
use tianji_core::types::{ChatRequest, ChatResponse};

use crate::bindings::guardrail::exports::tianji::plugin::guardrail as wit;
use crate::convert;
use crate::manifest::HostPattern;
use crate::pool::{CallError, InstancePool};
use crate::registry::{PluginHost, PluginSlot, Pre};
use crate::state::Grant;
use crate::worlds::GuardrailWorld;

const ROLES: &[&str] = &["system", "developer", "user", "assistant", "tool", "function"];

/// One configured guardrail (a `guardrails:` entry) served by a plugin.
pub struct WasmGuardrail {
    name: String,
    host: Arc<PluginHost>,
    slot: Arc<PluginSlot>,
    params: Map<String, Value>,
    pool: ArcSwapOption<InstancePool<GuardrailWorld>>,
}

impl std::fmt::Debug for WasmGuardrail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmGuardrail").field("name", &self.name).field("plugin", &self.slot.name).finish()
    }
}

impl WasmGuardrail {
    /// Binds guardrail `name` to plugin `plugin` with the operator's `params`.
    /// Fails if no plugin of that name was found.
    pub fn new(host: Arc<PluginHost>, name: &str, plugin: &str, params: Map<String, Value>) -> Result<Self, String> {
        let slot = host.slot(plugin).ok_or_else(|| format!("no plugin named {plugin:?} in {}", dirs_text(&host)))?;
        Ok(Self { name: name.to_string(), host, slot, params, pool: ArcSwapOption::empty() })
    }

    /// The plugin's name.
    pub fn plugin(&self) -> &str {
        &self.slot.name
    }

    fn error(&self, message: impl Into<String>) -> GuardrailError {
        GuardrailError { guardrail: self.name.clone(), message: message.into() }
    }

    fn call_error(&self, e: CallError) -> GuardrailError {
        self.error(format!("plugin {} {e}", self.slot.name))
    }

    /// The pool for the serving version, made when the version changes.
    fn pool(&self) -> Result<Arc<InstancePool<GuardrailWorld>>, GuardrailError> {
        let Some(version) = self.slot.current.load_full() else {
            let why = self.slot.error().map(|e| format!(": {e}")).unwrap_or_default();
            return Err(self.error(format!("plugin {} is not loaded{why}", self.slot.name)));
        };
        if let Some(pool) = self.pool.load_full()
            && pool.version_id == version.id
        {
            return Ok(pool);
        }
        let Pre::Guardrail(pre) = &version.pre else {
            return Err(self.error(format!("plugin {} is a {}, not a guardrail", self.slot.name, version.kind.as_str())));
        };
        let engine = self.host.engine().map_err(|e| self.error(e))?;
        engine.ensure_ticker().map_err(|e| self.error(e))?;
        let mut config = version.manifest.config.clone();
        config.extend(self.params.clone());
        let grant = Arc::new(Grant {
            plugin: self.slot.name.clone(),
            instance: self.name.clone(),
            config_json: Value::Object(config).to_string(),
            secrets: PluginHost::secrets_for(&version.manifest),
            allowed_hosts: self.allowed_hosts(&version.manifest.allowed_hosts),
            memory_bytes: (version.manifest.limits.memory_mb as usize).saturating_mul(1 << 20),
            stats: self.slot.stats.clone(),
        });
        let pool = Arc::new(InstancePool::new(engine.engine().clone(), pre.clone(), grant, version.manifest.limits.clone(), version.id));
        self.pool.store(Some(pool.clone()));
        Ok(pool)
    }

    /// The manifest's hosts, plus what the operator's config grants: the
    /// guardrail's `allowed_hosts` and the host of its `api_base` (so a
    /// LiteLLM config for an HTTP guardrail works unchanged).
    fn allowed_hosts(&self, manifest: &[HostPattern]) -> Vec<HostPattern> {
        let mut hosts = manifest.to_vec();
        if let Some(list) = self.params.get("allowed_hosts").and_then(Value::as_array) {
            for h in list.iter().filter_map(Value::as_str) {
                match HostPattern::parse(h) {
                    Ok(p) => hosts.push(p),
                    Err(e) => tracing::warn!(guardrail = %self.name, "ignoring allowed_hosts entry: {e}"),
                }
            }
        }
        if let Some(base) = self.params.get("api_base").and_then(Value::as_str)
            && let Ok(uri) = base.parse::<http::Uri>()
            && let Some(host) = uri.host()
        {
            let port = uri.port_u16().unwrap_or(if uri.scheme_str() == Some("http") { 80 } else { 443 });
            if let Ok(p) = HostPattern::parse(&format!("{host}:{port}")) {
                hosts.push(p);
            }
        }
        hosts
    }

    /// Makes one instance now (running the plugin's `init` with this
    /// guardrail's config), so a bad config fails at start-up, not on the
    /// first request.
    pub async fn warm_up(&self) -> Result<(), GuardrailError> {
        self.pool()?.warm().await.map_err(|e| self.call_error(e))
    }
}

fn dirs_text(host: &PluginHost) -> String {
    let dirs: Vec<String> = host.dirs().iter().map(|d| d.display().to_string()).collect();
    if dirs.is_empty() { "the plugin directories (none configured)".into() } else { dirs.join(", ") }
}

fn violation(v: wit::Violation) -> (String, Value) {
    let details = serde_json::from_str(&v.details).unwrap_or(if v.details.is_empty() { Value::Null } else { Value::String(v.details) });
    (v.reason, details)
}

fn check_messages(messages: &[crate::bindings::wit_types::Message]) -> Result<(), String> {
    for (i, m) in messages.iter().enumerate() {
        if !ROLES.contains(&m.role.as_str()) {
            return Err(format!("invalid output: message {i} has role {:?}", m.role));
        }
    }
    Ok(())
}

#[async_trait]
impl Guardrail for WasmGuardrail {
    fn name(&self) -> &str {
        &self.name
    }

    async fn check_request(&self, call: &GuardrailCall<'_>, req: &ChatRequest) -> Result<Verdict<ChatRequest>, GuardrailError> {
        let pool = self.pool()?;
        let ctx = convert::call_context(call, &self.name);
        let wit_req = convert::request(req);
        let verdict = pool
            .call(async |store, inst| inst.tianji_plugin_guardrail().call_check_request(store, &ctx, &wit_req).await)
            .await
            .map_err(|e| self.call_error(e))?;
        match verdict {
            wit::RequestVerdict::Allow => Ok(Verdict::Allow),
            wit::RequestVerdict::Block(v) => {
                let (reason, details) = violation(v);
                Ok(Verdict::Block { reason, details })
            }
            wit::RequestVerdict::Modify(new) => {
                if new.messages.is_empty() && !req.messages.is_empty() {
                    return Err(
                        self.error(format!("plugin {} returned invalid output: a modified request with no messages", self.slot.name))
                    );
                }
                check_messages(&new.messages).map_err(|e| self.error(format!("plugin {} returned {e}", self.slot.name)))?;
                Ok(Verdict::Modify(convert::apply_request(req, new)))
            }
        }
    }

    async fn check_response(
        &self,
        call: &GuardrailCall<'_>,
        req: &ChatRequest,
        resp: &ChatResponse,
    ) -> Result<Verdict<ChatResponse>, GuardrailError> {
        let pool = self.pool()?;
        let ctx = convert::call_context(call, &self.name);
        let wit_req = convert::request(req);
        let wit_resp = convert::response(resp);
        let verdict = pool
            .call(async |store, inst| inst.tianji_plugin_guardrail().call_check_response(store, &ctx, &wit_req, &wit_resp).await)
            .await
            .map_err(|e| self.call_error(e))?;
        match verdict {
            wit::ResponseVerdict::Allow => Ok(Verdict::Allow),
            wit::ResponseVerdict::Block(v) => {
                let (reason, details) = violation(v);
                Ok(Verdict::Block { reason, details })
            }
            wit::ResponseVerdict::Modify(new) => {
                let msgs: Vec<_> = new.choices.iter().map(|c| c.message.clone()).collect();
                check_messages(&msgs).map_err(|e| self.error(format!("plugin {} returned {e}", self.slot.name)))?;
                Ok(Verdict::Modify(convert::apply_response(resp, new)))
            }
        }
    }
}
