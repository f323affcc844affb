//! `POST /v1/moderations` for OpenAI-format deployments.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use tianji_core::CallType;
use tianji_core::types::ModerationRequest;
use tianji_core::types::Reply;
use tianji_router::Attempt;

use super::run_json;
use crate::auth::Caller;
use crate::body::JsonBody;
use crate::controls::extract;
use crate::error::ApiError;
use crate::state::AppState;

/// OpenAI's default moderation model, used when the request names none.
pub const DEFAULT_MODERATION_MODEL: &str = "omni-moderation-latest";

/// `POST /v1/moderations`.
pub async fn moderations(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(mut req): JsonBody<ModerationRequest>,
) -> Response {
    let started = Instant::now();
    let model = req.model.clone().unwrap_or_else(|| DEFAULT_MODERATION_MODEL.to_owned());
    let extracted = match extract(&caller, &mut req.extra, &headers, &model, CallType::Moderation, None) {
        Ok(x) => x,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let req = Arc::new(req);
    run_json(&state, "/moderations", &model, &extracted, started, |a: Attempt| {
        let mut r = (*req).clone();
        r.model = Some(a.model.clone());
        async move { a.provider.moderation(r, &a.opts).await.map(Reply::Parsed) }
    })
    .await
}
