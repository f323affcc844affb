//! How each plugin world is linked, instantiated and initialised, for the
//! instance pool.

use wasmtime::Store;
use wasmtime::component::Component;

use crate::bindings::{guardrail, logger, prompt};
use crate::bound::PickPre;
use crate::engine::PluginEngine;
use crate::pool::{CallError, World};
use crate::registry::Pre;
use crate::state::PluginState;

fn init_result(r: wasmtime::Result<Result<(), String>>) -> Result<(), CallError> {
    match r {
        Ok(Ok(())) => Ok(()),
        Ok(Err(msg)) => Err(CallError::Unavailable(format!("init failed: {msg}"))),
        Err(trap) => Err(CallError::Trap(format!("init trapped: {}", format!("{trap:#}").lines().next().unwrap_or("")))),
    }
}

fn link_error(e: wasmtime::Error) -> String {
    format!("cannot link the component (does it import something other than tianji:plugin/host, wasi:http and WASI?): {e:#}")
}

/// The guardrail world.
pub struct GuardrailWorld;

impl World for GuardrailWorld {
    type Pre = guardrail::GuardrailPluginPre<PluginState>;
    type Instance = guardrail::GuardrailPlugin;

    fn pre(engine: &PluginEngine, component: &Component) -> Result<Self::Pre, String> {
        let pre = engine.linker().instantiate_pre(component).map_err(link_error)?;
        guardrail::GuardrailPluginPre::new(pre).map_err(|e| format!("not a guardrail component: {e:#}"))
    }

    async fn instantiate(pre: &Self::Pre, store: &mut Store<PluginState>) -> Result<Self::Instance, CallError> {
        let instance = pre.instantiate_async(&mut *store).await.map_err(|e| CallError::Trap(format!("instantiation failed: {e:#}")))?;
        init_result(instance.tianji_plugin_guardrail().call_init(&mut *store).await)?;
        Ok(instance)
    }
}

/// The logger world.
pub struct LoggerWorld;

impl World for LoggerWorld {
    type Pre = logger::LoggerPluginPre<PluginState>;
    type Instance = logger::LoggerPlugin;

    fn pre(engine: &PluginEngine, component: &Component) -> Result<Self::Pre, String> {
        let pre = engine.linker().instantiate_pre(component).map_err(link_error)?;
        logger::LoggerPluginPre::new(pre).map_err(|e| format!("not a logger component: {e:#}"))
    }

    async fn instantiate(pre: &Self::Pre, store: &mut Store<PluginState>) -> Result<Self::Instance, CallError> {
        let instance = pre.instantiate_async(&mut *store).await.map_err(|e| CallError::Trap(format!("instantiation failed: {e:#}")))?;
        init_result(instance.tianji_plugin_logger().call_init(&mut *store).await)?;
        Ok(instance)
    }
}

/// The prompt-source world.
pub struct PromptWorld;

impl World for PromptWorld {
    type Pre = prompt::PromptSourcePluginPre<PluginState>;
    type Instance = prompt::PromptSourcePlugin;

    fn pre(engine: &PluginEngine, component: &Component) -> Result<Self::Pre, String> {
        let pre = engine.linker().instantiate_pre(component).map_err(link_error)?;
        prompt::PromptSourcePluginPre::new(pre).map_err(|e| format!("not a prompt-source component: {e:#}"))
    }

    async fn instantiate(pre: &Self::Pre, store: &mut Store<PluginState>) -> Result<Self::Instance, CallError> {
        let instance = pre.instantiate_async(&mut *store).await.map_err(|e| CallError::Trap(format!("instantiation failed: {e:#}")))?;
        init_result(instance.tianji_plugin_prompt_source().call_init(&mut *store).await)?;
        Ok(instance)
    }
}

impl PickPre for GuardrailWorld {
    fn pick(pre: &Pre) -> Option<&Self::Pre> {
        if let Pre::Guardrail(p) = pre { Some(p) } else { None }
    }
    fn kind_name() -> &'static str {
        "guardrail"
    }
}

impl PickPre for LoggerWorld {
    fn pick(pre: &Pre) -> Option<&Self::Pre> {
        if let Pre::Logger(p) = pre { Some(p) } else { None }
    }
    fn kind_name() -> &'static str {
        "logger"
    }
}

impl PickPre for PromptWorld {
    fn pick(pre: &Pre) -> Option<&Self::Pre> {
        if let Pre::Prompt(p) = pre { Some(p) } else { None }
    }
    fn kind_name() -> &'static str {
        "prompt-source"
    }
}
