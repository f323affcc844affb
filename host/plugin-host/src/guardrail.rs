//! A WASM guardrail plugin as a [`Guardrail`]: the proxy's pipeline calls it
//! exactly like a native one.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};
use tianji_core::traits::{Guardrail, GuardrailCall, GuardrailError, Verdict};
use tianji_core::types::{ChatRequest, ChatResponse};

use crate::bindings::guardrail::exports::tianji::plugin::guardrail as wit;
use crate::bound::Bound;
use crate::convert;
use crate::pool::{CallError, InstancePool};
use crate::registry::PluginHost;
use crate::worlds::GuardrailWorld;

const ROLES: &[&str] = &["system", "developer", "user", "assistant", "tool", "function"];

/// One configured guardrail (a `guardrails:` entry) served by a plugin.
pub struct WasmGuardrail {
    bound: Bound<GuardrailWorld>,
}

impl std::fmt::Debug for WasmGuardrail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmGuardrail").field("name", &self.bound.name).field("plugin", &self.bound.plugin()).finish()
    }
}

impl WasmGuardrail {
    /// Binds guardrail `name` to plugin `plugin` with the operator's `params`.
    /// Fails if no plugin of that name was found.
    pub fn new(host: Arc<PluginHost>, name: &str, plugin: &str, params: Map<String, Value>) -> Result<Self, String> {
        Ok(Self { bound: Bound::new(host, name, plugin, params)? })
    }

    /// The plugin's name.
    pub fn plugin(&self) -> &str {
        self.bound.plugin()
    }

    fn error(&self, message: impl Into<String>) -> GuardrailError {
        GuardrailError { guardrail: self.bound.name.clone(), message: message.into() }
    }

    fn call_error(&self, e: CallError) -> GuardrailError {
        self.error(format!("plugin {} {e}", self.bound.plugin()))
    }

    fn pool(&self) -> Result<Arc<InstancePool<GuardrailWorld>>, GuardrailError> {
        self.bound.pool().map_err(|e| self.error(e))
    }

    /// Makes one instance now (running the plugin's `init` with this
    /// guardrail's config), so a bad config fails at start-up, not on the
    /// first request.
    pub async fn warm_up(&self) -> Result<(), GuardrailError> {
        self.pool()?.warm().await.map_err(|e| self.call_error(e))
    }
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
        &self.bound.name
    }

    async fn check_request(&self, call: &GuardrailCall<'_>, req: &ChatRequest) -> Result<Verdict<ChatRequest>, GuardrailError> {
        let pool = self.pool()?;
        let ctx = convert::call_context(call, &self.bound.name);
        let wit_req = convert::request(req, pool.grant().full_body);
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
                        self.error(format!("plugin {} returned invalid output: a modified request with no messages", self.bound.plugin()))
                    );
                }
                check_messages(&new.messages).map_err(|e| self.error(format!("plugin {} returned {e}", self.bound.plugin())))?;
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
        let ctx = convert::call_context(call, &self.bound.name);
        let full_body = pool.grant().full_body;
        let wit_req = convert::request(req, full_body);
        let wit_resp = convert::response(resp, full_body);
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
                check_messages(&msgs).map_err(|e| self.error(format!("plugin {} returned {e}", self.bound.plugin())))?;
                Ok(Verdict::Modify(convert::apply_response(resp, new)))
            }
        }
    }
}
