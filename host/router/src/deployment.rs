//! A deployment: one upstream model at one endpoint, its health (cooldown)
//! and its pre-registered metric handles.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use metrics::{Counter, Gauge, Histogram};
use tianji_core::config::{Env, LitellmParams, ModelInfo};
use tianji_core::traits::Provider;
use tianji_providers::http::HttpClient;
use tianji_providers::{DeploymentSpec, ProviderRegistry};

/// Milliseconds since the process started (monotonic).
pub fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

/// Failures and cooldown of one deployment, lock-free.
#[derive(Debug, Default)]
pub struct Health {
    cooldown_until_ms: AtomicU64,
    window_start_ms: AtomicU64,
    fails_in_window: AtomicU32,
    in_flight: AtomicU64,
}

impl Health {
    /// Whether the deployment is cooling down at `now`.
    pub fn cooling(&self, now: u64) -> bool {
        self.cooldown_until_ms.load(Ordering::Relaxed) > now
    }

    /// Milliseconds left in the cooldown.
    pub fn cooldown_left_ms(&self, now: u64) -> u64 {
        self.cooldown_until_ms.load(Ordering::Relaxed).saturating_sub(now)
    }

    /// Puts the deployment in cooldown for `d`.
    pub fn cool_down(&self, now: u64, d: Duration) {
        self.cooldown_until_ms.fetch_max(now + d.as_millis() as u64, Ordering::Relaxed);
        self.fails_in_window.store(0, Ordering::Relaxed);
    }

    /// Counts a failure; returns the failures in the current one-minute window.
    pub fn record_failure(&self, now: u64) -> u32 {
        let start = self.window_start_ms.load(Ordering::Relaxed);
        if now.saturating_sub(start) > 60_000 {
            self.window_start_ms.store(now, Ordering::Relaxed);
            self.fails_in_window.store(0, Ordering::Relaxed);
        }
        self.fails_in_window.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Calls in flight.
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Marks a call in flight until the guard drops.
    pub fn start(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }
}

/// Decrements the in-flight count on drop.
pub struct InFlight(Arc<Health>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Per-deployment metric handles, registered once at start-up, with
/// LiteLLM's names and labels (`requested_model`, `litellm_model_name`,
/// `model_id`, `api_base`, `api_provider`).
pub struct DeploymentMetrics {
    /// Successful attempts.
    pub success: Counter,
    /// Failed attempts.
    pub failure: Counter,
    /// Upstream latency of successful attempts, seconds.
    pub latency: Histogram,
    /// `litellm_deployment_state`: 0 healthy, 1 partial outage (last attempt failed), 2 complete outage (cooling down).
    pub state: Gauge,
    labels: Vec<(&'static str, String)>,
}

impl DeploymentMetrics {
    fn register(model_group: &str, id: &str, provider: &str, model: &str, api_base: &str) -> Self {
        let labels = vec![
            ("requested_model", model_group.to_owned()),
            ("litellm_model_name", model.to_owned()),
            ("model_id", id.to_owned()),
            ("api_base", api_base.to_owned()),
            ("api_provider", provider.to_owned()),
        ];
        Self {
            success: metrics::counter!("litellm_deployment_success_responses", &labels),
            failure: metrics::counter!("litellm_deployment_failure_responses", &labels),
            latency: metrics::histogram!("litellm_llm_api_latency_metric", &labels),
            state: metrics::gauge!("litellm_deployment_state", &labels),
            labels,
        }
    }

    /// Counts a cooldown (`litellm_deployment_cooled_down`, with the status that caused it).
    pub fn cooled_down(&self, exception_status: &str) {
        let mut labels = self.labels.clone();
        labels.push(("exception_status", exception_status.to_owned()));
        metrics::counter!("litellm_deployment_cooled_down", &labels).increment(1);
        self.state.set(2.0);
    }
}

/// How a deployment reaches its provider.
enum Target {
    /// A concrete model: built once.
    Fixed(Arc<dyn Provider>),
    /// A wildcard route (`openai/*`): the concrete adapter is built per requested model and kept.
    Wildcard(Box<WildcardTarget>),
}

struct WildcardTarget {
    registry: Arc<ProviderRegistry>,
    client: HttpClient,
    env: Env,
    built: RwLock<HashMap<String, Arc<dyn Provider>>>,
}

/// Most concrete models a wildcard deployment keeps adapters for.
const WILDCARD_CACHE_LIMIT: usize = 1024;

/// One entry of `model_list`, ready to serve.
pub struct Deployment {
    /// `model_info.id`, or a stable hash of the params.
    pub id: String,
    /// The model group (`model_name`), possibly a wildcard pattern.
    pub model_name: String,
    /// Provider name.
    pub provider_name: String,
    /// Params as configured (shown by `/model/info` without secrets).
    pub params: LitellmParams,
    /// Model info as configured.
    pub info: ModelInfo,
    /// Health and in-flight count.
    pub health: Arc<Health>,
    /// Metric handles.
    pub metrics: DeploymentMetrics,
    /// Prices, resolved once: `model_info`, else the cost map, else the catalog.
    pub pricing: Option<tianji_core::pricing::Pricing>,
    target: Target,
}

/// A deployment's prices: its `model_info` (`input_cost_per_token`,
/// `output_cost_per_token`, `input_cost_per_request`) when it sets any, else
/// the price of its `base_model` or upstream model name.
fn pricing_of(provider_name: &str, params: &LitellmParams, info: &ModelInfo) -> Option<tianji_core::pricing::Pricing> {
    let per_request = info.extra.get("input_cost_per_request").and_then(serde_json::Value::as_f64);
    if info.input_cost_per_token.is_some() || info.output_cost_per_token.is_some() || per_request.is_some() {
        return Some(tianji_core::pricing::Pricing {
            input_per_token: info.input_cost_per_token.unwrap_or(0.0),
            output_per_token: info.output_cost_per_token.unwrap_or(0.0),
            per_request: per_request.unwrap_or(0.0),
        });
    }
    let name = params.model.split_once('/').map(|(_, n)| n).unwrap_or(&params.model);
    tianji_core::pricing::lookup(provider_name, info.base_model.as_deref().unwrap_or(name))
}

/// A short stable id from the deployment's identifying params (FNV-1a, hex),
/// so a deployment keeps its id across restarts when `model_info.id` is unset.
fn stable_id(parts: &[&str]) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for p in parts {
        for b in p.bytes().chain([0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100000001b3);
        }
    }
    format!("{h:016x}")
}

impl Deployment {
    /// Builds a deployment with a concrete provider.
    pub fn fixed(model_name: String, provider_name: String, params: LitellmParams, info: ModelInfo, provider: Arc<dyn Provider>) -> Self {
        Self::new(model_name, provider_name, params, info, Target::Fixed(provider))
    }

    /// Builds a wildcard deployment (`model: openai/*`).
    pub fn wildcard(
        model_name: String,
        provider_name: String,
        params: LitellmParams,
        info: ModelInfo,
        registry: Arc<ProviderRegistry>,
        client: HttpClient,
        env: Env,
    ) -> Self {
        let target = Target::Wildcard(Box::new(WildcardTarget { registry, client, env, built: RwLock::new(HashMap::new()) }));
        Self::new(model_name, provider_name, params, info, target)
    }

    fn new(model_name: String, provider_name: String, params: LitellmParams, info: ModelInfo, target: Target) -> Self {
        let id = info.id.clone().unwrap_or_else(|| {
            let mock = params.mock_response.as_ref().map(ToString::to_string).unwrap_or_default();
            let numbers = format!("{:?}/{:?}/{:?}/{:?}", params.rpm, params.tpm, params.weight, params.region_name);
            stable_id(&[
                &model_name,
                &params.model,
                params.api_base.as_deref().unwrap_or(""),
                params.api_version.as_deref().unwrap_or(""),
                &mock,
                &numbers,
            ])
        });
        let api_base = match &target {
            Target::Fixed(p) => p.api_base().map(str::to_owned),
            Target::Wildcard(_) => None,
        }
        .or_else(|| params.api_base.clone())
        .unwrap_or_default();
        let metrics = DeploymentMetrics::register(&model_name, &id, &provider_name, &params.model, &api_base);
        let pricing = pricing_of(&provider_name, &params, &info);
        Self { id, model_name, provider_name, params, info, health: Arc::new(Health::default()), metrics, pricing, target }
    }

    /// Gives the deployment another id (to keep ids unique when two entries are identical).
    pub fn with_id(mut self, id: String) -> Self {
        let api_base = self.api_base().unwrap_or_default().to_owned();
        self.metrics = DeploymentMetrics::register(&self.model_name, &id, &self.provider_name, &self.params.model, &api_base);
        self.id = id;
        self
    }

    /// Whether this deployment serves a pattern of model names.
    pub fn is_wildcard(&self) -> bool {
        matches!(self.target, Target::Wildcard(_))
    }

    /// The adapter for a requested model (`requested` matters only for wildcards).
    pub fn provider_for(&self, requested: &str) -> Result<Arc<dyn Provider>, String> {
        match &self.target {
            Target::Fixed(p) => Ok(p.clone()),
            Target::Wildcard(w) => {
                let concrete = expand_wildcard(&self.model_name, &self.params.model, requested)
                    .ok_or_else(|| format!("model '{requested}' does not match route '{}'", self.model_name))?;
                if let Some(p) = w.built.read().ok().and_then(|m| m.get(&concrete).cloned()) {
                    return Ok(p);
                }
                let (provider, upstream) = w.registry.resolve(&concrete, self.params.custom_llm_provider.as_deref())?;
                let spec = DeploymentSpec { provider: &provider, upstream_model: &upstream, params: &self.params, env: &w.env };
                let built = w.registry.build(&spec, &w.client)?;
                if let Ok(mut m) = w.built.write() {
                    if m.len() >= WILDCARD_CACHE_LIMIT {
                        m.clear();
                    }
                    m.insert(concrete, built.clone());
                }
                Ok(built)
            }
        }
    }

    /// `api_base` for response headers.
    pub fn api_base(&self) -> Option<&str> {
        match &self.target {
            Target::Fixed(p) => p.api_base(),
            Target::Wildcard(_) => self.params.api_base.as_deref(),
        }
    }
}

/// Whether `requested` matches the pattern `model_name` (one `*`), returning what the `*` stood for.
pub fn match_wildcard<'a>(pattern: &str, requested: &'a str) -> Option<&'a str> {
    let (prefix, suffix) = pattern.split_once('*')?;
    if requested.len() >= prefix.len() + suffix.len() && requested.starts_with(prefix) && requested.ends_with(suffix) {
        Some(&requested[prefix.len()..requested.len() - suffix.len()])
    } else {
        None
    }
}

/// The concrete `litellm_params.model` for a requested model on a wildcard route.
///
/// `model_name: "*"`, `model: "openai/*"`, request `gpt-4o` → `openai/gpt-4o`;
/// `model_name: "anthropic/*"`, `model: "anthropic/*"`, request `anthropic/claude-x` → `anthropic/claude-x`.
pub fn expand_wildcard(pattern: &str, litellm_model: &str, requested: &str) -> Option<String> {
    let captured = match_wildcard(pattern, requested)?;
    if litellm_model.contains('*') { Some(litellm_model.replacen('*', captured, 1)) } else { Some(litellm_model.to_owned()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_expand_like_litellm() {
        assert_eq!(expand_wildcard("*", "openai/*", "gpt-4o").as_deref(), Some("openai/gpt-4o"));
        assert_eq!(expand_wildcard("anthropic/*", "anthropic/*", "anthropic/claude-3").as_deref(), Some("anthropic/claude-3"));
        assert_eq!(expand_wildcard("groq/*", "groq/*", "openai/gpt-4o"), None);
        assert_eq!(expand_wildcard("*", "*", "groq/llama").as_deref(), Some("groq/llama"));
    }

    #[test]
    fn health_cooldown_and_window() {
        let h = Health::default();
        assert_eq!(h.record_failure(100), 1);
        assert_eq!(h.record_failure(200), 2);
        assert_eq!(h.record_failure(70_000), 1, "a new minute starts a new window");
        h.cool_down(1_000, Duration::from_secs(5));
        assert!(h.cooling(5_999));
        assert!(!h.cooling(6_000));
    }
}
