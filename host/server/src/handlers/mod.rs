//! HTTP handlers, one file per endpoint family, and the two runners they
//! share: [`run_json`] for calls answered with one JSON body and
//! [`run_stream`] for calls answered with server-sent events. Both route the
//! call, attach LiteLLM's headers, and record request metrics.

pub mod chat;
pub mod completions;
pub mod embeddings;
pub mod health;
pub mod images;
pub mod management;
pub mod messages;
pub mod models;
pub mod moderations;
pub mod responses;

use std::future::Future;
use std::time::Instant;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use futures::Stream;
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use tianji_core::GatewayError;
use tianji_core::types::{HasUsage, Reply};
use tianji_router::{Attempt, RouteMeta, Routed};
use tracing::Instrument;

use crate::access::{StreamSettle, Ticket};
use crate::controls::Extracted;
use crate::error::ApiError;
use crate::headers::{add_cost, add_key_headers, add_routing_headers, routing_headers};
use crate::sse;
use crate::state::AppState;

/// Records a finished request. The model label is the model group that
/// served it (or `unknown`), never the raw client string, so clients cannot
/// blow up the metric's label cardinality.
fn record_request(route: &'static str, meta: &RouteMeta, status: StatusCode, started: Instant) {
    let group = if meta.resolved { meta.model_group.clone() } else { "unknown".to_owned() };
    metrics::counter!(
        "litellm_proxy_total_requests_metric",
        "route" => route,
        "requested_model" => group.clone(),
        "status_code" => status.as_str().to_owned()
    )
    .increment(1);
    metrics::histogram!("litellm_request_total_latency_metric", "route" => route, "requested_model" => group)
        .record(started.elapsed().as_secs_f64());
}

/// Routes a call through the router and turns the outcome into a response:
/// with virtual keys, the call is first admitted (key state, model access,
/// budgets, rate limits) and its [`Ticket`] handed to `on_ok`, which settles
/// it; `on_ok` builds the success response; failures become OpenAI-shaped
/// errors with the routing headers. Every call is recorded in the request metrics.
async fn route<V, F, Fut>(
    state: &AppState,
    route: &'static str,
    model: &str,
    extracted: &Extracted,
    started: Instant,
    op: F,
    on_ok: impl AsyncFnOnce(Routed<V>, Option<Ticket>) -> (Response, RouteMeta),
) -> Response
where
    F: FnMut(Attempt) -> Fut,
    Fut: Future<Output = Result<V, GatewayError>>,
{
    let call_id = &extracted.ctx.call_id;
    let router = state.router.load_full();
    let ticket = match &state.access {
        Some(access) => match access.admit(extracted.key.as_deref(), model, extracted.ctx.end_user.as_deref(), &router).await {
            Ok(t) => Some(t),
            Err(error) => {
                let meta = RouteMeta { model_group: model.to_owned(), ..Default::default() };
                let response = failed(call_id, error, &meta, started);
                record_request(route, &meta, response.status(), started);
                return response;
            }
        },
        None => None,
    };
    // A copy only when a key alias renamed the model (the ticket moves on below).
    let aliased = ticket.as_ref().and_then(|t| t.routed_model.clone());
    let model = aliased.as_deref().unwrap_or(model);
    let span = tracing::info_span!("request", call_id = %call_id, route);
    let result = router.execute(model, &extracted.controls, call_id, op).instrument(span).await;
    let (response, meta) = match result {
        Ok(routed) => on_ok(routed, ticket).await,
        Err(failure) => {
            if !state.plugins.logging.is_empty() {
                let event = crate::logging::event(extracted, &failure.meta, started, None, Some(failure.error.message.clone()), None);
                state.plugins.logging.submit(event);
            }
            if let Some(t) = &ticket {
                t.settle(&extracted.ctx, &failure.meta, None, false);
            }
            (failed(call_id, failure.error, &failure.meta, started), failure.meta)
        }
    };
    record_request(route, &meta, response.status(), started);
    tracing::debug!(call_id = %call_id, model, status = response.status().as_u16(), elapsed_ms = started.elapsed().as_secs_f64() * 1000.0, "request done");
    response
}

/// An error response carrying the routing headers.
fn failed(call_id: &str, error: GatewayError, meta: &RouteMeta, started: Instant) -> Response {
    ApiError { error, headers: routing_headers(call_id, meta, started.elapsed()) }.into_response()
}

/// Routes a call answered with one JSON body.
pub async fn run_json<T, F, Fut>(
    state: &AppState,
    route_name: &'static str,
    model: &str,
    extracted: &Extracted,
    started: Instant,
    op: F,
) -> Response
where
    T: Serialize + serde::de::DeserializeOwned + HasUsage,
    F: FnMut(Attempt) -> Fut,
    Fut: Future<Output = Result<Reply<T>, GatewayError>>,
{
    run_json_checked(state, route_name, model, extracted, started, op, async |reply| Ok(reply)).await
}

/// Like [`run_json`], with `check` run on the final answer (after retries
/// and fallbacks) before it is sent: post-call guardrails.
pub async fn run_json_checked<T, F, Fut>(
    state: &AppState,
    route_name: &'static str,
    model: &str,
    extracted: &Extracted,
    started: Instant,
    op: F,
    check: impl AsyncFnOnce(Reply<T>) -> Result<Reply<T>, GatewayError>,
) -> Response
where
    T: Serialize + serde::de::DeserializeOwned + HasUsage,
    F: FnMut(Attempt) -> Fut,
    Fut: Future<Output = Result<Reply<T>, GatewayError>>,
{
    let call_id = &extracted.ctx.call_id;
    route(state, route_name, model, extracted, started, op, async |Routed { value, meta, .. }, ticket: Option<Ticket>| {
        // The upstream was paid for even when a post-call check refuses the answer.
        let usage = value.usage().map(|u| (u.prompt_tokens, u.completion_tokens));
        let value = match check(value).await {
            Ok(v) => v,
            Err(error) => {
                if let Some(t) = &ticket {
                    t.settle(&extracted.ctx, &meta, usage, false);
                }
                return (failed(call_id, error, &meta, started), meta);
            }
        };
        match value.to_bytes() {
            Ok(body) => {
                let log_body = (!state.plugins.logging.is_empty()).then(|| body.clone());
                let mut resp = (StatusCode::OK, body).into_response();
                let h = resp.headers_mut();
                h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                add_routing_headers(h, call_id, &meta, started.elapsed());
                if let Some(upstream) = value.upstream_headers() {
                    for (name, v) in upstream {
                        h.append(name, v.clone());
                    }
                }
                if let Some((p, c)) = usage {
                    add_cost(h, &meta, p, c);
                }
                if let Some(t) = &ticket {
                    let settled = t.settle(&extracted.ctx, &meta, usage, true);
                    add_key_headers(h, settled.key_spend, &t.remaining);
                }
                if let Some(b) = log_body {
                    let response = serde_json::from_slice(&b).ok();
                    state.plugins.logging.submit(crate::logging::event(extracted, &meta, started, usage, None, response));
                }
                (resp, meta)
            }
            Err(error) => {
                if let Some(t) = &ticket {
                    t.settle(&extracted.ctx, &meta, usage, false);
                }
                (failed(call_id, error, &meta, started), meta)
            }
        }
    })
    .await
}

/// Routes a streamed call; retries and fallbacks apply until the stream is established.
pub async fn run_stream<T, S, F, Fut>(
    state: &AppState,
    route_name: &'static str,
    model: &str,
    extracted: &Extracted,
    started: Instant,
    op: F,
) -> Response
where
    T: HasUsage + Serialize + serde::de::DeserializeOwned + Send + 'static,
    S: Stream<Item = Result<Reply<T>, GatewayError>> + Send + 'static,
    F: FnMut(Attempt) -> Fut,
    Fut: Future<Output = Result<S, GatewayError>>,
{
    let call_id = &extracted.ctx.call_id;
    route(state, route_name, model, extracted, started, op, async |Routed { value, meta, in_flight }, ticket: Option<Ticket>| {
        let remaining = ticket.as_ref().map(|t| t.remaining.clone());
        let key_spend = ticket.as_ref().and_then(|t| t.key_spend());
        let mut settle = ticket.map(|t| StreamSettle::new(t, extracted.ctx.clone(), meta.clone()));
        // The deployment counts the stream as in flight until the body is done
        // or dropped; the call log is sent then too, with the final usage.
        let mut log = (!state.plugins.logging.is_empty()).then(|| {
            crate::logging::StreamLog::new(state.plugins.clone(), crate::logging::event(extracted, &meta, started, None, None, None), &meta)
        });
        let hide_usage = extracted.hide_usage_chunk;
        let body: Body = sse::body(call_id, value, move |chunk: &Reply<T>| {
            let _ = &in_flight;
            let Some(u) = chunk.usage() else { return true };
            if let Some(log) = &mut log {
                log.usage(u.prompt_tokens, u.completion_tokens);
            }
            if let Some(s) = &mut settle {
                s.usage(u.prompt_tokens, u.completion_tokens);
            }
            // The usage chunk the gateway asked for (for spend), not the client.
            !hide_usage
        });
        let mut resp = (StatusCode::OK, body).into_response();
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        h.insert(http::HeaderName::from_static("x-accel-buffering"), HeaderValue::from_static("no"));
        add_routing_headers(h, call_id, &meta, started.elapsed());
        if let Some(remaining) = &remaining {
            add_key_headers(h, key_spend, remaining);
        }
        (resp, meta)
    })
    .await
}

/// The provider for an attempt: the deployment's, or a mock answering the
/// request's own `mock_response`.
pub fn with_mock(a: &Attempt, mock: &Option<serde_json::Value>) -> std::sync::Arc<dyn tianji_core::traits::Provider> {
    match mock {
        Some(m) => tianji_providers::mock::MockProvider::new(a.provider.provider_name(), &a.model, m.clone()),
        None => a.provider.clone(),
    }
}

/// Requires a non-empty model name.
pub fn require_model(model: &str) -> Result<(), GatewayError> {
    if model.trim().is_empty() {
        return Err(GatewayError::bad_request("model is required: pass the model group to call (see /v1/models)", Some("model")));
    }
    Ok(())
}

/// A known route called with the wrong method answers 405 in OpenAI's shape.
pub async fn method_not_allowed(method: http::Method, uri: http::Uri) -> ApiError {
    GatewayError::bad_request(format!("Method {method} is not allowed on {}", uri.path()), None)
        .with_status(StatusCode::METHOD_NOT_ALLOWED)
        .into()
}

/// Unknown routes answer in OpenAI's shape.
pub async fn not_found(uri: http::Uri) -> ApiError {
    GatewayError::new(tianji_core::ErrorKind::NotFound, format!("Route not found: {}", uri.path())).into()
}
