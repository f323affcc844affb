//! A spend counter in USD that request tasks add to without a lock.

use std::sync::atomic::{AtomicU64, Ordering};

/// An `f64` updated atomically (compare-and-swap on its bits).
#[derive(Debug, Default)]
pub struct Money(AtomicU64);

impl Money {
    /// Starts at `usd`.
    pub fn new(usd: f64) -> Self {
        Self(AtomicU64::new(usd.to_bits()))
    }

    /// The current amount.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }

    /// Adds `usd`; returns the new amount.
    pub fn add(&self, usd: f64) -> f64 {
        let mut current = self.0.load(Ordering::Relaxed);
        loop {
            let next = (f64::from_bits(current) + usd).to_bits();
            match self.0.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return f64::from_bits(next),
                Err(actual) => current = actual,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_adds_all_count() {
        let m = std::sync::Arc::new(Money::new(1.0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        m.add(0.25);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        assert_eq!(m.get(), 1001.0);
    }
}
