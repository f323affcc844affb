//! `/customer/new|info|update|delete|list|block|unblock`: end users, the
//! `user` field of requests. A customer's limits live in a budget
//! (`budget_id`, or created from `max_budget`, `tpm_limit`, ... given here).

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tianji_core::{ErrorKind, GatewayError};
use tianji_store::time;
use tianji_store::{BudgetRecord, EndUserRecord, Filter};

use super::budgets::{BudgetFields, attach};
use super::{access, store_error};
use crate::access::broadcast::Kind;
use crate::auth::Admin;
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::state::AppState;

/// The settable fields of a customer.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerFields {
    user_id: Option<String>,
    alias: Option<String>,
    blocked: Option<bool>,
    budget_id: Option<String>,
    allowed_model_region: Option<String>,
    default_model: Option<String>,
    max_budget: Option<f64>,
    soft_budget: Option<f64>,
    tpm_limit: Option<i64>,
    rpm_limit: Option<i64>,
    max_parallel_requests: Option<i64>,
    budget_duration: Option<String>,
    model_max_budget: Option<Map<String, Value>>,
}

impl CustomerFields {
    fn budget(&self) -> BudgetFields {
        BudgetFields {
            budget_id: None,
            max_budget: self.max_budget,
            soft_budget: self.soft_budget,
            max_parallel_requests: self.max_parallel_requests,
            tpm_limit: self.tpm_limit,
            rpm_limit: self.rpm_limit,
            budget_duration: self.budget_duration.clone(),
            model_max_budget: self.model_max_budget.clone(),
        }
    }
}

fn blank(user_id: &str) -> EndUserRecord {
    let now = time::now();
    EndUserRecord {
        user_id: user_id.to_owned(),
        alias: None,
        spend: 0.0,
        blocked: false,
        budget_id: None,
        allowed_model_region: None,
        default_model: None,
        budget_reset_at: None,
        created_at: now,
        updated_at: now,
    }
}

fn not_found(id: &str) -> GatewayError {
    GatewayError::new(ErrorKind::NotFound, format!("Customer not found, passed end_user_id={id}")).with_param("user_id")
}

/// The customer with its budget, as LiteLLM shows it (`litellm_budget_table`).
async fn view(state: &AppState, c: &EndUserRecord) -> Result<Value, GatewayError> {
    let a = access(state)?;
    let budget = match &c.budget_id {
        Some(id) => a.store.get::<BudgetRecord>(id).await.map_err(store_error)?,
        None => None,
    };
    let mut v = serde_json::to_value(c).unwrap_or_else(|_| json!({}));
    if let Some(o) = v.as_object_mut() {
        o.insert("litellm_budget_table".into(), json!(budget));
    }
    Ok(v)
}

/// Applies the fields given; budget fields go to the customer's budget
/// (created when it has none).
async fn apply(state: &AppState, c: &mut EndUserRecord, req: CustomerFields) -> Result<(), GatewayError> {
    let (named, limits) = (req.budget_id.clone(), req.budget());
    attach(state, &mut c.budget_id, named.as_ref(), limits).await?;
    macro_rules! set {
        ($($f:ident),*) => { $( if let Some(v) = req.$f { c.$f = v.into(); } )* };
    }
    set!(alias, allowed_model_region, default_model, blocked);
    c.updated_at = time::now();
    Ok(())
}

/// `POST /customer/new`.
pub async fn new(State(state): State<AppState>, Admin(_): Admin, JsonBody(req): JsonBody<CustomerFields>) -> Result<Json<Value>, ApiError> {
    let a = access(&state)?;
    let Some(user_id) = req.user_id.clone() else {
        return Err(GatewayError::bad_request("user_id is required", Some("user_id")).into());
    };
    if a.store.get::<EndUserRecord>(&user_id).await.map_err(store_error)?.is_some() {
        return Err(GatewayError::bad_request(format!("Customer already exists, passed user_id={user_id}"), Some("user_id"))
            .with_status(http::StatusCode::CONFLICT)
            .into());
    }
    let mut c = blank(&user_id);
    apply(&state, &mut c, req).await?;
    a.store.insert(&c).await.map_err(store_error)?;
    a.changed(Kind::EndUser, &user_id);
    Ok(Json(view(&state, &c).await?))
}

/// `?end_user_id=`.
#[derive(Debug, Deserialize)]
pub struct CustomerQuery {
    end_user_id: String,
}

/// `GET /customer/info?end_user_id=`.
pub async fn info(State(state): State<AppState>, Admin(_): Admin, Query(q): Query<CustomerQuery>) -> Result<Json<Value>, ApiError> {
    let a = access(&state)?;
    let c = a.store.get::<EndUserRecord>(&q.end_user_id).await.map_err(store_error)?.ok_or_else(|| not_found(&q.end_user_id))?;
    Ok(Json(view(&state, &c).await?))
}

/// `POST /customer/update`.
pub async fn update(
    State(state): State<AppState>,
    Admin(_): Admin,
    JsonBody(req): JsonBody<CustomerFields>,
) -> Result<Json<Value>, ApiError> {
    let a = access(&state)?;
    let Some(user_id) = req.user_id.clone() else {
        return Err(GatewayError::bad_request("user_id is required", Some("user_id")).into());
    };
    let mut c = a.store.get::<EndUserRecord>(&user_id).await.map_err(store_error)?.ok_or_else(|| not_found(&user_id))?;
    apply(&state, &mut c, req).await?;
    a.store.update(&c).await.map_err(store_error)?;
    a.changed(Kind::EndUser, &user_id);
    Ok(Json(view(&state, &c).await?))
}

/// `{"user_ids": [...]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerIds {
    user_ids: Vec<String>,
}

/// `POST /customer/delete`: every customer must exist.
pub async fn delete(State(state): State<AppState>, Admin(_): Admin, JsonBody(req): JsonBody<CustomerIds>) -> Result<Json<Value>, ApiError> {
    let a = access(&state)?;
    for id in &req.user_ids {
        if a.store.get::<EndUserRecord>(id).await.map_err(store_error)?.is_none() {
            return Err(not_found(id).into());
        }
    }
    let deleted = a.store.delete::<EndUserRecord>(&req.user_ids).await.map_err(store_error)?;
    for id in &deleted {
        a.changed(Kind::EndUser, id);
    }
    Ok(Json(json!({"deleted_customers": deleted})))
}

async fn set_blocked(state: &AppState, ids: &[String], blocked: bool) -> Result<Json<Value>, ApiError> {
    let a = access(state)?;
    let now = time::now();
    for id in ids {
        // Blocking a customer that has not called yet creates it, blocked.
        let mut c = a.store.get::<EndUserRecord>(id).await.map_err(store_error)?.unwrap_or_else(|| blank(id));
        c.blocked = blocked;
        c.updated_at = now;
        match a.store.update(&c).await {
            Err(tianji_store::StoreError::NotFound { .. }) => a.store.insert(&c).await.map_err(store_error)?,
            other => other.map_err(store_error)?,
        }
        a.changed(Kind::EndUser, id);
    }
    Ok(Json(json!({"blocked_users": ids, "blocked": blocked})))
}

/// `POST /customer/block`.
pub async fn block(State(state): State<AppState>, Admin(_): Admin, JsonBody(req): JsonBody<CustomerIds>) -> Result<Json<Value>, ApiError> {
    set_blocked(&state, &req.user_ids, true).await
}

/// `POST /customer/unblock`.
pub async fn unblock(
    State(state): State<AppState>,
    Admin(_): Admin,
    JsonBody(req): JsonBody<CustomerIds>,
) -> Result<Json<Value>, ApiError> {
    set_blocked(&state, &req.user_ids, false).await
}

/// `GET /customer/list`.
pub async fn list(State(state): State<AppState>, Admin(_): Admin) -> Result<Json<Value>, ApiError> {
    let a = access(&state)?;
    let found = a.store.list::<EndUserRecord>(&Filter::default(), 0, i64::MAX).await.map_err(store_error)?;
    let mut out = Vec::with_capacity(found.items.len());
    for c in &found.items {
        out.push(view(&state, c).await?);
    }
    Ok(Json(json!(out)))
}
