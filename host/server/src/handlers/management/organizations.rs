//! `/organization/new|info|update|delete|list` and
//! `/organization/member_add|member_update|member_delete`: organizations
//! group teams and users under one model list and budget.

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tianji_core::{ErrorKind, GatewayError};
use tianji_store::records::Membership;
use tianji_store::time;
use tianji_store::{BudgetRecord, Filter, OrganizationRecord, TeamRecord};

use super::budgets::{BudgetFields, attach};
use super::users::ensure_user;
use super::{access, store_error};
use crate::access::broadcast::Kind;
use crate::auth::Admin;
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::state::AppState;

const ORG_ROLES: &[&str] = &["org_admin", "internal_user", "internal_user_viewer"];

/// The settable fields of an organization.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgFields {
    organization_id: Option<String>,
    organization_alias: Option<String>,
    models: Option<Vec<String>>,
    budget_id: Option<String>,
    metadata: Option<Map<String, Value>>,
    max_budget: Option<f64>,
    soft_budget: Option<f64>,
    tpm_limit: Option<i64>,
    rpm_limit: Option<i64>,
    max_parallel_requests: Option<i64>,
    budget_duration: Option<String>,
    model_max_budget: Option<Map<String, Value>>,
}

impl OrgFields {
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

fn not_found(id: &str) -> GatewayError {
    GatewayError::new(ErrorKind::NotFound, format!("Organization not found, passed organization_id={id}")).with_param("organization_id")
}

async fn load(state: &AppState, id: &str) -> Result<OrganizationRecord, GatewayError> {
    access(state)?.store.get::<OrganizationRecord>(id).await.map_err(store_error)?.ok_or_else(|| not_found(id))
}

/// Applies the fields given; budget fields go to the organization's budget.
async fn apply(state: &AppState, o: &mut OrganizationRecord, req: OrgFields) -> Result<(), GatewayError> {
    let (named, limits) = (req.budget_id.clone(), req.budget());
    attach(state, &mut o.budget_id, named.as_ref(), limits).await?;
    if let Some(alias) = req.organization_alias {
        if alias.trim().is_empty() {
            return Err(GatewayError::bad_request("organization_alias must not be empty", Some("organization_alias")));
        }
        o.organization_alias = Some(alias);
    }
    if let Some(m) = req.models {
        o.models = m;
    }
    if let Some(m) = req.metadata {
        o.metadata = m;
    }
    o.updated_at = time::now();
    Ok(())
}

/// The organization with its budget, teams and members.
async fn view(state: &AppState, o: &OrganizationRecord) -> Result<Value, GatewayError> {
    let a = access(state)?;
    let budget = match &o.budget_id {
        Some(id) => a.store.get::<BudgetRecord>(id).await.map_err(store_error)?,
        None => None,
    };
    let teams = a
        .store
        .list::<TeamRecord>(&Filter { organization_id: Some(o.organization_id.clone()), ..Default::default() }, 0, i64::MAX)
        .await
        .map_err(store_error)?;
    let members = a.store.memberships("organization", &o.organization_id).await.map_err(store_error)?;
    let mut v = serde_json::to_value(o).unwrap_or_else(|_| json!({}));
    if let Some(obj) = v.as_object_mut() {
        obj.insert("litellm_budget_table".into(), json!(budget));
        obj.insert("teams".into(), json!(teams.items));
        obj.insert("members".into(), json!(members));
    }
    Ok(v)
}

/// `POST /organization/new`.
pub async fn new(State(state): State<AppState>, Admin(_): Admin, JsonBody(req): JsonBody<OrgFields>) -> Result<Json<Value>, ApiError> {
    let a = access(&state)?;
    if req.organization_alias.is_none() {
        return Err(GatewayError::bad_request("organization_alias is required", Some("organization_alias")).into());
    }
    let id = req.organization_id.clone().unwrap_or_else(tianji_core::new_call_id);
    if a.store.get::<OrganizationRecord>(&id).await.map_err(store_error)?.is_some() {
        return Err(GatewayError::bad_request(format!("Organization id = {id} already exists"), Some("organization_id"))
            .with_status(http::StatusCode::CONFLICT)
            .into());
    }
    let now = time::now();
    let mut o = OrganizationRecord {
        organization_id: id,
        organization_alias: None,
        budget_id: None,
        models: Vec::new(),
        spend: 0.0,
        metadata: Map::new(),
        created_at: now,
        created_by: Some("litellm_proxy_admin_name".into()),
        updated_at: now,
        updated_by: Some("litellm_proxy_admin_name".into()),
    };
    apply(&state, &mut o, req).await?;
    a.store.insert(&o).await.map_err(store_error)?;
    Ok(Json(view(&state, &o).await?))
}

/// `?organization_id=`.
#[derive(Debug, Deserialize)]
pub struct OrgQuery {
    organization_id: String,
}

/// `GET /organization/info?organization_id=`.
pub async fn info(State(state): State<AppState>, Admin(_): Admin, Query(q): Query<OrgQuery>) -> Result<Json<Value>, ApiError> {
    let o = load(&state, &q.organization_id).await?;
    Ok(Json(view(&state, &o).await?))
}

/// `PATCH|POST /organization/update`.
pub async fn update(State(state): State<AppState>, Admin(_): Admin, JsonBody(req): JsonBody<OrgFields>) -> Result<Json<Value>, ApiError> {
    let a = access(&state)?;
    let Some(id) = req.organization_id.clone() else {
        return Err(GatewayError::bad_request("organization_id is required", Some("organization_id")).into());
    };
    let mut o = load(&state, &id).await?;
    apply(&state, &mut o, req).await?;
    a.store.update(&o).await.map_err(store_error)?;
    a.changed(Kind::Organization, &id);
    Ok(Json(view(&state, &o).await?))
}

/// `{"organization_ids": [...]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgIds {
    organization_ids: Vec<String>,
}

/// `DELETE|POST /organization/delete`: organizations with no teams left.
pub async fn delete(State(state): State<AppState>, Admin(_): Admin, JsonBody(req): JsonBody<OrgIds>) -> Result<Json<Value>, ApiError> {
    let a = access(&state)?;
    let mut orgs = Vec::new();
    for id in &req.organization_ids {
        let o = load(&state, id).await?;
        let teams = a
            .store
            .list::<TeamRecord>(&Filter { organization_id: Some(id.clone()), ..Default::default() }, 0, 1)
            .await
            .map_err(store_error)?;
        if teams.total > 0 {
            return Err(GatewayError::bad_request(
                format!("Organization {id} still has {} team(s); delete or move them first", teams.total),
                Some("organization_ids"),
            )
            .into());
        }
        orgs.push(o);
    }
    for id in &req.organization_ids {
        a.store.clear_memberships("organization", id).await.map_err(store_error)?;
        a.changed(Kind::Organization, id);
    }
    a.store.delete::<OrganizationRecord>(&req.organization_ids).await.map_err(store_error)?;
    Ok(Json(json!(orgs)))
}

/// `GET /organization/list`.
pub async fn list(State(state): State<AppState>, Admin(_): Admin) -> Result<Json<Value>, ApiError> {
    let a = access(&state)?;
    let found = a.store.list::<OrganizationRecord>(&Filter::default(), 0, i64::MAX).await.map_err(store_error)?;
    let mut out = Vec::with_capacity(found.items.len());
    for o in &found.items {
        out.push(view(&state, o).await?);
    }
    Ok(Json(json!(out)))
}

/// An organization member.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgMember {
    user_id: Option<String>,
    user_email: Option<String>,
    role: String,
}

/// One member or several.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Members {
    /// One.
    One(OrgMember),
    /// Several.
    Many(Vec<OrgMember>),
}

/// `/organization/member_add`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberAdd {
    organization_id: String,
    member: Members,
}

fn check_role(role: &str, path: &str) -> Result<(), GatewayError> {
    if !ORG_ROLES.contains(&role) {
        return Err(GatewayError::bad_request(
            format!("{path}.role must be one of {ORG_ROLES:?} (got '{role}')"),
            Some(&format!("{path}.role")),
        ));
    }
    Ok(())
}

/// `POST /organization/member_add`.
pub async fn member_add(
    State(state): State<AppState>,
    Admin(_): Admin,
    JsonBody(req): JsonBody<MemberAdd>,
) -> Result<Json<Value>, ApiError> {
    let a = access(&state)?;
    let o = load(&state, &req.organization_id).await?;
    let members = match req.member {
        Members::One(m) => vec![m],
        Members::Many(m) => m,
    };
    for (i, m) in members.iter().enumerate() {
        check_role(&m.role, &format!("member[{i}]"))?;
        if m.user_id.is_none() {
            return Err(GatewayError::bad_request(format!("member[{i}].user_id is required"), Some(&format!("member[{i}].user_id"))).into());
        }
    }
    let mut added = Vec::new();
    for m in members {
        let user_id = m.user_id.unwrap_or_default();
        let mut user = ensure_user(&state, &user_id, m.user_email.as_deref()).await?;
        let membership = Membership {
            scope: "organization".into(),
            scope_id: o.organization_id.clone(),
            user_id: user_id.clone(),
            role: m.role,
            budget_id: None,
            spend: 0.0,
        };
        a.store.add_membership(&membership).await.map_err(store_error)?;
        if user.organization_id.is_none() {
            user.organization_id = Some(o.organization_id.clone());
            user.updated_at = time::now();
            a.store.update(&user).await.map_err(store_error)?;
            a.changed(Kind::User, &user_id);
        }
        added.push(membership);
    }
    Ok(Json(json!({"organization_id": o.organization_id, "updated_organization_memberships": added})))
}

/// `/organization/member_update`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberUpdate {
    organization_id: String,
    user_id: String,
    role: String,
}

/// `PATCH|POST /organization/member_update`.
pub async fn member_update(
    State(state): State<AppState>,
    Admin(_): Admin,
    JsonBody(req): JsonBody<MemberUpdate>,
) -> Result<Json<Value>, ApiError> {
    let a = access(&state)?;
    load(&state, &req.organization_id).await?;
    check_role(&req.role, "member")?;
    let m = Membership {
        scope: "organization".into(),
        scope_id: req.organization_id,
        user_id: req.user_id,
        role: req.role,
        budget_id: None,
        spend: 0.0,
    };
    a.store.update_membership(&m).await.map_err(store_error)?;
    Ok(Json(json!(m)))
}

/// `/organization/member_delete`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberDelete {
    organization_id: String,
    user_id: String,
}

/// `DELETE|POST /organization/member_delete`.
pub async fn member_delete(
    State(state): State<AppState>,
    Admin(_): Admin,
    JsonBody(req): JsonBody<MemberDelete>,
) -> Result<Json<Value>, ApiError> {
    let a = access(&state)?;
    load(&state, &req.organization_id).await?;
    if !a.store.remove_membership("organization", &req.organization_id, &req.user_id).await.map_err(store_error)? {
        return Err(GatewayError::new(
            ErrorKind::NotFound,
            format!("User {} is not a member of organization {}", req.user_id, req.organization_id),
        )
        .with_param("user_id")
        .into());
    }
    Ok(Json(json!({"organization_id": req.organization_id, "user_id": req.user_id, "deleted": true})))
}
