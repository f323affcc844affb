//! A real guardrail plugin (plugins/trivial_guardrail, built for
//! wasm32-wasip2 by scripts/build-plugins) through the host: load, call,
//! block, swap versions, failures.

#![allow(clippy::unwrap_used, reason = "test helpers: a failure should panic with its location")]

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::json;
use tianji_core::context::{CallContext, CallType};
use tianji_core::traits::{Guardrail, GuardrailCall, GuardrailPhase, Verdict};
use tianji_core::types::ChatRequest;
use tianji_plugin_host::engine::EngineOptions;
use tianji_plugin_host::guardrail::WasmGuardrail;
use tianji_plugin_host::registry::{PluginHost, PluginState};

/// `<target>/wasm32-wasip2/plugin/<name>.wasm`, found from this test binary's path.
fn built_plugin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).unwrap();
    let path = target.join("wasm32-wasip2/plugin").join(format!("{name}.wasm"));
    assert!(path.exists(), "{} is missing: build the plugins first with scripts/build-plugins", path.display());
    path
}

fn engine(cache: &std::path::Path) -> EngineOptions {
    EngineOptions { cache_dir: Some(cache.to_path_buf()), pool_instances: 64, ..Default::default() }
}

fn request(text: &str) -> ChatRequest {
    serde_json::from_value(json!({"model": "m", "messages": [{"role": "user", "content": text}]})).unwrap()
}

async fn check(g: &WasmGuardrail, text: &str) -> Result<Verdict<ChatRequest>, String> {
    let ctx = CallContext::new(CallType::Completion);
    let call = GuardrailCall { ctx: &ctx, phase: GuardrailPhase::PreCall, model_group: "m" };
    g.check_request(&call, &request(text)).await.map_err(|e| e.to_string())
}

#[tokio::test]
async fn load_call_swap_and_survive_a_broken_file() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let wasm = built_plugin("trivial_guardrail");
    std::fs::copy(&wasm, dir.path().join("trivial.wasm")).unwrap();
    let host = Arc::new(PluginHost::new(engine(cache.path()), vec![], vec![dir.path().to_path_buf()]));
    let report = host.rescan().await;
    assert_eq!(report.loaded, vec!["trivial".to_string()], "{report:?}");

    let g = WasmGuardrail::new(host.clone(), "no-banana", "trivial", json!({"word": "banana"}).as_object().unwrap().clone()).unwrap();
    g.warm_up().await.unwrap();
    assert!(matches!(check(&g, "hello").await.unwrap(), Verdict::Allow));
    match check(&g, "a banana please").await.unwrap() {
        Verdict::Block { reason, details } => {
            assert!(reason.contains("banana"), "{reason}");
            assert_eq!(details["word"], "banana");
        }
        other => panic!("expected a block, got {other:?}"),
    }
    // Unchanged file: nothing recompiled.
    assert_eq!(host.rescan().await.unchanged, vec!["trivial".to_string()]);

    // A manifest change is a new version: same wasm, new default config.
    std::fs::write(dir.path().join("trivial.toml"), "version = \"2.0.0\"\n[config]\nword = \"cherry\"\n").unwrap();
    let report = host.rescan().await;
    assert_eq!(report.loaded, vec!["trivial".to_string()]);
    // The guardrail's own params still win over the manifest default.
    assert!(matches!(check(&g, "banana").await.unwrap(), Verdict::Block { .. }));
    let status = host.status();
    assert_eq!(status[0].version.as_deref(), Some("2.0.0"));
    assert_eq!(status[0].from_cache, Some(true), "same wasm: compiled code comes from the cache");

    // A broken file leaves the previous version serving.
    std::fs::write(dir.path().join("trivial.wasm"), b"\0asm garbage").unwrap();
    let report = host.rescan().await;
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert!(matches!(check(&g, "banana").await.unwrap(), Verdict::Block { .. }));
    let status = host.status();
    assert_eq!(status[0].state, PluginState::Failed);
    assert!(status[0].error.as_deref().unwrap().contains("not a valid component"), "{:?}", status[0].error);
    assert!(status[0].calls >= 4);

    // Removing the file unloads it; calls then fail (the policy decides).
    std::fs::remove_file(dir.path().join("trivial.wasm")).unwrap();
    assert_eq!(host.rescan().await.removed, vec!["trivial".to_string()]);
    let err = check(&g, "hello").await.unwrap_err();
    assert!(err.contains("not loaded"), "{err}");
}

#[tokio::test]
async fn unknown_plugin_is_an_error() {
    let cache = tempfile::tempdir().unwrap();
    let host = Arc::new(PluginHost::new(engine(cache.path()), vec![], vec![]));
    let err = WasmGuardrail::new(host, "g", "nope", Default::default()).unwrap_err();
    assert!(err.contains("no plugin named \"nope\""), "{err}");
}

#[tokio::test]
#[ignore = "timing probe: cargo test -p tianji-plugin-host --test guardrail probe -- --ignored --nocapture"]
async fn probe_content_filter_on_a_long_prompt() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    std::fs::copy(built_plugin("litellm_content_filter"), dir.path().join("cf.wasm")).unwrap();
    let host = Arc::new(PluginHost::new(engine(cache.path()), vec![], vec![dir.path().to_path_buf()]));
    host.rescan().await;
    let text = "The quick brown fox jumps over the lazy dog near the quiet riverbank today. ".repeat(540);
    for (label, params) in [
        ("nothing", json!({})),
        ("email", json!({"patterns": [{"pattern_type": "prebuilt", "pattern_name": "email", "action": "MASK"}]})),
        ("ssn", json!({"patterns": [{"pattern_type": "prebuilt", "pattern_name": "us_ssn", "action": "BLOCK"}]})),
        ("words", json!({"blocked_words": [{"keyword": "confidential", "action": "BLOCK"}]})),
        ("violence", json!({"categories": [{"category": "violence"}]})),
    ] {
        let g = WasmGuardrail::new(host.clone(), label, "cf", params.as_object().unwrap().clone()).unwrap();
        g.warm_up().await.unwrap();
        check(&g, &text).await.unwrap();
        let t = std::time::Instant::now();
        for _ in 0..20 {
            check(&g, &text).await.unwrap();
        }
        eprintln!("{label}: call with a {} byte prompt: {:?}", text.len(), t.elapsed() / 20);
    }
    let req = request(&text);
    let t = std::time::Instant::now();
    for _ in 0..20 {
        std::hint::black_box(tianji_plugin_host::convert::request(&req, false));
    }
    eprintln!("convert: {:?}", t.elapsed() / 20);
}
