//! `latency-based-routing`: the deployment that has answered fastest lately.
//!
//! Each deployment keeps an exponentially weighted moving average of its
//! attempt latency (failures count as slow: at least a second). Deployments
//! with no sample yet are tried first; otherwise the pick is random among the
//! deployments within `lowest_latency_buffer` (from `routing_strategy_args`,
//! default 0) of the fastest, as in LiteLLM, so near-equal deployments share
//! the load instead of one taking all of it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Map, Value};
use tianji_core::traits::{Candidate, RoutingStrategy};

/// Weight of a new sample in the moving average.
const ALPHA: f64 = 0.3;
/// The latency a failed attempt counts as, at least.
const FAILURE_FLOOR: Duration = Duration::from_secs(1);

/// Lowest recent latency wins.
pub struct LatencyBased {
    /// Moving average per deployment id, microseconds; 0 = no sample yet.
    ewma_us: HashMap<String, AtomicU64>,
    buffer: f64,
}

impl LatencyBased {
    /// A strategy over these deployment ids, configured by `routing_strategy_args`.
    pub fn new(ids: impl IntoIterator<Item = String>, args: &Map<String, Value>) -> Result<Self, String> {
        let buffer = match args.get("lowest_latency_buffer") {
            None | Some(Value::Null) => 0.0,
            Some(v) => v
                .as_f64()
                .filter(|b| *b >= 0.0 && b.is_finite())
                .ok_or_else(|| format!("routing_strategy_args.lowest_latency_buffer must be a non-negative number, found {v}"))?,
        };
        Ok(Self { ewma_us: ids.into_iter().map(|id| (id, AtomicU64::new(0))).collect(), buffer })
    }

    fn latency_us(&self, id: &str) -> u64 {
        self.ewma_us.get(id).map(|a| a.load(Ordering::Relaxed)).unwrap_or(0)
    }
}

impl RoutingStrategy for LatencyBased {
    fn name(&self) -> &str {
        "latency-based-routing"
    }

    fn pick(&self, candidates: &[Candidate<'_>]) -> usize {
        let latencies: Vec<u64> = candidates.iter().map(|c| self.latency_us(c.id)).collect();
        let untried: Vec<usize> = (0..candidates.len()).filter(|&i| latencies[i] == 0).collect();
        if !untried.is_empty() {
            return untried[fastrand::usize(..untried.len())];
        }
        let fastest = latencies.iter().copied().min().unwrap_or(0) as f64;
        let limit = fastest * (1.0 + self.buffer);
        let near: Vec<usize> = (0..candidates.len()).filter(|&i| latencies[i] as f64 <= limit).collect();
        near[fastrand::usize(..near.len())]
    }

    fn on_result(&self, deployment_id: &str, latency: Duration, ok: bool) {
        let Some(slot) = self.ewma_us.get(deployment_id) else { return };
        let sample = if ok { latency } else { latency.max(FAILURE_FLOOR) };
        let sample = (sample.as_micros() as u64).max(1);
        let old = slot.load(Ordering::Relaxed);
        let new = if old == 0 { sample } else { ((1.0 - ALPHA) * old as f64 + ALPHA * sample as f64) as u64 };
        // Racing updates may lose a sample; an average does not need every one.
        slot.store(new.max(1), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidates() -> [Candidate<'static>; 2] {
        [Candidate { id: "fast", weight: 1.0, in_flight: 0 }, Candidate { id: "slow", weight: 1.0, in_flight: 0 }]
    }

    #[test]
    fn untried_first_then_fastest() {
        let s = LatencyBased::new(["fast".to_owned(), "slow".to_owned()], &Map::new()).expect("strategy");
        s.on_result("fast", Duration::from_millis(10), true);
        assert_eq!(s.pick(&candidates()), 1, "a deployment without samples is tried first");
        s.on_result("slow", Duration::from_millis(100), true);
        assert!((0..200).all(|_| s.pick(&candidates()) == 0));
        for _ in 0..10 {
            s.on_result("fast", Duration::from_millis(5), false);
        }
        assert!((0..200).all(|_| s.pick(&candidates()) == 1), "failures count as slow");
    }

    #[test]
    fn buffer_shares_load_between_near_equal_deployments() {
        let args: Map<String, Value> = serde_json::from_str(r#"{"lowest_latency_buffer": 0.5}"#).expect("json");
        let s = LatencyBased::new(["fast".to_owned(), "slow".to_owned()], &args).expect("strategy");
        s.on_result("fast", Duration::from_millis(100), true);
        s.on_result("slow", Duration::from_millis(140), true);
        let slow_picks = (0..1000).filter(|_| s.pick(&candidates()) == 1).count();
        assert!((300..700).contains(&slow_picks), "within the buffer both are used: {slow_picks}");
        let bad: Map<String, Value> = serde_json::from_str(r#"{"lowest_latency_buffer": -1}"#).expect("json");
        assert!(LatencyBased::new(["a".to_owned()], &bad).is_err());
    }
}
