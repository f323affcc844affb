//! `POST /v1/completions` (also `/completions`, `/openai/deployments/{model}/completions`).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use tianji_core::CallType;
use tianji_core::types::CompletionRequest;
use tianji_router::Attempt;

use super::{require_model, run_json, run_stream, with_mock};
use crate::auth::Caller;
use crate::body::JsonBody;
use crate::controls::extract;
use crate::error::ApiError;
use crate::state::AppState;

/// `POST /v1/completions`.
pub async fn completions(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(req): JsonBody<CompletionRequest>,
) -> Response {
    handle(state, caller, headers, req).await
}

/// `POST /openai/deployments/{model}/completions`.
pub async fn completions_for(
    State(state): State<AppState>,
    Path(model): Path<String>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(mut req): JsonBody<CompletionRequest>,
) -> Response {
    if req.model.is_empty() {
        req.model = model;
    }
    handle(state, caller, headers, req).await
}

async fn handle(state: AppState, caller: Caller, headers: HeaderMap, mut req: CompletionRequest) -> Response {
    let started = Instant::now();
    if let Err(e) = require_model(&req.model) {
        return ApiError::from(e).into_response();
    }
    if req.prompt.is_null() {
        return ApiError::from(tianji_core::GatewayError::bad_request("prompt is required", Some("prompt"))).into_response();
    }
    let user = req.extra.get("user").and_then(|u| u.as_str()).map(str::to_owned);
    let mut extracted = match extract(&caller, &mut req.extra, &headers, &req.model, CallType::TextCompletion, user.as_deref()) {
        Ok(x) => x,
        Err(e) => return ApiError::from(e).into_response(),
    };
    extracted.controls.stream = req.stream;
    let model = req.model.clone();
    let mock = extracted.mock_response.clone();
    let req = Arc::new(req);
    if req.stream {
        run_stream(&state, "/completions", &model, &extracted, started, |a: Attempt| {
            let mut r = (*req).clone();
            r.model.clone_from(&a.model);
            let provider = with_mock(&a, &mock);
            async move { provider.completion_stream(r, &a.opts).await }
        })
        .await
    } else {
        run_json(&state, "/completions", &model, &extracted, started, |a: Attempt| {
            let mut r = (*req).clone();
            r.model.clone_from(&a.model);
            let provider = with_mock(&a, &mock);
            async move { provider.completion(r, &a.opts).await }
        })
        .await
    }
}
