//! `POST /v1/embeddings` (also `/embeddings`, `/openai/deployments/{model}/embeddings`).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use tianji_core::types::EmbeddingRequest;
use tianji_core::{CallType, GatewayError};
use tianji_router::Attempt;

use super::{require_model, run_json, with_mock};
use crate::auth::Caller;
use crate::body::JsonBody;
use crate::controls::extract;
use crate::error::ApiError;
use crate::state::AppState;

/// `POST /v1/embeddings`.
pub async fn embeddings(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(req): JsonBody<EmbeddingRequest>,
) -> Response {
    handle(state, caller, headers, req).await
}

/// `POST /openai/deployments/{model}/embeddings`.
pub async fn embeddings_for(
    State(state): State<AppState>,
    Path(model): Path<String>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(mut req): JsonBody<EmbeddingRequest>,
) -> Response {
    if req.model.is_empty() {
        req.model = model;
    }
    handle(state, caller, headers, req).await
}

async fn handle(state: AppState, caller: Caller, headers: HeaderMap, mut req: EmbeddingRequest) -> Response {
    let started = Instant::now();
    if let Err(e) = require_model(&req.model) {
        return ApiError::from(e).into_response();
    }
    let empty = match &req.input {
        serde_json::Value::String(s) => s.is_empty(),
        serde_json::Value::Array(a) => a.is_empty(),
        serde_json::Value::Null => true,
        _ => false,
    };
    if empty {
        return ApiError::from(GatewayError::bad_request("input must be a non-empty string or list", Some("input"))).into_response();
    }
    let user = req.extra.get("user").and_then(|u| u.as_str()).map(str::to_owned);
    let extracted = match extract(&caller, &mut req.extra, &headers, &req.model, CallType::Embeddings, user.as_deref()) {
        Ok(x) => x,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let model = req.model.clone();
    let mock = extracted.mock_response.clone();
    let req = Arc::new(req);
    run_json(&state, "/embeddings", &model, &extracted, started, |a: Attempt| {
        let mut r = (*req).clone();
        r.model.clone_from(&a.model);
        let provider = with_mock(&a, &mock);
        async move { provider.embedding(r, &a.opts).await }
    })
    .await
}
