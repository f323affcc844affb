//! A guardrail that does what its config says, for testing the host:
//!
//! - `on_request` / `on_response`: `allow` (default), `block`, `redact`
//!   (replace `word` with `[REDACTED]`), `loop` (never returns), `trap`
//!   (panics), `alloc` (tries to allocate 1 GiB), `garbage` (returns a
//!   modified request with an invalid role), `error` (returns an error),
//!   `http` (POSTs to `target` and blocks with the answer's text),
//!   `secret` (blocks, saying the value of the granted secret `secret`);
//! - `word`: act only when the text contains it (default: always).

use serde::Deserialize;
use tianji_plugin_sdk::guardrail::{Guardrail, RequestVerdict, ResponseVerdict};
use tianji_plugin_sdk::{CallContext, ChatRequest, ChatResponse, Config, Message};

#[derive(Deserialize, Default)]
#[serde(default)]
/// The fixture's settings.
pub struct Settings {
    on_request: Option<String>,
    on_response: Option<String>,
    word: Option<String>,
    target: Option<String>,
    secret: Option<String>,
}

/// The fixture guardrail.
pub struct TestGuardrail(Settings);

/// Replaces `word` with `[REDACTED]` in a message.
pub fn redact(m: &mut Message, word: &str) {
    m.map_text(|t| t.contains(word).then(|| t.replace(word, "[REDACTED]")));
}

impl TestGuardrail {
    fn triggered(&self, text: &str) -> bool {
        self.0.word.as_deref().is_none_or(|w| text.contains(w))
    }

    fn misbehave(&self, action: &str) -> Result<(), String> {
        match action {
            "loop" => {
                let mut x: u64 = 0;
                loop {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            }
            "trap" => panic!("the test guardrail was told to trap"),
            "alloc" => {
                let v = vec![7u8; 1 << 30];
                Err(format!("allocated {} bytes", std::hint::black_box(v).len()))
            }
            "error" => Err("the test guardrail was told to fail".into()),
            _ => Ok(()),
        }
    }
}

impl Guardrail for TestGuardrail {
    fn new(config: &Config) -> Result<Self, String> {
        let s: Settings = config.parse()?;
        if s.on_request.as_deref() == Some("http") && s.target.is_none() {
            return Err("`target` is required with on_request: http".into());
        }
        Ok(Self(s))
    }

    fn check_request(&self, _ctx: &CallContext, request: &ChatRequest) -> Result<RequestVerdict, String> {
        let action = self.0.on_request.as_deref().unwrap_or("allow");
        if !self.triggered(&request.all_text()) {
            return Ok(RequestVerdict::Allow);
        }
        self.misbehave(action)?;
        Ok(match action {
            "block" => RequestVerdict::block("the test guardrail blocks this", serde_json::json!({ "word": self.0.word })),
            "redact" => {
                let mut r = request.clone();
                let word = self.0.word.clone().unwrap_or_default();
                r.messages.iter_mut().for_each(|m| redact(m, &word));
                RequestVerdict::Modify(r)
            }
            "garbage" => {
                let mut r = request.clone();
                r.messages.iter_mut().for_each(|m| m.role = "wizard".into());
                RequestVerdict::Modify(r)
            }
            "http" => {
                let url = self.0.target.as_deref().unwrap_or_default();
                let resp = tianji_plugin_sdk::http::post_json(url, &[], &serde_json::json!({ "text": request.all_text() }))?;
                RequestVerdict::block(format!("remote said: {}", resp.text()), serde_json::json!({ "status": resp.status }))
            }
            "secret" => {
                let name = self.0.secret.as_deref().unwrap_or_default();
                let reason = match tianji_plugin_sdk::secret(name) {
                    Some(v) => format!("secret {name} is {v}"),
                    None => format!("secret {name} is not granted"),
                };
                RequestVerdict::block(reason, serde_json::Value::Null)
            }
            _ => RequestVerdict::Allow,
        })
    }

    fn check_response(&self, _ctx: &CallContext, _request: &ChatRequest, response: &ChatResponse) -> Result<ResponseVerdict, String> {
        let action = self.0.on_response.as_deref().unwrap_or("allow");
        if !self.triggered(&response.all_text()) {
            return Ok(ResponseVerdict::Allow);
        }
        self.misbehave(action)?;
        Ok(match action {
            "block" => ResponseVerdict::block("the test guardrail blocks this answer", serde_json::Value::Null),
            "redact" => {
                let mut r = response.clone();
                let word = self.0.word.clone().unwrap_or_default();
                r.choices.iter_mut().for_each(|c| redact(&mut c.message, &word));
                ResponseVerdict::Modify(r)
            }
            _ => ResponseVerdict::Allow,
        })
    }
}

#[cfg(target_arch = "wasm32")]
tianji_plugin_sdk::export_guardrail!(TestGuardrail);
