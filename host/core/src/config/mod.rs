//! LiteLLM's `config.yaml`, parsed in two stages.
//!
//! 1. YAML becomes a JSON tree, `environment_variables` are applied, and every
//!    `os.environ/NAME` string is resolved ([`env`]).
//! 2. A walker ([`walk::Section`]) types each key Tianji supports, records
//!    every wrong value with its path, and lists every key it did not read as
//!    ignored, so a LiteLLM config with features Tianji lacks still starts and
//!    says what it skipped.
//!
//! Problems that need other crates (unknown provider, fallback to a model
//! group that does not exist) are added to the same [`Problems`] by the
//! builder that owns them, so start-up reports everything at once.

pub mod env;
pub mod guardrails;
pub mod prompts;
pub mod secrets;
pub mod walk;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde_json::{Map, Value};

pub use env::Env;
use walk::Section;

/// One error in the configuration, with its path (`model_list[2].litellm_params.rpm`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where in the file.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() { write!(f, "{}", self.message) } else { write!(f, "{}: {}", self.path, self.message) }
    }
}

/// Everything wrong or skipped in a configuration.
#[derive(Debug, Clone, Default)]
pub struct Problems {
    /// Errors: start-up refuses the config.
    pub errors: Vec<Problem>,
    /// Keys Tianji does not support (yet), by path; start-up logs them.
    pub ignored: Vec<String>,
}

impl Problems {
    /// Records an error at `path`.
    pub fn error(&mut self, path: &str, message: impl Into<String>) {
        self.errors.push(Problem { path: path.to_owned(), message: message.into() });
    }

    /// Records an ignored key.
    pub fn ignore(&mut self, path: impl Into<String>) {
        self.ignored.push(path.into());
    }

    /// Fails with every error at once, or succeeds.
    pub fn into_result(self) -> Result<Vec<String>, ConfigError> {
        if self.errors.is_empty() { Ok(self.ignored) } else { Err(ConfigError { problems: self.errors }) }
    }
}

/// A configuration that cannot be used; lists every problem.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigError {
    /// Every error found.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid configuration ({} problem{}):", self.problems.len(), if self.problems.len() == 1 { "" } else { "s" })?;
        for p in &self.problems {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

/// The parsed, resolved configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Deployments, in file order.
    pub model_list: Vec<DeploymentConfig>,
    /// `router_settings`.
    pub router_settings: RouterSettings,
    /// `litellm_settings`.
    pub litellm_settings: LitellmSettings,
    /// `general_settings`.
    pub general_settings: GeneralSettings,
    /// `guardrails`, in file order.
    pub guardrails: Vec<guardrails::GuardrailConfig>,
    /// `prompts`: managed prompts.
    pub prompts: Vec<prompts::PromptConfig>,
    /// `callback_settings`: per-logger settings, by callback name.
    pub callback_settings: Map<String, Value>,
    /// The environment references were resolved against (with `environment_variables` applied).
    pub env: Env,
}

/// One entry of `model_list`.
#[derive(Debug, Clone, Default)]
pub struct DeploymentConfig {
    /// Path of this entry (`model_list[3]`), for later error messages.
    pub path: String,
    /// The model group (public name), possibly a wildcard (`*`, `anthropic/*`).
    pub model_name: String,
    /// How to call the upstream.
    pub litellm_params: LitellmParams,
    /// Metadata about the model.
    pub model_info: ModelInfo,
}

/// OpenAI request parameters that `litellm_params` may set as per-deployment defaults.
pub const DEFAULT_REQUEST_PARAMS: &[&str] = &[
    "temperature",
    "max_tokens",
    "max_completion_tokens",
    "top_p",
    "n",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "response_format",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "reasoning_effort",
    "parallel_tool_calls",
    "tool_choice",
];

/// `litellm_params` of a deployment.
#[derive(Debug, Clone, Default)]
pub struct LitellmParams {
    /// `provider/model` as written.
    pub model: String,
    /// Explicit provider (`custom_llm_provider`).
    pub custom_llm_provider: Option<String>,
    /// Upstream base URL.
    pub api_base: Option<String>,
    /// Upstream key.
    pub api_key: Option<String>,
    /// Upstream API version (Azure).
    pub api_version: Option<String>,
    /// OpenAI organization.
    pub organization: Option<String>,
    /// Region, reported in `x-litellm-model-region`.
    pub region_name: Option<String>,
    /// Requests per minute this deployment takes (also a routing weight).
    pub rpm: Option<u64>,
    /// Tokens per minute this deployment takes (also a routing weight).
    pub tpm: Option<u64>,
    /// Per-attempt timeout, seconds.
    pub timeout: Option<f64>,
    /// Per-attempt timeout for streams, seconds.
    pub stream_timeout: Option<f64>,
    /// Retries for this deployment's calls.
    pub max_retries: Option<u32>,
    /// Routing weight for `simple-shuffle`.
    pub weight: Option<f64>,
    /// Canned answer: no upstream is called.
    pub mock_response: Option<Value>,
    /// Drop parameters the provider does not support.
    pub drop_params: Option<bool>,
    /// Parameters always dropped for this deployment.
    pub additional_drop_params: Vec<String>,
    /// Extra headers sent upstream.
    pub extra_headers: BTreeMap<String, String>,
    /// Default request parameters (`temperature`, `max_tokens`, ...); the request's own values win.
    pub default_params: Map<String, Value>,
    /// Every other key, for the provider to claim; unclaimed keys are reported as ignored.
    pub extra: Map<String, Value>,
}

/// `model_info` of a deployment. Unknown keys are kept and shown by `/model/info`.
#[derive(Debug, Clone, Default)]
pub struct ModelInfo {
    /// Deployment id (`x-litellm-model-id`); derived from the params when absent.
    pub id: Option<String>,
    /// `chat`, `completion`, `embedding`, `image_generation`, `moderation`, ...
    pub mode: Option<String>,
    /// Max tokens (legacy: output cap).
    pub max_tokens: Option<u64>,
    /// Context window.
    pub max_input_tokens: Option<u64>,
    /// Output cap.
    pub max_output_tokens: Option<u64>,
    /// USD per input token.
    pub input_cost_per_token: Option<f64>,
    /// USD per output token.
    pub output_cost_per_token: Option<f64>,
    /// The catalog model this deployment is an instance of.
    pub base_model: Option<String>,
    /// Other keys, as written.
    pub extra: Map<String, Value>,
}

/// A fallback rule: when `from` fails, try `to` in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FallbackRule {
    /// Model group that failed (`*` for every group).
    pub from: String,
    /// Groups to try instead.
    pub to: Vec<String>,
}

/// Target of a `model_group_alias` entry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AliasTarget {
    /// The real model group.
    pub model: String,
    /// Hidden aliases work but are not listed by `/v1/models`.
    pub hidden: bool,
}

/// `router_settings`.
#[derive(Debug, Clone, Default)]
pub struct RouterSettings {
    /// `simple-shuffle` (default), `least-busy`, `latency-based-routing`, ...
    pub routing_strategy: Option<String>,
    /// `routing_strategy_args` (e.g. `lowest_latency_buffer`), read by the strategy.
    pub routing_strategy_args: Map<String, Value>,
    /// Retries per model group.
    pub num_retries: Option<u32>,
    /// Per-attempt timeout, seconds.
    pub timeout: Option<f64>,
    /// Per-attempt timeout for streams, seconds.
    pub stream_timeout: Option<f64>,
    /// Fallbacks on generic failures.
    pub fallbacks: Vec<FallbackRule>,
    /// Fallbacks when the prompt exceeds the context window.
    pub context_window_fallbacks: Vec<FallbackRule>,
    /// Fallbacks when the provider refuses the content.
    pub content_policy_fallbacks: Vec<FallbackRule>,
    /// Fallbacks for every group without its own.
    pub default_fallbacks: Vec<String>,
    /// Failures within a minute before a deployment cools down.
    pub allowed_fails: Option<u32>,
    /// Cooldown length, seconds.
    pub cooldown_time: Option<f64>,
    /// Never cool deployments down.
    pub disable_cooldowns: bool,
    /// Minimum wait before retrying a rate-limited call, seconds.
    pub retry_after: Option<f64>,
    /// Check context windows before calling.
    pub enable_pre_call_checks: bool,
    /// Aliases: public name → model group.
    pub model_group_alias: BTreeMap<String, AliasTarget>,
    /// `redis_host`: Redis shared by several instances (rate limits, cache invalidation).
    pub redis_host: Option<String>,
    /// `redis_port` (default 6379).
    pub redis_port: Option<u64>,
    /// `redis_password`.
    pub redis_password: Option<String>,
    /// `redis_url` (`redis://[:password@]host:port[/db]`), instead of host/port/password.
    pub redis_url: Option<String>,
}

impl RouterSettings {
    /// The Redis URL these settings name, if any.
    pub fn redis(&self) -> Option<String> {
        if let Some(u) = &self.redis_url {
            return Some(u.clone());
        }
        let host = self.redis_host.as_ref()?;
        let port = self.redis_port.unwrap_or(6379);
        Some(match &self.redis_password {
            Some(p) if !p.is_empty() => format!("redis://:{p}@{host}:{port}"),
            _ => format!("redis://{host}:{port}"),
        })
    }
}

/// `litellm_settings`.
#[derive(Debug, Clone, Default)]
pub struct LitellmSettings {
    /// Retries per model group (router_settings wins).
    pub num_retries: Option<u32>,
    /// Per-attempt timeout, seconds (router_settings.timeout wins).
    pub request_timeout: Option<f64>,
    /// Fallbacks (merged with router_settings').
    pub fallbacks: Vec<FallbackRule>,
    /// Context-window fallbacks.
    pub context_window_fallbacks: Vec<FallbackRule>,
    /// Content-policy fallbacks.
    pub content_policy_fallbacks: Vec<FallbackRule>,
    /// Default fallbacks.
    pub default_fallbacks: Vec<String>,
    /// Drop unsupported parameters for non-OpenAI providers.
    pub drop_params: bool,
    /// Loggers for every call (`callbacks`).
    pub callbacks: Vec<String>,
    /// Loggers for successful calls.
    pub success_callback: Vec<String>,
    /// Loggers for failed calls.
    pub failure_callback: Vec<String>,
    /// Keep request and response bodies out of logs.
    pub turn_off_message_logging: bool,
}

/// `general_settings`.
#[derive(Debug, Clone, Default)]
pub struct GeneralSettings {
    /// Admin key; when set, every request needs it (or, later, a virtual key).
    pub master_key: Option<String>,
    /// Request body limit, MB.
    pub max_request_size_mb: Option<f64>,
    /// Directory of plugins (`.wasm` components), watched while running.
    pub plugin_dir: Option<String>,
    /// `database_url` (or the `DATABASE_URL` environment variable):
    /// `postgresql://...` or `sqlite:...`. Without it, and with a master key,
    /// keys live in a SQLite file next to the config.
    pub database_url: Option<String>,
    /// `database_connection_pool_limit`: most database connections (default 10).
    pub database_connection_pool_limit: Option<u64>,
    /// `allow_requests_on_db_unavailable`: with the database unreachable, let
    /// requests whose key is not cached through instead of refusing them.
    pub allow_requests_on_db_unavailable: bool,
    /// `proxy_batch_write_at`: seconds between spend-log writes (default 10).
    pub proxy_batch_write_at: Option<f64>,
    /// `spend_log_batch_size`: most spend rows per write (default 1000).
    pub spend_log_batch_size: Option<u64>,
    /// `user_api_key_cache_ttl`: seconds a key stays cached (default 60).
    pub user_api_key_cache_ttl: Option<f64>,
    /// `key_management_system` with `key_management_settings`: the secret
    /// manager behind `os.environ/` references (read before the rest, see [`secrets`]).
    pub secrets: Option<secrets::SecretSettings>,
}

impl Config {
    /// Reads and parses a config file against the process environment.
    pub fn from_file(path: &Path) -> Result<(Config, Vec<String>), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            problems: vec![Problem { path: String::new(), message: format!("cannot read {}: {e}", path.display()) }],
        })?;
        let mut problems = Problems::default();
        let config = Self::parse(&text, Env::process(), &mut problems);
        let ignored = problems.into_result()?;
        Ok((config, ignored))
    }

    /// Parses YAML text, recording every problem; the returned config holds what could be read.
    pub fn parse(text: &str, env: Env, problems: &mut Problems) -> Config {
        let root = match Self::tree(text) {
            Ok(v) => v,
            Err(p) => {
                problems.errors.push(p);
                return Config::default();
            }
        };
        Self::from_value(root, env, problems)
    }

    /// Decodes YAML text into a tree, or says where it is not YAML.
    pub fn tree(text: &str) -> Result<Value, Problem> {
        serde_yaml_ng::from_str(text).map_err(|e| {
            let path = e.location().map(|l| format!("line {} column {}", l.line(), l.column())).unwrap_or_default();
            Problem { path, message: format!("not valid YAML: {e}") }
        })
    }

    /// Parses an already-decoded config tree.
    pub fn from_value(mut root: Value, mut env: Env, problems: &mut Problems) -> Config {
        // environment_variables apply before any reference is resolved.
        if let Some(Value::Object(vars)) = root.get_mut("environment_variables") {
            for (k, v) in vars.iter_mut() {
                env::resolve_refs(v, &format!("environment_variables.{k}"), &env.clone(), problems);
                match v {
                    Value::String(s) => env.set(k.clone(), s.clone()),
                    Value::Number(n) => env.set(k.clone(), n.to_string()),
                    Value::Bool(b) => env.set(k.clone(), b.to_string()),
                    Value::Null => {}
                    other => {
                        problems.error(&format!("environment_variables.{k}"), format!("expected a string, found {}", walk::kind_of(other)))
                    }
                }
            }
        }
        let secret_settings = secrets::parse(&root, &env, problems);
        env::resolve_refs(&mut root, "", &env, problems);

        let Some(mut top) = Section::open("", root, problems) else {
            return Config::default();
        };
        let mut config = Config { env, ..Default::default() };
        top.value("environment_variables");
        if let Some(items) = top.list("model_list", problems) {
            for (i, item) in items.into_iter().enumerate() {
                if let Some(d) = parse_deployment(format!("model_list[{i}]"), item, problems) {
                    config.model_list.push(d);
                }
            }
        }
        if let Some(s) = top.section("router_settings", problems) {
            config.router_settings = parse_router_settings(s, problems);
        }
        if let Some(s) = top.section("litellm_settings", problems) {
            config.litellm_settings = parse_litellm_settings(s, problems);
        }
        if let Some(s) = top.section("general_settings", problems) {
            config.general_settings = parse_general_settings(s, problems);
            config.general_settings.secrets = secret_settings;
        }
        if let Some(s) = top.section("callback_settings", problems) {
            let mut s = s;
            config.callback_settings = s.take_rest();
        }
        if let Some(items) = top.list("prompts", problems) {
            config.prompts = prompts::parse(items, problems);
        }
        if let Some(items) = top.list("guardrails", problems) {
            config.guardrails = guardrails::parse(items, problems);
        }
        top.finish(problems);
        config
    }
}

/// Parses one `model_list` entry given as JSON (a model added through the
/// API), resolving `os.environ/` references against `env`.
pub fn deployment_from_value(path: &str, mut item: Value, env: &Env, problems: &mut Problems) -> Option<DeploymentConfig> {
    env::resolve_refs(&mut item, path, env, problems);
    parse_deployment(path.to_owned(), item, problems)
}

fn parse_deployment(path: String, item: Value, problems: &mut Problems) -> Option<DeploymentConfig> {
    let mut s = Section::open(path.clone(), item, problems)?;
    let model_name = s.string("model_name", problems);
    if model_name.is_none() && !s.has("model_name") {
        problems.error(&s.child_path("model_name"), "is required");
    }
    let params = match s.section("litellm_params", problems) {
        Some(p) => parse_litellm_params(p, problems),
        None => {
            if !s.has("litellm_params") {
                problems.error(&s.child_path("litellm_params"), "is required");
            }
            None
        }
    };
    let model_info = s.section("model_info", problems).map(|m| parse_model_info(m, problems)).unwrap_or_default();
    s.finish(problems);
    Some(DeploymentConfig { path, model_name: model_name?, litellm_params: params?, model_info })
}

fn parse_litellm_params(mut s: Section, problems: &mut Problems) -> Option<LitellmParams> {
    let model = s.string("model", problems);
    if model.is_none() {
        problems.error(&s.child_path("model"), "is required (e.g. openai/gpt-4o)");
    }
    let mut p = LitellmParams {
        model: model.unwrap_or_default(),
        custom_llm_provider: s.string("custom_llm_provider", problems),
        api_base: s.string("api_base", problems).or_else(|| s.string("base_url", problems)),
        api_key: s.string("api_key", problems),
        api_version: s.string("api_version", problems),
        organization: s.string("organization", problems),
        region_name: s.string("region_name", problems),
        rpm: s.u64("rpm", problems),
        tpm: s.u64("tpm", problems),
        timeout: s.f64("timeout", problems),
        stream_timeout: s.f64("stream_timeout", problems),
        max_retries: s.u64("max_retries", problems).map(|v| v as u32),
        weight: s.f64("weight", problems),
        mock_response: s.value("mock_response"),
        drop_params: s.bool("drop_params", problems),
        additional_drop_params: s.string_list("additional_drop_params", problems).unwrap_or_default(),
        ..Default::default()
    };
    if let Some(mut h) = s.section("extra_headers", problems) {
        for (k, v) in h.take_rest() {
            match v {
                Value::String(v) => {
                    p.extra_headers.insert(k, v);
                }
                other => problems.error(&format!("{}.{k}", h.path()), format!("expected a string, found {}", walk::kind_of(&other))),
            }
        }
    }
    for key in DEFAULT_REQUEST_PARAMS {
        if let Some(v) = s.value(key) {
            p.default_params.insert((*key).to_owned(), v);
        }
    }
    if p.weight.is_some_and(|w| w < 0.0) {
        problems.error(&s.child_path("weight"), "must not be negative");
    }
    for (key, v) in [("timeout", p.timeout), ("stream_timeout", p.stream_timeout)] {
        if v.is_some_and(|t| t <= 0.0) {
            problems.error(&s.child_path(key), "must be a positive number of seconds");
        }
    }
    p.extra = s.take_rest();
    Some(p)
}

fn parse_model_info(mut s: Section, problems: &mut Problems) -> ModelInfo {
    ModelInfo {
        id: s.string("id", problems),
        mode: s.string("mode", problems),
        max_tokens: s.u64("max_tokens", problems),
        max_input_tokens: s.u64("max_input_tokens", problems),
        max_output_tokens: s.u64("max_output_tokens", problems),
        input_cost_per_token: s.f64("input_cost_per_token", problems),
        output_cost_per_token: s.f64("output_cost_per_token", problems),
        base_model: s.string("base_model", problems),
        extra: s.take_rest(),
    }
}

/// Parses `[{"gpt-3.5": ["gpt-4"]}, ...]` (also accepts one mapping with several keys).
fn parse_fallbacks(s: &mut Section, key: &str, problems: &mut Problems) -> Vec<FallbackRule> {
    let path = s.child_path(key);
    let Some(v) = s.value(key) else { return Vec::new() };
    let mut rules = Vec::new();
    let mut add_map = |map: Map<String, Value>, at: String, problems: &mut Problems| {
        for (from, to) in map {
            let to = match to {
                Value::String(t) => vec![t],
                Value::Array(items) => items
                    .into_iter()
                    .filter_map(|i| match i {
                        Value::String(t) => Some(t),
                        other => {
                            problems.error(&format!("{at}.{from}"), format!("expected model group names, found {}", walk::kind_of(&other)));
                            None
                        }
                    })
                    .collect(),
                other => {
                    problems.error(&format!("{at}.{from}"), format!("expected a list of model groups, found {}", walk::kind_of(&other)));
                    continue;
                }
            };
            rules.push(FallbackRule { from, to });
        }
    };
    match v {
        Value::Array(items) => {
            for (i, item) in items.into_iter().enumerate() {
                match item {
                    Value::Object(m) => add_map(m, format!("{path}[{i}]"), problems),
                    other => problems.error(
                        &format!("{path}[{i}]"),
                        format!("expected a mapping like {{\"gpt-4\": [\"gpt-3.5-turbo\"]}}, found {}", walk::kind_of(&other)),
                    ),
                }
            }
        }
        Value::Object(m) => add_map(m, path, problems),
        other => problems.error(&path, format!("expected a list of mappings, found {}", walk::kind_of(&other))),
    }
    rules
}

fn parse_router_settings(mut s: Section, problems: &mut Problems) -> RouterSettings {
    let mut r = RouterSettings {
        routing_strategy: s.string("routing_strategy", problems),
        routing_strategy_args: s.section("routing_strategy_args", problems).map(|mut a| a.take_rest()).unwrap_or_default(),
        num_retries: s.u64("num_retries", problems).map(|v| v as u32),
        timeout: s.f64("timeout", problems),
        stream_timeout: s.f64("stream_timeout", problems),
        fallbacks: parse_fallbacks(&mut s, "fallbacks", problems),
        context_window_fallbacks: parse_fallbacks(&mut s, "context_window_fallbacks", problems),
        content_policy_fallbacks: parse_fallbacks(&mut s, "content_policy_fallbacks", problems),
        default_fallbacks: s.string_list("default_fallbacks", problems).unwrap_or_default(),
        allowed_fails: s.u64("allowed_fails", problems).map(|v| v as u32),
        cooldown_time: s.f64("cooldown_time", problems),
        disable_cooldowns: s.bool("disable_cooldowns", problems).unwrap_or(false),
        retry_after: s.f64("retry_after", problems),
        enable_pre_call_checks: s.bool("enable_pre_call_checks", problems).unwrap_or(false),
        model_group_alias: BTreeMap::new(),
        redis_host: s.string("redis_host", problems),
        redis_port: s.u64("redis_port", problems),
        redis_password: s.string("redis_password", problems),
        redis_url: s.string("redis_url", problems),
    };
    if let Some(u) = &r.redis_url
        && !(u.starts_with("redis://") || u.starts_with("rediss://"))
    {
        problems.error(&s.child_path("redis_url"), "must start with redis:// or rediss://");
    }
    if let Some(mut aliases) = s.section("model_group_alias", problems) {
        let base = aliases.path().to_owned();
        for (alias, target) in aliases.take_rest() {
            let at = format!("{base}.{alias}");
            match target {
                Value::String(model) => {
                    r.model_group_alias.insert(alias, AliasTarget { model, hidden: false });
                }
                Value::Object(mut m) => {
                    let hidden = m.remove("hidden").and_then(|h| h.as_bool()).unwrap_or(false);
                    match m.remove("model") {
                        Some(Value::String(model)) => {
                            r.model_group_alias.insert(alias, AliasTarget { model, hidden });
                        }
                        _ => problems.error(&at, "expected {model: <group>, hidden: <bool>}"),
                    }
                }
                other => problems.error(&at, format!("expected a model group name, found {}", walk::kind_of(&other))),
            }
        }
    }
    s.finish(problems);
    r
}

fn parse_litellm_settings(mut s: Section, problems: &mut Problems) -> LitellmSettings {
    let l = LitellmSettings {
        num_retries: s.u64("num_retries", problems).map(|v| v as u32),
        request_timeout: s.f64("request_timeout", problems),
        fallbacks: parse_fallbacks(&mut s, "fallbacks", problems),
        context_window_fallbacks: parse_fallbacks(&mut s, "context_window_fallbacks", problems),
        content_policy_fallbacks: parse_fallbacks(&mut s, "content_policy_fallbacks", problems),
        default_fallbacks: s.string_list("default_fallbacks", problems).unwrap_or_default(),
        drop_params: s.bool("drop_params", problems).unwrap_or(false),
        callbacks: s.string_list("callbacks", problems).unwrap_or_default(),
        success_callback: s.string_list("success_callback", problems).unwrap_or_default(),
        failure_callback: s.string_list("failure_callback", problems).unwrap_or_default(),
        turn_off_message_logging: s.bool("turn_off_message_logging", problems).unwrap_or(false),
    };
    s.finish(problems);
    l
}

fn parse_general_settings(mut s: Section, problems: &mut Problems) -> GeneralSettings {
    let g = GeneralSettings {
        master_key: s.string("master_key", problems),
        max_request_size_mb: s.f64("max_request_size_mb", problems),
        plugin_dir: s.string("plugin_dir", problems),
        database_url: s.string("database_url", problems),
        database_connection_pool_limit: s.u64("database_connection_pool_limit", problems),
        allow_requests_on_db_unavailable: s.bool("allow_requests_on_db_unavailable", problems).unwrap_or(false),
        proxy_batch_write_at: s.f64("proxy_batch_write_at", problems),
        spend_log_batch_size: s.u64("spend_log_batch_size", problems),
        user_api_key_cache_ttl: s.f64("user_api_key_cache_ttl", problems),
        secrets: None,
    };
    // Read (and their problems reported) by secrets::parse, before the rest.
    s.value("key_management_system");
    s.value("key_management_settings");
    if let Some(url) = &g.database_url
        && !(url.starts_with("postgres://") || url.starts_with("postgresql://") || url.starts_with("sqlite:"))
    {
        problems.error(&s.child_path("database_url"), "must start with postgresql://, postgres:// or sqlite:");
    }
    for (name, v) in [("proxy_batch_write_at", g.proxy_batch_write_at), ("user_api_key_cache_ttl", g.user_api_key_cache_ttl)] {
        if v.is_some_and(|v| v < 0.0) {
            problems.error(&s.child_path(name), "must not be negative");
        }
    }
    if g.spend_log_batch_size == Some(0) || g.database_connection_pool_limit == Some(0) {
        let name = if g.spend_log_batch_size == Some(0) { "spend_log_batch_size" } else { "database_connection_pool_limit" };
        problems.error(&s.child_path(name), "must be at least 1");
    }
    if let Some(k) = &g.master_key
        && !k.starts_with("sk-")
    {
        problems.error(&s.child_path("master_key"), "must start with 'sk-' (as in LiteLLM)");
    }
    if g.max_request_size_mb.is_some_and(|m| m <= 0.0) {
        problems.error(&s.child_path("max_request_size_mb"), "must be positive");
    }
    s.finish(problems);
    g
}

#[cfg(test)]
mod tests;
