//! Per-deployment default request parameters (`litellm_params` keys such as
//! `temperature` or `max_tokens`), applied under the request's own values.

use serde_json::{Map, Value};
use tianji_core::types::ChatRequest;

/// Fills every parameter the request leaves unset from `defaults`.
pub fn apply(defaults: &Map<String, Value>, req: &mut ChatRequest) {
    for (k, v) in defaults {
        match k.as_str() {
            "temperature" if req.temperature.is_none() => req.temperature = v.as_f64(),
            "top_p" if req.top_p.is_none() => req.top_p = v.as_f64(),
            "max_tokens" if req.max_tokens.is_none() => req.max_tokens = v.as_u64(),
            "max_completion_tokens" if req.max_completion_tokens.is_none() => req.max_completion_tokens = v.as_u64(),
            "n" if req.n.is_none() => req.n = v.as_u64().map(|n| n as u32),
            "stop" if req.stop.is_none() => req.stop = Some(v.clone()),
            "tool_choice" if req.tool_choice.is_none() => req.tool_choice = Some(v.clone()),
            "temperature" | "top_p" | "max_tokens" | "max_completion_tokens" | "n" | "stop" | "tool_choice" => {}
            _ => {
                req.extra.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
}
