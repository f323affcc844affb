//! The `prompts:` section, as LiteLLM configures managed prompts:
//!
//! ```yaml
//! prompts:
//!   - prompt_id: support-answer
//!     litellm_params:
//!       prompt_integration: dotprompt     # a built-in or a prompt-source plugin
//!       prompt_file: prompts/support.prompt
//! ```

use serde_json::{Map, Value};

use super::Problems;
use super::walk::Section;

/// One `prompts:` entry.
#[derive(Debug, Clone)]
pub struct PromptConfig {
    /// Path of the entry, for errors.
    pub path: String,
    /// The id requests name in `prompt_id`.
    pub prompt_id: String,
    /// The source implementation (`prompt_integration`).
    pub integration: String,
    /// Every other `litellm_params` key: the source's settings.
    pub params: Map<String, Value>,
}

/// Parses the `prompts:` list.
pub fn parse(items: Vec<Value>, problems: &mut Problems) -> Vec<PromptConfig> {
    let mut out: Vec<PromptConfig> = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let path = format!("prompts[{i}]");
        let Some(mut s) = Section::open(path.clone(), item, problems) else { continue };
        let id = s.string("prompt_id", problems);
        s.value("prompt_info");
        let Some(mut p) = s.section("litellm_params", problems) else {
            problems.error(&s.child_path("litellm_params"), "required (with prompt_integration)");
            s.finish(problems);
            continue;
        };
        let id = id.or_else(|| p.string("prompt_id", problems));
        p.value("prompt_id");
        let integration = p.string("prompt_integration", problems);
        if integration.is_none() {
            problems.error(&p.child_path("prompt_integration"), "required: the prompt source (e.g. dotprompt, or a prompt-source plugin)");
        }
        let params = p.take_rest();
        s.finish(problems);
        let Some(prompt_id) = id else {
            problems.error(&format!("{path}.prompt_id"), "required");
            continue;
        };
        if out.iter().any(|p| p.prompt_id == prompt_id) {
            problems.error(&format!("{path}.prompt_id"), format!("duplicate prompt_id {prompt_id:?}"));
            continue;
        }
        if let Some(integration) = integration {
            out.push(PromptConfig { path, prompt_id, integration, params });
        }
    }
    out
}
