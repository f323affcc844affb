//! Managed entities (keys, teams, users, organizations, end users, budgets):
//! one generic set of operations over tables of the same shape — the record
//! as JSON in `data`, plus the columns the gateway filters on (`alias`,
//! `user_id`, `team_id`, `organization_id`) and those it updates atomically
//! (`spend`, `blocked`, `budget_reset_at`).

use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::{AssertSqlSafe, Row};

use crate::time::{self, Timestamp};
use crate::{Store, StoreError};

/// What the generic operations need from a record type.
pub trait Entity: Serialize + DeserializeOwned + Send + Sync + Unpin + 'static {
    /// Its table.
    const TABLE: &'static str;
    /// Its name in messages (`key`, `team`, ...).
    const KIND: &'static str;
    /// The indexed columns, taken from the record.
    fn columns(&self) -> Columns;
    /// Puts the atomically updated columns back into a record read from `data`.
    fn restore(&mut self, spend: f64, blocked: bool, budget_reset_at: Option<Timestamp>);
}

/// The indexed columns of a record.
#[derive(Debug, Clone, Default)]
pub struct Columns {
    /// Primary key.
    pub id: String,
    /// A unique name, where the entity has one.
    pub alias: Option<String>,
    /// Owning user.
    pub user_id: Option<String>,
    /// Owning team.
    pub team_id: Option<String>,
    /// Owning organization.
    pub organization_id: Option<String>,
    /// Refused on the request path.
    pub blocked: bool,
    /// Current spend, USD.
    pub spend: f64,
    /// When the budget window resets.
    pub budget_reset_at: Option<Timestamp>,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
}

/// Filters for listing; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only these ids.
    pub ids: Option<Vec<String>>,
    /// Exact alias.
    pub alias: Option<String>,
    /// Owning user.
    pub user_id: Option<String>,
    /// Owning team.
    pub team_id: Option<String>,
    /// Owning organization.
    pub organization_id: Option<String>,
}

/// One page of a listing.
#[derive(Debug, Clone)]
pub struct Page<E> {
    /// The records, oldest first.
    pub items: Vec<E>,
    /// How many match the filter in all.
    pub total: i64,
}

const SELECT: &str = "SELECT data, spend, blocked, budget_reset_at FROM ";

fn decode<E: Entity>(row: &sqlx::any::AnyRow) -> Result<E, StoreError> {
    let data: String = row.try_get("data").map_err(StoreError::db(format!("reading a {}", E::KIND)))?;
    let spend: f64 = row.try_get("spend").map_err(StoreError::db(format!("reading a {}", E::KIND)))?;
    let blocked: i64 = row.try_get("blocked").map_err(StoreError::db(format!("reading a {}", E::KIND)))?;
    let reset: Option<String> = row.try_get("budget_reset_at").map_err(StoreError::db(format!("reading a {}", E::KIND)))?;
    let mut e: E = serde_json::from_str(&data).map_err(|err| StoreError::Corrupt {
        entity: E::KIND,
        id: data.chars().take(80).collect(),
        message: err.to_string(),
    })?;
    e.restore(spend, blocked != 0, reset.as_deref().and_then(time::from_db));
    Ok(e)
}

fn json<E: Entity>(e: &E, id: &str) -> Result<String, StoreError> {
    serde_json::to_string(e).map_err(|err| StoreError::Corrupt { entity: E::KIND, id: id.to_owned(), message: err.to_string() })
}

/// Appends `WHERE ...` for a filter, numbering parameters from `next`.
fn where_clause(filter: &Filter, sql: &mut String, binds: &mut Vec<String>) {
    let mut conds: Vec<String> = Vec::new();
    let mut eq = |col: &str, v: &Option<String>, binds: &mut Vec<String>| {
        if let Some(v) = v {
            binds.push(v.clone());
            conds.push(format!("{col} = ${}", binds.len()));
        }
    };
    eq("alias", &filter.alias, binds);
    eq("user_id", &filter.user_id, binds);
    eq("team_id", &filter.team_id, binds);
    eq("organization_id", &filter.organization_id, binds);
    if let Some(ids) = &filter.ids {
        if ids.is_empty() {
            conds.push("1 = 0".into());
        } else {
            let mut ph = Vec::with_capacity(ids.len());
            for id in ids {
                binds.push(id.clone());
                ph.push(format!("${}", binds.len()));
            }
            conds.push(format!("id IN ({})", ph.join(", ")));
        }
    }
    if !conds.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conds.join(" AND "));
    }
}

impl Store {
    /// Adds a record; a taken id or alias is a [`StoreError::Conflict`].
    pub async fn insert<E: Entity>(&self, e: &E) -> Result<(), StoreError> {
        let c = e.columns();
        let data = json(e, &c.id)?;
        let sql = format!(
            "INSERT INTO {} (id, alias, user_id, team_id, organization_id, blocked, spend, budget_reset_at, created_at, updated_at, data) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            E::TABLE
        );
        let r = sqlx::query(AssertSqlSafe(sql))
            .bind(&c.id)
            .bind(&c.alias)
            .bind(&c.user_id)
            .bind(&c.team_id)
            .bind(&c.organization_id)
            .bind(i64::from(c.blocked))
            .bind(c.spend)
            .bind(c.budget_reset_at.as_ref().map(time::to_db))
            .bind(time::to_db(&c.created_at))
            .bind(time::to_db(&c.updated_at))
            .bind(data)
            .execute(&self.pool)
            .await
            .map_err(StoreError::db(format!("creating {} {}", E::KIND, c.id)));
        match r {
            Ok(_) => Ok(()),
            Err(e) if e.is_unique_violation() => Err(StoreError::Conflict(match &c.alias {
                Some(alias) => format!("a {} with id {} or alias '{alias}' already exists", E::KIND, c.id),
                None => format!("a {} with id {} already exists", E::KIND, c.id),
            })),
            Err(e) => Err(e),
        }
    }

    /// One record by id.
    pub async fn get<E: Entity>(&self, id: &str) -> Result<Option<E>, StoreError> {
        let sql = format!("{SELECT}{} WHERE id = $1", E::TABLE);
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::db(format!("reading {} {id}", E::KIND)))?;
        row.as_ref().map(decode).transpose()
    }

    /// One record by id, or [`StoreError::NotFound`].
    pub async fn require<E: Entity>(&self, id: &str) -> Result<E, StoreError> {
        self.get(id).await?.ok_or_else(|| StoreError::NotFound { entity: E::KIND, id: id.to_owned() })
    }

    /// Replaces a record (everything but its spend, which only batches and
    /// [`Store::set_spend`] change).
    pub async fn update<E: Entity>(&self, e: &E) -> Result<(), StoreError> {
        let c = e.columns();
        let data = json(e, &c.id)?;
        let sql = format!(
            "UPDATE {} SET alias = $2, user_id = $3, team_id = $4, organization_id = $5, blocked = $6, budget_reset_at = $7, updated_at = $8, data = $9 WHERE id = $1",
            E::TABLE
        );
        let r = sqlx::query(AssertSqlSafe(sql))
            .bind(&c.id)
            .bind(&c.alias)
            .bind(&c.user_id)
            .bind(&c.team_id)
            .bind(&c.organization_id)
            .bind(i64::from(c.blocked))
            .bind(c.budget_reset_at.as_ref().map(time::to_db))
            .bind(time::to_db(&c.updated_at))
            .bind(data)
            .execute(&self.pool)
            .await
            .map_err(StoreError::db(format!("updating {} {}", E::KIND, c.id)));
        match r {
            Ok(done) if done.rows_affected() == 0 => Err(StoreError::NotFound { entity: E::KIND, id: c.id }),
            Ok(_) => Ok(()),
            Err(e) if e.is_unique_violation() => {
                Err(StoreError::Conflict(format!("a {} with alias '{}' already exists", E::KIND, c.alias.unwrap_or_default())))
            }
            Err(e) => Err(e),
        }
    }

    /// Sets a record's spend (an admin correcting it).
    pub async fn set_spend<E: Entity>(&self, id: &str, spend: f64) -> Result<(), StoreError> {
        let sql = format!("UPDATE {} SET spend = $2 WHERE id = $1", E::TABLE);
        sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .bind(spend)
            .execute(&self.pool)
            .await
            .map_err(StoreError::db(format!("setting spend of {} {id}", E::KIND)))?;
        Ok(())
    }

    /// Deletes records by id; returns the ids that existed.
    pub async fn delete<E: Entity>(&self, ids: &[String]) -> Result<Vec<String>, StoreError> {
        let mut deleted = Vec::with_capacity(ids.len());
        let mut tx = self.pool.begin().await.map_err(StoreError::db(format!("deleting {}s", E::KIND)))?;
        let sql: std::sync::Arc<str> = format!("DELETE FROM {} WHERE id = $1", E::TABLE).into();
        for id in ids {
            let done = sqlx::query(AssertSqlSafe(sql.clone()))
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db(format!("deleting {} {id}", E::KIND)))?;
            if done.rows_affected() > 0 {
                deleted.push(id.clone());
            }
        }
        tx.commit().await.map_err(StoreError::db(format!("deleting {}s", E::KIND)))?;
        Ok(deleted)
    }

    /// Records matching a filter, oldest first, `limit` from `offset`.
    pub async fn list<E: Entity>(&self, filter: &Filter, offset: i64, limit: i64) -> Result<Page<E>, StoreError> {
        let mut binds = Vec::new();
        let mut cond = String::new();
        where_clause(filter, &mut cond, &mut binds);
        let count_sql = format!("SELECT COUNT(*) AS n FROM {}{cond}", E::TABLE);
        let mut q = sqlx::query(AssertSqlSafe(count_sql));
        for b in &binds {
            q = q.bind(b);
        }
        let total: i64 =
            q.fetch_one(&self.pool).await.and_then(|r| r.try_get("n")).map_err(StoreError::db(format!("counting {}s", E::KIND)))?;
        let sql = format!("{SELECT}{}{cond} ORDER BY created_at, id LIMIT {} OFFSET {}", E::TABLE, limit.max(0), offset.max(0));
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for b in &binds {
            q = q.bind(b);
        }
        let rows = q.fetch_all(&self.pool).await.map_err(StoreError::db(format!("listing {}s", E::KIND)))?;
        let items = rows.iter().map(decode).collect::<Result<Vec<E>, _>>()?;
        Ok(Page { items, total })
    }

    /// Records whose budget window has ended by `now`.
    pub async fn due_for_reset<E: Entity>(&self, now: &Timestamp) -> Result<Vec<E>, StoreError> {
        let sql = format!("{SELECT}{} WHERE budget_reset_at IS NOT NULL AND budget_reset_at <= $1", E::TABLE);
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(time::to_db(now))
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::db(format!("finding {}s due for a budget reset", E::KIND)))?;
        rows.iter().map(decode).collect()
    }

    /// Starts a new budget window: spend back to zero (per-model spend
    /// too), next reset at `next`. Only if the window is still the one read
    /// as `current` (another instance may have reset it already); returns
    /// whether this call did it.
    pub async fn reset_budget<E: Entity>(&self, id: &str, current: &Timestamp, next: &Timestamp) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await.map_err(StoreError::db(format!("resetting the budget of {} {id}", E::KIND)))?;
        let sql = format!("UPDATE {} SET spend = 0, budget_reset_at = $3 WHERE id = $1 AND budget_reset_at = $2", E::TABLE);
        let done = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .bind(time::to_db(current))
            .bind(time::to_db(next))
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(format!("resetting the budget of {} {id}", E::KIND)))?;
        if done.rows_affected() > 0 {
            sqlx::query("DELETE FROM tianji_model_spend WHERE entity_type = $1 AND entity_id = $2")
                .bind(E::KIND)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db(format!("resetting the model spend of {} {id}", E::KIND)))?;
        }
        tx.commit().await.map_err(StoreError::db(format!("resetting the budget of {} {id}", E::KIND)))?;
        Ok(done.rows_affected() > 0)
    }

    /// Spend per model of one entity (per-model budgets).
    pub async fn model_spend(&self, kind: &str, id: &str) -> Result<Vec<(String, f64)>, StoreError> {
        let rows = sqlx::query("SELECT model, spend FROM tianji_model_spend WHERE entity_type = $1 AND entity_id = $2")
            .bind(kind)
            .bind(id)
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::db(format!("reading the model spend of {kind} {id}")))?;
        rows.iter()
            .map(|r| Ok((r.try_get("model")?, r.try_get("spend")?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(StoreError::db(format!("reading the model spend of {kind} {id}")))
    }
}
