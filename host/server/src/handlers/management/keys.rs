//! `/key/generate`, `/key/info`, `/key/update`, `/key/delete`, `/key/list`,
//! `/key/regenerate` (and `/key/{key}/regenerate`), `/key/block`,
//! `/key/unblock`.
//!
//! Keys are shown in plain text once, in the answer to `/key/generate` or
//! `/key/regenerate`; the database holds their SHA-256. Every change
//! invalidates the key in this instance's cache at once.

use axum::Json;
use axum::extract::{Path, Query, State};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tianji_core::GatewayError;
use tianji_store::time::{self, Timestamp};
use tianji_store::{Filter, KeyRecord, TeamRecord, hash_key, token_of};

use super::users::ensure_user;
use super::{access, non_negative, page_bounds, parse_span, store_error};
use crate::access::broadcast::Kind;
use crate::auth::{Admin, Caller, abbreviate, has_admin_rights};
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::state::AppState;

/// The body of `/key/generate`, `/key/update` and `/key/regenerate`: the
/// key's settable fields, plus `key` (the key to change, or for
/// `/key/generate` a chosen key) and `new_key` (`/key/regenerate`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFields {
    key: Option<String>,
    new_key: Option<String>,
    key_alias: Option<String>,
    duration: Option<String>,
    models: Option<Vec<String>>,
    aliases: Option<Map<String, Value>>,
    config: Option<Map<String, Value>>,
    spend: Option<f64>,
    max_budget: Option<f64>,
    soft_budget: Option<f64>,
    user_id: Option<String>,
    team_id: Option<String>,
    organization_id: Option<String>,
    budget_id: Option<String>,
    max_parallel_requests: Option<i64>,
    tpm_limit: Option<i64>,
    rpm_limit: Option<i64>,
    metadata: Option<Map<String, Value>>,
    budget_duration: Option<String>,
    allowed_cache_controls: Option<Vec<String>>,
    permissions: Option<Map<String, Value>>,
    model_max_budget: Option<Map<String, Value>>,
    model_rpm_limit: Option<Map<String, Value>>,
    model_tpm_limit: Option<Map<String, Value>>,
    tags: Option<Vec<String>>,
    guardrails: Option<Vec<String>>,
    blocked: Option<bool>,
    /// Accepted for compatibility: Tianji sends no e-mail.
    #[allow(dead_code)]
    send_invite_email: Option<bool>,
}

/// `{"key": "sk-..."}` (`/key/block`, `/key/unblock`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRef {
    key: String,
}

/// `/key/delete`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteRequest {
    #[serde(default)]
    keys: Vec<String>,
    #[serde(default)]
    key_aliases: Vec<String>,
}

/// `/key/info`'s query.
#[derive(Debug, Deserialize)]
pub struct InfoQuery {
    key: Option<String>,
}

/// `/key/list`'s query.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    page: Option<i64>,
    size: Option<i64>,
    user_id: Option<String>,
    team_id: Option<String>,
    organization_id: Option<String>,
    key_alias: Option<String>,
    #[serde(default)]
    return_full_object: Option<String>,
}

/// A new random key: `sk-` and 22 URL-safe characters (128 bits).
pub fn new_key() -> Result<String, GatewayError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| GatewayError::internal(format!("no randomness for a new key: {e}")))?;
    Ok(format!("sk-{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)))
}

impl KeyFields {
    fn validate(&self) -> Result<(), GatewayError> {
        non_negative("max_budget", self.max_budget)?;
        non_negative("soft_budget", self.soft_budget)?;
        non_negative("spend", self.spend)?;
        non_negative("max_parallel_requests", self.max_parallel_requests)?;
        non_negative("tpm_limit", self.tpm_limit)?;
        non_negative("rpm_limit", self.rpm_limit)?;
        if let Some(d) = &self.duration {
            parse_span("duration", d)?;
        }
        if let Some(d) = &self.budget_duration {
            parse_span("budget_duration", d)?;
        }
        if let Some(alias) = &self.key_alias
            && alias.trim().is_empty()
        {
            return Err(GatewayError::bad_request("key_alias must not be empty", Some("key_alias")));
        }
        for (field, map) in [("model_rpm_limit", &self.model_rpm_limit), ("model_tpm_limit", &self.model_tpm_limit)] {
            for (model, v) in map.iter().flatten() {
                if !v.is_u64() {
                    return Err(GatewayError::bad_request(
                        format!("{field}.{model} must be a non-negative integer"),
                        Some(&format!("{field}.{model}")),
                    ));
                }
            }
        }
        for (model, v) in self.model_max_budget.iter().flatten() {
            let limit = v.get("budget_limit").and_then(Value::as_f64);
            if !limit.is_some_and(|l| l >= 0.0) {
                return Err(GatewayError::bad_request(
                    format!("model_max_budget.{model} must be {{\"budget_limit\": <USD>, \"time_period\": \"30d\"}}"),
                    Some(&format!("model_max_budget.{model}")),
                ));
            }
        }
        Ok(())
    }

    /// Applies the fields that were given to a record.
    fn apply(self, k: &mut KeyRecord, now: &Timestamp) -> Result<(), GatewayError> {
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = self.$f { k.$f = v.into(); } )* };
        }
        if let Some(d) = &self.duration {
            k.expires = Some(time::add(now, parse_span("duration", d)?));
        }
        if let Some(d) = &self.budget_duration {
            k.budget_reset_at = Some(time::next_reset(now, parse_span("budget_duration", d)?));
        }
        if let Some(spend) = self.spend {
            k.spend = spend;
        }
        set!(
            models,
            aliases,
            config,
            permissions,
            metadata,
            allowed_cache_controls,
            model_max_budget,
            model_rpm_limit,
            model_tpm_limit,
            tags,
            guardrails
        );
        set!(
            key_alias,
            max_budget,
            soft_budget,
            user_id,
            team_id,
            organization_id,
            budget_id,
            max_parallel_requests,
            tpm_limit,
            rpm_limit,
            budget_duration,
            blocked
        );
        Ok(())
    }
}

/// Checks that the team and user a key names exist.
async fn check_owners(state: &AppState, fields: &KeyFields) -> Result<(), GatewayError> {
    let a = access(state)?;
    if let Some(team) = &fields.team_id
        && a.store.get::<TeamRecord>(team).await.map_err(store_error)?.is_none()
    {
        return Err(GatewayError::bad_request(format!("team_id={team} does not exist; create it with /team/new"), Some("team_id"))
            .with_status(http::StatusCode::NOT_FOUND));
    }
    if let Some(user) = &fields.user_id {
        // LiteLLM creates the user a key names; so does Tianji.
        ensure_user(state, user, None).await?;
    }
    Ok(())
}

async fn alias_taken(state: &AppState, alias: &str, except: Option<&str>) -> Result<(), GatewayError> {
    let a = access(state)?;
    let found =
        a.store.list::<KeyRecord>(&Filter { alias: Some(alias.to_owned()), ..Default::default() }, 0, 1).await.map_err(store_error)?;
    if found.items.iter().any(|k| Some(k.token.as_str()) != except) {
        return Err(GatewayError::bad_request(
            format!("Unique key aliases across all keys are required. Key alias '{alias}' is already in use."),
            Some("key_alias"),
        )
        .with_status(http::StatusCode::CONFLICT));
    }
    Ok(())
}

/// A key with nothing set yet, created now by the admin.
pub fn blank_record(key: &str, now: Timestamp) -> KeyRecord {
    KeyRecord {
        token: hash_key(key),
        key_name: abbreviate(key),
        key_alias: None,
        spend: 0.0,
        max_budget: None,
        soft_budget: None,
        expires: None,
        models: Vec::new(),
        aliases: Map::new(),
        config: Map::new(),
        user_id: None,
        team_id: None,
        organization_id: None,
        budget_id: None,
        permissions: Map::new(),
        max_parallel_requests: None,
        tpm_limit: None,
        rpm_limit: None,
        metadata: Map::new(),
        blocked: None,
        budget_duration: None,
        budget_reset_at: None,
        allowed_cache_controls: Vec::new(),
        model_max_budget: Map::new(),
        model_rpm_limit: Map::new(),
        model_tpm_limit: Map::new(),
        tags: Vec::new(),
        guardrails: Vec::new(),
        created_at: now,
        created_by: Some("litellm_proxy_admin_name".into()),
        updated_at: now,
        updated_by: Some("litellm_proxy_admin_name".into()),
    }
}

/// Deletes every key matching `filter` (a deleted team's or user's), effective at once.
pub async fn delete_where(state: &AppState, filter: Filter) -> Result<(), GatewayError> {
    let a = access(state)?;
    let keys = a.store.list::<KeyRecord>(&filter, 0, i64::MAX).await.map_err(store_error)?;
    let tokens: Vec<String> = keys.items.into_iter().map(|k| k.token).collect();
    a.store.delete::<KeyRecord>(&tokens).await.map_err(store_error)?;
    for t in &tokens {
        a.changed(Kind::Key, t);
    }
    Ok(())
}

/// A key record as the API shows it, with `key` and `token_id` added.
fn key_json(record: &KeyRecord, key: &str) -> Value {
    let mut v = serde_json::to_value(record).unwrap_or_else(|_| json!({}));
    if let Some(o) = v.as_object_mut() {
        o.insert("key".into(), json!(key));
        o.insert("token_id".into(), json!(record.token));
    }
    v
}

/// `POST /key/generate`.
pub async fn generate(State(state): State<AppState>, Admin(_): Admin, JsonBody(req): JsonBody<KeyFields>) -> Result<Json<Value>, ApiError> {
    let a = access(&state)?;
    req.validate()?;
    if req.new_key.is_some() {
        return Err(
            GatewayError::bad_request("new_key is for /key/regenerate; pass key to choose the new key's value", Some("new_key")).into()
        );
    }
    let key = match req.key.clone() {
        Some(k) if !k.starts_with("sk-") => return Err(GatewayError::bad_request("key must start with 'sk-'", Some("key")).into()),
        Some(k) => k,
        None => new_key()?,
    };
    if let Some(alias) = &req.key_alias {
        alias_taken(&state, alias, None).await?;
    }
    check_owners(&state, &req).await?;
    let now = time::now();
    let mut record = blank_record(&key, now);
    req.apply(&mut record, &now)?;
    a.store.insert(&record).await.map_err(store_error)?;
    a.changed(Kind::Key, &record.token);
    Ok(Json(key_json(&record, &key)))
}

/// `GET /key/info?key=...`: any key for the admin, the caller's own otherwise.
pub async fn info(State(state): State<AppState>, caller: Caller, Query(q): Query<InfoQuery>) -> Result<Json<Value>, ApiError> {
    let a = access(&state)?;
    let token = match (&q.key, &caller.key) {
        (Some(k), _) => token_of(k),
        (None, Some(own)) => own.hash.clone(),
        (None, None) => return Err(GatewayError::bad_request("key is required: /key/info?key=sk-...", Some("key")).into()),
    };
    if !has_admin_rights(&state, &caller).await && caller.key.as_ref().map(|k| &k.hash) != Some(&token) {
        return Err(GatewayError::new(
            tianji_core::ErrorKind::PermissionDenied,
            "You are not allowed to access this key's info. Your key is not the key you are requesting info for.",
        )
        .into());
    }
    let record: KeyRecord = a.store.get(&token).await.map_err(store_error)?.ok_or_else(|| {
        GatewayError::new(
            tianji_core::ErrorKind::NotFound,
            format!("Key not found in database: {}", q.key.as_deref().map(abbreviate).unwrap_or_default()),
        )
    })?;
    let model_spend: Map<String, Value> =
        a.store.model_spend("key", &token).await.map_err(store_error)?.into_iter().map(|(m, s)| (m, json!(s))).collect();
    let mut info = serde_json::to_value(&record).unwrap_or_else(|_| json!({}));
    if let Some(o) = info.as_object_mut() {
        o.insert("model_spend".into(), Value::Object(model_spend));
    }
    Ok(Json(json!({"key": q.key.unwrap_or(token), "info": info})))
}

async fn load(state: &AppState, key: &str) -> Result<KeyRecord, GatewayError> {
    let a = access(state)?;
    a.store
        .get::<KeyRecord>(&token_of(key))
        .await
        .map_err(store_error)?
        .ok_or_else(|| GatewayError::new(tianji_core::ErrorKind::NotFound, format!("Key not found: {}", abbreviate(key))).with_param("key"))
}

/// `POST /key/update`: changes only the fields given.
pub async fn update(State(state): State<AppState>, Admin(_): Admin, JsonBody(req): JsonBody<KeyFields>) -> Result<Json<Value>, ApiError> {
    let a = access(&state)?;
    req.validate()?;
    let Some(key) = req.key.clone() else {
        return Err(GatewayError::bad_request("key is required", Some("key")).into());
    };
    if req.new_key.is_some() {
        return Err(GatewayError::bad_request("new_key is for /key/regenerate", Some("new_key")).into());
    }
    let mut record = load(&state, &key).await?;
    if let Some(alias) = &req.key_alias {
        alias_taken(&state, alias, Some(&record.token)).await?;
    }
    check_owners(&state, &req).await?;
    let spend = req.spend;
    let now = time::now();
    req.apply(&mut record, &now)?;
    record.updated_at = now;
    record.updated_by = Some("litellm_proxy_admin_name".into());
    a.store.update(&record).await.map_err(store_error)?;
    if let Some(s) = spend {
        a.store.set_spend::<KeyRecord>(&record.token, s).await.map_err(store_error)?;
    }
    a.changed(Kind::Key, &record.token);
    Ok(Json(key_json(&record, &key)))
}

/// `POST /key/delete`: by key or alias. As in LiteLLM, keys that do not
/// exist are skipped; a 404 only when none of them exists.
pub async fn delete(
    State(state): State<AppState>,
    Admin(_): Admin,
    JsonBody(req): JsonBody<DeleteRequest>,
) -> Result<Json<Value>, ApiError> {
    let a = access(&state)?;
    if req.keys.is_empty() && req.key_aliases.is_empty() {
        return Err(GatewayError::bad_request("keys or key_aliases is required", Some("keys")).into());
    }
    let mut tokens: Vec<String> = req.keys.iter().map(|k| token_of(k)).collect();
    for alias in &req.key_aliases {
        let found =
            a.store.list::<KeyRecord>(&Filter { alias: Some(alias.clone()), ..Default::default() }, 0, 1).await.map_err(store_error)?;
        tokens.extend(found.items.into_iter().map(|k| k.token));
    }
    let deleted = a.store.delete::<KeyRecord>(&tokens).await.map_err(store_error)?;
    if deleted.is_empty() {
        return Err(GatewayError::new(tianji_core::ErrorKind::NotFound, "No keys found: none of the keys or aliases given exists")
            .with_param("keys")
            .into());
    }
    for t in &deleted {
        a.changed(Kind::Key, t);
    }
    let shown: Vec<&String> = req.keys.iter().chain(&req.key_aliases).collect();
    Ok(Json(json!({"deleted_keys": shown})))
}

/// `GET /key/list`.
pub async fn list(State(state): State<AppState>, Admin(_): Admin, Query(q): Query<ListQuery>) -> Result<Json<Value>, ApiError> {
    let a = access(&state)?;
    let (page, size) = page_bounds(q.page, q.size)?;
    let filter = Filter { alias: q.key_alias, user_id: q.user_id, team_id: q.team_id, organization_id: q.organization_id, ids: None };
    let found = a.store.list::<KeyRecord>(&filter, (page - 1) * size, size).await.map_err(store_error)?;
    let full = q.return_full_object.as_deref().is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let keys: Vec<Value> =
        found.items.iter().map(|k| if full { serde_json::to_value(k).unwrap_or(Value::Null) } else { json!(k.token) }).collect();
    let total_pages = (found.total + size - 1) / size;
    Ok(Json(json!({"keys": keys, "total_count": found.total, "current_page": page, "total_pages": total_pages})))
}

async fn set_blocked(state: &AppState, key: &str, blocked: bool) -> Result<Json<Value>, ApiError> {
    let a = access(state)?;
    let mut record = load(state, key).await?;
    record.blocked = Some(blocked);
    record.updated_at = time::now();
    a.store.update(&record).await.map_err(store_error)?;
    a.changed(Kind::Key, &record.token);
    Ok(Json(serde_json::to_value(&record).unwrap_or(Value::Null)))
}

/// `POST /key/block`.
pub async fn block(State(state): State<AppState>, Admin(_): Admin, JsonBody(req): JsonBody<KeyRef>) -> Result<Json<Value>, ApiError> {
    set_blocked(&state, &req.key, true).await
}

/// `POST /key/unblock`.
pub async fn unblock(State(state): State<AppState>, Admin(_): Admin, JsonBody(req): JsonBody<KeyRef>) -> Result<Json<Value>, ApiError> {
    set_blocked(&state, &req.key, false).await
}

/// `POST /key/regenerate` (key in the body).
pub async fn regenerate(state: State<AppState>, admin: Admin, JsonBody(req): JsonBody<KeyFields>) -> Result<Json<Value>, ApiError> {
    let key = req.key.clone().ok_or_else(|| GatewayError::bad_request("key is required", Some("key")))?;
    regenerate_key(state, admin, key, req).await
}

/// `POST /key/{key}/regenerate`.
pub async fn regenerate_path(
    state: State<AppState>,
    admin: Admin,
    Path(key): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let req = if body.iter().all(u8::is_ascii_whitespace) { KeyFields::default() } else { crate::body::decode(&body)? };
    regenerate_key(state, admin, key, req).await
}

/// A new secret for an existing key: same settings and spend, new token;
/// the old key stops working at once.
async fn regenerate_key(State(state): State<AppState>, _admin: Admin, key: String, mut req: KeyFields) -> Result<Json<Value>, ApiError> {
    let a = access(&state)?;
    req.validate()?;
    let old = load(&state, &key).await?;
    let new_key = match req.new_key.take() {
        Some(k) if !k.starts_with("sk-") => return Err(GatewayError::bad_request("new_key must start with 'sk-'", Some("new_key")).into()),
        Some(k) => k,
        None => new_key()?,
    };
    if let Some(alias) = &req.key_alias {
        alias_taken(&state, alias, Some(&old.token)).await?;
    }
    check_owners(&state, &req).await?;
    let now = time::now();
    let mut record = old.clone();
    record.token = hash_key(&new_key);
    record.key_name = abbreviate(&new_key);
    record.updated_at = now;
    req.apply(&mut record, &now)?;
    // The alias moves to the new token: free it first.
    a.store.delete::<KeyRecord>(std::slice::from_ref(&old.token)).await.map_err(store_error)?;
    if let Err(e) = a.store.insert(&record).await {
        // Put the old key back rather than lose it.
        let _ = a.store.insert(&old).await;
        return Err(store_error(e).into());
    }
    a.store.set_spend::<KeyRecord>(&record.token, record.spend).await.map_err(store_error)?;
    a.changed(Kind::Key, &old.token);
    a.changed(Kind::Key, &record.token);
    Ok(Json(key_json(&record, &new_key)))
}
