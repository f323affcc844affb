//! `webhook`: POSTs each batch of call logs to a URL.
//!
//! ```yaml
//! litellm_settings:
//!   callbacks: ["webhook"]
//! callback_settings:
//!   webhook:
//!     url: https://logs.example.com/ingest   # or `endpoint`; the plugin may call this host
//!     headers: {authorization: "Bearer ..."}
//!     log_format: json_array                  # or ndjson
//! ```
//!
//! Each record carries LiteLLM's standard logging payload field names
//! (`id`, `call_type`, `model`, `model_group`, `response_cost`,
//! `prompt_tokens`, `startTime`, `endTime`, `status`, `messages`, ...).

use serde::Deserialize;
use serde_json::{Map, Value, json};
use tianji_plugin_sdk::Config;
use tianji_plugin_sdk::logger::{LogEvent, Logger};

#[derive(Deserialize)]
struct Settings {
    url: Option<String>,
    endpoint: Option<String>,
    #[serde(default)]
    headers: Map<String, Value>,
    log_format: Option<String>,
}

/// The configured sink.
pub struct Webhook {
    url: String,
    headers: Vec<(String, String)>,
    ndjson: bool,
}

fn parse_json(s: &Option<String>) -> Value {
    s.as_deref().and_then(|t| serde_json::from_str(t).ok()).unwrap_or(Value::Null)
}

/// One event as LiteLLM's standard logging payload.
pub fn record(e: &LogEvent) -> Value {
    json!({
        "id": e.id,
        "call_type": e.call_type,
        "model": e.model,
        "model_group": e.model_group,
        "model_id": e.model_id,
        "custom_llm_provider": e.provider,
        "api_base": e.api_base,
        "prompt_tokens": e.prompt_tokens,
        "completion_tokens": e.completion_tokens,
        "total_tokens": e.total_tokens,
        "response_cost": e.response_cost,
        "startTime": e.start_time,
        "endTime": e.end_time,
        "response_time": e.end_time - e.start_time,
        "status": e.status,
        "error_str": e.error,
        "end_user": e.end_user,
        "request_tags": e.tags,
        "metadata": serde_json::from_str::<Value>(&e.metadata).unwrap_or(Value::Null),
        "messages": parse_json(&e.messages),
        "response": parse_json(&e.response),
    })
}

impl Logger for Webhook {
    fn new(config: &Config) -> Result<Self, String> {
        let s: Settings = config.parse()?;
        let url = s.url.or(s.endpoint).ok_or("url (or endpoint) is required: where to POST the logs")?;
        let ndjson = match s.log_format.as_deref() {
            None | Some("json_array") => false,
            Some("ndjson") => true,
            Some(other) => return Err(format!("log_format must be json_array or ndjson, found {other:?}")),
        };
        let headers = s.headers.into_iter().map(|(k, v)| (k, v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))).collect();
        Ok(Self { url, headers, ndjson })
    }

    fn log_batch(&self, events: &[LogEvent]) -> Result<(), String> {
        let records: Vec<Value> = events.iter().map(record).collect();
        let (body, content_type) = if self.ndjson {
            (records.iter().map(Value::to_string).collect::<Vec<_>>().join("\n"), "application/x-ndjson")
        } else {
            (Value::Array(records).to_string(), "application/json")
        };
        let mut headers: Vec<(&str, &str)> = vec![("content-type", content_type)];
        headers.extend(self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let resp = tianji_plugin_sdk::http::request("POST", &self.url, &headers, Some(body.as_bytes()))?;
        if (200..300).contains(&resp.status) {
            Ok(())
        } else {
            Err(format!("the webhook answered HTTP {}: {}", resp.status, resp.text().chars().take(200).collect::<String>()))
        }
    }
}

#[cfg(target_arch = "wasm32")]
tianji_plugin_sdk::export_logger!(Webhook);
