//! `simple-shuffle`: a weighted random pick (weights from `weight`, `rpm` or `tpm`).

use tianji_core::traits::{Candidate, RoutingStrategy};

/// Weighted random choice, LiteLLM's default.
pub struct SimpleShuffle;

impl RoutingStrategy for SimpleShuffle {
    fn name(&self) -> &str {
        "simple-shuffle"
    }

    fn pick(&self, candidates: &[Candidate<'_>]) -> usize {
        if candidates.len() == 1 {
            return 0;
        }
        let total: f64 = candidates.iter().map(|c| c.weight.max(0.0)).sum();
        if total <= 0.0 {
            return fastrand::usize(..candidates.len());
        }
        let mut point = fastrand::f64() * total;
        for (i, c) in candidates.iter().enumerate() {
            point -= c.weight.max(0.0);
            if point < 0.0 {
                return i;
            }
        }
        candidates.len() - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_weights() {
        let c = [Candidate { id: "a", weight: 9.0, in_flight: 0 }, Candidate { id: "b", weight: 1.0, in_flight: 0 }];
        let picks_a = (0..10_000).filter(|_| SimpleShuffle.pick(&c) == 0).count();
        assert!((8_500..9_500).contains(&picks_a), "a picked {picks_a} of 10000");
        let zero = [Candidate { id: "a", weight: 0.0, in_flight: 0 }, Candidate { id: "b", weight: 1.0, in_flight: 0 }];
        assert!((0..1000).all(|_| SimpleShuffle.pick(&zero) == 1));
    }
}
