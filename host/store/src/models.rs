//! Deployments added through the API (`/model/new`), kept as the JSON of a
//! `model_list` entry and merged with the config's at start-up and on change.

use serde_json::Value;
use sqlx::Row;

use crate::time;
use crate::{Store, StoreError};

/// A stored deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredModel {
    /// Its id (`model_info.id`).
    pub id: String,
    /// Its model group.
    pub model_name: String,
    /// The `model_list` entry: `{model_name, litellm_params, model_info}`.
    pub entry: Value,
}

impl Store {
    /// Adds or replaces a deployment.
    pub async fn put_model(&self, m: &StoredModel) -> Result<(), StoreError> {
        let now = time::to_db(&time::now());
        sqlx::query(
            "INSERT INTO tianji_models (id, model_name, created_at, updated_at, data) VALUES ($1, $2, $3, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET model_name = excluded.model_name, updated_at = excluded.updated_at, data = excluded.data",
        )
        .bind(&m.id)
        .bind(&m.model_name)
        .bind(now)
        .bind(m.entry.to_string())
        .execute(self.pool())
        .await
        .map_err(StoreError::db(format!("saving model {}", m.id)))?;
        Ok(())
    }

    /// Removes a deployment; returns whether it existed.
    pub async fn delete_model(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM tianji_models WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(StoreError::db(format!("deleting model {id}")))?;
        Ok(done.rows_affected() > 0)
    }

    /// Every stored deployment, oldest first.
    pub async fn models(&self) -> Result<Vec<StoredModel>, StoreError> {
        let rows = sqlx::query("SELECT id, model_name, data FROM tianji_models ORDER BY created_at, id")
            .fetch_all(self.pool())
            .await
            .map_err(StoreError::db("reading stored models"))?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("id").map_err(StoreError::db("reading stored models"))?;
                let data: String = r.try_get("data").map_err(StoreError::db("reading stored models"))?;
                let entry = serde_json::from_str(&data).map_err(|e| StoreError::Corrupt {
                    entity: "model",
                    id: id.clone(),
                    message: e.to_string(),
                })?;
                Ok(StoredModel { id, model_name: r.try_get("model_name").map_err(StoreError::db("reading stored models"))?, entry })
            })
            .collect()
    }
}
