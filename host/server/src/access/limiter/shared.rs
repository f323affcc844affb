//! Rate limits shared by several instances through Redis.
//!
//! One Lua script checks every scope of a request and, only if all pass,
//! counts it in each: atomic in Redis, so N instances together let exactly
//! `rpm_limit` requests through per minute. Window counters expire two
//! minutes after their minute; parallel-request counters expire ten minutes
//! after their last use, so an instance that dies mid-request cannot hold a
//! slot forever. If Redis cannot be reached the request is let through (and
//! a warning logged): an outage of the limiter does not become an outage of
//! the gateway.

use async_trait::async_trait;
use redis::aio::ConnectionManager;

use super::{Limit, RateLimiter, Refusal, Remaining, Scope, minute_now};

const ACQUIRE: &str = r#"
local n = tonumber(ARGV[1])
for i = 0, n - 1 do
  local rpm = tonumber(ARGV[2 + i * 3])
  local tpm = tonumber(ARGV[3 + i * 3])
  local par = tonumber(ARGV[4 + i * 3])
  local r = tonumber(redis.call('GET', KEYS[1 + i * 3]) or '0')
  local t = tonumber(redis.call('GET', KEYS[2 + i * 3]) or '0')
  local p = tonumber(redis.call('GET', KEYS[3 + i * 3]) or '0')
  if par >= 0 and p >= par then return {i, 3, r, t} end
  if rpm >= 0 and r >= rpm then return {i, 1, r, t} end
  if tpm >= 0 and t >= tpm then return {i, 2, r, t} end
end
local first_r, first_t = 0, 0
for i = 0, n - 1 do
  local r = redis.call('INCR', KEYS[1 + i * 3])
  redis.call('EXPIRE', KEYS[1 + i * 3], 120)
  redis.call('INCR', KEYS[3 + i * 3])
  redis.call('EXPIRE', KEYS[3 + i * 3], 600)
  if i == 0 then
    first_r = r
    first_t = tonumber(redis.call('GET', KEYS[2 + i * 3]) or '0')
  end
end
return {-1, 0, first_r, first_t}
"#;

/// A limiter whose counters live in Redis.
pub struct RedisLimiter {
    conn: ConnectionManager,
    script: redis::Script,
    /// The runtime that sends the fire-and-forget updates.
    background: tokio::runtime::Handle,
}

fn window_key(counter: &str, minute: u64, what: &str) -> String {
    format!("tianji:rl:{counter}:{minute}:{what}")
}

fn parallel_key(counter: &str) -> String {
    format!("tianji:rl:{counter}:par")
}

impl RedisLimiter {
    /// Uses an open connection; updates are sent from `background`.
    pub fn new(conn: ConnectionManager, background: tokio::runtime::Handle) -> Self {
        Self { conn, script: redis::Script::new(ACQUIRE), background }
    }
}

#[async_trait]
impl RateLimiter for RedisLimiter {
    async fn acquire(&self, scopes: &[Scope]) -> Result<Remaining, Refusal> {
        let (minute, left) = minute_now();
        let limit = |v: Option<u64>| v.map_or(-1i64, |v| i64::try_from(v).unwrap_or(i64::MAX));
        let mut inv = self.script.prepare_invoke();
        inv.arg(scopes.len());
        for s in scopes {
            let c = s.counter();
            inv.key(window_key(&c, minute, "req")).key(window_key(&c, minute, "tok")).key(parallel_key(&c));
            inv.arg(limit(s.rpm)).arg(limit(s.tpm)).arg(limit(s.parallel));
        }
        let mut conn = self.conn.clone();
        let out: Vec<i64> = match inv.invoke_async(&mut conn).await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "Redis rate limiter unreachable; letting the request through");
                metrics::counter!("tianji_rate_limiter_errors_total").increment(1);
                return Ok(Remaining::default());
            }
        };
        let (index, kind, requests, tokens) = match out.as_slice() {
            [i, k, r, t] => (*i, *k, *r, *t),
            other => {
                tracing::warn!(reply = ?other, "unexpected reply from the rate-limit script; letting the request through");
                return Ok(Remaining::default());
            }
        };
        if index >= 0 {
            let s = &scopes[usize::try_from(index).unwrap_or(0).min(scopes.len().saturating_sub(1))];
            let (limit, value, retry_after) = match kind {
                3 => (Limit::Parallel, s.parallel, std::time::Duration::from_secs(1)),
                1 => (Limit::Requests, s.rpm, left),
                _ => (Limit::Tokens, s.tpm, left),
            };
            return Err(Refusal { kind: s.kind, id: s.id.clone(), limit, value: value.unwrap_or(0), retry_after });
        }
        let first = scopes.first();
        let used = |v: i64| u64::try_from(v).unwrap_or(0);
        Ok(Remaining {
            requests: first.and_then(|s| s.rpm).map(|r| (r, r.saturating_sub(used(requests)))),
            tokens: first.and_then(|s| s.tpm).map(|t| (t, t.saturating_sub(used(tokens)))),
        })
    }

    fn add_tokens(&self, counters: &[String], tokens: u64) {
        let (minute, _) = minute_now();
        let mut pipe = redis::pipe();
        for c in counters {
            let k = window_key(c, minute, "tok");
            pipe.incr(&k, tokens).ignore().expire(&k, 120).ignore();
        }
        let mut conn = self.conn.clone();
        self.background.spawn(async move {
            if let Err(e) = pipe.query_async::<()>(&mut conn).await {
                tracing::warn!(error = %e, "could not count tokens in Redis");
            }
        });
    }

    fn release(&self, counters: &[String]) {
        let mut pipe = redis::pipe();
        for c in counters {
            pipe.decr(parallel_key(c), 1).ignore();
        }
        let mut conn = self.conn.clone();
        self.background.spawn(async move {
            if let Err(e) = pipe.query_async::<()>(&mut conn).await {
                tracing::warn!(error = %e, "could not release a parallel-request slot in Redis");
            }
        });
    }
}
