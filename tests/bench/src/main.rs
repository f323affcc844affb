//! `tianji-bench`: Tianji's cost next to a direct call and a bare proxy hop.
//!
//! Run with: `scripts/bench` (builds the release binaries, then runs this).
//!
//! Starts three processes: the mock upstream, a bare pass-through hop (a
//! minimal hyper forwarder, the floor any extra hop costs) and Tianji, all on
//! loopback. Then, for non-streaming chat at concurrency 1, 16 and 64, it
//! drives each target with a closed loop of keep-alive connections and
//! prints latency p50/p99, the latency each hop adds, requests per second,
//! CPU time per request, time-to-first-token overhead for streams, Tianji's
//! idle and loaded RSS, and its start-up time to the first good completion.

mod hop;
mod keys;
mod load;
mod plugins;
mod procs;
mod providers;

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::load::{Stats, run_load, ttft};
use crate::procs::{Child, free_port};

#[derive(Parser)]
#[command(about = "Measure Tianji against a direct call and a bare hop")]
struct Args {
    /// Seconds of measured load per target and concurrency.
    #[arg(long, default_value_t = 3.0)]
    duration: f64,
    /// Seconds of warm-up before each measurement.
    #[arg(long, default_value_t = 0.5)]
    warmup: f64,
    /// Concurrency levels.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    concurrency: Vec<usize>,
    /// Directory holding the `tianji` and `mock-upstream` binaries (default: next to this one).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Run only the translated-provider rows.
    #[arg(long)]
    providers_only: bool,
    /// Also print the figures as one JSON object.
    #[arg(long)]
    json: bool,
    /// Internal: run the bare hop in this process, forwarding to this upstream.
    #[arg(long, hide = true)]
    hop_upstream: Option<String>,
    /// Internal: port for the bare hop.
    #[arg(long, hide = true, default_value_t = 0)]
    hop_port: u16,
}

const CHAT_BODY: &str = r#"{"model":"bench","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello to the benchmark."}],"temperature":0.2}"#;
const STREAM_BODY: &str = r#"{"model":"bench","stream":true,"messages":[{"role":"user","content":"Say hello to the benchmark."}]}"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    if let Some(upstream) = &args.hop_upstream {
        return hop::run(upstream, args.hop_port);
    }
    let bin_dir = match &args.bin_dir {
        Some(d) => d.clone(),
        None => std::env::current_exe()?.parent().map(PathBuf::from).ok_or("no binary directory")?,
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(bench(args, bin_dir))
}

/// p50 and p99 over `base`, formatted; dashes without a base.
fn added(stats: &Stats, base: Option<&Stats>) -> (String, String) {
    match base {
        Some(b) => (format!("{:.3}", stats.p50_ms() - b.p50_ms()), format!("{:.3}", stats.p99_ms() - b.p99_ms())),
        None => ("-".into(), "-".into()),
    }
}

fn write_config(upstream_port: u16) -> std::io::Result<PathBuf> {
    // Its own directory: the key database (tianji.db) is created next to the config.
    let dir = std::env::temp_dir().join(format!("tianji-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("config.yaml");
    std::fs::write(
        &path,
        format!(
            "model_list:\n  - model_name: bench\n    litellm_params:\n      model: openai/bench\n      api_base: http://127.0.0.1:{upstream_port}/v1\n      api_key: sk-bench\ngeneral_settings:\n  master_key: sk-bench-master\n"
        ),
    )?;
    Ok(path)
}

fn start_tianji(bin_dir: &std::path::Path, config: &std::path::Path) -> std::io::Result<(Child, u16)> {
    let port = free_port()?;
    let child = Child::spawn(
        bin_dir.join("tianji"),
        &["--config", &config.to_string_lossy(), "--host", "127.0.0.1", "--port", &port.to_string()],
        &[("RUST_LOG", "warn")],
    )?;
    Ok((child, port))
}

struct Row {
    target: &'static str,
    concurrency: usize,
    stats: Stats,
    cpu_us_per_req: Option<f64>,
}

async fn bench(args: Args, bin_dir: PathBuf) -> Result<(), Box<dyn std::error::Error>> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!("tianji-bench: {cores} cores, {}s per point after {}s warm-up", args.duration, args.warmup);

    // Mock upstream: one worker thread, no latency.
    let mock_port = free_port()?;
    let mock = Child::spawn(bin_dir.join("mock-upstream"), &["--port", &mock_port.to_string(), "--threads", "1", "--chunks", "5"], &[])?;
    procs::wait_http(mock_port, "/v1/models", Duration::from_secs(10)).await?;

    if args.providers_only {
        let plan = load::Plan {
            body: CHAT_BODY,
            concurrency: &args.concurrency,
            warmup: Duration::from_secs_f64(args.warmup),
            duration: Duration::from_secs_f64(args.duration),
        };
        let rows = providers::run(&bin_dir, mock_port, plan).await?;
        providers::print(&rows, &mut serde_json::Map::new());
        drop(mock);
        return Ok(());
    }

    // Bare hop: this binary in hop mode.
    let hop_port = free_port()?;
    let hop = Child::spawn(
        std::env::current_exe()?,
        &["--hop-upstream", &format!("127.0.0.1:{mock_port}"), "--hop-port", &hop_port.to_string()],
        &[],
    )?;
    procs::wait_http(hop_port, "/v1/models", Duration::from_secs(10)).await?;

    // Start-up time to the first good completion (median of 5 cold starts).
    let config = write_config(mock_port)?;
    let mut startups = Vec::new();
    for _ in 0..5 {
        let (child, port) = start_tianji(&bin_dir, &config)?;
        let t = procs::time_to_first_completion(&child, port, CHAT_BODY, "sk-bench-master", Duration::from_secs(10)).await?;
        startups.push(t);
        drop(child);
    }
    startups.sort();
    let startup = startups[startups.len() / 2];

    let (tianji, tianji_port) = start_tianji(&bin_dir, &config)?;
    procs::wait_http(tianji_port, "/health/liveliness", Duration::from_secs(10)).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle_rss = tianji.rss_kb();

    let duration = Duration::from_secs_f64(args.duration);
    let warmup = Duration::from_secs_f64(args.warmup);
    let auth_direct = "Bearer sk-bench";
    let auth_tianji = "Bearer sk-bench-master";
    let mut rows: Vec<Row> = Vec::new();
    for &c in &args.concurrency {
        for (target, port, path, auth, child) in [
            ("direct", mock_port, "/v1/chat/completions", auth_direct, &mock),
            ("bare hop", hop_port, "/v1/chat/completions", auth_direct, &hop),
            ("tianji", tianji_port, "/v1/chat/completions", auth_tianji, &tianji),
        ] {
            let cpu_before = child.cpu_time();
            let stats = run_load(port, path, auth, CHAT_BODY, c, warmup, duration).await?;
            let cpu_after = child.cpu_time();
            let cpu_us_per_req = match (cpu_before, cpu_after) {
                (Some(b), Some(a)) if stats.total > 0 && target != "direct" => {
                    // Warm-up requests burn CPU too: divide by everything sent.
                    Some((a - b).as_secs_f64() * 1e6 / (stats.total + stats.warmup_total) as f64)
                }
                _ => None,
            };
            rows.push(Row { target, concurrency: c, stats, cpu_us_per_req });
        }
    }
    let loaded_rss = tianji.rss_kb();

    let plugin_results = match plugins::plugin_build_dir(&bin_dir) {
        Some(built) => Some(
            plugins::run(
                &bin_dir,
                &built,
                mock_port,
                load::Plan { body: CHAT_BODY, concurrency: &args.concurrency, warmup, duration },
                idle_rss,
            )
            .await?,
        ),
        None => {
            println!("plugins: not built (run scripts/build-plugins); skipping the plugin rows");
            None
        }
    };

    let mut summary = serde_json::Map::new();
    // Virtual keys on both databases (PostgreSQL: a throwaway database on the local server).
    let plan = load::Plan { body: CHAT_BODY, concurrency: &args.concurrency, warmup, duration };
    let mut key_results = vec![keys::run(&bin_dir, "sqlite", None, mock_port, plan).await?];
    let pg = match tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect("127.0.0.1:5432")).await {
        Ok(Ok(_)) => Some(tianji_store::testing::TempDatabase::create().await),
        _ => {
            println!("keys: PostgreSQL not reachable on 127.0.0.1:5432; skipping the PostgreSQL rows");
            None
        }
    };
    if let Some(db) = &pg {
        key_results.push(
            keys::run(
                &bin_dir,
                "postgres",
                Some(&db.url),
                mock_port,
                load::Plan { body: CHAT_BODY, concurrency: &args.concurrency, warmup, duration },
            )
            .await?,
        );
    }

    let provider_rows =
        providers::run(&bin_dir, mock_port, load::Plan { body: CHAT_BODY, concurrency: &args.concurrency, warmup, duration }).await?;

    // Time to first token, concurrency 1.
    let ttft_n = 2000;
    let t_direct = ttft(mock_port, auth_direct, STREAM_BODY, ttft_n).await?;
    let t_hop = ttft(hop_port, auth_direct, STREAM_BODY, ttft_n).await?;
    let t_tianji = ttft(tianji_port, auth_tianji, STREAM_BODY, ttft_n).await?;

    println!();
    println!("non-streaming chat, latency in ms (added = p50/p99 minus direct's at the same concurrency)");
    println!(
        "{:<10} {:>4} {:>9} {:>9} {:>11} {:>11} {:>10} {:>13} {:>7}",
        "target", "conc", "p50", "p99", "added p50", "added p99", "req/s", "cpu us/req", "errors"
    );
    for r in &rows {
        let direct = rows.iter().find(|d| d.target == "direct" && d.concurrency == r.concurrency).map(|d| &d.stats);
        let (ap50, ap99) = added(&r.stats, direct.filter(|_| r.target != "direct"));
        println!(
            "{:<10} {:>4} {:>9.3} {:>9.3} {:>11} {:>11} {:>10.0} {:>13} {:>7}",
            r.target,
            r.concurrency,
            r.stats.p50_ms(),
            r.stats.p99_ms(),
            ap50,
            ap99,
            r.stats.rps(),
            r.cpu_us_per_req.map(|c| format!("{c:.1}")).unwrap_or_else(|| "-".into()),
            r.stats.errors
        );
    }
    if let Some((prows, _)) = &plugin_results {
        println!();
        println!("with plugins (added = over plain tianji at the same concurrency; the 10k-token rows over the 10k-token baseline)");
        println!(
            "{:<44} {:>4} {:>9} {:>9} {:>11} {:>11} {:>10} {:>7}",
            "configuration", "conc", "p50", "p99", "added p50", "added p99", "req/s", "errors"
        );
        for r in prows {
            let base = if r.label.starts_with("10k") {
                prows.iter().find(|b| b.label == plugins::LONG_PROMPT_BASELINE && b.concurrency == r.concurrency).map(|b| &b.stats)
            } else {
                rows.iter().find(|d| d.target == "tianji" && d.concurrency == r.concurrency).map(|d| &d.stats)
            };
            let (a50, a99) = added(&r.stats, base.filter(|_| r.label != plugins::LONG_PROMPT_BASELINE));
            println!(
                "{:<44} {:>4} {:>9.3} {:>9.3} {:>11} {:>11} {:>10.0} {:>7}",
                r.label,
                r.concurrency,
                r.stats.p50_ms(),
                r.stats.p99_ms(),
                a50,
                a99,
                r.stats.rps(),
                r.stats.errors
            );
        }
    }
    println!();
    println!("virtual key with a budget and an rpm limit (added = over the master key on the same process)");
    println!(
        "{:<9} {:>4} {:>11} {:>11} {:>11} {:>11} {:>10} {:>7}",
        "database", "conc", "master p50", "key p50", "added p50", "added p99", "key req/s", "errors"
    );
    for (krows, _) in &key_results {
        for r in krows {
            let (a50, a99) = added(&r.key, Some(&r.master));
            println!(
                "{:<9} {:>4} {:>11.3} {:>11.3} {:>11} {:>11} {:>10.0} {:>7}",
                r.backend,
                r.concurrency,
                r.master.p50_ms(),
                r.key.p50_ms(),
                a50,
                a99,
                r.key.rps(),
                r.key.errors + r.master.errors
            );
            summary.insert(
                format!("key {} c{}", r.backend, r.concurrency),
                serde_json::json!({"master_p50_ms": r.master.p50_ms(), "key_p50_ms": r.key.p50_ms(), "added_p50_ms": r.key.p50_ms() - r.master.p50_ms(), "key_rps": r.key.rps()}),
            );
        }
    }
    for (_, w) in &key_results {
        println!(
            "spend writer ({}): {} rows at {:.0} req/s; {} queued when the load stopped, all written {:.2} s later; the store writes {:.0} rows/s",
            w.backend,
            w.rows,
            w.request_rate,
            w.backlog_at_end,
            w.drain.as_secs_f64(),
            w.rows_per_sec
        );
        summary.insert(
            format!("spend writer {}", w.backend),
            serde_json::json!({"rows": w.rows, "request_rate": w.request_rate, "backlog_at_end": w.backlog_at_end, "drain_s": w.drain.as_secs_f64(), "store_rows_per_s": w.rows_per_sec}),
        );
    }
    drop(pg);
    println!();
    providers::print(&provider_rows, &mut summary);
    println!();
    println!("tianji against the bare hop:");
    for &c in &args.concurrency {
        let get = |t: &str| rows.iter().find(|r| r.target == t && r.concurrency == c).map(|r| &r.stats);
        if let (Some(d), Some(h), Some(t)) = (get("direct"), get("bare hop"), get("tianji")) {
            let hop_added = h.p50_ms() - d.p50_ms();
            let tj_added = t.p50_ms() - d.p50_ms();
            let ratio = if hop_added > 0.0 { tj_added / hop_added } else { f64::NAN };
            let tj_added99 = t.p99_ms() - d.p99_ms();
            println!(
                "  c={c:<3} added p50 {tj_added:.3} ms vs hop {hop_added:.3} ms (ratio {ratio:.2}); added p99 {tj_added99:.3} ms; req/s {:.0} vs hop {:.0} (ratio {:.2})",
                t.rps(),
                h.rps(),
                t.rps() / h.rps()
            );
            summary.insert(
                format!("c{c}"),
                serde_json::json!({
                    "direct_p50_ms": d.p50_ms(), "direct_p99_ms": d.p99_ms(),
                    "hop_p50_ms": h.p50_ms(), "hop_p99_ms": h.p99_ms(),
                    "tianji_p50_ms": t.p50_ms(), "tianji_p99_ms": t.p99_ms(),
                    "tianji_added_p50_ms": tj_added, "hop_added_p50_ms": hop_added, "added_ratio": ratio,
                    "tianji_added_p99_ms": tj_added99,
                    "tianji_rps": t.rps(), "hop_rps": h.rps(), "direct_rps": d.rps(), "rps_ratio": t.rps() / h.rps(),
                }),
            );
        }
    }
    let ttft_over = t_tianji.p50_ms() - t_direct.p50_ms();
    let ttft_hop_over = t_hop.p50_ms() - t_direct.p50_ms();
    println!(
        "  streaming time-to-first-token p50: direct {:.3} ms, hop {:.3} ms, tianji {:.3} ms -> tianji overhead {ttft_over:.3} ms (hop {ttft_hop_over:.3} ms)",
        t_direct.p50_ms(),
        t_hop.p50_ms(),
        t_tianji.p50_ms()
    );
    let fmt_mb = |kb: Option<u64>| kb.map(|k| format!("{:.1} MB", k as f64 / 1024.0)).unwrap_or_else(|| "n/a".into());
    println!("  tianji RSS: idle {}, after load {}", fmt_mb(idle_rss), fmt_mb(loaded_rss));
    println!("  start-up to first good completion (median of 5): {:.1} ms", startup.as_secs_f64() * 1000.0);
    let cpu16 = rows.iter().find(|r| r.target == "tianji" && r.concurrency == 16).and_then(|r| r.cpu_us_per_req);
    if let Some(c) = cpu16 {
        println!("  tianji CPU per request at c=16: {c:.1} us");
    }
    if args.json {
        summary.insert("ttft_overhead_ms".into(), serde_json::json!(ttft_over));
        summary.insert("ttft_hop_overhead_ms".into(), serde_json::json!(ttft_hop_over));
        summary.insert("idle_rss_mb".into(), serde_json::json!(idle_rss.map(|k| k as f64 / 1024.0)));
        summary.insert("loaded_rss_mb".into(), serde_json::json!(loaded_rss.map(|k| k as f64 / 1024.0)));
        summary.insert("startup_ms".into(), serde_json::json!(startup.as_secs_f64() * 1000.0));
        summary.insert("cpu_us_per_req_c16".into(), serde_json::json!(cpu16));
        if let Some((prows, psummary)) = &plugin_results {
            summary.insert("plugins".into(), psummary.clone());
            for r in prows {
                let plain = rows.iter().find(|d| d.target == "tianji" && d.concurrency == r.concurrency).map(|d| d.stats.p50_ms());
                summary.insert(
                    format!("{} c{}", r.label, r.concurrency),
                    serde_json::json!({"p50_ms": r.stats.p50_ms(), "p99_ms": r.stats.p99_ms(), "rps": r.stats.rps(), "added_p50_over_tianji_ms": plain.map(|p| r.stats.p50_ms() - p)}),
                );
            }
        }
        println!("{}", serde_json::Value::Object(summary));
    }
    if let Some(dir) = config.parent() {
        let _ = std::fs::remove_dir_all(dir);
    }
    Ok(())
}
