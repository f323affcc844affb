//! `POST /v1/images/generations` for OpenAI-format deployments.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use tianji_core::CallType;
use tianji_core::types::ImageRequest;
use tianji_core::types::Reply;
use tianji_router::Attempt;

use super::run_json;
use crate::auth::Caller;
use crate::body::JsonBody;
use crate::controls::extract;
use crate::error::ApiError;
use crate::state::AppState;

/// OpenAI's default image model, used when the request names none.
pub const DEFAULT_IMAGE_MODEL: &str = "dall-e-2";

/// `POST /v1/images/generations`.
pub async fn generations(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(mut req): JsonBody<ImageRequest>,
) -> Response {
    let started = Instant::now();
    let model = req.model.clone().unwrap_or_else(|| DEFAULT_IMAGE_MODEL.to_owned());
    let extracted = match extract(&caller, &mut req.extra, &headers, &model, CallType::ImageGeneration, None) {
        Ok(x) => x,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let req = Arc::new(req);
    run_json(&state, "/images/generations", &model, &extracted, started, |a: Attempt| {
        let mut r = (*req).clone();
        r.model = Some(a.model.clone());
        async move { a.provider.image_generation(r, &a.opts).await.map(Reply::Parsed) }
    })
    .await
}
