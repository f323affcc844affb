//! Thread-per-core serving: one single-threaded tokio runtime per worker,
//! each accepting on its own `SO_REUSEPORT` listener bound to the same
//! address. The kernel spreads connections across them; a request, its
//! upstream call and its response then stay on one thread, with no
//! cross-thread wake-ups or work stealing on the hot path. Shared state
//! (router, health, metrics) is the same `AppState` behind `Arc`s.

use std::net::SocketAddr;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use crate::state::AppState;

fn reuseport_listener(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// Serves on `addr` with `workers` threads until `shutdown` resolves (awaited
/// on the calling thread), then gives in-flight requests `grace` to finish.
/// Calls `on_ready` with the bound address once every worker listens.
pub fn serve_per_core(
    addr: SocketAddr,
    workers: usize,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()>,
    grace: Duration,
    on_ready: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    // The first socket fixes the port (when 0 was asked for); the others join it.
    let first = reuseport_listener(addr)?;
    let bound = first.local_addr()?;
    let mut listeners = vec![first];
    for _ in 1..workers.max(1) {
        listeners.push(reuseport_listener(bound)?);
    }
    let (tx, rx) = tokio::sync::watch::channel(false);
    let mut threads = Vec::new();
    for (i, std_listener) in listeners.into_iter().enumerate() {
        let state = state.clone();
        let mut rx = rx.clone();
        let thread = std::thread::Builder::new().name(format!("tianji-worker-{i}")).spawn(move || -> std::io::Result<()> {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener)?;
                let stop = async move {
                    while !*rx.borrow() {
                        if rx.changed().await.is_err() {
                            break;
                        }
                    }
                };
                crate::serve(listener, state, stop, grace).await
            })
        })?;
        threads.push(thread);
    }
    on_ready(bound);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(shutdown);
    let _ = tx.send(true);
    let mut result = Ok(());
    for t in threads {
        match t.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => result = Err(e),
            Err(_) => result = Err(std::io::Error::other("a worker thread panicked")),
        }
    }
    result
}
