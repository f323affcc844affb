-- Tianji's schema, portable between SQLite and PostgreSQL: text ids,
-- timestamps as fixed-width RFC 3339 UTC text (ordered as strings), JSON as
-- text, flags as 0/1 (sqlx's Any driver reads no SQLite booleans), money as
-- double precision (as LiteLLM keeps it).
--
-- Every managed entity has the same shape: the columns the gateway filters,
-- joins or updates atomically, and `data`, the whole record as JSON. Spend,
-- the blocked flag and the next budget reset live in columns, so concurrent
-- writers increment them without reading the record.

CREATE TABLE tianji_keys (
    id TEXT PRIMARY KEY,
    alias TEXT,
    user_id TEXT,
    team_id TEXT,
    organization_id TEXT,
    blocked BIGINT NOT NULL DEFAULT 0,
    spend DOUBLE PRECISION NOT NULL DEFAULT 0,
    budget_reset_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE UNIQUE INDEX tianji_keys_alias ON tianji_keys (alias);
CREATE INDEX tianji_keys_user ON tianji_keys (user_id);
CREATE INDEX tianji_keys_team ON tianji_keys (team_id);

CREATE TABLE tianji_teams (
    id TEXT PRIMARY KEY,
    alias TEXT,
    user_id TEXT,
    team_id TEXT,
    organization_id TEXT,
    blocked BIGINT NOT NULL DEFAULT 0,
    spend DOUBLE PRECISION NOT NULL DEFAULT 0,
    budget_reset_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX tianji_teams_org ON tianji_teams (organization_id);

CREATE TABLE tianji_users (
    id TEXT PRIMARY KEY,
    alias TEXT,
    user_id TEXT,
    team_id TEXT,
    organization_id TEXT,
    blocked BIGINT NOT NULL DEFAULT 0,
    spend DOUBLE PRECISION NOT NULL DEFAULT 0,
    budget_reset_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    data TEXT NOT NULL
);

CREATE TABLE tianji_organizations (
    id TEXT PRIMARY KEY,
    alias TEXT,
    user_id TEXT,
    team_id TEXT,
    organization_id TEXT,
    blocked BIGINT NOT NULL DEFAULT 0,
    spend DOUBLE PRECISION NOT NULL DEFAULT 0,
    budget_reset_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    data TEXT NOT NULL
);

CREATE TABLE tianji_end_users (
    id TEXT PRIMARY KEY,
    alias TEXT,
    user_id TEXT,
    team_id TEXT,
    organization_id TEXT,
    blocked BIGINT NOT NULL DEFAULT 0,
    spend DOUBLE PRECISION NOT NULL DEFAULT 0,
    budget_reset_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    data TEXT NOT NULL
);

CREATE TABLE tianji_budgets (
    id TEXT PRIMARY KEY,
    alias TEXT,
    user_id TEXT,
    team_id TEXT,
    organization_id TEXT,
    blocked BIGINT NOT NULL DEFAULT 0,
    spend DOUBLE PRECISION NOT NULL DEFAULT 0,
    budget_reset_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    data TEXT NOT NULL
);

-- Memberships: a user in a team or an organization, with a role.
CREATE TABLE tianji_memberships (
    scope TEXT NOT NULL,          -- 'team' or 'organization'
    scope_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    role TEXT NOT NULL,
    budget_id TEXT,
    spend DOUBLE PRECISION NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (scope, scope_id, user_id)
);
CREATE INDEX tianji_memberships_user ON tianji_memberships (user_id);

-- One row per answered (or failed) call; request_id makes a retried batch idempotent.
CREATE TABLE tianji_spend_logs (
    request_id TEXT PRIMARY KEY,
    call_type TEXT NOT NULL,
    api_key TEXT NOT NULL,
    spend DOUBLE PRECISION NOT NULL,
    total_tokens BIGINT NOT NULL,
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    start_time TEXT NOT NULL,
    end_time TEXT NOT NULL,
    model TEXT NOT NULL,
    model_id TEXT,
    model_group TEXT,
    custom_llm_provider TEXT,
    api_base TEXT,
    user_id TEXT,
    team_id TEXT,
    organization_id TEXT,
    end_user TEXT,
    status TEXT NOT NULL,
    request_tags TEXT NOT NULL,
    metadata TEXT NOT NULL
);
CREATE INDEX tianji_spend_logs_start ON tianji_spend_logs (start_time);
CREATE INDEX tianji_spend_logs_key ON tianji_spend_logs (api_key, start_time);
CREATE INDEX tianji_spend_logs_user ON tianji_spend_logs (user_id, start_time);

-- Daily totals per entity (key, team, user, organization, end_user, tag) and model.
CREATE TABLE tianji_daily_spend (
    day TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    model TEXT NOT NULL,
    provider TEXT NOT NULL,
    spend DOUBLE PRECISION NOT NULL,
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    api_requests BIGINT NOT NULL,
    successful_requests BIGINT NOT NULL,
    failed_requests BIGINT NOT NULL,
    PRIMARY KEY (day, entity_type, entity_id, model, provider)
);
CREATE INDEX tianji_daily_spend_entity ON tianji_daily_spend (entity_type, entity_id, day);

-- Spend per entity and model, for per-model budgets (reset with the entity's budget window).
CREATE TABLE tianji_model_spend (
    entity_type TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    model TEXT NOT NULL,
    spend DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (entity_type, entity_id, model)
);

-- Deployments added through /model/new, merged with the config's.
CREATE TABLE tianji_models (
    id TEXT PRIMARY KEY,
    model_name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    data TEXT NOT NULL
);
