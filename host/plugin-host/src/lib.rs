//! Tianji's WebAssembly plugin host.
//!
//! Guardrails, loggers and prompt sources can be WebAssembly components
//! written against `wit/plugin.wit`. This crate compiles them (once, cached on
//! disk by content hash and engine), instantiates them in a sandbox with a
//! deadline, a memory cap and an allow-list for outbound HTTP, keeps pools of
//! initialised instances, watches the plugin directories and swaps new
//! versions in while the proxy serves.

#![deny(missing_docs)]

pub mod bindings;
pub mod bound;
pub mod convert;
pub mod engine;
pub mod guardrail;
pub mod logger;
pub mod manifest;
pub mod outbound;
pub mod pool;
pub mod prompt;
pub mod registry;
pub mod state;
pub mod stats;
pub mod watch;
pub mod worlds;
