//! Managed prompts: a request with `prompt_id` (and `prompt_variables`,
//! `prompt_version`, `prompt_label`) gets its messages from the configured
//! prompt source before guardrails and routing, as in LiteLLM: the
//! template's messages come first, then the client's; the template's `model`
//! and parameters override the request's.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value};
use tianji_core::config::Problems;
use tianji_core::config::prompts::PromptConfig;
use tianji_core::traits::PromptSource;
use tianji_core::types::ChatRequest;
use tianji_core::{ErrorKind, GatewayError};
use tianji_plugin_host::prompt::WasmPromptSource;
use tianji_plugin_host::registry::PluginHost;

/// The fields a request uses to ask for a managed prompt.
const PROMPT_FIELDS: &[&str] = &["prompt_id", "prompt_variables", "prompt_version", "prompt_label"];

/// Every configured prompt, by id.
#[derive(Default)]
pub struct PromptRegistry {
    sources: HashMap<String, Arc<dyn PromptSource>>,
}

impl PromptRegistry {
    /// Resolves the `prompts:` entries to prompt-source plugins; `*_file`
    /// parameters are read here (plugins have no filesystem).
    pub async fn build(configs: &[PromptConfig], host: &Arc<PluginHost>, base_dir: Option<&Path>, problems: &mut Problems) -> Self {
        let mut sources: HashMap<String, Arc<dyn PromptSource>> = HashMap::new();
        if !configs.is_empty() {
            host.want_builtins(configs.iter().map(|c| c.integration.as_str()));
            host.rescan().await;
        }
        for c in configs {
            let mut params = crate::plugins::with_file_contents(&c.params, base_dir, &c.path, problems);
            params.insert("prompt_id".into(), Value::String(c.prompt_id.clone()));
            let source = match WasmPromptSource::new(host.clone(), &c.prompt_id, &c.integration, params) {
                Ok(s) => s,
                Err(e) => {
                    problems.error(&format!("{}.litellm_params.prompt_integration", c.path), e);
                    continue;
                }
            };
            if let Err(e) = source.warm_up().await {
                problems.error(&format!("{}.litellm_params", c.path), e);
                continue;
            }
            sources.insert(c.prompt_id.clone(), Arc::new(source));
        }
        Self { sources }
    }

    /// Applies a managed prompt to the request if it names one.
    pub async fn apply(&self, req: &mut ChatRequest) -> Result<(), GatewayError> {
        let Some(id) = req.extra.get("prompt_id").cloned() else { return Ok(()) };
        let mut fields: Map<String, Value> = Map::new();
        for f in PROMPT_FIELDS {
            if let Some(v) = req.extra.remove(*f) {
                fields.insert((*f).to_string(), v);
            }
        }
        let Value::String(id) = id else {
            return Err(GatewayError::bad_request("prompt_id must be a string", Some("prompt_id")));
        };
        let version = fields.get("prompt_version").and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        });
        let label = fields.get("prompt_label").and_then(Value::as_str).map(str::to_string);
        let variables = match fields.get("prompt_variables") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => return Err(GatewayError::bad_request("prompt_variables must be an object", Some("prompt_variables"))),
        };
        let versioned = version.as_ref().map(|v| format!("{id}.v{v}"));
        let source = versioned.as_ref().and_then(|v| self.sources.get(v)).or_else(|| self.sources.get(&id)).ok_or_else(|| {
            GatewayError::new(ErrorKind::NotFound, format!("prompt {id:?} is not configured (see `prompts:` in the config)"))
        })?;
        let prompt = source.get_prompt(&id, version.as_deref(), label.as_deref(), &variables).await.map_err(|e| {
            if !e.missing_variables.is_empty() {
                GatewayError::bad_request(
                    format!("prompt {id:?} needs prompt_variables that were not given: {}", e.missing_variables.join(", ")),
                    Some("prompt_variables"),
                )
            } else if e.not_found {
                GatewayError::new(ErrorKind::NotFound, format!("prompt {id:?}: {}", e.message))
            } else {
                GatewayError::new(ErrorKind::Internal, format!("prompt source {}: {}", e.source_name, e.message))
            }
        })?;
        let mut messages = prompt.messages;
        messages.append(&mut req.messages);
        req.messages = messages;
        if !prompt.metadata.is_empty() {
            let mut v = serde_json::to_value(&*req).map_err(|e| GatewayError::new(ErrorKind::Internal, e.to_string()))?;
            if let Value::Object(obj) = &mut v {
                for (k, val) in prompt.metadata {
                    obj.insert(k, val);
                }
            }
            *req = serde_json::from_value(v)
                .map_err(|e| GatewayError::bad_request(format!("prompt {id:?} sets an invalid parameter: {e}"), None))?;
        }
        Ok(())
    }
}
