//! Virtual-key rows: the cost of authenticating with a virtual key that has
//! a budget and an rpm limit (cached key path, live spend, limiter, spend
//! row) over the master key, on SQLite and on PostgreSQL; and whether the
//! spend writer keeps up with the request rate.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::load::{Plan, Stats, run_load};
use crate::procs;

/// One measured configuration.
pub struct KeyRow {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// Concurrency.
    pub concurrency: usize,
    /// Master-key run on the same process.
    pub master: Stats,
    /// Virtual-key run.
    pub key: Stats,
}

/// How the spend writer kept up on one backend.
pub struct WriterFigure {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// Spend rows accepted during the runs.
    pub rows: u64,
    /// Requests per second during the runs.
    pub request_rate: f64,
    /// Rows still queued when the load stopped.
    pub backlog_at_end: u64,
    /// Time from the end of the load until every row was written.
    pub drain: Duration,
    /// Rows the store writes per second (1000-row batches, this process).
    pub rows_per_sec: f64,
}

/// Rows per second `Store::write_spend` sustains on `url` in 1000-row batches.
async fn write_rate(url: &str) -> Result<f64, Box<dyn std::error::Error>> {
    let store = tianji_store::Store::connect(url, &tianji_store::StoreOptions::default()).await?;
    let now = tianji_store::time::now();
    let rows: Vec<tianji_store::SpendRow> = (0..20_000)
        .map(|i| tianji_store::SpendRow {
            request_id: format!("bench-{}-{i}", std::process::id()),
            call_type: "acompletion".into(),
            api_key: "0".repeat(64),
            spend: 0.0001,
            total_tokens: 30,
            prompt_tokens: 10,
            completion_tokens: 20,
            start_time: now,
            end_time: now,
            model: "bench".into(),
            model_id: Some("m".into()),
            model_group: Some("bench".into()),
            custom_llm_provider: Some("openai".into()),
            api_base: None,
            user: None,
            team_id: None,
            organization_id: None,
            end_user: None,
            status: "success".into(),
            request_tags: Vec::new(),
            metadata: serde_json::json!({}),
        })
        .collect();
    let t = Instant::now();
    for batch in rows.chunks(1000) {
        store.write_spend(batch).await?;
    }
    let rate = rows.len() as f64 / t.elapsed().as_secs_f64();
    store.close().await;
    Ok(rate)
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines().filter(|l| l.starts_with(name)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum::<f64>() as u64
}

async fn spend_counters(port: u16) -> Option<(u64, u64)> {
    let (_, text) = procs::request(port, "GET", "/metrics", None, "").await?;
    Some((metric(&text, "tianji_spend_rows_accepted_total"), metric(&text, "tianji_spend_rows_written_total")))
}

/// Runs the rows for one backend; `database_url` None means SQLite next to the config.
pub async fn run(
    bin_dir: &Path,
    backend: &'static str,
    database_url: Option<&str>,
    upstream_port: u16,
    plan: Plan<'_>,
) -> Result<(Vec<KeyRow>, WriterFigure), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("tianji-bench-keys-{backend}-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let config = dir.join("config.yaml");
    let db = database_url.map(|u| format!("  database_url: \"{u}\"\n")).unwrap_or_default();
    std::fs::write(
        &config,
        format!(
            "model_list:\n  - model_name: bench\n    litellm_params:\n      model: openai/bench\n      api_base: http://127.0.0.1:{upstream_port}/v1\n      api_key: sk-bench\n    model_info: {{input_cost_per_token: 0.000001, output_cost_per_token: 0.000002}}\ngeneral_settings:\n  master_key: sk-bench-master\n  proxy_batch_write_at: 1\n{db}"
        ),
    )?;
    let (child, port) = crate::start_tianji(bin_dir, &config)?;
    procs::wait_http(port, "/health/liveliness", Duration::from_secs(20)).await?;
    let generate = r#"{"models": ["bench"], "max_budget": 1000000, "rpm_limit": 100000000, "key_alias": "bench"}"#;
    let (status, body) =
        procs::request(port, "POST", "/key/generate", Some("sk-bench-master"), generate).await.ok_or("key/generate failed")?;
    if status != 200 {
        return Err(format!("key/generate answered {status}: {body}").into());
    }
    let key = serde_json::from_str::<serde_json::Value>(&body)?["key"].as_str().ok_or("no key")?.to_owned();
    let master_auth = "Bearer sk-bench-master".to_owned();
    let key_auth = format!("Bearer {key}");

    let mut rows = Vec::new();
    let started = Instant::now();
    let mut requests = 0u64;
    for &c in plan.concurrency {
        let master = run_load(port, "/v1/chat/completions", &master_auth, plan.body, c, plan.warmup, plan.duration).await?;
        let key = run_load(port, "/v1/chat/completions", &key_auth, plan.body, c, plan.warmup, plan.duration).await?;
        requests += master.total + master.warmup_total + key.total + key.warmup_total;
        rows.push(KeyRow { backend, concurrency: c, master, key });
    }
    let load_time = started.elapsed();
    let (accepted, written) = spend_counters(port).await.ok_or("GET /metrics failed")?;
    let backlog_at_end = accepted.saturating_sub(written);
    let drain_start = Instant::now();
    let mut last = written;
    while last < accepted && drain_start.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        last = spend_counters(port).await.map(|(_, w)| w).unwrap_or(last);
    }
    let drain = drain_start.elapsed();
    drop(child);
    let rows_per_sec =
        write_rate(&database_url.map(str::to_owned).unwrap_or_else(|| tianji_store::sqlite_url(&dir.join("tianji.db")))).await?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok((
        rows,
        WriterFigure {
            backend,
            rows: accepted,
            request_rate: requests as f64 / load_time.as_secs_f64(),
            backlog_at_end,
            drain,
            rows_per_sec,
        },
    ))
}
