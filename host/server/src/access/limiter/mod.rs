//! Rate limits (requests per minute, tokens per minute, requests in
//! parallel) per key, team, user, end user and key × model. One trait, with
//! the in-process implementation beside it; a shared implementation (Redis)
//! plugs in the same way for several instances.
//!
//! Windows are fixed calendar minutes: a key with `rpm_limit: 50` gets
//! exactly 50 requests in each minute, whatever the concurrency, because
//! counting and checking are one atomic step per scope.

pub mod local;
pub mod shared;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

/// The limits of one scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// What it limits, for messages: `api_key`, `team`, `user`, `end_user`, `model_per_key`.
    pub kind: &'static str,
    /// Its id (a key's hash for keys).
    pub id: String,
    /// Requests per minute.
    pub rpm: Option<u64>,
    /// Tokens per minute.
    pub tpm: Option<u64>,
    /// Requests in parallel.
    pub parallel: Option<u64>,
}

impl Scope {
    /// The counter name: `kind:id`.
    pub fn counter(&self) -> String {
        format!("{}:{}", self.kind, self.id)
    }

    /// Whether any limit is set.
    pub fn is_limited(&self) -> bool {
        self.rpm.is_some() || self.tpm.is_some() || self.parallel.is_some()
    }
}

/// Which limit refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// `rpm_limit`.
    Requests,
    /// `tpm_limit`.
    Tokens,
    /// `max_parallel_requests`.
    Parallel,
}

/// A refused request.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// The scope's kind.
    pub kind: &'static str,
    /// The scope's id.
    pub id: String,
    /// The limit hit.
    pub limit: Limit,
    /// Its value.
    pub value: u64,
    /// When to try again.
    pub retry_after: Duration,
}

/// What the first limited scope has left, for `x-ratelimit-*` headers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Remaining {
    /// `(limit, remaining)` requests this minute.
    pub requests: Option<(u64, u64)>,
    /// `(limit, remaining)` tokens this minute.
    pub tokens: Option<(u64, u64)>,
}

/// A rate limiter shared by every request.
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Counts one request (and one parallel slot) against every scope, or
    /// against none if any scope refuses.
    async fn acquire(&self, scopes: &[Scope]) -> Result<Remaining, Refusal>;
    /// Adds the tokens a finished call used (without waiting: a shared
    /// limiter sends the update in the background).
    fn add_tokens(&self, counters: &[String], tokens: u64);
    /// Frees the parallel slots taken by [`RateLimiter::acquire`].
    fn release(&self, counters: &[String]);
}

/// The current minute window and the time left in it.
pub fn minute_now() -> (u64, Duration) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let minute = now.as_secs() / 60;
    let left = Duration::from_secs((minute + 1) * 60).saturating_sub(now);
    (minute, left.max(Duration::from_secs(1)))
}
