//! Plugins' outbound HTTP through one pooled client with the proxy's TLS
//! settings (system roots, HTTP/1.1 and HTTP/2), shared by every plugin and
//! worker: connections to a guardrail service are reused across requests.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tianji_plugin_host::outbound::{Outbound, SendFuture};
use wasmtime_wasi_http::{Error, WasiBody};

/// The pooled sender.
pub struct PooledOutbound {
    client: Client<tianji_providers::http::Connector, WasiBody>,
}

impl PooledOutbound {
    /// A client with up to 64 idle connections per host, kept for 90 s.
    pub fn new() -> Arc<Self> {
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(64)
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(tianji_providers::http::connector());
        Arc::new(Self { client })
    }
}

impl Outbound for PooledOutbound {
    fn send(&self, request: http::Request<WasiBody>, first_byte: Duration) -> SendFuture {
        let pending = self.client.request(request);
        Box::pin(async move {
            let resp = match tokio::time::timeout(first_byte, pending).await {
                Err(_) => return Err(Error::ConnectionReadTimeout),
                Ok(Err(e)) if e.is_connect() => return Err(Error::ConnectionRefused),
                Ok(Err(e)) => return Err(Error::InternalError(Some(e.to_string()))),
                Ok(Ok(r)) => r,
            };
            Ok(resp.map(|body| body.map_err(Error::Hyper).boxed_unsync()))
        })
    }
}
