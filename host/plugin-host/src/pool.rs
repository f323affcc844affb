//! Instances of one plugin version and configuration, ready to serve.
//!
//! Creating an instance and running the plugin's `init` costs from tens of
//! microseconds (Rust) to milliseconds (JS, Python), so by default initialised
//! instances are kept and reused ([`Isolation::Pooled`]). The guarantee:
//! - an instance serves one call at a time;
//! - instances are never shared between plugins, versions or configurations
//!   (each guardrail entry has its own pool);
//! - an instance that trapped, hit its deadline or its memory cap, or whose
//!   call failed in any way, is discarded, never reused;
//! - every instance is discarded after `max_calls_per_instance` calls;
//! - what survives between calls of one instance is only what the plugin
//!   itself keeps in memory (the Rust SDK hands checks `&self`, so state
//!   built by `init` is shared and per-call data is dropped at return).
//!
//! [`Isolation::PerCall`] gives each call a fresh instance instead.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_queue::ArrayQueue;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::component::Component;
use wasmtime::{Engine, Store, UpdateDeadline};

use crate::engine::PluginEngine;
use crate::manifest::{Isolation, Limits};
use crate::state::{Grant, PluginState};

/// Why a plugin call produced no answer. The caller's failure policy decides
/// what that means for the request.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// The plugin ran past its deadline.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The plugin trapped (a panic, an out-of-bounds access, memory exhausted, invalid output).
    #[error("trapped: {0}")]
    Trap(String),
    /// The plugin returned an error.
    #[error("returned an error: {0}")]
    Plugin(String),
    /// No instance could be made (the plugin is removed, failed to link or its `init` failed).
    #[error("unavailable: {0}")]
    Unavailable(String),
}

/// One plugin world's instantiation, so the pool serves every plugin kind.
pub trait World: Send + Sync + 'static {
    /// The pre-linked component (`InstancePre` with typed exports).
    type Pre: Clone + Send + Sync + 'static;
    /// A typed instance.
    type Instance: Send + Sync + 'static;
    /// Links the component once per version.
    fn pre(engine: &PluginEngine, component: &Component) -> Result<Self::Pre, String>;
    /// Instantiates and calls `init`.
    fn instantiate(pre: &Self::Pre, store: &mut Store<PluginState>) -> impl Future<Output = Result<Self::Instance, CallError>> + Send;
}

/// An instance with its store.
pub struct Slot<W: World> {
    /// The store (the instance's memory, tables and sandbox state).
    pub store: Store<PluginState>,
    /// The typed instance.
    pub instance: W::Instance,
    calls: u64,
    _permit: OwnedSemaphorePermit,
}

/// Pooled instances of one plugin version with one configuration.
pub struct InstancePool<W: World> {
    engine: Engine,
    pre: W::Pre,
    grant: Arc<Grant>,
    limits: Limits,
    idle: ArrayQueue<Slot<W>>,
    permits: Arc<Semaphore>,
    metrics: CallMetrics,
    /// The version this pool serves.
    pub version_id: u64,
}

/// Metric handles registered once per pool, so a call does not look them up.
struct CallMetrics {
    ok: metrics::Counter,
    error: metrics::Counter,
    trap: metrics::Counter,
    timeout: metrics::Counter,
    duration: metrics::Histogram,
}

impl CallMetrics {
    fn new(plugin: &str) -> Self {
        let c =
            |outcome: &'static str| metrics::counter!("tianji_plugin_calls_total", "plugin" => plugin.to_string(), "outcome" => outcome);
        Self {
            ok: c("ok"),
            error: c("error"),
            trap: c("trap"),
            timeout: c("timeout"),
            duration: metrics::histogram!("tianji_plugin_call_duration_seconds", "plugin" => plugin.to_string()),
        }
    }
}

impl<W: World> InstancePool<W> {
    /// A pool for one version and configuration; instances are made on demand.
    pub fn new(engine: Engine, pre: W::Pre, grant: Arc<Grant>, limits: Limits, version_id: u64) -> Self {
        let n = limits.max_instances.max(1);
        let metrics = CallMetrics::new(&grant.plugin);
        Self { engine, pre, grant, idle: ArrayQueue::new(n), permits: Arc::new(Semaphore::new(n)), metrics, limits, version_id }
    }

    /// The call deadline.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.limits.timeout_ms)
    }

    /// The grant (name, config, secrets, stats) instances run with.
    pub fn grant(&self) -> &Arc<Grant> {
        &self.grant
    }

    /// Takes an idle instance or makes one; waits while `max_instances` are busy.
    async fn acquire(&self, deadline: Instant) -> Result<Slot<W>, CallError> {
        let timeout = self.timeout();
        // Usually a permit is free: take it without arming a timer.
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => tokio::time::timeout_at(deadline.into(), self.permits.clone().acquire_owned())
                .await
                .map_err(|_| CallError::Timeout(timeout))?
                .map_err(|_| CallError::Unavailable("pool closed".into()))?,
        };
        if let Some(mut slot) = self.idle.pop() {
            slot._permit = permit;
            return Ok(slot);
        }
        let mut store = Store::new(&self.engine, PluginState::new(self.grant.clone()));
        store.limiter(|s| &mut s.limits);
        store.data_mut().deadline = deadline;
        store.epoch_deadline_callback(|ctx| {
            Ok(if Instant::now() >= ctx.data().deadline { UpdateDeadline::Interrupt } else { UpdateDeadline::Yield(1) })
        });
        store.set_epoch_deadline(1);
        self.grant.stats.instances_created.fetch_add(1, Ordering::Relaxed);
        let instance = match tokio::time::timeout_at(deadline.into(), W::instantiate(&self.pre, &mut store)).await {
            Ok(r) => r?,
            Err(_) => return Err(CallError::Timeout(timeout)),
        };
        Ok(Slot { store, instance, calls: 0, _permit: permit })
    }

    /// Makes (or reuses) one instance and returns it to the pool: runs the
    /// plugin's `init`, so configuration errors surface now.
    pub async fn warm(&self) -> Result<(), CallError> {
        let deadline = Instant::now() + self.timeout();
        let slot = self.acquire(deadline).await?;
        if self.limits.isolation == Isolation::Pooled {
            let _ = self.idle.push(slot);
        }
        Ok(())
    }

    /// Runs one call on an instance under the plugin's deadline, then returns
    /// the instance to the pool if the call went well.
    pub async fn call<R, F>(&self, f: F) -> Result<R, CallError>
    where
        F: AsyncFnOnce(&mut Store<PluginState>, &W::Instance) -> wasmtime::Result<Result<R, String>>,
    {
        let started = Instant::now();
        let timeout = self.timeout();
        let deadline = started + timeout;
        let stats = self.grant.stats.clone();
        let result = async {
            let mut slot = self.acquire(deadline).await?;
            slot.store.data_mut().deadline = deadline;
            slot.store.set_epoch_deadline(1);
            let outcome = match tokio::time::timeout_at(deadline.into(), f(&mut slot.store, &slot.instance)).await {
                Err(_) => Err(CallError::Timeout(timeout)),
                Ok(Err(trap)) => Err(classify_trap(&trap, timeout)),
                Ok(Ok(Err(message))) => Err(CallError::Plugin(message)),
                Ok(Ok(Ok(value))) => Ok(value),
            };
            slot.calls += 1;
            // Only an instance whose call fully succeeded is reused: after a
            // trap or timeout its state is unknown, and a plugin error may
            // leave it half-updated.
            if outcome.is_ok() && self.limits.isolation == Isolation::Pooled && slot.calls < self.limits.max_calls_per_instance {
                let _ = self.idle.push(slot);
            }
            outcome
        }
        .await;
        let elapsed = started.elapsed();
        stats.record(elapsed);
        let m = &self.metrics;
        match &result {
            Err(CallError::Timeout(_)) => {
                stats.timeouts.fetch_add(1, Ordering::Relaxed);
                stats.errors.fetch_add(1, Ordering::Relaxed);
                m.timeout.increment(1);
            }
            Err(CallError::Trap(_)) => {
                stats.errors.fetch_add(1, Ordering::Relaxed);
                m.trap.increment(1);
            }
            Err(_) => {
                stats.errors.fetch_add(1, Ordering::Relaxed);
                m.error.increment(1);
            }
            Ok(_) => m.ok.increment(1),
        }
        m.duration.record(elapsed.as_secs_f64());
        result
    }
}

fn classify_trap(trap: &wasmtime::Error, timeout: Duration) -> CallError {
    if let Some(wasmtime::Trap::Interrupt) = trap.downcast_ref::<wasmtime::Trap>() {
        return CallError::Timeout(timeout);
    }
    let text = format!("{trap:#}");
    // Keep the first lines: the wasm backtrace that follows is long.
    CallError::Trap(text.lines().take(3).collect::<Vec<_>>().join(" | "))
}
