//! The proxy against the mock upstream, in-process: wire shapes sent
//! upstream, retries, fallbacks, cooldowns, timeouts, streaming, client
//! disconnects and graceful shutdown.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};
use tianji_core::config::Env;
use tianji_mock_upstream::MockOptions;

mod common;
use common::Harness;

fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
}

fn openai(base: &str, extra: &str) -> String {
    format!(
        r#"
model_list:
  - model_name: gpt-4o
    litellm_params: {{model: openai/gpt-4o-2024-08-06, api_base: "{base}", api_key: sk-upstream, temperature: 0.3}}
  - model_name: limited
    litellm_params: {{model: openai/error-429, api_base: "{base}", api_key: k}}
  - model_name: broken
    litellm_params: {{model: openai/error-500, api_base: "{base}", api_key: k}}
  - model_name: flaky
    litellm_params: {{model: openai/flaky-1, api_base: "{base}", api_key: k}}
  - model_name: slow
    litellm_params: {{model: openai/timeout, api_base: "{base}", api_key: k, timeout: 0.3}}
  - model_name: dropper
    litellm_params: {{model: openai/drop-mid-stream, api_base: "{base}", api_key: k}}
  - model_name: tools
    litellm_params: {{model: openai/tools, api_base: "{base}", api_key: k}}
  - model_name: embed
    litellm_params: {{model: openai/text-embedding-3-small, api_base: "{base}", api_key: k}}
  - model_name: instruct
    litellm_params: {{model: text-completion-openai/gpt-3.5-turbo-instruct, api_base: "{base}", api_key: k}}
  - model_name: o1-like
    litellm_params: {{model: openai/o1-mini, api_base: "{base}", api_key: k, additional_drop_params: ["temperature", "logit_bias"]}}
  - model_name: "groq/*"
    litellm_params: {{model: "groq/*", api_base: "{base}", api_key: k}}
router_settings:
  num_retries: 1
  retry_after: 0
  fallbacks: [{{"broken": ["gpt-4o"]}}]
  model_group_alias: {{"gpt-4": "gpt-4o"}}
general_settings:
  master_key: sk-test
{extra}
"#
    )
}

#[tokio::test]
async fn chat_passes_through_to_openai_format_upstreams() {
    let h = Harness::start(|base, _| openai(base, "")).await;
    let mut body = chat("gpt-4o");
    body["seed"] = json!(7);
    body["logit_bias"] = json!({"50256": -100});
    body["metadata"] = json!({"trace": "abc"});
    body["num_retries"] = json!(0);
    let resp = h.post("/v1/chat/completions", body).await;
    assert_eq!(resp.status(), 200);
    let headers = resp.headers().clone();
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["choices"][0]["message"]["content"], "mock answer to: hi");
    assert_eq!(v["model"], "gpt-4o-2024-08-06");
    for name in [
        "x-litellm-call-id",
        "x-litellm-model-id",
        "x-litellm-model-api-base",
        "x-litellm-model-group",
        "x-litellm-attempted-retries",
        "x-litellm-attempted-fallbacks",
        "x-litellm-response-duration-ms",
        "x-litellm-overhead-duration-ms",
        "x-litellm-max-retries",
        "x-litellm-timeout",
        "x-litellm-version",
    ] {
        assert!(headers.contains_key(name), "missing {name}");
    }
    let size: usize = headers.iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
    assert!(size < 4096, "response headers take {size} bytes");
    assert_eq!(headers["x-litellm-model-group"], "gpt-4o");
    assert_eq!(headers["x-ratelimit-remaining-requests"], "9999", "upstream rate-limit headers are relayed");
    assert!(!headers.contains_key("x-request-id"), "other upstream headers are not");
    assert_eq!(headers["x-litellm-max-retries"], "0");
    assert!(!headers.contains_key("x-litellm-model-region"), "no region configured, no header (as in LiteLLM)");

    let up = h.upstream();
    assert_eq!(up["path"], "/v1/chat/completions");
    assert_eq!(up["headers"]["authorization"], "Bearer sk-upstream");
    assert_eq!(up["body"]["model"], "gpt-4o-2024-08-06");
    assert_eq!(up["body"]["seed"], 7, "unknown fields pass through");
    assert_eq!(up["body"]["logit_bias"]["50256"], -100);
    assert_eq!(up["body"]["temperature"], 0.3, "deployment default params apply");
    assert!(up["body"].get("metadata").is_none(), "gateway-only fields never reach the upstream");
    assert!(up["body"].get("num_retries").is_none());
}

#[tokio::test]
async fn azure_uses_deployment_urls_api_version_and_api_key() {
    let h = Harness::start(|_, root| {
        format!(
            "model_list:\n  - model_name: az\n    litellm_params: {{model: azure/my-gpt4o, api_base: \"{root}\", api_key: az-key, api_version: 2024-10-21}}\n"
        )
    })
    .await;
    let resp = h
        .client
        .post(format!("{}/openai/deployments/az/chat/completions", h.base))
        .json(&json!({"messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 200);
    let up = h.upstream();
    assert_eq!(up["path"], "/openai/deployments/my-gpt4o/chat/completions");
    assert_eq!(up["query"], "api-version=2024-10-21");
    assert_eq!(up["headers"]["api-key"], "az-key");
    assert!(up["headers"].get("authorization").is_none());
}

#[tokio::test]
async fn upstream_errors_keep_their_class() {
    let h = Harness::start(|base, _| openai(base, "")).await;
    let mut b = chat("limited");
    b["num_retries"] = json!(0);
    let resp = h.post("/v1/chat/completions", b).await;
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().contains_key("retry-after"));
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["error"]["type"], "rate_limit_error");
    assert!(v["error"]["message"].as_str().unwrap_or("").contains("mock error 429"));
}

#[tokio::test]
async fn retries_and_fallbacks_are_reported() {
    let h = Harness::start(|base, _| openai(base, "")).await;
    let resp = h.post("/v1/chat/completions", chat("flaky")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-litellm-attempted-retries"], "1");

    let resp = h.post("/v1/chat/completions", chat("broken")).await;
    assert_eq!(resp.status(), 200, "falls back to gpt-4o");
    assert_eq!(resp.headers()["x-litellm-attempted-fallbacks"], "1");
    assert_eq!(resp.headers()["x-litellm-model-group"], "gpt-4o");

    let mut b = chat("broken");
    b["fallbacks"] = json!([]);
    b["num_retries"] = json!(0);
    let resp = h.post("/v1/chat/completions", b).await;
    assert_eq!(resp.status(), 500, "request-level empty fallbacks disable the config's");
}

#[tokio::test]
async fn timeouts_answer_408() {
    let h = Harness::start(|base, _| openai(base, "")).await;
    let started = Instant::now();
    let mut b = chat("slow");
    b["num_retries"] = json!(0);
    let resp = h.post("/v1/chat/completions", b).await;
    assert_eq!(resp.status(), 408);
    assert!(started.elapsed() < Duration::from_secs(3));
    let resp = h
        .client
        .post(format!("{}/v1/chat/completions", h.base))
        .bearer_auth("sk-test")
        .header("x-litellm-timeout", "0.2")
        .json(&json!({"model": "slow", "messages": [{"role": "user", "content": "x"}], "num_retries": 0}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 408);
    assert_eq!(resp.headers()["x-litellm-timeout"], "0.2");
}

async fn sse_events(resp: reqwest::Response) -> Vec<String> {
    let text = resp.text().await.unwrap_or_default();
    text.split("\n\n").filter_map(|e| e.strip_prefix("data: ")).map(str::to_owned).collect()
}

#[tokio::test]
async fn streams_relay_chunks_usage_and_done() {
    let h = Harness::start(|base, _| openai(base, "")).await;
    let mut b = chat("gpt-4o");
    b["stream"] = json!(true);
    b["stream_options"] = json!({"include_usage": true});
    let resp = h.post("/v1/chat/completions", b).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let events = sse_events(resp).await;
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = events.iter().filter(|e| *e != "[DONE]").map(|e| serde_json::from_str(e).expect("chunk")).collect();
    let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(text, "mock answer to: hi");
    assert!(chunks.last().is_some_and(|c| c["usage"]["total_tokens"].as_u64().is_some()));
    assert_eq!(h.upstream()["body"]["stream"], true);

    let mut b = chat("tools");
    b["stream"] = json!(true);
    let events = sse_events(h.post("/v1/chat/completions", b).await).await;
    let args: String = events
        .iter()
        .filter(|e| *e != "[DONE]")
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(args, "{\"city\":\"Paris\"}");
}

#[tokio::test]
async fn mid_stream_upstream_failure_ends_with_an_error_event() {
    let h = Harness::start(|base, _| openai(base, "")).await;
    let mut b = chat("dropper");
    b["stream"] = json!(true);
    let resp = h.post("/v1/chat/completions", b).await;
    assert_eq!(resp.status(), 200);
    let events = tokio::time::timeout(Duration::from_secs(5), sse_events(resp)).await.expect("no hang");
    let last = events.last().expect("events");
    let v: Value = serde_json::from_str(last).expect("error event is JSON");
    assert!(v["error"]["message"].as_str().unwrap_or("").contains("interrupted"), "{v}");
}

#[tokio::test]
async fn client_disconnect_cancels_the_upstream_stream() {
    let opts = MockOptions { chunks: 50, chunk_interval: Duration::from_millis(40), ..Default::default() };
    let h = Harness::start_with(opts, |base, _| openai(base, "")).await;
    let mut b = chat("gpt-4o");
    b["stream"] = json!(true);
    let resp = h.post("/v1/chat/completions", b).await;
    let mut stream = resp.bytes_stream();
    let first = stream.next().await.expect("first chunk").expect("bytes");
    assert!(!first.is_empty());
    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if h.mock.stats.cancelled_streams.load(std::sync::atomic::Ordering::Relaxed) == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "upstream stream was not cancelled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(h.mock.stats.completed_streams.load(std::sync::atomic::Ordering::Relaxed), 0);
}

#[tokio::test]
async fn bad_requests_get_openai_errors() {
    let h = Harness::start(|base, _| openai(base, "  max_request_size_mb: 0.001")).await;
    let resp =
        h.client.post(format!("{}/v1/chat/completions", h.base)).bearer_auth("sk-test").body("{not json").send().await.expect("send");
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.expect("json");
    assert!(v["error"]["message"].as_str().unwrap_or("").contains("Malformed JSON"));

    let resp = h.post("/v1/chat/completions", json!({"model": "gpt-4o"})).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.json::<Value>().await.expect("json")["error"]["param"], "messages");

    let big = "x".repeat(4096);
    let resp = h.post("/v1/chat/completions", json!({"model": "gpt-4o", "messages": [{"role": "user", "content": big}]})).await;
    assert_eq!(resp.status(), 413);
    assert_eq!(resp.json::<Value>().await.expect("json")["error"]["code"], "413");

    let resp = h.client.post(format!("{}/v1/chat/completions", h.base)).json(&chat("gpt-4o")).send().await.expect("send");
    assert_eq!(resp.status(), 401);
    let resp = h
        .client
        .post(format!("{}/v1/chat/completions", h.base))
        .header("x-api-key", "sk-wrong")
        .json(&chat("gpt-4o"))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 401);
    assert!(resp.json::<Value>().await.expect("json")["error"]["message"].as_str().unwrap_or("").contains("sk-...rong"));

    let resp = h.client.get(format!("{}/health/liveliness", h.base)).send().await.expect("send");
    assert_eq!(resp.status(), 200, "health needs no key");
    let resp = h.client.get(format!("{}/metrics", h.base)).send().await.expect("send");
    assert_eq!(resp.status(), 200, "metrics need no key");

    let resp = h.get("/no/such/route").await;
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn other_endpoints_pass_through() {
    let h = Harness::start(|base, _| openai(base, "")).await;
    let resp = h.post("/v1/embeddings", json!({"model": "embed", "input": ["a", "b"], "dimensions": 4})).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(v["data"][0]["embedding"].as_array().map(Vec::len), Some(4));
    assert_eq!(h.upstream()["body"]["model"], "text-embedding-3-small");

    let resp = h.post("/v1/completions", json!({"model": "instruct", "prompt": "say hi"})).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.expect("json")["choices"][0]["text"], "mock completion of: say hi");

    let resp = h.post("/v1/chat/completions", chat("instruct")).await;
    assert_eq!(resp.status(), 200, "text-completion-openai serves chat through /completions");
    assert_eq!(resp.json::<Value>().await.expect("json")["choices"][0]["message"]["content"], "mock completion of: hi");
    assert_eq!(h.upstream()["path"], "/v1/completions");

    let resp = h.post("/v1/moderations", json!({"model": "gpt-4o", "input": "I will kill"})).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.expect("json")["results"][0]["flagged"], true);

    let resp = h.post("/v1/images/generations", json!({"model": "gpt-4o", "prompt": "a cat", "n": 2})).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.expect("json")["data"].as_array().map(Vec::len), Some(2));

    let resp = h.post("/v1/chat/completions", chat("groq/llama-3.1-8b-instant")).await;
    assert_eq!(resp.status(), 200, "wildcard route passes the model through");
    assert_eq!(h.upstream()["body"]["model"], "llama-3.1-8b-instant");

    let resp = h.post("/v1/chat/completions", chat("gpt-4o,tools")).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v.as_array().map(Vec::len), Some(2), "batch completions answer one per model");
}

#[tokio::test]
async fn model_introspection() {
    let h = Harness::start(|base, _| openai(base, "")).await;
    let v: Value = h.get("/v1/models").await.json().await.expect("json");
    let ids: Vec<&str> = v["data"].as_array().map(|d| d.iter().filter_map(|m| m["id"].as_str()).collect()).unwrap_or_default();
    assert!(ids.contains(&"gpt-4o") && ids.contains(&"groq/llama-3.1-8b-instant"), "{ids:?}");
    assert_eq!(h.get("/v1/models/gpt-4o").await.status(), 200);
    assert_eq!(h.get("/v1/models/nope").await.status(), 404);

    let text = h.get("/model/info").await.text().await.expect("text");
    assert!(!text.contains("sk-upstream"), "model info never shows keys");
    let v: Value = serde_json::from_str(&text).expect("json");
    let first = &v["data"][0];
    assert_eq!(first["model_name"], "gpt-4o");
    assert_eq!(first["model_info"]["litellm_provider"], "openai");

    let v: Value = h.get("/model_group/info").await.json().await.expect("json");
    let groups: Vec<&str> = v["data"].as_array().map(|d| d.iter().filter_map(|g| g["model_group"].as_str()).collect()).unwrap_or_default();
    assert!(groups.contains(&"groq/llama-3.3-70b-versatile"), "wildcards expand to known models: {groups:?}");
    assert!(groups.contains(&"gpt-4"), "visible aliases have rows: {groups:?}");

    assert_eq!(h.post("/v1/chat/completions", chat("gpt-4o")).await.status(), 200);
    let text = h.client.get(format!("{}/metrics/", h.base)).send().await.expect("metrics").text().await.expect("text");
    for name in [
        "litellm_proxy_total_requests_metric_total{",
        "litellm_request_total_latency_metric_bucket{",
        "litellm_deployment_success_responses_total{",
        "litellm_llm_api_latency_metric_bucket{",
        "litellm_deployment_state{",
    ] {
        assert!(text.contains(name), "missing {name} in /metrics");
    }
    assert!(text.contains("requested_model=\"gpt-4o\"") && text.contains("api_base=\""), "LiteLLM's label names");
}

#[tokio::test]
async fn shutdown_lets_streams_finish() {
    let opts = MockOptions { chunks: 10, chunk_interval: Duration::from_millis(30), ..Default::default() };
    let mut h = Harness::start_with(opts, |base, _| openai(base, "")).await;
    let mut b = chat("gpt-4o");
    b["stream"] = json!(true);
    let resp = h.post("/v1/chat/completions", b).await;
    if let Some(stop) = h.stop.take() {
        let _ = stop.send(());
    }
    let events = sse_events(resp).await;
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"), "in-flight stream completes after shutdown starts");
    let done = tokio::time::timeout(Duration::from_secs(5), &mut h.server).await;
    assert!(matches!(done, Ok(Ok(Ok(())))), "server stops cleanly");
}

#[tokio::test]
async fn check_config_reports_every_problem() {
    let err = tianji_server::load_str(
        "model_list:\n  - model_name: a\n    litellm_params: {model: nosuch/x, rpm: many}\n  - model_name: b\n    litellm_params: {model: openai/x, api_key: os.environ/NOT_SET_ANYWHERE}\n",
        Env::isolated([]),
    )
    .err()
    .expect("invalid");
    let text = err.to_string();
    assert!(text.contains("3 problems"), "{text}");
    assert!(text.contains("model_list[0].litellm_params.rpm"), "{text}");
    assert!(text.contains("model_list[0].litellm_params.model: unknown provider 'nosuch'"), "{text}");
    assert!(text.contains("model_list[1].litellm_params.api_key: environment variable NOT_SET_ANYWHERE is not set"), "{text}");
}

#[tokio::test]
async fn providers_not_supported_yet_start_and_answer_501() {
    let yaml = "model_list:\n  - model_name: claude\n    litellm_params: {model: huggingface/meta-llama/Llama-3-8b, api_key: x}\n  - model_name: \"anthropic/*\"\n    litellm_params: {model: \"anthropic/*\"}\n  - model_name: ok\n    litellm_params: {model: openai/gpt-4o, mock_response: fine}\n";
    let loaded = tianji_server::load_str(yaml, Env::isolated([])).expect("a config with a provider that is not supported yet still starts");
    assert!(loaded.ignored.iter().any(|i| i.contains("provider 'huggingface' is not supported yet")), "{:?}", loaded.ignored);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(tianji_server::serve(listener, loaded.state, std::future::pending(), Duration::from_secs(1)));
    let c = reqwest::Client::new();
    let resp = c.post(format!("{base}/v1/chat/completions")).json(&chat("claude")).send().await.expect("send");
    assert_eq!(resp.status(), 501);
    let v: Value = resp.json().await.expect("json");
    assert!(v["error"]["message"].as_str().unwrap_or("").contains("not supported yet"), "{v}");
    let resp = c.post(format!("{base}/v1/chat/completions")).json(&chat("ok")).send().await.expect("send");
    assert_eq!(resp.status(), 200, "the rest of the config keeps working");
    let v: Value = c.get(format!("{base}/model_group/info")).send().await.expect("send").json().await.expect("json");
    let groups: Vec<&str> = v["data"].as_array().map(|d| d.iter().filter_map(|g| g["model_group"].as_str()).collect()).unwrap_or_default();
    assert!(groups.contains(&"anthropic/claude-sonnet-4-20250514"), "anthropic/* expands to known models: {groups:?}");
}

#[tokio::test]
async fn parameter_policies_and_request_limits() {
    let h = Harness::start(|base, _| openai(base, "")).await;
    let mut b = chat("o1-like");
    b["temperature"] = json!(0.5);
    b["logit_bias"] = json!({"1": 1});
    b["seed"] = json!(3);
    assert_eq!(h.post("/v1/chat/completions", b).await.status(), 200);
    let up = h.upstream();
    assert!(
        up["body"].get("temperature").is_none() && up["body"].get("logit_bias").is_none(),
        "additional_drop_params drops typed and untyped fields"
    );
    assert_eq!(up["body"]["seed"], 3);

    let mut b = chat("instruct");
    b["response_format"] = json!({"type": "json_object"});
    let resp = h.post("/v1/chat/completions", b).await;
    assert_eq!(resp.status(), 400, "a chat-only parameter on a /completions model is refused without drop_params");
    assert!(resp.json::<Value>().await.expect("json")["error"]["message"].as_str().unwrap_or("").contains("does not support parameters"));

    let mut b = chat("gpt-4o");
    b["num_retries"] = json!(1000);
    assert_eq!(h.post("/v1/chat/completions", b).await.status(), 400);
    let many = ["gpt-4o"; 11].join(",");
    assert_eq!(h.post("/v1/chat/completions", chat(&many)).await.status(), 400);

    let resp = h.post("/v1/embeddings", json!({"model": "embed", "input": "x", "mock_response": "m"})).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        h.mock.stats.requests.load(std::sync::atomic::Ordering::Relaxed),
        1,
        "only the first call above reached the upstream; the mock_response embedding did not"
    );

    let resp = h.get("/v1/chat/completions").await;
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.json::<Value>().await.expect("json")["error"]["code"], "405");

    let long = "m".repeat(10_000);
    let resp = h.post("/v1/chat/completions", chat(&long)).await;
    assert_eq!(resp.status(), 400);
    assert!(!resp.headers().contains_key("x-litellm-model-group"), "unknown model names are not echoed into headers");
}
