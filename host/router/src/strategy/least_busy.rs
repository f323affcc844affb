//! `least-busy`: the deployment with the fewest calls in flight (ties broken at random).

use tianji_core::traits::{Candidate, RoutingStrategy};

/// Fewest in-flight calls wins.
pub struct LeastBusy;

impl RoutingStrategy for LeastBusy {
    fn name(&self) -> &str {
        "least-busy"
    }

    fn pick(&self, candidates: &[Candidate<'_>]) -> usize {
        let min = candidates.iter().map(|c| c.in_flight).min().unwrap_or(0);
        let idle: Vec<usize> = candidates.iter().enumerate().filter(|(_, c)| c.in_flight == min).map(|(i, _)| i).collect();
        idle[fastrand::usize(..idle.len())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_idle() {
        let c = [Candidate { id: "a", weight: 1.0, in_flight: 3 }, Candidate { id: "b", weight: 1.0, in_flight: 1 }];
        assert_eq!(LeastBusy.pick(&c), 1);
    }
}
