//! How plugins' outbound HTTP leaves the proxy: through a sender the
//! embedder provides (the proxy's pooled, TLS-configured client), so plugin
//! calls reuse connections instead of a TCP and TLS handshake per request.
//! Without one, wasmtime-wasi-http's default (a connection per request) is used.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use wasmtime_wasi_http::{Error, WasiBody};

/// A response future as the wasi-http hooks return it.
pub type SendFuture = Pin<Box<dyn Future<Output = Result<http::Response<WasiBody>, Error>> + Send>>;

/// Sends an outgoing request for a plugin; the allow-list is checked before.
pub trait Outbound: Send + Sync + 'static {
    /// Sends `request`; `first_byte` bounds the wait for the response head.
    fn send(&self, request: http::Request<WasiBody>, first_byte: std::time::Duration) -> SendFuture;
}

/// The embedder's sender, if any.
pub type SharedOutbound = Option<Arc<dyn Outbound>>;
