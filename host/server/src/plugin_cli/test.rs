//! `tianji plugin test <file.wasm> --request request.json`: one guardrail
//! on one request (and optionally a response) outside the proxy, with the
//! verdict and its timing.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use tianji_core::context::{CallContext, CallType};
use tianji_core::traits::{Guardrail, GuardrailCall, GuardrailPhase, Verdict};
use tianji_core::types::{ChatRequest, ChatResponse};
use tianji_plugin_host::engine::{EngineOptions, PluginKind};
use tianji_plugin_host::guardrail::WasmGuardrail;
use tianji_plugin_host::registry::PluginHost;

/// What to run.
pub struct TestRun<'a> {
    /// The component.
    pub wasm: &'a Path,
    /// An OpenAI chat request (JSON file).
    pub request: &'a Path,
    /// A chat completion to check as the response (JSON file).
    pub response: Option<&'a Path>,
    /// The guardrail's settings (a JSON object file), as its `litellm_params` would give them.
    pub config: Option<&'a Path>,
    /// Warm calls to time.
    pub runs: usize,
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not valid JSON: {e}", path.display()))
}

fn verdict_json<T: serde::Serialize>(v: &Verdict<T>) -> Value {
    match v {
        Verdict::Allow => json!({"verdict": "allow"}),
        Verdict::Block { reason, details } => json!({"verdict": "block", "reason": reason, "details": details}),
        Verdict::Modify(m) => json!({"verdict": "modify", "modified": m}),
    }
}

fn micros(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e7).round() / 10.0
}

/// Copies the component (and its manifest, if any) into a private directory a host scans.
fn stage(wasm: &Path) -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("tianji-plugin-test-{}-{}", std::process::id(), unique_suffix()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let stem = wasm.file_stem().and_then(|s| s.to_str()).unwrap_or("plugin");
    std::fs::copy(wasm, dir.join(format!("{stem}.wasm"))).map_err(|e| format!("cannot copy {}: {e}", wasm.display()))?;
    let manifest = wasm.with_extension("toml");
    if manifest.exists() {
        std::fs::copy(&manifest, dir.join(format!("{stem}.toml"))).map_err(|e| format!("cannot copy {}: {e}", manifest.display()))?;
    }
    Ok(dir)
}

fn unique_suffix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos().into())
}

/// Runs the test and returns the report (JSON), or why it could not run.
pub async fn run(t: &TestRun<'_>) -> Result<Value, String> {
    let request: ChatRequest =
        serde_json::from_value(read_json(t.request)?).map_err(|e| format!("{}: not a chat request: {e}", t.request.display()))?;
    let response: Option<ChatResponse> = match t.response {
        Some(p) => Some(serde_json::from_value(read_json(p)?).map_err(|e| format!("{}: not a chat completion: {e}", p.display()))?),
        None => None,
    };
    let config: Map<String, Value> = match t.config {
        Some(p) => match read_json(p)? {
            Value::Object(m) => m,
            _ => return Err(format!("{}: the config must be a JSON object", p.display())),
        },
        None => Map::new(),
    };
    let dir = stage(t.wasm)?;
    let result = run_staged(&dir, t, request, response, config).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run_staged(
    dir: &Path,
    t: &TestRun<'_>,
    request: ChatRequest,
    response: Option<ChatResponse>,
    config: Map<String, Value>,
) -> Result<Value, String> {
    let host =
        Arc::new(PluginHost::new(EngineOptions { pooling: false, ..EngineOptions::from_env() }, Vec::new(), vec![dir.to_path_buf()]));
    let loading = Instant::now();
    let report = host.rescan().await;
    if let Some((name, e)) = report.failed.first() {
        return Err(format!("plugin {name} did not load: {e}"));
    }
    let load = loading.elapsed();
    let (name, kind) = host.active().into_iter().next().ok_or("no plugin was loaded")?;
    if kind != PluginKind::Guardrail {
        return Err(format!(
            "{name} is a {} plugin; `plugin test` runs guardrails (not supported yet for {}s)",
            kind.as_str(),
            kind.as_str()
        ));
    }
    let guardrail = WasmGuardrail::new(host.clone(), "test", &name, config)?;
    let init = Instant::now();
    guardrail.warm_up().await.map_err(|e| e.message)?;
    let init = init.elapsed();
    let ctx = CallContext::new(CallType::Completion);
    let pre = GuardrailCall { ctx: &ctx, phase: GuardrailPhase::PreCall, model_group: &request.model };
    let first = Instant::now();
    let verdict = guardrail.check_request(&pre, &request).await.map_err(|e| e.message)?;
    let first = first.elapsed();
    let status = host.status().into_iter().find(|s| s.name == name);
    let mut out = json!({
        "plugin": name,
        "request": verdict_json(&verdict),
        "timing_us": {"load": micros(load), "init": micros(init), "first_call": micros(first)},
        "load_from_cache": status.as_ref().and_then(|s| s.from_cache),
        "component_bytes": std::fs::metadata(t.wasm).map(|m| m.len()).unwrap_or(0),
        "instance_memory_bytes": status.as_ref().map_or(0, |s| s.instance_memory_bytes),
    });
    if let Some(resp) = &response {
        let post = GuardrailCall { ctx: &ctx, phase: GuardrailPhase::PostCall, model_group: &request.model };
        let v = guardrail.check_response(&post, &request, resp).await.map_err(|e| e.message)?;
        out["response"] = verdict_json(&v);
    }
    let mut samples = Vec::with_capacity(t.runs);
    for _ in 0..t.runs {
        let s = Instant::now();
        guardrail.check_request(&pre, &request).await.map_err(|e| e.message)?;
        samples.push(s.elapsed());
    }
    samples.sort_unstable();
    if !samples.is_empty() {
        let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
        out["timing_us"]["calls"] = json!(samples.len());
        out["timing_us"]["p50"] = json!(micros(at(0.5)));
        out["timing_us"]["p99"] = json!(micros(at(0.99)));
    }
    Ok(out)
}
