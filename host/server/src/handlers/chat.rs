//! `POST /v1/chat/completions` (also `/chat/completions`,
//! `/openai/deployments/{model}/chat/completions`, `/engines/{model}/chat/completions`),
//! streaming included, and LiteLLM's batch form (`model: "a,b"`).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use futures::future::join_all;
use http::HeaderMap;
use serde_json::Value;
use tianji_core::traits::ChunkStream;
use tianji_core::types::{ChatRequest, ChatResponse, Reply, estimate_tokens};
use tianji_core::{CallType, GatewayError};
use tianji_providers::mock::{mock_chat, mock_chat_stream};
use tianji_router::Attempt;

use super::{require_model, run_json, run_json_checked, run_stream};
use crate::auth::Caller;
use crate::body::JsonBody;
use crate::controls::{Extracted, extract};
use crate::error::ApiError;
use crate::guardrails::{Selected, requested};
use crate::state::AppState;
use tianji_core::traits::GuardrailPhase;

/// `POST /v1/chat/completions`.
pub async fn chat_completions(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(req): JsonBody<ChatRequest>,
) -> Response {
    serve(state, caller, headers, req).await
}

/// `POST /openai/deployments/{model}/chat/completions` (Azure-style clients).
pub async fn chat_completions_for(
    State(state): State<AppState>,
    Path(model): Path<String>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(mut req): JsonBody<ChatRequest>,
) -> Response {
    // As in LiteLLM, the deployment in the path names the model.
    req.model = model;
    serve(state, caller, headers, req).await
}

/// Serves a chat completion (also for `/v1/messages`, which translates around it).
pub(crate) async fn serve(state: AppState, caller: Caller, headers: HeaderMap, mut req: ChatRequest) -> Response {
    let started = Instant::now();
    if let Err(e) = state.plugins.prompts.apply(&mut req).await {
        return ApiError::from(e).into_response();
    }
    if let Err(e) = validate(&req) {
        return ApiError::from(e).into_response();
    }
    let extracted = match extract(&caller, &mut req.extra, &headers, &req.model, CallType::Completion, req.user.as_deref()) {
        Ok(x) => x,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let mut extracted = extracted;
    let selected = match requested(&mut req.extra, &mut extracted.ctx).and_then(|names| state.plugins.policy.load().select(&names)) {
        Ok(s) => s,
        Err(e) => return ApiError::from(e).into_response(),
    };
    // Pre-call checks; streams run during_call checks here too, before the
    // first byte, since a stream cannot be held back once it has started.
    for phase in [GuardrailPhase::PreCall, GuardrailPhase::DuringCall] {
        if selected.has(phase) && (phase == GuardrailPhase::PreCall || req.stream) {
            let group = req.model.clone();
            if let Err(e) = selected.check_request(phase, &extracted.ctx, &group, &mut req).await {
                // A refused call is a failed call for the loggers too.
                if !state.plugins.logging.is_empty() {
                    let meta = tianji_router::RouteMeta { model_group: group.clone(), ..Default::default() };
                    let mut x = extracted.clone_for_log();
                    if !state.plugins.logging.redact_messages {
                        x.log_messages = serde_json::to_value(&req.messages).ok();
                    }
                    state.plugins.logging.submit(crate::logging::event(&x, &meta, started, None, Some(e.message.clone()), None));
                }
                return ApiError::from(e).into_response();
            }
        }
    }
    if req.model.contains(',') {
        return batch(state, req, extracted, started).await;
    }
    extracted.controls.stream = req.stream;
    if req.stream && state.access.is_some() && !req.stream_options.as_ref().is_some_and(|o| o.include_usage) {
        // Spend needs the stream's usage: ask for it, and keep it from a client that did not.
        req.stream_options.get_or_insert_with(Default::default).include_usage = true;
        extracted.hide_usage_chunk = true;
    }
    if state.router.load().settings().pre_call_checks {
        extracted.controls.prompt_tokens = Some(req.messages.iter().map(|m| estimate_tokens(&m.text_content())).sum());
    }
    let logging = &state.plugins.logging;
    if !logging.is_empty() && !logging.redact_messages {
        extracted.log_messages = serde_json::to_value(&req.messages).ok();
    }
    let model = req.model.clone();
    let drop_params = state.router.load().settings().drop_params;
    let mock = extracted.mock_response.clone();
    let req = Arc::new(req);
    let mut response = if req.stream {
        let post = selected.has(GuardrailPhase::PostCall).then(|| (selected.clone(), extracted.ctx.clone(), model.clone(), req.clone()));
        run_stream(&state, "/chat/completions", &model, &extracted, started, |a: Attempt| {
            let prepared = prepare(&req, &a, drop_params);
            let mock = mock.clone();
            let post = post.clone();
            async move {
                let stream = attempt_stream(a, prepared?, mock).await?;
                Ok(match post {
                    Some((selected, ctx, group, req)) => crate::stream_guard::guard(stream, selected, ctx, group, req),
                    None => stream,
                })
            }
        })
        .await
    } else {
        let during = spawn_during_call(&selected, &extracted.ctx, &model, &req);
        let check = async |reply: Reply<ChatResponse>| post_call(&selected, &extracted.ctx, &model, &req, during, reply).await;
        run_json_checked(
            &state,
            "/chat/completions",
            &model,
            &extracted,
            started,
            |a: Attempt| {
                let prepared = prepare(&req, &a, drop_params);
                let mock = mock.clone();
                async move { attempt(a, prepared?, mock).await }
            },
            check,
        )
        .await
    };
    let applied =
        selected.names_in(&[GuardrailPhase::PreCall, GuardrailPhase::DuringCall, GuardrailPhase::PostCall, GuardrailPhase::LoggingOnly]);
    if !applied.is_empty()
        && let Ok(v) = http::HeaderValue::from_str(&applied.join(","))
    {
        response.headers_mut().insert(http::HeaderName::from_static("x-litellm-applied-guardrails"), v);
    }
    response
}

type DuringCall = tokio::task::JoinHandle<Result<(), GatewayError>>;

/// Starts the during-call checks alongside the upstream call.
fn spawn_during_call(selected: &Selected, ctx: &tianji_core::CallContext, model: &str, req: &Arc<ChatRequest>) -> Option<DuringCall> {
    if !selected.has(GuardrailPhase::DuringCall) {
        return None;
    }
    let (selected, ctx, model, req) = (selected.clone(), ctx.clone(), model.to_owned(), req.clone());
    Some(tokio::spawn(async move {
        let mut r = (*req).clone();
        selected.check_request(GuardrailPhase::DuringCall, &ctx, &model, &mut r).await
    }))
}

/// Holds the answer until the during-call checks pass, then runs the
/// post-call checks on it.
async fn post_call(
    selected: &Selected,
    ctx: &tianji_core::CallContext,
    model: &str,
    req: &Arc<ChatRequest>,
    during: Option<DuringCall>,
    mut reply: Reply<ChatResponse>,
) -> Result<Reply<ChatResponse>, GatewayError> {
    if let Some(task) = during {
        task.await.map_err(|e| GatewayError::new(tianji_core::ErrorKind::Internal, format!("during_call guardrails: {e}")))??;
    }
    if selected.has(GuardrailPhase::LoggingOnly) {
        // Observers see the answer as the upstream gave it, off the response path.
        let (selected, ctx, model, req, resp) = (selected.clone(), ctx.clone(), model.to_owned(), req.clone(), reply.parsed()?.clone());
        tokio::spawn(async move { selected.observe(&ctx, &model, &req, &resp).await });
    }
    if !selected.has(GuardrailPhase::PostCall) {
        return Ok(reply);
    }
    let mut resp = reply.into_parsed()?;
    selected.check_response(ctx, model, req, &mut resp).await?;
    Ok(Reply::from(resp))
}

/// One attempt: the per-request `mock_response` if given, else the deployment's provider.
async fn attempt(a: Attempt, r: ChatRequest, mock: Option<Value>) -> Result<Reply<ChatResponse>, GatewayError> {
    match mock {
        Some(m) => mock_chat(&r, &a.model, &m).map(Reply::from),
        None => a.provider.chat(r, &a.opts).await,
    }
}

/// One streamed attempt.
async fn attempt_stream(a: Attempt, r: ChatRequest, mock: Option<Value>) -> Result<ChunkStream, GatewayError> {
    match mock {
        Some(m) => mock_chat_stream(&r, &a.model, &m),
        None => a.provider.chat_stream(r, &a.opts).await,
    }
}

fn validate(req: &ChatRequest) -> Result<(), GatewayError> {
    require_model(&req.model)?;
    if req.messages.is_empty() {
        return Err(GatewayError::bad_request("messages must contain at least one message", Some("messages")));
    }
    for (i, m) in req.messages.iter().enumerate() {
        if !matches!(m.role.as_str(), "system" | "developer" | "user" | "assistant" | "tool" | "function") {
            return Err(GatewayError::bad_request(
                format!("messages[{i}].role: invalid role '{}' (expected system, developer, user, assistant, tool or function)", m.role),
                Some(&format!("messages[{i}].role")),
            ));
        }
    }
    Ok(())
}

/// The request for one attempt: the attempt's model and messages, and the
/// provider's parameter policy (`drop_params`).
pub(crate) fn prepare(req: &ChatRequest, a: &Attempt, drop_params: bool) -> Result<ChatRequest, GatewayError> {
    let mut r = req.clone();
    r.model.clone_from(&a.model);
    if let Some(m) = &a.messages {
        r.messages.clone_from(m);
    }
    for p in &a.deployment.params.additional_drop_params {
        drop_param(&mut r, p);
    }
    if let Some(supported) = a.provider.supported_params() {
        // Typed fields a provider may lack, when set (n=1 is every provider's default).
        let typed = [("n", r.n.is_some_and(|n| n > 1)), ("tools", r.tools.is_some()), ("tool_choice", r.tool_choice.is_some())];
        let unsupported: Vec<String> = typed
            .iter()
            .filter(|(_, set)| *set)
            .map(|(name, _)| *name)
            .chain(r.extra.keys().map(String::as_str))
            .filter(|k| !supported.contains(k))
            .map(str::to_owned)
            .collect();
        if !unsupported.is_empty() {
            if drop_params || a.deployment.params.drop_params.unwrap_or(false) {
                for k in &unsupported {
                    drop_param(&mut r, k);
                }
            } else {
                return Err(GatewayError::bad_request(
                    format!(
                        "{} does not support parameters: {unsupported:?}, for model={}. To drop these, set `litellm_settings.drop_params: true` in the config or `drop_params: true` in the deployment's litellm_params.",
                        a.provider.provider_name(),
                        a.model
                    ),
                    unsupported.first().map(String::as_str),
                ));
            }
        }
    }
    Ok(r)
}

/// Most models one batch request (`model: "a,b"`) may name.
const MAX_BATCH_MODELS: usize = 10;

/// Removes one request parameter, typed or not.
fn drop_param(r: &mut ChatRequest, name: &str) {
    match name {
        "temperature" => r.temperature = None,
        "top_p" => r.top_p = None,
        "max_tokens" => r.max_tokens = None,
        "max_completion_tokens" => r.max_completion_tokens = None,
        "n" => r.n = None,
        "stop" => r.stop = None,
        "tools" => r.tools = None,
        "tool_choice" => r.tool_choice = None,
        "user" => r.user = None,
        "stream_options" => r.stream_options = None,
        other => {
            r.extra.remove(other);
        }
    }
}

/// `model: "a,b"`: one completion per model, answered as a JSON list (LiteLLM's batch completions).
async fn batch(state: AppState, req: ChatRequest, extracted: Extracted, started: Instant) -> Response {
    if req.stream {
        return ApiError::from(GatewayError::bad_request("streaming is not supported with several comma-separated models", Some("stream")))
            .into_response();
    }
    let models: Vec<String> = req.model.split(',').map(|m| m.trim().to_owned()).filter(|m| !m.is_empty()).collect();
    if models.len() > MAX_BATCH_MODELS {
        return ApiError::from(GatewayError::bad_request(
            format!("at most {MAX_BATCH_MODELS} comma-separated models per request (got {})", models.len()),
            Some("model"),
        ))
        .into_response();
    }
    let drop_params = state.router.load().settings().drop_params;
    let calls = models.iter().map(|model| {
        let mut r = req.clone();
        r.model.clone_from(model);
        let state = state.clone();
        let mut ex = Extracted {
            controls: extracted.controls.clone(),
            ctx: extracted.ctx.clone(),
            mock_response: extracted.mock_response.clone(),
            log_messages: extracted.log_messages.clone(),
            key: extracted.key.clone(),
            hide_usage_chunk: false,
        };
        ex.ctx.call_id = tianji_core::new_call_id();
        let model = model.clone();
        async move {
            let r = Arc::new(r);
            let mock = ex.mock_response.clone();
            let resp = run_json(&state, "/chat/completions", &model, &ex, started, |a: Attempt| {
                let prepared = prepare(&r, &a, drop_params);
                let mock = mock.clone();
                async move { attempt(a, prepared?, mock).await }
            })
            .await;
            let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap_or_default();
            serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null)
        }
    });
    let results: Vec<Value> = join_all(calls).await;
    let mut headers = HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_str(&extracted.ctx.call_id) {
        headers.insert("x-litellm-call-id", v);
    }
    (headers, axum::Json(results)).into_response()
}
