//! The Tianji proxy: the axum application, its handlers, authentication,
//! metrics and graceful shutdown. The `tianji` binary (`main.rs`) is a thin
//! CLI over [`serve`].
#![deny(missing_docs)]

pub mod access;
pub mod app;
pub mod auth;
pub mod body;
pub mod controls;
pub mod deployments;
pub mod error;
pub mod guardrails;
pub mod handlers;
pub mod headers;
pub mod logging;
pub mod outbound;
pub mod per_core;
pub mod plugin_cli;
pub mod plugins;
pub mod prompts;
pub mod secrets;
pub mod sse;
pub mod state;
pub mod stream_guard;
pub mod telemetry;

use std::future::Future;
use std::time::Duration;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;

pub use app::app;
pub use state::{AppState, LoadOptions, Loaded, load, load_str, load_with};

/// Serves `state` on `listener` until `shutdown` resolves, then lets
/// in-flight requests and streams finish for up to `grace`.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    let signal = async move {
        shutdown.await;
        let _ = tx.send(true);
    };
    let listener = listener.tap_io(|tcp| {
        // Without TCP_NODELAY small responses wait on delayed ACKs (~40 ms).
        let _ = tcp.set_nodelay(true);
    });
    let server = axum::serve(listener, app(state)).with_graceful_shutdown(signal);
    let mut rx = rx;
    let deadline = async move {
        while !*rx.borrow() {
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        tracing::info!(grace_s = grace.as_secs_f64(), "shutting down: no new connections; waiting for in-flight requests");
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        r = server => r,
        () = deadline => {
            tracing::warn!("grace period over; closing remaining connections");
            Ok(())
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
