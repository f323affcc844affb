//! A fast, deterministic mock of OpenAI-format model APIs, for tests and the
//! benchmark.
//!
//! Answers derive from the request: a chat answer is `mock answer to: <last
//! user text>`, split into `chunks` stream deltas. Behaviour is steered per
//! request by a magic substring in the `model` (the proxy forwards the model,
//! not client headers) or by `x-mock-*` headers:
//!
//! | model contains / header             | effect                                              |
//! |-------------------------------------|-----------------------------------------------------|
//! | `error-429` / `x-mock-error: 429`   | 429 with `retry-after: 1` (also 400, 401, 403, 404, 500, 503) |
//! | `error-context`                     | 400 `context_length_exceeded`                        |
//! | `flaky-N`                           | the first N calls for that model fail with 500       |
//! | `timeout`                           | never answers (until the client gives up)            |
//! | `slow-MS` / `x-mock-latency-ms`     | waits MS before answering                            |
//! | `drop-mid-stream`                   | a stream sends two chunks, then the connection drops |
//! | `tools`                             | answers with a `get_weather` tool call              |
//! | `slow-stream`                       | streams 100 deltas, 20 ms apart                      |
//! | `x-mock-chunks`, `x-mock-chunk-interval-ms` | stream shape                                |
//!
//! `GET /_mock/stats` reports request, completed-stream and cancelled-stream
//! counts and the last request seen (path, query, headers, body), so tests
//! can check the exact wire shape a provider adapter sent.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

mod anthropic;
mod bedrock;
mod cohere;
mod gemini;
pub mod google_auth;
mod responses;
mod sagemaker;
pub mod standins;
mod watsonx;

type Body = BoxBody<Bytes, std::io::Error>;

/// Default behaviour of a mock server.
#[derive(Debug, Clone)]
pub struct MockOptions {
    /// Latency added to every answer.
    pub latency: Duration,
    /// Deltas per streamed answer.
    pub chunks: usize,
    /// Pause between deltas.
    pub chunk_interval: Duration,
    /// Fraction of requests answered with a 500 (0.0-1.0).
    pub error_rate: f64,
    /// When set, requests must carry this key (`Authorization: Bearer` or `api-key`).
    pub require_key: Option<String>,
    /// When set, Bedrock requests must be SigV4-signed with this (access key id, secret).
    pub aws_credentials: Option<(String, String)>,
    /// When set, Vertex AI requests (`/v1/projects/...`) must carry a token of this service account.
    pub google_service_account: Option<google_auth::GoogleServiceAccount>,
}

impl Default for MockOptions {
    fn default() -> Self {
        Self {
            latency: Duration::ZERO,
            chunks: 5,
            chunk_interval: Duration::ZERO,
            error_rate: 0.0,
            require_key: None,
            aws_credentials: None,
            google_service_account: None,
        }
    }
}

/// Counters and the last request, shared with `/_mock/stats`.
#[derive(Debug, Default)]
pub struct MockStats {
    /// Requests received (excluding `/_mock/*`).
    pub requests: AtomicU64,
    /// Streams sent to the end.
    pub completed_streams: AtomicU64,
    /// Streams whose client went away before the end.
    pub cancelled_streams: AtomicU64,
    last_request: Mutex<Option<Value>>,
    flaky: Mutex<HashMap<String, u64>>,
}

struct Shared {
    opts: MockOptions,
    stats: Arc<MockStats>,
}

/// A running mock server.
pub struct MockServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its counters.
    pub stats: Arc<MockStats>,
    task: tokio::task::JoinHandle<()>,
}

impl MockServer {
    /// `http://127.0.0.1:PORT/v1`, the OpenAI-style base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// `http://127.0.0.1:PORT`, the root (Azure-style base URL).
    pub fn root_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The last request seen: `{"method","path","query","headers","body"}`.
    pub fn last_request(&self) -> Option<Value> {
        self.stats.last_request.lock().ok().and_then(|g| g.clone())
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a mock server on `127.0.0.1` at a free port.
pub async fn spawn(opts: MockOptions) -> std::io::Result<MockServer> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let stats = Arc::new(MockStats::default());
    let shared = Arc::new(Shared { opts, stats: stats.clone() });
    let task = tokio::spawn(serve(listener, shared));
    Ok(MockServer { addr, stats, task })
}

/// Serves on an already-bound listener until the task is dropped.
pub async fn serve_on(listener: TcpListener, opts: MockOptions) {
    let shared = Arc::new(Shared { opts, stats: Arc::new(MockStats::default()) });
    serve(listener, shared).await;
}

async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(handle(req, shared).await) }
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new()).serve_connection(TokioIo::new(stream), svc).await;
        });
    }
}

fn full(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()).map_err(|never: Infallible| match never {}).boxed());
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    r
}

/// Which provider API a request speaks, from its path.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Api {
    OpenAi,
    Anthropic,
    Google,
    Bedrock,
    Cohere,
    SageMaker,
    Watsonx,
}

impl Api {
    fn of(path: &str) -> Self {
        if path.ends_with("/v1/messages") || path.ends_with("/v1/messages/count_tokens") || path.contains("/publishers/anthropic/models/") {
            Api::Anthropic
        } else if path.starts_with("/model/") {
            Api::Bedrock
        } else if path.starts_with("/endpoints/") {
            Api::SageMaker
        } else if path.starts_with("/ml/v1/") || path == "/identity/token" {
            Api::Watsonx
        } else if path.ends_with("/v2/chat") || path.ends_with("/v2/embed") {
            Api::Cohere
        } else if path.contains("/models/") && path.contains(':') {
            Api::Google
        } else {
            Api::OpenAi
        }
    }
}

fn error_response(api: Api, status: u16, message: &str, code: Option<&str>) -> Response<Body> {
    if api == Api::Bedrock || api == Api::SageMaker {
        return bedrock::error(status, message);
    }
    let body = match api {
        Api::OpenAi => {
            let ty = match status {
                400 => "invalid_request_error",
                401 => "authentication_error",
                403 => "permission_error",
                404 => "not_found_error",
                429 => "rate_limit_error",
                _ => "server_error",
            };
            json!({"error": {"message": message, "type": ty, "param": null, "code": code}})
        }
        Api::Anthropic => anthropic::error_body(status, message),
        Api::Google | Api::Bedrock | Api::SageMaker => gemini::error_body(status, message),
        Api::Watsonx => json!({"errors": [{"code": "mock_error", "message": message}], "trace": "mock", "status_code": status}),
        Api::Cohere => cohere::error_body(message),
    };
    let mut r = full(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), body.to_string());
    if status == 429 || status == 503 || status == 529 {
        r.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    }
    r
}

fn header_str<'a>(req: &'a Request<Incoming>, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Parses the integer after `prefix` in `model` (`slow-250` → 250).
fn magic_number(model: &str, prefix: &str) -> Option<u64> {
    let i = model.find(prefix)? + prefix.len();
    let digits: String = model[i..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

async fn handle(req: Request<Incoming>, shared: Arc<Shared>) -> Response<Body> {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let method = req.method().clone();

    if path == "/_mock/stats" {
        let s = &shared.stats;
        let last = s.last_request.lock().ok().and_then(|g| g.clone());
        let body = json!({
            "requests": s.requests.load(Ordering::Relaxed),
            "completed_streams": s.completed_streams.load(Ordering::Relaxed),
            "cancelled_streams": s.cancelled_streams.load(Ordering::Relaxed),
            "last_request": last,
        });
        return full(StatusCode::OK, body.to_string());
    }
    if path == "/_mock/reset" {
        let s = &shared.stats;
        s.requests.store(0, Ordering::Relaxed);
        s.completed_streams.store(0, Ordering::Relaxed);
        s.cancelled_streams.store(0, Ordering::Relaxed);
        if let Ok(mut f) = s.flaky.lock() {
            f.clear();
        }
        return full(StatusCode::OK, "{}");
    }
    shared.stats.requests.fetch_add(1, Ordering::Relaxed);

    let opts = &shared.opts;
    let api = Api::of(&path);
    if let Some(key) = opts.require_key.as_ref().filter(|_| !matches!(api, Api::Bedrock | Api::SageMaker | Api::Watsonx)) {
        let presented = match api {
            Api::OpenAi | Api::Cohere => {
                header_str(&req, "authorization").and_then(|v| v.strip_prefix("Bearer ")).or_else(|| header_str(&req, "api-key"))
            }
            Api::Anthropic => header_str(&req, "x-api-key"),
            Api::Google => header_str(&req, "x-goog-api-key")
                .or_else(|| header_str(&req, "authorization").and_then(|v| v.strip_prefix("Bearer ")))
                .or_else(|| query.split('&').find_map(|kv| kv.strip_prefix("key="))),
            Api::Bedrock | Api::SageMaker | Api::Watsonx => None,
        };
        if presented != Some(key.as_str()) {
            return error_response(api, 401, "Incorrect API key provided", Some("invalid_api_key"));
        }
    }
    // Vertex AI: Google's OAuth2 instead of provider keys; Claude takes its version in the body.
    let vertex = path.starts_with("/v1/projects/");
    if vertex
        && let Some(account) = &opts.google_service_account
        && let Err(message) = google_auth::verify(header_str(&req, "authorization"), account)
    {
        return error_response(Api::Google, 401, &message, None);
    }
    if api == Api::Anthropic && !vertex && header_str(&req, "anthropic-version").is_none() {
        return error_response(api, 400, "anthropic-version: header is required", None);
    }
    let latency = header_str(&req, "x-mock-latency-ms").and_then(|v| v.parse().ok()).map(Duration::from_millis);
    let forced_error: Option<u16> = header_str(&req, "x-mock-error").and_then(|v| v.parse().ok());
    let chunks: usize = header_str(&req, "x-mock-chunks").and_then(|v| v.parse().ok()).unwrap_or(opts.chunks).max(1);
    let interval =
        header_str(&req, "x-mock-chunk-interval-ms").and_then(|v| v.parse().ok()).map(Duration::from_millis).unwrap_or(opts.chunk_interval);
    let headers: serde_json::Map<String, Value> =
        req.headers().iter().map(|(k, v)| (k.as_str().to_owned(), Value::String(v.to_str().unwrap_or("").to_owned()))).collect();

    let body_bytes = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return error_response(api, 400, "could not read body", None),
    };
    if path == "/identity/token" {
        return watsonx::iam(&body_bytes, opts.require_key.as_deref());
    }
    let body: Value = if body_bytes.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&body_bytes) {
            Ok(v) => v,
            Err(e) => return error_response(api, 400, &format!("invalid JSON body: {e}"), None),
        }
    };
    if api == Api::Bedrock || api == Api::SageMaker {
        let path_and_query = if query.is_empty() { path.clone() } else { format!("{path}?{query}") };
        if let Err(m) = bedrock::verify_signature(method.as_str(), &path_and_query, &headers, &body_bytes, opts.aws_credentials.as_ref()) {
            return bedrock::error(403, &m);
        }
    }
    if let Ok(mut last) = shared.stats.last_request.lock() {
        *last = Some(json!({"method": method.as_str(), "path": path, "query": query, "headers": headers, "body": body}));
    }

    if api == Api::Anthropic && vertex {
        if body.get("anthropic_version").and_then(Value::as_str) != Some("vertex-2023-10-16") {
            return error_response(api, 400, "anthropic_version: Field required (vertex-2023-10-16)", None);
        }
        if body.get("model").is_some() {
            return error_response(api, 400, "model: Extra inputs are not permitted (the URL names the model)", None);
        }
        let streamed = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
        if path.ends_with(":streamRawPredict") != streamed {
            return error_response(api, 400, "streams go to :streamRawPredict, other calls to :rawPredict", None);
        }
    }
    let model = match api {
        Api::Google => gemini::model_of(&path).to_owned(),
        Api::Anthropic if vertex => gemini::model_of(&path).to_owned(),
        Api::Bedrock => bedrock::model_of(&path),
        Api::SageMaker => path.split('/').nth(2).unwrap_or("").to_owned(),
        _ => body.get("model").and_then(Value::as_str).unwrap_or("").to_owned(),
    };
    let wait = latency.or_else(|| magic_number(&model, "slow-").map(Duration::from_millis)).unwrap_or(opts.latency);
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    if model.contains("timeout") {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let error = forced_error.or_else(|| {
        ["429", "400", "401", "403", "404", "500", "503", "529"]
            .iter()
            .find(|c| model.contains(&format!("error-{c}")))
            .and_then(|c| c.parse().ok())
    });
    if let Some(status) = error {
        return error_response(api, status, &format!("mock error {status} for model {model}"), None);
    }
    if model.contains("error-context") {
        let message = match api {
            Api::OpenAi => "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.",
            Api::Anthropic => "prompt is too long: 9000 tokens > 8192 maximum",
            Api::Google => "The input token count (9000) exceeds the maximum number of tokens allowed (8192).",
            Api::Bedrock | Api::SageMaker => "Input is too long for requested model.",
            Api::Watsonx => "the number of input tokens 9000 cannot exceed the total tokens limit 8192 for this model",
            Api::Cohere => "too many tokens: total number of tokens in the prompt cannot exceed 8192",
        };
        return error_response(api, 400, message, Some("context_length_exceeded"));
    }
    if let Some(n) = magic_number(&model, "flaky-") {
        let seen = shared.stats.flaky.lock().map(|mut f| {
            let c = f.entry(model.clone()).or_insert(0);
            *c += 1;
            *c
        });
        if seen.unwrap_or(0) <= n {
            return error_response(api, 500, "mock flaky failure", None);
        }
    }
    if opts.error_rate > 0.0 && fastrand::f64() < opts.error_rate {
        return error_response(api, 500, "mock injected failure", None);
    }
    if model.contains("malformed-json") {
        return full(StatusCode::OK, "{\"id\": \"truncated\", \"content\": [");
    }

    let (chunks, interval) = if model.contains("slow-stream") { (100, Duration::from_millis(20)) } else { (chunks, interval) };
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let route = path.trim_end_matches('/');
    let call = Call { body: &body, model: &model, stream, chunks, interval, stats: shared.stats.clone() };
    match api {
        Api::Anthropic if route.ends_with("/count_tokens") => return anthropic::count_tokens(&call),
        Api::Anthropic => return anthropic::messages(&call),
        Api::Google => {
            return match route.rsplit(':').next().unwrap_or("") {
                "generateContent" => gemini::generate(&call, false),
                "streamGenerateContent" if query.contains("alt=sse") => gemini::generate(&call, true),
                "batchEmbedContents" => gemini::batch_embed(&call),
                "predict" => gemini::predict(&call),
                other => error_response(api, 404, &format!("mock upstream has no method :{other} (streams need ?alt=sse)"), None),
            };
        }
        Api::Bedrock => {
            return match route.rsplit('/').next().unwrap_or("") {
                "converse" => bedrock::converse(&call, false),
                "converse-stream" => bedrock::converse(&call, true),
                "invoke" => bedrock::invoke(&call),
                other => error_response(api, 404, &format!("mock upstream has no Bedrock operation {other}"), None),
            };
        }
        Api::Cohere if route.ends_with("/v2/chat") => return cohere::chat(&call),
        Api::Cohere => return cohere::embed(&call),
        Api::SageMaker if route.ends_with("/invocations-response-stream") => return sagemaker::stream(&call),
        Api::SageMaker => return error_response(api, 404, "InvokeEndpoint is served by moto in the tests; this mock streams only", None),
        Api::Watsonx => return watsonx::handle(&call, route, &query, &headers),
        Api::OpenAi => {}
    }
    match (&method, route) {
        (&Method::GET, "/v1/models" | "/models") => full(StatusCode::OK, models_body()),
        (&Method::POST, p) if p.ends_with("/responses") => responses::create(&call),
        (&Method::GET, p) if p.contains("/responses/") => responses::retrieve(p.rsplit('/').next().unwrap_or(""), "gpt-4o"),
        (&Method::POST, p) if p.ends_with("/chat/completions") => {
            if stream {
                chat_stream(&body, &model, chunks, interval, shared.stats.clone())
            } else {
                let mut r = full(StatusCode::OK, chat_body(&body, &model).to_string());
                let h = r.headers_mut();
                h.insert("x-ratelimit-limit-requests", header::HeaderValue::from_static("10000"));
                h.insert("x-ratelimit-remaining-requests", header::HeaderValue::from_static("9999"));
                h.insert("x-request-id", header::HeaderValue::from_static("req_mock"));
                r
            }
        }
        (&Method::POST, p) if p.ends_with("/completions") => {
            if stream {
                completion_stream(&body, &model, chunks, interval, shared.stats.clone())
            } else {
                full(StatusCode::OK, completion_body(&body, &model).to_string())
            }
        }
        (&Method::POST, p) if p.ends_with("/embeddings") => full(StatusCode::OK, embeddings_body(&body, &model).to_string()),
        (&Method::POST, p) if p.ends_with("/moderations") => full(StatusCode::OK, moderation_body(&body).to_string()),
        (&Method::POST, p) if p.ends_with("/images/generations") => full(StatusCode::OK, image_body(&body).to_string()),
        _ => error_response(api, 404, &format!("mock upstream has no route {method} {path}"), None),
    }
}

/// What a provider-format handler needs of a request.
struct Call<'a> {
    body: &'a Value,
    model: &'a str,
    stream: bool,
    chunks: usize,
    interval: Duration,
    stats: Arc<MockStats>,
}

fn last_user_text(body: &Value) -> String {
    let Some(messages) = body.get("messages").and_then(Value::as_array) else { return String::new() };
    let Some(m) = messages.iter().rev().find(|m| m.get("role").and_then(Value::as_str) == Some("user")) else {
        return String::new();
    };
    match m.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join(" "),
        _ => String::new(),
    }
}

fn prompt_tokens(body: &Value) -> u64 {
    let chars: usize = body
        .get("messages")
        .and_then(Value::as_array)
        .map(|ms| ms.iter().map(|m| m.get("content").map(|c| c.to_string().len()).unwrap_or(0)).sum())
        .or_else(|| body.get("prompt").map(|p| p.to_string().len()))
        .or_else(|| body.get("input").map(|p| p.to_string().len()))
        .unwrap_or(0);
    (chars as u64).div_ceil(4).max(1)
}

fn answer_text(body: &Value) -> String {
    format!("mock answer to: {}", last_user_text(body))
}

fn usage(prompt: u64, completion: u64) -> Value {
    json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion})
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn chat_body(body: &Value, model: &str) -> Value {
    let prompt = prompt_tokens(body);
    if model.contains("tools") {
        return json!({
            "id": "chatcmpl-mock", "object": "chat.completion", "created": now(), "model": model,
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": null,
                "tool_calls": [{"id": "call_mock_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]}}],
            "usage": usage(prompt, 10), "system_fingerprint": "fp_mock"
        });
    }
    let text = answer_text(body);
    let completion = text.split_whitespace().count() as u64;
    json!({
        "id": "chatcmpl-mock", "object": "chat.completion", "created": now(), "model": model,
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": null, "message": {"role": "assistant", "content": text}}],
        "usage": usage(prompt, completion), "system_fingerprint": "fp_mock"
    })
}

/// Splits `text` into `n` roughly equal pieces on character boundaries.
fn split_pieces(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let size = chars.len().div_ceil(n).max(1);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

fn sse(v: &Value) -> Bytes {
    Bytes::from(format!("data: {v}\n\n"))
}

/// Streams events from `events` with `interval` between them, counting cancellations.
fn stream_events(events: Vec<Bytes>, interval: Duration, drop_after: Option<usize>, stats: Arc<MockStats>) -> Response<Body> {
    let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(4);
    tokio::spawn(async move {
        for (i, ev) in events.into_iter().enumerate() {
            if drop_after == Some(i) {
                let _ = tx.send(Err(std::io::Error::other("mock drop mid-stream"))).await;
                return;
            }
            if i > 0 && !interval.is_zero() {
                tokio::time::sleep(interval).await;
            }
            if tx.send(Ok(Frame::data(ev))).await.is_err() {
                stats.cancelled_streams.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        // Every event was handed to the connection; dropping `tx` ends the body.
        stats.completed_streams.fetch_add(1, Ordering::Relaxed);
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    let mut r = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    r.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("text/event-stream"));
    r.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-cache"));
    r
}

fn chat_stream(body: &Value, model: &str, chunks: usize, interval: Duration, stats: Arc<MockStats>) -> Response<Body> {
    let created = now();
    let base = |delta: Value, finish: Value| {
        json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": created, "model": model,
               "system_fingerprint": "fp_mock", "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]})
    };
    let mut events = Vec::new();
    let completion;
    if model.contains("tools") {
        events.push(sse(&base(
            json!({"role": "assistant", "content": null, "tool_calls": [{"index": 0, "id": "call_mock_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}),
            Value::Null,
        )));
        for piece in split_pieces("{\"city\":\"Paris\"}", chunks) {
            events.push(sse(&base(json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}), Value::Null)));
        }
        events.push(sse(&base(json!({}), json!("tool_calls"))));
        completion = 10;
    } else {
        let text = answer_text(body);
        completion = text.split_whitespace().count() as u64;
        events.push(sse(&base(json!({"role": "assistant", "content": ""}), Value::Null)));
        for piece in split_pieces(&text, chunks) {
            events.push(sse(&base(json!({"content": piece}), Value::Null)));
        }
        events.push(sse(&base(json!({}), json!("stop"))));
    }
    let include_usage = body.pointer("/stream_options/include_usage").and_then(Value::as_bool).unwrap_or(false);
    if include_usage {
        events.push(sse(&json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [], "usage": usage(prompt_tokens(body), completion)})));
    }
    events.push(Bytes::from_static(b"data: [DONE]\n\n"));
    let drop_after = model.contains("drop-mid-stream").then_some(3);
    stream_events(events, interval, drop_after, stats)
}

fn completion_text(body: &Value) -> String {
    let prompt = match body.get("prompt") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => a.first().and_then(Value::as_str).unwrap_or("").to_owned(),
        _ => String::new(),
    };
    format!("mock completion of: {prompt}")
}

fn completion_body(body: &Value, model: &str) -> Value {
    let text = completion_text(body);
    json!({"id": "cmpl-mock", "object": "text_completion", "created": now(), "model": model,
           "choices": [{"text": text, "index": 0, "logprobs": null, "finish_reason": "stop"}],
           "usage": usage(prompt_tokens(body), text.split_whitespace().count() as u64)})
}

fn completion_stream(body: &Value, model: &str, chunks: usize, interval: Duration, stats: Arc<MockStats>) -> Response<Body> {
    let created = now();
    let mut events: Vec<Bytes> = split_pieces(&completion_text(body), chunks)
        .into_iter()
        .map(|p| {
            sse(&json!({"id": "cmpl-mock", "object": "text_completion", "created": created, "model": model,
            "choices": [{"text": p, "index": 0, "logprobs": null, "finish_reason": null}]}))
        })
        .collect();
    events.push(sse(&json!({"id": "cmpl-mock", "object": "text_completion", "created": created, "model": model,
        "choices": [{"text": "", "index": 0, "logprobs": null, "finish_reason": "stop"}]})));
    events.push(Bytes::from_static(b"data: [DONE]\n\n"));
    stream_events(events, interval, None, stats)
}

fn embeddings_body(body: &Value, model: &str) -> Value {
    let inputs: Vec<String> = match body.get("input") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a.iter().map(|v| v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())).collect(),
        _ => vec![],
    };
    let dims = body.get("dimensions").and_then(Value::as_u64).unwrap_or(8) as usize;
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, text)| {
            // Deterministic vector from the text's bytes.
            let mut h: u64 = 1469598103934665603;
            let v: Vec<f64> = (0..dims)
                .map(|d| {
                    for b in text.bytes().chain([d as u8]) {
                        h = (h ^ u64::from(b)).wrapping_mul(1099511628211);
                    }
                    ((h % 2000) as f64 / 1000.0) - 1.0
                })
                .collect();
            json!({"object": "embedding", "index": i, "embedding": v})
        })
        .collect();
    json!({"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": prompt_tokens(body), "total_tokens": prompt_tokens(body)}})
}

fn moderation_body(body: &Value) -> Value {
    let text = body.get("input").map(Value::to_string).unwrap_or_default();
    let flagged = text.contains("kill");
    json!({"id": "modr-mock", "model": body.get("model").cloned().unwrap_or(json!("omni-moderation-latest")),
           "results": [{"flagged": flagged, "categories": {"violence": flagged}, "category_scores": {"violence": if flagged {0.9} else {0.01}}}]})
}

fn image_body(body: &Value) -> Value {
    let n = body.get("n").and_then(Value::as_u64).unwrap_or(1);
    let data: Vec<Value> =
        (0..n).map(|i| json!({"url": format!("https://images.invalid/mock-{i}.png"), "revised_prompt": body.get("prompt")})).collect();
    json!({"created": now(), "data": data})
}

fn models_body() -> String {
    json!({"object": "list", "data": [
        {"id": "gpt-4o", "object": "model", "created": 1715367049, "owned_by": "system"},
        {"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"},
        {"id": "text-embedding-3-small", "object": "model", "created": 1705948997, "owned_by": "system"}
    ]})
    .to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn magic_numbers() {
        assert_eq!(super::magic_number("mock-slow-250", "slow-"), Some(250));
        assert_eq!(super::magic_number("flaky-2-x", "flaky-"), Some(2));
        assert_eq!(super::magic_number("plain", "slow-"), None);
        assert_eq!(super::split_pieces("abcdef", 4).len(), 3);
    }
}
