//! {{name}}: blocks requests that mention the configured `word`.

use tianji_plugin_sdk::guardrail::{Guardrail, RequestVerdict};
use tianji_plugin_sdk::{CallContext, ChatRequest, Config};

/// The plugin, built once per instance from its settings.
pub struct Plugin {
    word: String,
}

impl Plugin {
    fn mentions(&self, text: &str) -> bool {
        text.to_lowercase().contains(&self.word)
    }
}

impl Guardrail for Plugin {
    fn new(config: &Config) -> Result<Self, String> {
        Ok(Plugin { word: config.get::<String>("word")?.unwrap_or_else(|| "forbidden".into()).to_lowercase() })
    }

    fn check_request(&self, _ctx: &CallContext, request: &ChatRequest) -> Result<RequestVerdict, String> {
        if self.mentions(&request.all_text()) {
            return Ok(RequestVerdict::block(format!("the request mentions '{}'", self.word), serde_json::json!({"word": self.word})));
        }
        Ok(RequestVerdict::Allow)
    }
}

#[cfg(target_arch = "wasm32")]
tianji_plugin_sdk::export_guardrail!(Plugin);

#[cfg(test)]
mod tests {
    #[test]
    fn finds_the_word_in_any_case() {
        let p = super::Plugin { word: "forbidden".into() };
        assert!(p.mentions("Say FORBIDDEN things"));
        assert!(!p.mentions("say nice things"));
    }
}
