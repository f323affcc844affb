//! `RoutingStrategy`: which healthy deployment of a model group takes a call.

use std::time::Duration;

/// What a strategy sees of one healthy deployment.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    /// Deployment id.
    pub id: &'a str,
    /// `weight`, else `rpm`, else `tpm`, else 1.
    pub weight: f64,
    /// Calls in flight on this deployment right now.
    pub in_flight: u64,
}

/// Picks a deployment among the healthy candidates of a model group.
///
/// Strategies that learn (latency-based, usage-based) observe outcomes
/// through [`RoutingStrategy::on_result`].
pub trait RoutingStrategy: Send + Sync + 'static {
    /// The strategy's config name (`simple-shuffle`, `least-busy`, ...).
    fn name(&self) -> &str;

    /// The index of the chosen candidate; `candidates` is never empty.
    fn pick(&self, candidates: &[Candidate<'_>]) -> usize;

    /// Called after each attempt with its latency and outcome.
    fn on_result(&self, _deployment_id: &str, _latency: Duration, _ok: bool) {}
}
