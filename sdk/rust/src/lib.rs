//! Write Tianji plugins in Rust.
//!
//! A Tianji plugin is a WebAssembly component that implements one of the
//! worlds in Tianji's WIT package (`tianji:plugin@0.1.0`): a guardrail, a
//! logger or a prompt source. This crate hides the bindings: you implement
//! one trait and name your type in one macro.
//!
//! # A complete guardrail
//!
//! `Cargo.toml`:
//!
//! ```toml
//! [package]
//! name = "no-secrets"
//! edition = "2024"
//!
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! tianji-plugin-sdk = { version = "0.1", features = ["guardrail"] }
//! serde = { version = "1", features = ["derive"] }
//! ```
//!
//! `src/lib.rs`:
//!
//! ```ignore
//! use tianji_plugin_sdk::guardrail::{Guardrail, RequestVerdict};
//! use tianji_plugin_sdk::{CallContext, ChatRequest, Config};
//!
//! #[derive(serde::Deserialize)]
//! struct Settings {
//!     /// Words that must not reach the model.
//!     words: Vec<String>,
//! }
//!
//! struct NoSecrets(Settings);
//!
//! impl Guardrail for NoSecrets {
//!     fn new(config: &Config) -> Result<Self, String> {
//!         Ok(NoSecrets(config.parse()?))
//!     }
//!
//!     fn check_request(&self, _ctx: &CallContext, req: &ChatRequest) -> Result<RequestVerdict, String> {
//!         let text = req.all_text();
//!         match self.0.words.iter().find(|w| text.contains(w.as_str())) {
//!             Some(word) => Ok(RequestVerdict::block(format!("mentions {word}"), serde_json::json!({ "word": word }))),
//!             None => Ok(RequestVerdict::Allow),
//!         }
//!     }
//! }
//!
//! tianji_plugin_sdk::export_guardrail!(NoSecrets);
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2` (or
//! `tianji plugin build`) and copy `target/wasm32-wasip2/release/no_secrets.wasm`
//! into the proxy's plugin directory. The proxy loads it while running; name it
//! in the config as `guardrail: no_secrets`.
//!
//! # State between calls
//!
//! `new` runs once per plugin instance, and the value it returns serves many
//! calls (the host pools instances). The check methods take `&self`, so the
//! state built from the config (compiled patterns, clients) is shared, and
//! nothing a call computes survives it unless the plugin opts in with interior
//! mutability — which is the plugin author's decision and responsibility.
//!
//! # Features
//!
//! - `guardrail`, `logger`, `prompt-source`: the plugin kinds, one or more.
//! - `http`: outbound HTTP in [`http`], to the hosts the operator allows.

#![deny(missing_docs)]

mod bindings {
    //! The host imports shared by every plugin kind.
    wit_bindgen::generate!({
        inline: "package tianji:sdk; world imports { import tianji:plugin/host@0.1.0; }",
        path: "wit",
        world: "tianji:sdk/imports",
        generate_all,
    });
}

mod config;
mod host;
mod model;

#[cfg(feature = "guardrail")]
pub mod guardrail;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "logger")]
pub mod logger;
#[cfg(feature = "prompt-source")]
pub mod prompt;

pub use bindings::tianji::plugin::types::{
    CallContext, ChatRequest, ChatResponse, Choice, ContentPart, ImageUrl, LogLevel, Message, Phase, Tool, ToolCall,
};
pub use config::Config;
pub use host::{log, now_ms, secret};

#[doc(hidden)]
pub mod __private {
    //! Used by the export macros; not part of the API.
    pub use crate::bindings::tianji::plugin::host::config as host_config;
    pub use serde_json;
    pub use wit_bindgen;
}
