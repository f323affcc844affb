//! {{name}}: serves the prompt `greeting`, with `{name}` filled from the request's variables.

use tianji_plugin_sdk::prompt::{Prompt, PromptError, PromptSource};
use tianji_plugin_sdk::{Config, Message};

/// The plugin.
pub struct Plugin;

impl PromptSource for Plugin {
    fn new(_config: &Config) -> Result<Self, String> {
        Ok(Plugin)
    }

    fn get_prompt(
        &self,
        id: &str,
        _version: Option<&str>,
        _label: Option<&str>,
        variables: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Prompt, PromptError> {
        if id != "greeting" {
            return Err(PromptError::NotFound(format!("no prompt '{id}'")));
        }
        let Some(name) = variables.get("name").and_then(|v| v.as_str()) else {
            return Err(PromptError::MissingVariables(vec!["name".into()]));
        };
        Ok(Prompt { messages: vec![Message::new("system", format!("Greet {name} warmly."))], metadata: "{}".into() })
    }
}

#[cfg(target_arch = "wasm32")]
tianji_plugin_sdk::export_prompt_source!(Plugin);
