//! The cache in front of the store on the request path: keys, teams, users
//! and end users, each held for `user_api_key_cache_ttl` (default 60 s) so
//! the common path never touches the database.
//!
//! Every cached record carries a live spend counter. Calls served by this
//! instance add to it at once, so budgets hold between database writes.
//! When an entry is reloaded, the database's spend replaces the counter only
//! if the budget window changed (a reset); otherwise the larger of the two
//! wins, since the database lags this instance by at most one spend batch.
//! Records that do not exist are cached too (for a few seconds), so a flood
//! of made-up keys does not become a flood of queries.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use tianji_store::time::Timestamp;
use tianji_store::{Entity, Store, StoreError};

use super::money::Money;

/// How long a missing record is remembered as missing.
const NEGATIVE_TTL: Duration = Duration::from_secs(5);

/// A cached record and its live spend.
#[derive(Debug)]
pub struct Live<E> {
    /// The record as last read.
    pub record: E,
    /// Spend in the current window, including this instance's unwritten calls.
    pub spend: Money,
    window: Option<Timestamp>,
    loaded: Instant,
}

/// A record type the cache can hold.
pub trait Cached: Entity + std::fmt::Debug {
    /// Its spend as stored.
    fn stored_spend(&self) -> f64;
    /// When its budget window ends.
    fn window(&self) -> Option<Timestamp>;
}

enum Slot<E> {
    Present(Arc<Live<E>>),
    Missing(Instant),
}

impl<E> Clone for Slot<E> {
    fn clone(&self) -> Self {
        match self {
            Slot::Present(l) => Slot::Present(l.clone()),
            Slot::Missing(t) => Slot::Missing(*t),
        }
    }
}

/// A TTL cache of one record type, keyed by id.
pub struct Cache<E> {
    entries: DashMap<String, Slot<E>>,
    ttl: Duration,
}

impl<E: Cached> Cache<E> {
    /// An empty cache.
    pub fn new(ttl: Duration) -> Self {
        Self { entries: DashMap::new(), ttl }
    }

    /// The record, from the cache while fresh, else from the store. With the
    /// store unreachable, a stale entry keeps serving.
    pub async fn get(&self, store: &Store, id: &str) -> Result<Option<Arc<Live<E>>>, StoreError> {
        let cached = self.entries.get(id).map(|e| e.value().clone());
        match &cached {
            Some(Slot::Present(live)) if live.loaded.elapsed() < self.ttl => return Ok(Some(live.clone())),
            Some(Slot::Missing(at)) if at.elapsed() < NEGATIVE_TTL.min(self.ttl) => return Ok(None),
            _ => {}
        }
        let loaded = match store.get::<E>(id).await {
            Ok(r) => r,
            Err(e) => {
                if let Some(Slot::Present(live)) = cached {
                    tracing::warn!(error = %e, kind = E::KIND, "database unreachable; serving the cached record");
                    return Ok(Some(live));
                }
                return Err(e);
            }
        };
        let Some(record) = loaded else {
            self.entries.insert(id.to_owned(), Slot::Missing(Instant::now()));
            return Ok(None);
        };
        let stored = record.stored_spend();
        let window = record.window();
        let spend = match &cached {
            Some(Slot::Present(old)) if old.window == window => stored.max(old.spend.get()),
            _ => stored,
        };
        let live = Arc::new(Live { record, spend: Money::new(spend), window, loaded: Instant::now() });
        self.entries.insert(id.to_owned(), Slot::Present(live.clone()));
        Ok(Some(live))
    }

    /// Forgets a record, so the next read goes to the store (after a change).
    pub fn invalidate(&self, id: &str) {
        self.entries.remove(id);
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.entries.clear();
    }
}

macro_rules! cached {
    ($t:ty) => {
        impl Cached for $t {
            fn stored_spend(&self) -> f64 {
                self.spend
            }
            fn window(&self) -> Option<Timestamp> {
                self.budget_reset_at
            }
        }
    };
}
cached!(tianji_store::KeyRecord);
cached!(tianji_store::TeamRecord);
cached!(tianji_store::UserRecord);
cached!(tianji_store::EndUserRecord);

impl Cached for tianji_store::OrganizationRecord {
    fn stored_spend(&self) -> f64 {
        self.spend
    }
    fn window(&self) -> Option<Timestamp> {
        None
    }
}

impl Cached for tianji_store::BudgetRecord {
    fn stored_spend(&self) -> f64 {
        0.0
    }
    fn window(&self) -> Option<Timestamp> {
        self.budget_reset_at
    }
}
