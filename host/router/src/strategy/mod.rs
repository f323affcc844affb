//! Routing strategies, one file each, resolved from `router_settings.routing_strategy`.

mod latency_based;
mod least_busy;
mod simple_shuffle;

use std::sync::Arc;

pub use latency_based::LatencyBased;
pub use least_busy::LeastBusy;
pub use simple_shuffle::SimpleShuffle;
use tianji_core::traits::RoutingStrategy;

/// LiteLLM strategy names Tianji does not implement yet; they fall back to `simple-shuffle` with a warning.
pub const NOT_YET_SUPPORTED: &[&str] = &["usage-based-routing", "usage-based-routing-v2", "cost-based-routing"];

/// The strategy for a config name; `Err` names the known ones.
/// `deployment_ids` are every deployment's id; `args` is `routing_strategy_args`.
pub fn by_name(
    name: Option<&str>,
    args: &serde_json::Map<String, serde_json::Value>,
    deployment_ids: impl IntoIterator<Item = String>,
) -> Result<Arc<dyn RoutingStrategy>, String> {
    match name.unwrap_or("simple-shuffle") {
        "simple-shuffle" => Ok(Arc::new(SimpleShuffle)),
        "least-busy" => Ok(Arc::new(LeastBusy)),
        "latency-based-routing" => Ok(Arc::new(LatencyBased::new(deployment_ids, args)?)),
        other if NOT_YET_SUPPORTED.contains(&other) => Ok(Arc::new(SimpleShuffle)),
        other => Err(format!(
            "unknown routing_strategy '{other}' (known: simple-shuffle, least-busy, latency-based-routing; not supported yet: {})",
            NOT_YET_SUPPORTED.join(", ")
        )),
    }
}
