//! Prompt sources: resolve a managed prompt (`prompt_id`) into messages.
//!
//! Implement [`PromptSource`] and name the type in
//! [`export_prompt_source!`](crate::export_prompt_source).

use crate::Config;

#[doc(hidden)]
pub mod bindings {
    //! The prompt-source world's export side.
    wit_bindgen::generate!({
        world: "tianji:plugin/prompt-source-plugin",
        path: "wit",
        with: {
            "tianji:plugin/types@0.1.0": crate::bindings::tianji::plugin::types,
            "tianji:plugin/host@0.1.0": crate::bindings::tianji::plugin::host,
        },
        pub_export_macro: true,
        export_macro_name: "__export_prompt_world",
        default_bindings_module: "tianji_plugin_sdk::prompt::bindings",
    });
}

pub use bindings::exports::tianji::plugin::prompt_source::{Prompt, PromptError};

/// A prompt source. `new` builds it once per instance from the config.
pub trait PromptSource: Sized + 'static {
    /// Builds the source from its configuration.
    fn new(config: &Config) -> Result<Self, String>;
    /// Fetches and renders one prompt. `variables` is the request's `prompt_variables`.
    fn get_prompt(
        &self,
        id: &str,
        version: Option<&str>,
        label: Option<&str>,
        variables: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Prompt, PromptError>;
}

/// Exports a [`PromptSource`] implementation as the component's prompt source.
#[macro_export]
macro_rules! export_prompt_source {
    ($ty:ty) => {
        const _: () = {
            use $crate::prompt::bindings::exports::tianji::plugin::prompt_source as __wit;
            static __INSTANCE: ::std::sync::OnceLock<$ty> = ::std::sync::OnceLock::new();

            fn __instance() -> ::std::result::Result<&'static $ty, ::std::string::String> {
                if let Some(p) = __INSTANCE.get() {
                    return Ok(p);
                }
                let built = <$ty as $crate::prompt::PromptSource>::new(&$crate::Config::load()?)?;
                Ok(__INSTANCE.get_or_init(|| built))
            }

            struct __Export;

            impl __wit::Guest for __Export {
                fn init() -> ::std::result::Result<(), ::std::string::String> {
                    __instance().map(|_| ())
                }

                fn get_prompt(
                    id: ::std::string::String,
                    version: ::std::option::Option<::std::string::String>,
                    label: ::std::option::Option<::std::string::String>,
                    variables: ::std::string::String,
                ) -> ::std::result::Result<__wit::Prompt, __wit::PromptError> {
                    let source = __instance().map_err(__wit::PromptError::Failed)?;
                    let vars = match $crate::__private::serde_json::from_str(&variables) {
                        Ok($crate::__private::serde_json::Value::Object(m)) => m,
                        _ => ::std::default::Default::default(),
                    };
                    <$ty as $crate::prompt::PromptSource>::get_prompt(source, &id, version.as_deref(), label.as_deref(), &vars)
                }
            }

            $crate::prompt::bindings::__export_prompt_world!(__Export);
        };
    };
}
