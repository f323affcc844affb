//! Translated-provider rows: the same chat call routed to the mock upstream
//! as an OpenAI-format deployment (pass-through) and as an Anthropic, a
//! Gemini and a Bedrock deployment (translated both ways; Bedrock also
//! SigV4-signed), on one Tianji process. The cost of translation is each
//! row's p50 over the pass-through row's at the same concurrency.

use std::path::Path;
use std::time::Duration;

use crate::load::{Plan, Stats, run_load};
use crate::procs;

/// Deployments measured, as (model group, `litellm_params` after `model:`).
const TARGETS: &[(&str, &str)] = &[
    ("openai", "openai/bench, api_base: \"{base}/v1\", api_key: sk-bench"),
    ("anthropic", "anthropic/claude-bench, api_base: \"{base}\", api_key: sk-bench"),
    ("gemini", "gemini/gemini-bench, api_base: \"{base}\", api_key: sk-bench"),
    (
        "bedrock",
        "bedrock/anthropic.claude-bench-v1:0, aws_bedrock_runtime_endpoint: \"{base}\", aws_region_name: us-east-1, aws_access_key_id: AKIABENCH, aws_secret_access_key: bench-secret",
    ),
];

/// One measured provider at one concurrency.
pub struct ProviderRow {
    /// Model group (= provider).
    pub provider: &'static str,
    /// Concurrency.
    pub concurrency: usize,
    /// The run.
    pub stats: Stats,
}

/// Runs every target at every concurrency; `body` names the model as `bench`, replaced per target.
pub async fn run(bin_dir: &Path, mock_port: u16, plan: Plan<'_>) -> Result<Vec<ProviderRow>, Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("tianji-bench-providers-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let config = dir.join("config.yaml");
    let base = format!("http://127.0.0.1:{mock_port}");
    let mut yaml = String::from("model_list:\n");
    for (name, params) in TARGETS {
        yaml.push_str(&format!("  - model_name: {name}\n    litellm_params: {{model: {}}}\n", params.replace("{base}", &base)));
    }
    std::fs::write(&config, yaml)?;
    let port = procs::free_port()?;
    let child = procs::Child::spawn(
        bin_dir.join("tianji"),
        &["--config", &config.to_string_lossy(), "--host", "127.0.0.1", "--port", &port.to_string()],
        &[("RUST_LOG", "warn")],
    )?;
    procs::wait_http(port, "/health/liveliness", Duration::from_secs(10)).await?;
    let mut rows = Vec::new();
    for &c in plan.concurrency {
        for (name, _) in TARGETS {
            let body = plan.body.replace("\"model\":\"bench\"", &format!("\"model\":\"{name}\""));
            let stats = run_load(port, "/v1/chat/completions", "Bearer none", &body, c, plan.warmup, plan.duration).await?;
            rows.push(ProviderRow { provider: name, concurrency: c, stats });
        }
    }
    drop(child);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(rows)
}

/// Prints the rows and adds them to the JSON summary.
pub fn print(rows: &[ProviderRow], summary: &mut serde_json::Map<String, serde_json::Value>) {
    println!("translated providers (added = p50 over the OpenAI pass-through deployment on the same process and concurrency)");
    println!("{:<10} {:>4} {:>9} {:>9} {:>11} {:>10} {:>7}", "provider", "conc", "p50", "p99", "added p50", "req/s", "errors");
    for r in rows {
        let base = rows.iter().find(|b| b.provider == "openai" && b.concurrency == r.concurrency).map(|b| b.stats.p50_ms());
        let over = base.filter(|_| r.provider != "openai").map(|b| r.stats.p50_ms() - b);
        println!(
            "{:<10} {:>4} {:>9.3} {:>9.3} {:>11} {:>10.0} {:>7}",
            r.provider,
            r.concurrency,
            r.stats.p50_ms(),
            r.stats.p99_ms(),
            over.map(|o| format!("{o:.3}")).unwrap_or_else(|| "-".into()),
            r.stats.rps(),
            r.stats.errors
        );
        summary.insert(
            format!("provider {} c{}", r.provider, r.concurrency),
            serde_json::json!({"p50_ms": r.stats.p50_ms(), "p99_ms": r.stats.p99_ms(), "rps": r.stats.rps(), "added_p50_over_openai_ms": over, "errors": r.stats.errors}),
        );
    }
}
