//! A plugin's manifest: `<name>.toml` beside `<name>.wasm`.
//!
//! ```toml
//! name = "litellm_content_filter"   # default: the file stem
//! version = "0.1.0"                 # default: "0.0.0"
//! kind = "guardrail"                # optional; checked against the component's exports
//! allowed_hosts = ["api.lakera.ai", "127.0.0.1:*", "*.example.com:8443"]
//! secrets = ["LAKERA_API_KEY"]      # environment variables the plugin may read with `secret()`
//! full_body = false                 # fill `body` (the whole request/response JSON) in calls
//!
//! [config]                          # defaults, overlaid by the operator's settings
//! threshold = 0.5
//!
//! [limits]
//! timeout_ms = 1000                 # deadline per call
//! memory_mb = 64                    # linear-memory cap per instance
//! max_instances = 32                # concurrent instances per configuration
//! max_calls_per_instance = 10000    # recycle an instance after this many calls
//! isolation = "pooled"              # or "per-call": a fresh instance for every call
//! ```

use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};

/// How instances are reused between calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Isolation {
    /// Initialised instances serve one call at a time and are reused, so the
    /// state built by `init` (compiled patterns, clients) is paid for once.
    #[default]
    Pooled,
    /// A fresh instance (and `init`) for every call: nothing survives a call.
    PerCall,
}

/// Resource limits of one plugin.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Deadline per call, milliseconds.
    pub timeout_ms: u64,
    /// Linear-memory cap per instance, MiB.
    pub memory_mb: u64,
    /// Concurrent instances per configuration; further calls wait.
    pub max_instances: usize,
    /// Calls after which a pooled instance is discarded.
    pub max_calls_per_instance: u64,
    /// Instance reuse.
    pub isolation: Isolation,
}

impl Default for Limits {
    fn default() -> Self {
        Self { timeout_ms: 1000, memory_mb: 64, max_instances: 32, max_calls_per_instance: 10_000, isolation: Isolation::Pooled }
    }
}

/// A host a plugin may call: `name`, `name:port`, `*.suffix[:port]`, port `*` for any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    host: String,
    port: Option<u16>,
}

impl HostPattern {
    /// Parses `host[:port]`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (host, port) = match s.rsplit_once(':') {
            Some((h, "*")) => (h, None),
            Some((h, p)) if !h.contains(':') || h.ends_with(']') => {
                (h, Some(p.parse::<u16>().map_err(|_| format!("allowed_hosts: invalid port in {s:?}"))?))
            }
            _ => (s, None),
        };
        if host.is_empty() {
            return Err(format!("allowed_hosts: empty host in {s:?}"));
        }
        Ok(Self { host: host.trim_matches(['[', ']']).to_ascii_lowercase(), port })
    }

    /// Whether a request to `host:port` is allowed.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        if self.port.is_some_and(|p| p != port) {
            return false;
        }
        let host = host.trim_matches(['[', ']']);
        match self.host.strip_prefix("*.") {
            Some(suffix) => host.len() > suffix.len() + 1 && host.to_ascii_lowercase().ends_with(&format!(".{suffix}")),
            None => self.host.eq_ignore_ascii_case(host),
        }
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    name: Option<String>,
    version: Option<String>,
    kind: Option<String>,
    description: Option<String>,
    #[serde(default)]
    allowed_hosts: Vec<String>,
    #[serde(default)]
    secrets: Vec<String>,
    #[serde(default)]
    config: Map<String, Value>,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    full_body: bool,
}

/// A validated manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The plugin's name: what configs refer to.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The kind the author declared, if any.
    pub kind: Option<String>,
    /// What it does.
    pub description: Option<String>,
    /// Hosts it may call.
    pub allowed_hosts: Vec<HostPattern>,
    /// Environment variables it may read as secrets.
    pub secrets: Vec<String>,
    /// Default configuration.
    pub config: Map<String, Value>,
    /// Resource limits.
    pub limits: Limits,
    /// Whether calls carry the whole request/response JSON in `body`
    /// (serialising a 10k-token request costs tens of microseconds, so only
    /// plugins that ask get it).
    pub full_body: bool,
}

impl Manifest {
    /// The manifest of `<dir>/<stem>.wasm`: `<stem>.toml` if present, else defaults.
    pub fn for_component(wasm: &Path) -> Result<Self, String> {
        let stem = wasm.file_stem().and_then(|s| s.to_str()).unwrap_or("plugin").to_string();
        let path = wasm.with_extension("toml");
        let raw = match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str::<RawManifest>(&text).map_err(|e| format!("{}: {e}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => RawManifest::default(),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        Self::from_raw(raw, stem)
    }

    /// Parses manifest text for a component named `stem`.
    pub fn parse(text: &str, stem: &str) -> Result<Self, String> {
        Self::from_raw(toml::from_str(text).map_err(|e| e.to_string())?, stem.to_string())
    }

    fn from_raw(raw: RawManifest, stem: String) -> Result<Self, String> {
        let allowed_hosts = raw.allowed_hosts.iter().map(|h| HostPattern::parse(h)).collect::<Result<Vec<_>, _>>()?;
        if let Some(k) = &raw.kind
            && !matches!(k.as_str(), "guardrail" | "logger" | "prompt-source")
        {
            return Err(format!("kind: expected guardrail, logger or prompt-source, found {k:?}"));
        }
        let l = &raw.limits;
        if l.timeout_ms == 0 || l.memory_mb == 0 || l.max_instances == 0 || l.max_calls_per_instance == 0 {
            return Err("limits: every limit must be positive".into());
        }
        Ok(Self {
            name: raw.name.unwrap_or(stem),
            version: raw.version.unwrap_or_else(|| "0.0.0".into()),
            kind: raw.kind,
            description: raw.description,
            allowed_hosts,
            secrets: raw.secrets,
            config: raw.config,
            limits: raw.limits,
            full_body: raw.full_body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_patterns() {
        let p = HostPattern::parse("api.example.com").unwrap();
        assert!(p.matches("api.example.com", 443) && p.matches("API.example.com", 80));
        assert!(!p.matches("evil.com", 443));
        let p = HostPattern::parse("127.0.0.1:8080").unwrap();
        assert!(p.matches("127.0.0.1", 8080) && !p.matches("127.0.0.1", 8081));
        let p = HostPattern::parse("*.example.com:*").unwrap();
        assert!(p.matches("a.example.com", 1) && !p.matches("example.com", 1) && !p.matches("aexample.com", 1));
        assert!(HostPattern::parse("x:notaport").is_err());
    }

    #[test]
    fn manifest_defaults_and_errors() {
        let m = Manifest::parse("", "my_plugin").unwrap();
        assert_eq!((m.name.as_str(), m.version.as_str(), m.limits.timeout_ms), ("my_plugin", "0.0.0", 1000));
        let m = Manifest::parse("name = \"x\"\n[limits]\nisolation = \"per-call\"\n[config]\na = 1\n", "s").unwrap();
        assert_eq!(m.limits.isolation, Isolation::PerCall);
        assert_eq!(m.config["a"], 1);
        assert!(Manifest::parse("kind = \"nope\"", "s").unwrap_err().contains("kind"));
        assert!(Manifest::parse("unknown = 1", "s").unwrap_err().contains("unknown"));
        assert!(Manifest::parse("[limits]\ntimeout_ms = 0", "s").unwrap_err().contains("positive"));
    }
}
