//! Upstream HTTP shared by every adapter: one pooled client, JSON calls with
//! a deadline, upstream error mapping, and SSE decoding with an idle timeout.

use std::time::Duration;

use bytes::Bytes;
use eventsource_stream::Eventsource;
use futures::{Stream, StreamExt};
use http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tianji_core::{ErrorKind, GatewayError};

/// The pooled upstream HTTP client every adapter shares.
pub type HttpClient = reqwest::Client;

/// Builds the shared upstream client: pooled keep-alive connections,
/// `TCP_NODELAY`, no global timeout (each attempt has its own deadline).
pub fn build_client() -> reqwest::Client {
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(1024)
        .pool_idle_timeout(Duration::from_secs(90))
        .connect_timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// Maps a transport failure (connect, reset, timeout) to a gateway error.
pub fn transport_error(provider: &str, err: &reqwest::Error) -> GatewayError {
    let kind = if err.is_timeout() { ErrorKind::Timeout } else { ErrorKind::UpstreamConnection };
    let mut msg = format!("{provider} connection error: {err}");
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    GatewayError::new(kind, msg).with_provider(provider)
}

/// The error for an attempt that ran past its deadline.
pub fn timeout_error(provider: &str, after: Duration) -> GatewayError {
    GatewayError::new(
        ErrorKind::Timeout,
        format!("Request timed out: {provider} did not answer within {:.3}s", after.as_secs_f64()),
    )
    .with_provider(provider)
}

/// Parses `retry-after` (seconds or HTTP date is not supported) and `retry-after-ms`.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    if let Some(ms) = headers.get("retry-after-ms").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<f64>().ok()) {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// Turns a non-2xx upstream answer into a gateway error that keeps its status
/// class, message and code.
pub fn upstream_error(provider: &str, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> GatewayError {
    let (message, code) = match serde_json::from_slice::<Value>(body) {
        Ok(v) => {
            let err = v.get("error").unwrap_or(&v);
            let message = match err {
                Value::String(s) => s.clone(),
                _ => err
                    .get("message")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string()),
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

/// Sends a request with a deadline and decodes a JSON answer, mapping every failure.
pub async fn send_json<T: DeserializeOwned>(provider: &str, request: reqwest::RequestBuilder, timeout: Duration) -> Result<T, GatewayError> {
    let fut = async {
        let resp = request.send().await.map_err(|e| transport_error(provider, &e))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.map_err(|e| transport_error(provider, &e))?;
        if !status.is_success() {
            return Err(upstream_error(provider, status, &headers, &body));
        }
        serde_json::from_slice::<T>(&body).map_err(|e| {
            GatewayError::new(ErrorKind::UpstreamServer, format!("{provider} returned an invalid response: {e}")).with_provider(provider)
        })
    };
    tokio::time::timeout(timeout, fut).await.map_err(|_| timeout_error(provider, timeout))?
}

/// Sends a streaming request and waits (within the deadline) for a 2xx head.
pub async fn send_stream(provider: &str, request: reqwest::RequestBuilder, timeout: Duration) -> Result<reqwest::Response, GatewayError> {
    let fut = async {
        let resp = request.send().await.map_err(|e| transport_error(provider, &e))?;
        if !resp.status().is_success() {
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = resp.bytes().await.unwrap_or_default();
            return Err(upstream_error(provider, status, &headers, &body));
        }
        Ok(resp)
    };
    tokio::time::timeout(timeout, fut).await.map_err(|_| timeout_error(provider, timeout))?
}

/// Decodes an SSE body into JSON events of type `T`, ending at `[DONE]`.
///
/// An `{"error": ...}` event, a malformed event, a dropped connection or a
/// gap longer than `idle_timeout` ends the stream with one error.
pub fn sse_json_stream<T: DeserializeOwned + Send + 'static>(
    provider: &str,
    resp: reqwest::Response,
    idle_timeout: Duration,
) -> impl Stream<Item = Result<T, GatewayError>> + Send + 'static {
    let provider = provider.to_owned();
    let events = resp.bytes_stream().eventsource();
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
                    let data = ev.data.trim();
                    if data.is_empty() {
                        continue;
                    }
                    if data == "[DONE]" {
                        return None;
                    }
                    return Some(match decode_event::<T>(&provider, data) {
                        Ok(t) => (Ok(t), (events, provider, false)),
                        Err(e) => (Err(e), (events, provider, true)),
                    });
                }
            }
        }
    })
}

fn decode_event<T: DeserializeOwned>(provider: &str, data: &str) -> Result<T, GatewayError> {
    // Errors inside a stream come as {"error": {...}}; check cheaply first.
    if data.contains("\"error\"")
        && let Ok(v) = serde_json::from_str::<Value>(data)
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
    serde_json::from_str::<T>(data).map_err(|e| {
        GatewayError::new(ErrorKind::UpstreamServer, format!("{provider} sent an invalid stream event: {e}")).with_provider(provider)
    })
}

/// Raw bytes of a JSON value, for request bodies.
pub fn json_body<T: serde::Serialize>(value: &T) -> Result<Bytes, GatewayError> {
    serde_json::to_vec(value).map(Bytes::from).map_err(|e| GatewayError::internal(format!("cannot encode request: {e}")))
}
