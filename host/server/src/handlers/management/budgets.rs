//! `/budget/new|info|update|delete|list`: reusable budgets that end users
//! (customers), organizations and keys point at with `budget_id`.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tianji_core::{ErrorKind, GatewayError};
use tianji_store::time;
use tianji_store::{BudgetRecord, Filter};

use super::{access, non_negative, parse_span, store_error};
use crate::access::broadcast::Kind;
use crate::auth::Admin;
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::state::AppState;

/// The settable fields of a budget.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetFields {
    /// Id (generated when absent).
    pub budget_id: Option<String>,
    /// Limit, USD.
    pub max_budget: Option<f64>,
    /// Alert threshold, USD.
    pub soft_budget: Option<f64>,
    /// Concurrent requests.
    pub max_parallel_requests: Option<i64>,
    /// Tokens per minute.
    pub tpm_limit: Option<i64>,
    /// Requests per minute.
    pub rpm_limit: Option<i64>,
    /// Window.
    pub budget_duration: Option<String>,
    /// Per-model budgets.
    pub model_max_budget: Option<Map<String, Value>>,
}

impl BudgetFields {
    /// Checks values, naming the field at fault.
    pub fn validate(&self) -> Result<(), GatewayError> {
        non_negative("max_budget", self.max_budget)?;
        non_negative("soft_budget", self.soft_budget)?;
        non_negative("max_parallel_requests", self.max_parallel_requests)?;
        non_negative("tpm_limit", self.tpm_limit)?;
        non_negative("rpm_limit", self.rpm_limit)?;
        if let Some(d) = &self.budget_duration {
            parse_span("budget_duration", d)?;
        }
        Ok(())
    }

    /// Whether any limit is given (so a budget record is worth creating).
    pub fn any(&self) -> bool {
        self.max_budget.is_some()
            || self.soft_budget.is_some()
            || self.max_parallel_requests.is_some()
            || self.tpm_limit.is_some()
            || self.rpm_limit.is_some()
            || self.budget_duration.is_some()
            || self.model_max_budget.is_some()
    }

    /// Applies the fields given.
    pub fn apply(self, b: &mut BudgetRecord) -> Result<(), GatewayError> {
        let now = time::now();
        if let Some(d) = &self.budget_duration {
            b.budget_reset_at = Some(time::next_reset(&now, parse_span("budget_duration", d)?));
        }
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = self.$f { b.$f = v.into(); } )* };
        }
        set!(max_budget, soft_budget, max_parallel_requests, tpm_limit, rpm_limit, budget_duration);
        if let Some(m) = self.model_max_budget {
            b.model_max_budget = m;
        }
        b.updated_at = now;
        Ok(())
    }
}

/// A new budget record from fields.
pub fn new_record(fields: BudgetFields) -> Result<BudgetRecord, GatewayError> {
    let now = time::now();
    let mut b = BudgetRecord {
        budget_id: fields.budget_id.clone().unwrap_or_else(tianji_core::new_call_id),
        max_budget: None,
        soft_budget: None,
        max_parallel_requests: None,
        tpm_limit: None,
        rpm_limit: None,
        model_max_budget: Map::new(),
        budget_duration: None,
        budget_reset_at: None,
        created_at: now,
        created_by: Some("litellm_proxy_admin_name".into()),
        updated_at: now,
        updated_by: Some("litellm_proxy_admin_name".into()),
    };
    fields.apply(&mut b)?;
    Ok(b)
}

/// Points `budget_id` at a budget: the one `named` (which must exist), with
/// `limits` applied to it, or a new one made from `limits` when there is
/// none yet and any limit is given.
pub async fn attach(
    state: &AppState,
    budget_id: &mut Option<String>,
    named: Option<&String>,
    limits: BudgetFields,
) -> Result<(), GatewayError> {
    let a = access(state)?;
    limits.validate()?;
    if let Some(id) = named {
        if a.store.get::<BudgetRecord>(id).await.map_err(store_error)?.is_none() {
            return Err(not_found(id));
        }
        *budget_id = Some(id.clone());
    }
    if !limits.any() {
        return Ok(());
    }
    match budget_id {
        Some(id) => {
            let mut b = a.store.require::<BudgetRecord>(id).await.map_err(store_error)?;
            limits.apply(&mut b)?;
            a.store.update(&b).await.map_err(store_error)?;
            a.changed(Kind::Budget, id);
        }
        None => {
            let b = new_record(limits)?;
            a.store.insert(&b).await.map_err(store_error)?;
            *budget_id = Some(b.budget_id);
        }
    }
    Ok(())
}

fn not_found(id: &str) -> GatewayError {
    GatewayError::new(ErrorKind::NotFound, format!("Budget not found, passed budget_id={id}")).with_param("budget_id")
}

/// `POST /budget/new`.
pub async fn new(State(state): State<AppState>, Admin(_): Admin, JsonBody(req): JsonBody<BudgetFields>) -> Result<Json<Value>, ApiError> {
    let a = access(&state)?;
    req.validate()?;
    let b = new_record(req)?;
    a.store.insert(&b).await.map_err(store_error)?;
    Ok(Json(serde_json::to_value(&b).unwrap_or(Value::Null)))
}

/// `{"budgets": [...]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetIds {
    budgets: Vec<String>,
}

/// `POST /budget/info`: the budgets asked for.
pub async fn info(State(state): State<AppState>, Admin(_): Admin, JsonBody(req): JsonBody<BudgetIds>) -> Result<Json<Value>, ApiError> {
    let a = access(&state)?;
    let found = a
        .store
        .list::<BudgetRecord>(&Filter { ids: Some(req.budgets.clone()), ..Default::default() }, 0, i64::MAX)
        .await
        .map_err(store_error)?;
    if let Some(missing) = req.budgets.iter().find(|id| !found.items.iter().any(|b| &b.budget_id == *id)) {
        return Err(not_found(missing).into());
    }
    Ok(Json(json!(found.items)))
}

/// `POST /budget/update`.
pub async fn update(
    State(state): State<AppState>,
    Admin(_): Admin,
    JsonBody(req): JsonBody<BudgetFields>,
) -> Result<Json<Value>, ApiError> {
    let a = access(&state)?;
    req.validate()?;
    let Some(id) = req.budget_id.clone() else {
        return Err(GatewayError::bad_request("budget_id is required", Some("budget_id")).into());
    };
    let mut b = a.store.get::<BudgetRecord>(&id).await.map_err(store_error)?.ok_or_else(|| not_found(&id))?;
    req.apply(&mut b)?;
    a.store.update(&b).await.map_err(store_error)?;
    a.changed(Kind::Budget, &id);
    Ok(Json(serde_json::to_value(&b).unwrap_or(Value::Null)))
}

/// `{"id": ...}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetRef {
    id: String,
}

/// `POST /budget/delete`.
pub async fn delete(State(state): State<AppState>, Admin(_): Admin, JsonBody(req): JsonBody<BudgetRef>) -> Result<Json<Value>, ApiError> {
    let a = access(&state)?;
    let deleted = a.store.delete::<BudgetRecord>(std::slice::from_ref(&req.id)).await.map_err(store_error)?;
    if deleted.is_empty() {
        return Err(not_found(&req.id).into());
    }
    a.changed(Kind::Budget, &req.id);
    Ok(Json(json!({"budget_id": req.id, "deleted": true})))
}

/// `GET /budget/list`.
pub async fn list(State(state): State<AppState>, Admin(_): Admin) -> Result<Json<Value>, ApiError> {
    let a = access(&state)?;
    let found = a.store.list::<BudgetRecord>(&Filter::default(), 0, i64::MAX).await.map_err(store_error)?;
    Ok(Json(json!(found.items)))
}
