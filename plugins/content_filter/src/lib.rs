//! `litellm_content_filter`: LiteLLM's content filter guardrail as a WASM
//! plugin. Configured exactly as in LiteLLM (`patterns`, `blocked_words`,
//! `blocked_words_file`, `categories`, `severity_threshold`,
//! `pattern_redaction_format`, `keyword_redaction_tag`); no network.
//!
//! Request checks cover every message's text parts and tool-call arguments;
//! response checks cover every choice. BLOCK refuses with LiteLLM's message
//! (`Content blocked: email pattern detected`); MASK rewrites the text before
//! it goes upstream (pre-call) or reaches the client (post-call).

pub mod config;
pub mod filter;
pub mod patterns;

use tianji_plugin_sdk::guardrail::{Guardrail, RequestVerdict, ResponseVerdict};
use tianji_plugin_sdk::{CallContext, ChatRequest, ChatResponse, Config, ContentPart, Message};

use crate::filter::{Filter, Outcome};

/// The guardrail: a filter compiled from the config at `init`.
pub struct ContentFilter {
    filter: Filter,
}

enum Applied {
    Unchanged,
    Changed(Vec<Message>),
    Blocked(String, serde_json::Value),
}

impl ContentFilter {
    /// Builds the filter from settings.
    pub fn from_settings(settings: &config::Settings) -> Result<Self, String> {
        Ok(Self { filter: Filter::build(settings)? })
    }

    /// Runs the filter over every text (content parts and tool-call
    /// arguments); the messages are copied only if something is masked.
    fn scan(&self, messages: &[Message]) -> Applied {
        let mut out: Option<Vec<Message>> = None;
        for (i, m) in messages.iter().enumerate() {
            let texts = m
                .content
                .iter()
                .enumerate()
                .filter_map(|(j, p)| match p {
                    ContentPart::Text(t) => Some((Some(j), None, t.as_str())),
                    _ => None,
                })
                .chain(m.tool_calls.iter().enumerate().map(|(k, c)| (None, Some(k), c.arguments.as_str())));
            for (part, call, text) in texts {
                match self.filter.check(text) {
                    Outcome::Clean => {}
                    Outcome::Blocked(reason, details) => return Applied::Blocked(reason, details),
                    Outcome::Masked(new) => {
                        let msgs = out.get_or_insert_with(|| messages.to_vec());
                        match (part, call) {
                            (Some(j), _) => msgs[i].content[j] = ContentPart::Text(new),
                            (_, Some(k)) => msgs[i].tool_calls[k].arguments = new,
                            _ => {}
                        }
                    }
                }
            }
        }
        match out {
            Some(m) => Applied::Changed(m),
            None => Applied::Unchanged,
        }
    }
}

impl Guardrail for ContentFilter {
    fn new(config: &Config) -> Result<Self, String> {
        Self::from_settings(&config.parse()?)
    }

    fn check_request(&self, _ctx: &CallContext, request: &ChatRequest) -> Result<RequestVerdict, String> {
        Ok(match self.scan(&request.messages) {
            Applied::Unchanged => RequestVerdict::Allow,
            Applied::Changed(messages) => RequestVerdict::Modify(ChatRequest { messages, ..request.clone() }),
            Applied::Blocked(reason, details) => RequestVerdict::block(reason, details),
        })
    }

    fn check_response(&self, _ctx: &CallContext, _request: &ChatRequest, response: &ChatResponse) -> Result<ResponseVerdict, String> {
        let messages: Vec<Message> = response.choices.iter().map(|c| c.message.clone()).collect();
        Ok(match self.scan(&messages) {
            Applied::Unchanged => ResponseVerdict::Allow,
            Applied::Changed(messages) => {
                let mut modified = response.clone();
                for (c, m) in modified.choices.iter_mut().zip(messages) {
                    c.message = m;
                }
                ResponseVerdict::Modify(modified)
            }
            Applied::Blocked(reason, details) => ResponseVerdict::block(reason, details),
        })
    }
}

#[cfg(target_arch = "wasm32")]
tianji_plugin_sdk::export_guardrail!(ContentFilter);

#[cfg(test)]
mod tests;
