//! Routing strategies, one file each, resolved from `router_settings.routing_strategy`.

mod least_busy;
mod simple_shuffle;

use std::sync::Arc;

pub use least_busy::LeastBusy;
pub use simple_shuffle::SimpleShuffle;
use tianji_core::traits::RoutingStrategy;

/// LiteLLM strategy names Tianji does not implement yet; they fall back to `simple-shuffle` with a warning.
pub const NOT_YET_SUPPORTED: &[&str] = &["latency-based-routing", "usage-based-routing", "usage-based-routing-v2", "cost-based-routing"];

/// The strategy for a config name; `Err` names the known ones.
pub fn by_name(name: Option<&str>) -> Result<Arc<dyn RoutingStrategy>, String> {
    match name.unwrap_or("simple-shuffle") {
        "simple-shuffle" => Ok(Arc::new(SimpleShuffle)),
        "least-busy" => Ok(Arc::new(LeastBusy)),
        other if NOT_YET_SUPPORTED.contains(&other) => Ok(Arc::new(SimpleShuffle)),
        other => Err(format!(
            "unknown routing_strategy '{other}' (known: simple-shuffle, least-busy; not supported yet: {})",
            NOT_YET_SUPPORTED.join(", ")
        )),
    }
}
