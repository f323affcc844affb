//! {{name}}: sends each batch of call logs as JSON lines to the configured `url`.

use tianji_plugin_sdk::logger::{LogEvent, Logger};
use tianji_plugin_sdk::Config;

/// The plugin, built once per instance from its settings.
pub struct Plugin {
    url: String,
}

/// One JSON line per event.
pub fn lines(events: &[LogEvent]) -> String {
    events
        .iter()
        .map(|e| serde_json::json!({"id": e.id, "model": e.model, "status": e.status, "total_tokens": e.total_tokens, "cost": e.response_cost}).to_string() + "\n")
        .collect()
}

impl Logger for Plugin {
    fn new(config: &Config) -> Result<Self, String> {
        Ok(Plugin { url: config.get::<String>("url")?.ok_or("set `url` (and list its host in allowed_hosts)")? })
    }

    fn log_batch(&self, events: &[LogEvent]) -> Result<(), String> {
        let resp = tianji_plugin_sdk::http::request("POST", &self.url, &[("content-type", "application/x-ndjson")], Some(lines(events).as_bytes()))?;
        if resp.status >= 300 {
            return Err(format!("{} answered {}", self.url, resp.status));
        }
        Ok(())
    }
}

#[cfg(target_arch = "wasm32")]
tianji_plugin_sdk::export_logger!(Plugin);
