//! Tianji's database: virtual keys, teams, users, organizations, end users
//! (customers), budgets, memberships, spend logs and daily spend, on SQLite
//! (the embedded default) or PostgreSQL.
//!
//! One code path serves both backends through sqlx's `Any` driver: the
//! schema ([`migrator`]) and every statement are written in the SQL the two
//! share. Managed entities are stored as JSON records plus the columns the
//! gateway filters on or updates atomically ([`entity`]); spend arrives in
//! batches ([`spend`]) that are idempotent per request id, so a batch retried
//! after a lost acknowledgement is never counted twice.
//!
//! Nothing here is on the request path: the server caches what it reads and
//! writes spend from a background task.

pub mod entity;
pub mod memberships;
pub mod models;
pub mod records;
pub mod spend;
#[cfg(feature = "testing")]
pub mod testing;
pub mod time;

use std::time::Duration;

use sqlx::AnyPool;
use sqlx::SqlSafeStr;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::{Migration, MigrationType, Migrator};

pub use entity::{Entity, Filter, Page};
pub use models::StoredModel;
pub use records::{BudgetRecord, EndUserRecord, KeyRecord, Membership, OrganizationRecord, TeamRecord, UserRecord};
pub use spend::{DailyRow, SpendQuery, SpendRow};

/// The schema migrations, embedded in the binary, in order.
const MIGRATIONS: &[(i64, &str, &str)] = &[(1, "init", include_str!("../migrations/0001_init.sql"))];

/// The migrator applied at start-up: idempotent, and on PostgreSQL guarded
/// by an advisory lock so instances starting together apply it once.
pub fn migrator() -> Migrator {
    Migrator::with_migrations(
        MIGRATIONS
            .iter()
            .map(|(version, name, sql)| Migration::new(*version, (*name).into(), MigrationType::Simple, sql.into_sql_str(), false))
            .collect(),
    )
}

/// Errors from the store, with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No row with that id.
    #[error("{entity} not found: {id}")]
    NotFound {
        /// `key`, `team`, ...
        entity: &'static str,
        /// The id asked for.
        id: String,
    },
    /// A unique id or alias is taken.
    #[error("{0}")]
    Conflict(String),
    /// The database refused or could not be reached.
    #[error("database error while {doing}: {source}")]
    Database {
        /// What the store was doing.
        doing: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// Applying the schema failed.
    #[error("applying the database schema failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored record does not decode (written by an incompatible version?).
    #[error("stored {entity} {id} does not decode: {message}")]
    Corrupt {
        /// `key`, `team`, ...
        entity: &'static str,
        /// Its id.
        id: String,
        /// The decoder's complaint.
        message: String,
    },
}

impl StoreError {
    /// Wraps a driver error with what was being done.
    pub fn db(doing: impl Into<String>) -> impl FnOnce(sqlx::Error) -> StoreError {
        let doing = doing.into();
        move |source| StoreError::Database { doing, source }
    }

    /// Whether the database could not be reached (as opposed to refusing a statement).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Database {
                source: sqlx::Error::Io(_)
                    | sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::Tls(_)
                    | sqlx::Error::Protocol(_),
                ..
            }
        )
    }

    /// Whether a unique constraint refused the write.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Database { source: sqlx::Error::Database(e), .. } if e.is_unique_violation())
    }
}

/// Which database is behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file (or memory).
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// How to connect.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Most connections in the pool (PostgreSQL; SQLite files use up to 4).
    pub max_connections: u32,
    /// How long to wait for a connection before giving up.
    pub connect_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self { max_connections: 10, connect_timeout: Duration::from_secs(5) }
    }
}

/// A connected, migrated database.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("backend", &self.backend).finish_non_exhaustive()
    }
}

/// The SQLite URL for a database file (created if missing).
pub fn sqlite_url(path: &std::path::Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

/// Strips the password from a database URL, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..scheme + 3], &creds[..colon], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl Store {
    /// Connects to `url` (`sqlite:...`, `postgres://...` or `postgresql://...`)
    /// and applies the schema.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Store, StoreError> {
        install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::Database {
                doing: format!("opening {}", redact_url(url)),
                source: sqlx::Error::Configuration("database_url must start with sqlite:, postgres:// or postgresql://".into()),
            });
        };
        let memory = backend == Backend::Sqlite && url.contains(":memory:");
        let mut pool = AnyPoolOptions::new().acquire_timeout(options.connect_timeout);
        pool = match (backend, memory) {
            // One connection holds an in-memory database; it must never be closed.
            (Backend::Sqlite, true) => pool.max_connections(1).min_connections(1).idle_timeout(None).max_lifetime(None),
            // SQLite has one writer; one reader beside it is plenty (each
            // connection keeps its own page cache and prepared statements).
            (Backend::Sqlite, false) => pool.max_connections(options.max_connections.clamp(1, 2)),
            (Backend::Postgres, _) => pool.max_connections(options.max_connections.max(1)),
        };
        let pool = pool.connect(url).await.map_err(StoreError::db(format!("connecting to {}", redact_url(url))))?;
        let store = Store { pool, backend };
        migrator().run(&store.pool).await?;
        Ok(store)
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection pool, for statements the store does not offer.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A round trip to the database (readiness checks).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(StoreError::db("pinging the database"))?;
        Ok(())
    }

    /// Closes every connection (shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// SHA-256 of a key, hex: how keys are stored and looked up (never in plain text).
pub fn hash_key(key: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(key.as_bytes()))
}

/// The stored id of a key given as the key itself (`sk-...`) or as its hash
/// (LiteLLM accepts either wherever a key is named).
pub fn token_of(key_or_hash: &str) -> String {
    if key_or_hash.len() == 64 && key_or_hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        key_or_hash.to_ascii_lowercase()
    } else {
        hash_key(key_or_hash)
    }
}
