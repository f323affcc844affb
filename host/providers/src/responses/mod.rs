//! OpenAI's Responses API (`/v1/responses`) for every provider: OpenAI and
//! Azure serve it themselves (the adapter passes it through, see
//! `openai.rs`); for the others [`request`] turns it into a chat request,
//! and [`response`] and [`stream`] turn the chat answer back into a
//! `response` object or its stream events.

pub mod request;
pub mod response;
pub mod stream;

use std::collections::VecDeque;

use serde_json::Value;
use tianji_core::GatewayError;
use tianji_core::types::{Reply, ResponsesPayload};

use crate::http::{StreamTranslator, malformed, upstream_error};

/// Relays a passed-through Responses stream event by event, reading the
/// usage of the closing event; an `error` or `response.failed` event ends
/// the stream with that error.
pub struct PassThroughEvents {
    provider: String,
}

impl PassThroughEvents {
    /// A relay for `provider`'s stream.
    pub fn new(provider: &str) -> Self {
        Self { provider: provider.to_owned() }
    }
}

impl StreamTranslator<eventsource_stream::Event> for PassThroughEvents {
    type Item = Reply<ResponsesPayload>;

    fn frame(&mut self, ev: eventsource_stream::Event, out: &mut VecDeque<Self::Item>) -> Result<bool, GatewayError> {
        let data = ev.data.trim();
        if data.is_empty() {
            return Ok(false);
        }
        if data == "[DONE]" {
            return Ok(true);
        }
        let v: Value = serde_json::from_str(data).map_err(|e| malformed(&self.provider, format!("stream event: {e}")))?;
        let kind = v.get("type").and_then(Value::as_str).unwrap_or_default().to_owned();
        if kind == "error" || kind == "response.failed" {
            let err = v.get("error").or_else(|| v.pointer("/response/error")).cloned().unwrap_or(Value::Null);
            let body = serde_json::json!({"error": err}).to_string();
            return Err(upstream_error(&self.provider, http::StatusCode::INTERNAL_SERVER_ERROR, &http::HeaderMap::new(), body.as_bytes()));
        }
        out.push_back(Reply::Parsed(ResponsesPayload::new(v)));
        Ok(kind == "response.completed" || kind == "response.incomplete")
    }

    fn closed(&mut self, _out: &mut VecDeque<Self::Item>) -> Result<(), GatewayError> {
        Err(malformed(&self.provider, "the stream ended before response.completed"))
    }
}

/// A chat stream as Responses events: each chunk's events as it arrives,
/// the closing events after the last one; an error ends the stream.
pub fn from_chat_stream(chunks: tianji_core::traits::ChunkStream, request: Value) -> tianji_core::traits::ResponsesStream {
    use futures::StreamExt;
    let state = (chunks, stream::ToResponsesStream::new(request), VecDeque::<Value>::new(), false);
    Box::pin(futures::stream::unfold(state, |(mut chunks, mut conv, mut queue, mut done)| async move {
        loop {
            if let Some(v) = queue.pop_front() {
                return Some((Ok(Reply::Parsed(ResponsesPayload::new(v))), (chunks, conv, queue, done)));
            }
            if done {
                return None;
            }
            match chunks.next().await {
                Some(Ok(reply)) => match reply.into_parsed() {
                    Ok(chunk) => queue.extend(conv.chunk(chunk)),
                    Err(e) => return Some((Err(e), (chunks, conv, queue, true))),
                },
                Some(Err(e)) => return Some((Err(e), (chunks, conv, queue, true))),
                None => {
                    done = true;
                    queue.extend(conv.finish());
                }
            }
        }
    }))
}
