//! Provider adapters. Each translates Tianji's OpenAI-shaped model to one
//! upstream API and back; the [`registry`] resolves `model: provider/name`
//! to the adapter that serves it.
#![deny(missing_docs)]

pub mod anthropic;
pub mod aws;
pub mod azure;
pub mod bedrock;
pub mod cohere;
pub mod defaults;
pub mod gemini;
pub mod google_auth;
pub mod http;
pub mod mock;
pub mod not_yet_supported;
pub mod openai;
pub mod registry;
pub mod responses;
pub mod sagemaker;
pub mod text_completion_openai;
pub mod translate;
pub mod vertex;
pub mod watsonx;

pub use registry::{DeploymentSpec, ProviderFactory, ProviderRegistry};
