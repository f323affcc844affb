//! Guardrail plugins through the real app: pre-call, during-call and
//! post-call verdicts, failure policies for misbehaving plugins, hot reload
//! of plugins and of the `guardrails:` policy, and start-up errors.
//!
//! The plugins are the built-in `trivial_guardrail` and the fixture
//! `test_guardrail`, built by `scripts/build-plugins` into
//! `<target>/wasm32-wasip2/plugin/`, which the proxy finds beside its binary.

#![allow(clippy::unwrap_used, reason = "test helpers: a failure should panic with its location")]

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use tianji_core::config::Env;
use tianji_mock_upstream::{MockOptions, MockServer};
use tianji_server::LoadOptions;

fn built(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.ancestors().nth(3).unwrap().join("wasm32-wasip2/plugin").join(format!("{name}.wasm"));
    assert!(path.exists(), "{} is missing: run scripts/build-plugins first", path.display());
    path
}

struct Proxy {
    base: String,
    mock: MockServer,
    client: reqwest::Client,
    state: tianji_server::AppState,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Proxy {
    async fn start(guardrails: &str, plugin_dir: Option<&Path>, config_path: Option<&Path>) -> Proxy {
        let mock = tianji_mock_upstream::spawn(MockOptions::default()).await.unwrap();
        let yaml = config(&mock.base_url(), guardrails);
        if let Some(p) = config_path {
            std::fs::write(p, &yaml).unwrap();
        }
        let options = LoadOptions { config_path: config_path.map(Path::to_path_buf), plugin_dir: plugin_dir.map(Path::to_path_buf) };
        let loaded = tianji_server::load_with(&yaml, Env::isolated([]), options).unwrap_or_else(|e| panic!("config: {e}"));
        let state = loaded.state.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(tianji_server::serve(
            listener,
            loaded.state,
            async move {
                let _ = rx.await;
            },
            Duration::from_secs(1),
        ));
        Proxy { base, mock, client: reqwest::Client::new(), state, _stop: tx }
    }

    async fn chat(&self, text: &str, extra: Value) -> (u16, Value, reqwest::header::HeaderMap) {
        let mut body = json!({"model": "gpt", "messages": [{"role": "user", "content": text}]});
        if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
            b.extend(e);
        }
        let resp = self.client.post(format!("{}/v1/chat/completions", self.base)).json(&body).send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        (status, resp.json().await.unwrap_or(Value::Null), headers)
    }

    /// Streams a chat; returns the assembled text and the error event's message, if any.
    async fn stream(&self, text: &str, extra: Value) -> (String, Option<String>) {
        let mut body = json!({"model": "gpt", "stream": true, "messages": [{"role": "user", "content": text}]});
        if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
            b.extend(e);
        }
        let resp = self.client.post(format!("{}/v1/chat/completions", self.base)).json(&body).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let raw = resp.text().await.unwrap();
        let (mut out, mut error, mut done) = (String::new(), None, false);
        for line in raw.lines().filter_map(|l| l.strip_prefix("data: ")) {
            if line == "[DONE]" {
                done = true;
                continue;
            }
            let v: Value = serde_json::from_str(line).unwrap();
            if let Some(m) = v["error"]["message"].as_str() {
                error = Some(m.to_string());
            }
            if let Some(t) = v["choices"][0]["delta"]["content"].as_str() {
                out.push_str(t);
            }
        }
        assert_eq!(done, error.is_none(), "[DONE] ends a clean stream only: {raw}");
        (out, error)
    }

    async fn get(&self, path: &str) -> Value {
        self.client.get(format!("{}{path}", self.base)).send().await.unwrap().json().await.unwrap()
    }
}

fn config(base: &str, guardrails: &str) -> String {
    format!(
        "model_list:\n  - model_name: gpt\n    litellm_params:\n      model: openai/gpt-4o\n      api_base: {base}\n      api_key: sk-up\n  - model_name: gpt-tools\n    litellm_params:\n      model: openai/gpt-tools\n      api_base: {base}\n      api_key: sk-up\n{guardrails}"
    )
}

fn content(v: &Value) -> &str {
    v["choices"][0]["message"]["content"].as_str().unwrap_or("")
}

#[tokio::test]
async fn pre_during_and_post_call_verdicts() {
    let p = Proxy::start(
        r#"guardrails:
  - guardrail_name: no-banana
    litellm_params: {guardrail: trivial_guardrail, mode: pre_call, default_on: true, word: banana}
  - guardrail_name: mask-secret
    litellm_params: {guardrail: test_guardrail, mode: pre_call, default_on: true, on_request: redact, word: hunter2}
  - guardrail_name: answer-filter
    litellm_params: {guardrail: test_guardrail, mode: post_call, on_response: redact, word: cherry}
  - guardrail_name: answer-block
    litellm_params: {guardrail: test_guardrail, mode: post_call, on_response: block, word: durian}
  - guardrail_name: parallel
    litellm_params: {guardrail: test_guardrail, mode: during_call, on_request: block, word: elderberry}
  - guardrail_name: observer
    litellm_params: {guardrail: trivial_guardrail, mode: logging_only}
"#,
        None,
        None,
    )
    .await;

    let (status, body, headers) = p.chat("hello", json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["x-litellm-applied-guardrails"], "no-banana,mask-secret");

    let (status, body, _) = p.chat("I want a banana", json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "guardrail_violation");
    assert!(body["error"]["message"].as_str().unwrap().contains("guardrail 'no-banana' blocked the request"), "{body}");
    assert_eq!(body["error"]["details"]["guardrail"], "no-banana");
    assert_eq!(body["error"]["details"]["violation"]["word"], "banana");

    // Redaction happens before the request goes upstream.
    let (status, body, _) = p.chat("my password is hunter2", json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(p.mock.last_request().unwrap()["body"]["messages"][0]["content"], "my password is [REDACTED]");

    // Post-call guardrails are opt-in here: selected per request.
    let (status, body, headers) = p.chat("say cherry", json!({"guardrails": ["answer-filter"]})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(content(&body), "mock answer to: say [REDACTED]");
    assert!(headers["x-litellm-applied-guardrails"].to_str().unwrap().contains("answer-filter"));
    let (status, body, _) = p.chat("say durian", json!({"metadata": {"guardrails": ["answer-block"]}})).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("'answer-block' blocked the response"), "{body}");

    // During-call: the upstream is called, the answer is held and refused.
    let before = p.mock.last_request().unwrap();
    let (status, body, _) = p.chat("elderberry wine", json!({"guardrails": ["parallel"]})).await;
    assert_eq!(status, 400, "{body}");
    assert_ne!(p.mock.last_request().unwrap(), before, "the upstream call ran in parallel");

    // Unknown guardrail names are the client's error; streams refuse post_call checks clearly.
    let (status, body, _) = p.chat("hi", json!({"guardrails": ["nope"]})).await;
    assert_eq!((status, body["error"]["param"].as_str()), (400, Some("guardrails")), "{body}");

    // Streams: post-call guardrails check rolling windows and the end.
    let long = format!("{} cherry {}", "a".repeat(300), "b".repeat(300));
    for text in ["say cherry", long.as_str()] {
        let (text_out, error) = p.stream(text, json!({"guardrails": ["answer-filter"]})).await;
        assert_eq!(error, None);
        assert_eq!(text_out, format!("mock answer to: {}", text.replace("cherry", "[REDACTED]")));
    }
    let (text_out, error) = p.stream("say durian", json!({"guardrails": ["answer-block"]})).await;
    assert!(error.unwrap().contains("'answer-block' blocked the response"));
    assert!(!text_out.contains("durian"), "{text_out}");
    let (text_out, error) = p.stream("plain", json!({})).await;
    assert_eq!((text_out.as_str(), error), ("mock answer to: plain", None));

    // logging_only: observes the answer off the response path and changes nothing.
    let calls =
        |v: &Value| v["plugins"].as_array().unwrap().iter().find(|x| x["name"] == "trivial_guardrail").unwrap()["calls"].as_u64().unwrap();
    let before = calls(&p.get("/plugins").await);
    let (status, body, headers) = p.chat("say cherry", json!({"guardrails": ["observer"]})).await;
    assert_eq!((status, content(&body)), (200, "mock answer to: say cherry"));
    assert!(headers["x-litellm-applied-guardrails"].to_str().unwrap().contains("observer"));
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while calls(&p.get("/plugins").await) < before + 2 {
        assert!(std::time::Instant::now() < deadline, "the logging_only guardrail never ran");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let list = p.get("/guardrails/list").await;
    assert_eq!(list["guardrails"].as_array().unwrap().len(), 6);
    assert_eq!(list["guardrails"][0]["litellm_params"]["guardrail"], "trivial_guardrail");
    assert_eq!(list["guardrails"][0]["guardrail_info"]["failure_policy"], "fail_closed");
}

#[tokio::test]
async fn misbehaving_plugins_are_contained_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(built("test_guardrail"), dir.path().join("bad.wasm")).unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "version = \"1.0.0\"\nallowed_hosts = [\"127.0.0.1:1\"]\n[limits]\ntimeout_ms = 300\nmemory_mb = 64\n",
    )
    .unwrap();
    let mut yaml = String::from("guardrails:\n");
    for action in ["loop", "trap", "alloc", "garbage", "error", "http"] {
        for policy in ["fail_closed", "fail_open"] {
            yaml.push_str(&format!(
                "  - guardrail_name: {action}-{policy}\n    litellm_params: {{guardrail: bad, mode: pre_call, failure_policy: {policy}, on_request: {action}, target: 'http://203.0.113.9:80/x'}}\n"
            ));
        }
    }
    let p = Proxy::start(&yaml, Some(dir.path()), None).await;
    for action in ["loop", "trap", "alloc", "garbage", "error", "http"] {
        let started = std::time::Instant::now();
        let (status, body, _) = p.chat("hi", json!({"guardrails": [format!("{action}-fail_closed")]})).await;
        assert_eq!(status, 500, "{action}: {body}");
        assert_eq!(body["error"]["code"], "guardrail_failed", "{action}: {body}");
        assert!(started.elapsed() < Duration::from_secs(3), "{action} took {:?}", started.elapsed());
        let (status, body, _) = p.chat("hi", json!({"guardrails": [format!("{action}-fail_open")]})).await;
        assert_eq!(status, 200, "{action} fail_open: {body}");
        // And the proxy still serves plain requests.
        assert_eq!(p.chat("hi", json!({})).await.0, 200);
    }
    let (_, body, _) = p.chat("hi", json!({"guardrails": ["loop-fail_closed"]})).await;
    assert!(body["error"]["message"].as_str().unwrap().contains("timed out"), "{body}");
    let (_, body, _) = p.chat("hi", json!({"guardrails": ["garbage-fail_closed"]})).await;
    assert!(body["error"]["message"].as_str().unwrap().contains("invalid output"), "{body}");
    let (_, body, _) = p.chat("hi", json!({"guardrails": ["http-fail_closed"]})).await;
    assert!(body["error"]["message"].as_str().unwrap().contains("allowed_hosts"), "{body}");

    let plugins = p.get("/plugins").await;
    let bad = plugins["plugins"].as_array().unwrap().iter().find(|x| x["name"] == "bad").unwrap().clone();
    assert_eq!(bad["state"], "active");
    assert!(bad["timeouts"].as_u64().unwrap() >= 3, "{bad}");
    assert!(bad["errors"].as_u64().unwrap() >= 12, "{bad}");
    assert!(bad["denied_http"].as_u64().unwrap() >= 2, "{bad}");
    assert!(bad["p99_ms"].as_f64().is_some(), "{bad}");
}

#[tokio::test]
async fn hot_reload_of_plugins_and_policy() {
    let dir = tempfile::tempdir().unwrap();
    let cfg_dir = tempfile::tempdir().unwrap();
    let config_path = cfg_dir.path().join("config.yaml");
    let wasm = dir.path().join("swappable.wasm");
    std::fs::copy(built("trivial_guardrail"), &wasm).unwrap();
    std::fs::write(dir.path().join("swappable.toml"), "[config]\nword = \"alpha\"\n").unwrap();
    let p = Proxy::start(
        "guardrails:\n  - guardrail_name: g\n    litellm_params: {guardrail: swappable, mode: pre_call, default_on: true}\n",
        Some(dir.path()),
        Some(&config_path),
    )
    .await;
    p.state.plugins.watch();
    assert_eq!(p.chat("alpha", json!({})).await.0, 400);
    assert_eq!(p.chat("beta", json!({})).await.0, 200);

    // A new manifest is picked up by the watcher within a second.
    std::fs::write(dir.path().join("swappable.toml"), "version = \"2.0.0\"\n[config]\nword = \"beta\"\n").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    while p.chat("beta", json!({})).await.0 != 400 {
        assert!(std::time::Instant::now() < deadline, "the new version was not picked up within 1 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(p.chat("alpha", json!({})).await.0, 200);

    // A broken component leaves the previous version serving.
    std::fs::write(&wasm, b"not wasm at all").unwrap();
    let report: Value = p.client.post(format!("{}/plugins/reload", p.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(report["plugins"]["failed"][0][0], "swappable", "{report}");
    assert_eq!(p.chat("beta", json!({})).await.0, 400);
    let status = p.get("/plugins").await;
    let s = status["plugins"].as_array().unwrap().iter().find(|x| x["name"] == "swappable").unwrap().clone();
    assert_eq!((s["state"].as_str(), s["version"].as_str()), (Some("failed"), Some("2.0.0")), "{s}");

    // The policy reloads too: an invalid change is rejected, a valid one applies.
    let base = p.mock.base_url();
    std::fs::write(
        &config_path,
        config(&base, "guardrails:\n  - guardrail_name: g\n    litellm_params: {guardrail: missing_plugin, mode: pre_call}\n"),
    )
    .unwrap();
    let report: Value = p.client.post(format!("{}/plugins/reload", p.base)).send().await.unwrap().json().await.unwrap();
    assert!(report["guardrails"]["rejected"][0].as_str().unwrap().contains("missing_plugin"), "{report}");
    assert_eq!(p.chat("beta", json!({})).await.0, 400, "the old policy keeps serving");
    std::fs::write(&config_path, config(&base, "guardrails: []\n")).unwrap();
    let report: Value = p.client.post(format!("{}/plugins/reload", p.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(report["guardrails"], "reloaded", "{report}");
    assert_eq!(p.chat("beta", json!({})).await.0, 200);
}

#[test]
fn start_up_names_every_guardrail_problem() {
    let yaml = config(
        "http://127.0.0.1:1/v1",
        r#"guardrails:
  - guardrail_name: a
    litellm_params: {guardrail: no_such_plugin, mode: pre_call}
  - guardrail_name: b
    litellm_params: {guardrail: test_guardrail, mode: pre_call, on_request: http}
"#,
    );
    let err = tianji_server::load_str(&yaml, Env::isolated([])).err().expect("config must fail").to_string();
    assert!(err.contains("guardrails[0].litellm_params.guardrail: no plugin named \"no_such_plugin\""), "{err}");
    assert!(err.contains("guardrails[1].litellm_params:") && err.contains("`target` is required"), "{err}");
}

#[tokio::test]
async fn content_filter_masks_and_blocks_as_litellm_does() {
    let cfg_dir = tempfile::tempdir().unwrap();
    std::fs::write(cfg_dir.path().join("words.yaml"), "blocked_words:\n  - keyword: project zeus\n    action: MASK\n").unwrap();
    let p = Proxy::start(
        r#"guardrails:
  - guardrail_name: pii
    litellm_params:
      guardrail: litellm_content_filter
      mode: [pre_call, post_call]
      default_on: true
      patterns:
        - {pattern_type: prebuilt, pattern_name: email, action: MASK}
        - {pattern_type: prebuilt, pattern_name: us_ssn, action: BLOCK}
      blocked_words:
        - {keyword: confidential, action: BLOCK, description: Internal only}
      blocked_words_file: words.yaml
      categories:
        - {category: harmful_self_harm, action: BLOCK}
"#,
        None,
        Some(&cfg_dir.path().join("config.yaml")),
    )
    .await;
    let (status, body, _) = p.chat("write to jane@example.com about Project Zeus", json!({})).await;
    assert_eq!(status, 200, "{body}");
    let sent = p.mock.last_request().unwrap()["body"]["messages"][0]["content"].clone();
    assert_eq!(sent, "write to [EMAIL_REDACTED] about [KEYWORD_REDACTED]");
    // The mock echoes the (masked) text; post_call masks what it answers too.
    assert_eq!(content(&body), "mock answer to: write to [EMAIL_REDACTED] about [KEYWORD_REDACTED]");

    let (status, body, _) = p.chat("my ssn is 123-45-6789", json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("Content blocked: us_ssn pattern detected"), "{body}");
    assert_eq!(body["error"]["details"]["violation"]["pattern"], "us_ssn");
    let (status, body, _) = p.chat("this is Confidential", json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("keyword 'confidential' detected (Internal only)"), "{body}");
    let (status, _, _) = p.chat("I want to end my life", json!({})).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn tool_permission_rewrites_offered_tools_and_blocks_calls() {
    let p = Proxy::start(
        r#"guardrails:
  - guardrail_name: offered
    litellm_params:
      guardrail: tool_permission
      mode: pre_call
      default_on: true
      rules:
        - {id: weather_ok, tool_name: "get_.*", decision: allow}
      on_disallowed_action: rewrite
  - guardrail_name: calls
    litellm_params:
      guardrail: tool_permission
      mode: post_call
      rules:
        - {id: no_weather, tool_name: get_weather, decision: deny}
      default_action: allow
"#,
        None,
        None,
    )
    .await;
    let tools = json!([
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}},
        {"type": "function", "function": {"name": "delete_everything", "parameters": {"type": "object"}}}
    ]);
    let (status, body, _) = p.chat("weather?", json!({"model": "gpt", "tools": tools})).await;
    assert_eq!(status, 200, "{body}");
    let sent = p.mock.last_request().unwrap()["body"]["tools"].clone();
    assert_eq!(sent.as_array().unwrap().len(), 1, "{sent}");
    assert_eq!(sent[0]["function"]["name"], "get_weather");

    // The mock answers with a get_weather tool call when the model name says "tools".
    let (status, body, _) = p.chat("weather?", json!({"model": "gpt-tools", "tools": tools})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["choices"][0]["message"]["tool_calls"][0]["function"]["name"], "get_weather");
    let (status, body, _) = p.chat("weather?", json!({"model": "gpt-tools", "tools": tools, "guardrails": ["calls"]})).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("Tool 'get_weather' denied by rule 'no_weather'"), "{body}");
    assert_eq!(body["error"]["details"]["violation"]["detection_message"], "Tool 'get_weather' denied by rule 'no_weather'");
}

#[tokio::test]
async fn generic_guardrail_api_speaks_litellms_wire_format() {
    use wiremock::matchers::{body_partial_json, header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let guard = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/beta/litellm_basic_guardrail_api"))
        .and(header("x-api-key", "gk-test"))
        .and(header("x-tenant", "acme"))
        .and(body_partial_json(
            json!({"input_type": "request", "texts": ["block me please"], "additional_provider_specific_params": {"policy": "strict"}}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"action": "BLOCKED", "blocked_reason": "policy says no"})))
        .mount(&guard)
        .await;
    Mock::given(method("POST"))
        .and(path("/beta/litellm_basic_guardrail_api"))
        .and(body_partial_json(json!({"input_type": "request", "texts": ["my name is Alice"]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"action": "GUARDRAIL_INTERVENED", "texts": ["my name is [NAME]"]})))
        .mount(&guard)
        .await;
    Mock::given(method("POST"))
        .and(path("/beta/litellm_basic_guardrail_api"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"action": "NONE"})))
        .mount(&guard)
        .await;
    let p = Proxy::start(
        &format!(
            "guardrails:\n  - guardrail_name: remote\n    litellm_params:\n      guardrail: generic_guardrail_api\n      mode: pre_call\n      default_on: true\n      api_base: {}\n      api_key: gk-test\n      headers: {{x-tenant: acme}}\n      additional_provider_specific_params: {{policy: strict}}\n",
            guard.uri()
        ),
        None,
        None,
    )
    .await;
    let (status, body, _) = p.chat("block me please", json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("policy says no"), "{body}");
    let (status, body, _) = p.chat("my name is Alice", json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(p.mock.last_request().unwrap()["body"]["messages"][0]["content"], "my name is [NAME]");
    let (status, _, _) = p.chat("hello", json!({})).await;
    assert_eq!(status, 200);
    let seen = guard.received_requests().await.unwrap();
    let first: Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(first["litellm_call_id"].as_str().map(str::len), Some(36), "{first}");
    assert_eq!(first["structured_messages"][0]["role"], "user");
}

#[tokio::test]
async fn webhook_logger_batches_call_logs() {
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let sink = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/ingest"))
        .and(header("authorization", "Bearer log-key"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&sink)
        .await;
    let p = Proxy::start(
        &format!(
            "litellm_settings:\n  success_callback: [webhook]\n  failure_callback: [webhook]\ncallback_settings:\n  webhook:\n    url: {}/ingest\n    headers: {{authorization: Bearer log-key}}\n    batch_size: 2\n    flush_interval: 60\n",
            sink.uri()
        ),
        None,
        None,
    )
    .await;
    assert_eq!(p.chat("one", json!({})).await.0, 200);
    assert_eq!(p.chat("two", json!({"metadata": {"team": "a"}})).await.0, 200);
    assert_eq!(p.chat("three", json!({"model": "no-such-model"})).await.0, 400);
    // Two events make a full batch; the third waits for the interval or for shutdown.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while sink.received_requests().await.unwrap().is_empty() {
        assert!(std::time::Instant::now() < deadline, "no batch arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    p.state.plugins.logging.shutdown(Duration::from_secs(5)).await;
    let batches = sink.received_requests().await.unwrap();
    assert_eq!(batches.len(), 2, "a full batch, then the rest at shutdown");
    let first: Value = serde_json::from_slice(&batches[0].body).unwrap();
    assert_eq!(first.as_array().unwrap().len(), 2);
    let e = &first[0];
    assert_eq!(
        (e["status"].as_str(), e["call_type"].as_str(), e["model_group"].as_str()),
        (Some("success"), Some("acompletion"), Some("gpt"))
    );
    assert!(e["prompt_tokens"].as_u64().unwrap() > 0, "{e}");
    assert_eq!(e["messages"][0]["content"], "one");
    assert_eq!(e["response"]["object"], "chat.completion");
    assert_eq!(first[1]["metadata"]["team"], "a");
    let last: Value = serde_json::from_slice(&batches[1].body).unwrap();
    assert_eq!(last[0]["status"], "failure");
    assert!(last[0]["error_str"].as_str().unwrap().contains("no-such-model"), "{last}");
}

#[tokio::test]
async fn managed_prompts_resolve_before_routing() {
    let cfg_dir = tempfile::tempdir().unwrap();
    std::fs::write(
        cfg_dir.path().join("support.prompt"),
        "---\nmodel: gpt\ntemperature: 0.25\n---\nSystem: You help {{company}} customers.\nUser: My name is {{name}}.\n",
    )
    .unwrap();
    let p = Proxy::start(
        "prompts:\n  - prompt_id: support\n    litellm_params:\n      prompt_integration: dotprompt\n      prompt_file: support.prompt\n",
        None,
        Some(&cfg_dir.path().join("config.yaml")),
    )
    .await;
    let resp = p
        .client
        .post(format!("{}/v1/chat/completions", p.base))
        .json(&json!({"model": "ignored-by-template", "prompt_id": "support", "prompt_variables": {"company": "Acme", "name": "Ana"},
                      "messages": [{"role": "user", "content": "Where is my order?"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let sent = p.mock.last_request().unwrap()["body"].clone();
    assert_eq!(sent["messages"][0], json!({"role": "system", "content": "You help Acme customers."}));
    assert_eq!(sent["messages"][1]["content"], "My name is Ana.");
    assert_eq!(sent["messages"][2]["content"], "Where is my order?");
    assert_eq!(sent["temperature"], 0.25);
    assert!(sent.get("prompt_id").is_none() && sent.get("prompt_variables").is_none(), "{sent}");

    let resp = p
        .client
        .post(format!("{}/v1/chat/completions", p.base))
        .json(&json!({"prompt_id": "support", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("not given: company, name"), "{body}");
    let resp = p
        .client
        .post(format!("{}/v1/chat/completions", p.base))
        .json(&json!({"model": "gpt", "prompt_id": "nope", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

/// A component that behaves like `wasm` but has its own content hash.
fn distinct_copy(wasm: &[u8], n: u8) -> Vec<u8> {
    let name = b"tianji-test-copy";
    let mut section = vec![name.len() as u8];
    section.extend_from_slice(name);
    section.push(n);
    let mut out = wasm.to_vec();
    out.push(0);
    out.push(section.len() as u8);
    out.extend_from_slice(&section);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_swaps_under_load_lose_no_request() {
    let dir = tempfile::tempdir().unwrap();
    let trivial = std::fs::read(built("trivial_guardrail")).unwrap();
    let wasm = dir.path().join("swap.wasm");
    let manifest = dir.path().join("swap.toml");
    std::fs::write(&wasm, distinct_copy(&trivial, 0)).unwrap();
    std::fs::write(&manifest, "[config]\nword = \"word0\"\n").unwrap();
    let p = std::sync::Arc::new(
        Proxy::start(
            "guardrails:\n  - guardrail_name: g\n    litellm_params: {guardrail: swap, mode: pre_call, default_on: true}\n",
            Some(dir.path()),
            None,
        )
        .await,
    );
    p.state.plugins.watch();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (p, stop) = (p.clone(), stop.clone());
        load.push(tokio::spawn(async move {
            let (mut ok, mut failed) = (0u32, Vec::new());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let (status, body, _) = p.chat("a neutral question", json!({})).await;
                if status == 200 { ok += 1 } else { failed.push(body) }
            }
            (ok, failed)
        }));
    }
    let mut worst = Duration::ZERO;
    for i in 1..=10u8 {
        // A new component (own hash, compiled fresh) that blocks a different word.
        std::fs::write(&manifest, format!("[config]\nword = \"word{i}\"\n")).unwrap();
        std::fs::write(&wasm, distinct_copy(&trivial, i)).unwrap();
        let written = std::time::Instant::now();
        loop {
            let (status, _, _) = p.chat(&format!("say word{i}"), json!({})).await;
            if status == 400 {
                break;
            }
            assert!(written.elapsed() < Duration::from_secs(1), "version {i} not serving within 1 s");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        worst = worst.max(written.elapsed());
        assert_eq!(p.chat(&format!("say word{}", i - 1), json!({})).await.0, 200, "the old version's word passes");
    }
    // A broken component leaves version 10 serving.
    std::fs::write(&wasm, b"\0asm broken").unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(p.chat("say word10", json!({})).await.0, 400);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut total = 0;
    for t in load {
        let (ok, failed) = t.await.unwrap();
        assert!(failed.is_empty(), "failed requests during swaps: {failed:?}");
        total += ok;
    }
    assert!(total > 50, "the load generator ran ({total} requests)");
    eprintln!("10 swaps under load: {total} requests, none failed; slowest swap visible after {worst:?}");
}
