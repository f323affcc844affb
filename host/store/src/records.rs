//! The managed records, with LiteLLM's field names (they are what the
//! management API returns, so scripts written for LiteLLM read them as is).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::entity::{Columns, Entity};
use crate::time::Timestamp;

/// A virtual key. Its `token` is the SHA-256 of the key; the key itself is
/// shown once, when generated, and never stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct KeyRecord {
    /// SHA-256 of the key, hex (the primary key).
    pub token: String,
    /// `sk-...abcd`.
    pub key_name: String,
    /// Unique human name.
    pub key_alias: Option<String>,
    /// Spend in the current budget window, USD.
    #[serde(default)]
    pub spend: f64,
    /// Budget, USD.
    pub max_budget: Option<f64>,
    /// Spend at which alerts fire; requests still pass.
    pub soft_budget: Option<f64>,
    /// When the key stops working.
    pub expires: Option<Timestamp>,
    /// Model groups (or access groups) the key may call; empty means all.
    #[serde(default)]
    pub models: Vec<String>,
    /// Model name aliases for this key.
    #[serde(default)]
    pub aliases: Map<String, Value>,
    /// Free-form config.
    #[serde(default)]
    pub config: Map<String, Value>,
    /// Owning user.
    pub user_id: Option<String>,
    /// Owning team.
    pub team_id: Option<String>,
    /// Owning organization.
    pub organization_id: Option<String>,
    /// A shared budget (`/budget/new`) the key draws on.
    pub budget_id: Option<String>,
    /// Free-form permissions.
    #[serde(default)]
    pub permissions: Map<String, Value>,
    /// Concurrent requests allowed.
    pub max_parallel_requests: Option<i64>,
    /// Tokens per minute.
    pub tpm_limit: Option<i64>,
    /// Requests per minute.
    pub rpm_limit: Option<i64>,
    /// Free-form metadata.
    #[serde(default)]
    pub metadata: Map<String, Value>,
    /// Refused on the request path while true.
    pub blocked: Option<bool>,
    /// Budget window (`30d`, `1mo`, ...).
    pub budget_duration: Option<String>,
    /// When the budget window ends.
    pub budget_reset_at: Option<Timestamp>,
    /// Cache controls the key may send.
    #[serde(default)]
    pub allowed_cache_controls: Vec<String>,
    /// Per-model budgets: `{model: {budget_limit, time_period}}`.
    #[serde(default)]
    pub model_max_budget: Map<String, Value>,
    /// Per-model requests per minute.
    #[serde(default)]
    pub model_rpm_limit: Map<String, Value>,
    /// Per-model tokens per minute.
    #[serde(default)]
    pub model_tpm_limit: Map<String, Value>,
    /// Tags added to every request.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Guardrails applied to every request.
    #[serde(default)]
    pub guardrails: Vec<String>,
    /// Created.
    pub created_at: Timestamp,
    /// Who created it.
    pub created_by: Option<String>,
    /// Last changed.
    pub updated_at: Timestamp,
    /// Who changed it last.
    pub updated_by: Option<String>,
}

impl Entity for KeyRecord {
    const TABLE: &'static str = "tianji_keys";
    const KIND: &'static str = "key";
    fn columns(&self) -> Columns {
        Columns {
            id: self.token.clone(),
            alias: self.key_alias.clone(),
            user_id: self.user_id.clone(),
            team_id: self.team_id.clone(),
            organization_id: self.organization_id.clone(),
            blocked: self.blocked.unwrap_or(false),
            spend: self.spend,
            budget_reset_at: self.budget_reset_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
    fn restore(&mut self, spend: f64, blocked: bool, budget_reset_at: Option<Timestamp>) {
        self.spend = spend;
        self.blocked = if blocked { Some(true) } else { self.blocked.map(|_| false) };
        self.budget_reset_at = budget_reset_at;
    }
}

/// A member of a team, with a role (`admin` or `user`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Member {
    /// The user.
    pub user_id: Option<String>,
    /// Their e-mail.
    #[serde(default)]
    pub user_email: Option<String>,
    /// `admin` or `user`.
    pub role: String,
}

/// A team: keys and users grouped under one budget and model list.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TeamRecord {
    /// Id.
    pub team_id: String,
    /// Unique human name.
    pub team_alias: Option<String>,
    /// Owning organization.
    pub organization_id: Option<String>,
    /// Admin user ids.
    #[serde(default)]
    pub admins: Vec<String>,
    /// Member user ids.
    #[serde(default)]
    pub members: Vec<String>,
    /// Members with their roles.
    #[serde(default)]
    pub members_with_roles: Vec<Member>,
    /// Free-form metadata.
    #[serde(default)]
    pub metadata: Map<String, Value>,
    /// Tokens per minute.
    pub tpm_limit: Option<i64>,
    /// Requests per minute.
    pub rpm_limit: Option<i64>,
    /// Concurrent requests.
    pub max_parallel_requests: Option<i64>,
    /// Budget, USD.
    pub max_budget: Option<f64>,
    /// Budget window.
    pub budget_duration: Option<String>,
    /// When the window ends.
    pub budget_reset_at: Option<Timestamp>,
    /// Model groups the team may call; empty means all.
    #[serde(default)]
    pub models: Vec<String>,
    /// Refused on the request path while true.
    #[serde(default)]
    pub blocked: bool,
    /// Spend in the current window.
    #[serde(default)]
    pub spend: f64,
    /// Per-model budgets.
    #[serde(default)]
    pub model_max_budget: Map<String, Value>,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
}

impl Entity for TeamRecord {
    const TABLE: &'static str = "tianji_teams";
    const KIND: &'static str = "team";
    fn columns(&self) -> Columns {
        Columns {
            id: self.team_id.clone(),
            alias: self.team_alias.clone(),
            organization_id: self.organization_id.clone(),
            blocked: self.blocked,
            spend: self.spend,
            budget_reset_at: self.budget_reset_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
            ..Default::default()
        }
    }
    fn restore(&mut self, spend: f64, blocked: bool, budget_reset_at: Option<Timestamp>) {
        (self.spend, self.blocked, self.budget_reset_at) = (spend, blocked, budget_reset_at);
    }
}

/// An internal user (a developer who holds keys).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserRecord {
    /// Id.
    pub user_id: String,
    /// Display name.
    pub user_alias: Option<String>,
    /// E-mail.
    pub user_email: Option<String>,
    /// `proxy_admin`, `proxy_admin_viewer`, `internal_user`, `internal_user_viewer`.
    pub user_role: Option<String>,
    /// Teams the user belongs to.
    #[serde(default)]
    pub teams: Vec<String>,
    /// Owning organization.
    pub organization_id: Option<String>,
    /// Budget, USD.
    pub max_budget: Option<f64>,
    /// Spend in the current window.
    #[serde(default)]
    pub spend: f64,
    /// Model groups the user may call; empty means all.
    #[serde(default)]
    pub models: Vec<String>,
    /// Tokens per minute.
    pub tpm_limit: Option<i64>,
    /// Requests per minute.
    pub rpm_limit: Option<i64>,
    /// Concurrent requests.
    pub max_parallel_requests: Option<i64>,
    /// Budget window.
    pub budget_duration: Option<String>,
    /// When the window ends.
    pub budget_reset_at: Option<Timestamp>,
    /// Per-model budgets.
    #[serde(default)]
    pub model_max_budget: Map<String, Value>,
    /// Free-form metadata.
    #[serde(default)]
    pub metadata: Map<String, Value>,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
}

impl Entity for UserRecord {
    const TABLE: &'static str = "tianji_users";
    const KIND: &'static str = "user";
    fn columns(&self) -> Columns {
        Columns {
            id: self.user_id.clone(),
            organization_id: self.organization_id.clone(),
            spend: self.spend,
            budget_reset_at: self.budget_reset_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
            ..Default::default()
        }
    }
    fn restore(&mut self, spend: f64, _blocked: bool, budget_reset_at: Option<Timestamp>) {
        (self.spend, self.budget_reset_at) = (spend, budget_reset_at);
    }
}

/// An organization: teams and users under one budget.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OrganizationRecord {
    /// Id.
    pub organization_id: String,
    /// Unique human name.
    pub organization_alias: Option<String>,
    /// The budget it draws on.
    pub budget_id: Option<String>,
    /// Model groups its teams may call; empty means all.
    #[serde(default)]
    pub models: Vec<String>,
    /// Spend so far.
    #[serde(default)]
    pub spend: f64,
    /// Free-form metadata.
    #[serde(default)]
    pub metadata: Map<String, Value>,
    /// Created.
    pub created_at: Timestamp,
    /// Who created it.
    pub created_by: Option<String>,
    /// Last changed.
    pub updated_at: Timestamp,
    /// Who changed it last.
    pub updated_by: Option<String>,
}

impl Entity for OrganizationRecord {
    const TABLE: &'static str = "tianji_organizations";
    const KIND: &'static str = "organization";
    fn columns(&self) -> Columns {
        Columns {
            id: self.organization_id.clone(),
            alias: self.organization_alias.clone(),
            spend: self.spend,
            created_at: self.created_at,
            updated_at: self.updated_at,
            ..Default::default()
        }
    }
    fn restore(&mut self, spend: f64, _blocked: bool, _budget_reset_at: Option<Timestamp>) {
        self.spend = spend;
    }
}

/// An end user (a customer): the `user` field of requests.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EndUserRecord {
    /// The `user` value requests carry.
    pub user_id: String,
    /// Display name.
    pub alias: Option<String>,
    /// Spend so far.
    #[serde(default)]
    pub spend: f64,
    /// Refused while true.
    #[serde(default)]
    pub blocked: bool,
    /// The budget it draws on.
    pub budget_id: Option<String>,
    /// Region its requests must stay in.
    pub allowed_model_region: Option<String>,
    /// Model used when a request names none.
    pub default_model: Option<String>,
    /// When the budget window ends.
    pub budget_reset_at: Option<Timestamp>,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
}

impl Entity for EndUserRecord {
    const TABLE: &'static str = "tianji_end_users";
    const KIND: &'static str = "end_user";
    fn columns(&self) -> Columns {
        Columns {
            id: self.user_id.clone(),
            alias: self.alias.clone(),
            blocked: self.blocked,
            spend: self.spend,
            budget_reset_at: self.budget_reset_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
            ..Default::default()
        }
    }
    fn restore(&mut self, spend: f64, blocked: bool, budget_reset_at: Option<Timestamp>) {
        (self.spend, self.blocked, self.budget_reset_at) = (spend, blocked, budget_reset_at);
    }
}

/// A reusable budget, referenced by `budget_id` from keys, end users,
/// organizations and memberships.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BudgetRecord {
    /// Id.
    pub budget_id: String,
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
    /// Per-model budgets.
    #[serde(default)]
    pub model_max_budget: Map<String, Value>,
    /// Window.
    pub budget_duration: Option<String>,
    /// When the window ends.
    pub budget_reset_at: Option<Timestamp>,
    /// Created.
    pub created_at: Timestamp,
    /// Who created it.
    pub created_by: Option<String>,
    /// Last changed.
    pub updated_at: Timestamp,
    /// Who changed it last.
    pub updated_by: Option<String>,
}

impl Entity for BudgetRecord {
    const TABLE: &'static str = "tianji_budgets";
    const KIND: &'static str = "budget";
    fn columns(&self) -> Columns {
        Columns {
            id: self.budget_id.clone(),
            budget_reset_at: self.budget_reset_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
            ..Default::default()
        }
    }
    fn restore(&mut self, _spend: f64, _blocked: bool, budget_reset_at: Option<Timestamp>) {
        self.budget_reset_at = budget_reset_at;
    }
}

/// A user's membership of a team or an organization.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Membership {
    /// `team` or `organization`.
    pub scope: String,
    /// The team or organization id.
    pub scope_id: String,
    /// The user.
    pub user_id: String,
    /// Their role.
    pub role: String,
    /// A budget for this user within the scope.
    pub budget_id: Option<String>,
    /// Spend within the scope.
    pub spend: f64,
}
