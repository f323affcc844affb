//! `dotprompt`: LiteLLM's dotprompt prompt integration as a prompt-source
//! plugin. One instance serves one `prompts:` entry:
//!
//! ```yaml
//! prompts:
//!   - prompt_id: support-answer
//!     litellm_params:
//!       prompt_integration: dotprompt
//!       prompt_file: prompts/support.prompt     # read by the proxy, or:
//!       # dotprompt_content: "---\nmodel: gpt-4o\n---\nSystem: ..."
//! ```
//!
//! A template is optional YAML front matter between `---` lines (`model` and
//! any model parameters; `input`/`output` are reserved), then text split into
//! messages at lines starting with `System:`, `User:` or `Assistant:` (text
//! before the first marker is a user message). `{{name}}` is replaced by the
//! request's `prompt_variables`; variables the template uses but the request
//! does not give are reported together, and the proxy answers 400 listing them.

use serde_json::{Map, Value};
use tianji_plugin_sdk::prompt::{Prompt, PromptError, PromptSource};
use tianji_plugin_sdk::{Config, Message};

/// A parsed template.
pub struct DotPrompt {
    id: String,
    metadata: Map<String, Value>,
    sections: Vec<(String, String)>,
}

/// Splits front matter from the body.
fn split_front_matter(text: &str) -> (Option<&str>, &str) {
    let t = text.trim_start_matches('\u{feff}');
    if let Some(rest) = t.strip_prefix("---\n").or_else(|| t.strip_prefix("---\r\n"))
        && let Some(end) = rest.find("\n---")
    {
        let body = &rest[end + 4..];
        let body = body.strip_prefix('\r').unwrap_or(body);
        return (Some(&rest[..end]), body.strip_prefix('\n').unwrap_or(body));
    }
    (None, t)
}

/// The `{{name}}` references of a text, in order, without duplicates.
pub fn variables(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let name = after[..end].trim().to_string();
        if !name.is_empty() && !out.contains(&name) {
            out.push(name);
        }
        rest = &after[end + 2..];
    }
    out
}

fn render(text: &str, vars: &Map<String, Value>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        match vars.get(after[..end].trim()) {
            Some(Value::String(s)) => out.push_str(s),
            Some(other) => out.push_str(&other.to_string()),
            None => {}
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

impl DotPrompt {
    /// Parses a template.
    pub fn parse(id: &str, text: &str) -> Result<Self, String> {
        let (front, body) = split_front_matter(text);
        let mut metadata = match front {
            Some(f) => match serde_yaml_ng::from_str::<Value>(f).map_err(|e| format!("front matter of {id}: {e}"))? {
                Value::Object(m) => m,
                Value::Null => Map::new(),
                _ => return Err(format!("front matter of {id} must be a mapping")),
            },
            None => Map::new(),
        };
        metadata.remove("input");
        metadata.remove("output");
        let mut sections: Vec<(String, String)> = Vec::new();
        for line in body.lines() {
            let marker = [("System:", "system"), ("User:", "user"), ("Assistant:", "assistant")]
                .into_iter()
                .find(|(m, _)| line.trim_start().starts_with(m));
            match marker {
                Some((m, role)) => sections.push((role.to_string(), line.trim_start()[m.len()..].trim_start().to_string())),
                None => match sections.last_mut() {
                    Some((_, text)) => {
                        text.push('\n');
                        text.push_str(line);
                    }
                    None => sections.push(("user".into(), line.to_string())),
                },
            }
        }
        for (_, text) in &mut sections {
            *text = text.trim().to_string();
        }
        sections.retain(|(_, t)| !t.is_empty());
        if sections.is_empty() {
            return Err(format!("prompt {id} has no messages"));
        }
        Ok(Self { id: id.to_string(), metadata, sections })
    }

    /// Renders with variables; errors list every missing one.
    pub fn render(&self, vars: &Map<String, Value>) -> Result<Prompt, PromptError> {
        let mut missing: Vec<String> = Vec::new();
        for (_, text) in &self.sections {
            for v in variables(text) {
                if !vars.contains_key(&v) && !missing.contains(&v) {
                    missing.push(v);
                }
            }
        }
        if !missing.is_empty() {
            return Err(PromptError::MissingVariables(missing));
        }
        let messages = self.sections.iter().map(|(role, text)| Message::new(role, render(text, vars))).collect();
        Ok(Prompt { messages, metadata: Value::Object(self.metadata.clone()).to_string() })
    }
}

impl PromptSource for DotPrompt {
    fn new(config: &Config) -> Result<Self, String> {
        let id: String = config.get("prompt_id")?.unwrap_or_else(|| "prompt".into());
        let text: Option<String> = config.get("dotprompt_content")?;
        let text = match text {
            Some(t) => t,
            None => config.get("prompt_file_content")?.ok_or("dotprompt_content or prompt_file is required")?,
        };
        Self::parse(&id, &text)
    }

    fn get_prompt(
        &self,
        id: &str,
        _version: Option<&str>,
        _label: Option<&str>,
        variables: &Map<String, Value>,
    ) -> Result<Prompt, PromptError> {
        if id != self.id && !id.starts_with(&format!("{}.v", self.id)) {
            return Err(PromptError::NotFound(format!("prompt {id} is not served by this source ({})", self.id)));
        }
        self.render(variables)
    }
}

#[cfg(target_arch = "wasm32")]
tianji_plugin_sdk::export_prompt_source!(DotPrompt);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const T: &str = "---\nmodel: gpt-4o\ntemperature: 0.3\ninput:\n  schema: {name: string}\n---\nSystem: You help {{ company }} customers.\nBe brief.\nUser: Hi, I am {{name}}.\n";

    #[test]
    fn parses_front_matter_roles_and_variables() {
        let p = DotPrompt::parse("support", T).unwrap();
        let vars = json!({"company": "Acme", "name": "Ana"}).as_object().unwrap().clone();
        let out = p.render(&vars).unwrap();
        assert_eq!(out.messages.len(), 2);
        assert_eq!(out.messages[0].role, "system");
        assert_eq!(out.messages[0].text(), "You help Acme customers.\nBe brief.");
        assert_eq!(out.messages[1].text(), "Hi, I am Ana.");
        let meta: Value = serde_json::from_str(&out.metadata).unwrap();
        assert_eq!(meta, json!({"model": "gpt-4o", "temperature": 0.3}));
    }

    #[test]
    fn missing_variables_are_listed_together() {
        let p = DotPrompt::parse("support", T).unwrap();
        match p.render(&Map::new()) {
            Err(PromptError::MissingVariables(v)) => assert_eq!(v, vec!["company".to_string(), "name".to_string()]),
            _ => panic!("expected missing variables"),
        }
    }

    #[test]
    fn text_without_markers_is_one_user_message() {
        let p = DotPrompt::parse("plain", "Summarise: {{text}}").unwrap();
        let out = p.render(json!({"text": "abc"}).as_object().unwrap()).unwrap();
        assert_eq!((out.messages[0].role.as_str(), out.messages[0].text().as_str()), ("user", "Summarise: abc"));
    }
}
