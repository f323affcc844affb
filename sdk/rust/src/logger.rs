//! Loggers: receive batches of finished calls (a LiteLLM callback).
//!
//! Implement [`Logger`] and name the type in [`export_logger!`](crate::export_logger).

use crate::Config;

#[doc(hidden)]
pub mod bindings {
    //! The logger world's export side.
    wit_bindgen::generate!({
        world: "tianji:plugin/logger-plugin",
        path: "wit",
        with: {
            "tianji:plugin/types@0.1.0": crate::bindings::tianji::plugin::types,
            "tianji:plugin/host@0.1.0": crate::bindings::tianji::plugin::host,
        },
        pub_export_macro: true,
        export_macro_name: "__export_logger_world",
        default_bindings_module: "tianji_plugin_sdk::logger::bindings",
    });
}

pub use bindings::exports::tianji::plugin::logger::LogEvent;

/// A logger. `new` builds it once per instance from the config.
pub trait Logger: Sized + 'static {
    /// Builds the logger from its configuration.
    fn new(config: &Config) -> Result<Self, String>;
    /// Delivers one batch; an error is logged by the proxy and the batch dropped.
    fn log_batch(&self, events: &[LogEvent]) -> Result<(), String>;
}

/// Exports a [`Logger`] implementation as the component's logger.
#[macro_export]
macro_rules! export_logger {
    ($ty:ty) => {
        const _: () = {
            use $crate::logger::bindings::exports::tianji::plugin::logger as __wit;
            static __INSTANCE: ::std::sync::OnceLock<$ty> = ::std::sync::OnceLock::new();

            fn __instance() -> ::std::result::Result<&'static $ty, ::std::string::String> {
                if let Some(l) = __INSTANCE.get() {
                    return Ok(l);
                }
                let built = <$ty as $crate::logger::Logger>::new(&$crate::Config::load()?)?;
                Ok(__INSTANCE.get_or_init(|| built))
            }

            struct __Export;

            impl __wit::Guest for __Export {
                fn init() -> ::std::result::Result<(), ::std::string::String> {
                    __instance().map(|_| ())
                }

                fn log_batch(events: ::std::vec::Vec<__wit::LogEvent>) -> ::std::result::Result<(), ::std::string::String> {
                    <$ty as $crate::logger::Logger>::log_batch(__instance()?, &events)
                }
            }

            $crate::logger::bindings::__export_logger_world!(__Export);
        };
    };
}
