//! A WASM logger plugin as a [`Logger`]: the batching pipeline calls it
//! exactly like a native logger.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};
use tianji_core::traits::{LogEvent, Logger, LoggerError};

use crate::bindings::logger::exports::tianji::plugin::logger as wit;
use crate::bound::Bound;
use crate::registry::PluginHost;
use crate::worlds::LoggerWorld;

/// One configured callback served by a plugin.
pub struct WasmLogger {
    bound: Bound<LoggerWorld>,
}

impl WasmLogger {
    /// Binds callback `name` to plugin `plugin` with the operator's `params`.
    pub fn new(host: Arc<PluginHost>, name: &str, plugin: &str, params: Map<String, Value>) -> Result<Self, String> {
        Ok(Self { bound: Bound::new(host, name, plugin, params)? })
    }

    /// Makes one instance now, so a bad config fails at start-up.
    pub async fn warm_up(&self) -> Result<(), String> {
        self.bound.pool()?.warm().await.map_err(|e| format!("plugin {} {e}", self.bound.plugin()))
    }
}

fn event(e: &LogEvent) -> wit::LogEvent {
    wit::LogEvent {
        id: e.id.clone(),
        call_type: e.call_type.clone(),
        model_group: e.model_group.clone(),
        model: e.model.clone(),
        model_id: e.model_id.clone(),
        provider: e.custom_llm_provider.clone(),
        api_base: e.api_base.clone(),
        prompt_tokens: e.prompt_tokens,
        completion_tokens: e.completion_tokens,
        total_tokens: e.total_tokens,
        response_cost: e.response_cost,
        start_time: e.start_time,
        end_time: e.end_time,
        status: e.status.clone(),
        error: e.error_str.clone(),
        end_user: e.end_user.clone(),
        tags: e.request_tags.clone(),
        metadata: e.metadata.to_string(),
        messages: e.messages.as_ref().map(Value::to_string),
        response: e.response.as_ref().map(Value::to_string),
    }
}

#[async_trait]
impl Logger for WasmLogger {
    fn name(&self) -> &str {
        &self.bound.name
    }

    async fn log_batch(&self, events: &[LogEvent]) -> Result<(), LoggerError> {
        let fail = |message: String| LoggerError { logger: self.bound.name.clone(), message, retryable: false };
        let pool = self.bound.pool().map_err(fail)?;
        let batch: Vec<wit::LogEvent> = events.iter().map(event).collect();
        pool.call(async |store, inst| inst.tianji_plugin_logger().call_log_batch(store, &batch).await)
            .await
            .map_err(|e| fail(format!("plugin {} {e}", self.bound.plugin())))
    }
}
