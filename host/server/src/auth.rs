//! Authentication: with `general_settings.master_key` set, every API route
//! needs a key as `Authorization: Bearer`, `api-key`, `x-api-key` or
//! `x-litellm-api-key` (health and metrics are open, as in LiteLLM): the
//! master key (admin), or a virtual key from `/key/generate`.

use axum::extract::FromRequestParts;
use http::request::Parts;
use std::sync::Arc;

use subtle::ConstantTimeEq;
use tianji_core::GatewayError;

use crate::access::{KeyGrant, Lookup};
use crate::error::ApiError;
use crate::state::AppState;

/// The admin key, compared in constant time (only its length can leak).
pub struct MasterKey {
    key: Box<[u8]>,
}

impl MasterKey {
    /// Keeps the configured key.
    pub fn new(key: &str) -> Self {
        Self { key: key.as_bytes().into() }
    }

    /// Whether `presented` is the key.
    pub fn matches(&self, presented: &str) -> bool {
        bool::from(presented.as_bytes().ct_eq(&self.key))
    }
}

/// The key a client presented, from any header LiteLLM accepts.
pub fn presented_key(parts: &Parts) -> Option<&str> {
    let h = &parts.headers;
    if let Some(v) = h.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let v = v.trim();
        let key = v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")).unwrap_or(v).trim();
        if !key.is_empty() {
            return Some(key);
        }
    }
    ["api-key", "x-api-key", "x-litellm-api-key"]
        .iter()
        .find_map(|name| h.get(*name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|k| !k.is_empty()))
}

/// A caller that passed authentication.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Whether the caller used the master key (admin).
    pub is_admin: bool,
    /// The virtual key used, if any.
    pub key: Option<Arc<KeyGrant>>,
}

impl Caller {
    /// The master key's caller (also every caller when auth is off).
    pub const ADMIN: Caller = Caller { is_admin: true, key: None };
}

/// A caller with admin rights: the master key, or a key of a user whose
/// `user_role` is `proxy_admin`; management routes take this.
#[derive(Debug, Clone)]
pub struct Admin(pub Caller);

/// Whether a caller may use the management API: the master key, or a key of
/// a user whose `user_role` is `proxy_admin` (read through the cache).
pub async fn has_admin_rights(state: &AppState, caller: &Caller) -> bool {
    if caller.is_admin {
        return true;
    }
    let (Some(access), Some(user)) = (&state.access, caller.key.as_ref().and_then(|k| k.key.record.user_id.as_deref())) else {
        return false;
    };
    let role = access.users.get(&access.store, user).await.ok().flatten().and_then(|u| u.record.user_role.clone());
    role.as_deref() == Some("proxy_admin")
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if has_admin_rights(state, &caller).await {
            return Ok(Admin(caller));
        }
        let user = caller.key.as_ref().and_then(|k| k.key.record.user_id.clone()).unwrap_or_default();
        Err(GatewayError::authentication(format!(
            "Only proxy admin can be used to generate, delete, update info for new keys/users/teams. Route={}. Your role=internal_user. Your user_id={user}",
            parts.uri.path()
        ))
        .with_type("auth_error")
        .into())
    }
}

/// `sk-...abcd`, as LiteLLM shows keys in errors.
pub fn abbreviate(key: &str) -> String {
    let tail: String = key.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    format!("sk-...{tail}")
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(master) = &state.master_key else {
            return Ok(Caller::ADMIN);
        };
        let Some(key) = presented_key(parts) else {
            return Err(GatewayError::authentication("Authentication Error, No api key passed in.").into());
        };
        if master.matches(key) {
            return Ok(Caller::ADMIN);
        }
        let invalid = || {
            GatewayError::authentication(format!(
                "Authentication Error, Invalid proxy server token passed. Received API Key = {}, Key Hash (Token) ={}",
                abbreviate(key),
                tianji_store::hash_key(key)
            ))
        };
        match &state.access {
            Some(access) => match access.authenticate(key).await? {
                Lookup::Found(grant) => Ok(Caller { is_admin: false, key: Some(grant) }),
                Lookup::NotFound => Err(invalid().into()),
                Lookup::Unverified => Ok(Caller { is_admin: false, key: None }),
            },
            None => Err(invalid().into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_matching() {
        let k = MasterKey::new("sk-1234");
        assert!(k.matches("sk-1234"));
        assert!(!k.matches("sk-12345"));
        let (mut parts, _) = http::Request::builder().header("x-api-key", "sk-a").body(()).map(|r| r.into_parts()).expect("req");
        assert_eq!(presented_key(&parts), Some("sk-a"));
        parts.headers.insert("authorization", http::HeaderValue::from_static("Bearer sk-b"));
        assert_eq!(presented_key(&parts), Some("sk-b"));
        assert_eq!(abbreviate("sk-abcdefgh"), "sk-...efgh");
    }
}
