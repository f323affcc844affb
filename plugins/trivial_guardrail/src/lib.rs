//! A trivial guardrail: blocks a request whose text contains the configured
//! `word` (default `forbidden`). The benchmark uses it to measure what one
//! plugin call costs; tests use it to watch hot reload.

use tianji_plugin_sdk::guardrail::{Guardrail, RequestVerdict};
use tianji_plugin_sdk::{CallContext, ChatRequest, Config};

/// The configured word.
pub struct Trivial {
    word: String,
}

impl Guardrail for Trivial {
    fn new(config: &Config) -> Result<Self, String> {
        Ok(Trivial { word: config.get("word")?.unwrap_or_else(|| "forbidden".to_string()) })
    }

    fn check_request(&self, _ctx: &CallContext, request: &ChatRequest) -> Result<RequestVerdict, String> {
        if request.messages.iter().any(|m| m.text().contains(&self.word)) {
            return Ok(RequestVerdict::block(format!("message contains '{}'", self.word), serde_json::json!({ "word": self.word })));
        }
        Ok(RequestVerdict::Allow)
    }
}

#[cfg(target_arch = "wasm32")]
tianji_plugin_sdk::export_guardrail!(Trivial);
