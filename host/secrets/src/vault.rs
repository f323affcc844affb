//! HashiCorp Vault (and OpenBao, which speaks its API) through `vaultrs`.
//!
//! Secrets are read as LiteLLM stores them: KV v2 at
//! `{mount}/data/{path_prefix}/{name}`, the value under the field `key`
//! (callers see the value only, never Vault's `data.data` wrapping).
//! Settings come from LiteLLM's variables: `HCP_VAULT_ADDR` (default
//! `http://127.0.0.1:8200`), `HCP_VAULT_TOKEN`, `HCP_VAULT_NAMESPACE`,
//! `HCP_VAULT_MOUNT_NAME` (default `secret`), `HCP_VAULT_PATH_PREFIX`, and
//! for AppRole `HCP_VAULT_APPROLE_ROLE_ID`, `HCP_VAULT_APPROLE_SECRET_ID`,
//! `HCP_VAULT_APPROLE_MOUNT_PATH` (default `approle`).
//!
//! Tokens are kept alive: a renewable token is renewed (`renew-self`) once
//! two thirds of its TTL have passed; an AppRole token whose lease is two
//! thirds through is replaced by a new login.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::Value;
use tianji_core::config::Env;
use tianji_core::traits::{SecretError, SecretManager};
use tokio::sync::RwLock;
use vaultrs::client::{Client, VaultClient, VaultClientSettingsBuilder};
use vaultrs::error::ClientError;

const NAME: &str = "hashicorp_vault";

/// The field LiteLLM stores a secret's value under.
pub const VALUE_FIELD: &str = "key";

fn err(message: impl Into<String>) -> SecretError {
    SecretError::new(NAME, message)
}

/// How the manager authenticates.
enum Auth {
    Token,
    AppRole { mount: String, role_id: String, secret_id: String },
}

struct Session {
    client: VaultClient,
    /// When to renew or log in again; `None` for tokens that never expire.
    renew_at: Option<Instant>,
}

/// A Vault KV v2 reader.
pub struct Vault {
    address: String,
    mount: String,
    prefix: Option<String>,
    namespace: Option<String>,
    token: Option<String>,
    auth: Auth,
    session: RwLock<Option<Session>>,
}

fn describe(e: &ClientError) -> String {
    match e {
        ClientError::APIError { code, errors } if errors.is_empty() => format!("Vault answered {code}"),
        ClientError::APIError { code, errors } => format!("Vault answered {code}: {}", errors.join("; ")),
        ClientError::RestClientError { source } => match source {
            rustify::errors::ClientError::ServerResponseError { code, .. } => format!("Vault answered {code}"),
            other => {
                format!("cannot reach Vault: {other}: {}", std::error::Error::source(other).map(|s| s.to_string()).unwrap_or_default())
            }
        },
        other => other.to_string(),
    }
}

fn not_found(e: &ClientError) -> bool {
    match e {
        ClientError::APIError { code: 404, .. } => true,
        // A soft-deleted version: 404 with metadata but no `errors`.
        ClientError::RestClientError { source: rustify::errors::ClientError::ServerResponseError { code: 404, .. } } => true,
        _ => false,
    }
}

/// Two thirds of a lease, from now.
fn renewal(lease_secs: u64) -> Option<Instant> {
    (lease_secs > 0).then(|| Instant::now() + Duration::from_secs(lease_secs) * 2 / 3)
}

impl Vault {
    /// Reads LiteLLM's `HCP_VAULT_*` settings from `env`.
    pub fn from_env(env: &Env) -> Result<Self, SecretError> {
        let address = env.get("HCP_VAULT_ADDR").unwrap_or_else(|| "http://127.0.0.1:8200".to_owned());
        reqwest::Url::parse(&address).map_err(|e| err(format!("HCP_VAULT_ADDR is not a URL ({address}): {e}")))?;
        let auth = match (env.get("HCP_VAULT_APPROLE_ROLE_ID"), env.get("HCP_VAULT_APPROLE_SECRET_ID")) {
            (Some(role_id), Some(secret_id)) => {
                Auth::AppRole { mount: env.get("HCP_VAULT_APPROLE_MOUNT_PATH").unwrap_or_else(|| "approle".to_owned()), role_id, secret_id }
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(err("AppRole needs both HCP_VAULT_APPROLE_ROLE_ID and HCP_VAULT_APPROLE_SECRET_ID"));
            }
            (None, None) => Auth::Token,
        };
        let token = env.get("HCP_VAULT_TOKEN");
        if matches!(auth, Auth::Token) && token.is_none() {
            return Err(err("set HCP_VAULT_TOKEN, or HCP_VAULT_APPROLE_ROLE_ID and HCP_VAULT_APPROLE_SECRET_ID"));
        }
        if env.get("HCP_VAULT_CLIENT_CERT").is_some() {
            return Err(err("TLS certificate auth (HCP_VAULT_CLIENT_CERT) is not supported yet; use a token or AppRole"));
        }
        let trim = |s: String| s.trim_matches('/').to_owned();
        Ok(Self {
            address,
            mount: env.get("HCP_VAULT_MOUNT_NAME").map_or_else(|| "secret".to_owned(), trim),
            prefix: env.get("HCP_VAULT_PATH_PREFIX").map(trim).filter(|p| !p.is_empty()),
            namespace: env.get("HCP_VAULT_NAMESPACE").filter(|n| !n.is_empty()),
            token,
            auth,
            session: RwLock::new(None),
        })
    }

    fn client(&self, token: &str) -> Result<VaultClient, SecretError> {
        let mut b = VaultClientSettingsBuilder::default();
        b.address(&self.address).token(token).timeout(Some(Duration::from_secs(10)));
        if let Some(ns) = &self.namespace {
            b.set_namespace(ns.clone());
        }
        let mut settings = b.build().map_err(|e| err(format!("invalid Vault settings: {e}")))?;
        // Only what Tianji was told: none of the VAULT_* defaults vaultrs reads.
        settings.ca_certs.clear();
        settings.identity = None;
        settings.verify = true;
        VaultClient::new(settings).map_err(|e| err(describe(&e)))
    }

    /// Logs in (AppRole) or checks the token, and schedules its renewal.
    async fn open(&self) -> Result<Session, SecretError> {
        match &self.auth {
            Auth::AppRole { mount, role_id, secret_id } => {
                let mut client = self.client("")?;
                let info = vaultrs::auth::approle::login(&client, mount, role_id, secret_id)
                    .await
                    .map_err(|e| err(format!("AppRole login failed: {}", describe(&e))))?;
                client.set_token(&info.client_token);
                Ok(Session { client, renew_at: renewal(info.lease_duration) })
            }
            Auth::Token => {
                let client = self.client(self.token.as_deref().unwrap_or_default())?;
                let me = vaultrs::token::lookup_self(&client).await.map_err(|e| err(format!("the token was refused: {}", describe(&e))))?;
                let renewable = me.renewable.unwrap_or(false);
                Ok(Session { client, renew_at: if renewable { renewal(me.ttl) } else { None } })
            }
        }
    }

    /// Renews the session's token when due (a new login for AppRole).
    async fn keep_alive(&self) -> Result<(), SecretError> {
        let due = {
            let s = self.session.read().await;
            match &*s {
                None => true,
                Some(s) => s.renew_at.is_some_and(|at| Instant::now() >= at),
            }
        };
        if !due {
            return Ok(());
        }
        let mut slot = self.session.write().await;
        if let (Some(s), Auth::Token) = (slot.as_mut(), &self.auth)
            && s.renew_at.is_some()
        {
            match vaultrs::token::renew_self(&s.client, None).await {
                Ok(info) => {
                    tracing::debug!(lease_secs = info.lease_duration, "Vault token renewed");
                    s.renew_at = renewal(info.lease_duration);
                    return Ok(());
                }
                Err(e) => tracing::warn!("Vault token renewal failed ({}); checking the token again", describe(&e)),
            }
        }
        *slot = Some(self.open().await?);
        Ok(())
    }

    fn path_of(&self, name: &str) -> String {
        match &self.prefix {
            Some(p) => format!("{p}/{name}"),
            None => name.to_owned(),
        }
    }
}

#[async_trait]
impl SecretManager for Vault {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn get_secret(&self, name: &str) -> Result<Option<String>, SecretError> {
        if name.split('/').any(|seg| seg == "..") || name.chars().any(char::is_control) {
            return Err(err(format!("'{name}' is not a valid secret name")));
        }
        self.keep_alive().await?;
        let session = self.session.read().await;
        let Some(s) = &*session else { return Err(err("no Vault session")) };
        let path = self.path_of(name);
        match vaultrs::kv2::read::<HashMap<String, Value>>(&s.client, &self.mount, &path).await {
            Ok(fields) => match fields.get(VALUE_FIELD) {
                Some(Value::String(v)) => Ok(Some(v.clone())),
                Some(other) => Ok(Some(other.to_string())),
                None => {
                    let mut names: Vec<&str> = fields.keys().map(String::as_str).collect();
                    names.sort_unstable();
                    Err(err(format!("{}/data/{path} has no field '{VALUE_FIELD}' (fields: {})", self.mount, names.join(", "))))
                }
            },
            Err(e) if not_found(&e) => Ok(None),
            // A deleted version answers 200 with `data: null`.
            Err(ClientError::JsonParseError { .. } | ClientError::ResponseDataEmptyError) => Ok(None),
            Err(e) => Err(err(format!("reading {}/data/{path}: {}", self.mount, describe(&e)))),
        }
    }

    async fn health(&self) -> Result<(), SecretError> {
        self.keep_alive().await?;
        let session = self.session.read().await;
        let Some(s) = &*session else { return Err(err("no Vault session")) };
        vaultrs::token::lookup_self(&s.client).await.map(|_| ()).map_err(|e| err(describe(&e)))
    }
}
