//! Where `os.environ/NAME` references are resolved: the config's own
//! `environment_variables` first, then values a secret manager prefetched
//! (`general_settings.key_management_system`), then the process environment.
//! Names the secret manager could not deliver carry its reason, so the
//! start-up error says why each one is missing.

use std::collections::HashMap;

use serde_json::Value;

use super::Problems;

/// The prefix LiteLLM uses for environment references inside config strings.
pub const ENV_PREFIX: &str = "os.environ/";

/// A read-only view of the environment the config is resolved against.
#[derive(Debug, Clone, Default)]
pub struct Env {
    overlay: HashMap<String, String>,
    use_process_env: bool,
    /// Why a secret manager could not deliver a name (`name` → reason).
    unresolved: HashMap<String, String>,
}

impl Env {
    /// The process environment.
    pub fn process() -> Self {
        Self { overlay: HashMap::new(), use_process_env: true, unresolved: HashMap::new() }
    }

    /// Only the given variables (for tests).
    pub fn isolated(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        Self { overlay: vars.into_iter().collect(), use_process_env: false, unresolved: HashMap::new() }
    }

    /// Adds or replaces a variable (from `environment_variables` or a secret manager).
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.overlay.insert(name.into(), value.into());
    }

    /// Records that a secret manager could not deliver `name`, and why; a
    /// reference to it is then an error with that reason.
    pub fn set_unresolved(&mut self, name: impl Into<String>, reason: impl Into<String>) {
        self.unresolved.insert(name.into(), reason.into());
    }

    /// Why `name` could not be resolved, if a secret manager said so.
    pub fn unresolved(&self, name: &str) -> Option<&str> {
        self.unresolved.get(name).map(String::as_str)
    }

    /// Looks a variable up; empty values count as unset.
    pub fn get(&self, name: &str) -> Option<String> {
        if let Some(v) = self.overlay.get(name) {
            return Some(v.clone()).filter(|v| !v.is_empty());
        }
        if self.use_process_env {
            return std::env::var(name).ok().filter(|v| !v.is_empty());
        }
        None
    }

    /// The first of several names that is set (LiteLLM often accepts aliases).
    pub fn first_of(&self, names: &[&str]) -> Option<String> {
        names.iter().find_map(|n| self.get(n))
    }
}

/// Every `os.environ/NAME` name referenced anywhere in `value`, for prefetching from a secret manager.
pub fn referenced_names(value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk_refs(value, &mut |s| out.push(s.to_owned()));
    out.sort();
    out.dedup();
    out
}

fn walk_refs(value: &Value, f: &mut impl FnMut(&str)) {
    match value {
        Value::String(s) => {
            if let Some(name) = s.strip_prefix(ENV_PREFIX) {
                f(name);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| walk_refs(v, f)),
        Value::Object(map) => map.values().for_each(|v| walk_refs(v, f)),
        _ => {}
    }
}

/// Replaces every `os.environ/NAME` string in `value` with the variable's value,
/// recording an error at its path for each one that is not set.
pub fn resolve_refs(value: &mut Value, path: &str, env: &Env, problems: &mut Problems) {
    match value {
        Value::String(s) => {
            if let Some(name) = s.strip_prefix(ENV_PREFIX) {
                match (env.get(name), env.unresolved(name)) {
                    (Some(v), None) => *s = v,
                    (_, Some(reason)) => {
                        problems.error(path, format!("secret {name} could not be resolved: {reason} (referenced as os.environ/{name})"))
                    }
                    (None, None) => {
                        problems.error(path, format!("environment variable {name} is not set (referenced as os.environ/{name})"))
                    }
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                resolve_refs(item, &format!("{path}[{i}]"), env, problems);
            }
        }
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                let child = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                resolve_refs(v, &child, env, problems);
            }
        }
        _ => {}
    }
}
