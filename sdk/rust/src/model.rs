//! Conveniences on the request and response model.

use crate::{ChatRequest, ChatResponse, ContentPart, Message};

impl Message {
    /// A message with one text part.
    pub fn new(role: &str, text: impl Into<String>) -> Self {
        Self {
            role: role.to_string(),
            content: vec![ContentPart::Text(text.into())],
            name: None,
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }

    /// The text parts joined with newlines.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for part in &self.content {
            if let ContentPart::Text(t) = part {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(t);
            }
        }
        out
    }

    /// Rewrites every text part (and tool-call arguments) with `f`; returns
    /// whether anything changed.
    pub fn map_text(&mut self, mut f: impl FnMut(&str) -> Option<String>) -> bool {
        let mut changed = false;
        for part in &mut self.content {
            if let ContentPart::Text(t) = part
                && let Some(new) = f(t)
            {
                *t = new;
                changed = true;
            }
        }
        for call in &mut self.tool_calls {
            if let Some(new) = f(&call.arguments) {
                call.arguments = new;
                changed = true;
            }
        }
        changed
    }
}

impl ChatRequest {
    /// Every text part of every message, joined with newlines.
    pub fn all_text(&self) -> String {
        self.messages.iter().map(Message::text).filter(|t| !t.is_empty()).collect::<Vec<_>>().join("\n")
    }

    /// The whole request body as JSON (an empty object unless the plugin's
    /// manifest sets `full_body = true`).
    pub fn body_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

impl ChatResponse {
    /// The text of every choice, joined with newlines.
    pub fn all_text(&self) -> String {
        self.choices.iter().map(|c| c.message.text()).filter(|t| !t.is_empty()).collect::<Vec<_>>().join("\n")
    }

    /// The whole response body as JSON (an empty object unless the plugin's
    /// manifest sets `full_body = true`).
    pub fn body_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}
