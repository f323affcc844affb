//! `/user/new|info|update|delete|list`: internal users, the developers who
//! hold keys. A user's budget and limits apply to all their keys together.
//! `/user/new` also creates a key for the user unless `auto_create_key` is
//! false, as LiteLLM does.

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tianji_core::{ErrorKind, GatewayError};
use tianji_store::time;
use tianji_store::{Filter, KeyRecord, TeamRecord, UserRecord};

use super::keys::{blank_record, delete_where, new_key};
use super::{access, non_negative, parse_span, store_error};
use crate::access::broadcast::Kind;
use crate::auth::{Admin, Caller, has_admin_rights};
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::state::AppState;

const ROLES: &[&str] = &["proxy_admin", "proxy_admin_viewer", "internal_user", "internal_user_viewer", "customer"];

/// The settable fields of a user.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserFields {
    user_id: Option<String>,
    user_alias: Option<String>,
    user_email: Option<String>,
    user_role: Option<String>,
    teams: Option<Vec<String>>,
    organization_id: Option<String>,
    max_budget: Option<f64>,
    models: Option<Vec<String>>,
    tpm_limit: Option<i64>,
    rpm_limit: Option<i64>,
    max_parallel_requests: Option<i64>,
    budget_duration: Option<String>,
    model_max_budget: Option<Map<String, Value>>,
    metadata: Option<Map<String, Value>>,
    spend: Option<f64>,
    /// `/user/new` only: create a key for the user (default true).
    auto_create_key: Option<bool>,
    /// `/user/new` only: the created key's alias.
    key_alias: Option<String>,
    /// `/user/new` only: the created key's lifetime.
    duration: Option<String>,
    /// Accepted for compatibility: Tianji sends no e-mail.
    #[allow(dead_code)]
    send_invite_email: Option<bool>,
}

impl UserFields {
    fn validate(&self) -> Result<(), GatewayError> {
        non_negative("max_budget", self.max_budget)?;
        non_negative("spend", self.spend)?;
        non_negative("tpm_limit", self.tpm_limit)?;
        non_negative("rpm_limit", self.rpm_limit)?;
        non_negative("max_parallel_requests", self.max_parallel_requests)?;
        if let Some(d) = &self.budget_duration {
            parse_span("budget_duration", d)?;
        }
        if let Some(d) = &self.duration {
            parse_span("duration", d)?;
        }
        if let Some(r) = &self.user_role
            && !ROLES.contains(&r.as_str())
        {
            return Err(GatewayError::bad_request(format!("user_role must be one of {ROLES:?} (got '{r}')"), Some("user_role")));
        }
        Ok(())
    }

    fn apply(&mut self, u: &mut UserRecord) -> Result<(), GatewayError> {
        let now = time::now();
        if let Some(d) = &self.budget_duration {
            u.budget_reset_at = Some(time::next_reset(&now, parse_span("budget_duration", d)?));
        }
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = self.$f.take() { u.$f = v.into(); } )* };
        }
        set!(user_alias, user_email, user_role, organization_id, max_budget, tpm_limit, rpm_limit, max_parallel_requests, budget_duration);
        set!(teams, models, model_max_budget, metadata);
        u.updated_at = now;
        Ok(())
    }
}

fn blank_user(user_id: &str) -> UserRecord {
    let now = time::now();
    UserRecord {
        user_id: user_id.to_owned(),
        user_alias: None,
        user_email: None,
        user_role: Some("internal_user".into()),
        teams: Vec::new(),
        organization_id: None,
        max_budget: None,
        spend: 0.0,
        models: Vec::new(),
        tpm_limit: None,
        rpm_limit: None,
        max_parallel_requests: None,
        budget_duration: None,
        budget_reset_at: None,
        model_max_budget: Map::new(),
        metadata: Map::new(),
        created_at: now,
        updated_at: now,
    }
}

/// The user, created (role `internal_user`) if it does not exist yet.
pub async fn ensure_user(state: &AppState, user_id: &str, email: Option<&str>) -> Result<UserRecord, GatewayError> {
    let a = access(state)?;
    if let Some(u) = a.store.get::<UserRecord>(user_id).await.map_err(store_error)? {
        return Ok(u);
    }
    let mut u = blank_user(user_id);
    u.user_email = email.map(str::to_owned);
    match a.store.insert(&u).await {
        Ok(()) => Ok(u),
        // Created concurrently: read the winner.
        Err(tianji_store::StoreError::Conflict(_)) => a.store.require::<UserRecord>(user_id).await.map_err(store_error),
        Err(e) => Err(store_error(e)),
    }
}

fn not_found(user_id: &str) -> GatewayError {
    GatewayError::new(ErrorKind::NotFound, format!("User not found, passed user_id={user_id}")).with_param("user_id")
}

async fn check_teams(state: &AppState, teams: Option<&Vec<String>>) -> Result<(), GatewayError> {
    for (i, t) in teams.into_iter().flatten().enumerate() {
        if access(state)?.store.get::<TeamRecord>(t).await.map_err(store_error)?.is_none() {
            return Err(
                GatewayError::new(ErrorKind::NotFound, format!("Team not found, passed team_id={t}")).with_param(&format!("teams[{i}]"))
            );
        }
    }
    Ok(())
}

/// `POST /user/new`.
pub async fn new(State(state): State<AppState>, Admin(_): Admin, JsonBody(mut req): JsonBody<UserFields>) -> Result<Json<Value>, ApiError> {
    let a = access(&state)?;
    req.validate()?;
    check_teams(&state, req.teams.as_ref()).await?;
    let user_id = req.user_id.clone().unwrap_or_else(tianji_core::new_call_id);
    if a.store.get::<UserRecord>(&user_id).await.map_err(store_error)?.is_some() {
        return Err(GatewayError::bad_request(format!("User with id={user_id} already exists"), Some("user_id"))
            .with_status(http::StatusCode::CONFLICT)
            .into());
    }
    let mut user = blank_user(&user_id);
    let spend = req.spend.take();
    let auto_key = req.auto_create_key.take().unwrap_or(true);
    let (key_alias, duration) = (req.key_alias.take(), req.duration.take());
    req.apply(&mut user)?;
    user.spend = spend.unwrap_or(0.0);
    a.store.insert(&user).await.map_err(store_error)?;
    let mut out = serde_json::to_value(&user).unwrap_or_else(|_| json!({}));
    if auto_key {
        let key = new_key()?;
        let now = time::now();
        let mut record = blank_record(&key, now);
        record.key_alias = key_alias;
        record.expires = match &duration {
            Some(d) => Some(time::add(&now, parse_span("duration", d)?)),
            None => None,
        };
        record.models.clone_from(&user.models);
        record.user_id = Some(user_id.clone());
        record.team_id = user.teams.first().cloned();
        record.organization_id.clone_from(&user.organization_id);
        if let Err(e) = a.store.insert(&record).await {
            // No user without the key the caller asked for.
            let _ = a.store.delete::<UserRecord>(std::slice::from_ref(&user_id)).await;
            return Err(store_error(e).into());
        }
        if let Some(o) = out.as_object_mut() {
            o.insert("key".into(), json!(key));
            o.insert("token".into(), json!(record.token));
            o.insert("key_alias".into(), json!(record.key_alias));
            o.insert("expires".into(), json!(record.expires));
        }
    }
    Ok(Json(out))
}

/// `?user_id=`.
#[derive(Debug, Deserialize)]
pub struct UserQuery {
    user_id: Option<String>,
}

/// `GET /user/info?user_id=`: the admin may read anyone; a key reads its own user only.
pub async fn info(State(state): State<AppState>, caller: Caller, Query(q): Query<UserQuery>) -> Result<Json<Value>, ApiError> {
    let a = access(&state)?;
    let own = caller.key.as_ref().and_then(|k| k.key.record.user_id.clone());
    let user_id = match (q.user_id, &own) {
        (Some(u), _) => u,
        (None, Some(o)) => o.clone(),
        (None, None) => return Err(GatewayError::bad_request("user_id is required", Some("user_id")).into()),
    };
    if !has_admin_rights(&state, &caller).await && own.as_deref() != Some(user_id.as_str()) {
        return Err(GatewayError::new(
            ErrorKind::PermissionDenied,
            format!("User={} is not allowed to view user_id={user_id}: a key may only read its own user.", own.unwrap_or_default()),
        )
        .into());
    }
    let user = a.store.get::<UserRecord>(&user_id).await.map_err(store_error)?.ok_or_else(|| not_found(&user_id))?;
    let keys =
        a.store.list::<KeyRecord>(&Filter { user_id: Some(user_id.clone()), ..Default::default() }, 0, 1000).await.map_err(store_error)?;
    let mut teams = Vec::new();
    for t in &user.teams {
        if let Some(team) = a.store.get::<TeamRecord>(t).await.map_err(store_error)? {
            teams.push(team);
        }
    }
    Ok(Json(json!({"user_id": user_id, "user_info": user, "keys": keys.items, "teams": teams})))
}

/// `POST /user/update`: changes only the fields given.
pub async fn update(
    State(state): State<AppState>,
    Admin(_): Admin,
    JsonBody(mut req): JsonBody<UserFields>,
) -> Result<Json<Value>, ApiError> {
    let a = access(&state)?;
    req.validate()?;
    let Some(user_id) = req.user_id.clone() else {
        return Err(GatewayError::bad_request("user_id is required", Some("user_id")).into());
    };
    if req.auto_create_key.is_some() || req.key_alias.is_some() || req.duration.is_some() {
        return Err(GatewayError::bad_request(
            "auto_create_key, key_alias and duration are for /user/new; change keys with /key/update",
            None,
        )
        .into());
    }
    check_teams(&state, req.teams.as_ref()).await?;
    let mut user = a.store.get::<UserRecord>(&user_id).await.map_err(store_error)?.ok_or_else(|| not_found(&user_id))?;
    let spend = req.spend.take();
    req.apply(&mut user)?;
    a.store.update(&user).await.map_err(store_error)?;
    if let Some(s) = spend {
        a.store.set_spend::<UserRecord>(&user_id, s).await.map_err(store_error)?;
        user.spend = s;
    }
    a.changed(Kind::User, &user_id);
    Ok(Json(serde_json::to_value(&user).unwrap_or(Value::Null)))
}

/// `{"user_ids": [...]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserIds {
    user_ids: Vec<String>,
}

/// `POST /user/delete`: the users and their keys; every user must exist.
pub async fn delete(State(state): State<AppState>, Admin(_): Admin, JsonBody(req): JsonBody<UserIds>) -> Result<Json<Value>, ApiError> {
    let a = access(&state)?;
    for id in &req.user_ids {
        if a.store.get::<UserRecord>(id).await.map_err(store_error)?.is_none() {
            return Err(not_found(id).into());
        }
    }
    for id in &req.user_ids {
        delete_where(&state, Filter { user_id: Some(id.clone()), ..Default::default() }).await?;
    }
    let deleted = a.store.delete::<UserRecord>(&req.user_ids).await.map_err(store_error)?;
    for id in &deleted {
        a.changed(Kind::User, id);
    }
    Ok(Json(json!({"deleted_users": deleted})))
}

/// `/user/list`'s query.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    page: Option<i64>,
    page_size: Option<i64>,
    organization_id: Option<String>,
}

/// `GET /user/list?page=&page_size=`.
pub async fn list(State(state): State<AppState>, Admin(_): Admin, Query(q): Query<ListQuery>) -> Result<Json<Value>, ApiError> {
    let a = access(&state)?;
    let (page, size) = super::page_bounds(q.page, q.page_size.or(Some(25)))?;
    let found = a
        .store
        .list::<UserRecord>(&Filter { organization_id: q.organization_id, ..Default::default() }, (page - 1) * size, size)
        .await
        .map_err(store_error)?;
    let total_pages = (found.total + size - 1) / size;
    Ok(Json(json!({"users": found.items, "total": found.total, "page": page, "page_size": size, "total_pages": total_pages})))
}
