//! What a plugin's store holds: its sandboxed WASI context (no files, no
//! environment, no sockets), the outbound-HTTP allow-list, memory limits, and
//! the host interface every plugin imports.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use http_body_util::BodyExt;
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use crate::bindings::guardrail::tianji::plugin::{host, types};
use crate::manifest::HostPattern;
use crate::stats::PluginStats;

/// Who a store belongs to and what it may do; shared by every instance of
/// one plugin version and configuration.
pub struct Grant {
    /// Plugin name, for logs.
    pub plugin: String,
    /// The configured instance name (a guardrail's `guardrail_name`), for logs.
    pub instance: String,
    /// The plugin's configuration as a JSON object.
    pub config_json: String,
    /// Secrets granted to the plugin, by name.
    pub secrets: HashMap<String, String>,
    /// Hosts the plugin may call.
    pub allowed_hosts: Vec<HostPattern>,
    /// Memory cap in bytes.
    pub memory_bytes: usize,
    /// Counters shared with `/plugins`.
    pub stats: Arc<PluginStats>,
    /// Fill `body` with the whole JSON (manifest `full_body`).
    pub full_body: bool,
    /// The proxy's pooled HTTP client, if it provided one.
    pub outbound: crate::outbound::SharedOutbound,
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant")
            .field("plugin", &self.plugin)
            .field("instance", &self.instance)
            .field("allowed_hosts", &self.allowed_hosts)
            .finish()
    }
}

/// The data of one plugin instance's store.
pub struct PluginState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: OutboundPolicy,
    pub(crate) limits: Limiter,
    pub(crate) grant: Arc<Grant>,
    /// When the current call must end; checked on every epoch tick.
    pub(crate) deadline: Instant,
}

impl PluginState {
    /// A fresh sandbox for one instance.
    pub fn new(grant: Arc<Grant>) -> Self {
        // No preopens, no env, no args, no network: WasiCtxBuilder's defaults
        // deny sockets and name lookups, and stdio goes to a sink.
        let wasi = WasiCtxBuilder::new().build();
        let limits = StoreLimitsBuilder::new()
            .memory_size(grant.memory_bytes)
            .instances(64)
            .tables(64)
            .memories(16)
            .trap_on_grow_failure(false)
            .build();
        Self {
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks: OutboundPolicy { grant: grant.clone() },
            limits: Limiter { inner: limits, stats: grant.stats.clone(), memory: 0 },
            grant,
            deadline: Instant::now(),
        }
    }
}

/// The store's limits, noting how much linear memory the instance holds
/// (the plugin's `peak_instance_memory`).
pub(crate) struct Limiter {
    inner: StoreLimits,
    stats: Arc<PluginStats>,
    memory: usize,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let grown = self.inner.memory_growing(current, desired, maximum)?;
        if grown {
            self.memory = self.memory.saturating_add(desired.saturating_sub(current));
            self.stats.peak_instance_memory.fetch_max(self.memory as u64, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(grown)
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for PluginState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}

/// Lets outbound requests through only to the hosts the plugin was granted.
struct OutboundPolicy {
    grant: Arc<Grant>,
}

type SendFuture = Box<
    dyn Future<
            Output = wasmtime_wasi_http::Result<(
                http::Response<wasmtime_wasi_http::WasiBody>,
                Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
            )>,
        > + Send,
>;

impl WasiHttpHooks for OutboundPolicy {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> SendFuture {
        if !self.grant.may_call(request.uri()) {
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        if let Some(out) = self.grant.outbound.clone() {
            let first_byte = options.and_then(|o| o.first_byte_timeout).unwrap_or(std::time::Duration::from_secs(600));
            return Box::new(async move {
                let res = out.send(request, first_byte).await?;
                Ok((res, Box::new(async { Ok(()) }) as Box<dyn Future<Output = _> + Send>))
            });
        }
        Box::new(async move {
            let (res, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((res.map(BodyExt::boxed_unsync), Box::new(io) as Box<dyn Future<Output = _> + Send>))
        })
    }
}

impl Grant {
    /// Whether the plugin may call `uri`'s host; a refusal is logged and counted.
    fn may_call(&self, uri: &http::Uri) -> bool {
        let host = uri.host().unwrap_or("");
        let port = uri.port_u16().unwrap_or(if uri.scheme() == Some(&http::uri::Scheme::HTTP) { 80 } else { 443 });
        let allowed = self.allowed_hosts.iter().any(|p| p.matches(host, port));
        if !allowed {
            self.stats.denied_http.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::warn!(plugin = %self.plugin, host, port, "plugin tried to call a host it was not granted; denied");
        }
        allowed
    }
}

/// `host.http-request`: one request through the same sender and allow-list as `wasi:http`.
async fn send_http(
    grant: Arc<Grant>,
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> Result<host::HttpResponse, String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("invalid URL {url}: {e}"))?;
    if uri.host().is_none() {
        return Err(format!("invalid URL {url}: no host"));
    }
    if !grant.may_call(&uri) {
        return Err(format!(
            "HTTP to {} is not allowed (add it to the manifest's allowed_hosts)",
            uri.authority().map_or("", |a| a.as_str())
        ));
    }
    let mut builder = http::Request::builder().method(method.as_str()).uri(uri);
    for (k, v) in &headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let body: wasmtime_wasi_http::WasiBody =
        http_body_util::Full::new(bytes::Bytes::from(body)).map_err(|never| match never {}).boxed_unsync();
    let request = builder.body(body).map_err(|e| format!("invalid request: {e}"))?;
    let response = match grant.outbound.clone() {
        Some(out) => out.send(request, std::time::Duration::from_secs(600)).await.map_err(|e| format!("HTTP request failed: {e:?}"))?,
        None => {
            let (res, io) =
                wasmtime_wasi_http::default_send_request(request, None).await.map_err(|e| format!("HTTP request failed: {e:?}"))?;
            tokio::spawn(io);
            res.map(BodyExt::boxed_unsync)
        }
    };
    let status = response.status().as_u16();
    let headers =
        response.headers().iter().map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned())).collect();
    let body = response.into_body().collect().await.map_err(|e| format!("reading the answer failed: {e:?}"))?.to_bytes().to_vec();
    Ok(host::HttpResponse { status, headers, body })
}

impl types::Host for PluginState {}

impl host::Host for PluginState {
    fn log(&mut self, level: types::LogLevel, message: String) {
        let plugin = self.grant.plugin.as_str();
        let instance = self.grant.instance.as_str();
        match level {
            types::LogLevel::Trace => tracing::trace!(plugin, instance, "{message}"),
            types::LogLevel::Debug => tracing::debug!(plugin, instance, "{message}"),
            types::LogLevel::Info => tracing::info!(plugin, instance, "{message}"),
            types::LogLevel::Warn => tracing::warn!(plugin, instance, "{message}"),
            types::LogLevel::Error => tracing::error!(plugin, instance, "{message}"),
        }
    }

    fn config(&mut self) -> String {
        self.grant.config_json.clone()
    }

    fn secret(&mut self, name: String) -> Option<String> {
        self.grant.secrets.get(&name).cloned()
    }

    fn now_ms(&mut self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
    }

    async fn http_request(
        &mut self,
        method: String,
        url: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Result<host::HttpResponse, String> {
        send_http(self.grant.clone(), method, url, headers, body).await
    }
}
