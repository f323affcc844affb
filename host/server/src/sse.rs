//! Relays a stream of chunks to the client as server-sent events, one event
//! per chunk as it arrives, ending with `[DONE]`; an upstream error mid-stream
//! becomes an `{"error": ...}` event followed by the end of the stream.
//!
//! Dropping the returned body (the client went away) drops the upstream
//! stream, which closes the upstream connection and cancels the call.

use std::convert::Infallible;

use axum::body::Body;
use bytes::{BufMut, Bytes, BytesMut};
use futures::{Stream, StreamExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tianji_core::GatewayError;
use tianji_core::types::{HasUsage, Reply};

/// Encodes one event: `data: <json>\n\n`.
pub fn event<T: Serialize>(value: &T) -> Bytes {
    let mut buf = BytesMut::with_capacity(256).writer();
    let _ = std::io::Write::write_all(&mut buf, b"data: ");
    if serde_json::to_writer(&mut buf, value).is_err() {
        return Bytes::from_static(b"data: {}\n\n");
    }
    let _ = std::io::Write::write_all(&mut buf, b"\n\n");
    buf.into_inner().freeze()
}

/// Encodes one event from a reply: raw upstream JSON is written as is.
pub fn reply_event<T: Serialize>(reply: &Reply<T>) -> Bytes {
    match reply {
        Reply::Parsed(t) => event(t),
        Reply::Raw { bytes, .. } => {
            let mut buf = BytesMut::with_capacity(bytes.len() + 8);
            buf.extend_from_slice(b"data: ");
            buf.extend_from_slice(bytes);
            buf.extend_from_slice(b"\n\n");
            buf.freeze()
        }
    }
}

/// The error event.
pub fn error_event(e: &GatewayError) -> Bytes {
    event(&e.to_body())
}

const DONE: &[u8] = b"data: [DONE]\n\n";

/// A body that writes `stream` as SSE; `on_item` sees every item (usage
/// accounting) and says whether the client gets it (a usage chunk the
/// gateway asked for on its own account is kept from the client).
pub fn body<T, S, F>(call_id: &str, stream: S, mut on_item: F) -> Body
where
    T: HasUsage + Serialize + DeserializeOwned + Send + 'static,
    S: Stream<Item = Result<Reply<T>, GatewayError>> + Send + 'static,
    F: FnMut(&Reply<T>) -> bool + Send + 'static,
{
    let call_id = call_id.to_owned();
    let events = stream
        .filter_map(move |item| {
            futures::future::ready(match item {
                Ok(chunk) => on_item(&chunk).then(|| (reply_event(&chunk), false)),
                Err(e) => {
                    tracing::warn!(call_id = %call_id, error = %e, "stream ended by an upstream error");
                    Some((error_event(&e), true))
                }
            })
        })
        // Stop after an error event; otherwise finish with [DONE].
        .scan(false, |stopped, (bytes, is_error)| {
            if *stopped {
                return futures::future::ready(None);
            }
            *stopped = is_error;
            futures::future::ready(Some((bytes, is_error)))
        });
    let ended_by_error = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = ended_by_error.clone();
    let events = events.map(move |(bytes, is_error)| {
        if is_error {
            flag.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        Ok::<Bytes, Infallible>(bytes)
    });
    let done = futures::stream::once(async move { ended_by_error.load(std::sync::atomic::Ordering::Relaxed) })
        .filter_map(|errored| futures::future::ready((!errored).then(|| Ok::<Bytes, Infallible>(Bytes::from_static(DONE)))));
    Body::from_stream(events.chain(done))
}
