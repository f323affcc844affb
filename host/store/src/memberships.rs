//! Memberships: a user's role in an organization (or a team), with an
//! optional budget for that user within it.

use sqlx::Row;

use crate::records::Membership;
use crate::time;
use crate::{Store, StoreError};

fn decode(r: &sqlx::any::AnyRow) -> Result<Membership, sqlx::Error> {
    Ok(Membership {
        scope: r.try_get("scope")?,
        scope_id: r.try_get("scope_id")?,
        user_id: r.try_get("user_id")?,
        role: r.try_get("role")?,
        budget_id: r.try_get("budget_id")?,
        spend: r.try_get("spend")?,
    })
}

impl Store {
    /// Adds a membership; an existing one for the same user is a [`StoreError::Conflict`].
    pub async fn add_membership(&self, m: &Membership) -> Result<(), StoreError> {
        let now = time::to_db(&time::now());
        let r = sqlx::query(
            "INSERT INTO tianji_memberships (scope, scope_id, user_id, role, budget_id, spend, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(&m.scope)
        .bind(&m.scope_id)
        .bind(&m.user_id)
        .bind(&m.role)
        .bind(&m.budget_id)
        .bind(m.spend)
        .bind(now)
        .execute(self.pool())
        .await
        .map_err(StoreError::db(format!("adding {} to {} {}", m.user_id, m.scope, m.scope_id)));
        match r {
            Err(e) if e.is_unique_violation() => {
                Err(StoreError::Conflict(format!("user {} is already a member of {} {}", m.user_id, m.scope, m.scope_id)))
            }
            other => other.map(|_| ()),
        }
    }

    /// Changes a member's role (and budget); [`StoreError::NotFound`] if not a member.
    pub async fn update_membership(&self, m: &Membership) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE tianji_memberships SET role = $4, budget_id = $5, updated_at = $6 WHERE scope = $1 AND scope_id = $2 AND user_id = $3",
        )
        .bind(&m.scope)
        .bind(&m.scope_id)
        .bind(&m.user_id)
        .bind(&m.role)
        .bind(&m.budget_id)
        .bind(time::to_db(&time::now()))
        .execute(self.pool())
        .await
        .map_err(StoreError::db(format!("updating {} in {} {}", m.user_id, m.scope, m.scope_id)))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound { entity: "membership", id: format!("{} in {} {}", m.user_id, m.scope, m.scope_id) });
        }
        Ok(())
    }

    /// Removes a member; returns whether they were one.
    pub async fn remove_membership(&self, scope: &str, scope_id: &str, user_id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM tianji_memberships WHERE scope = $1 AND scope_id = $2 AND user_id = $3")
            .bind(scope)
            .bind(scope_id)
            .bind(user_id)
            .execute(self.pool())
            .await
            .map_err(StoreError::db(format!("removing {user_id} from {scope} {scope_id}")))?;
        Ok(done.rows_affected() > 0)
    }

    /// The members of an organization or team.
    pub async fn memberships(&self, scope: &str, scope_id: &str) -> Result<Vec<Membership>, StoreError> {
        let rows = sqlx::query("SELECT scope, scope_id, user_id, role, budget_id, spend FROM tianji_memberships WHERE scope = $1 AND scope_id = $2 ORDER BY created_at, user_id")
            .bind(scope)
            .bind(scope_id)
            .fetch_all(self.pool())
            .await
            .map_err(StoreError::db(format!("listing members of {scope} {scope_id}")))?;
        rows.iter().map(decode).collect::<Result<_, _>>().map_err(StoreError::db(format!("reading members of {scope} {scope_id}")))
    }

    /// Removes every membership of an organization or team (when it is deleted).
    pub async fn clear_memberships(&self, scope: &str, scope_id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM tianji_memberships WHERE scope = $1 AND scope_id = $2")
            .bind(scope)
            .bind(scope_id)
            .execute(self.pool())
            .await
            .map_err(StoreError::db(format!("removing the members of {scope} {scope_id}")))?;
        Ok(())
    }
}
