//! Plugin rows: what WASM guardrails add to a request, what one plugin call
//! costs, memory per loaded plugin, and start-up with ten plugins, cold
//! (compiling) and cached.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::load::{Plan, Stats, run_load};
use crate::procs::{self, Child, free_port};

/// The label of the long-prompt row without guardrails (the baseline of the content-filter rows).
pub const LONG_PROMPT_BASELINE: &str = "10k-token prompt, no guardrail";

/// The built plugins: `<target>/wasm32-wasip2/plugin` beside `<target>/release`.
pub fn plugin_build_dir(bin_dir: &Path) -> Option<PathBuf> {
    let dir = bin_dir.parent()?.join("wasm32-wasip2").join("plugin");
    dir.join("trivial_guardrail.wasm").exists().then_some(dir)
}

/// A copy of a component with a custom section appended, so each copy has
/// its own content hash (and its own compile) while behaving the same.
fn distinct_copy(wasm: &[u8], n: u8) -> Vec<u8> {
    let name = b"tianji-bench-copy";
    let mut section = vec![name.len() as u8];
    section.extend_from_slice(name);
    section.push(n);
    let mut out = wasm.to_vec();
    out.push(0); // custom section id
    out.push(section.len() as u8); // LEB128 size (< 128)
    out.extend_from_slice(&section);
    out
}

fn write_config(dir: &Path, upstream_port: u16, guardrails: &str) -> std::io::Result<PathBuf> {
    let path = dir.join("config.yaml");
    std::fs::write(
        &path,
        format!(
            "model_list:\n  - model_name: bench\n    litellm_params:\n      model: openai/bench\n      api_base: http://127.0.0.1:{upstream_port}/v1\n      api_key: sk-bench\ngeneral_settings:\n  master_key: sk-bench-master\n{guardrails}"
        ),
    )?;
    Ok(path)
}

fn guardrails(plugins: &[&str]) -> String {
    let mut s = String::from("guardrails:\n");
    for (i, p) in plugins.iter().enumerate() {
        s.push_str(&format!(
            "  - guardrail_name: g{i}\n    litellm_params: {{guardrail: {p}, mode: pre_call, default_on: true, word: never-in-the-prompt}}\n"
        ));
    }
    s
}

fn start(bin_dir: &Path, config: &Path, plugin_dir: &Path, cache: &Path) -> std::io::Result<(Child, u16)> {
    let port = free_port()?;
    let child = Child::spawn(
        bin_dir.join("tianji"),
        &[
            "--config",
            &config.to_string_lossy(),
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--plugin-dir",
            &plugin_dir.to_string_lossy(),
        ],
        &[("RUST_LOG", "warn"), ("XDG_CACHE_HOME", &cache.to_string_lossy()), ("TIANJI_BUILTIN_PLUGIN_DIR", "/nonexistent")],
    )?;
    Ok((child, port))
}

async fn plugin_stats(port: u16) -> Result<Value, Box<dyn std::error::Error>> {
    let (_, body) = procs::request(port, "GET", "/plugins", Some("sk-bench-master"), "").await.ok_or("GET /plugins failed")?;
    // The body may be chunked; take the JSON object inside.
    let start = body.find('{').unwrap_or(0);
    let end = body.rfind('}').map(|i| i + 1).unwrap_or(body.len());
    Ok(serde_json::from_str(&body[start..end])?)
}

/// One measured configuration.
pub struct PluginRow {
    /// Label.
    pub label: String,
    /// Concurrency.
    pub concurrency: usize,
    /// Latency and throughput.
    pub stats: Stats,
}

/// Runs the plugin rows against the upstream on `upstream_port`.
pub async fn run(
    bin_dir: &Path,
    built: &Path,
    upstream_port: u16,
    plan: Plan<'_>,
    plain_idle_rss_kb: Option<u64>,
) -> Result<(Vec<PluginRow>, Value), Box<dyn std::error::Error>> {
    let Plan { body, concurrency, warmup, duration } = plan;
    let work = std::env::temp_dir().join(format!("tianji-bench-plugins-{}", std::process::id()));
    let plugin_dir = work.join("plugins");
    let cache = work.join("cache");
    std::fs::create_dir_all(&plugin_dir)?;
    let trivial = std::fs::read(built.join("trivial_guardrail.wasm"))?;
    let names: Vec<String> = (0..10).map(|i| format!("trivial_{i}")).collect();
    for (i, name) in names.iter().enumerate() {
        std::fs::write(plugin_dir.join(format!("{name}.wasm")), distinct_copy(&trivial, i as u8))?;
    }
    let auth = "Bearer sk-bench-master";
    let mut rows = Vec::new();
    let mut summary = serde_json::Map::new();

    // Start-up with ten plugins: the first start compiles, later ones load from the cache.
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let config10 = write_config(&work, upstream_port, &guardrails(&refs))?;
    let _ = std::fs::remove_dir_all(&cache);
    let (child, port) = start(bin_dir, &config10, &plugin_dir, &cache)?;
    let uncached = procs::time_to_first_completion(&child, port, body, "sk-bench-master", Duration::from_secs(60)).await?;
    drop(child);
    let mut cached = Vec::new();
    for _ in 0..5 {
        let (child, port) = start(bin_dir, &config10, &plugin_dir, &cache)?;
        cached.push(procs::time_to_first_completion(&child, port, body, "sk-bench-master", Duration::from_secs(30)).await?);
        drop(child);
    }
    cached.sort();
    let cached = cached[cached.len() / 2];
    let (child, port) = start(bin_dir, &config10, &plugin_dir, &cache)?;
    procs::wait_http(port, "/health/liveliness", Duration::from_secs(10)).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss10 = child.rss_kb();
    drop(child);
    let per_plugin_mb = match (rss10, plain_idle_rss_kb) {
        (Some(a), Some(b)) => Some((a as f64 - b as f64) / 1024.0 / 10.0),
        _ => None,
    };
    println!();
    println!("plugins (WASM guardrails, pre_call, default_on; each a trivial_guardrail build)");
    println!(
        "  start-up with 10 plugins to first good completion: uncached (compiling) {:.1} ms, cached {:.1} ms (median of 5)",
        uncached.as_secs_f64() * 1e3,
        cached.as_secs_f64() * 1e3
    );
    if let Some(mb) = per_plugin_mb {
        println!("  memory per loaded plugin (idle RSS with 10 minus without, / 10): {mb:.2} MB");
    }
    summary.insert("startup_10_plugins_uncached_ms".into(), json!(uncached.as_secs_f64() * 1e3));
    summary.insert("startup_10_plugins_cached_ms".into(), json!(cached.as_secs_f64() * 1e3));
    summary.insert("memory_per_plugin_mb".into(), json!(per_plugin_mb));

    // A per-call-isolation copy: a fresh instance (and init) for every call.
    std::fs::write(plugin_dir.join("trivial_fresh.wasm"), distinct_copy(&trivial, 100))?;
    std::fs::write(plugin_dir.join("trivial_fresh.toml"), "[limits]\nisolation = \"per-call\"\n")?;
    let variants: [(&str, Vec<&str>, &str); 3] = [
        ("1 wasm guardrail", vec![refs[0]], "trivial_0"),
        ("3 wasm guardrails", refs[..3].to_vec(), "trivial_0"),
        ("1 wasm guardrail, fresh instance per call", vec!["trivial_fresh"], "trivial_fresh"),
    ];
    for (label, plugins, probe) in variants {
        let config = write_config(&work, upstream_port, &guardrails(&plugins))?;
        let (child, port) = start(bin_dir, &config, &plugin_dir, &cache)?;
        procs::wait_http(port, "/health/liveliness", Duration::from_secs(30)).await?;
        for &c in concurrency {
            let stats = run_load(port, "/v1/chat/completions", auth, body, c, warmup, duration).await?;
            rows.push(PluginRow { label: label.to_string(), concurrency: c, stats });
        }
        let s = plugin_stats(port).await?;
        if let Some(p) = s["plugins"].as_array().and_then(|a| a.iter().find(|p| p["name"] == probe)) {
            println!("  {label}: one plugin call (host side) p50 {} ms, p99 {} ms over {} calls", p["p50_ms"], p["p99_ms"], p["calls"]);
            summary.insert(format!("{label}: plugin_call_p50_ms"), p["p50_ms"].clone());
            summary.insert(format!("{label}: plugin_call_p99_ms"), p["p99_ms"].clone());
        }
        drop(child);
    }

    // The content filter on a 10k-token prompt, against plain Tianji with the same prompt.
    std::fs::copy(built.join("litellm_content_filter.wasm"), plugin_dir.join("litellm_content_filter.wasm"))?;
    let words = "The quick brown fox jumps over the lazy dog near the quiet riverbank today. ";
    let big_body = serde_json::json!({"model": "bench", "messages": [{"role": "user", "content": words.repeat(540)}]}).to_string();
    let filter = "guardrails:\n  - guardrail_name: cf\n    litellm_params:\n      guardrail: litellm_content_filter\n      mode: pre_call\n      default_on: true\n      patterns:\n        - {pattern_type: prebuilt, pattern_name: email, action: MASK}\n        - {pattern_type: prebuilt, pattern_name: credit_card, action: BLOCK}\n        - {pattern_type: prebuilt, pattern_name: aws_access_key, action: BLOCK}\n        - {pattern_type: prebuilt, pattern_name: us_ssn, action: BLOCK}\n      blocked_words:\n        - {keyword: confidential, action: BLOCK}\n      categories:\n        - {category: harmful_violence}\n        - {category: harmful_hate}\n        - {category: harmful_self_harm}\n        - {category: harmful_sexual}\n";
    for (label, g) in [(LONG_PROMPT_BASELINE, ""), ("10k-token prompt, content filter", filter)] {
        let config = write_config(&work, upstream_port, g)?;
        let (child, port) = start(bin_dir, &config, &plugin_dir, &cache)?;
        procs::wait_http(port, "/health/liveliness", Duration::from_secs(60)).await?;
        for &c in concurrency {
            let stats = run_load(port, "/v1/chat/completions", auth, &big_body, c, warmup, duration).await?;
            rows.push(PluginRow { label: label.to_string(), concurrency: c, stats });
        }
        if !g.is_empty() {
            let s = plugin_stats(port).await?;
            if let Some(p) = s["plugins"].as_array().and_then(|a| a.iter().find(|p| p["name"] == "litellm_content_filter")) {
                println!(
                    "  content filter on a 10k-token prompt: one plugin call (host side) p50 {} ms, p99 {} ms",
                    p["p50_ms"], p["p99_ms"]
                );
                summary.insert("content_filter_10k_call_p50_ms".into(), p["p50_ms"].clone());
                summary.insert("content_filter_10k_call_p99_ms".into(), p["p99_ms"].clone());
            }
        }
        drop(child);
    }
    let _ = std::fs::remove_dir_all(&work);
    Ok((rows, Value::Object(summary)))
}
