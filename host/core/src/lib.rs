//! Tianji's core: the OpenAI-shaped request/response model every stage works
//! on, the one error type of the request path, the LiteLLM-compatible
//! configuration loader, and the extension traits (`Provider`,
//! `RoutingStrategy`, `Cache`, `Guardrail`, `Logger`, `PromptSource`,
//! `SecretManager`) that providers, the router, the plugin host and native
//! integrations implement.
#![deny(missing_docs)]

pub mod catalog;
pub mod config;
pub mod context;
pub mod error;
pub mod pricing;
pub mod traits;
pub mod types;

pub use context::{CallContext, CallType, new_call_id};
pub use error::{ErrorKind, ErrorSource, GatewayError};
