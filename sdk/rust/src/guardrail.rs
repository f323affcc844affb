//! Guardrails: check a request before it goes upstream and a response
//! before it reaches the client.
//!
//! Implement [`Guardrail`] and name the type in [`export_guardrail!`](crate::export_guardrail).

use crate::{CallContext, ChatRequest, ChatResponse, Config};

#[doc(hidden)]
pub mod bindings {
    //! The guardrail world's export side.
    wit_bindgen::generate!({
        world: "tianji:plugin/guardrail-plugin",
        path: "wit",
        with: {
            "tianji:plugin/types@0.1.0": crate::bindings::tianji::plugin::types,
            "tianji:plugin/host@0.1.0": crate::bindings::tianji::plugin::host,
        },
        pub_export_macro: true,
        export_macro_name: "__export_guardrail_world",
        default_bindings_module: "tianji_plugin_sdk::guardrail::bindings",
    });
}

pub use bindings::exports::tianji::plugin::guardrail::{RequestVerdict, ResponseVerdict, Violation};

impl RequestVerdict {
    /// Refuses the request with a reason and JSON details.
    pub fn block(reason: impl Into<String>, details: serde_json::Value) -> Self {
        RequestVerdict::Block(Violation { reason: reason.into(), details: details.to_string() })
    }
}

impl ResponseVerdict {
    /// Refuses the response with a reason and JSON details.
    pub fn block(reason: impl Into<String>, details: serde_json::Value) -> Self {
        ResponseVerdict::Block(Violation { reason: reason.into(), details: details.to_string() })
    }
}

/// A guardrail. `new` builds it once per instance from the config; the checks
/// run once per call. Both checks allow by default.
pub trait Guardrail: Sized + 'static {
    /// Builds the guardrail from its configuration; an error marks the plugin
    /// failed with that message.
    fn new(config: &Config) -> Result<Self, String>;

    /// Checks a request before (or while) it goes upstream.
    fn check_request(&self, ctx: &CallContext, request: &ChatRequest) -> Result<RequestVerdict, String> {
        let _ = (ctx, request);
        Ok(RequestVerdict::Allow)
    }

    /// Checks a response before it reaches the client.
    fn check_response(&self, ctx: &CallContext, request: &ChatRequest, response: &ChatResponse) -> Result<ResponseVerdict, String> {
        let _ = (ctx, request, response);
        Ok(ResponseVerdict::Allow)
    }
}

/// Exports a [`Guardrail`] implementation as the component's guardrail.
///
/// ```ignore
/// tianji_plugin_sdk::export_guardrail!(MyGuardrail);
/// ```
#[macro_export]
macro_rules! export_guardrail {
    ($ty:ty) => {
        const _: () = {
            use $crate::guardrail::bindings::exports::tianji::plugin::guardrail as __wit;
            static __INSTANCE: ::std::sync::OnceLock<$ty> = ::std::sync::OnceLock::new();

            fn __instance() -> ::std::result::Result<&'static $ty, ::std::string::String> {
                if let Some(g) = __INSTANCE.get() {
                    return Ok(g);
                }
                let config = $crate::Config::load()?;
                let built = <$ty as $crate::guardrail::Guardrail>::new(&config)?;
                Ok(__INSTANCE.get_or_init(|| built))
            }

            struct __Export;

            impl __wit::Guest for __Export {
                fn init() -> ::std::result::Result<(), ::std::string::String> {
                    __instance().map(|_| ())
                }

                fn check_request(
                    ctx: $crate::CallContext,
                    request: $crate::ChatRequest,
                ) -> ::std::result::Result<__wit::RequestVerdict, ::std::string::String> {
                    <$ty as $crate::guardrail::Guardrail>::check_request(__instance()?, &ctx, &request)
                }

                fn check_response(
                    ctx: $crate::CallContext,
                    request: $crate::ChatRequest,
                    response: $crate::ChatResponse,
                ) -> ::std::result::Result<__wit::ResponseVerdict, ::std::string::String> {
                    <$ty as $crate::guardrail::Guardrail>::check_response(__instance()?, &ctx, &request, &response)
                }
            }

            $crate::guardrail::bindings::__export_guardrail_world!(__Export);
        };
    };
}
