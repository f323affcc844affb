//! Upstream HTTP shared by every adapter: one pooled client, JSON calls with
//! a deadline, upstream error mapping, and SSE decoding with an idle timeout.

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use eventsource_stream::Eventsource;
use futures::{Stream, StreamExt};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri, header};
use http_body_util::{BodyDataStream, BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tianji_core::types::{HasUsage, Reply};
use tianji_core::{ErrorKind, GatewayError};

/// A bearer token that may change over time (Vertex AI's OAuth2 tokens).
#[async_trait::async_trait]
pub trait AccessToken: Send + Sync {
    /// The current `Authorization` header value.
    async fn authorization(&self) -> Result<HeaderValue, GatewayError>;
}

/// `headers`, plus `Authorization` from `token` when there is one (borrowed when not).
pub async fn with_token<'a>(
    headers: &'a HeaderMap,
    token: Option<&dyn AccessToken>,
) -> Result<std::borrow::Cow<'a, HeaderMap>, GatewayError> {
    match token {
        None => Ok(std::borrow::Cow::Borrowed(headers)),
        Some(t) => {
            let mut h = headers.clone();
            h.insert(header::AUTHORIZATION, t.authorization().await?);
            Ok(std::borrow::Cow::Owned(h))
        }
    }
}

/// HTTPS-or-HTTP connector with the process's TLS settings.
pub type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// The upstream HTTP client every adapter shares: hyper-util's keep-alive
/// pool over rustls (HTTP/1.1 and HTTP/2 by ALPN), `TCP_NODELAY`, no global
/// timeout (each attempt has its own deadline), no redirects and no retries
/// of its own (the router owns retries).
///
/// Each thread has its own pool, so with the per-core runtime a request and
/// its upstream connection stay on one thread, and a worker that stops
/// takes down only connections it owns.
#[derive(Clone, Default)]
pub struct HttpClient {
    _private: (),
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpClient")
    }
}

thread_local! {
    static POOL: Client<Connector, Full<Bytes>> = new_pool();
}

/// TLS settings, built once per process (loading the system roots takes milliseconds).
fn tls_config() -> rustls::ClientConfig {
    static CONFIG: OnceLock<rustls::ClientConfig> = OnceLock::new();
    CONFIG.get_or_init(build_tls_config).clone()
}

fn build_tls_config() -> rustls::ClientConfig {
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = match rustls::ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions() {
        Ok(b) => b,
        Err(e) => {
            tracing::error!("TLS setup failed: {e}; https upstreams will not work");
            return rustls::ClientConfig::builder().with_root_certificates(rustls::RootCertStore::empty()).with_no_client_auth();
        }
    };
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for e in &native.errors {
        tracing::debug!("loading system CA certificates: {e}");
    }
    let (added, _) = roots.add_parsable_certificates(native.certs);
    if added == 0 {
        tracing::warn!("no system CA certificates found; https upstreams will fail certificate checks");
    }
    builder.with_root_certificates(roots).with_no_client_auth()
}

/// A connector with the system's CA roots and `TCP_NODELAY`, for pooled
/// clients elsewhere in the proxy (the plugin host's outbound HTTP).
pub fn connector() -> Connector {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    http.enforce_http(false);
    http.set_connect_timeout(Some(Duration::from_secs(10)));
    hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls_config())
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http)
}

fn new_pool() -> Client<Connector, Full<Bytes>> {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    http.enforce_http(false);
    http.set_connect_timeout(Some(Duration::from_secs(10)));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls_config())
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(1024)
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .build(https)
}

/// The shared upstream client; loads the TLS roots now rather than on the first request.
pub fn build_client() -> HttpClient {
    let _ = tls_config();
    HttpClient::default()
}

/// An upstream endpoint: a URI parsed once at start-up.
pub fn parse_uri(text: &str) -> Result<Uri, String> {
    let uri: Uri = text.parse().map_err(|e| format!("'{text}' is not a valid URL: {e}"))?;
    match uri.scheme_str() {
        Some("http" | "https") if uri.host().is_some() => Ok(uri),
        _ => Err(format!("'{text}' is not an http(s) URL")),
    }
}

impl HttpClient {
    /// Sends one request; the body is sent in one piece, as JSON unless
    /// `headers` name another content type.
    pub async fn send(
        &self,
        provider: &str,
        method: Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<Response<Incoming>, GatewayError> {
        let mut req = Request::new(Full::new(body));
        *req.method_mut() = method;
        *req.uri_mut() = uri.clone();
        let h = req.headers_mut();
        h.reserve(headers.len() + 1);
        for (k, v) in headers {
            h.append(k, v.clone());
        }
        if !h.contains_key(header::CONTENT_TYPE) {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        let pool = POOL.with(Client::clone);
        pool.request(req).await.map_err(|e| transport_error(provider, &e))
    }
}

/// Maps a transport failure (connect, reset) to a gateway error.
pub fn transport_error(provider: &str, err: &(dyn std::error::Error + 'static)) -> GatewayError {
    let mut msg = format!("litellm.APIConnectionError: {provider} connection error: {err}");
    let mut source = err.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    GatewayError::new(ErrorKind::UpstreamConnection, msg).with_provider(provider)
}

/// The error for an attempt that ran past its deadline.
pub fn timeout_error(provider: &str, after: Duration) -> GatewayError {
    GatewayError::new(
        ErrorKind::Timeout,
        format!("litellm.Timeout: Request timed out: {provider} did not answer within {:.3}s", after.as_secs_f64()),
    )
    .with_provider(provider)
}

/// Parses `retry-after` (seconds or HTTP date is not supported) and `retry-after-ms`.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    if let Some(ms) = headers.get("retry-after-ms").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<f64>().ok()) {
        return Some(tianji_core::types::duration_from_secs(ms / 1000.0));
    }
    headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| *s >= 0.0)
        .map(tianji_core::types::duration_from_secs)
}

/// Turns a non-2xx upstream answer into a gateway error that keeps its status
/// class, message and code.
pub fn upstream_error(provider: &str, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> GatewayError {
    let (message, code) = match serde_json::from_slice::<Value>(body) {
        Ok(v) => {
            // OpenAI-style `error`, IBM-style `errors: [...]`, or the body itself (AWS, Cohere).
            let err = v.get("error").or_else(|| v.get("errors").and_then(|e| e.get(0))).unwrap_or(&v);
            let message = match err {
                Value::String(s) => s.clone(),
                _ => err.get("message").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| v.to_string()),
            };
            let code = err.get("code").and_then(|c| match c {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            });
            (message, code)
        }
        Err(_) => (String::from_utf8_lossy(body).chars().take(2000).collect(), None),
    };
    GatewayError::from_upstream_status(provider, status, message, code, retry_after(headers))
}

/// One upstream call: where it goes, with which headers, within which deadline.
pub struct UpstreamCall<'a> {
    /// The shared client.
    pub client: &'a HttpClient,
    /// Provider name, for errors.
    pub provider: &'a str,
    /// Endpoint.
    pub uri: &'a Uri,
    /// Auth and extra headers.
    pub headers: &'a HeaderMap,
    /// Deadline for the whole answer (streams: for the response head).
    pub timeout: Duration,
}

impl UpstreamCall<'_> {
    /// POSTs `body`; a non-2xx answer becomes an upstream error with its status class.
    async fn post_ok(&self, body: Bytes) -> Result<Response<Incoming>, GatewayError> {
        let resp = self.client.send(self.provider, Method::POST, self.uri, self.headers, body).await?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        Err(upstream_error(self.provider, parts.status, &parts.headers, &body))
    }

    fn timed_out(&self) -> GatewayError {
        timeout_error(self.provider, self.timeout)
    }

    /// `GET`s the endpoint: the whole 2xx body.
    pub async fn get(&self) -> Result<Bytes, GatewayError> {
        let fut = async {
            let resp = self.client.send(self.provider, Method::GET, self.uri, self.headers, Bytes::new()).await?;
            let (parts, body) = resp.into_parts();
            let bytes = body.collect().await.map_err(|e| transport_error(self.provider, &e))?.to_bytes();
            if !parts.status.is_success() {
                return Err(upstream_error(self.provider, parts.status, &parts.headers, &bytes));
            }
            Ok(bytes)
        };
        tokio::time::timeout(self.timeout, fut).await.map_err(|_| self.timed_out())?
    }

    /// The whole 2xx body.
    pub async fn bytes(&self, body: Bytes) -> Result<Bytes, GatewayError> {
        self.bytes_and_headers(body).await.map(|(b, _)| b)
    }

    /// The whole 2xx body and the upstream's rate-limit headers (`x-ratelimit-*`).
    async fn bytes_and_headers(&self, body: Bytes) -> Result<(Bytes, HeaderMap), GatewayError> {
        let fut = async {
            let resp = self.post_ok(body).await?;
            let (parts, body) = resp.into_parts();
            let mut relayed = HeaderMap::new();
            for (name, value) in &parts.headers {
                if name.as_str().starts_with("x-ratelimit-") {
                    relayed.append(name.clone(), value.clone());
                }
            }
            let bytes = body.collect().await.map_err(|e| transport_error(self.provider, &e))?.to_bytes();
            Ok((bytes, relayed))
        };
        tokio::time::timeout(self.timeout, fut).await.map_err(|_| self.timed_out())?
    }

    /// The 2xx body decoded as `T`.
    pub async fn json<T: DeserializeOwned>(&self, body: Bytes) -> Result<T, GatewayError> {
        let bytes = self.bytes(body).await?;
        serde_json::from_slice::<T>(&bytes).map_err(|e| {
            GatewayError::new(ErrorKind::UpstreamServer, format!("{} returned an invalid response: {e}", self.provider))
                .with_provider(self.provider)
        })
    }

    /// The 2xx body kept raw, with only its usage read.
    pub async fn reply<T: HasUsage + Serialize + DeserializeOwned>(&self, body: Bytes) -> Result<Reply<T>, GatewayError> {
        let (bytes, relayed) = self.bytes_and_headers(body).await?;
        let mut reply = Reply::from_upstream(self.provider, bytes)?;
        if let Reply::Raw { headers, .. } = &mut reply {
            *headers = relayed;
        }
        Ok(reply)
    }

    /// A 2xx response head, its body left to stream.
    pub async fn stream(&self, body: Bytes) -> Result<Response<Incoming>, GatewayError> {
        tokio::time::timeout(self.timeout, self.post_ok(body)).await.map_err(|_| self.timed_out())?
    }
}

/// How long to wait for the upstream body to end after `[DONE]`.
const DRAIN_AFTER_DONE: Duration = Duration::from_millis(200);

/// Decodes an SSE body into JSON events of type `T`, ending at `[DONE]`.
///
/// An `{"error": ...}` event, a malformed event, a dropped connection or a
/// gap longer than `idle_timeout` ends the stream with one error.
pub fn sse_json_stream<T: HasUsage + Serialize + DeserializeOwned + Send + 'static>(
    provider: &str,
    resp: Response<Incoming>,
    idle_timeout: Duration,
) -> impl Stream<Item = Result<Reply<T>, GatewayError>> + Send + 'static {
    let provider = provider.to_owned();
    let events = BodyDataStream::new(resp.into_body()).eventsource();
    futures::stream::unfold((events, provider, false), move |(mut events, provider, done)| async move {
        if done {
            return None;
        }
        loop {
            let next = match tokio::time::timeout(idle_timeout, events.next()).await {
                Err(_) => {
                    let e = GatewayError::new(
                        ErrorKind::Timeout,
                        format!("{provider} stream stalled: no event within {:.3}s", idle_timeout.as_secs_f64()),
                    )
                    .with_provider(&provider);
                    return Some((Err(e), (events, provider, true)));
                }
                Ok(n) => n,
            };
            match next {
                None => return None,
                Some(Err(e)) => {
                    let e = GatewayError::new(ErrorKind::UpstreamConnection, format!("{provider} stream interrupted: {e}"))
                        .with_provider(&provider);
                    return Some((Err(e), (events, provider, true)));
                }
                Some(Ok(ev)) => {
                    let trimmed = ev.data.trim();
                    if trimmed.is_empty() {
                        continue;
                    }
                    if trimmed == "[DONE]" {
                        // Read the upstream body to its end (briefly) so its
                        // keep-alive connection goes back to the pool.
                        let drain = async { while events.next().await.is_some() {} };
                        let _ = tokio::time::timeout(DRAIN_AFTER_DONE, drain).await;
                        return None;
                    }
                    // The event's own String is kept (no copy) unless it has surrounding whitespace.
                    let whole = trimmed.len() == ev.data.len();
                    let data = if whole { ev.data } else { ev.data.trim().to_owned() };
                    return Some(match decode_event::<T>(&provider, data) {
                        Ok(t) => (Ok(t), (events, provider, false)),
                        Err(e) => (Err(e), (events, provider, true)),
                    });
                }
            }
        }
    })
}

/// One event: an `{"error": ...}` event ends the stream with that error;
/// anything else is relayed as raw JSON with its usage read.
fn decode_event<T: HasUsage + Serialize + DeserializeOwned>(provider: &str, data: String) -> Result<Reply<T>, GatewayError> {
    // Errors inside a stream come as {"error": {...}}; check cheaply first.
    if data.contains("\"error\"")
        && let Ok(v) = serde_json::from_str::<Value>(&data)
        && let Some(err) = v.get("error").filter(|e| !e.is_null())
    {
        let body = serde_json::to_vec(&serde_json::json!({ "error": err })).unwrap_or_default();
        let status = err
            .get("code")
            .and_then(Value::as_u64)
            .and_then(|c| StatusCode::from_u16(c as u16).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return Err(upstream_error(provider, status, &HeaderMap::new(), &body));
    }
    Reply::from_upstream(provider, Bytes::from(data)).map_err(|e| {
        GatewayError::new(ErrorKind::UpstreamServer, format!("{provider} sent an invalid stream event: {}", e.message))
            .with_provider(provider)
    })
}

/// Raw bytes of a JSON value, for request bodies.
pub fn json_body<T: serde::Serialize>(value: &T) -> Result<Bytes, GatewayError> {
    serde_json::to_vec(value).map(Bytes::from).map_err(|e| GatewayError::internal(format!("cannot encode request: {e}")))
}

/// Turns one upstream's stream frames (SSE events, AWS event-stream
/// messages) into items for the client, keeping whatever state the
/// provider's protocol needs between frames.
pub trait StreamTranslator<F>: Send + 'static {
    /// What the client receives (chat chunks).
    type Item: Send + 'static;

    /// Handles one frame, queuing what it produces on `out`; returns `true`
    /// on the provider's final frame.
    fn frame(&mut self, frame: F, out: &mut std::collections::VecDeque<Self::Item>) -> Result<bool, GatewayError>;

    /// The upstream closed the stream without a final frame: an error if
    /// the provider always sends one (the stream was cut).
    fn closed(&mut self, out: &mut std::collections::VecDeque<Self::Item>) -> Result<(), GatewayError>;
}

/// The error for a provider answer that is not what its API documents
/// (truncated JSON, an unknown event, a frame cut short): a 502 naming the provider.
pub fn malformed(provider: &str, what: impl std::fmt::Display) -> GatewayError {
    GatewayError::new(ErrorKind::UpstreamServer, format!("{provider} sent a malformed response: {what}"))
        .with_status(StatusCode::BAD_GATEWAY)
        .with_provider(provider)
}

/// Decodes a provider's JSON body as `T`, or a 502 naming the provider.
pub fn decode_json<T: DeserializeOwned>(provider: &str, bytes: &[u8]) -> Result<T, GatewayError> {
    serde_json::from_slice(bytes).map_err(|e| malformed(provider, e))
}

/// Runs `frames` through `translator`: each frame may produce several items;
/// a frame error, a gap longer than `idle_timeout`, a translation error or a
/// stream cut before the final frame ends the stream with one error.
pub fn translate_stream<F, E, S, T>(
    provider: &str,
    frames: S,
    idle_timeout: Duration,
    translator: T,
) -> impl Stream<Item = Result<T::Item, GatewayError>> + Send + 'static
where
    F: Send + 'static,
    E: std::fmt::Display + Send + 'static,
    S: Stream<Item = Result<F, E>> + Send + Unpin + 'static,
    T: StreamTranslator<F>,
{
    struct State<S, T: StreamTranslator<F>, F> {
        frames: S,
        translator: T,
        queue: std::collections::VecDeque<T::Item>,
        provider: String,
        finished: bool,
        _frame: std::marker::PhantomData<fn(F)>,
    }
    let state = State {
        frames,
        translator,
        queue: std::collections::VecDeque::new(),
        provider: provider.to_owned(),
        finished: false,
        _frame: std::marker::PhantomData,
    };
    futures::stream::unfold(state, move |mut st| async move {
        loop {
            if let Some(item) = st.queue.pop_front() {
                return Some((Ok(item), st));
            }
            if st.finished {
                return None;
            }
            let next = match tokio::time::timeout(idle_timeout, st.frames.next()).await {
                Err(_) => {
                    st.finished = true;
                    let e = GatewayError::new(
                        ErrorKind::Timeout,
                        format!("{} stream stalled: no event within {:.3}s", st.provider, idle_timeout.as_secs_f64()),
                    )
                    .with_provider(&st.provider);
                    return Some((Err(e), st));
                }
                Ok(n) => n,
            };
            let result = match next {
                None => {
                    st.finished = true;
                    st.translator.closed(&mut st.queue)
                }
                Some(Err(e)) => {
                    st.finished = true;
                    Err(GatewayError::new(ErrorKind::UpstreamConnection, format!("{} stream interrupted: {e}", st.provider))
                        .with_provider(&st.provider))
                }
                Some(Ok(frame)) => match st.translator.frame(frame, &mut st.queue) {
                    Ok(true) => {
                        st.finished = true;
                        // Read the body to its end (briefly) so the connection goes back to the pool.
                        let drain = async { while st.frames.next().await.is_some() {} };
                        let _ = tokio::time::timeout(DRAIN_AFTER_DONE, drain).await;
                        Ok(())
                    }
                    Ok(false) => Ok(()),
                    Err(e) => {
                        st.finished = true;
                        Err(e)
                    }
                },
            };
            if let Err(e) = result {
                // A frame that fails produces nothing but the error.
                st.queue.clear();
                return Some((Err(e), st));
            }
        }
    })
}

/// The SSE events of a streaming response body.
pub fn sse_events(resp: Response<Incoming>) -> impl Stream<Item = Result<eventsource_stream::Event, String>> + Send + Unpin + 'static {
    BodyDataStream::new(resp.into_body()).eventsource().map(|r| r.map_err(|e| e.to_string()))
}

/// Adds a deployment's `extra_headers` to the headers sent upstream.
pub fn add_extra_headers(headers: &mut HeaderMap, extra: &std::collections::BTreeMap<String, String>) -> Result<(), String> {
    for (k, v) in extra {
        let name = http::HeaderName::from_bytes(k.as_bytes()).map_err(|_| format!("extra_headers.{k} is not a valid header name"))?;
        let value = HeaderValue::from_str(v).map_err(|_| format!("extra_headers.{k} is not a valid header value"))?;
        headers.insert(name, value);
    }
    Ok(())
}
