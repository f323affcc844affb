//! The guardrail pipeline: the `guardrails:` section resolved to
//! implementations, per-request selection, and the pre-call, during-call and
//! post-call checks with their failure policies.
//!
//! An entry's `litellm_params.guardrail` names a plugin in the plugin
//! directories (WASM) — or, once they exist, a native built-in; the pipeline
//! only sees [`Guardrail`] trait objects and cannot tell which. The policy is
//! swapped atomically when the config file changes or on `POST /plugins/reload`.

use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};
use tianji_core::config::Problems;
use tianji_core::config::guardrails::{FailurePolicy, GuardrailConfig};
use tianji_core::context::CallContext;
use tianji_core::traits::{Guardrail, GuardrailCall, GuardrailPhase, Verdict};
use tianji_core::types::{ChatRequest, ChatResponse};
use tianji_core::{ErrorKind, GatewayError};
use tianji_plugin_host::guardrail::WasmGuardrail;
use tianji_plugin_host::registry::PluginHost;

/// One configured guardrail.
pub struct GuardrailEntry {
    /// `guardrail_name`.
    pub name: String,
    /// `litellm_params.guardrail`.
    pub implementation: String,
    /// When it runs.
    pub modes: Vec<GuardrailPhase>,
    /// Runs without being asked for.
    pub default_on: bool,
    /// What a failure of the guardrail means for the call.
    pub failure_policy: FailurePolicy,
    /// The implementation.
    pub guardrail: Arc<dyn Guardrail>,
}

/// Every configured guardrail, in config order.
#[derive(Default)]
pub struct GuardrailPolicy {
    /// The entries.
    pub entries: Vec<Arc<GuardrailEntry>>,
}

impl GuardrailPolicy {
    /// Resolves the config's entries against the plugins; every problem is
    /// recorded with its path. Plugins are instantiated once here, so a
    /// config the plugin rejects fails now.
    ///
    /// Plugins have no filesystem: a string parameter whose name ends in
    /// `_file` (LiteLLM's `blocked_words_file`, ...) is read here, relative to
    /// `base_dir`, and its text passed along as `<name>_content`.
    pub async fn build(configs: &[GuardrailConfig], plugins: &Arc<PluginHost>, base_dir: Option<&Path>, problems: &mut Problems) -> Self {
        let mut entries = Vec::new();
        for c in configs {
            let params = crate::plugins::with_file_contents(&c.params, base_dir, &c.path, problems);
            let wasm = match WasmGuardrail::new(plugins.clone(), &c.guardrail_name, &c.guardrail, params) {
                Ok(g) => g,
                Err(e) => {
                    problems.error(&format!("{}.litellm_params.guardrail", c.path), e);
                    continue;
                }
            };
            if let Err(e) = wasm.warm_up().await {
                problems.error(&format!("{}.litellm_params", c.path), e.message);
                continue;
            }
            entries.push(Arc::new(GuardrailEntry {
                name: c.guardrail_name.clone(),
                implementation: c.guardrail.clone(),
                modes: c.modes.clone(),
                default_on: c.default_on,
                failure_policy: c.failure_policy,
                guardrail: Arc::new(wasm),
            }));
        }
        Self { entries }
    }

    /// The guardrails for one request: the `default_on` ones plus those the
    /// request names (`guardrails` in the body or in `metadata`). An unknown
    /// name is a 400.
    pub fn select(&self, requested: &[String]) -> Result<Selected, GatewayError> {
        for name in requested {
            if !self.entries.iter().any(|e| &e.name == name) {
                let known: Vec<&str> = self.entries.iter().map(|e| e.name.as_str()).collect();
                return Err(GatewayError::bad_request(
                    format!("guardrail {name:?} is not configured (configured: {known:?})"),
                    Some("guardrails"),
                ));
            }
        }
        Ok(Selected { entries: self.entries.iter().filter(|e| e.default_on || requested.contains(&e.name)).cloned().collect() })
    }
}

/// Takes the per-request guardrail names out of the body (`guardrails`) and
/// its `metadata.guardrails`, so they do not travel upstream.
pub fn requested(extra: &mut serde_json::Map<String, Value>, ctx: &mut CallContext) -> Result<Vec<String>, GatewayError> {
    let mut names = Vec::new();
    for v in [extra.remove("guardrails"), ctx.metadata.remove("guardrails")].into_iter().flatten() {
        match v {
            Value::Array(items) => {
                for item in items {
                    match item {
                        Value::String(s) => names.push(s),
                        // LiteLLM also accepts `{"name": {...settings}}` items.
                        Value::Object(m) => names.extend(m.keys().cloned()),
                        _ => return Err(GatewayError::bad_request("guardrails must be a list of guardrail names", Some("guardrails"))),
                    }
                }
            }
            Value::Null => {}
            _ => return Err(GatewayError::bad_request("guardrails must be a list of guardrail names", Some("guardrails"))),
        }
    }
    Ok(names)
}

/// The guardrails selected for one request.
#[derive(Clone, Default)]
pub struct Selected {
    entries: Vec<Arc<GuardrailEntry>>,
}

fn blocked(entry: &GuardrailEntry, what: &str, reason: String, details: Value) -> GatewayError {
    let mut e =
        GatewayError::bad_request(format!("Violated guardrail policy: guardrail '{}' blocked the {what}: {reason}", entry.name), None);
    e.code = Some("guardrail_violation".into());
    e.details = Some(Box::new(json!({ "guardrail": entry.name, "reason": reason, "violation": details })));
    e
}

fn failed(entry: &GuardrailEntry, message: &str) -> GatewayError {
    metrics::counter!("tianji_guardrail_failures_total", "guardrail" => entry.name.clone(), "policy" => policy_name(entry)).increment(1);
    let mut e = GatewayError::new(
        ErrorKind::Internal,
        format!("guardrail '{}' failed and its failure_policy is fail_closed: {message}", entry.name),
    );
    e.code = Some("guardrail_failed".into());
    e
}

fn policy_name(entry: &GuardrailEntry) -> &'static str {
    match entry.failure_policy {
        FailurePolicy::FailOpen => "fail_open",
        FailurePolicy::FailClosed => "fail_closed",
    }
}

impl Selected {
    /// Whether any selected guardrail runs in `phase`.
    pub fn has(&self, phase: GuardrailPhase) -> bool {
        self.entries.iter().any(|e| e.modes.contains(&phase))
    }

    /// Names of the selected guardrails that run in any of `phases`, for
    /// `x-litellm-applied-guardrails`.
    pub fn names_in(&self, phases: &[GuardrailPhase]) -> Vec<&str> {
        self.entries.iter().filter(|e| e.modes.iter().any(|m| phases.contains(m))).map(|e| e.name.as_str()).collect()
    }

    /// Runs the request checks of `phase` in config order; a `modify` verdict
    /// changes the request the next guardrail (and the upstream) sees. During
    /// the call a modification cannot apply and is ignored.
    pub async fn check_request(
        &self,
        phase: GuardrailPhase,
        ctx: &CallContext,
        model_group: &str,
        req: &mut ChatRequest,
    ) -> Result<(), GatewayError> {
        let call = GuardrailCall { ctx, phase, model_group };
        for entry in self.entries.iter().filter(|e| e.modes.contains(&phase)) {
            match entry.guardrail.check_request(&call, req).await {
                Ok(Verdict::Allow) => {}
                Ok(Verdict::Block { reason, details }) => return Err(blocked(entry, "request", reason, details)),
                Ok(Verdict::Modify(new)) => {
                    if phase == GuardrailPhase::PreCall {
                        *req = new;
                    }
                }
                Err(e) => match entry.failure_policy {
                    FailurePolicy::FailOpen => {
                        failed(entry, &e.message);
                        tracing::warn!(guardrail = %entry.name, call_id = %ctx.call_id, "guardrail failed; fail_open lets the request through: {}", e.message);
                    }
                    FailurePolicy::FailClosed => return Err(failed(entry, &e.message)),
                },
            }
        }
        Ok(())
    }

    /// Runs the `logging_only` guardrails on a finished answer: their
    /// verdicts are logged and counted (`tianji_guardrail_observations_total`)
    /// but change nothing.
    pub async fn observe(&self, ctx: &CallContext, model_group: &str, req: &ChatRequest, resp: &ChatResponse) {
        let call = GuardrailCall { ctx, phase: GuardrailPhase::LoggingOnly, model_group };
        for entry in self.entries.iter().filter(|e| e.modes.contains(&GuardrailPhase::LoggingOnly)) {
            let verdict = match entry.guardrail.check_response(&call, req, resp).await {
                Ok(Verdict::Allow) => "allow",
                Ok(Verdict::Modify(_)) => "modify",
                Ok(Verdict::Block { reason, .. }) => {
                    tracing::info!(guardrail = %entry.name, call_id = %ctx.call_id, "logging_only guardrail would have blocked: {reason}");
                    "block"
                }
                Err(e) => {
                    tracing::warn!(guardrail = %entry.name, call_id = %ctx.call_id, "logging_only guardrail failed: {}", e.message);
                    "error"
                }
            };
            metrics::counter!("tianji_guardrail_observations_total", "guardrail" => entry.name.clone(), "verdict" => verdict).increment(1);
        }
    }

    /// Runs the post-call checks on a response in config order.
    pub async fn check_response(
        &self,
        ctx: &CallContext,
        model_group: &str,
        req: &ChatRequest,
        resp: &mut ChatResponse,
    ) -> Result<(), GatewayError> {
        let call = GuardrailCall { ctx, phase: GuardrailPhase::PostCall, model_group };
        for entry in self.entries.iter().filter(|e| e.modes.contains(&GuardrailPhase::PostCall)) {
            match entry.guardrail.check_response(&call, req, resp).await {
                Ok(Verdict::Allow) => {}
                Ok(Verdict::Block { reason, details }) => return Err(blocked(entry, "response", reason, details)),
                Ok(Verdict::Modify(new)) => *resp = new,
                Err(e) => match entry.failure_policy {
                    FailurePolicy::FailOpen => {
                        failed(entry, &e.message);
                        tracing::warn!(guardrail = %entry.name, call_id = %ctx.call_id, "guardrail failed; fail_open lets the response through: {}", e.message);
                    }
                    FailurePolicy::FailClosed => return Err(failed(entry, &e.message)),
                },
            }
        }
        Ok(())
    }
}
