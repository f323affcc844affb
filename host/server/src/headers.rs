//! LiteLLM's `x-litellm-*` response headers, so dashboards built on them keep working.

use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use tianji_router::RouteMeta;

fn put(h: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(HeaderName::from_static(name), v);
    }
}

fn put_num(h: &mut HeaderMap, name: &'static str, value: u64) {
    h.insert(HeaderName::from_static(name), HeaderValue::from(value));
}

/// Routing headers for a call; `total` is the time since the request arrived.
pub fn routing_headers(call_id: &str, meta: &RouteMeta, total: Duration) -> HeaderMap {
    let mut h = HeaderMap::with_capacity(12);
    put(&mut h, "x-litellm-call-id", call_id);
    if let Some(id) = &meta.model_id {
        put(&mut h, "x-litellm-model-id", id);
    }
    if let Some(base) = &meta.api_base {
        put(&mut h, "x-litellm-model-api-base", base);
    }
    put(&mut h, "x-litellm-model-group", &meta.model_group);
    put_num(&mut h, "x-litellm-attempted-retries", u64::from(meta.attempted_retries));
    put_num(&mut h, "x-litellm-attempted-fallbacks", u64::from(meta.attempted_fallbacks));
    put_num(&mut h, "x-litellm-max-retries", u64::from(meta.max_retries));
    put(&mut h, "x-litellm-timeout", &format_secs(meta.timeout));
    put(&mut h, "x-litellm-response-duration-ms", &format_ms(total));
    put(&mut h, "x-litellm-overhead-duration-ms", &format_ms(total.saturating_sub(meta.upstream_time)));
    put(&mut h, "x-litellm-model-region", meta.region.as_deref().unwrap_or(""));
    h
}

fn format_ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

fn format_secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 { format!("{s:.1}") } else { format!("{s}") }
}

/// `x-litellm-response-cost`, when the deployment's prices are known.
pub fn add_cost(h: &mut HeaderMap, meta: &RouteMeta, prompt_tokens: u64, completion_tokens: u64) {
    if let Some((i, o)) = meta.cost_per_token {
        let cost = i * prompt_tokens as f64 + o * completion_tokens as f64;
        // Twelve decimals hide float noise (0.00011999999999999999) without losing real precision.
        let text = format!("{cost:.12}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        put(h, "x-litellm-response-cost", text);
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
            ..Default::default()
        };
        let mut h = routing_headers("018f6a4e-0000-7000-8000-000000000000", &meta, Duration::from_millis(12));
        add_cost(&mut h, &RouteMeta { cost_per_token: Some((1e-6, 2e-6)), ..meta }, 100, 10);
        let size: usize = h.iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
        assert!(size < 1024, "headers take {size} bytes");
        assert_eq!(h["x-litellm-attempted-retries"], "0");
        assert_eq!(h["x-litellm-response-cost"], "0.00012");
    }
}
