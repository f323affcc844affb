//! Writes spend rows to the database in batches, off the request path.
//!
//! Requests hand their row to an unbounded queue and move on. One task
//! writes up to `spend_log_batch_size` rows every `proxy_batch_write_at`
//! seconds (sooner when a batch fills). Nothing accepted is lost:
//! - a failed write keeps the rows and retries with backoff (1 s doubling
//!   to 30 s) while requests keep being served;
//! - past [`MAX_BUFFERED`] rows in memory, the oldest go to a spill file
//!   (JSON lines) and are read back once the database answers again;
//! - on shutdown the queue is written, or spilled if the database is down,
//!   and the spill file is replayed at the next start.
//!
//! Batches are idempotent per request id in the store, so replaying rows that
//! may already have been written counts nothing twice.

use std::collections::VecDeque;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tianji_store::{SpendRow, Store};
use tokio::sync::{Mutex, Notify, mpsc};
use tokio::time::Instant;

/// Rows kept in memory before the oldest spill to disk.
pub const MAX_BUFFERED: usize = 200_000;
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How the writer batches.
#[derive(Debug, Clone)]
pub struct WriterSettings {
    /// Time between writes.
    pub interval: Duration,
    /// Most rows per write.
    pub batch_size: usize,
    /// Where rows go when they cannot be written (None: memory only).
    pub spill_path: Option<PathBuf>,
}

/// Counters for tests, metrics and the benchmark.
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Rows written (new to the database).
    pub written: AtomicU64,
    /// Rows accepted.
    pub accepted: AtomicU64,
    /// Failed writes.
    pub failures: AtomicU64,
    /// Rows sent to the spill file.
    pub spilled: AtomicU64,
}

/// The queue's sending side and the writer task.
pub struct SpendWriter {
    tx: mpsc::UnboundedSender<SpendRow>,
    stop: Arc<Notify>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Counters.
    pub stats: Arc<WriterStats>,
}

impl SpendWriter {
    /// Starts the writer task (replaying any spill file first).
    pub fn start(store: Store, settings: WriterSettings) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let stop = Arc::new(Notify::new());
        let stats = Arc::new(WriterStats::default());
        let worker = Worker {
            store,
            settings,
            pending: VecDeque::new(),
            rx,
            stats: stats.clone(),
            backoff: None,
            spill_has_rows: false,
            replaying: false,
        };
        let task = tokio::spawn(worker.run(stop.clone()));
        Self { tx, stop, task: Mutex::new(Some(task)), stats }
    }

    /// Queues a row; never waits.
    pub fn submit(&self, row: SpendRow) {
        self.stats.accepted.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("tianji_spend_rows_accepted_total").increment(1);
        if self.tx.send(row).is_err() {
            tracing::error!("spend writer has stopped; a spend row was not recorded");
        }
    }

    /// Writes what is queued (or spills it) and stops, within `grace`.
    pub async fn shutdown(&self, grace: Duration) {
        self.stop.notify_one();
        if let Some(task) = self.task.lock().await.take()
            && tokio::time::timeout(grace, task).await.is_err()
        {
            tracing::error!("spend writer did not finish within {grace:?}");
        }
    }
}

struct Worker {
    store: Store,
    settings: WriterSettings,
    pending: VecDeque<SpendRow>,
    rx: mpsc::UnboundedReceiver<SpendRow>,
    stats: Arc<WriterStats>,
    backoff: Option<Duration>,
    spill_has_rows: bool,
    replaying: bool,
}

impl Worker {
    async fn run(mut self, stop: Arc<Notify>) {
        self.spill_has_rows = self.settings.spill_path.as_ref().is_some_and(|p| p.exists());
        self.replay();
        let mut next = Instant::now() + if self.pending.is_empty() { self.settings.interval } else { Duration::ZERO };
        loop {
            tokio::select! {
                biased;
                _ = stop.notified() => break,
                row = self.rx.recv() => match row {
                    Some(row) => {
                        self.pending.push_back(row);
                        if self.pending.len() >= self.settings.batch_size && self.backoff.is_none() {
                            self.flush().await;
                            next = Instant::now() + self.settings.interval;
                        }
                        self.bound_memory();
                    }
                    None => break,
                },
                _ = tokio::time::sleep_until(next) => {
                    self.flush().await;
                    next = Instant::now() + self.backoff.unwrap_or(self.settings.interval);
                }
            }
        }
        while let Ok(row) = self.rx.try_recv() {
            self.pending.push_back(row);
        }
        self.backoff = None;
        self.flush().await;
        if !self.pending.is_empty() {
            let n = self.pending.len();
            match self.spill(n) {
                Ok(()) => {
                    tracing::warn!(rows = n, "database unreachable at shutdown; spend rows kept in the spill file for the next start")
                }
                Err(e) => tracing::error!(rows = n, error = %e, "spend rows could not be written nor spilled at shutdown"),
            }
        }
    }

    /// Writes pending rows in batches until done or a write fails.
    async fn flush(&mut self) {
        while !self.pending.is_empty() {
            let n = self.pending.len().min(self.settings.batch_size);
            let batch = &self.pending.make_contiguous()[..n];
            match self.store.write_spend(batch).await {
                Ok(new) => {
                    self.stats.written.fetch_add(new as u64, Ordering::Relaxed);
                    metrics::counter!("tianji_spend_rows_written_total").increment(new as u64);
                    self.pending.drain(..n);
                    if self.backoff.take().is_some() {
                        tracing::info!("database reachable again; spend rows are being written");
                    }
                }
                Err(e) => {
                    self.stats.failures.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("tianji_spend_write_failures_total").increment(1);
                    let wait = self.backoff.map_or(Duration::from_secs(1), |b| (b * 2).min(MAX_BACKOFF));
                    tracing::warn!(error = %e, pending = self.pending.len(), retry_in = ?wait, "spend write failed; rows kept for retry");
                    self.backoff = Some(wait);
                    return;
                }
            }
        }
        metrics::gauge!("tianji_spend_rows_pending").set(0.0);
        if self.replaying {
            // Everything read back from the spill file is in the database.
            if let Some(p) = &self.settings.spill_path {
                let _ = std::fs::remove_file(p);
            }
            self.replaying = false;
            self.spill_has_rows = false;
        } else if self.spill_has_rows {
            self.replay();
        }
    }

    /// Past the memory bound, the oldest rows go to the spill file.
    fn bound_memory(&mut self) {
        if self.pending.len() > MAX_BUFFERED && self.settings.spill_path.is_some() {
            let n = self.pending.len() - MAX_BUFFERED / 2;
            match self.spill(n) {
                Ok(()) => {
                    // Rows now only on disk: the current replay (if any) must not delete the file.
                    self.replaying = false;
                }
                Err(e) => tracing::error!(error = %e, "spill file not writable; keeping spend rows in memory"),
            }
        }
        metrics::gauge!("tianji_spend_rows_pending").set(self.pending.len() as f64);
    }

    /// Appends the oldest `n` pending rows to the spill file.
    fn spill(&mut self, n: usize) -> std::io::Result<()> {
        let Some(path) = &self.settings.spill_path else {
            return Err(std::io::Error::other("no spill file configured"));
        };
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        let mut out = std::io::BufWriter::new(file);
        for row in self.pending.iter().take(n) {
            serde_json::to_writer(&mut out, row).map_err(std::io::Error::other)?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
        out.get_ref().sync_data()?;
        self.pending.drain(..n);
        self.stats.spilled.fetch_add(n as u64, Ordering::Relaxed);
        self.spill_has_rows = true;
        Ok(())
    }

    /// Reads the spill file back into the queue (rows already written are skipped by the store).
    fn replay(&mut self) {
        let Some(path) = self.settings.spill_path.clone() else { return };
        if !self.spill_has_rows {
            return;
        }
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(_) => {
                self.spill_has_rows = false;
                return;
            }
        };
        let mut n = 0usize;
        for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
            let Ok(line) = line else { break };
            match serde_json::from_str::<SpendRow>(&line) {
                Ok(row) => {
                    self.pending.push_back(row);
                    n += 1;
                }
                Err(e) => tracing::warn!(line = i + 1, error = %e, path = %path.display(), "skipping an unreadable spill line"),
            }
        }
        tracing::info!(rows = n, path = %path.display(), "replaying spilled spend rows");
        self.replaying = true;
    }
}
