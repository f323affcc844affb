//! Call logs: one event per finished call, delivered to the configured
//! loggers (LiteLLM's `callbacks`, `success_callback`, `failure_callback`)
//! through one shared batching stage.
//!
//! Each logger gets a bounded queue and a worker on the control runtime that
//! sends a batch when it holds `batch_size` events (default 512,
//! `DEFAULT_BATCH_SIZE`) or when `flush_interval` seconds (default 5,
//! `DEFAULT_FLUSH_INTERVAL_SECONDS`) have passed since the batch's first
//! event; both can be set per logger in `callback_settings.<name>`. The
//! request path only tries to enqueue: when a queue is full (ten batches
//! behind) the event is dropped and counted, never waited for. A failed
//! flush is logged and the batch discarded. On shutdown every queue is
//! drained and flushed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use tianji_core::config::{Config, Problems};
use tianji_core::traits::{LogEvent, Logger};
use tianji_plugin_host::logger::WasmLogger;
use tianji_plugin_host::registry::PluginHost;
use tokio::sync::{Notify, mpsc};

/// Default events per batch (LiteLLM's `DEFAULT_BATCH_SIZE`).
pub const DEFAULT_BATCH_SIZE: usize = 512;
/// Default seconds between flushes (LiteLLM's `DEFAULT_FLUSH_INTERVAL_SECONDS`).
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(5);
/// How many batches a logger may fall behind before events are dropped.
const QUEUE_BATCHES: usize = 10;

/// Batch settings of one logger.
#[derive(Debug, Clone, Copy)]
pub struct BatchSettings {
    /// Events per batch.
    pub batch_size: usize,
    /// Longest wait before a partial batch is sent.
    pub flush_interval: Duration,
}

impl BatchSettings {
    /// The defaults, overridden by `DEFAULT_BATCH_SIZE` / `DEFAULT_FLUSH_INTERVAL_SECONDS`
    /// and then by a logger's own `batch_size` / `flush_interval`.
    pub fn resolve(own: Option<&Map<String, Value>>) -> Self {
        let env_num = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<f64>().ok()).filter(|v| *v > 0.0);
        let own_num = |k: &str| own.and_then(|m| m.get(k)).and_then(Value::as_f64).filter(|v| *v > 0.0);
        let batch_size = own_num("batch_size").or_else(|| env_num("DEFAULT_BATCH_SIZE")).map(|v| v as usize).unwrap_or(DEFAULT_BATCH_SIZE);
        let flush_interval = own_num("flush_interval")
            .or_else(|| env_num("DEFAULT_FLUSH_INTERVAL_SECONDS"))
            .map(Duration::from_secs_f64)
            .unwrap_or(DEFAULT_FLUSH_INTERVAL);
        Self { batch_size: batch_size.max(1), flush_interval }
    }
}

/// Counters of one logger.
#[derive(Debug, Default)]
pub struct SinkStats {
    /// Events accepted into the queue.
    pub queued: AtomicU64,
    /// Events dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Events delivered.
    pub delivered: AtomicU64,
    /// Events lost to failed flushes.
    pub failed: AtomicU64,
}

/// One logger with its queue.
pub struct Sink {
    /// Callback name.
    pub name: String,
    on_success: bool,
    on_failure: bool,
    tx: mpsc::Sender<LogEvent>,
    stop: Arc<Notify>,
    /// Counters.
    pub stats: Arc<SinkStats>,
    worker: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Sink {
    /// Starts the batching worker for `logger` on `runtime`.
    pub fn start(
        name: &str,
        logger: Arc<dyn Logger>,
        on_success: bool,
        on_failure: bool,
        settings: BatchSettings,
        runtime: &tokio::runtime::Handle,
    ) -> Arc<Self> {
        let (tx, rx) = mpsc::channel(settings.batch_size.saturating_mul(QUEUE_BATCHES));
        let stop = Arc::new(Notify::new());
        let stats = Arc::new(SinkStats::default());
        let worker = runtime.spawn(run_worker(logger, rx, settings, stop.clone(), stats.clone()));
        Arc::new(Self { name: name.to_string(), on_success, on_failure, tx, stop, stats, worker: std::sync::Mutex::new(Some(worker)) })
    }

    /// Enqueues without waiting; a full queue drops the event.
    pub fn offer(&self, event: LogEvent) {
        match self.tx.try_send(event) {
            Ok(()) => {
                self.stats.queued.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("tianji_log_events_dropped_total", "logger" => self.name.clone()).increment(1);
            }
        }
    }

    /// Asks the worker to drain and stop, and waits for it.
    pub async fn stop(&self) {
        self.stop.notify_one();
        let handle = self.worker.lock().ok().and_then(|mut w| w.take());
        if let Some(h) = handle {
            let _ = h.await;
        }
    }
}

async fn flush(logger: &dyn Logger, batch: &mut Vec<LogEvent>, stats: &SinkStats) {
    if batch.is_empty() {
        return;
    }
    let n = batch.len() as u64;
    match logger.log_batch(batch).await {
        Ok(()) => {
            stats.delivered.fetch_add(n, Ordering::Relaxed);
        }
        Err(e) => {
            stats.failed.fetch_add(n, Ordering::Relaxed);
            metrics::counter!("tianji_log_flush_failures_total", "logger" => logger.name().to_string()).increment(1);
            tracing::warn!(logger = logger.name(), events = n, "log flush failed; batch discarded: {}", e.message);
        }
    }
    batch.clear();
}

async fn run_worker(logger: Arc<dyn Logger>, mut rx: mpsc::Receiver<LogEvent>, s: BatchSettings, stop: Arc<Notify>, stats: Arc<SinkStats>) {
    let mut batch: Vec<LogEvent> = Vec::with_capacity(s.batch_size.min(4096));
    let mut due: Option<tokio::time::Instant> = None;
    loop {
        let timer = async {
            match due {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            () = stop.notified() => {
                while let Ok(e) = rx.try_recv() {
                    batch.push(e);
                    if batch.len() >= s.batch_size {
                        flush(logger.as_ref(), &mut batch, &stats).await;
                    }
                }
                flush(logger.as_ref(), &mut batch, &stats).await;
                return;
            }
            () = timer => {
                flush(logger.as_ref(), &mut batch, &stats).await;
                due = None;
            }
            event = rx.recv() => match event {
                Some(e) => {
                    if batch.is_empty() {
                        due = Some(tokio::time::Instant::now() + s.flush_interval);
                    }
                    batch.push(e);
                    if batch.len() >= s.batch_size {
                        flush(logger.as_ref(), &mut batch, &stats).await;
                        due = None;
                    }
                }
                None => {
                    flush(logger.as_ref(), &mut batch, &stats).await;
                    return;
                }
            },
        }
    }
}

/// Every configured logger.
#[derive(Default)]
pub struct LogPipeline {
    sinks: Vec<Arc<Sink>>,
    /// `turn_off_message_logging`.
    pub redact_messages: bool,
}

impl LogPipeline {
    /// Resolves the config's callbacks to plugins and starts their workers;
    /// names that are neither a plugin nor a built-in are reported as
    /// ignored, so a LiteLLM config with other integrations still starts.
    pub async fn build(config: &Config, host: &Arc<PluginHost>, runtime: &tokio::runtime::Handle, problems: &mut Problems) -> Self {
        let l = &config.litellm_settings;
        let mut names: Vec<(String, bool, bool, String)> = Vec::new();
        for (list, success, failure, key) in [
            (&l.callbacks, true, true, "callbacks"),
            (&l.success_callback, true, false, "success_callback"),
            (&l.failure_callback, false, true, "failure_callback"),
        ] {
            for (i, n) in list.iter().enumerate() {
                match names.iter_mut().find(|(name, ..)| name == n) {
                    Some(existing) => {
                        existing.1 |= success;
                        existing.2 |= failure;
                    }
                    None => names.push((n.clone(), success, failure, format!("litellm_settings.{key}[{i}]"))),
                }
            }
        }
        let mut sinks = Vec::new();
        for (name, success, failure, path) in names {
            let own = config.callback_settings.get(&name).and_then(Value::as_object).cloned().unwrap_or_default();
            // LiteLLM's generic_api callbacks are served by the webhook plugin.
            let plugin = match own.get("callback_type").and_then(Value::as_str) {
                Some("generic_api") => "webhook".to_string(),
                _ => name.clone(),
            };
            host.want_builtins([plugin.as_str()]);
            if host.slot(&plugin).is_none() {
                host.rescan().await;
            }
            if host.slot(&plugin).is_none() {
                problems.ignore(format!("{path} ({name}: no logger plugin of that name; not supported yet)"));
                continue;
            }
            let mut params = own.clone();
            params.remove("callback_type");
            params.remove("batch_size");
            params.remove("flush_interval");
            let logger = match WasmLogger::new(host.clone(), &name, &plugin, params) {
                Ok(l) => l,
                Err(e) => {
                    problems.error(&path, e);
                    continue;
                }
            };
            if let Err(e) = logger.warm_up().await {
                problems.error(&format!("callback_settings.{name}"), e);
                continue;
            }
            sinks.push(Sink::start(&name, Arc::new(logger), success, failure, BatchSettings::resolve(Some(&own)), runtime));
        }
        Self { sinks, redact_messages: l.turn_off_message_logging }
    }

    /// Whether any logger is configured (events are only built if so).
    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }

    /// The loggers.
    pub fn sinks(&self) -> &[Arc<Sink>] {
        &self.sinks
    }

    /// Hands a finished call to every logger that wants it.
    pub fn submit(&self, mut event: LogEvent) {
        if self.redact_messages {
            event.messages = None;
            event.response = None;
        }
        let success = event.status == "success";
        let wanted: Vec<&Arc<Sink>> = self.sinks.iter().filter(|s| if success { s.on_success } else { s.on_failure }).collect();
        if let Some((last, rest)) = wanted.split_last() {
            for s in rest {
                s.offer(event.clone());
            }
            last.offer(event);
        }
    }

    /// Drains every queue; returns when all loggers flushed or `grace` passed.
    pub async fn shutdown(&self, grace: Duration) {
        let all = futures::future::join_all(self.sinks.iter().map(|s| s.stop()));
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::warn!("log flush at shutdown did not finish within {grace:?}");
        }
    }
}

/// Seconds since the Unix epoch, as LiteLLM's payload has them.
pub fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// The event for one finished call.
pub fn event(
    extracted: &crate::controls::Extracted,
    meta: &tianji_router::RouteMeta,
    started: std::time::Instant,
    usage: Option<(u64, u64)>,
    error: Option<String>,
    response: Option<Value>,
) -> LogEvent {
    let ctx = &extracted.ctx;
    let end = unix_now();
    let (prompt, completion) = usage.unwrap_or((0, 0));
    LogEvent {
        id: ctx.call_id.clone(),
        call_type: ctx.call_type.as_str().to_string(),
        model_group: meta.model_group.clone(),
        model: meta.model_group.clone(),
        model_id: meta.model_id.clone(),
        custom_llm_provider: meta.provider.clone(),
        api_base: meta.api_base.clone(),
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
        response_cost: meta.pricing.map(|p| p.cost(prompt, completion)).unwrap_or(0.0),
        start_time: end - started.elapsed().as_secs_f64(),
        end_time: end,
        status: if error.is_none() { "success" } else { "failure" }.to_string(),
        error_str: error,
        end_user: ctx.end_user.clone(),
        request_tags: ctx.tags.clone(),
        metadata: Value::Object(ctx.metadata.clone()),
        messages: extracted.log_messages.clone(),
        response,
    }
}

/// The call log of a stream, sent when the stream ends (or the client leaves).
pub struct StreamLog {
    plugins: Arc<crate::plugins::Plugins>,
    event: Option<LogEvent>,
    started: f64,
    pricing: Option<tianji_core::pricing::Pricing>,
}

impl StreamLog {
    /// Holds `event` until the stream is dropped.
    pub fn new(plugins: Arc<crate::plugins::Plugins>, event: LogEvent, meta: &tianji_router::RouteMeta) -> Self {
        Self { plugins, started: event.start_time, event: Some(event), pricing: meta.pricing }
    }

    /// Records the usage a chunk reported.
    pub fn usage(&mut self, prompt: u64, completion: u64) {
        if let Some(e) = &mut self.event {
            e.prompt_tokens = prompt;
            e.completion_tokens = completion;
            e.total_tokens = prompt + completion;
            e.response_cost = self.pricing.map(|p| p.cost(prompt, completion)).unwrap_or(0.0);
        }
    }
}

impl Drop for StreamLog {
    fn drop(&mut self) {
        if let Some(mut e) = self.event.take() {
            e.end_time = unix_now().max(self.started);
            self.plugins.logging.submit(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use tianji_core::traits::LoggerError;

    use super::*;

    #[derive(Default)]
    struct Recorder {
        batches: Mutex<Vec<usize>>,
        ids: Mutex<Vec<String>>,
        fail: bool,
        delay: Duration,
    }

    #[async_trait]
    impl Logger for Recorder {
        fn name(&self) -> &str {
            "recorder"
        }
        async fn log_batch(&self, events: &[LogEvent]) -> Result<(), LoggerError> {
            tokio::time::sleep(self.delay).await;
            self.batches.lock().unwrap().push(events.len());
            self.ids.lock().unwrap().extend(events.iter().map(|e| e.id.clone()));
            if self.fail { Err(LoggerError { logger: "recorder".into(), message: "down".into(), retryable: true }) } else { Ok(()) }
        }
    }

    fn ev(i: usize) -> LogEvent {
        LogEvent { id: i.to_string(), status: "success".into(), ..Default::default() }
    }

    fn settings(batch_size: usize, ms: u64) -> BatchSettings {
        BatchSettings { batch_size, flush_interval: Duration::from_millis(ms) }
    }

    #[tokio::test]
    async fn flushes_on_size_then_on_interval() {
        let r = Arc::new(Recorder::default());
        let sink = Sink::start("r", r.clone(), true, true, settings(10, 200), &tokio::runtime::Handle::current());
        for i in 0..25 {
            sink.offer(ev(i));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(*r.batches.lock().unwrap(), vec![10, 10], "two full batches go at once");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(*r.batches.lock().unwrap(), vec![10, 10, 5], "the rest goes on the interval");
        sink.stop().await;
    }

    #[tokio::test]
    async fn stop_drains_and_failed_flushes_are_discarded() {
        let r = Arc::new(Recorder { fail: true, ..Default::default() });
        let sink = Sink::start("r", r.clone(), true, true, settings(512, 60_000), &tokio::runtime::Handle::current());
        for i in 0..7 {
            sink.offer(ev(i));
        }
        sink.stop().await;
        assert_eq!(*r.batches.lock().unwrap(), vec![7], "stop flushes the partial batch");
        assert_eq!(sink.stats.failed.load(Ordering::Relaxed), 7, "a failed flush is counted and not retried");
        assert_eq!(sink.stats.delivered.load(Ordering::Relaxed), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_producers_lose_nothing_and_never_wait() {
        let r = Arc::new(Recorder { delay: Duration::from_millis(20), ..Default::default() });
        let sink = Sink::start("r", r.clone(), true, true, settings(100, 50), &tokio::runtime::Handle::current());
        let mut tasks = Vec::new();
        for p in 0..8 {
            let sink = sink.clone();
            tasks.push(tokio::spawn(async move {
                let t = std::time::Instant::now();
                for i in 0..100 {
                    sink.offer(ev(p * 1000 + i));
                }
                t.elapsed()
            }));
        }
        for t in tasks {
            let took = t.await.unwrap();
            assert!(took < Duration::from_millis(20), "offering 100 events took {took:?}: the producer waited on the logger");
        }
        sink.stop().await;
        let mut ids = r.ids.lock().unwrap().clone();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 800, "every event delivered exactly once");
        assert_eq!(sink.stats.dropped.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn a_full_queue_drops_instead_of_blocking() {
        let r = Arc::new(Recorder { delay: Duration::from_secs(5), ..Default::default() });
        let sink = Sink::start("r", r.clone(), true, true, settings(1, 60_000), &tokio::runtime::Handle::current());
        let t = std::time::Instant::now();
        for i in 0..100 {
            sink.offer(ev(i));
        }
        assert!(t.elapsed() < Duration::from_millis(50));
        assert!(sink.stats.dropped.load(Ordering::Relaxed) >= 80, "queue holds 10 batches of 1");
    }

    #[test]
    fn batch_settings_resolve_in_order() {
        let own: Map<String, Value> = serde_json::from_value(serde_json::json!({"batch_size": 7, "flush_interval": 0.5})).unwrap();
        let s = BatchSettings::resolve(Some(&own));
        assert_eq!((s.batch_size, s.flush_interval), (7, Duration::from_millis(500)));
        let s = BatchSettings::resolve(None);
        assert!(s.batch_size >= 1);
    }
}
