//! Spend: one log row per call, written in batches, and the running totals
//! they feed (entity spend, per-model spend, daily aggregates).
//!
//! A batch is one transaction. Rows are inserted with `ON CONFLICT DO
//! NOTHING ... RETURNING request_id`, and only the rows that were new add to
//! the totals, so re-sending a batch whose commit was acknowledged too late
//! (or not at all) counts nothing twice.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{AssertSqlSafe, Row};

use crate::time::{self, Timestamp};
use crate::{Store, StoreError};

/// One call's spend, as `/spend/logs` returns it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SpendRow {
    /// The call id (`x-litellm-call-id`).
    pub request_id: String,
    /// `acompletion`, `aembedding`, ...
    pub call_type: String,
    /// SHA-256 of the key that paid.
    pub api_key: String,
    /// Cost, USD.
    pub spend: f64,
    /// Prompt plus completion tokens.
    pub total_tokens: i64,
    /// Prompt tokens.
    pub prompt_tokens: i64,
    /// Completion tokens.
    pub completion_tokens: i64,
    /// When the call arrived.
    #[serde(rename = "startTime")]
    pub start_time: Timestamp,
    /// When it finished.
    #[serde(rename = "endTime")]
    pub end_time: Timestamp,
    /// The model group asked for.
    pub model: String,
    /// The deployment that answered.
    pub model_id: Option<String>,
    /// The model group that answered.
    pub model_group: Option<String>,
    /// The provider.
    pub custom_llm_provider: Option<String>,
    /// The upstream base URL.
    pub api_base: Option<String>,
    /// The key's user.
    pub user: Option<String>,
    /// The key's team.
    pub team_id: Option<String>,
    /// The key's organization.
    pub organization_id: Option<String>,
    /// The request's `user` field.
    pub end_user: Option<String>,
    /// `success` or `failure`.
    pub status: String,
    /// Request tags.
    #[serde(default)]
    pub request_tags: Vec<String>,
    /// Request metadata.
    #[serde(default)]
    pub metadata: Value,
}

/// Filters for `/spend/logs`.
#[derive(Debug, Clone, Default)]
pub struct SpendQuery {
    /// SHA-256 of a key.
    pub api_key: Option<String>,
    /// A user id.
    pub user_id: Option<String>,
    /// A team id.
    pub team_id: Option<String>,
    /// One call.
    pub request_id: Option<String>,
    /// From (inclusive).
    pub start: Option<Timestamp>,
    /// Until (exclusive).
    pub end: Option<Timestamp>,
    /// Most rows returned.
    pub limit: i64,
}

/// One row of the daily aggregates.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DailyRow {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    /// `key`, `team`, `user`, `organization`, `end_user` or `tag`.
    pub entity_type: String,
    /// Its id (a key's hash for keys).
    pub entity_id: String,
    /// Model group.
    pub model: String,
    /// Provider.
    pub provider: String,
    /// USD.
    pub spend: f64,
    /// Prompt tokens.
    pub prompt_tokens: i64,
    /// Completion tokens.
    pub completion_tokens: i64,
    /// Calls.
    pub api_requests: i64,
    /// Successful calls.
    pub successful_requests: i64,
    /// Failed calls.
    pub failed_requests: i64,
}

/// Most rows per INSERT statement, 21 parameters each. SQLite writes 500-row
/// statements as fast as larger ones, and a prepared statement's size grows
/// with its parameters. On PostgreSQL fewer, larger statements matter: sqlx
/// does not set TCP_NODELAY, so each statement can wait for a delayed ACK
/// (up to 40 ms on Linux); 3000 rows stay under its 65 535-parameter limit.
fn rows_per_statement(backend: crate::Backend) -> usize {
    match backend {
        crate::Backend::Sqlite => 500,
        crate::Backend::Postgres => 3000,
    }
}
const COLUMNS: &str = "request_id, call_type, api_key, spend, total_tokens, prompt_tokens, completion_tokens, start_time, end_time, model, model_id, model_group, custom_llm_provider, api_base, user_id, team_id, organization_id, end_user, status, request_tags, metadata";

#[derive(Default)]
struct Totals {
    spend: f64,
    prompt: i64,
    completion: i64,
    requests: i64,
    ok: i64,
    failed: i64,
}

impl Totals {
    fn add(&mut self, r: &SpendRow) {
        self.spend += r.spend;
        self.prompt += r.prompt_tokens;
        self.completion += r.completion_tokens;
        self.requests += 1;
        if r.status == "success" {
            self.ok += 1;
        } else {
            self.failed += 1;
        }
    }
}

/// The entities a row's spend counts towards: (kind, table, id).
fn payers(r: &SpendRow) -> impl Iterator<Item = (&'static str, Option<&'static str>, &str)> {
    [
        ("key", Some("tianji_keys"), Some(r.api_key.as_str())),
        ("user", Some("tianji_users"), r.user.as_deref()),
        ("team", Some("tianji_teams"), r.team_id.as_deref()),
        ("organization", Some("tianji_organizations"), r.organization_id.as_deref()),
        ("end_user", Some("tianji_end_users"), r.end_user.as_deref()),
    ]
    .into_iter()
    .filter_map(|(k, t, id)| id.filter(|i| !i.is_empty()).map(|i| (k, t, i)))
    .chain(r.request_tags.iter().map(|t| ("tag", None, t.as_str())))
}

impl Store {
    /// Writes a batch of spend rows and adds them to every total, in one
    /// transaction; rows already written (same `request_id`) are skipped.
    /// Returns how many rows were new.
    pub async fn write_spend(&self, rows: &[SpendRow]) -> Result<usize, StoreError> {
        if rows.is_empty() {
            return Ok(0);
        }
        let doing = || format!("writing {} spend log rows", rows.len());
        // Fast path: every row is new (the usual case), so no row ids need
        // to come back. If any was already stored (a retried batch), start
        // over and ask which ones were new.
        let mut tx = self.pool.begin().await.map_err(StoreError::db(doing()))?;
        let mut all_new = true;
        for chunk in rows.chunks(rows_per_statement(self.backend)) {
            let done = self.insert_rows(chunk, false).execute(&mut *tx).await.map_err(StoreError::db(doing()))?;
            if done.rows_affected() != chunk.len() as u64 {
                all_new = false;
                break;
            }
        }
        let new: Vec<&SpendRow> = if all_new {
            rows.iter().collect()
        } else {
            tx.rollback().await.map_err(StoreError::db(doing()))?;
            tx = self.pool.begin().await.map_err(StoreError::db(doing()))?;
            let mut inserted: std::collections::HashSet<String> = std::collections::HashSet::with_capacity(rows.len());
            for chunk in rows.chunks(rows_per_statement(self.backend)) {
                for row in self.insert_rows(chunk, true).fetch_all(&mut *tx).await.map_err(StoreError::db(doing()))? {
                    inserted.insert(row.try_get("request_id").map_err(StoreError::db(doing()))?);
                }
            }
            rows.iter().filter(|r| inserted.contains(&r.request_id)).collect()
        };

        // Totals per entity, per (entity, model) and per (day, entity, model, provider).
        let mut entity: HashMap<(&'static str, &str), f64> = HashMap::new();
        let mut model: HashMap<(&'static str, &str, &str), f64> = HashMap::new();
        let mut daily: HashMap<(String, &'static str, &str, &str, &str), Totals> = HashMap::new();
        let mut end_users: Vec<&str> = Vec::new();
        for r in &new {
            let day = time::day(&r.start_time);
            let group = r.model_group.as_deref().unwrap_or(&r.model);
            let provider = r.custom_llm_provider.as_deref().unwrap_or("");
            for (kind, table, id) in payers(r) {
                if let Some(table) = table {
                    *entity.entry((table, id)).or_default() += r.spend;
                    *model.entry((kind, id, group)).or_default() += r.spend;
                }
                if kind == "end_user" && !end_users.contains(&id) {
                    end_users.push(id);
                }
                daily.entry((day.clone(), kind, id, group, provider)).or_default().add(r);
            }
        }
        let now = time::to_db(&time::now());
        // End users exist once they have spent (LiteLLM creates them on first use).
        for id in end_users {
            let data = serde_json::json!({"user_id": id, "alias": null, "spend": 0.0, "blocked": false, "budget_id": null,
                "allowed_model_region": null, "default_model": null, "budget_reset_at": null, "created_at": now, "updated_at": now});
            sqlx::query(
                "INSERT INTO tianji_end_users (id, created_at, updated_at, data) VALUES ($1, $2, $2, $3) ON CONFLICT (id) DO NOTHING",
            )
            .bind(id)
            .bind(&now)
            .bind(data.to_string())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(doing()))?;
        }
        for ((table, id), spend) in entity {
            let sql = format!("UPDATE {table} SET spend = spend + $2 WHERE id = $1");
            sqlx::query(AssertSqlSafe(sql)).bind(id).bind(spend).execute(&mut *tx).await.map_err(StoreError::db(doing()))?;
        }
        for ((kind, id, m), spend) in model {
            sqlx::query(
                "INSERT INTO tianji_model_spend (entity_type, entity_id, model, spend) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (entity_type, entity_id, model) DO UPDATE SET spend = tianji_model_spend.spend + excluded.spend",
            )
            .bind(kind)
            .bind(id)
            .bind(m)
            .bind(spend)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(doing()))?;
        }
        for ((day, kind, id, m, provider), t) in daily {
            sqlx::query(
                "INSERT INTO tianji_daily_spend (day, entity_type, entity_id, model, provider, spend, prompt_tokens, completion_tokens, api_requests, successful_requests, failed_requests) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (day, entity_type, entity_id, model, provider) DO UPDATE SET \
                 spend = tianji_daily_spend.spend + excluded.spend, \
                 prompt_tokens = tianji_daily_spend.prompt_tokens + excluded.prompt_tokens, \
                 completion_tokens = tianji_daily_spend.completion_tokens + excluded.completion_tokens, \
                 api_requests = tianji_daily_spend.api_requests + excluded.api_requests, \
                 successful_requests = tianji_daily_spend.successful_requests + excluded.successful_requests, \
                 failed_requests = tianji_daily_spend.failed_requests + excluded.failed_requests",
            )
            .bind(day)
            .bind(kind)
            .bind(id)
            .bind(m)
            .bind(provider)
            .bind(t.spend)
            .bind(t.prompt)
            .bind(t.completion)
            .bind(t.requests)
            .bind(t.ok)
            .bind(t.failed)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(doing()))?;
        }
        tx.commit().await.map_err(StoreError::db(doing()))?;
        Ok(new.len())
    }

    /// One multi-row INSERT of `chunk`, skipping rows already stored;
    /// `returning` asks for the ids of the rows it inserted. Statements of
    /// the full chunk size are kept prepared; odd-sized tails are not (each
    /// size is a different statement, and they would fill the cache).
    fn insert_rows<'q>(&self, chunk: &'q [SpendRow], returning: bool) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
        let mut sql = String::with_capacity(100 + chunk.len() * 21 * 6);
        sql.push_str("INSERT INTO tianji_spend_logs (");
        sql.push_str(COLUMNS);
        sql.push_str(") VALUES ");
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for c in 0..21 {
                if c > 0 {
                    sql.push_str(", ");
                }
                // SQLite looks parameter names up by a linear scan, so
                // 10 000 `$N` names cost quadratic time: use anonymous `?`.
                match self.backend {
                    crate::Backend::Sqlite => sql.push('?'),
                    crate::Backend::Postgres => {
                        sql.push('$');
                        sql.push_str(&(i * 21 + c + 1).to_string());
                    }
                }
            }
            sql.push(')');
        }
        sql.push_str(" ON CONFLICT (request_id) DO NOTHING");
        if returning {
            sql.push_str(" RETURNING request_id");
        }
        let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(chunk.len() == rows_per_statement(self.backend));
        for r in chunk {
            q = q
                .bind(&r.request_id)
                .bind(&r.call_type)
                .bind(&r.api_key)
                .bind(r.spend)
                .bind(r.total_tokens)
                .bind(r.prompt_tokens)
                .bind(r.completion_tokens)
                .bind(time::to_db(&r.start_time))
                .bind(time::to_db(&r.end_time))
                .bind(&r.model)
                .bind(&r.model_id)
                .bind(&r.model_group)
                .bind(&r.custom_llm_provider)
                .bind(&r.api_base)
                .bind(&r.user)
                .bind(&r.team_id)
                .bind(&r.organization_id)
                .bind(&r.end_user)
                .bind(&r.status)
                .bind(serde_json::to_string(&r.request_tags).unwrap_or_else(|_| "[]".into()))
                .bind(serde_json::to_string(&r.metadata).unwrap_or_else(|_| "{}".into()));
        }
        q
    }

    /// Spend log rows matching a query, newest first.
    pub async fn spend_logs(&self, q: &SpendQuery) -> Result<Vec<SpendRow>, StoreError> {
        let mut sql = format!("SELECT {COLUMNS} FROM tianji_spend_logs");
        let mut conds = Vec::new();
        let mut binds: Vec<String> = Vec::new();
        for (col, v) in [("api_key", &q.api_key), ("user_id", &q.user_id), ("team_id", &q.team_id), ("request_id", &q.request_id)] {
            if let Some(v) = v {
                binds.push(v.clone());
                conds.push(format!("{col} = ${}", binds.len()));
            }
        }
        if let Some(s) = &q.start {
            binds.push(time::to_db(s));
            conds.push(format!("start_time >= ${}", binds.len()));
        }
        if let Some(e) = &q.end {
            binds.push(time::to_db(e));
            conds.push(format!("start_time < ${}", binds.len()));
        }
        if !conds.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conds.join(" AND "));
        }
        sql.push_str(&format!(" ORDER BY start_time DESC LIMIT {}", q.limit.max(1)));
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for b in &binds {
            query = query.bind(b);
        }
        let rows = query.fetch_all(&self.pool).await.map_err(StoreError::db("reading spend logs"))?;
        rows.iter().map(decode_spend).collect::<Result<_, _>>().map_err(StoreError::db("reading spend logs"))
    }

    /// Daily aggregates of one entity type between two days (inclusive), optionally one entity.
    pub async fn daily_spend(
        &self,
        entity_type: &str,
        entity_id: Option<&str>,
        from_day: &str,
        to_day: &str,
    ) -> Result<Vec<DailyRow>, StoreError> {
        let mut sql = "SELECT day, entity_type, entity_id, model, provider, spend, prompt_tokens, completion_tokens, api_requests, successful_requests, failed_requests \
                       FROM tianji_daily_spend WHERE entity_type = $1 AND day >= $2 AND day <= $3"
            .to_owned();
        if entity_id.is_some() {
            sql.push_str(" AND entity_id = $4");
        }
        sql.push_str(" ORDER BY day, entity_id, model");
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(entity_type).bind(from_day).bind(to_day);
        if let Some(id) = entity_id {
            q = q.bind(id);
        }
        let rows = q.fetch_all(&self.pool).await.map_err(StoreError::db("reading daily spend"))?;
        rows.iter()
            .map(|r| {
                Ok(DailyRow {
                    day: r.try_get("day")?,
                    entity_type: r.try_get("entity_type")?,
                    entity_id: r.try_get("entity_id")?,
                    model: r.try_get("model")?,
                    provider: r.try_get("provider")?,
                    spend: r.try_get("spend")?,
                    prompt_tokens: r.try_get("prompt_tokens")?,
                    completion_tokens: r.try_get("completion_tokens")?,
                    api_requests: r.try_get("api_requests")?,
                    successful_requests: r.try_get("successful_requests")?,
                    failed_requests: r.try_get("failed_requests")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::db("reading daily spend"))
    }

    /// How many spend rows are stored (tests and benchmarks).
    pub async fn count_spend_logs(&self) -> Result<i64, StoreError> {
        sqlx::query("SELECT COUNT(*) AS n FROM tianji_spend_logs")
            .fetch_one(&self.pool)
            .await
            .and_then(|r| r.try_get("n"))
            .map_err(StoreError::db("counting spend logs"))
    }
}

fn decode_spend(r: &sqlx::any::AnyRow) -> Result<SpendRow, sqlx::Error> {
    let ts = |col: &str| -> Result<Timestamp, sqlx::Error> {
        let s: String = r.try_get(col)?;
        time::from_db(&s).ok_or_else(|| sqlx::Error::Decode(format!("{col}: '{s}' is not a timestamp").into()))
    };
    let tags: String = r.try_get("request_tags")?;
    let metadata: String = r.try_get("metadata")?;
    Ok(SpendRow {
        request_id: r.try_get("request_id")?,
        call_type: r.try_get("call_type")?,
        api_key: r.try_get("api_key")?,
        spend: r.try_get("spend")?,
        total_tokens: r.try_get("total_tokens")?,
        prompt_tokens: r.try_get("prompt_tokens")?,
        completion_tokens: r.try_get("completion_tokens")?,
        start_time: ts("start_time")?,
        end_time: ts("end_time")?,
        model: r.try_get("model")?,
        model_id: r.try_get("model_id")?,
        model_group: r.try_get("model_group")?,
        custom_llm_provider: r.try_get("custom_llm_provider")?,
        api_base: r.try_get("api_base")?,
        user: r.try_get("user_id")?,
        team_id: r.try_get("team_id")?,
        organization_id: r.try_get("organization_id")?,
        end_user: r.try_get("end_user")?,
        status: r.try_get("status")?,
        request_tags: serde_json::from_str(&tags).unwrap_or_default(),
        metadata: serde_json::from_str(&metadata).unwrap_or(Value::Null),
    })
}
