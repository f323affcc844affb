//! Virtual keys on the request path: who the caller is, what they may call,
//! whether their budgets and rate limits allow it, and what the call cost.
//!
//! [`Access`] exists when the proxy has a master key (and so a database).
//! The auth extractor turns a presented key into a [`KeyGrant`] through the
//! [`cache`]; [`Access::admit`] checks a call and returns a [`Ticket`] that
//! holds its parallel-request slots; [`Ticket::settle`] prices the finished
//! call, adds it to every live spend counter and queues its spend row for the
//! [`spend_writer`].
//!
//! Budgets are checked against live counters before the call, so under
//! concurrency a budget can be overshot by the calls already in flight when
//! it was reached: at most `in-flight calls × the most one call costs`
//! (on one instance; with several, plus what other instances spent since
//! their last spend write, at most one `proxy_batch_write_at` interval).

pub mod broadcast;
pub mod cache;
pub mod limiter;
pub mod money;
pub mod spend_writer;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tianji_core::{CallContext, ErrorKind, GatewayError};
use tianji_router::{RouteMeta, Router};
use tianji_store::time::{self, Timestamp};
use tianji_store::{BudgetRecord, EndUserRecord, KeyRecord, OrganizationRecord, SpendRow, Store, StoreError, TeamRecord, UserRecord};

use cache::{Cache, Live};
use limiter::{Limit, RateLimiter, Refusal, Remaining, Scope};
use spend_writer::{SpendWriter, WriterSettings};

/// Default seconds a key stays cached (`user_api_key_cache_ttl`).
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(60);
/// Default seconds between spend writes (`proxy_batch_write_at`).
pub const DEFAULT_WRITE_INTERVAL: Duration = Duration::from_secs(10);
/// Default rows per spend write.
pub const DEFAULT_WRITE_BATCH: usize = 3000;
/// How often budget windows are checked for a reset.
const RESET_CHECK_INTERVAL: Duration = Duration::from_secs(5);

/// How virtual keys are served.
#[derive(Debug, Clone)]
pub struct AccessSettings {
    /// Key cache lifetime.
    pub cache_ttl: Duration,
    /// Spend batching.
    pub writer: WriterSettings,
    /// Serve requests whose key is not cached while the database is down.
    pub allow_requests_on_db_unavailable: bool,
    /// Redis shared with other instances (rate limits, invalidations).
    pub redis_url: Option<String>,
}

/// Keys, budgets, limits and spend.
pub struct Access {
    /// The database.
    pub store: Store,
    /// Keys by hash.
    pub keys: Cache<KeyRecord>,
    /// Teams by id.
    pub teams: Cache<TeamRecord>,
    /// Users by id.
    pub users: Cache<UserRecord>,
    /// End users by id.
    pub end_users: Cache<EndUserRecord>,
    /// Budgets by id.
    pub budgets: Cache<BudgetRecord>,
    /// Organizations by id.
    pub organizations: Cache<OrganizationRecord>,
    /// Rate limits.
    pub limiter: Arc<dyn RateLimiter>,
    local_limiter: Option<Arc<limiter::local::LocalLimiter>>,
    /// Spend rows on their way to the database.
    pub spend: SpendWriter,
    allow_on_db_unavailable: bool,
    master_hash: String,
    broadcast: Option<broadcast::Broadcast>,
    /// Signalled when another instance changed the stored models.
    pub models_changed: Arc<tokio::sync::Notify>,
}

/// A caller that presented a valid virtual key.
#[derive(Debug)]
pub struct KeyGrant {
    /// The key's hash.
    pub hash: String,
    /// The cached record and its live spend.
    pub key: Arc<Live<KeyRecord>>,
}

/// The outcome of looking up a presented key.
#[derive(Debug)]
pub enum Lookup {
    /// A known key.
    Found(Arc<KeyGrant>),
    /// No such key.
    NotFound,
    /// The database is unreachable and `allow_requests_on_db_unavailable` lets the call through unchecked.
    Unverified,
}

/// An admitted call: holds its parallel slots until dropped, and knows whom
/// to charge when it settles.
pub struct Ticket {
    access: Arc<Access>,
    api_key: String,
    key: Option<Arc<Live<KeyRecord>>>,
    team: Option<Arc<Live<TeamRecord>>>,
    user: Option<Arc<Live<UserRecord>>>,
    end_user: Option<Arc<Live<EndUserRecord>>>,
    organization: Option<Arc<Live<OrganizationRecord>>>,
    counters: Vec<String>,
    /// What the key's limits have left, for `x-ratelimit-*`.
    pub remaining: Remaining,
    /// The model group to route to, when a key alias renamed it.
    pub routed_model: Option<String>,
    started: SystemTime,
}

impl std::fmt::Debug for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticket").field("counters", &self.counters).finish_non_exhaustive()
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.counters.is_empty() {
            self.access.limiter.release(&self.counters);
        }
    }
}

/// What a settled call cost and what the key has spent now.
#[derive(Debug, Clone, Copy, Default)]
pub struct Settled {
    /// The call's cost, USD (when the deployment's prices are known).
    pub cost: Option<f64>,
    /// The key's spend after this call (virtual keys only).
    pub key_spend: Option<f64>,
}

fn unavailable(e: &StoreError) -> GatewayError {
    GatewayError::new(ErrorKind::UpstreamServer, format!("Authentication Error - the key database is unreachable: {e}"))
        .with_status(http::StatusCode::SERVICE_UNAVAILABLE)
        .with_retry_after(Some(Duration::from_secs(1)))
}

fn budget_exceeded(what: &str, spend: f64, max: f64) -> GatewayError {
    GatewayError::new(ErrorKind::RateLimited, format!("Budget has been exceeded! {what} Current cost: {spend}, Max budget: {max}"))
        .with_type("budget_exceeded")
        .with_code("429")
}

fn rate_limited(r: &Refusal) -> GatewayError {
    let what = match r.limit {
        Limit::Requests => "requests",
        Limit::Tokens => "tokens",
        Limit::Parallel => "max_parallel_requests",
    };
    let resets = (chrono::Utc::now() + chrono::Duration::from_std(r.retry_after).unwrap_or_default()).format("%Y-%m-%d %H:%M:%S UTC");
    // LiteLLM's wording, which clients parse.
    GatewayError::new(
        ErrorKind::RateLimited,
        format!(
            "Rate limit exceeded for {}: {}. Limit type: {what}. Current limit: {}, Remaining: 0. Limit resets at: {resets}",
            r.kind, r.id, r.value
        ),
    )
    .with_type("throttling_error")
    .with_retry_after(Some(r.retry_after))
    .with_code("429")
}

impl Access {
    /// Builds the key layer over a connected store and starts its background
    /// tasks on the current runtime (which must outlive the proxy); with
    /// Redis, rate limits and invalidations are shared with other instances.
    pub async fn start(store: Store, settings: AccessSettings, master_key: &str) -> Result<Arc<Access>, String> {
        let ttl = settings.cache_ttl;
        let background = tokio::runtime::Handle::current();
        let (limiter, local_limiter, broadcast, client): (Arc<dyn RateLimiter>, _, _, _) = match &settings.redis_url {
            Some(url) => {
                let shown = tianji_store::redact_url(url);
                let client = redis::Client::open(url.as_str()).map_err(|e| format!("Redis at {shown}: {e}"))?;
                let conn = tokio::time::timeout(Duration::from_secs(5), redis::aio::ConnectionManager::new(client.clone()))
                    .await
                    .map_err(|_| format!("Redis at {shown}: no connection within 5 s"))?
                    .map_err(|e| format!("Redis at {shown}: {e}"))?;
                let limiter = Arc::new(limiter::shared::RedisLimiter::new(conn.clone(), background.clone()));
                (limiter, None, Some(broadcast::Broadcast::new(conn, background.clone())), Some(client))
            }
            None => {
                let local = Arc::new(limiter::local::LocalLimiter::new());
                (local.clone(), Some(local), None, None)
            }
        };
        let access = Arc::new(Access {
            spend: SpendWriter::start(store.clone(), settings.writer),
            store,
            keys: Cache::new(ttl),
            teams: Cache::new(ttl),
            users: Cache::new(ttl),
            end_users: Cache::new(ttl),
            budgets: Cache::new(ttl),
            organizations: Cache::new(ttl),
            limiter,
            local_limiter,
            allow_on_db_unavailable: settings.allow_requests_on_db_unavailable,
            master_hash: tianji_store::hash_key(master_key),
            broadcast,
            models_changed: Arc::new(tokio::sync::Notify::new()),
        });
        tokio::spawn(housekeeping(Arc::downgrade(&access)));
        if let Some(client) = client {
            tokio::spawn(broadcast::listen(client, Arc::downgrade(&access)));
        }
        Ok(access)
    }

    /// A record changed: forget it here and tell the other instances.
    pub fn changed(&self, kind: broadcast::Kind, id: &str) {
        self.forget(kind, id);
        if let Some(b) = &self.broadcast {
            b.publish(kind, id);
        }
    }

    /// Tells the other instances (only) about a change already applied here.
    pub fn announce(&self, kind: broadcast::Kind, id: &str) {
        if let Some(b) = &self.broadcast {
            b.publish(kind, id);
        }
    }

    /// Forgets a cached record on this instance.
    pub fn forget(&self, kind: broadcast::Kind, id: &str) {
        use broadcast::Kind;
        match kind {
            Kind::Key => self.keys.invalidate(id),
            Kind::Team => self.teams.invalidate(id),
            Kind::User => self.users.invalidate(id),
            Kind::EndUser => self.end_users.invalidate(id),
            Kind::Budget => self.budgets.invalidate(id),
            Kind::Organization => self.organizations.invalidate(id),
            Kind::Models => self.models_changed.notify_one(),
        }
    }

    /// Looks up a presented key (not the master key).
    pub async fn authenticate(&self, presented: &str) -> Result<Lookup, GatewayError> {
        let hash = tianji_store::token_of(presented);
        match self.keys.get(&self.store, &hash).await {
            Ok(Some(key)) => Ok(Lookup::Found(Arc::new(KeyGrant { hash, key }))),
            Ok(None) => Ok(Lookup::NotFound),
            Err(e) if e.is_unavailable() && self.allow_on_db_unavailable => {
                tracing::warn!(error = %e, "database unreachable; letting an uncached key through (allow_requests_on_db_unavailable)");
                Ok(Lookup::Unverified)
            }
            Err(e) => Err(unavailable(&e)),
        }
    }

    /// Checks a call against the key's state, model access, budgets and
    /// limits; counts it against the limits.
    pub async fn admit(
        self: &Arc<Self>,
        grant: Option<&KeyGrant>,
        model: &str,
        end_user: Option<&str>,
        router: &Router,
    ) -> Result<Ticket, GatewayError> {
        let mut ticket = Ticket {
            access: self.clone(),
            api_key: self.master_hash.clone(),
            key: None,
            team: None,
            user: None,
            end_user: None,
            organization: None,
            counters: Vec::new(),
            remaining: Remaining::default(),
            routed_model: None,
            started: SystemTime::now(),
        };
        let mut scopes: Vec<Scope> = Vec::new();
        if let Some(grant) = grant {
            let k = &grant.key.record;
            ticket.api_key.clone_from(&grant.hash);
            check_key_state(k)?;
            if let Some(target) = k.aliases.get(model).and_then(|v| v.as_str()) {
                ticket.routed_model = Some(target.to_owned());
            }
            let model = ticket.routed_model.as_deref().unwrap_or(model);
            let team = match &k.team_id {
                Some(id) => self.teams.get(&self.store, id).await.map_err(|e| unavailable(&e))?,
                None => None,
            };
            if let Some(t) = &team
                && t.record.blocked
            {
                return Err(GatewayError::authentication(format!(
                    "Authentication Error - Team={} is blocked. Update via /team/unblock if you're an admin.",
                    t.record.team_id
                ))
                .with_type("team_blocked"));
            }
            if !can_call(&k.models, model, router) {
                return Err(GatewayError::authentication(format!(
                    "key not allowed to access model. This key can only access models={:?}. Tried to access {model}",
                    k.models
                ))
                .with_type("key_model_access_denied")
                .with_code("401")
                .with_param("model"));
            }
            if let Some(t) = &team
                && !can_call(&t.record.models, model, router)
            {
                return Err(GatewayError::authentication(format!(
                    "team not allowed to access model. This team can only access models={:?}. Tried to access {model}",
                    t.record.models
                ))
                .with_type("team_model_access_denied")
                .with_code("401")
                .with_param("model"));
            }
            let user = match &k.user_id {
                Some(id) => self.users.get(&self.store, id).await.map_err(|e| unavailable(&e))?,
                None => None,
            };
            // Budgets: the key, its team, its user, then per model.
            let key_spend = grant.key.spend.get();
            if let Some(max) = k.max_budget
                && key_spend >= max
            {
                return Err(budget_exceeded("Key budget.", key_spend, max));
            }
            if let Some(t) = &team
                && let Some(max) = t.record.max_budget
                && t.spend.get() >= max
            {
                return Err(budget_exceeded(&format!("Team={}.", t.record.team_id), t.spend.get(), max));
            }
            if let Some(u) = &user
                && let Some(max) = u.record.max_budget
                && u.spend.get() >= max
            {
                return Err(budget_exceeded(&format!("User={}.", u.record.user_id), u.spend.get(), max));
            }
            let org_id = k.organization_id.as_ref().or(team.as_ref().and_then(|t| t.record.organization_id.as_ref()));
            let organization = match org_id {
                Some(id) => self.organizations.get(&self.store, id).await.map_err(|e| unavailable(&e))?,
                None => None,
            };
            if let Some(o) = &organization
                && let Some(budget_id) = &o.record.budget_id
                && let Some(b) = self.budgets.get(&self.store, budget_id).await.map_err(|e| unavailable(&e))?
                && let Some(max) = b.record.max_budget
                && o.spend.get() >= max
            {
                return Err(budget_exceeded(&format!("Organization={}.", o.record.organization_id), o.spend.get(), max));
            }
            ticket.organization = organization;
            if let Some(limit) = k.model_max_budget.get(model).and_then(|b| b.get("budget_limit")).and_then(|v| v.as_f64()) {
                let spent = self.model_spend("key", &grant.hash, model).await;
                if spent >= limit {
                    return Err(budget_exceeded(&format!("Key budget for model={model}."), spent, limit));
                }
            }
            if let Some(max) = k.soft_budget
                && key_spend >= max
            {
                tracing::warn!(key = %k.key_name, spend = key_spend, soft_budget = max, "key is over its soft budget");
            }
            scopes.push(Scope {
                kind: "api_key",
                id: grant.hash.clone(),
                rpm: limit(k.rpm_limit),
                tpm: limit(k.tpm_limit),
                parallel: limit(k.max_parallel_requests),
            });
            let per_model = |m: &serde_json::Map<String, serde_json::Value>| m.get(model).and_then(|v| v.as_u64());
            if per_model(&k.model_rpm_limit).is_some() || per_model(&k.model_tpm_limit).is_some() {
                scopes.push(Scope {
                    kind: "model_per_key",
                    id: format!("{}:{model}", grant.hash),
                    rpm: per_model(&k.model_rpm_limit),
                    tpm: per_model(&k.model_tpm_limit),
                    parallel: None,
                });
            }
            if let Some(t) = &team {
                let r = &t.record;
                scopes.push(Scope {
                    kind: "team",
                    id: r.team_id.clone(),
                    rpm: limit(r.rpm_limit),
                    tpm: limit(r.tpm_limit),
                    parallel: limit(r.max_parallel_requests),
                });
            }
            if let Some(u) = &user {
                let r = &u.record;
                scopes.push(Scope {
                    kind: "user",
                    id: r.user_id.clone(),
                    rpm: limit(r.rpm_limit),
                    tpm: limit(r.tpm_limit),
                    parallel: limit(r.max_parallel_requests),
                });
            }
            ticket.key = Some(grant.key.clone());
            ticket.team = team;
            ticket.user = user;
        }
        if let Some(id) = end_user.filter(|u| !u.is_empty()) {
            let customer = self.end_users.get(&self.store, id).await.map_err(|e| unavailable(&e))?;
            if let Some(c) = &customer {
                if c.record.blocked {
                    return Err(GatewayError::bad_request(
                        format!("Blocked end user: {id}. Unblock via /customer/unblock if you're an admin."),
                        Some("user"),
                    )
                    .with_type("blocked_end_user"));
                }
                if let Some(budget_id) = &c.record.budget_id
                    && let Some(b) = self.budgets.get(&self.store, budget_id).await.map_err(|e| unavailable(&e))?
                {
                    if let Some(max) = b.record.max_budget
                        && c.spend.get() >= max
                    {
                        return Err(budget_exceeded(&format!("End User={id}."), c.spend.get(), max));
                    }
                    scopes.push(Scope {
                        kind: "end_user",
                        id: id.to_owned(),
                        rpm: limit(b.record.rpm_limit),
                        tpm: limit(b.record.tpm_limit),
                        parallel: limit(b.record.max_parallel_requests),
                    });
                }
            }
            ticket.end_user = customer;
        }
        scopes.retain(Scope::is_limited);
        if !scopes.is_empty() {
            ticket.remaining = self.limiter.acquire(&scopes).await.map_err(|r| rate_limited(&r))?;
            ticket.counters = scopes.iter().map(Scope::counter).collect();
        }
        Ok(ticket)
    }

    async fn model_spend(&self, kind: &str, id: &str, model: &str) -> f64 {
        match self.store.model_spend(kind, id).await {
            Ok(rows) => rows.into_iter().find(|(m, _)| m == model).map_or(0.0, |(_, s)| s),
            Err(e) => {
                tracing::warn!(error = %e, "per-model spend unavailable; not enforcing the per-model budget");
                0.0
            }
        }
    }

    /// Writes queued spend and stops the background work.
    pub async fn shutdown(&self, grace: Duration) {
        self.spend.shutdown(grace).await;
    }

    /// Starts new budget windows that have ended, for every entity type.
    pub async fn reset_due_budgets(&self) -> Result<usize, StoreError> {
        use broadcast::Kind;
        let now = time::now();
        Ok(self.reset::<KeyRecord>(&now, Kind::Key, |r| r.budget_duration.as_deref()).await?
            + self.reset::<TeamRecord>(&now, Kind::Team, |r| r.budget_duration.as_deref()).await?
            + self.reset::<UserRecord>(&now, Kind::User, |r| r.budget_duration.as_deref()).await?)
    }

    /// Resets the ended windows of one entity type and announces each change.
    async fn reset<E: cache::Cached>(
        &self,
        now: &Timestamp,
        kind: broadcast::Kind,
        duration: impl Fn(&E) -> Option<&str>,
    ) -> Result<usize, StoreError> {
        let mut n = 0;
        for record in self.store.due_for_reset::<E>(now).await? {
            let (Some(current), Some(span)) = (record.window(), duration(&record).and_then(|d| time::parse_duration(d).ok())) else {
                continue;
            };
            let next = time::next_reset(now, span);
            let id = record.columns().id;
            if self.store.reset_budget::<E>(&id, &current, &next).await? {
                n += 1;
                self.changed(kind, &id);
            }
        }
        Ok(n)
    }
}

async fn housekeeping(access: std::sync::Weak<Access>) {
    let mut tick = tokio::time::interval(RESET_CHECK_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(access) = access.upgrade() else { return };
        match access.reset_due_budgets().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(resets = n, "budget windows reset"),
            Err(e) => tracing::warn!(error = %e, "budget reset check failed; will retry"),
        }
        if let Some(l) = &access.local_limiter {
            l.sweep();
        }
    }
}

fn limit(v: Option<i64>) -> Option<u64> {
    v.and_then(|v| u64::try_from(v).ok())
}

fn check_key_state(k: &KeyRecord) -> Result<(), GatewayError> {
    if k.blocked == Some(true) {
        return Err(GatewayError::authentication(format!(
            "Authentication Error, Key is blocked. Update via `/key/unblock` if you're admin. Key={}",
            k.key_name
        ))
        .with_type("key_blocked"));
    }
    if let Some(exp) = k.expires
        && exp < time::now()
    {
        return Err(GatewayError::authentication(format!(
            "Authentication Error - Expired Key. Key Expiry time {} and current time {}",
            time::to_db(&exp),
            time::to_db(&time::now())
        ))
        .with_type("expired_key"));
    }
    Ok(())
}

/// Whether a model list (a key's or a team's) allows `model`: empty, `*` or
/// `all-proxy-models` allow everything; otherwise the name itself, a
/// wildcard (`openai/*`), or an access group one of its deployments is in.
pub fn can_call(allowed: &[String], model: &str, router: &Router) -> bool {
    if allowed.is_empty() {
        return true;
    }
    for a in allowed {
        if a == model || a == "*" || a == "all-proxy-models" || a == "all-team-models" {
            return true;
        }
        if let Some(prefix) = a.strip_suffix('*')
            && model.starts_with(prefix)
        {
            return true;
        }
    }
    let group = router.resolve(model).map(|(name, deployments, _)| (name.to_owned(), deployments));
    match group {
        Some((name, deployments)) => {
            allowed.contains(&name)
                || deployments.iter().any(|d| {
                    d.info
                        .extra
                        .get("access_groups")
                        .and_then(|g| g.as_array())
                        .is_some_and(|groups| groups.iter().filter_map(|g| g.as_str()).any(|g| allowed.iter().any(|a| a == g)))
                })
        }
        None => false,
    }
}

impl Ticket {
    /// The key's spend so far (virtual keys).
    pub fn key_spend(&self) -> Option<f64> {
        self.key.as_ref().map(|k| k.spend.get())
    }

    /// The key's record, for a virtual key.
    pub fn key(&self) -> Option<&KeyRecord> {
        self.key.as_deref().map(|l| &l.record)
    }

    /// Prices a finished call, charges every payer's live spend, counts its
    /// tokens against the limits and queues its spend row.
    pub fn settle(&self, ctx: &CallContext, meta: &RouteMeta, usage: Option<(u64, u64)>, ok: bool) -> Settled {
        let (prompt, completion) = usage.unwrap_or((0, 0));
        let cost = meta.pricing.map(|p| p.cost(prompt, completion));
        let charged = cost.unwrap_or(0.0);
        let mut key_spend = None;
        if let Some(k) = &self.key {
            key_spend = Some(k.spend.add(charged));
        }
        for live in [
            self.team.as_ref().map(|t| &t.spend),
            self.user.as_ref().map(|u| &u.spend),
            self.end_user.as_ref().map(|c| &c.spend),
            self.organization.as_ref().map(|o| &o.spend),
        ]
        .into_iter()
        .flatten()
        {
            live.add(charged);
        }
        if prompt + completion > 0 && !self.counters.is_empty() {
            self.access.limiter.add_tokens(&self.counters, prompt + completion);
        }
        let k = self.key();
        let end: Timestamp = time::now();
        let start: Timestamp = time::from_system(self.started);
        self.access.spend.submit(SpendRow {
            request_id: ctx.call_id.clone(),
            call_type: ctx.call_type.as_str().to_owned(),
            api_key: self.api_key.clone(),
            spend: charged,
            total_tokens: (prompt + completion) as i64,
            prompt_tokens: prompt as i64,
            completion_tokens: completion as i64,
            start_time: start,
            end_time: end.max(start),
            model: meta.model_group.clone(),
            model_id: meta.model_id.clone(),
            model_group: meta.resolved.then(|| meta.model_group.clone()),
            custom_llm_provider: meta.provider.clone(),
            api_base: meta.api_base.clone(),
            user: k.and_then(|k| k.user_id.clone()),
            team_id: k.and_then(|k| k.team_id.clone()),
            organization_id: self.organization.as_ref().map(|o| o.record.organization_id.clone()),
            end_user: ctx.end_user.clone(),
            status: if ok { "success" } else { "failure" }.to_owned(),
            request_tags: ctx.tags.clone(),
            metadata: serde_json::Value::Object(ctx.metadata.clone()),
        });
        Settled { cost, key_spend }
    }
}

/// A streamed call's ticket, settled with the last usage seen when the
/// stream ends or the client leaves.
pub struct StreamSettle {
    ticket: Ticket,
    ctx: CallContext,
    meta: RouteMeta,
    usage: Option<(u64, u64)>,
}

impl StreamSettle {
    /// Holds `ticket` until dropped.
    pub fn new(ticket: Ticket, ctx: CallContext, meta: RouteMeta) -> Self {
        Self { ticket, ctx, meta, usage: None }
    }

    /// Records the usage a chunk reported.
    pub fn usage(&mut self, prompt: u64, completion: u64) {
        self.usage = Some((prompt, completion));
    }
}

impl Drop for StreamSettle {
    fn drop(&mut self) {
        self.ticket.settle(&self.ctx, &self.meta, self.usage, true);
    }
}
