//! `general_settings.key_management_system` and `key_management_settings`:
//! which secret manager resolves the config's `os.environ/NAME` references.
//!
//! These two keys are read first, from the raw tree and against the process
//! environment only (the manager's own credentials cannot come from the
//! manager), so the secret manager can fetch every other reference before
//! the rest of the config is parsed.

use serde_json::{Map, Value};

use super::walk::Section;
use super::{Env, Problems, env};

/// The secret managers Tianji has, by LiteLLM's names.
pub const SYSTEMS: &[&str] = &["aws_secret_manager", "google_secret_manager", "azure_key_vault", "hashicorp_vault"];

/// Default seconds a fetched secret is trusted before it is fetched again (LiteLLM's).
pub const DEFAULT_CACHE_TTL_SECS: f64 = 86_400.0;

/// `access_mode`: whether the manager is read (LiteLLM's three modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccessMode {
    /// Secrets are read from the manager (default).
    #[default]
    ReadOnly,
    /// The manager is only written to (virtual keys): references resolve from the environment.
    WriteOnly,
    /// Both.
    ReadAndWrite,
}

impl AccessMode {
    /// Whether references are read from the manager.
    pub fn reads(self) -> bool {
        self != Self::WriteOnly
    }
}

/// The parsed secret-manager settings.
#[derive(Debug, Clone, Default)]
pub struct SecretSettings {
    /// `key_management_system`: one of [`SYSTEMS`].
    pub system: String,
    /// `hosted_keys`: only these names come from the manager; others from the environment.
    pub hosted_keys: Option<Vec<String>>,
    /// `access_mode`.
    pub access_mode: AccessMode,
    /// `prefix`: prepended to every name read from the manager (`prod/` → `prod/OPENAI_API_KEY`).
    pub prefix: Option<String>,
    /// `primary_secret_name`: one JSON secret holding every name as a field (LiteLLM, AWS).
    pub primary_secret_name: Option<String>,
    /// `cache_ttl` (seconds): how long a fetched value is used before it is fetched again.
    pub cache_ttl: f64,
    /// Manager-specific settings (`aws_region_name`, `aws_role_name`, `azure_credential`, ...).
    pub options: Map<String, Value>,
}

impl SecretSettings {
    /// A manager-specific string setting.
    pub fn option(&self, key: &str) -> Option<&str> {
        self.options.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
    }
}

/// Manager-specific keys of `key_management_settings`, accepted as they are.
const OPTION_KEYS: &[&str] =
    &["aws_region_name", "aws_role_name", "aws_session_name", "aws_profile_name", "aws_external_id", "azure_credential"];

/// LiteLLM's settings for writing virtual keys into the manager, which Tianji does not do (yet).
const WRITE_KEYS: &[&str] =
    &["store_virtual_keys", "prefix_for_stored_virtual_keys", "description", "tags", "kms_key_id", "replica_regions"];

/// Reads the secret-manager settings from the raw config tree, resolving
/// their own `os.environ/` references against `env`. `None` when no manager is configured.
pub fn parse(root: &Value, env: &Env, problems: &mut Problems) -> Option<SecretSettings> {
    let general = root.get("general_settings")?;
    let mut system = general.get("key_management_system").cloned().filter(|v| !v.is_null())?;
    env::resolve_refs(&mut system, "general_settings.key_management_system", env, problems);
    let path = "general_settings.key_management_system";
    let system = match system {
        Value::String(s) if SYSTEMS.contains(&s.as_str()) => s,
        Value::String(s) => {
            problems.error(path, format!("unknown secret manager '{s}' (known: {})", SYSTEMS.join(", ")));
            return None;
        }
        other => {
            problems.error(path, format!("expected a string, found {}", super::walk::kind_of(&other)));
            return None;
        }
    };
    let mut raw = general.get("key_management_settings").cloned().unwrap_or(Value::Null);
    env::resolve_refs(&mut raw, "general_settings.key_management_settings", env, problems);
    let mut s = Section::open("general_settings.key_management_settings", raw, problems)?;
    let access_mode = match s.string("access_mode", problems).as_deref() {
        None | Some("read_only") => AccessMode::ReadOnly,
        Some("write_only") => AccessMode::WriteOnly,
        Some("read_and_write") => AccessMode::ReadAndWrite,
        Some(other) => {
            problems.error(&s.child_path("access_mode"), format!("expected read_only, write_only or read_and_write, found '{other}'"));
            AccessMode::ReadOnly
        }
    };
    let mut settings = SecretSettings {
        system: system.clone(),
        hosted_keys: s.string_list("hosted_keys", problems),
        access_mode,
        prefix: s.string("prefix", problems).filter(|p| !p.is_empty()),
        primary_secret_name: s.string("primary_secret_name", problems).filter(|p| !p.is_empty()),
        cache_ttl: s.f64("cache_ttl", problems).or_else(|| ttl_from_env(&system, env)).unwrap_or(DEFAULT_CACHE_TTL_SECS),
        options: Map::new(),
    };
    if settings.cache_ttl < 0.0 {
        problems.error(&s.child_path("cache_ttl"), "must not be negative");
    }
    for key in OPTION_KEYS {
        if let Some(v) = s.value(key) {
            settings.options.insert((*key).to_owned(), v);
        }
    }
    for key in WRITE_KEYS {
        if s.value(key).is_some() {
            problems.ignore(s.child_path(key));
        }
    }
    s.finish(problems);
    Some(settings)
}

/// LiteLLM's refresh-interval variables, when `cache_ttl` is not set.
fn ttl_from_env(system: &str, env: &Env) -> Option<f64> {
    if system == "google_secret_manager"
        && env.get("GOOGLE_SECRET_MANAGER_ALWAYS_READ_SECRET_MANAGER").is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        return Some(0.0);
    }
    let own = match system {
        "google_secret_manager" => Some("GOOGLE_SECRET_MANAGER_REFRESH_INTERVAL"),
        "hashicorp_vault" => Some("HCP_VAULT_REFRESH_INTERVAL"),
        _ => None,
    };
    own.into_iter().chain(["SECRET_MANAGER_REFRESH_INTERVAL"]).find_map(|name| env.get(name)?.trim().parse().ok())
}

/// The `os.environ/` names a secret manager should fetch: every reference
/// in the config except those in the secret-manager settings themselves.
pub fn managed_names(root: &Value) -> Vec<String> {
    let mut tree = root.clone();
    if let Some(g) = tree.get_mut("general_settings").and_then(Value::as_object_mut) {
        g.remove("key_management_system");
        g.remove("key_management_settings");
    }
    env::referenced_names(&tree)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn settings_parse_with_litellm_names_and_report_problems() {
        let env = Env::isolated([("TTL".to_owned(), "60".to_owned())]);
        let root = json!({"general_settings": {"key_management_system": "hashicorp_vault",
            "key_management_settings": {"hosted_keys": ["OPENAI_API_KEY"], "cache_ttl": "os.environ/TTL", "store_virtual_keys": false}}});
        let mut problems = Problems::default();
        let s = parse(&root, &env, &mut problems).expect("settings");
        assert_eq!(s.system, "hashicorp_vault");
        assert_eq!(s.hosted_keys.as_deref(), Some(&["OPENAI_API_KEY".to_owned()][..]));
        assert_eq!(s.cache_ttl, 60.0);
        assert_eq!(problems.ignored, vec!["general_settings.key_management_settings.store_virtual_keys"]);

        let bad =
            json!({"general_settings": {"key_management_system": "keepass", "key_management_settings": {"access_mode": "sometimes"}}});
        let mut problems = Problems::default();
        assert!(parse(&bad, &env, &mut problems).is_none());
        assert!(problems.errors[0].message.contains("unknown secret manager 'keepass'"), "{:?}", problems.errors);
        assert!(parse(&json!({"general_settings": {}}), &env, &mut Problems::default()).is_none());
    }

    #[test]
    fn the_ttl_falls_back_to_litellms_refresh_variables() {
        let root = json!({"general_settings": {"key_management_system": "hashicorp_vault"}});
        let env = Env::isolated([("HCP_VAULT_REFRESH_INTERVAL".to_owned(), "300".to_owned())]);
        assert_eq!(parse(&root, &env, &mut Problems::default()).map(|s| s.cache_ttl), Some(300.0));
        assert_eq!(parse(&root, &Env::isolated([]), &mut Problems::default()).map(|s| s.cache_ttl), Some(DEFAULT_CACHE_TTL_SECS));
    }

    #[test]
    fn managed_names_skip_the_managers_own_settings() {
        let root = json!({"model_list": [{"litellm_params": {"api_key": "os.environ/OPENAI_API_KEY"}}],
            "general_settings": {"master_key": "os.environ/MASTER", "key_management_settings": {"prefix": "os.environ/PREFIX"}}});
        assert_eq!(managed_names(&root), vec!["MASTER", "OPENAI_API_KEY"]);
    }
}
