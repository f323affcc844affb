//! The one `bindgen!` site per plugin world (see `wit/plugin.wit`).
//!
//! The guardrail world generates the shared `types` and `host` interfaces;
//! the other worlds reuse them with `with`, so a value means the same Rust
//! type whichever plugin kind it crosses into.

#![allow(missing_docs)]

/// `guardrail-plugin`: the shared interfaces and the guardrail export.
pub mod guardrail {
    wasmtime::component::bindgen!({
        world: "tianji:plugin/guardrail-plugin",
        path: "wit",
        exports: { default: async },
        imports: { "tianji:plugin/host.http-request": async },
    });
}

/// `logger-plugin`.
pub mod logger {
    wasmtime::component::bindgen!({
        world: "tianji:plugin/logger-plugin",
        path: "wit",
        exports: { default: async },
        with: {
            "tianji:plugin/types": super::guardrail::tianji::plugin::types,
            "tianji:plugin/host": super::guardrail::tianji::plugin::host,
        },
    });
}

/// `prompt-source-plugin`.
pub mod prompt {
    wasmtime::component::bindgen!({
        world: "tianji:plugin/prompt-source-plugin",
        path: "wit",
        exports: { default: async },
        with: {
            "tianji:plugin/types": super::guardrail::tianji::plugin::types,
            "tianji:plugin/host": super::guardrail::tianji::plugin::host,
        },
    });
}

pub use guardrail::tianji::plugin::types as wit_types;
