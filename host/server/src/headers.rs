//! LiteLLM's `x-litellm-*` response headers, so dashboards built on them keep working.
//!
//! They are written straight into the response's header map (no
//! intermediate map to merge), and numbers are formatted without `format!`
//! where the value is an integer; this runs on every request.

use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use tianji_router::RouteMeta;

const CALL_ID: HeaderName = HeaderName::from_static("x-litellm-call-id");
const MODEL_ID: HeaderName = HeaderName::from_static("x-litellm-model-id");
const API_BASE: HeaderName = HeaderName::from_static("x-litellm-model-api-base");
const MODEL_GROUP: HeaderName = HeaderName::from_static("x-litellm-model-group");
const RETRIES: HeaderName = HeaderName::from_static("x-litellm-attempted-retries");
const FALLBACKS: HeaderName = HeaderName::from_static("x-litellm-attempted-fallbacks");
const MAX_RETRIES: HeaderName = HeaderName::from_static("x-litellm-max-retries");
const TIMEOUT: HeaderName = HeaderName::from_static("x-litellm-timeout");
const DURATION: HeaderName = HeaderName::from_static("x-litellm-response-duration-ms");
const OVERHEAD: HeaderName = HeaderName::from_static("x-litellm-overhead-duration-ms");
const REGION: HeaderName = HeaderName::from_static("x-litellm-model-region");
const COST: HeaderName = HeaderName::from_static("x-litellm-response-cost");
const VERSION: HeaderName = HeaderName::from_static("x-litellm-version");

fn put(h: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}

/// Adds the routing headers for a call; `total` is the time since the request arrived.
pub fn add_routing_headers(h: &mut HeaderMap, call_id: &str, meta: &RouteMeta, total: Duration) {
    h.reserve(12);
    put(h, CALL_ID, call_id);
    if let Some(id) = &meta.model_id {
        put(h, MODEL_ID, id);
    }
    if let Some(base) = &meta.api_base {
        put(h, API_BASE, base);
    }
    // Only a configured group: an unknown model name is the client's string and may be anything.
    if meta.resolved {
        put(h, MODEL_GROUP, &meta.model_group);
    }
    h.insert(RETRIES, HeaderValue::from(meta.attempted_retries));
    h.insert(FALLBACKS, HeaderValue::from(meta.attempted_fallbacks));
    h.insert(MAX_RETRIES, HeaderValue::from(meta.max_retries));
    put(h, TIMEOUT, &format_secs(meta.timeout));
    put(h, DURATION, &format_ms(total));
    put(h, OVERHEAD, &format_ms(total.saturating_sub(meta.upstream_time)));
    if let Some(region) = meta.region.as_deref().filter(|r| !r.is_empty()) {
        put(h, REGION, region);
    }
    h.insert(VERSION, HeaderValue::from_static(env!("CARGO_PKG_VERSION")));
}

/// The routing headers as a new map (error responses).
pub fn routing_headers(call_id: &str, meta: &RouteMeta, total: Duration) -> HeaderMap {
    let mut h = HeaderMap::with_capacity(16);
    add_routing_headers(&mut h, call_id, meta, total);
    h
}

/// Milliseconds with three decimals (microsecond resolution).
fn format_ms(d: Duration) -> String {
    let us = d.as_micros();
    format!("{}.{:03}", us / 1000, us % 1000)
}

fn format_secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 { format!("{s:.1}") } else { format!("{s}") }
}

/// `x-litellm-response-cost`, when the deployment's prices are known.
pub fn add_cost(h: &mut HeaderMap, meta: &RouteMeta, prompt_tokens: u64, completion_tokens: u64) {
    if let Some(p) = meta.pricing {
        let cost = p.cost(prompt_tokens, completion_tokens);
        // Twelve decimals hide float noise (0.00011999999999999999) without losing real precision.
        let text = format!("{cost:.12}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        put(h, COST, text);
    }
}

const KEY_SPEND: HeaderName = HeaderName::from_static("x-litellm-key-spend");
const LIMIT_REQUESTS: HeaderName = HeaderName::from_static("x-ratelimit-limit-requests");
const REMAINING_REQUESTS: HeaderName = HeaderName::from_static("x-ratelimit-remaining-requests");
const LIMIT_TOKENS: HeaderName = HeaderName::from_static("x-ratelimit-limit-tokens");
const REMAINING_TOKENS: HeaderName = HeaderName::from_static("x-ratelimit-remaining-tokens");
// LiteLLM's per-descriptor names for the key's own limits.
const KEY_LIMIT_REQUESTS: HeaderName = HeaderName::from_static("x-ratelimit-api_key-limit-requests");
const KEY_REMAINING_REQUESTS: HeaderName = HeaderName::from_static("x-ratelimit-api_key-remaining-requests");
const KEY_LIMIT_TOKENS: HeaderName = HeaderName::from_static("x-ratelimit-api_key-limit-tokens");
const KEY_REMAINING_TOKENS: HeaderName = HeaderName::from_static("x-ratelimit-api_key-remaining-tokens");

/// `x-litellm-key-spend` and, when the key has limits, `x-ratelimit-*`
/// (these replace any relayed from the upstream: the key's are the ones the
/// client is held to).
pub fn add_key_headers(h: &mut HeaderMap, key_spend: Option<f64>, remaining: &crate::access::limiter::Remaining) {
    if let Some(spend) = key_spend {
        let text = format!("{spend:.12}");
        put(h, KEY_SPEND, text.trim_end_matches('0').trim_end_matches('.'));
    }
    if let Some((limit, left)) = remaining.requests {
        h.insert(LIMIT_REQUESTS, HeaderValue::from(limit));
        h.insert(REMAINING_REQUESTS, HeaderValue::from(left));
        h.insert(KEY_LIMIT_REQUESTS, HeaderValue::from(limit));
        h.insert(KEY_REMAINING_REQUESTS, HeaderValue::from(left));
    }
    if let Some((limit, left)) = remaining.tokens {
        h.insert(LIMIT_TOKENS, HeaderValue::from(limit));
        h.insert(REMAINING_TOKENS, HeaderValue::from(left));
        h.insert(KEY_LIMIT_TOKENS, HeaderValue::from(limit));
        h.insert(KEY_REMAINING_TOKENS, HeaderValue::from(left));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_stay_small() {
        let meta = RouteMeta {
            model_group: "a-rather-long-model-group-name".into(),
            model_id: Some("0123456789abcdef".into()),
            api_base: Some("https://my-resource.openai.azure.com/openai/deployments/x".into()),
            region: Some("eastus".into()),
            resolved: true,
            ..Default::default()
        };
        let mut h = routing_headers("018f6a4e-0000-7000-8000-000000000000", &meta, Duration::from_micros(12_345));
        let pricing = tianji_core::pricing::Pricing { input_per_token: 1e-6, output_per_token: 2e-6, per_request: 0.0 };
        add_cost(&mut h, &RouteMeta { pricing: Some(pricing), ..meta }, 100, 10);
        let size: usize = h.iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
        assert!(size < 1024, "headers take {size} bytes");
        assert_eq!(h["x-litellm-attempted-retries"], "0");
        assert_eq!(h["x-litellm-response-cost"], "0.00012");
        assert_eq!(h["x-litellm-response-duration-ms"], "12.345");
    }
}
