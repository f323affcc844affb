//! The extension points. Each is one trait; its implementations live side by
//! side in the crate that owns the concern (providers, router, cache, plugin
//! host, integrations), one file per implementation. A WebAssembly plugin is
//! one more implementation, through an adapter in the plugin host.

mod cache;
mod guardrail;
mod logger;
mod prompt;
mod provider;
mod routing;
mod secrets;

pub use cache::{Cache, CacheError};
pub use guardrail::{Guardrail, GuardrailCall, GuardrailError, GuardrailPhase, Verdict};
pub use logger::{LogEvent, Logger, LoggerError};
pub use prompt::{Prompt, PromptError, PromptSource};
pub use provider::{CallOptions, ChunkStream, Provider, ResponsesStream, ValueStream, unsupported};
pub use routing::{Candidate, RoutingStrategy};
pub use secrets::{ProcessEnvironment, SecretError, SecretManager, SecretValues};
