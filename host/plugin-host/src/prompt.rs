//! A WASM prompt-source plugin as a [`PromptSource`].

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};
use tianji_core::traits::{Prompt, PromptError, PromptSource};
use tianji_core::types::{Content, Message};

use crate::bindings::prompt::exports::tianji::plugin::prompt_source as wit;
use crate::bindings::wit_types;
use crate::bound::Bound;
use crate::registry::PluginHost;
use crate::worlds::PromptWorld;

/// One configured prompt served by a plugin.
pub struct WasmPromptSource {
    bound: Bound<PromptWorld>,
}

impl WasmPromptSource {
    /// Binds prompt source `name` to plugin `plugin` with the operator's `params`.
    pub fn new(host: Arc<PluginHost>, name: &str, plugin: &str, params: Map<String, Value>) -> Result<Self, String> {
        Ok(Self { bound: Bound::new(host, name, plugin, params)? })
    }

    /// Makes one instance now, so a bad template fails at start-up.
    pub async fn warm_up(&self) -> Result<(), String> {
        self.bound.pool()?.warm().await.map_err(|e| format!("plugin {} {e}", self.bound.plugin()))
    }
}

fn message(m: wit_types::Message) -> Message {
    let text: Vec<String> = m
        .content
        .into_iter()
        .filter_map(|p| match p {
            wit_types::ContentPart::Text(t) => Some(t),
            wit_types::ContentPart::Image(_) => None,
        })
        .collect();
    Message {
        role: m.role,
        content: Some(Content::Text(text.join("\n"))),
        name: m.name,
        tool_call_id: m.tool_call_id,
        ..Default::default()
    }
}

#[async_trait]
impl PromptSource for WasmPromptSource {
    fn name(&self) -> &str {
        &self.bound.name
    }

    async fn get_prompt(
        &self,
        id: &str,
        version: Option<&str>,
        label: Option<&str>,
        variables: &Map<String, Value>,
    ) -> Result<Prompt, PromptError> {
        let err = |message: String, not_found: bool, missing: Vec<String>| PromptError {
            source_name: self.bound.name.clone(),
            message,
            not_found,
            missing_variables: missing,
        };
        let pool = self.bound.pool().map_err(|e| err(e, false, Vec::new()))?;
        let vars = Value::Object(variables.clone()).to_string();
        let (id, version, label) = (id.to_string(), version.map(str::to_string), label.map(str::to_string));
        let out = pool
            .call(async |store, inst| {
                let r = inst.tianji_plugin_prompt_source().call_get_prompt(store, &id, version.as_deref(), label.as_deref(), &vars).await?;
                // A prompt error is an answer, not a plugin failure: keep it for below.
                Ok(Ok(r))
            })
            .await
            .map_err(|e| err(format!("plugin {} {e}", self.bound.plugin()), false, Vec::new()))?;
        match out {
            Ok(p) => Ok(Prompt {
                messages: p.messages.into_iter().map(message).collect(),
                metadata: serde_json::from_str::<Value>(&p.metadata).ok().and_then(|v| v.as_object().cloned()).unwrap_or_default(),
            }),
            Err(wit::PromptError::NotFound(m)) => Err(err(m, true, Vec::new())),
            Err(wit::PromptError::MissingVariables(v)) => Err(err(format!("missing prompt_variables: {}", v.join(", ")), false, v)),
            Err(wit::PromptError::Failed(m)) => Err(err(m, false, Vec::new())),
        }
    }
}
