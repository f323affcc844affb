//! Third-party plugins in Rust, JavaScript and Python, built from source with
//! `tianji plugin build` and run through the real proxy: the examples in
//! `examples/plugins/` (allow, block, modify, streamed post-call checks, HTTP
//! from a plugin, a logger), `plugin new` → `plugin build` → a blocked
//! request in each language, `plugin check`'s refusals, and JS and Python
//! plugins hot-loaded into a proxy under load.
//!
//! Needs the toolchains `scripts/test` installs: componentize-js in
//! `.tools/js` (`TIANJI_JS_TOOLS`), componentize-py in `.venv`
//! (`TIANJI_PY_TOOLS`), and the `wasm32-wasip2` Rust target.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tianji_core::config::Env;
use tianji_mock_upstream::{MockOptions, MockServer};
use tianji_server::LoadOptions;

mod common;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

const TIANJI: &str = env!("CARGO_BIN_EXE_tianji");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repo root")
}

fn target_dir() -> PathBuf {
    std::env::current_exe().expect("exe").ancestors().nth(3).expect("target dir").to_path_buf()
}

/// The toolchain locations, checked; a missing one fails with how to install it.
fn tools() -> (PathBuf, PathBuf) {
    let js = std::env::var_os("TIANJI_JS_TOOLS").map(PathBuf::from).unwrap_or_else(|| repo().join(".tools/js"));
    let py = std::env::var_os("TIANJI_PY_TOOLS").map(PathBuf::from).unwrap_or_else(|| repo().join(".venv"));
    assert!(
        js.join("node_modules/@bytecodealliance/componentize-js/package.json").exists(),
        "componentize-js is missing in {}: run scripts/test (it runs `npm ci` from tests/plugin-tools into .tools/js)",
        js.display()
    );
    assert!(
        py.join("bin/componentize-py").exists(),
        "componentize-py is missing in {}: run scripts/test (it installs tests/e2e/requirements.txt into .venv)",
        py.display()
    );
    (js, py)
}

/// Runs the `tianji` binary; returns (success, stdout + stderr).
fn tianji(args: &[&str], cwd: &Path) -> (bool, String) {
    let (js, py) = tools();
    let out = Command::new(TIANJI)
        .args(args)
        .current_dir(cwd)
        .env("TIANJI_JS_TOOLS", js)
        .env("TIANJI_PY_TOOLS", py)
        // Scaffolded Rust projects are workspaces of their own: share one target dir between runs.
        .env("CARGO_TARGET_DIR", target_dir().join("plugin-projects"))
        .output()
        .expect("run tianji");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn build(project: &Path, plugin_dir: &Path) {
    let started = Instant::now();
    let (ok, out) =
        tianji(&["plugin", "build", project.to_str().expect("path"), "--plugin-dir", plugin_dir.to_str().expect("path")], &repo());
    assert!(ok, "plugin build {}:\n{out}", project.display());
    eprintln!("built {} in {:.1} s", project.display(), started.elapsed().as_secs_f64());
}

struct Proxy {
    base: String,
    mock: MockServer,
    client: reqwest::Client,
    state: tianji_server::AppState,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Proxy {
    async fn start(extra: impl Fn(&str) -> String, plugin_dir: &Path) -> Proxy {
        let mock = tianji_mock_upstream::spawn(MockOptions::default()).await.expect("mock");
        let yaml = format!(
            "model_list:\n  - model_name: gpt\n    litellm_params: {{model: openai/gpt-4o, api_base: \"{}\", api_key: sk-up}}\n{}",
            mock.base_url(),
            extra(&mock.base_url())
        );
        let options = LoadOptions { config_path: None, plugin_dir: Some(plugin_dir.to_path_buf()) };
        let loaded = tianji_server::load_with(&yaml, Env::isolated([]), options).unwrap_or_else(|e| panic!("config: {e}"));
        let state = loaded.state.clone();
        let (base, tx, _) = common::serve(loaded.state).await;
        Proxy { base, mock, client: reqwest::Client::new(), state, _stop: tx }
    }

    async fn chat(&self, text: &str, extra: Value) -> (u16, Value) {
        let mut body = json!({"model": "gpt", "messages": [{"role": "user", "content": text}]});
        if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
            b.extend(e);
        }
        let resp = self.client.post(format!("{}/v1/chat/completions", self.base)).json(&body).send().await.expect("send");
        (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
    }

    /// A streamed chat: the assembled text and the error event's message, if any.
    async fn stream(&self, text: &str, extra: Value) -> (String, Option<String>) {
        let mut body = json!({"model": "gpt", "stream": true, "messages": [{"role": "user", "content": text}]});
        if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
            b.extend(e);
        }
        let raw = self
            .client
            .post(format!("{}/v1/chat/completions", self.base))
            .json(&body)
            .send()
            .await
            .expect("send")
            .text()
            .await
            .expect("body");
        let (mut out, mut error) = (String::new(), None);
        for line in raw.lines().filter_map(|l| l.strip_prefix("data: ")).filter(|l| *l != "[DONE]") {
            let v: Value = serde_json::from_str(line).expect("event");
            if let Some(m) = v["error"]["message"].as_str() {
                error = Some(m.to_owned());
            }
            if let Some(t) = v["choices"][0]["delta"]["content"].as_str() {
                out.push_str(t);
            }
        }
        (out, error)
    }
}

fn message(v: &Value) -> &str {
    v["error"]["message"].as_str().unwrap_or("")
}

#[tokio::test]
async fn the_examples_build_from_source_and_serve_through_the_proxy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = dir.path().join("plugins");
    let examples = repo().join("examples/plugins");
    for name in ["rust-moderation", "js-competitors", "python-pii", "js-jsonl-logger"] {
        build(&examples.join(name), &plugins);
    }
    // A Python logger from the template: HTTP through the host's http-request.
    let py_log = dir.path().join("py-log");
    let (ok, out) = tianji(&["plugin", "new", "logger", "py-log", "--lang", "python", "--dir", py_log.to_str().expect("path")], dir.path());
    assert!(ok, "{out}");
    build(&py_log, &plugins);
    let collector = wiremock::MockServer::start().await;
    Mock::given(method("POST")).and(path("/logs")).respond_with(ResponseTemplate::new(204)).mount(&collector).await;
    Mock::given(method("POST")).and(path("/py-logs")).respond_with(ResponseTemplate::new(204)).mount(&collector).await;
    let collector_url = format!("{}/logs", collector.uri());
    let py_collector_url = format!("{}/py-logs", collector.uri());
    let p = Proxy::start(
        |base| {
            format!(
                r#"guardrails:
  - guardrail_name: competitors
    litellm_params: {{guardrail: js-competitors, mode: pre_call, default_on: true, competitors: [Acme AI, Globex]}}
  - guardrail_name: competitors-in-answers
    litellm_params: {{guardrail: js-competitors, mode: post_call, competitors: [Initech]}}
  - guardrail_name: pii
    litellm_params: {{guardrail: python-pii, mode: [pre_call, post_call], mask: "<pii>"}}
  - guardrail_name: moderation
    litellm_params: {{guardrail: rust-moderation, mode: pre_call, url: "{base}/moderations", allowed_hosts: ["127.0.0.1:*"]}}
litellm_settings:
  callbacks: [js-jsonl-logger, py-log]
callback_settings:
  js-jsonl-logger: {{url: "{collector_url}", allowed_hosts: ["127.0.0.1:*"], batch_size: 1, flush_interval: 0.1}}
  py-log: {{url: "{py_collector_url}", batch_size: 1, flush_interval: 0.1}}
"#
            )
        },
        &plugins,
    )
    .await;

    // Allow.
    let (status, body) = p.chat("hello there", json!({})).await;
    assert_eq!(status, 200, "{body}");
    // Block (JavaScript), case-insensitively.
    let (status, body) = p.chat("is acme ai any good?", json!({})).await;
    assert_eq!(status, 400);
    assert!(message(&body).contains("the request mentions the competitor Acme AI"), "{body}");
    // Post-call, on a whole answer and on a stream (the mock echoes the question).
    let (status, body) = p.chat("compare with initech", json!({"guardrails": ["competitors-in-answers"]})).await;
    assert_eq!(status, 400, "{body}");
    assert!(message(&body).contains("the answer mentions the competitor Initech"), "{body}");
    let (text, error) = p.stream("compare with initech", json!({"guardrails": ["competitors-in-answers"]})).await;
    assert!(error.is_some_and(|e| e.contains("competitor Initech")), "the stream is cut with an error");
    assert!(!text.to_lowercase().contains("initech"), "{text}");
    // Modify (Python), in the request and the answer.
    let (status, body) = p.chat("mail jane.doe@example.com or call +1 415 555 0100", json!({"guardrails": ["pii"]})).await;
    assert_eq!(status, 200, "{body}");
    let sent = p.mock.last_request().expect("upstream")["body"]["messages"][0]["content"].clone();
    assert_eq!(sent, json!("mail <pii> or call <pii>"), "redacted before it went upstream");
    assert_eq!(body["choices"][0]["message"]["content"], "mock answer to: mail <pii> or call <pii>");
    // HTTP from a plugin (Rust, wasi:http to the allowed moderation endpoint).
    let (status, body) = p.chat("how do I kill a process?", json!({"guardrails": ["moderation"]})).await;
    assert_eq!(status, 400, "{body}");
    assert!(message(&body).contains("flagged by moderation"), "{body}");
    assert_eq!(p.chat("how do I list files?", json!({"guardrails": ["moderation"]})).await.0, 200);
    // The loggers (JavaScript with fetch, Python with the host's http-request) delivered JSON lines.
    let lines_at = |requests: &[wiremock::Request], at: &str| -> Vec<String> {
        requests
            .iter()
            .filter(|r| r.url.path() == at)
            .flat_map(|r| String::from_utf8_lossy(&r.body).lines().map(str::to_owned).collect::<Vec<_>>())
            .collect()
    };
    let (mut js_lines, mut py_lines) = (Vec::new(), Vec::new());
    for _ in 0..100 {
        let requests = collector.received_requests().await.unwrap_or_default();
        (js_lines, py_lines) = (lines_at(&requests, "/logs"), lines_at(&requests, "/py-logs"));
        if js_lines.len() >= 3 && py_lines.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(js_lines.len() >= 3 && py_lines.len() >= 3, "log lines at the collector: {js_lines:?} {py_lines:?}");
    let first: Value = serde_json::from_str(&js_lines[0]).expect("a JSON line");
    assert_eq!(first["model_group"], "gpt");
    let first: Value = serde_json::from_str(&py_lines[0]).expect("a JSON line");
    assert_eq!(first["status"], "success");

    // `plugin check`: the right world passes; a logger is not a guardrail; a foreign import is refused.
    let logger = plugins.join("js-jsonl-logger.wasm");
    let (ok, out) = tianji(&["plugin", "check", logger.to_str().expect("path")], &repo());
    assert!(ok && out.contains("logger-plugin") && out.contains("OK"), "{out}");
    let (ok, out) = tianji(&["plugin", "check", logger.to_str().expect("path"), "--kind", "guardrail"], &repo());
    assert!(!ok && out.contains("it is a logger plugin, not a guardrail"), "{out}");
    let fixture = repo().join("tests/plugin-fixtures/js-foreign-import");
    let sneaky = dir.path().join("sneaky.wasm");
    let (js, _) = tools();
    let built = Command::new("node")
        .arg(repo().join("sdk/js/componentize.mjs"))
        .arg(fixture.join("src/plugin.js"))
        .arg(fixture.join("wit"))
        .arg("sneaky")
        .arg(&sneaky)
        .arg(js.join("node_modules/@bytecodealliance/componentize-js"))
        .output()
        .expect("node");
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    let (ok, out) = tianji(&["plugin", "check", sneaky.to_str().expect("path")], &repo());
    assert!(!ok && out.contains("imports what the host does not provide") && out.contains("acme:fixture/kv"), "{out}");
    let not_wasm = dir.path().join("not.wasm");
    std::fs::write(&not_wasm, b"not a component").expect("write");
    let (ok, out) = tianji(&["plugin", "check", not_wasm.to_str().expect("path")], &repo());
    assert!(!ok && out.contains("not a valid component"), "{out}");
}

#[tokio::test]
async fn plugin_new_then_build_blocks_as_the_template_says_in_each_language() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = dir.path().join("plugins");
    for lang in ["rust", "js", "python"] {
        let name = format!("new-{lang}");
        let project = dir.path().join(&name);
        let (ok, out) =
            tianji(&["plugin", "new", "guardrail", &name, "--lang", lang, "--dir", project.to_str().expect("path")], dir.path());
        assert!(ok, "plugin new {lang}: {out}");
        build(&project, &plugins);
        let wasm = project.join(format!("dist/{name}.wasm"));
        let (ok, out) = tianji(
            &["plugin", "test", wasm.to_str().expect("path"), "--request", "test/request.json", "--expect", "block", "--runs", "20"],
            &project,
        );
        assert!(ok, "plugin test {lang}: {out}");
        assert!(out.contains("\"p50\""), "timing is printed: {out}");
    }
    let p = Proxy::start(
        |_| {
            let mut g = String::from("guardrails:\n");
            for lang in ["rust", "js", "python"] {
                g.push_str(&format!(
                    "  - guardrail_name: g-{lang}\n    litellm_params: {{guardrail: new-{lang}, mode: pre_call, default_on: true}}\n"
                ));
            }
            g
        },
        &plugins,
    )
    .await;
    assert_eq!(p.chat("say nice things", json!({})).await.0, 200);
    let (status, body) = p.chat("say forbidden things", json!({})).await;
    assert_eq!(status, 400);
    assert!(message(&body).contains("the request mentions 'forbidden'"), "{body}");
    let statuses: Vec<String> = p.state.plugins.host.status().iter().map(|s| format!("{}={:?}", s.name, s.state)).collect();
    assert_eq!(statuses.len(), 3, "{statuses:?}");
}

#[tokio::test]
async fn js_and_python_plugins_hot_load_under_load_without_a_failed_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    let built_dir = dir.path().join("built");
    let examples = repo().join("examples/plugins");
    build(&examples.join("js-competitors"), &built_dir);
    build(&examples.join("python-pii"), &built_dir);
    let live = dir.path().join("live");
    std::fs::create_dir_all(&live).expect("dir");
    let trivial = target_dir().join("wasm32-wasip2/plugin/trivial_guardrail.wasm");
    assert!(trivial.exists(), "{} is missing: run scripts/build-plugins", trivial.display());
    std::fs::copy(&trivial, live.join("hot.wasm")).expect("copy");
    std::fs::write(live.join("hot.toml"), "name = \"hot\"\n[config]\nword = \"banana\"\ncompetitors = [\"Acme AI\"]\n").expect("manifest");
    let p = Arc::new(
        Proxy::start(
            |_| {
                "guardrails:\n  - guardrail_name: g\n    litellm_params: {guardrail: hot, mode: [pre_call, post_call], default_on: true}\n"
                    .to_owned()
            },
            &live,
        )
        .await,
    );
    p.state.plugins.watch();
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for _ in 0..3 {
        let (p, stop) = (p.clone(), stop.clone());
        load.push(tokio::spawn(async move {
            let (mut ok, mut failed) = (0u32, Vec::new());
            while !stop.load(Ordering::Relaxed) {
                let (status, body) = p.chat("a neutral question", json!({})).await;
                if status == 200 { ok += 1 } else { failed.push(body) }
            }
            (ok, failed)
        }));
    }
    // Swap in the JavaScript guardrail, then the Python one, under the same name.
    let swaps = [("js-competitors", "is acme ai better?", 400), ("python-pii", "mail jane@example.com", 200)];
    for (from, probe, want) in swaps {
        let started = Instant::now();
        std::fs::copy(built_dir.join(format!("{from}.wasm")), live.join("hot.wasm.new")).expect("copy");
        std::fs::rename(live.join("hot.wasm.new"), live.join("hot.wasm")).expect("rename");
        loop {
            let (status, body) = p.chat(probe, json!({})).await;
            let serving = match from {
                "js-competitors" => status == 400,
                _ => status == 200 && body["choices"][0]["message"]["content"].as_str().is_some_and(|c| c.contains("[REDACTED]")),
            };
            if serving {
                assert_eq!(status, want);
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(120), "{from} not serving after 120 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        eprintln!("{from} serving {:.1} s after it was written (compiled off the request path)", started.elapsed().as_secs_f64());
    }
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    for t in load {
        let (ok, failed) = t.await.expect("load task");
        assert!(failed.is_empty(), "failed requests during the swaps: {failed:?}");
        total += ok;
    }
    assert!(total > 20, "the load ran ({total} requests)");
    eprintln!("JS and Python hot-loaded under load: {total} requests, none failed");
}
