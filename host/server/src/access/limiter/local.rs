//! Rate limits counted in this process: right when one instance serves.

use async_trait::async_trait;
use dashmap::DashMap;

use super::{Limit, RateLimiter, Refusal, Remaining, Scope, minute_now};

#[derive(Debug, Default, Clone, Copy)]
struct Window {
    minute: u64,
    requests: u64,
    tokens: u64,
    parallel: u64,
}

impl Window {
    fn roll(&mut self, minute: u64) {
        if self.minute != minute {
            (self.minute, self.requests, self.tokens) = (minute, 0, 0);
        }
    }
}

/// Counters in a sharded map; each scope is checked and counted under its shard's lock.
#[derive(Default)]
pub struct LocalLimiter {
    windows: DashMap<String, Window>,
}

impl LocalLimiter {
    /// An empty limiter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Drops counters of past minutes with nothing in flight (bounds memory).
    pub fn sweep(&self) {
        let (minute, _) = minute_now();
        self.windows.retain(|_, w| w.minute == minute || w.parallel > 0);
    }

    fn undo(&self, taken: &[String]) {
        for c in taken {
            if let Some(mut w) = self.windows.get_mut(c) {
                w.requests = w.requests.saturating_sub(1);
                w.parallel = w.parallel.saturating_sub(1);
            }
        }
    }
}

#[async_trait]
impl RateLimiter for LocalLimiter {
    async fn acquire(&self, scopes: &[Scope]) -> Result<Remaining, Refusal> {
        let (minute, left) = minute_now();
        let mut taken: Vec<String> = Vec::with_capacity(scopes.len());
        let mut remaining = Remaining::default();
        for s in scopes.iter().filter(|s| s.is_limited()) {
            let counter = s.counter();
            let refused = {
                let mut w = self.windows.entry(counter.clone()).or_default();
                w.roll(minute);
                let refusal = |limit, value, retry_after| Refusal { kind: s.kind, id: s.id.clone(), limit, value, retry_after };
                if let Some(p) = s.parallel.filter(|p| w.parallel >= *p) {
                    Some(refusal(Limit::Parallel, p, std::time::Duration::from_secs(1)))
                } else if let Some(r) = s.rpm.filter(|r| w.requests >= *r) {
                    Some(refusal(Limit::Requests, r, left))
                } else if let Some(t) = s.tpm.filter(|t| w.tokens >= *t) {
                    Some(refusal(Limit::Tokens, t, left))
                } else {
                    w.requests += 1;
                    w.parallel += 1;
                    if remaining.requests.is_none() && remaining.tokens.is_none() {
                        remaining.requests = s.rpm.map(|r| (r, r.saturating_sub(w.requests)));
                        remaining.tokens = s.tpm.map(|t| (t, t.saturating_sub(w.tokens)));
                    }
                    None
                }
            };
            match refused {
                Some(r) => {
                    self.undo(&taken);
                    return Err(r);
                }
                None => taken.push(counter),
            }
        }
        Ok(remaining)
    }

    fn add_tokens(&self, counters: &[String], tokens: u64) {
        let (minute, _) = minute_now();
        for c in counters {
            if let Some(mut w) = self.windows.get_mut(c) {
                w.roll(minute);
                w.tokens += tokens;
            }
        }
    }

    fn release(&self, counters: &[String]) {
        for c in counters {
            if let Some(mut w) = self.windows.get_mut(c) {
                w.parallel = w.parallel.saturating_sub(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn scope(kind: &'static str, rpm: Option<u64>, parallel: Option<u64>) -> Scope {
        Scope { kind, id: "x".into(), rpm, tpm: None, parallel }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn exactly_the_limit_gets_through_under_concurrency() {
        let l = Arc::new(LocalLimiter::new());
        let tasks: Vec<_> = (0..200)
            .map(|_| {
                let l = l.clone();
                tokio::spawn(async move { l.acquire(&[scope("api_key", Some(50), None)]).await.is_ok() })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            ok += usize::from(t.await.expect("task"));
        }
        assert_eq!(ok, 50);
    }

    #[tokio::test]
    async fn a_refusal_counts_nothing_and_slots_come_back() {
        let l = LocalLimiter::new();
        let scopes = [scope("api_key", Some(10), Some(1)), scope("team", Some(1), None)];
        let first = l.acquire(&scopes).await.expect("first passes");
        assert_eq!(first.requests, Some((10, 9)));
        let counters: Vec<String> = scopes.iter().map(Scope::counter).collect();
        let r = l.acquire(&scopes).await.expect_err("parallel slot taken");
        assert_eq!((r.kind, r.limit), ("api_key", Limit::Parallel));
        l.release(&counters);
        let r = l.acquire(&scopes).await.expect_err("team rpm used up");
        assert_eq!((r.kind, r.limit), ("team", Limit::Requests));
        // The refused request did not count against the key.
        assert_eq!(l.windows.get("api_key:x").map(|w| (w.requests, w.parallel)), Some((1, 0)));
        l.add_tokens(&counters, 500);
        assert_eq!(l.windows.get("team:x").map(|w| w.tokens), Some(500));
    }
}
