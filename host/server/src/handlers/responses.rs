//! `POST /v1/responses` and `GET /v1/responses/{id}`: OpenAI's Responses API.
//!
//! OpenAI and Azure deployments get the request as it came (their answer
//! and stream pass through); every other deployment gets it translated to
//! a chat completion and answers in the Responses shape, streams included.
//! Routing, retries, fallbacks, keys, budgets and spend work as for chat.
//! Translated responses are not stored anywhere, so retrieving one answers
//! 400; a stored OpenAI or Azure response is fetched from the deployments
//! that could hold it.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use serde_json::{Map, Value};
use tianji_core::types::{ChatRequest, Reply, ResponsesPayload};
use tianji_core::{CallType, GatewayError};
use tianji_providers::responses::{self, response::TRANSLATED_PREFIX};
use tianji_router::Attempt;

use super::chat::prepare;
use super::{require_model, run_json, run_stream};
use crate::auth::Caller;
use crate::body::JsonBody;
use crate::controls::extract;
use crate::error::ApiError;
use crate::state::AppState;

/// `POST /v1/responses`.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(mut body): JsonBody<Map<String, Value>>,
) -> Response {
    let started = Instant::now();
    let model = body.get("model").and_then(Value::as_str).unwrap_or_default().to_owned();
    if let Err(e) = require_model(&model) {
        return ApiError::from(e).into_response();
    }
    let user = body.get("user").and_then(Value::as_str).map(str::to_owned);
    let extracted = match extract(&caller, &mut body, &headers, &model, CallType::Responses, user.as_deref()) {
        Ok(x) => x,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let body = Arc::new(Value::Object(body));
    let drop_params = state.router.load().settings().drop_params;
    if stream {
        run_stream(&state, "/responses", &model, &extracted, started, |a: Attempt| {
            let body = body.clone();
            async move {
                if a.provider.serves_responses() {
                    return a.provider.responses_stream((*body).clone(), &a.opts).await;
                }
                let chat = prepare(&translated(&body, &a)?, &a, drop_params)?;
                let chunks = a.provider.chat_stream(chat, &a.opts).await?;
                Ok(responses::from_chat_stream(chunks, (*body).clone()))
            }
        })
        .await
    } else {
        run_json(&state, "/responses", &model, &extracted, started, |a: Attempt| {
            let body = body.clone();
            async move {
                if a.provider.serves_responses() {
                    return a.provider.responses((*body).clone(), &a.opts).await;
                }
                let chat = prepare(&translated(&body, &a)?, &a, drop_params)?;
                let answer = a.provider.chat(chat, &a.opts).await?.into_parsed()?;
                Ok(Reply::Parsed(ResponsesPayload::new(responses::response::from_chat(answer, &body))))
            }
        })
        .await
    }
}

/// The chat request for a deployment that does not serve the Responses API.
fn translated(body: &Value, a: &Attempt) -> Result<ChatRequest, GatewayError> {
    let mut req = responses::request::to_chat(body, a.provider.provider_name())?;
    req.model.clone_from(&a.model);
    Ok(req)
}

/// `?model=` narrows the deployments asked for a stored response.
#[derive(serde::Deserialize)]
pub struct RetrieveQuery {
    model: Option<String>,
}

/// `GET /v1/responses/{id}`.
pub async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<RetrieveQuery>,
) -> Response {
    let started = Instant::now();
    if id.starts_with(TRANSLATED_PREFIX) {
        return ApiError::from(GatewayError::bad_request(
            format!("response '{id}' was translated from a chat completion for a provider that keeps no state, so it cannot be retrieved; only OpenAI and Azure deployments store responses"),
            Some("response_id"),
        ))
        .into_response();
    }
    // Model groups with a deployment that stores responses.
    let router = state.router.load_full();
    let mut groups: Vec<String> = router
        .deployments()
        .filter(|d| matches!(d.provider_name.as_str(), "openai" | "azure") && !d.model_name.contains('*'))
        .map(|d| d.model_name.clone())
        .filter(|g| q.model.as_ref().is_none_or(|m| m == g))
        .collect();
    groups.dedup();
    if groups.is_empty() {
        return ApiError::from(GatewayError::bad_request(
            "no OpenAI or Azure deployment is configured (or matches ?model=) to hold stored responses",
            Some("model"),
        ))
        .into_response();
    }
    let id = Arc::new(id);
    let mut last = None;
    for group in groups {
        let mut empty = Map::new();
        let extracted = match extract(&caller, &mut empty, &headers, &group, CallType::Responses, None) {
            Ok(x) => x,
            Err(e) => return ApiError::from(e).into_response(),
        };
        let resp = run_json(&state, "/responses", &group, &extracted, started, |a: Attempt| {
            let id = id.clone();
            async move { a.provider.get_response(&id, &a.opts).await }
        })
        .await;
        if resp.status() != StatusCode::NOT_FOUND {
            return resp;
        }
        last = Some(resp);
    }
    last.map(IntoResponse::into_response).unwrap_or_else(|| StatusCode::NOT_FOUND.into_response())
}
