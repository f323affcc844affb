//! `POST /v1/messages`: Anthropic's Messages API in front of every provider.
//!
//! The request is translated to a chat completion and served by the chat
//! pipeline (keys, guardrails, routing, retries, fallbacks, spend, logs);
//! the answer — a message, a stream of named events, or an error — is
//! translated back into Anthropic's shape, so clients such as the official
//! `anthropic` SDK and Claude-style agents work against any deployment.

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use eventsource_stream::Eventsource;
use futures::StreamExt;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::Value;
use tianji_core::types::{ChatChunk, ChatResponse};
use tianji_providers::anthropic::inbound::{ToAnthropicStream, request_to_openai, response_to_anthropic};
use tianji_providers::anthropic::wire::{self, ErrorBody, ErrorDetail, MessagesRequest, StreamEvent};

use crate::auth::Caller;
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::state::AppState;

/// Largest answer body read back for translation (a chat completion is far smaller).
const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;

/// `POST /v1/messages`.
pub async fn messages(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<JsonBody<MessagesRequest>, ApiError>,
) -> Response {
    let converted = match body {
        Ok(JsonBody(r)) => request_to_openai(r),
        Err(e) => return anthropic_error(e.into_response()).await,
    };
    let req = match converted {
        Ok(r) => r,
        Err(e) => return anthropic_error(ApiError::from(e).into_response()).await,
    };
    let stream = req.stream;
    let resp = super::chat::serve(state, caller, headers, req).await;
    if resp.status() != StatusCode::OK {
        return anthropic_error(resp).await;
    }
    if stream { stream_to_anthropic(resp) } else { message_to_anthropic(resp).await }
}

/// A whole chat completion → an Anthropic message.
async fn message_to_anthropic(resp: Response) -> Response {
    let (mut parts, body) = resp.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_ANSWER_BYTES).await {
        Ok(b) => b,
        Err(e) => return error_response(StatusCode::BAD_GATEWAY, &format!("could not read the answer: {e}"), parts.headers),
    };
    let chat: ChatResponse = match serde_json::from_slice(&bytes) {
        Ok(c) => c,
        Err(e) => return error_response(StatusCode::BAD_GATEWAY, &format!("the answer is not a chat completion: {e}"), parts.headers),
    };
    let out = serde_json::to_vec(&response_to_anthropic(chat)).unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(out))
}

/// A chat-completion event stream → Anthropic's named events.
fn stream_to_anthropic(resp: Response) -> Response {
    let (parts, body) = resp.into_parts();
    let mut conv = ToAnthropicStream::new();
    let mut last = (String::new(), String::new());
    let mut ended = false;
    let events = body.into_data_stream().eventsource().map(move |ev| {
        if ended {
            return Vec::new();
        }
        let data = match ev {
            Ok(ev) => ev.data,
            Err(e) => {
                ended = true;
                return vec![error_event(&format!("stream interrupted: {e}"), "api_error")];
            }
        };
        if data == "[DONE]" {
            ended = true;
            return conv.finish(&last.0, &last.1).iter().map(named_event).collect();
        }
        let value: Value = match serde_json::from_str(&data) {
            Ok(v) => v,
            Err(e) => {
                ended = true;
                return vec![error_event(&format!("malformed stream event: {e}"), "api_error")];
            }
        };
        if let Some(err) = value.get("error") {
            ended = true;
            let message = err.get("message").and_then(Value::as_str).unwrap_or("upstream error");
            let status = err.get("code").and_then(Value::as_str).and_then(|c| c.parse::<u16>().ok()).unwrap_or(500);
            return vec![error_event(message, wire::error_type(status))];
        }
        match serde_json::from_value::<ChatChunk>(value) {
            Ok(chunk) => {
                if last.0.is_empty() {
                    last = (chunk.id.clone(), chunk.model.clone());
                }
                conv.chunk(chunk).iter().map(named_event).collect()
            }
            Err(e) => {
                ended = true;
                vec![error_event(&format!("malformed chat chunk: {e}"), "api_error")]
            }
        }
    });
    let bytes = events.flat_map(|v| futures::stream::iter(v.into_iter().map(Ok::<Bytes, std::convert::Infallible>)));
    Response::from_parts(parts, Body::from_stream(bytes))
}

/// `event: <type>\ndata: <json>\n\n`.
fn named_event(ev: &StreamEvent) -> Bytes {
    let json = serde_json::to_string(ev).unwrap_or_else(|_| "{}".to_owned());
    Bytes::from(format!("event: {}\ndata: {json}\n\n", ev.name()))
}

fn error_event(message: &str, kind: &str) -> Bytes {
    named_event(&StreamEvent::Error { error: ErrorDetail { kind: kind.to_owned(), message: message.to_owned() } })
}

/// An OpenAI-shaped error response → Anthropic's `{"type": "error", ...}`, same status and headers.
async fn anthropic_error(resp: Response) -> Response {
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_ANSWER_BYTES).await.unwrap_or_default();
    let message = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v.pointer("/error/message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
    error_response(parts.status, &message, parts.headers)
}

fn error_response(status: StatusCode, message: &str, mut headers: HeaderMap) -> Response {
    let body = ErrorBody {
        kind: "error".to_owned(),
        error: ErrorDetail { kind: wire::error_type(status.as_u16()).to_owned(), message: message.to_owned() },
    };
    headers.remove(header::CONTENT_LENGTH);
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let mut resp = (status, serde_json::to_vec(&body).unwrap_or_default()).into_response();
    resp.headers_mut().extend(headers);
    resp
}

/// `POST /v1/messages/count_tokens`: the prompt's input tokens, counted by
/// the provider where it can (Anthropic deployments), else estimated (four
/// characters a token, tools and system prompt included).
pub async fn count_tokens(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<JsonBody<Value>, ApiError>,
) -> Response {
    let started = std::time::Instant::now();
    let mut body = match body {
        Ok(JsonBody(b)) => b,
        Err(e) => return anthropic_error(e.into_response()).await,
    };
    // count_tokens takes no max_tokens; the shared request type wants one.
    if let Some(o) = body.as_object_mut() {
        o.entry("max_tokens").or_insert(Value::from(1));
    }
    let converted = serde_json::from_value::<MessagesRequest>(body)
        .map_err(|e| tianji_core::GatewayError::bad_request(format!("Invalid request body: {e}"), None))
        .and_then(request_to_openai);
    let mut req = match converted {
        Ok(r) => r,
        Err(e) => return anthropic_error(ApiError::from(e).into_response()).await,
    };
    let extracted = match crate::controls::extract(&caller, &mut req.extra, &headers, &req.model, tianji_core::CallType::Completion, None) {
        Ok(x) => x,
        Err(e) => return anthropic_error(ApiError::from(e).into_response()).await,
    };
    let model = req.model.clone();
    let req = std::sync::Arc::new(req);
    let resp = super::run_json(&state, "/v1/messages/count_tokens", &model, &extracted, started, |a: tianji_router::Attempt| {
        let req = req.clone();
        async move {
            let mut r = (*req).clone();
            r.model.clone_from(&a.model);
            let tokens = match a.provider.count_tokens(r.clone(), &a.opts).await {
                Ok(n) => n,
                Err(e) if e.kind == tianji_core::ErrorKind::NotSupported => estimate(&r),
                Err(e) => return Err(e),
            };
            Ok(tianji_core::types::Reply::Parsed(serde_json::json!({ "input_tokens": tokens })))
        }
    })
    .await;
    if resp.status() != StatusCode::OK { anthropic_error(resp).await } else { resp }
}

/// Four characters a token over the messages, tools and system prompt.
fn estimate(req: &tianji_core::types::ChatRequest) -> u64 {
    use tianji_core::types::estimate_tokens;
    let messages: u64 = req.messages.iter().map(|m| estimate_tokens(&m.text_content())).sum();
    let tools = req.tools.as_ref().map(|t| estimate_tokens(&serde_json::to_string(t).unwrap_or_default())).unwrap_or(0);
    messages + tools
}
