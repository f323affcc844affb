//! Translating provider adapters end to end: the proxy in-process, a client
//! speaking OpenAI's format, the mock upstream speaking each provider's
//! documented format (and checking its auth and request shape).

use serde_json::{Value, json};
use tianji_mock_upstream::MockOptions;

mod common;
use common::Harness;

fn anthropic_config(root: &str) -> String {
    let models =
        ["claude", "tools", "error-429", "error-401", "error-529", "error-context", "malformed-json", "unknown-event", "cut-stream"];
    let mut yaml = String::from("model_list:\n");
    for m in models {
        yaml.push_str(&format!(
            "  - model_name: {m}\n    litellm_params: {{model: anthropic/claude-{m}, api_base: \"{root}\", api_key: sk-ant-test, num_retries: 0}}\n"
        ));
    }
    yaml.push_str("  - model_name: claude-dropping\n    litellm_params: {model: anthropic/claude-x, api_base: \"");
    yaml.push_str(root);
    yaml.push_str("\", api_key: sk-ant-test, drop_params: true}\nrouter_settings: {num_retries: 0}\n");
    yaml
}

async fn anthropic() -> Harness {
    let opts = MockOptions { require_key: Some("sk-ant-test".to_owned()), ..Default::default() };
    Harness::start_with(opts, |_, root| anthropic_config(root)).await
}

fn sse_data(text: &str) -> Vec<Value> {
    text.split("\n\n")
        .filter_map(|e| e.lines().find_map(|l| l.strip_prefix("data: ")))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap_or_else(|e| panic!("event {d}: {e}")))
        .collect()
}

/// Each model's call fails with `status` and LiteLLM's `class` and `exception` in the message.
async fn assert_error_classes(h: &Harness, cases: &[(&str, u16, &str)], exception: &str) {
    for (model, status, class) in cases {
        let resp = h.post("/v1/chat/completions", json!({"model": model, "messages": [{"role": "user", "content": "x"}]})).await;
        assert_eq!(resp.status(), *status, "{model}");
        let v: Value = resp.json().await.expect("json");
        let msg = v["error"]["message"].as_str().unwrap_or("");
        assert!(msg.contains(class) && msg.contains(exception), "{model}: {msg}");
    }
}

#[tokio::test]
async fn anthropic_chat_translates_both_ways() {
    let h = anthropic().await;
    let resp = h
        .post(
            "/v1/chat/completions",
            json!({"model": "claude", "user": "u-1", "temperature": 0.2, "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "hello there", "cache_control": {"type": "ephemeral"}},
                                             {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}
            ]}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-litellm-model-api-base"], h.mock.root_url().as_str());
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["content"], "mock answer to: hello there");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert!(v["usage"]["prompt_tokens"].as_u64().is_some_and(|n| n > 0));
    let up = h.upstream();
    assert_eq!(up["path"], "/v1/messages");
    assert_eq!(up["headers"]["x-api-key"], "sk-ant-test");
    assert_eq!(up["headers"]["anthropic-version"], "2023-06-01");
    assert!(up["headers"].get("authorization").is_none(), "no bearer token goes to Anthropic");
    let body = &up["body"];
    assert_eq!(body["model"], "claude-claude");
    assert_eq!(body["system"], json!([{"type": "text", "text": "be brief"}]));
    assert_eq!(body["max_tokens"], 4096);
    assert_eq!(body["temperature"], 0.2);
    assert_eq!(body["metadata"], json!({"user_id": "u-1"}));
    assert_eq!(body["messages"][0]["content"][0]["cache_control"]["type"], "ephemeral");
    assert_eq!(body["messages"][0]["content"][1]["source"]["media_type"], "image/png");
}

#[tokio::test]
async fn anthropic_tool_calls_and_results() {
    let h = anthropic().await;
    let tools = json!([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]);
    let v: Value = h
        .post("/v1/chat/completions", json!({"model": "tools", "tools": tools, "tool_choice": "auto", "messages": [{"role": "user", "content": "weather in Paris?"}]}))
        .await
        .json()
        .await
        .expect("json");
    let msg = &v["choices"][0]["message"];
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(msg["tool_calls"][0]["id"], "toolu_mock_1");
    assert_eq!(msg["tool_calls"][0]["function"]["name"], "get_weather");
    assert_eq!(
        serde_json::from_str::<Value>(msg["tool_calls"][0]["function"]["arguments"].as_str().unwrap_or("")).ok(),
        Some(json!({"city": "Paris"}))
    );
    assert_eq!(h.upstream()["body"]["tools"][0]["input_schema"]["properties"]["city"]["type"], "string");
    // The tool's answer goes back as a tool_result the mock checks against the tool_use id.
    let resp = h
        .post(
            "/v1/chat/completions",
            json!({"model": "claude", "tools": tools, "messages": [
                {"role": "user", "content": "weather in Paris?"},
                msg.clone(),
                {"role": "tool", "tool_call_id": "toolu_mock_1", "content": "sunny"}
            ]}),
        )
        .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap_or_default());
    let sent = h.upstream()["body"]["messages"].clone();
    assert_eq!(sent[1]["content"][1]["type"], "tool_use");
    assert_eq!(sent[2]["content"][0], json!({"type": "tool_result", "tool_use_id": "toolu_mock_1", "content": "sunny"}));
}

#[tokio::test]
async fn anthropic_streams_text_and_tool_argument_deltas() {
    let h = anthropic().await;
    let resp = h
        .post(
            "/v1/chat/completions",
            json!({"model": "tools", "stream": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "weather?"}]}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.expect("body");
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    let chunks = sse_data(&text);
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let content: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(content, "Let me check.");
    let args: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str()).collect();
    assert_eq!(serde_json::from_str::<Value>(&args).ok(), Some(json!({"city": "Paris"})));
    assert!(chunks.iter().any(|c| c["choices"][0]["delta"]["tool_calls"][0]["id"] == "toolu_mock_1"));
    assert!(chunks.iter().any(|c| c["choices"][0]["finish_reason"] == "tool_calls"));
    let last = chunks.last().expect("usage chunk");
    assert_eq!(last["usage"]["completion_tokens"], 10);
    assert_eq!(h.upstream()["body"]["stream"], true);
}

#[tokio::test]
async fn anthropic_errors_map_to_openai_classes() {
    let h = anthropic().await;
    assert_error_classes(
        &h,
        &[
            ("error-429", 429, "RateLimitError"),
            ("error-401", 401, "AuthenticationError"),
            ("error-context", 400, "ContextWindowExceededError"),
            ("error-529", 529, "InternalServerError"),
        ],
        "AnthropicException",
    )
    .await;
    let resp = h.post("/v1/chat/completions", json!({"model": "malformed-json", "messages": [{"role": "user", "content": "x"}]})).await;
    assert_eq!(resp.status(), 502);
    let v: Value = resp.json().await.expect("json");
    assert!(v["error"]["message"].as_str().is_some_and(|m| m.contains("anthropic sent a malformed response")), "{v}");
    for model in ["unknown-event", "cut-stream"] {
        let resp =
            h.post("/v1/chat/completions", json!({"model": model, "stream": true, "messages": [{"role": "user", "content": "x"}]})).await;
        let events = sse_data(&resp.text().await.expect("body"));
        let last = events.last().expect("events");
        assert!(last["error"]["message"].as_str().is_some_and(|m| m.contains("anthropic sent a malformed response")), "{model}: {last}");
    }
}

#[tokio::test]
async fn anthropic_refuses_what_it_cannot_express_unless_dropping() {
    let h = anthropic().await;
    let body = |model: &str| json!({"model": model, "n": 2, "logit_bias": {"1": 1}, "messages": [{"role": "user", "content": "x"}]});
    let resp = h.post("/v1/chat/completions", body("claude")).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["error"]["param"], "n", "{v}");
    let resp = h.post("/v1/chat/completions", body("claude-dropping")).await;
    assert_eq!(resp.status(), 200);
    let sent = &h.upstream()["body"];
    assert!(sent.get("logit_bias").is_none() && sent.get("n").is_none(), "{sent}");
}

async fn messages_harness() -> Harness {
    let opts = MockOptions { require_key: Some("sk-ant-test".to_owned()), ..Default::default() };
    Harness::start_with(opts, |base, root| {
        format!(
            "model_list:\n  - model_name: gpt\n    litellm_params: {{model: openai/gpt-4o, api_base: \"{base}\", api_key: sk-ant-test}}\n  - model_name: gpt-tools\n    litellm_params: {{model: openai/tools, api_base: \"{base}\", api_key: sk-ant-test}}\n  - model_name: claude\n    litellm_params: {{model: anthropic/claude-x, api_base: \"{root}\", api_key: sk-ant-test}}\n  - model_name: claude-tools\n    litellm_params: {{model: anthropic/tools, api_base: \"{root}\", api_key: sk-ant-test}}\n  - model_name: limited\n    litellm_params: {{model: openai/error-429, api_base: \"{base}\", api_key: sk-ant-test}}\nrouter_settings: {{num_retries: 0}}\n"
        )
    })
    .await
}

fn named_events(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let name = e.lines().find_map(|l| l.strip_prefix("event: ")).unwrap_or("").to_owned();
            let data = e.lines().find_map(|l| l.strip_prefix("data: ")).unwrap_or("null");
            (name, serde_json::from_str(data).unwrap_or_else(|err| panic!("{data}: {err}")))
        })
        .collect()
}

#[tokio::test]
async fn messages_endpoint_serves_any_provider_in_anthropic_shape() {
    let h = messages_harness().await;
    for model in ["gpt", "claude"] {
        let resp = h
            .post(
                "/v1/messages",
                json!({"model": model, "max_tokens": 50, "system": "be brief", "messages": [{"role": "user", "content": "hello"}]}),
            )
            .await;
        assert_eq!(resp.status(), 200, "{model}");
        let v: Value = resp.json().await.expect("json");
        assert_eq!(v["type"], "message", "{model}: {v}");
        assert_eq!(v["role"], "assistant");
        assert_eq!(v["content"][0], json!({"type": "text", "text": "mock answer to: hello"}), "{model}");
        assert_eq!(v["stop_reason"], "end_turn");
        assert!(v["usage"]["input_tokens"].as_u64().is_some_and(|n| n > 0), "{model}: {v}");
        assert!(v["usage"]["output_tokens"].as_u64().is_some_and(|n| n > 0));
    }
    // Through the OpenAI deployment, the system prompt became a system message.
    let resp = h
        .post("/v1/messages", json!({"model": "gpt", "max_tokens": 5, "system": "sys", "messages": [{"role": "user", "content": "x"}]}))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(h.upstream()["body"]["messages"][0], json!({"role": "system", "content": "sys"}));

    for model in ["gpt-tools", "claude-tools"] {
        let v: Value = h
            .post(
                "/v1/messages",
                json!({"model": model, "max_tokens": 50, "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}],
                       "messages": [{"role": "user", "content": "weather?"}]}),
            )
            .await
            .json()
            .await
            .expect("json");
        let tool = v["content"].as_array().and_then(|c| c.iter().find(|b| b["type"] == "tool_use")).cloned().unwrap_or_default();
        assert_eq!(tool["name"], "get_weather", "{model}: {v}");
        assert_eq!(tool["input"], json!({"city": "Paris"}));
        assert_eq!(v["stop_reason"], "tool_use");
    }
}

#[tokio::test]
async fn messages_endpoint_streams_named_events() {
    let h = messages_harness().await;
    for model in ["gpt-tools", "claude-tools", "gpt"] {
        let resp = h
            .post(
                "/v1/messages",
                json!({"model": model, "max_tokens": 50, "stream": true, "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}],
                       "messages": [{"role": "user", "content": "weather?"}]}),
            )
            .await;
        assert_eq!(resp.status(), 200);
        let events = named_events(&resp.text().await.expect("body"));
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names.first(), Some(&"message_start"), "{model}: {names:?}");
        assert_eq!(&names[names.len() - 2..], ["message_delta", "message_stop"], "{model}: {names:?}");
        for (name, data) in &events {
            assert_eq!(data["type"], name.as_str(), "the event line names the data's type");
        }
        let delta = &events[events.len() - 2].1;
        assert!(delta["usage"]["output_tokens"].as_u64().is_some_and(|n| n > 0), "{model}: {delta}");
        if model == "gpt" {
            let text: String = events.iter().filter_map(|(_, d)| d["delta"]["text"].as_str()).collect();
            assert_eq!(text, "mock answer to: weather?");
            assert_eq!(delta["delta"]["stop_reason"], "end_turn");
        } else {
            let json: String = events.iter().filter_map(|(_, d)| d["delta"]["partial_json"].as_str()).collect();
            assert_eq!(serde_json::from_str::<Value>(&json).ok(), Some(json!({"city": "Paris"})), "{model}");
            assert_eq!(delta["delta"]["stop_reason"], "tool_use");
            assert!(events.iter().any(|(n, d)| n == "content_block_start" && d["content_block"]["type"] == "tool_use"));
        }
    }
}

#[tokio::test]
async fn messages_endpoint_errors_in_anthropic_shape() {
    let h = messages_harness().await;
    let resp = h.post("/v1/messages", json!({"model": "limited", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]})).await;
    assert_eq!(resp.status(), 429);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "rate_limit_error");
    let resp = h.post("/v1/messages", json!({"model": "gpt", "messages": [{"role": "user", "content": "x"}]})).await;
    assert_eq!(resp.status(), 400, "max_tokens is required, as Anthropic requires it");
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert!(v["error"]["message"].as_str().is_some_and(|m| m.contains("max_tokens")), "{v}");
    let resp = h.post("/v1/messages", json!({"model": "gpt", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]})).await;
    assert_eq!(resp.status(), 400);
    let resp = h.client.post(format!("{}/v1/messages", h.base)).json(&json!({"model": "gpt"})).send().await.expect("send");
    assert_eq!(resp.status(), 400, "a body without messages");
    assert_eq!(resp.json::<Value>().await.expect("json")["error"]["type"], "invalid_request_error");
}

async fn gemini() -> Harness {
    let opts = MockOptions { require_key: Some("gm-test".to_owned()), ..Default::default() };
    Harness::start_with(opts, |_, root| {
        let mut yaml = String::from("model_list:\n");
        for m in ["flash", "tools", "error-429", "error-context", "malformed-json", "cut-stream", "text-embedding-004"] {
            yaml.push_str(&format!(
                "  - model_name: {m}\n    litellm_params: {{model: gemini/gemini-{m}, api_base: \"{root}\", api_key: gm-test}}\n"
            ));
        }
        yaml.push_str("router_settings: {num_retries: 0}\n");
        yaml
    })
    .await
}

#[tokio::test]
async fn gemini_chat_translates_both_ways() {
    let h = gemini().await;
    let resp = h
        .post(
            "/v1/chat/completions",
            json!({"model": "flash", "temperature": 0.1, "max_tokens": 20, "stop": ["\n"], "messages": [
                {"role": "system", "content": "be brief"}, {"role": "user", "content": "hello gemini"}]}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["choices"][0]["message"]["content"], "mock answer to: hello gemini");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert!(v["usage"]["total_tokens"].as_u64().is_some_and(|n| n > 0));
    let up = h.upstream();
    assert_eq!(up["path"], "/v1beta/models/gemini-flash:generateContent");
    assert_eq!(up["headers"]["x-goog-api-key"], "gm-test");
    assert_eq!(up["body"]["systemInstruction"], json!({"parts": [{"text": "be brief"}]}));
    assert_eq!(up["body"]["generationConfig"], json!({"temperature": 0.1, "maxOutputTokens": 20, "stopSequences": ["\n"]}));

    // A tool call, and its result sent back as a functionResponse the mock checks.
    let tools = json!([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]);
    let v: Value = h
        .post("/v1/chat/completions", json!({"model": "tools", "tools": tools, "messages": [{"role": "user", "content": "weather?"}]}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    let msg = v["choices"][0]["message"].clone();
    assert_eq!(msg["tool_calls"][0]["function"]["name"], "get_weather");
    let id = msg["tool_calls"][0]["id"].as_str().unwrap_or("").to_owned();
    let resp = h
        .post(
            "/v1/chat/completions",
            json!({"model": "flash", "tools": tools, "messages": [
            {"role": "user", "content": "weather?"}, msg, {"role": "tool", "tool_call_id": id, "content": "{\"temp\": 21}"}]}),
        )
        .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap_or_default());
    let sent = h.upstream()["body"]["contents"].clone();
    assert_eq!(sent[1]["parts"][0]["thoughtSignature"], "bW9jaw==", "the thought signature goes back with the call");
    assert_eq!(sent[2]["parts"][0]["functionResponse"], json!({"name": "get_weather", "response": {"temp": 21}}));
}

#[tokio::test]
async fn gemini_streams_and_embeddings() {
    let h = gemini().await;
    let resp = h
        .post("/v1/chat/completions", json!({"model": "flash", "stream": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "stream it"}]}))
        .await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.expect("body");
    assert_eq!(h.upstream()["query"], "alt=sse");
    let chunks = sse_data(&text);
    let content: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(content, "mock answer to: stream it");
    assert!(chunks.iter().any(|c| c["choices"][0]["finish_reason"] == "stop"));
    assert!(chunks.last().is_some_and(|c| c["usage"]["completion_tokens"].as_u64().is_some_and(|n| n > 0)), "{text}");

    let v: Value = h
        .post("/v1/embeddings", json!({"model": "text-embedding-004", "input": ["a", "b"], "dimensions": 4}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(v["data"].as_array().map(Vec::len), Some(2), "{v}");
    assert_eq!(v["data"][1]["embedding"].as_array().map(Vec::len), Some(4));
    assert_eq!(h.upstream()["path"], "/v1beta/models/gemini-text-embedding-004:batchEmbedContents");
}

#[tokio::test]
async fn gemini_errors_map_to_openai_classes() {
    let h = gemini().await;
    assert_error_classes(
        &h,
        &[("error-429", 429, "RateLimitError"), ("error-context", 400, "ContextWindowExceededError")],
        "GeminiException",
    )
    .await;
    let resp = h.post("/v1/chat/completions", json!({"model": "malformed-json", "messages": [{"role": "user", "content": "x"}]})).await;
    assert_eq!(resp.status(), 502);
    let resp = h
        .post("/v1/chat/completions", json!({"model": "cut-stream", "stream": true, "messages": [{"role": "user", "content": "x"}]}))
        .await;
    let events = sse_data(&resp.text().await.expect("body"));
    assert!(
        events.last().is_some_and(|e| e["error"]["message"].as_str().is_some_and(|m| m.contains("gemini sent a malformed response"))),
        "{events:?}"
    );
}

/// Vertex AI against the mock, which accepts only tokens signed with the
/// trusted service account's key; `stranger` models use another account's key.
async fn vertex(dir: &std::path::Path) -> Harness {
    let (key, account) = tianji_mock_upstream::google_auth::service_account("tianji-test");
    let (other, _) = tianji_mock_upstream::google_auth::service_account("tianji-test");
    let (trusted, stranger) = (dir.join("sa.json"), dir.join("other.json"));
    std::fs::write(&trusted, key.to_string()).expect("key file");
    std::fs::write(&stranger, other.to_string()).expect("key file");
    let opts = MockOptions { google_service_account: Some(account), ..Default::default() };
    Harness::start_with(opts, |_, root| {
        let mut yaml = String::from("model_list:\n");
        let entries = [
            ("flash", "gemini-2.0-flash", &trusted),
            ("vertex-tools", "gemini-tools", &trusted),
            ("vertex-429", "gemini-error-429", &trusted),
            ("claude-vertex", "claude-sonnet-4-5@20250929", &trusted),
            ("claude-vertex-tools", "claude-tools", &trusted),
            ("vertex-embed", "text-embedding-005", &trusted),
            ("stranger", "gemini-2.0-flash", &stranger),
        ];
        for (name, model, creds) in entries {
            yaml.push_str(&format!(
                "  - model_name: {name}\n    litellm_params: {{model: vertex_ai/{model}, api_base: \"{root}\", vertex_location: us-east5, vertex_credentials: \"{}\"}}\n",
                creds.display()
            ));
        }
        yaml.push_str("router_settings: {num_retries: 0}\n");
        yaml
    })
    .await
}

#[tokio::test]
async fn vertex_ai_gemini_and_claude_with_service_account_tokens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let h = vertex(dir.path()).await;
    let resp = h.post("/v1/chat/completions", json!({"model": "flash", "messages": [{"role": "user", "content": "hello vertex"}]})).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap_or_default());
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["choices"][0]["message"]["content"], "mock answer to: hello vertex");
    let up = h.upstream();
    // The project comes from the key file, the location from vertex_location.
    assert_eq!(up["path"], "/v1/projects/tianji-test/locations/us-east5/publishers/google/models/gemini-2.0-flash:generateContent");
    assert!(up["headers"]["authorization"].as_str().is_some_and(|a| a.starts_with("Bearer ey")), "a self-signed JWT: {up}");
    assert!(up["headers"].get("x-goog-api-key").is_none());

    let resp = h
        .post("/v1/chat/completions", json!({"model": "flash", "stream": true, "messages": [{"role": "user", "content": "stream it"}]}))
        .await;
    let chunks = sse_data(&resp.text().await.expect("body"));
    let content: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(content, "mock answer to: stream it");
    assert!(h.upstream()["path"].as_str().is_some_and(|p| p.ends_with(":streamGenerateContent")));

    let v: Value = h.post("/v1/embeddings", json!({"model": "vertex-embed", "input": ["a", "b"]})).await.json().await.expect("json");
    assert_eq!(v["data"].as_array().map(Vec::len), Some(2), "{v}");
    assert!(h.upstream()["path"].as_str().is_some_and(|p| p.ends_with("/publishers/google/models/text-embedding-005:predict")));

    // Claude on Vertex: the Messages API at :rawPredict, the version in the body.
    let resp = h
        .post(
            "/v1/chat/completions",
            json!({"model": "claude-vertex", "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi claude"}]}),
        )
        .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap_or_default());
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["choices"][0]["message"]["content"], "mock answer to: hi claude");
    let up = h.upstream();
    assert_eq!(up["path"], "/v1/projects/tianji-test/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict");
    assert_eq!(up["body"]["anthropic_version"], "vertex-2023-10-16");
    assert!(up["body"].get("model").is_none(), "the URL names the model");
    assert!(up["headers"].get("x-api-key").is_none() && up["headers"].get("anthropic-version").is_none());
    assert_eq!(up["body"]["system"], json!([{"type": "text", "text": "be brief"}]));

    let tools = json!([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]);
    let resp = h
        .post(
            "/v1/chat/completions",
            json!({"model": "claude-vertex-tools", "stream": true, "tools": tools, "messages": [{"role": "user", "content": "weather?"}]}),
        )
        .await;
    let chunks = sse_data(&resp.text().await.expect("body"));
    let args: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str()).collect();
    assert_eq!(args, "{\"city\": \"Paris\"}");
    assert!(h.upstream()["path"].as_str().is_some_and(|p| p.ends_with("/claude-tools:streamRawPredict")));
}

#[tokio::test]
async fn vertex_ai_errors_and_a_key_the_upstream_does_not_trust() {
    let dir = tempfile::tempdir().expect("tempdir");
    let h = vertex(dir.path()).await;
    assert_error_classes(&h, &[("vertex-429", 429, "RateLimitError"), ("stranger", 401, "AuthenticationError")], "VertexAIException").await;
    let msg = h
        .post("/v1/chat/completions", json!({"model": "stranger", "messages": [{"role": "user", "content": "x"}]}))
        .await
        .json::<Value>()
        .await
        .expect("json")["error"]["message"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(msg.contains("invalid JWT signature"), "the mock checked the signature: {msg}");
}

#[tokio::test]
async fn vertex_ai_config_problems_stop_start_up() {
    let yaml = "model_list:\n  - model_name: a\n    litellm_params: {model: vertex_ai/gemini-pro, vertex_credentials: /nonexistent/sa.json}\n  - model_name: b\n    litellm_params: {model: vertex_ai/gemini-pro, vertex_credentials: '{\"type\": \"service_account\"}'}\n";
    let err = tianji_server::load_str(yaml, tianji_core::config::Env::isolated([])).err().expect("refused").to_string();
    assert!(err.contains("model_list[0]") && err.contains("cannot read credentials file /nonexistent/sa.json"), "{err}");
    assert!(err.contains("model_list[1]") && err.contains("vertex_project is required"), "{err}");
}

const AWS_KEY: &str = "AKIAMOCKTIANJI";
const AWS_SECRET: &str = "mock/secret/key";

async fn bedrock() -> Harness {
    let opts = MockOptions { aws_credentials: Some((AWS_KEY.to_owned(), AWS_SECRET.to_owned())), ..Default::default() };
    Harness::start_with(opts, |_, root| {
        let mut yaml = String::from("model_list:\n");
        for (name, model) in [
            ("claude", "us.anthropic.claude-3-5-sonnet-20240620-v1:0"),
            ("tools", "converse/anthropic.tools-v1:0"),
            ("limited", "anthropic.error-429"),
            ("long", "anthropic.error-context"),
            ("throttled", "anthropic.stream-throttle"),
            ("cut", "anthropic.cut-stream"),
            ("titan", "amazon.titan-embed-text-v2:0"),
        ] {
            yaml.push_str(&format!(
                "  - model_name: {name}\n    litellm_params: {{model: bedrock/{model}, aws_bedrock_runtime_endpoint: \"{root}\", aws_region_name: eu-west-1, aws_access_key_id: {AWS_KEY}, aws_secret_access_key: {AWS_SECRET}}}\n"
            ));
        }
        yaml.push_str(&format!(
            "  - model_name: wrong-secret\n    litellm_params: {{model: bedrock/anthropic.claude-v2, aws_bedrock_runtime_endpoint: \"{root}\", aws_region_name: eu-west-1, aws_access_key_id: {AWS_KEY}, aws_secret_access_key: not-the-secret}}\n"
        ));
        yaml.push_str("router_settings: {num_retries: 0}\n");
        yaml
    })
    .await
}

#[tokio::test]
async fn bedrock_converse_signed_and_translated() {
    let h = bedrock().await;
    let resp = h
        .post("/v1/chat/completions", json!({"model": "claude", "max_tokens": 64, "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "hello bedrock"}]}))
        .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap_or_default());
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["choices"][0]["message"]["content"], "mock answer to: hello bedrock");
    assert!(v["usage"]["total_tokens"].as_u64().is_some_and(|n| n > 0));
    let up = h.upstream();
    assert_eq!(up["path"], "/model/us.anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse", "the model id is percent-encoded");
    let auth = up["headers"]["authorization"].as_str().unwrap_or("");
    assert!(
        auth.starts_with(&format!("AWS4-HMAC-SHA256 Credential={AWS_KEY}/")) && auth.contains("/eu-west-1/bedrock/aws4_request"),
        "{auth}"
    );
    assert_eq!(up["body"]["system"], json!([{"text": "sys"}]));
    assert_eq!(up["body"]["inferenceConfig"], json!({"maxTokens": 64}));

    // A wrong secret makes a signature the mock (recomputing it with aws-sigv4) refuses.
    let resp = h.post("/v1/chat/completions", json!({"model": "wrong-secret", "messages": [{"role": "user", "content": "x"}]})).await;
    assert_eq!(resp.status(), 403);
    let v: Value = resp.json().await.expect("json");
    assert!(v["error"]["message"].as_str().is_some_and(|m| m.contains("signature we calculated does not match")), "{v}");

    // Tools, and the tool result sent back (the mock checks it answers a toolUse).
    let tools = json!([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]);
    let v: Value = h
        .post("/v1/chat/completions", json!({"model": "tools", "tools": tools, "messages": [{"role": "user", "content": "weather?"}]}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    let msg = v["choices"][0]["message"].clone();
    assert_eq!(h.upstream()["path"], "/model/anthropic.tools-v1%3A0/converse", "converse/ is a route, not part of the id");
    let resp = h
        .post(
            "/v1/chat/completions",
            json!({"model": "claude", "tools": tools, "messages": [
            {"role": "user", "content": "weather?"}, msg, {"role": "tool", "tool_call_id": "tooluse_mock_1", "content": "sunny"}]}),
        )
        .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap_or_default());

    let v: Value = h.post("/v1/embeddings", json!({"model": "titan", "input": ["a", "bb"]})).await.json().await.expect("json");
    assert_eq!(v["data"].as_array().map(Vec::len), Some(2), "{v}");
}

#[tokio::test]
async fn bedrock_streams_from_aws_event_stream_frames() {
    let h = bedrock().await;
    let resp = h
        .post("/v1/chat/completions", json!({"model": "tools", "stream": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "weather?"}]}))
        .await;
    assert_eq!(resp.status(), 200);
    let chunks = sse_data(&resp.text().await.expect("body"));
    let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(text, "Let me check.");
    let args: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str()).collect();
    assert_eq!(serde_json::from_str::<Value>(&args).ok(), Some(json!({"city": "Paris"})));
    assert!(chunks.iter().any(|c| c["choices"][0]["finish_reason"] == "tool_calls"));
    assert!(chunks.last().is_some_and(|c| c["usage"]["completion_tokens"] == 10));
    assert_eq!(h.upstream()["path"], "/model/anthropic.tools-v1%3A0/converse-stream");

    for (model, expect) in [("throttled", "RateLimitError"), ("cut", "bedrock stream interrupted")] {
        let resp =
            h.post("/v1/chat/completions", json!({"model": model, "stream": true, "messages": [{"role": "user", "content": "x"}]})).await;
        let events = sse_data(&resp.text().await.expect("body"));
        let last = events.last().cloned().unwrap_or_default();
        assert!(last["error"]["message"].as_str().is_some_and(|m| m.contains(expect)), "{model}: {last}");
    }
}

#[tokio::test]
async fn bedrock_errors_map_to_openai_classes() {
    let h = bedrock().await;
    assert_error_classes(&h, &[("limited", 429, "RateLimitError"), ("long", 400, "ContextWindowExceededError")], "BedrockException").await;
}

async fn responses_harness() -> Harness {
    Harness::start(|base, root| {
        format!(
            "model_list:\n  - model_name: gpt\n    litellm_params: {{model: openai/gpt-4o, api_base: \"{base}\", api_key: k}}\n  - model_name: claude\n    litellm_params: {{model: anthropic/claude-x, api_base: \"{root}\", api_key: k}}\n  - model_name: claude-tools\n    litellm_params: {{model: anthropic/tools, api_base: \"{root}\", api_key: k}}\n  - model_name: gemini\n    litellm_params: {{model: gemini/gemini-x, api_base: \"{root}\", api_key: k}}\n"
        )
    })
    .await
}

#[tokio::test]
async fn responses_pass_through_for_openai_and_translate_for_others() {
    let h = responses_harness().await;
    let v: Value = h.post("/v1/responses", json!({"model": "gpt", "input": "hello", "store": true})).await.json().await.expect("json");
    assert_eq!(v["id"], "resp_mock_1", "passed through: {v}");
    assert_eq!(h.upstream()["path"], "/v1/responses");
    assert_eq!(h.upstream()["body"]["model"], "gpt-4o");
    assert_eq!(h.upstream()["body"]["store"], true);
    for model in ["claude", "gemini"] {
        let resp =
            h.post("/v1/responses", json!({"model": model, "instructions": "be brief", "input": "hello", "max_output_tokens": 30})).await;
        assert_eq!(resp.status(), 200, "{model}");
        let v: Value = resp.json().await.expect("json");
        assert_eq!(v["object"], "response");
        assert_eq!(v["status"], "completed");
        assert_eq!(v["output"][0]["content"][0]["text"], "mock answer to: hello", "{model}: {v}");
        assert!(v["usage"]["input_tokens"].as_u64().is_some_and(|n| n > 0));
        let id = v["id"].as_str().unwrap_or("").to_owned();
        // Nothing is stored for translated responses: a clear 400.
        let resp = h.get(&format!("/v1/responses/{id}")).await;
        assert_eq!(resp.status(), 400);
    }
    // Stored OpenAI responses are fetched from the OpenAI deployment.
    let v: Value = h.get("/v1/responses/resp_mock_1").await.json().await.expect("json");
    assert_eq!(v["id"], "resp_mock_1");
    assert_eq!(h.get("/v1/responses/resp_unknown").await.status(), 404);
    // State the translated providers cannot have is refused.
    let resp = h.post("/v1/responses", json!({"model": "claude", "input": "x", "previous_response_id": "resp_1"})).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.json::<Value>().await.expect("json")["error"]["param"], "previous_response_id");
}

#[tokio::test]
async fn responses_streams_in_both_modes() {
    let h = responses_harness().await;
    for model in ["gpt", "claude", "claude-tools"] {
        let resp = h
            .post(
                "/v1/responses",
                json!({"model": model, "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}], "stream": true,
                       "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]}),
            )
            .await;
        assert_eq!(resp.status(), 200);
        let events = sse_data(&resp.text().await.expect("body"));
        let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
        assert_eq!(kinds.first(), Some(&"response.created"), "{model}: {kinds:?}");
        assert_eq!(kinds.last(), Some(&"response.completed"), "{model}: {kinds:?}");
        let done = &events[events.len() - 1]["response"];
        assert!(done["usage"]["output_tokens"].as_u64().is_some_and(|n| n > 0), "{model}: {done}");
        if model == "claude-tools" {
            let args: String = events
                .iter()
                .filter(|e| e["type"] == "response.function_call_arguments.delta")
                .filter_map(|e| e["delta"].as_str())
                .collect();
            assert_eq!(serde_json::from_str::<Value>(&args).ok(), Some(json!({"city": "Paris"})));
            assert!(
                done["output"].as_array().is_some_and(|o| o.iter().any(|i| i["type"] == "function_call" && i["name"] == "get_weather"))
            );
        } else {
            let text: String =
                events.iter().filter(|e| e["type"] == "response.output_text.delta").filter_map(|e| e["delta"].as_str()).collect();
            assert_eq!(text, "mock answer to: hi", "{model}");
        }
    }
}

#[tokio::test]
async fn cohere_and_ai21_translate_and_authenticate() {
    let opts = MockOptions { require_key: Some("co-test".to_owned()), ..Default::default() };
    let h = Harness::start_with(opts, |base, root| {
        let mut yaml = String::from("model_list:\n");
        for m in ["command-r", "tools", "error-429", "error-context", "cut-stream", "embed-english-v3.0"] {
            yaml.push_str(&format!(
                "  - model_name: {m}\n    litellm_params: {{model: cohere/{m}, api_base: \"{root}\", api_key: co-test}}\n"
            ));
        }
        yaml.push_str(&format!(
            "  - model_name: jamba\n    litellm_params: {{model: ai21_chat/jamba-mini, api_base: \"{base}\", api_key: co-test}}\n"
        ));
        yaml.push_str("router_settings: {num_retries: 0}\n");
        yaml
    })
    .await;
    let resp = h
        .post(
            "/v1/chat/completions",
            json!({"model": "command-r", "top_p": 0.9, "stop": "END", "messages": [{"role": "user", "content": "hi cohere"}]}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["choices"][0]["message"]["content"], "mock answer to: hi cohere");
    let up = h.upstream();
    assert_eq!(up["path"], "/v2/chat");
    assert_eq!(up["headers"]["authorization"], "Bearer co-test");
    assert_eq!((up["body"]["p"].clone(), up["body"]["stop_sequences"].clone()), (json!(0.9), json!(["END"])));

    let resp = h
        .post("/v1/chat/completions", json!({"model": "tools", "stream": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "weather?"}]}))
        .await;
    let chunks = sse_data(&resp.text().await.expect("body"));
    let args: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str()).collect();
    assert_eq!(serde_json::from_str::<Value>(&args).ok(), Some(json!({"city": "Paris"})));
    assert!(chunks.iter().any(|c| c["choices"][0]["finish_reason"] == "tool_calls"));
    assert!(chunks.last().is_some_and(|c| c["usage"]["completion_tokens"] == 10));

    assert_error_classes(
        &h,
        &[("error-429", 429, "RateLimitError"), ("error-context", 400, "ContextWindowExceededError")],
        "CohereException",
    )
    .await;
    let resp = h
        .post("/v1/chat/completions", json!({"model": "cut-stream", "stream": true, "messages": [{"role": "user", "content": "x"}]}))
        .await;
    let events = sse_data(&resp.text().await.expect("body"));
    assert!(events.last().is_some_and(|e| e["error"]["message"].as_str().is_some_and(|m| m.contains("message-end"))), "{events:?}");

    let v: Value =
        h.post("/v1/embeddings", json!({"model": "embed-english-v3.0", "input": ["a", "b", "c"]})).await.json().await.expect("json");
    assert_eq!(v["data"].as_array().map(Vec::len), Some(3), "{v}");
    assert_eq!(h.upstream()["body"]["input_type"], "search_document");

    let resp = h.post("/v1/chat/completions", json!({"model": "jamba", "messages": [{"role": "user", "content": "hi jamba"}]})).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(h.upstream()["path"], "/v1/chat/completions");
    assert_eq!(h.upstream()["body"]["model"], "jamba-mini");
}

/// A moto server (PyPI `moto[server]`, installed into `.venv` by scripts/test) on a free port.
#[tokio::test]
async fn sagemaker_invoke_endpoint_against_moto_and_streams_against_the_mock() {
    let moto = tianji_mock_upstream::standins::moto().await;
    // moto answers InvokeEndpoint from a queue of configured results.
    let results = json!({"region": "us-east-1", "results": [
        {"Body": "[{\"generated_text\": \"a TGI answer\"}]", "ContentType": "application/json"},
        {"Body": json!({"id": "chatcmpl-sm", "object": "chat.completion", "created": 1, "model": "tgi", "choices": [{"index": 0, "message": {"role": "assistant", "content": "a chat answer"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}}).to_string(), "ContentType": "application/json"}
    ]});
    let r = reqwest::Client::new()
        .post(format!("{}/moto-api/static/sagemaker/endpoint-results", moto.url))
        .json(&results)
        .send()
        .await
        .expect("configure moto");
    assert!(r.status().is_success());
    let moto_url = moto.url.clone();
    let opts = MockOptions { aws_credentials: Some((AWS_KEY.to_owned(), AWS_SECRET.to_owned())), ..Default::default() };
    let h = Harness::start_with(opts, move |_, root| {
        let creds = format!("aws_region_name: us-east-1, aws_access_key_id: {AWS_KEY}, aws_secret_access_key: {AWS_SECRET}");
        format!(
            "model_list:\n  - model_name: tgi\n    litellm_params: {{model: sagemaker/jumpstart-llm, api_base: \"{moto_url}\", {creds}}}\n  - model_name: chat\n    litellm_params: {{model: sagemaker_chat/vllm-endpoint, api_base: \"{moto_url}\", {creds}}}\n  - model_name: tgi-stream\n    litellm_params: {{model: sagemaker/jumpstart-llm, api_base: \"{root}\", {creds}}}\n  - model_name: chat-stream\n    litellm_params: {{model: sagemaker_chat/vllm-endpoint, api_base: \"{root}\", {creds}}}\n"
        )
    })
    .await;
    let v: Value = h
        .post("/v1/chat/completions", json!({"model": "tgi", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(v["choices"][0]["message"]["content"], "a TGI answer", "{v}");
    assert!(v["usage"]["completion_tokens"].as_u64().is_some_and(|n| n > 0));
    let v: Value = h
        .post("/v1/chat/completions", json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}]}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(v["choices"][0]["message"]["content"], "a chat answer", "{v}");

    for model in ["tgi-stream", "chat-stream"] {
        let resp = h
            .post("/v1/chat/completions", json!({"model": model, "stream": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "stream please"}]}))
            .await;
        assert_eq!(resp.status(), 200);
        let chunks = sse_data(&resp.text().await.expect("body"));
        let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
        assert_eq!(text, "mock answer to: stream please", "{model}: {chunks:?}");
        assert!(chunks.iter().any(|c| c["choices"][0]["finish_reason"] == "stop"), "{model}");
        let up = h.upstream();
        assert_eq!(up["path"].as_str().map(|p| p.ends_with("/invocations-response-stream")), Some(true));
        assert!(up["headers"]["authorization"].as_str().is_some_and(|a| a.contains("/us-east-1/sagemaker/aws4_request")));
    }
}

#[tokio::test]
async fn watsonx_exchanges_the_api_key_once_and_calls_the_chat_api() {
    let opts = MockOptions { require_key: Some("wx-api-key".to_owned()), ..Default::default() };
    let h = Harness::start_with(opts, |_, root| {
        format!(
            "model_list:\n  - model_name: granite\n    litellm_params: {{model: watsonx/ibm/granite-3-8b-instruct, api_base: \"{root}\", api_key: wx-api-key, project_id: proj-1, watsonx_iam_url: \"{root}\"}}\n  - model_name: granite-text\n    litellm_params: {{model: watsonx_text/ibm/granite-13b, api_base: \"{root}\", api_key: wx-api-key, space_id: space-9, watsonx_iam_url: \"{root}\"}}\n  - model_name: deployed\n    litellm_params: {{model: watsonx/deployment/dep-42, api_base: \"{root}\", token: wx-static-token, project_id: proj-1}}\n  - model_name: bad-key\n    litellm_params: {{model: watsonx/ibm/granite, api_base: \"{root}\", api_key: wrong, project_id: p, watsonx_iam_url: \"{root}\"}}\nrouter_settings: {{num_retries: 0}}\n"
        )
    })
    .await;
    let v: Value = h
        .post("/v1/chat/completions", json!({"model": "granite", "messages": [{"role": "user", "content": "hi watson"}]}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(v["choices"][0]["message"]["content"], "mock answer to: hi watson", "{v}");
    let first = h.upstream();
    assert_eq!(first["path"], "/ml/v1/text/chat");
    assert_eq!(first["query"], "version=2024-03-13");
    assert_eq!(first["body"]["model_id"], "ibm/granite-3-8b-instruct");
    assert_eq!(first["body"]["project_id"], "proj-1");
    assert!(first["body"].get("model").is_none());
    let token = first["headers"]["authorization"].clone();
    // The second call reuses the cached IAM token.
    let resp = h.post("/v1/chat/completions", json!({"model": "granite", "stream": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "again"}]})).await;
    let chunks = sse_data(&resp.text().await.expect("body"));
    let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(text, "mock answer to: again");
    assert!(chunks.iter().any(|c| c["usage"]["total_tokens"].as_u64().is_some()));
    assert_eq!(h.upstream()["path"], "/ml/v1/text/chat_stream");
    assert_eq!(h.upstream()["headers"]["authorization"], token, "one token exchange for both calls");

    let v: Value = h
        .post("/v1/chat/completions", json!({"model": "granite-text", "messages": [{"role": "user", "content": "complete this"}]}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(v["choices"][0]["message"]["content"], "mock generation of: complete this", "{v}");
    assert_eq!(h.upstream()["body"]["space_id"], "space-9");

    let resp = h.post("/v1/chat/completions", json!({"model": "deployed", "messages": [{"role": "user", "content": "x"}]})).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(h.upstream()["path"], "/ml/v1/deployments/dep-42/text/chat");
    assert_eq!(h.upstream()["headers"]["authorization"], "Bearer wx-static-token");

    let resp = h.post("/v1/chat/completions", json!({"model": "bad-key", "messages": [{"role": "user", "content": "x"}]})).await;
    assert_eq!(resp.status(), 400);
    let msg = resp.json::<Value>().await.expect("json")["error"]["message"].as_str().unwrap_or("").to_owned();
    assert!(msg.contains("watsonx IAM token exchange failed") && msg.contains("API key could not be found"), "{msg}");
}

#[tokio::test]
async fn count_tokens_asks_anthropic_and_estimates_elsewhere() {
    let h = messages_harness().await;
    let body =
        |model: &str| json!({"model": model, "system": "sys", "messages": [{"role": "user", "content": "count these tokens please"}]});
    let resp = h.post("/v1/messages/count_tokens", body("claude")).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.expect("json");
    assert!(v["input_tokens"].as_u64().is_some_and(|n| n > 0), "{v}");
    let up = h.upstream();
    assert_eq!(up["path"], "/v1/messages/count_tokens");
    assert!(up["body"].get("max_tokens").is_none());
    let v: Value = h.post("/v1/messages/count_tokens", body("gpt")).await.json().await.expect("json");
    assert_eq!(v["input_tokens"], 8, "estimated: (3 + 25 characters) / 4 = 1 + 7");
}
