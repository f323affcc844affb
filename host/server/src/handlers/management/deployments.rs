//! `/model/new`, `/model/update`, `/model/delete`: deployments kept in the
//! database, merged with the config's and effective at once (the router is
//! rebuilt and swapped; other instances reload on the broadcast). Models from
//! the config file are changed by editing the file.
//!
//! `litellm_params` are stored as given: prefer `os.environ/NAME` references
//! to literal API keys, which the database would hold in plain text.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tianji_core::{ErrorKind, GatewayError};
use tianji_store::StoredModel;

use super::{access, store_error};
use crate::access::broadcast::Kind;
use crate::auth::Admin;
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::state::AppState;

/// `/model/new`'s body: a `model_list` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewModel {
    model_name: String,
    litellm_params: Map<String, Value>,
    #[serde(default)]
    model_info: Map<String, Value>,
}

/// `/model/update`'s body: the fields to change of a stored model.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateModel {
    model_id: Option<String>,
    model_name: Option<String>,
    litellm_params: Option<Map<String, Value>>,
    model_info: Option<Map<String, Value>>,
}

/// `{"id": ...}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelRef {
    id: String,
}

fn masked(entry: &Value) -> Value {
    let mut e = entry.clone();
    if let Some(params) = e.get_mut("litellm_params").and_then(Value::as_object_mut) {
        for (k, v) in params.iter_mut() {
            let secret = k.contains("key") || k.contains("secret") || k.contains("token") || k.contains("password");
            if secret && v.as_str().is_some_and(|s| !s.starts_with("os.environ/")) {
                *v = json!("********");
            }
        }
    }
    e
}

/// Checks that `candidate` builds alongside the other stored models, then
/// stores it and swaps in the new router.
async fn save(state: &AppState, candidate: StoredModel) -> Result<Value, GatewayError> {
    let a = access(state)?;
    {
        let _one_change_at_a_time = state.deployments.lock().await;
        let mut stored = a.store.models().await.map_err(store_error)?;
        stored.retain(|m| m.id != candidate.id);
        stored.push(candidate.clone());
        let (_, problems) = state.deployments.build(&stored);
        let ours = format!("database.models[{}]", candidate.id);
        let mine: Vec<String> = problems
            .iter()
            .filter(|p| p.path.starts_with(&ours))
            .map(|p| format!("{}: {}", p.path.replacen(&ours, "", 1).trim_start_matches('.'), p.message))
            .collect();
        if !mine.is_empty() {
            return Err(GatewayError::bad_request(format!("invalid model: {}", mine.join("; ")), None));
        }
        a.store.put_model(&candidate).await.map_err(store_error)?;
    }
    state.deployments.reload(&a.store, &state.router).await.map_err(store_error)?;
    a.announce(Kind::Models, "");
    Ok(
        json!({"model_id": candidate.id, "model_name": candidate.model_name, "litellm_params": masked(&candidate.entry)["litellm_params"], "model_info": candidate.entry["model_info"]}),
    )
}

fn config_model_error(id: &str) -> GatewayError {
    GatewayError::bad_request(format!("model {id} is defined in the config file; change it there"), Some("id"))
}

/// Whether `id` names a deployment of the config file (not a stored one).
fn from_config(state: &AppState, id: &str) -> bool {
    state.router.load().deployments().any(|d| d.id == id && d.info.extra.get("db_model") != Some(&Value::Bool(true)))
}

/// `POST /model/new`.
pub async fn new(State(state): State<AppState>, Admin(_): Admin, JsonBody(req): JsonBody<NewModel>) -> Result<Json<Value>, ApiError> {
    if req.model_name.trim().is_empty() {
        return Err(GatewayError::bad_request("model_name must not be empty", Some("model_name")).into());
    }
    let id = req.model_info.get("id").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(tianji_core::new_call_id);
    if from_config(&state, &id) {
        return Err(config_model_error(&id).into());
    }
    let entry = json!({"model_name": req.model_name, "litellm_params": req.litellm_params, "model_info": req.model_info});
    Ok(Json(save(&state, StoredModel { id, model_name: req.model_name, entry }).await?))
}

/// `POST /model/update`: merges the given `litellm_params` and `model_info` into a stored model.
pub async fn update(State(state): State<AppState>, Admin(_): Admin, JsonBody(req): JsonBody<UpdateModel>) -> Result<Json<Value>, ApiError> {
    let a = access(&state)?;
    let id = req
        .model_id
        .clone()
        .or_else(|| req.model_info.as_ref().and_then(|i| i.get("id")).and_then(Value::as_str).map(str::to_owned))
        .ok_or_else(|| GatewayError::bad_request("model_id (or model_info.id) is required", Some("model_id")))?;
    if from_config(&state, &id) {
        return Err(config_model_error(&id).into());
    }
    let mut model = a
        .store
        .models()
        .await
        .map_err(store_error)?
        .into_iter()
        .find(|m| m.id == id)
        .ok_or_else(|| GatewayError::new(ErrorKind::NotFound, format!("Model not found: {id}")).with_param("model_id"))?;
    if let Some(name) = req.model_name {
        model.model_name.clone_from(&name);
        model.entry["model_name"] = json!(name);
    }
    for (field, changes) in [("litellm_params", req.litellm_params), ("model_info", req.model_info)] {
        if let (Some(changes), Some(current)) = (changes, model.entry.get_mut(field).and_then(Value::as_object_mut)) {
            current.extend(changes);
        }
    }
    Ok(Json(save(&state, model).await?))
}

/// `POST /model/delete`.
pub async fn delete(State(state): State<AppState>, Admin(_): Admin, JsonBody(req): JsonBody<ModelRef>) -> Result<Json<Value>, ApiError> {
    let a = access(&state)?;
    if from_config(&state, &req.id) {
        return Err(config_model_error(&req.id).into());
    }
    let existed = {
        let _one_change_at_a_time = state.deployments.lock().await;
        a.store.delete_model(&req.id).await.map_err(store_error)?
    };
    if !existed {
        return Err(GatewayError::new(ErrorKind::NotFound, format!("Model not found: {}", req.id)).with_param("id").into());
    }
    state.deployments.reload(&a.store, &state.router).await.map_err(store_error)?;
    a.announce(Kind::Models, "");
    Ok(Json(json!({"message": format!("Model: {} deleted successfully", req.id)})))
}
