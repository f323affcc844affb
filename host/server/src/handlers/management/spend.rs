//! `/spend/logs` and `/global/spend/report`: what was spent, per call and
//! per day, from the spend rows and the daily aggregates the spend writer
//! keeps.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Query, State};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};
use tianji_core::GatewayError;
use tianji_store::time::{self, Timestamp};
use tianji_store::{DailyRow, SpendQuery, token_of};

use super::{access, store_error};
use crate::auth::Admin;
use crate::error::ApiError;
use crate::state::AppState;

/// Most rows `/spend/logs` returns.
const MAX_LOG_ROWS: i64 = 10_000;

fn day(field: &str, text: &str) -> Result<NaiveDate, GatewayError> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| GatewayError::bad_request(format!("{field} must be a date like 2026-11-22 (got '{text}')"), Some(field)))
}

fn start_of(d: NaiveDate) -> Timestamp {
    d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or_else(time::now)
}

/// One day of `/spend/logs?summarize=true`.
#[derive(Default)]
struct DaySummary {
    spend: f64,
    models: BTreeMap<String, f64>,
    users: BTreeMap<String, f64>,
    api_keys: BTreeMap<String, f64>,
}

/// `/spend/logs`' query.
#[derive(Debug, Deserialize)]
pub struct LogsQuery {
    api_key: Option<String>,
    user_id: Option<String>,
    team_id: Option<String>,
    request_id: Option<String>,
    start_date: Option<String>,
    end_date: Option<String>,
    summarize: Option<String>,
}

/// `GET /spend/logs`: rows by key, user, team, request id and date range
/// (`start_date`/`end_date`, inclusive days, UTC), newest first. With a date
/// range and `summarize` (the default), one row per day instead: the day's
/// spend in all and by model, user and key.
pub async fn logs(State(state): State<AppState>, Admin(_): Admin, Query(q): Query<LogsQuery>) -> Result<Json<Value>, ApiError> {
    let a = access(&state)?;
    let start = q.start_date.as_deref().map(|d| day("start_date", d)).transpose()?;
    let end = q.end_date.as_deref().map(|d| day("end_date", d)).transpose()?;
    if start.is_some() != end.is_some() {
        return Err(GatewayError::bad_request(
            "start_date and end_date go together",
            Some(if start.is_some() { "end_date" } else { "start_date" }),
        )
        .into());
    }
    if let (Some(s), Some(e)) = (start, end)
        && e < s
    {
        return Err(GatewayError::bad_request("end_date is before start_date", Some("end_date")).into());
    }
    let query = SpendQuery {
        api_key: q.api_key.as_deref().map(token_of),
        user_id: q.user_id,
        team_id: q.team_id,
        request_id: q.request_id,
        start: start.map(start_of),
        end: end.and_then(|e| e.succ_opt()).map(start_of),
        limit: MAX_LOG_ROWS,
    };
    let rows = a.store.spend_logs(&query).await.map_err(store_error)?;
    let summarize = !q.summarize.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("false"));
    if start.is_none() || !summarize {
        return Ok(Json(json!(rows)));
    }
    let mut days: BTreeMap<String, DaySummary> = BTreeMap::new();
    for r in &rows {
        let d = days.entry(time::day(&r.start_time)).or_default();
        d.spend += r.spend;
        *d.models.entry(r.model.clone()).or_default() += r.spend;
        *d.users.entry(r.user.clone().unwrap_or_default()).or_default() += r.spend;
        *d.api_keys.entry(r.api_key.clone()).or_default() += r.spend;
    }
    let out: Vec<Value> = days
        .into_iter()
        .map(|(day, d)| json!({"startTime": day, "spend": d.spend, "models": d.models, "users": d.users, "api_keys": d.api_keys}))
        .collect();
    Ok(Json(json!(out)))
}

/// `/global/spend/report`'s query.
#[derive(Debug, Deserialize)]
pub struct ReportQuery {
    start_date: Option<String>,
    end_date: Option<String>,
    group_by: Option<String>,
    api_key: Option<String>,
    team_id: Option<String>,
    customer_id: Option<String>,
}

fn by_model(rows: &[&DailyRow]) -> Vec<Value> {
    let mut m: BTreeMap<&str, (f64, i64, i64)> = BTreeMap::new();
    for r in rows {
        let e = m.entry(r.model.as_str()).or_default();
        e.0 += r.spend;
        e.1 += r.prompt_tokens;
        e.2 += r.completion_tokens;
    }
    m.into_iter().map(|(model, (spend, p, c))| json!({"model_name": model, "spend": spend, "total_tokens": p + c})).collect()
}

/// `GET /global/spend/report?start_date=&end_date=&group_by=team|customer|api_key`:
/// per day and team (or customer), with the spend per model; or per key
/// over the whole range, with the tokens per model.
pub async fn report(State(state): State<AppState>, Admin(_): Admin, Query(q): Query<ReportQuery>) -> Result<Json<Value>, ApiError> {
    let a = access(&state)?;
    let today = time::now().date_naive();
    let end = q.end_date.as_deref().map(|d| day("end_date", d)).transpose()?.unwrap_or(today);
    let start = q.start_date.as_deref().map(|d| day("start_date", d)).transpose()?.unwrap_or_else(|| end - chrono::Days::new(30));
    if end < start {
        return Err(GatewayError::bad_request("end_date is before start_date", Some("end_date")).into());
    }
    let (from, to) = (start.format("%Y-%m-%d").to_string(), end.format("%Y-%m-%d").to_string());
    let group_by = q.group_by.as_deref().unwrap_or("team");
    let (entity, one) = match group_by {
        "team" => ("team", q.team_id.clone()),
        "customer" => ("end_user", q.customer_id.clone()),
        "api_key" => ("key", q.api_key.as_deref().map(token_of)),
        other => {
            return Err(
                GatewayError::bad_request(format!("group_by must be team, customer or api_key (got '{other}')"), Some("group_by")).into()
            );
        }
    };
    let rows = a.store.daily_spend(entity, one.as_deref(), &from, &to).await.map_err(store_error)?;
    if group_by == "api_key" {
        let mut keys: BTreeMap<&str, Vec<&DailyRow>> = BTreeMap::new();
        for r in &rows {
            keys.entry(r.entity_id.as_str()).or_default().push(r);
        }
        let out: Vec<Value> = keys
            .into_iter()
            .map(|(key, rows)| {
                let mut models: BTreeMap<&str, (f64, i64, i64)> = BTreeMap::new();
                for r in &rows {
                    let e = models.entry(r.model.as_str()).or_default();
                    e.0 += r.spend;
                    e.1 += r.prompt_tokens;
                    e.2 += r.completion_tokens;
                }
                json!({
                    "api_key": key,
                    "total_cost": rows.iter().map(|r| r.spend).sum::<f64>(),
                    "total_input_tokens": rows.iter().map(|r| r.prompt_tokens).sum::<i64>(),
                    "total_output_tokens": rows.iter().map(|r| r.completion_tokens).sum::<i64>(),
                    "model_details": models.into_iter().map(|(m, (c, i, o))| json!({"model": m, "total_cost": c, "total_input_tokens": i, "total_output_tokens": o})).collect::<Vec<_>>(),
                })
            })
            .collect();
        return Ok(Json(json!(out)));
    }
    // Per day, then per team (or customer).
    let mut days: BTreeMap<&str, BTreeMap<&str, Vec<&DailyRow>>> = BTreeMap::new();
    for r in &rows {
        days.entry(r.day.as_str()).or_default().entry(r.entity_id.as_str()).or_default().push(r);
    }
    let (list, name) = if group_by == "team" { ("teams", "team_name") } else { ("customers", "customer") };
    let out: Vec<Value> = days
        .into_iter()
        .map(|(day, groups)| {
            let items: Vec<Value> = groups
                .into_iter()
                .map(|(id, rows)| json!({name: id, "total_spend": rows.iter().map(|r| r.spend).sum::<f64>(), "metadata": by_model(&rows)}))
                .collect();
            json!({"group_by_day": day, list: items})
        })
        .collect();
    Ok(Json(json!(out)))
}
