//! What a call costs: per-token (and per-request) prices for a deployment,
//! from its own `model_info`, else from a cost map in LiteLLM's
//! `model_prices_and_context_window.json` format (`LITELLM_MODEL_COST_MAP_URL`),
//! else from the built-in [`crate::catalog`].
//!
//! Prices are resolved once per deployment when the router is built, never
//! per request.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde::Deserialize;
use serde_json::Value;

/// A deployment's prices, USD.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Pricing {
    /// Per prompt token.
    pub input_per_token: f64,
    /// Per completion token.
    pub output_per_token: f64,
    /// Per call, whatever its size (`input_cost_per_request`).
    pub per_request: f64,
}

impl Pricing {
    /// The cost of one call.
    pub fn cost(&self, prompt_tokens: u64, completion_tokens: u64) -> f64 {
        self.input_per_token * prompt_tokens as f64 + self.output_per_token * completion_tokens as f64 + self.per_request
    }
}

/// One entry of a LiteLLM cost map (the fields Tianji uses; others are ignored).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct CostEntry {
    /// USD per input token.
    pub input_cost_per_token: Option<f64>,
    /// USD per output token.
    pub output_cost_per_token: Option<f64>,
    /// USD per call.
    pub input_cost_per_request: Option<f64>,
    /// Provider (`openai`, `anthropic`, `bedrock`, ...).
    pub litellm_provider: Option<String>,
    /// `chat`, `embedding`, ...
    pub mode: Option<String>,
    /// Context window.
    pub max_input_tokens: Option<u64>,
    /// Output cap.
    pub max_output_tokens: Option<u64>,
}

impl CostEntry {
    fn pricing(&self) -> Option<Pricing> {
        if self.input_cost_per_token.is_none() && self.output_cost_per_token.is_none() && self.input_cost_per_request.is_none() {
            return None;
        }
        Some(Pricing {
            input_per_token: self.input_cost_per_token.unwrap_or(0.0),
            output_per_token: self.output_cost_per_token.unwrap_or(0.0),
            per_request: self.input_cost_per_request.unwrap_or(0.0),
        })
    }
}

/// A cost map: model name (bare, or `provider/name`) to its entry.
pub type CostMap = HashMap<String, CostEntry>;

/// Parses a cost map in LiteLLM's format. Entries that are not objects
/// (and `sample_spec`) are skipped; an entry with a wrongly typed field is
/// an error naming it.
pub fn parse_cost_map(json: &str) -> Result<CostMap, String> {
    let root: serde_json::Map<String, Value> = serde_json::from_str(json).map_err(|e| format!("not a JSON object of models: {e}"))?;
    let mut map = CostMap::with_capacity(root.len());
    for (name, v) in root {
        if name == "sample_spec" || !v.is_object() {
            continue;
        }
        let entry: CostEntry = serde_json::from_value(v).map_err(|e| format!("{name}: {e}"))?;
        map.insert(name, entry);
    }
    Ok(map)
}

static INSTALLED: RwLock<Option<Arc<CostMap>>> = RwLock::new(None);

/// Makes a cost map the one [`lookup`] consults (at start-up).
pub fn install(map: CostMap) {
    if let Ok(mut slot) = INSTALLED.write() {
        *slot = Some(Arc::new(map));
    }
}

/// The prices of `name` on `provider`: the installed cost map (as
/// `provider/name`, then `name`), then the built-in catalog.
pub fn lookup(provider: &str, name: &str) -> Option<Pricing> {
    let bare = name.strip_prefix(provider).and_then(|n| n.strip_prefix('/')).unwrap_or(name);
    let installed = INSTALLED.read().ok().and_then(|m| m.clone());
    if let Some(map) = installed {
        let found = map.get(&format!("{provider}/{bare}")).or_else(|| map.get(bare)).or_else(|| map.get(name));
        if let Some(p) = found.and_then(CostEntry::pricing) {
            return Some(p);
        }
    }
    crate::catalog::lookup(provider, bare).map(|m| Pricing {
        input_per_token: m.input_cost_per_token,
        output_per_token: m.output_cost_per_token,
        per_request: 0.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn litellm_cost_maps_parse_and_win_over_the_catalog() {
        let map = parse_cost_map(
            r#"{"sample_spec": {"input_cost_per_token": "see docs"},
                "gpt-4o": {"input_cost_per_token": 0.5, "output_cost_per_token": 1.0, "litellm_provider": "openai", "mode": "chat"},
                "bedrock/some-model": {"input_cost_per_request": 0.01, "litellm_provider": "bedrock"}}"#,
        )
        .expect("parses");
        assert_eq!(map.len(), 2);
        assert!(parse_cost_map(r#"{"m": {"input_cost_per_token": "cheap"}}"#).unwrap_err().starts_with("m:"));
        assert!(lookup("openai", "gpt-4o").is_some_and(|p| p.input_per_token < 0.01), "built-in before install");
        install(map);
        assert_eq!(lookup("openai", "openai/gpt-4o").map(|p| p.input_per_token), Some(0.5));
        assert_eq!(lookup("bedrock", "some-model").map(|p| p.cost(10, 10)), Some(0.01));
        assert!(lookup("anthropic", "claude-3-haiku-20240307").is_some(), "the catalog still answers what the map lacks");
        install(CostMap::new());
    }
}
