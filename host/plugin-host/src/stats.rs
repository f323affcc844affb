//! Per-plugin counters and a lock-free latency histogram for `/plugins` and
//! the Prometheus metrics.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Buckets: 1 µs · 2^(i/4), i.e. four per doubling, from 1 µs to ~70 s.
const BUCKETS: usize = 104;

/// Counters of one plugin (all versions and instances).
#[derive(Debug)]
pub struct PluginStats {
    /// Calls made.
    pub calls: AtomicU64,
    /// Calls that failed (trap, invalid output, plugin-reported error).
    pub errors: AtomicU64,
    /// Calls stopped at their deadline.
    pub timeouts: AtomicU64,
    /// Outbound requests refused by the allow-list.
    pub denied_http: AtomicU64,
    /// Instances created.
    pub instances_created: AtomicU64,
    /// The most linear memory one instance has held, bytes.
    pub peak_instance_memory: AtomicU64,
    latency: [AtomicU64; BUCKETS],
}

impl Default for PluginStats {
    fn default() -> Self {
        Self {
            calls: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
            denied_http: AtomicU64::new(0),
            instances_created: AtomicU64::new(0),
            peak_instance_memory: AtomicU64::new(0),
            latency: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

fn bucket_of(d: Duration) -> usize {
    let micros = d.as_secs_f64() * 1e6;
    if micros <= 1.0 {
        return 0;
    }
    ((micros.log2() * 4.0).ceil() as usize).min(BUCKETS - 1)
}

fn bucket_upper(i: usize) -> Duration {
    Duration::from_secs_f64(2f64.powf(i as f64 / 4.0) / 1e6)
}

impl PluginStats {
    /// Records one call's duration.
    pub fn record(&self, d: Duration) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.latency[bucket_of(d)].fetch_add(1, Ordering::Relaxed);
    }

    /// The latency below which `q` (0..1) of calls finished, to within 19%
    /// (one bucket); `None` before the first call.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let counts: Vec<u64> = self.latency.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(bucket_upper(i));
            }
        }
        Some(bucket_upper(BUCKETS - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_land_in_the_right_bucket() {
        let s = PluginStats::default();
        for _ in 0..99 {
            s.record(Duration::from_micros(10));
        }
        s.record(Duration::from_millis(50));
        let p50 = s.quantile(0.5).unwrap();
        assert!(p50 >= Duration::from_micros(10) && p50 < Duration::from_micros(12), "{p50:?}");
        let p100 = s.quantile(1.0).unwrap();
        assert!(p100 >= Duration::from_millis(50) && p100 < Duration::from_millis(60), "{p100:?}");
        assert_eq!(s.calls.load(Ordering::Relaxed), 100);
    }
}
