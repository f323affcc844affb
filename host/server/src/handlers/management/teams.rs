//! `/team/new|info|update|delete|list|block|unblock` and
//! `/team/member_add|member_update|member_delete`.
//!
//! A team groups keys and users under one model list, budget and rate
//! limits; a key with a `team_id` must satisfy both its own and its team's.
//! Members are kept on the team (`members_with_roles`) and the team on the
//! user (`teams`); a member who is not a user yet becomes one.

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tianji_core::{ErrorKind, GatewayError};
use tianji_store::records::Member;
use tianji_store::time;
use tianji_store::{Filter, KeyRecord, OrganizationRecord, TeamRecord, UserRecord};

use super::keys::delete_where;
use super::users::ensure_user;
use super::{access, non_negative, parse_span, store_error};
use crate::access::broadcast::Kind;
use crate::auth::Admin;
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::state::AppState;

/// The settable fields of a team (`/team/new`, `/team/update`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamFields {
    team_id: Option<String>,
    team_alias: Option<String>,
    organization_id: Option<String>,
    members_with_roles: Option<Vec<Member>>,
    metadata: Option<Map<String, Value>>,
    tpm_limit: Option<i64>,
    rpm_limit: Option<i64>,
    max_parallel_requests: Option<i64>,
    max_budget: Option<f64>,
    budget_duration: Option<String>,
    models: Option<Vec<String>>,
    blocked: Option<bool>,
    model_max_budget: Option<Map<String, Value>>,
}

impl TeamFields {
    fn validate(&self) -> Result<(), GatewayError> {
        non_negative("max_budget", self.max_budget)?;
        non_negative("tpm_limit", self.tpm_limit)?;
        non_negative("rpm_limit", self.rpm_limit)?;
        non_negative("max_parallel_requests", self.max_parallel_requests)?;
        if let Some(d) = &self.budget_duration {
            parse_span("budget_duration", d)?;
        }
        for (i, m) in self.members_with_roles.iter().flatten().enumerate() {
            check_member(m, &format!("members_with_roles[{i}]"))?;
        }
        Ok(())
    }

    fn apply(self, t: &mut TeamRecord) -> Result<(), GatewayError> {
        let now = time::now();
        if let Some(d) = &self.budget_duration {
            t.budget_reset_at = Some(time::next_reset(&now, parse_span("budget_duration", d)?));
        }
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = self.$f { t.$f = v.into(); } )* };
        }
        set!(team_alias, organization_id, tpm_limit, rpm_limit, max_parallel_requests, max_budget, budget_duration);
        set!(metadata, models, blocked, model_max_budget, members_with_roles);
        sync_member_lists(t);
        t.updated_at = now;
        Ok(())
    }
}

fn check_member(m: &Member, path: &str) -> Result<(), GatewayError> {
    if m.user_id.is_none() && m.user_email.is_none() {
        return Err(GatewayError::bad_request(format!("{path}: a member needs user_id or user_email"), Some(path)));
    }
    if !matches!(m.role.as_str(), "admin" | "user") {
        return Err(GatewayError::bad_request(
            format!("{path}.role must be 'admin' or 'user' (got '{}')", m.role),
            Some(&format!("{path}.role")),
        ));
    }
    Ok(())
}

/// `admins` and `members` follow `members_with_roles`.
fn sync_member_lists(t: &mut TeamRecord) {
    let ids =
        |admin: bool| t.members_with_roles.iter().filter(|m| (m.role == "admin") == admin).filter_map(|m| m.user_id.clone()).collect();
    t.admins = ids(true);
    t.members = ids(false);
}

fn not_found(team_id: &str) -> GatewayError {
    GatewayError::new(ErrorKind::NotFound, format!("Team not found, passed team_id={team_id}")).with_param("team_id")
}

async fn load(state: &AppState, team_id: &str) -> Result<TeamRecord, GatewayError> {
    access(state)?.store.get::<TeamRecord>(team_id).await.map_err(store_error)?.ok_or_else(|| not_found(team_id))
}

async fn save(state: &AppState, team: &TeamRecord) -> Result<(), GatewayError> {
    let a = access(state)?;
    a.store.update(team).await.map_err(store_error)?;
    a.changed(Kind::Team, &team.team_id);
    Ok(())
}

async fn check_alias(state: &AppState, alias: &str, except: Option<&str>) -> Result<(), GatewayError> {
    let found = access(state)?
        .store
        .list::<TeamRecord>(&Filter { alias: Some(alias.to_owned()), ..Default::default() }, 0, 1)
        .await
        .map_err(store_error)?;
    if found.items.iter().any(|t| Some(t.team_id.as_str()) != except) {
        return Err(GatewayError::bad_request(
            format!("Team alias '{alias}' already exists. Please use a different team alias."),
            Some("team_alias"),
        )
        .with_status(http::StatusCode::CONFLICT));
    }
    Ok(())
}

async fn check_org(state: &AppState, org: Option<&String>) -> Result<(), GatewayError> {
    if let Some(org) = org
        && access(state)?.store.get::<OrganizationRecord>(org).await.map_err(store_error)?.is_none()
    {
        return Err(GatewayError::new(ErrorKind::NotFound, format!("Organization not found, passed organization_id={org}"))
            .with_param("organization_id"));
    }
    Ok(())
}

/// Puts the team on each member's user record (creating users as needed).
async fn link_members(state: &AppState, team_id: &str, members: &[Member]) -> Result<(), GatewayError> {
    for m in members {
        let Some(user_id) = &m.user_id else { continue };
        let mut user = ensure_user(state, user_id, m.user_email.as_deref()).await?;
        if !user.teams.iter().any(|t| t == team_id) {
            user.teams.push(team_id.to_owned());
            user.updated_at = time::now();
            access(state)?.store.update(&user).await.map_err(store_error)?;
            access(state)?.changed(Kind::User, user_id);
        }
    }
    Ok(())
}

async fn unlink_member(state: &AppState, team_id: &str, user_id: &str) -> Result<(), GatewayError> {
    let a = access(state)?;
    if let Some(mut user) = a.store.get::<UserRecord>(user_id).await.map_err(store_error)? {
        user.teams.retain(|t| t != team_id);
        user.updated_at = time::now();
        a.store.update(&user).await.map_err(store_error)?;
        a.changed(Kind::User, user_id);
    }
    Ok(())
}

/// `POST /team/new`.
pub async fn new(State(state): State<AppState>, Admin(_): Admin, JsonBody(req): JsonBody<TeamFields>) -> Result<Json<Value>, ApiError> {
    let a = access(&state)?;
    req.validate()?;
    let team_id = req.team_id.clone().unwrap_or_else(tianji_core::new_call_id);
    if a.store.get::<TeamRecord>(&team_id).await.map_err(store_error)?.is_some() {
        return Err(GatewayError::bad_request(
            format!("Team id = {team_id} already exists. Please use a different team id."),
            Some("team_id"),
        )
        .with_status(http::StatusCode::CONFLICT)
        .into());
    }
    if let Some(alias) = &req.team_alias {
        check_alias(&state, alias, None).await?;
    }
    check_org(&state, req.organization_id.as_ref()).await?;
    let now = time::now();
    let mut team = TeamRecord {
        team_id: team_id.clone(),
        team_alias: None,
        organization_id: None,
        admins: Vec::new(),
        members: Vec::new(),
        members_with_roles: Vec::new(),
        metadata: Map::new(),
        tpm_limit: None,
        rpm_limit: None,
        max_parallel_requests: None,
        max_budget: None,
        budget_duration: None,
        budget_reset_at: None,
        models: Vec::new(),
        blocked: false,
        spend: 0.0,
        model_max_budget: Map::new(),
        created_at: now,
        updated_at: now,
    };
    req.apply(&mut team)?;
    a.store.insert(&team).await.map_err(store_error)?;
    link_members(&state, &team_id, &team.members_with_roles).await?;
    Ok(Json(serde_json::to_value(&team).unwrap_or(Value::Null)))
}

/// `?team_id=`.
#[derive(Debug, Deserialize)]
pub struct TeamQuery {
    team_id: Option<String>,
}

/// `GET /team/info?team_id=`: the team, its keys and its members.
pub async fn info(State(state): State<AppState>, Admin(_): Admin, Query(q): Query<TeamQuery>) -> Result<Json<Value>, ApiError> {
    let a = access(&state)?;
    let Some(team_id) = q.team_id else {
        return Err(GatewayError::bad_request("team_id is required", Some("team_id")).into());
    };
    let team = load(&state, &team_id).await?;
    let keys =
        a.store.list::<KeyRecord>(&Filter { team_id: Some(team_id.clone()), ..Default::default() }, 0, 1000).await.map_err(store_error)?;
    Ok(Json(json!({"team_id": team_id, "team_info": team, "keys": keys.items, "team_memberships": team.members_with_roles})))
}

/// `POST /team/update`: changes only the fields given.
pub async fn update(State(state): State<AppState>, Admin(_): Admin, JsonBody(req): JsonBody<TeamFields>) -> Result<Json<Value>, ApiError> {
    req.validate()?;
    let Some(team_id) = req.team_id.clone() else {
        return Err(GatewayError::bad_request("team_id is required", Some("team_id")).into());
    };
    let mut team = load(&state, &team_id).await?;
    if let Some(alias) = &req.team_alias {
        check_alias(&state, alias, Some(&team_id)).await?;
    }
    check_org(&state, req.organization_id.as_ref()).await?;
    req.apply(&mut team)?;
    save(&state, &team).await?;
    link_members(&state, &team_id, &team.members_with_roles).await?;
    Ok(Json(json!({"team_id": team_id, "data": team})))
}

/// `{"team_ids": [...]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamIds {
    team_ids: Vec<String>,
}

/// `POST /team/delete`: the teams and their keys; every team must exist.
pub async fn delete(State(state): State<AppState>, Admin(_): Admin, JsonBody(req): JsonBody<TeamIds>) -> Result<Json<Value>, ApiError> {
    let a = access(&state)?;
    let mut teams = Vec::new();
    for id in &req.team_ids {
        teams.push(load(&state, id).await?);
    }
    for team in &teams {
        delete_where(&state, Filter { team_id: Some(team.team_id.clone()), ..Default::default() }).await?;
        for m in team.members_with_roles.iter().filter_map(|m| m.user_id.as_deref()) {
            unlink_member(&state, &team.team_id, m).await?;
        }
    }
    let deleted = a.store.delete::<TeamRecord>(&req.team_ids).await.map_err(store_error)?;
    for id in &deleted {
        a.changed(Kind::Team, id);
    }
    Ok(Json(json!({"deleted_teams": deleted})))
}

/// `GET /team/list` filters.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    user_id: Option<String>,
    organization_id: Option<String>,
}

/// `GET /team/list`: every team (or a user's, or an organization's).
pub async fn list(State(state): State<AppState>, Admin(_): Admin, Query(q): Query<ListQuery>) -> Result<Json<Value>, ApiError> {
    let a = access(&state)?;
    let teams = a
        .store
        .list::<TeamRecord>(&Filter { organization_id: q.organization_id, ..Default::default() }, 0, i64::MAX)
        .await
        .map_err(store_error)?;
    let teams: Vec<TeamRecord> = match q.user_id {
        Some(u) => teams.items.into_iter().filter(|t| t.members_with_roles.iter().any(|m| m.user_id.as_deref() == Some(&u))).collect(),
        None => teams.items,
    };
    Ok(Json(json!(teams)))
}

/// `{"team_id": ...}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamRef {
    team_id: String,
}

async fn set_blocked(state: &AppState, team_id: &str, blocked: bool) -> Result<Json<Value>, ApiError> {
    let mut team = load(state, team_id).await?;
    team.blocked = blocked;
    team.updated_at = time::now();
    save(state, &team).await?;
    Ok(Json(serde_json::to_value(&team).unwrap_or(Value::Null)))
}

/// `POST /team/block`.
pub async fn block(State(state): State<AppState>, Admin(_): Admin, JsonBody(req): JsonBody<TeamRef>) -> Result<Json<Value>, ApiError> {
    set_blocked(&state, &req.team_id, true).await
}

/// `POST /team/unblock`.
pub async fn unblock(State(state): State<AppState>, Admin(_): Admin, JsonBody(req): JsonBody<TeamRef>) -> Result<Json<Value>, ApiError> {
    set_blocked(&state, &req.team_id, false).await
}

/// One member or several.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One member.
    One(Member),
    /// Several.
    Many(Vec<Member>),
}

/// `/team/member_add`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberAdd {
    team_id: String,
    member: OneOrMany,
    #[allow(dead_code)]
    max_budget_in_team: Option<f64>,
}

/// `POST /team/member_add`.
pub async fn member_add(
    State(state): State<AppState>,
    Admin(_): Admin,
    JsonBody(req): JsonBody<MemberAdd>,
) -> Result<Json<Value>, ApiError> {
    let members = match req.member {
        OneOrMany::One(m) => vec![m],
        OneOrMany::Many(m) => m,
    };
    for (i, m) in members.iter().enumerate() {
        check_member(m, &format!("member[{i}]"))?;
    }
    let mut team = load(&state, &req.team_id).await?;
    for m in &members {
        if team.members_with_roles.iter().any(|x| x.user_id.is_some() && x.user_id == m.user_id) {
            return Err(GatewayError::bad_request(
                format!("User={} already in team. Existing members={:?}", m.user_id.as_deref().unwrap_or_default(), team.members),
                Some("member"),
            )
            .into());
        }
    }
    team.members_with_roles.extend(members.iter().cloned());
    sync_member_lists(&mut team);
    team.updated_at = time::now();
    save(&state, &team).await?;
    link_members(&state, &team.team_id, &members).await?;
    Ok(Json(serde_json::to_value(&team).unwrap_or(Value::Null)))
}

/// `/team/member_update`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberUpdate {
    team_id: String,
    user_id: Option<String>,
    user_email: Option<String>,
    role: Option<String>,
    #[allow(dead_code)]
    max_budget_in_team: Option<f64>,
}

/// `POST /team/member_update`: a member's role.
pub async fn member_update(
    State(state): State<AppState>,
    Admin(_): Admin,
    JsonBody(req): JsonBody<MemberUpdate>,
) -> Result<Json<Value>, ApiError> {
    let mut team = load(&state, &req.team_id).await?;
    let member = team
        .members_with_roles
        .iter_mut()
        .find(|m| (req.user_id.is_some() && m.user_id == req.user_id) || (req.user_email.is_some() && m.user_email == req.user_email))
        .ok_or_else(|| {
            GatewayError::new(
                ErrorKind::NotFound,
                format!("User not in team: {}", req.user_id.clone().or(req.user_email.clone()).unwrap_or_default()),
            )
            .with_param("user_id")
        })?;
    if let Some(role) = req.role {
        member.role = role;
        check_member(member, "role")?;
    }
    sync_member_lists(&mut team);
    team.updated_at = time::now();
    save(&state, &team).await?;
    Ok(Json(json!({"team_id": team.team_id, "user_id": req.user_id, "data": team})))
}

/// `/team/member_delete`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberDelete {
    team_id: String,
    user_id: Option<String>,
    user_email: Option<String>,
}

/// `POST /team/member_delete`.
pub async fn member_delete(
    State(state): State<AppState>,
    Admin(_): Admin,
    JsonBody(req): JsonBody<MemberDelete>,
) -> Result<Json<Value>, ApiError> {
    let mut team = load(&state, &req.team_id).await?;
    let before = team.members_with_roles.len();
    let removed: Vec<String> = team
        .members_with_roles
        .iter()
        .filter(|m| (req.user_id.is_some() && m.user_id == req.user_id) || (req.user_email.is_some() && m.user_email == req.user_email))
        .filter_map(|m| m.user_id.clone())
        .collect();
    team.members_with_roles
        .retain(|m| !((req.user_id.is_some() && m.user_id == req.user_id) || (req.user_email.is_some() && m.user_email == req.user_email)));
    if team.members_with_roles.len() == before {
        return Err(GatewayError::new(
            ErrorKind::NotFound,
            format!("User not in team: {}", req.user_id.or(req.user_email).unwrap_or_default()),
        )
        .with_param("user_id")
        .into());
    }
    sync_member_lists(&mut team);
    team.updated_at = time::now();
    save(&state, &team).await?;
    for u in removed {
        unlink_member(&state, &team.team_id, &u).await?;
    }
    Ok(Json(serde_json::to_value(&team).unwrap_or(Value::Null)))
}
