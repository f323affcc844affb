//! LiteLLM's per-request controls: body fields and headers that steer the
//! gateway (`fallbacks`, `num_retries`, `timeout`, `mock_*`, `metadata`,
//! `tags`, `x-litellm-timeout`). They are taken out of the body so they never
//! reach the upstream.

use std::time::Duration;

use http::HeaderMap;
use serde_json::{Map, Value};
use tianji_core::{CallContext, CallType, GatewayError};
use tianji_router::{Controls, parse_request_fallbacks};

/// Fields LiteLLM consumes itself and never forwards.
const GATEWAY_ONLY: &[&str] = &[
    "fallbacks",
    "context_window_fallbacks",
    "content_policy_fallbacks",
    "num_retries",
    "timeout",
    "request_timeout",
    "mock_response",
    "mock_testing_fallbacks",
    "mock_testing_rate_limit_error",
    "mock_timeout",
    "metadata",
    "litellm_metadata",
    "tags",
    "caching",
    "cache",
    "no-log",
    "disable_fallbacks",
    "drop_params",
    "additional_drop_params",
    "litellm_logging_obj",
    "api_key",
    "api_base",
    "base_url",
];

/// What a request asked of the gateway.
pub struct Extracted {
    /// Router controls.
    pub controls: Controls,
    /// Request-scoped context.
    pub ctx: CallContext,
    /// Per-request `mock_response`.
    pub mock_response: Option<Value>,
    /// The request's messages for call logs, when a logger wants them.
    pub log_messages: Option<Value>,
    /// The virtual key the caller used, if any.
    pub key: Option<std::sync::Arc<crate::access::KeyGrant>>,
    /// The stream's usage chunk was requested by the gateway (to price the
    /// call), not by the client, who does not get it.
    pub hide_usage_chunk: bool,
}

impl Extracted {
    /// A copy for building a call log.
    pub fn clone_for_log(&self) -> Extracted {
        Extracted {
            controls: self.controls.clone(),
            ctx: self.ctx.clone(),
            mock_response: None,
            log_messages: self.log_messages.clone(),
            key: self.key.clone(),
            hide_usage_chunk: self.hide_usage_chunk,
        }
    }
}

fn as_bool(v: Option<Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

fn as_secs(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty())
}

fn checked_retries(n: u64) -> Result<u32, GatewayError> {
    if n > u64::from(tianji_router::MAX_REQUEST_RETRIES) {
        return Err(GatewayError::bad_request(
            format!("num_retries must be at most {} (got {n})", tianji_router::MAX_REQUEST_RETRIES),
            Some("num_retries"),
        ));
    }
    Ok(n as u32)
}

/// Removes the gateway-only fields from `extra` and turns them into controls.
pub fn extract(
    caller: &crate::auth::Caller,
    extra: &mut Map<String, Value>,
    headers: &HeaderMap,
    model: &str,
    call_type: CallType,
    user: Option<&str>,
) -> Result<Extracted, GatewayError> {
    let mut ctx = CallContext::new(call_type);
    let mut controls = Controls::default();
    // Fast path: most requests carry none of these.
    let mut taken: Map<String, Value> = Map::new();
    if !extra.is_empty() {
        for key in GATEWAY_ONLY {
            if let Some(v) = extra.remove(*key) {
                taken.insert((*key).to_owned(), v);
            }
        }
    }
    if let Some(v) = taken.remove("fallbacks").filter(|v| !v.is_null()) {
        controls.fallbacks = Some(parse_request_fallbacks(&v, model)?);
    }
    if as_bool(taken.remove("disable_fallbacks")) {
        controls.fallbacks = Some(Vec::new());
    }
    if let Some(v) = taken.remove("num_retries").filter(|v| !v.is_null()) {
        let n = v.as_u64().ok_or_else(|| GatewayError::bad_request("num_retries must be a non-negative integer", Some("num_retries")))?;
        controls.num_retries = Some(checked_retries(n)?);
    } else if let Some(n) = header(headers, "x-litellm-num-retries") {
        let n = n.parse::<u64>().map_err(|_| GatewayError::bad_request("x-litellm-num-retries must be a non-negative integer", None))?;
        controls.num_retries = Some(checked_retries(n)?);
    }
    let header_timeout = header(headers, "x-litellm-timeout")
        .or_else(|| if call_type == CallType::Completion { header(headers, "x-litellm-stream-timeout") } else { None })
        .and_then(|s| s.parse::<f64>().ok());
    let body_timeout = taken.remove("timeout").or_else(|| taken.remove("request_timeout")).filter(|v| !v.is_null());
    let timeout = match body_timeout {
        Some(v) => Some(as_secs(&v).ok_or_else(|| GatewayError::bad_request("timeout must be a number of seconds", Some("timeout")))?),
        None => header_timeout,
    };
    if let Some(t) = timeout {
        if !(t > 0.0 && t.is_finite()) {
            return Err(GatewayError::bad_request("timeout must be a positive number of seconds", Some("timeout")));
        }
        controls.timeout = Some(tianji_core::types::duration_from_secs(t).max(Duration::from_millis(1)));
        ctx.timeout = controls.timeout;
    }
    controls.mock_testing_fallbacks = as_bool(taken.remove("mock_testing_fallbacks"));
    controls.mock_testing_rate_limit_error = as_bool(taken.remove("mock_testing_rate_limit_error"));
    controls.mock_timeout = as_bool(taken.remove("mock_timeout"));
    let mock_response = taken.remove("mock_response").filter(|v| !v.is_null());
    controls.client_mock = mock_response.is_some();
    if let Some(Value::Object(m)) = taken.remove("metadata") {
        ctx.metadata = m;
    }
    if let Some(Value::Array(tags)) = taken.remove("tags") {
        ctx.tags = tags.into_iter().filter_map(|t| t.as_str().map(str::to_owned)).collect();
    }
    if let Some(tags) = header(headers, "x-litellm-tags") {
        ctx.tags.extend(tags.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned));
    }
    if let Some(t) = ctx.metadata.get("tags").and_then(Value::as_array) {
        ctx.tags.extend(t.iter().filter_map(|t| t.as_str().map(str::to_owned)));
    }
    ctx.end_user = user.map(str::to_owned);
    let key = caller.key.clone();
    if let Some(k) = &key {
        // Guardrails and loggers see who is calling; the key's tags join the request's.
        let r = &k.key.record;
        ctx.key_alias.clone_from(&r.key_alias);
        ctx.team_id.clone_from(&r.team_id);
        ctx.user_id.clone_from(&r.user_id);
        for t in &r.tags {
            if !ctx.tags.contains(t) {
                ctx.tags.push(t.clone());
            }
        }
    }
    Ok(Extracted { controls, ctx, mock_response, log_messages: None, key, hide_usage_chunk: false })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_controls_and_keeps_the_rest() {
        let mut extra: Map<String, Value> = serde_json::from_str(
            r#"{"fallbacks":["b"],"num_retries":1,"timeout":2.5,"metadata":{"tags":["x"]},"tags":["y"],"mock_testing_fallbacks":true,"seed":1}"#,
        )
        .unwrap_or_default();
        let e =
            extract(&crate::auth::Caller::ADMIN, &mut extra, &HeaderMap::new(), "a", CallType::Completion, Some("u1")).expect("extract");
        assert_eq!(extra.keys().collect::<Vec<_>>(), vec!["seed"]);
        assert_eq!(e.controls.num_retries, Some(1));
        assert_eq!(e.controls.timeout, Some(Duration::from_millis(2500)));
        assert!(e.controls.mock_testing_fallbacks);
        assert_eq!(e.ctx.tags, vec!["y".to_owned(), "x".to_owned()]);
        assert_eq!(e.ctx.end_user.as_deref(), Some("u1"));
    }

    #[test]
    fn header_timeout_and_bad_values() {
        let mut h = HeaderMap::new();
        h.insert("x-litellm-timeout", http::HeaderValue::from_static("0.5"));
        let e = extract(&crate::auth::Caller::ADMIN, &mut Map::new(), &h, "a", CallType::Completion, None).expect("extract");
        assert_eq!(e.controls.timeout, Some(Duration::from_millis(500)));
        let mut extra: Map<String, Value> = serde_json::from_str(r#"{"timeout":-1}"#).unwrap_or_default();
        assert!(extract(&crate::auth::Caller::ADMIN, &mut extra, &HeaderMap::new(), "a", CallType::Completion, None).is_err());
    }
}
