//! The router: model groups (several deployments under one `model_name`),
//! wildcard routes, aliases, deployment selection through a
//! [`RoutingStrategy`], retries with backoff, fallbacks to other groups,
//! per-attempt timeouts, and cooldown of failing deployments.
//!
//! The router does not know what a call does: [`Router::execute`] takes a
//! closure that performs one attempt on the deployment it was given, so
//! chat, streams, embeddings and the rest share one retry/fallback policy.
#![deny(missing_docs)]

pub mod deployment;
pub mod strategy;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tianji_core::config::{AliasTarget, Config, FallbackRule, Problems};
use tianji_core::traits::{CallOptions, Candidate, Provider, RoutingStrategy};
use tianji_core::types::Message;
use tianji_core::{ErrorKind, GatewayError};
use tianji_providers::http::HttpClient;
use tianji_providers::mock::MockProvider;
use tianji_providers::{DeploymentSpec, ProviderRegistry};

pub use deployment::Deployment;
use deployment::now_ms;

/// Router-wide settings, resolved from `router_settings` and `litellm_settings`.
#[derive(Debug, Clone)]
pub struct RouterSettings {
    /// Retries per model group.
    pub num_retries: u32,
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// Per-attempt timeout for streams, when set.
    pub stream_timeout: Option<Duration>,
    /// Failures per minute before a deployment cools down.
    pub allowed_fails: u32,
    /// Whether `allowed_fails` was configured; if not, single-deployment groups never cool down (as in LiteLLM).
    pub allowed_fails_set: bool,
    /// Cooldown length.
    pub cooldown: Duration,
    /// Never cool down.
    pub disable_cooldowns: bool,
    /// Minimum wait before retrying a rate-limited call.
    pub retry_after: Duration,
    /// Skip deployments whose context window the prompt exceeds.
    pub pre_call_checks: bool,
    /// Generic fallbacks.
    pub fallbacks: Vec<FallbackRule>,
    /// Context-window fallbacks.
    pub context_window_fallbacks: Vec<FallbackRule>,
    /// Content-policy fallbacks.
    pub content_policy_fallbacks: Vec<FallbackRule>,
    /// Fallbacks for groups without their own.
    pub default_fallbacks: Vec<String>,
    /// Drop parameters a provider does not support.
    pub drop_params: bool,
}

/// Retries when nothing configures them (the OpenAI client's default, as LiteLLM uses).
pub const DEFAULT_NUM_RETRIES: u32 = 2;
/// Failures per minute before cooldown when `allowed_fails` is unset.
pub const DEFAULT_ALLOWED_FAILS: u32 = 3;
/// Cooldown when `cooldown_time` is unset (LiteLLM's 5 s).
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(5);
/// Per-attempt timeout when nothing sets one (LiteLLM's `request_timeout` default, 6000 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(6000);
/// Most retries a request may ask for.
pub const MAX_REQUEST_RETRIES: u32 = 10;
/// Longest single backoff between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

impl RouterSettings {
    /// Resolves the settings; `router_settings` wins over `litellm_settings`.
    pub fn from_config(c: &Config) -> Self {
        let r = &c.router_settings;
        let l = &c.litellm_settings;
        let secs = |s: f64| tianji_core::types::duration_from_secs(s).max(Duration::from_millis(1));
        let merged = |a: &[FallbackRule], b: &[FallbackRule]| a.iter().chain(b.iter()).cloned().collect::<Vec<_>>();
        Self {
            num_retries: r.num_retries.or(l.num_retries).unwrap_or(DEFAULT_NUM_RETRIES),
            timeout: r.timeout.or(l.request_timeout).map(secs).unwrap_or(DEFAULT_TIMEOUT),
            stream_timeout: r.stream_timeout.map(secs),
            allowed_fails: r.allowed_fails.unwrap_or(DEFAULT_ALLOWED_FAILS),
            allowed_fails_set: r.allowed_fails.is_some(),
            cooldown: r.cooldown_time.map(secs).unwrap_or(DEFAULT_COOLDOWN),
            disable_cooldowns: r.disable_cooldowns,
            retry_after: r.retry_after.map(secs).unwrap_or(Duration::ZERO),
            pre_call_checks: r.enable_pre_call_checks,
            fallbacks: merged(&r.fallbacks, &l.fallbacks),
            context_window_fallbacks: merged(&r.context_window_fallbacks, &l.context_window_fallbacks),
            content_policy_fallbacks: merged(&r.content_policy_fallbacks, &l.content_policy_fallbacks),
            default_fallbacks: if r.default_fallbacks.is_empty() { l.default_fallbacks.clone() } else { r.default_fallbacks.clone() },
            drop_params: l.drop_params,
        }
    }
}

/// A fallback target given in a request: a model group, optionally with its own messages.
#[derive(Debug, Clone, PartialEq)]
pub struct FallbackTarget {
    /// Model group.
    pub model: String,
    /// Messages to send instead of the request's.
    pub messages: Option<Vec<Message>>,
}

/// LiteLLM's per-request controls, taken out of the request body.
#[derive(Debug, Clone, Default)]
pub struct Controls {
    /// Request-level fallbacks (replace the config's).
    pub fallbacks: Option<Vec<FallbackTarget>>,
    /// Request-level retries.
    pub num_retries: Option<u32>,
    /// Request-level per-attempt timeout.
    pub timeout: Option<Duration>,
    /// Fail the first group with a mock error to exercise fallbacks.
    pub mock_testing_fallbacks: bool,
    /// Fail the first group with a mock 429.
    pub mock_testing_rate_limit_error: bool,
    /// Make each attempt time out after its timeout.
    pub mock_timeout: bool,
    /// The request carries its own `mock_response`: its failures are the client's, not the deployment's.
    pub client_mock: bool,
    /// Whether the call is a stream (selects `stream_timeout`).
    pub stream: bool,
    /// Estimated prompt tokens, for pre-call context-window checks.
    pub prompt_tokens: Option<u64>,
}

/// One attempt the router asks the caller to make.
pub struct Attempt {
    /// The adapter to call.
    pub provider: Arc<dyn Provider>,
    /// Deadline and call id.
    pub opts: CallOptions,
    /// The model name to send (the requested one, or a fallback group's).
    pub model: String,
    /// Messages replacing the request's (a fallback given with its own messages).
    pub messages: Option<Vec<Message>>,
    /// The deployment's `mock_response`-free default params are applied by the provider; this
    /// is the deployment, for callers that need its info.
    pub deployment: Arc<Deployment>,
}

/// What the client learns about how a call was routed (LiteLLM's `x-litellm-*` headers).
#[derive(Debug, Clone, Default)]
pub struct RouteMeta {
    /// Model group that answered (or was tried last).
    pub model_group: String,
    /// Whether `model_group` names a configured group (false: the requested name was unknown).
    pub resolved: bool,
    /// Deployment id.
    pub model_id: Option<String>,
    /// API base of that deployment.
    pub api_base: Option<String>,
    /// `region_name` of that deployment.
    pub region: Option<String>,
    /// Provider of that deployment.
    pub provider: Option<String>,
    /// Retries made (all groups).
    pub attempted_retries: u32,
    /// Fallback groups tried.
    pub attempted_fallbacks: u32,
    /// Retries allowed per group.
    pub max_retries: u32,
    /// Per-attempt timeout used.
    pub timeout: Duration,
    /// Time spent waiting on upstreams.
    pub upstream_time: Duration,
    /// Prices of the deployment that answered.
    pub pricing: Option<tianji_core::pricing::Pricing>,
}

/// A routed call's result with its routing facts.
pub struct Routed<T> {
    /// The result.
    pub value: T,
    /// How it was routed.
    pub meta: RouteMeta,
    /// Counts the call as in flight on its deployment until dropped; keep it
    /// alive for as long as a streamed answer is being relayed.
    pub in_flight: Option<deployment::InFlight>,
}

impl<T> std::fmt::Debug for Routed<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Routed").field("meta", &self.meta).finish_non_exhaustive()
    }
}

/// A routed call that failed, with its routing facts.
#[derive(Debug)]
pub struct RouteFailure {
    /// The error for the client.
    pub error: GatewayError,
    /// How far routing got.
    pub meta: RouteMeta,
}

/// The model groups and how to call them.
pub struct Router {
    groups: HashMap<String, Vec<Arc<Deployment>>>,
    group_order: Vec<String>,
    wildcards: Vec<(String, Vec<Arc<Deployment>>)>,
    aliases: HashMap<String, AliasTarget>,
    strategy: Arc<dyn RoutingStrategy>,
    settings: RouterSettings,
}

impl Router {
    /// Builds every deployment of the config, recording problems with their paths.
    pub fn build(config: &Config, registry: Arc<ProviderRegistry>, client: HttpClient, problems: &mut Problems) -> Router {
        let settings = RouterSettings::from_config(config);
        let mut router = Router {
            groups: HashMap::new(),
            group_order: Vec::new(),
            wildcards: Vec::new(),
            aliases: config.router_settings.model_group_alias.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            strategy: Arc::new(strategy::SimpleShuffle),
            settings,
        };
        let mut seen_ids = std::collections::HashSet::new();
        for d in &config.model_list {
            let params_path = format!("{}.litellm_params", d.path);
            let resolved = if d.litellm_params.model == "*" {
                // `model: "*"` passes any `provider/model` through; the provider is resolved per request.
                Ok(("any".to_owned(), "*".to_owned()))
            } else {
                registry.resolve(&d.litellm_params.model, d.litellm_params.custom_llm_provider.as_deref())
            };
            let (provider, upstream) = match resolved {
                Ok(r) => r,
                Err(e) => {
                    problems.error(&format!("{params_path}.model"), e);
                    continue;
                }
            };
            let implemented = provider == "any" || registry.is_implemented(&provider);
            if !implemented && d.litellm_params.mock_response.is_none() {
                problems.ignore(format!(
                    "{params_path}.model (provider '{provider}' is not supported yet; calls to this deployment answer 501)"
                ));
            }
            let accepted = registry.accepted_params(&provider);
            for key in d.litellm_params.extra.keys() {
                if implemented && !accepted.contains(&key.as_str()) {
                    problems.ignore(format!("{params_path}.{key}"));
                }
            }
            let deployment = if let Some(mock) = &d.litellm_params.mock_response {
                let p: Arc<dyn Provider> = MockProvider::new(&provider, &upstream, mock.clone());
                Deployment::fixed(d.model_name.clone(), provider, d.litellm_params.clone(), d.model_info.clone(), p)
            } else if upstream.contains('*') || d.model_name.contains('*') {
                if !d.model_name.contains('*') {
                    problems.error(
                        &format!("{}.model_name", d.path),
                        "a wildcard model needs a wildcard model_name (e.g. \"*\" or \"openai/*\")",
                    );
                    continue;
                }
                Deployment::wildcard(
                    d.model_name.clone(),
                    provider,
                    d.litellm_params.clone(),
                    d.model_info.clone(),
                    registry.clone(),
                    client.clone(),
                    config.env.clone(),
                )
            } else {
                let spec = DeploymentSpec { provider: &provider, upstream_model: &upstream, params: &d.litellm_params, env: &config.env };
                match registry.build(&spec, &client) {
                    Ok(p) => Deployment::fixed(d.model_name.clone(), provider, d.litellm_params.clone(), d.model_info.clone(), p),
                    Err(e) => {
                        problems.error(&params_path, e);
                        continue;
                    }
                }
            };
            let deployment = if seen_ids.contains(&deployment.id) {
                if d.model_info.id.is_some() {
                    problems.error(&format!("{}.model_info.id", d.path), format!("duplicate deployment id '{}'", deployment.id));
                }
                let id = format!("{}-{}", deployment.id, seen_ids.len());
                deployment.with_id(id)
            } else {
                deployment
            };
            seen_ids.insert(deployment.id.clone());
            router.add(Arc::new(deployment));
        }
        // Built last: strategies that learn per deployment need the final ids.
        router.strategy = match strategy::by_name(
            config.router_settings.routing_strategy.as_deref(),
            &config.router_settings.routing_strategy_args,
            router.deployments().map(|d| d.id.clone()).collect::<Vec<_>>(),
        ) {
            Ok(s) => {
                if let Some(name) = config.router_settings.routing_strategy.as_deref()
                    && strategy::NOT_YET_SUPPORTED.contains(&name)
                {
                    problems.ignore(format!("router_settings.routing_strategy ({name} is not supported yet; using simple-shuffle)"));
                }
                s
            }
            Err(e) => {
                problems.error("router_settings.routing_strategy", e);
                Arc::new(strategy::SimpleShuffle)
            }
        };
        // Longest literal prefix first, so `anthropic/*` wins over `*`.
        router.wildcards.sort_by_key(|(pattern, _)| std::cmp::Reverse(pattern.replace('*', "").len()));
        router.check_references(config, problems);
        router
    }

    fn add(&mut self, d: Arc<Deployment>) {
        if d.model_name.contains('*') {
            match self.wildcards.iter_mut().find(|(p, _)| *p == d.model_name) {
                Some((_, list)) => list.push(d),
                None => self.wildcards.push((d.model_name.clone(), vec![d])),
            }
        } else {
            let name = d.model_name.clone();
            let list = self.groups.entry(name.clone()).or_default();
            if list.is_empty() {
                self.group_order.push(name);
            }
            list.push(d);
        }
    }

    fn check_references(&self, config: &Config, problems: &mut Problems) {
        let r = &config.router_settings;
        let l = &config.litellm_settings;
        let rules = [
            ("router_settings.fallbacks", &r.fallbacks),
            ("router_settings.context_window_fallbacks", &r.context_window_fallbacks),
            ("router_settings.content_policy_fallbacks", &r.content_policy_fallbacks),
            ("litellm_settings.fallbacks", &l.fallbacks),
            ("litellm_settings.context_window_fallbacks", &l.context_window_fallbacks),
            ("litellm_settings.content_policy_fallbacks", &l.content_policy_fallbacks),
        ];
        for (path, list) in rules {
            for rule in list {
                for to in &rule.to {
                    if self.resolve(to).is_none() {
                        problems.error(&format!("{path}.{}", rule.from), format!("fallback to unknown model group '{to}'"));
                    }
                }
            }
        }
        for (alias, target) in &self.aliases {
            if self.resolve_direct(&target.model).is_none() {
                problems.error(
                    &format!("router_settings.model_group_alias.{alias}"),
                    format!("alias of unknown model group '{}'", target.model),
                );
            }
        }
    }

    /// The resolved router settings.
    pub fn settings(&self) -> &RouterSettings {
        &self.settings
    }

    /// Exact groups, in config order.
    pub fn group_names(&self) -> &[String] {
        &self.group_order
    }

    /// Deployments of an exact group.
    pub fn group(&self, name: &str) -> Option<&[Arc<Deployment>]> {
        self.groups.get(name).map(Vec::as_slice)
    }

    /// Wildcard routes: pattern and deployments.
    pub fn wildcard_routes(&self) -> impl Iterator<Item = (&str, &[Arc<Deployment>])> {
        self.wildcards.iter().map(|(p, d)| (p.as_str(), d.as_slice()))
    }

    /// Aliases (`model_group_alias`).
    pub fn aliases(&self) -> &HashMap<String, AliasTarget> {
        &self.aliases
    }

    /// Every deployment, exact groups first.
    pub fn deployments(&self) -> impl Iterator<Item = &Arc<Deployment>> {
        self.group_order.iter().filter_map(|g| self.groups.get(g)).chain(self.wildcards.iter().map(|(_, d)| d)).flatten()
    }

    fn resolve_direct(&self, model: &str) -> Option<(&str, &[Arc<Deployment>])> {
        if let Some((name, list)) = self.groups.get_key_value(model) {
            return Some((name.as_str(), list.as_slice()));
        }
        self.wildcards.iter().find(|(p, _)| deployment::match_wildcard(p, model).is_some()).map(|(p, list)| (p.as_str(), list.as_slice()))
    }

    /// The group serving `model` (exact name, then alias, then wildcard route),
    /// and the model name to send.
    pub fn resolve(&self, model: &str) -> Option<(&str, &[Arc<Deployment>], String)> {
        if let Some(list) = self.groups.get(model) {
            return Some((model_key(&self.groups, model), list.as_slice(), model.to_owned()));
        }
        if let Some(alias) = self.aliases.get(model) {
            return self.resolve_direct(&alias.model).map(|(g, d)| (g, d, alias.model.clone()));
        }
        self.resolve_direct(model).map(|(g, d)| (g, d, model.to_owned()))
    }

    /// Names a client may call, for error messages.
    pub fn available_models(&self) -> Vec<String> {
        let mut v: Vec<String> = self.group_order.clone();
        v.extend(self.aliases.iter().filter(|(_, a)| !a.hidden).map(|(k, _)| k.clone()));
        v.extend(self.wildcards.iter().map(|(p, _)| p.clone()));
        v
    }

    /// The error for a model nobody serves (LiteLLM's wording, plus what exists).
    pub fn unknown_model(&self, model: &str) -> GatewayError {
        GatewayError::bad_request(
            format!(
                "Invalid model name passed in model={model}. Call `/v1/models` to view available models for your key. Available models: {}",
                self.available_models().join(", ")
            ),
            Some("model"),
        )
    }

    fn fallbacks_for(&self, group: &str, requested: &str, err: &GatewayError, controls: &Controls) -> Vec<FallbackTarget> {
        let from_rules = |rules: &[FallbackRule]| -> Option<Vec<FallbackTarget>> {
            rules
                .iter()
                .find(|r| r.from == group || r.from == requested)
                .or_else(|| rules.iter().find(|r| r.from == "*"))
                .map(|r| r.to.iter().map(|m| FallbackTarget { model: m.clone(), messages: None }).collect())
        };
        let specific = match err.kind {
            ErrorKind::ContextWindowExceeded => from_rules(&self.settings.context_window_fallbacks),
            ErrorKind::ContentPolicy => from_rules(&self.settings.content_policy_fallbacks),
            _ => None,
        };
        if let Some(s) = specific {
            return s;
        }
        let generic_allowed = err.allows_fallback() || matches!(err.kind, ErrorKind::ContextWindowExceeded | ErrorKind::ContentPolicy);
        if !generic_allowed {
            return Vec::new();
        }
        if let Some(f) = &controls.fallbacks {
            return f.clone();
        }
        from_rules(&self.settings.fallbacks).unwrap_or_else(|| {
            self.settings.default_fallbacks.iter().map(|m| FallbackTarget { model: m.clone(), messages: None }).collect()
        })
    }

    fn attempt_timeout(&self, d: &Deployment, controls: &Controls) -> Duration {
        controls.timeout.unwrap_or_else(|| self.deployment_timeout(d, controls))
    }

    /// The deployment's own per-attempt timeout (the request's override aside).
    fn deployment_timeout(&self, d: &Deployment, controls: &Controls) -> Duration {
        let secs = |s: f64| tianji_core::types::duration_from_secs(s).max(Duration::from_millis(1));
        if controls.stream {
            if let Some(t) = d.params.stream_timeout {
                return secs(t);
            }
            if let Some(t) = self.settings.stream_timeout {
                return t;
            }
        }
        d.params.timeout.map(secs).unwrap_or(self.settings.timeout)
    }

    /// Runs `op` on a deployment of `model`'s group, retrying and falling back
    /// as configured, and reports how the call was routed.
    pub async fn execute<T, F, Fut>(
        &self,
        model: &str,
        controls: &Controls,
        call_id: &str,
        mut op: F,
    ) -> Result<Routed<T>, Box<RouteFailure>>
    where
        F: FnMut(Attempt) -> Fut,
        Fut: Future<Output = Result<T, GatewayError>>,
    {
        let mut meta = RouteMeta { model_group: model.to_owned(), ..Default::default() };
        let mut queue = vec![FallbackTarget { model: model.to_owned(), messages: None }];
        let mut next = 0;
        let mut last_error: Option<GatewayError> = None;
        while next < queue.len() {
            let target = queue[next].clone();
            let primary = next == 0;
            next += 1;
            if !primary {
                meta.attempted_fallbacks += 1;
            }
            let Some((group, deployments, send_model)) = self.resolve(&target.model) else {
                if primary {
                    return Err(Box::new(RouteFailure { error: self.unknown_model(model), meta }));
                }
                continue;
            };
            meta.model_group = group.to_owned();
            meta.resolved = true;
            match self.try_group(group, deployments, &send_model, &target, primary, controls, call_id, &mut meta, &mut op).await {
                Ok((value, in_flight)) => return Ok(Routed { value, meta, in_flight: Some(in_flight) }),
                Err(e) => {
                    if primary {
                        let fallbacks = self.fallbacks_for(group, model, &e, controls);
                        if !fallbacks.is_empty() {
                            tracing::info!(call_id, model_group = group, error = %e, fallbacks = ?fallbacks.iter().map(|f| &f.model).collect::<Vec<_>>(), "falling back");
                        }
                        queue.extend(fallbacks);
                    }
                    last_error = Some(e);
                }
            }
        }
        let error = last_error.unwrap_or_else(|| self.unknown_model(model));
        Err(Box::new(RouteFailure { error, meta }))
    }

    #[allow(clippy::too_many_arguments)]
    async fn try_group<T, F, Fut>(
        &self,
        group: &str,
        deployments: &[Arc<Deployment>],
        send_model: &str,
        target: &FallbackTarget,
        primary: bool,
        controls: &Controls,
        call_id: &str,
        meta: &mut RouteMeta,
        op: &mut F,
    ) -> Result<(T, deployment::InFlight), GatewayError>
    where
        F: FnMut(Attempt) -> Fut,
        Fut: Future<Output = Result<T, GatewayError>>,
    {
        // A deployment's `max_retries` sets the retries of its group; the request's own wins.
        let group_retries = deployments.iter().filter_map(|d| d.params.max_retries).max();
        let retries = controls.num_retries.or(group_retries).unwrap_or(self.settings.num_retries);
        meta.max_retries = retries;
        if primary && controls.mock_testing_fallbacks {
            return Err(GatewayError::new(
                ErrorKind::UpstreamServer,
                format!("This is a mock exception for model={group}, to trigger a fallback."),
            ));
        }
        if primary && controls.mock_testing_rate_limit_error {
            return Err(GatewayError::new(ErrorKind::RateLimited, format!("This is a mock rate limit error for model={group}."))
                .with_retry_after(Some(Duration::from_secs(1))));
        }
        let mut tried: Vec<usize> = Vec::new();
        let mut last: Option<GatewayError> = None;
        for attempt in 0..=retries {
            let now = now_ms();
            let Some(idx) = self.pick(deployments, &tried, now, controls) else {
                if let Some(e) = last {
                    return Err(e);
                }
                return Err(self.no_deployments(group, deployments, now, controls));
            };
            tried.push(idx);
            let d = deployments[idx].clone();
            meta.model_id = Some(d.id.clone());
            meta.api_base = d.api_base().map(str::to_owned);
            meta.region = d.params.region_name.clone();
            meta.provider = Some(d.provider_name.clone());
            meta.pricing = d.pricing;
            let timeout = self.attempt_timeout(&d, controls);
            meta.timeout = timeout;
            let provider = match d.provider_for(send_model) {
                Ok(p) => p,
                Err(e) => return Err(GatewayError::bad_request(e, Some("model"))),
            };
            let started = Instant::now();
            let in_flight = d.health.start();
            let result = {
                if controls.mock_timeout {
                    tokio::time::sleep(timeout).await;
                    Err(tianji_providers::http::timeout_error(&d.provider_name, timeout))
                } else {
                    let attempt_req = Attempt {
                        provider,
                        opts: CallOptions { timeout, call_id: call_id.to_owned() },
                        model: send_model.to_owned(),
                        messages: target.messages.clone(),
                        deployment: d.clone(),
                    };
                    op(attempt_req).await
                }
            };
            let elapsed = started.elapsed();
            meta.upstream_time += elapsed;
            self.strategy.on_result(&d.id, elapsed, result.is_ok());
            match result {
                Ok(v) => {
                    d.metrics.success.increment(1);
                    d.metrics.state.set(0.0);
                    d.metrics.latency.record(elapsed.as_secs_f64());
                    return Ok((v, in_flight));
                }
                Err(e) => {
                    drop(in_flight);
                    d.metrics.failure.increment(1);
                    d.metrics.state.set(1.0);
                    tracing::warn!(call_id, model_group = group, deployment = %d.id, attempt, error = %e, "upstream attempt failed");
                    // Failures the client provoked (mock controls, a timeout shorter than the
                    // deployment's own) say nothing about the deployment's health.
                    let client_caused = controls.mock_timeout
                        || controls.client_mock
                        || (e.kind == ErrorKind::Timeout && controls.timeout.is_some_and(|t| t < self.deployment_timeout(&d, controls)));
                    // As in LiteLLM, a group's only deployment cools down only when allowed_fails is configured.
                    let may_cool = deployments.len() > 1 || self.settings.allowed_fails_set;
                    if e.counts_as_deployment_failure() && !self.settings.disable_cooldowns && !client_caused && may_cool {
                        let now = now_ms();
                        let immediate = deployments.len() > 1
                            && matches!(
                                e.kind,
                                ErrorKind::RateLimited | ErrorKind::Authentication | ErrorKind::NotFound | ErrorKind::Timeout
                            );
                        let fails = d.health.record_failure(now);
                        if immediate || fails > self.settings.allowed_fails {
                            let cooldown = e
                                .retry_after
                                .filter(|r| *r > self.settings.cooldown && *r < Duration::from_secs(300))
                                .unwrap_or(self.settings.cooldown);
                            tracing::warn!(call_id, deployment = %d.id, cooldown_s = cooldown.as_secs_f64(), "deployment cooling down");
                            d.health.cool_down(now, cooldown);
                            d.metrics.cooled_down(e.status.as_str());
                        }
                    }
                    let retryable = e.is_retryable();
                    if !retryable || attempt == retries {
                        return Err(e);
                    }
                    meta.attempted_retries += 1;
                    let another = self.pick(deployments, &tried, now_ms(), controls).is_some_and(|i| !tried.contains(&i));
                    if !another {
                        tokio::time::sleep(self.backoff(attempt, &e)).await;
                    }
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| GatewayError::internal("retry loop ended without an attempt")))
    }

    fn backoff(&self, attempt: u32, e: &GatewayError) -> Duration {
        let exp = if e.kind == ErrorKind::RateLimited { Duration::from_millis(500) } else { Duration::from_millis(100) }
            * 2u32.saturating_pow(attempt);
        let jitter = Duration::from_millis(fastrand::u64(0..50));
        let wait = e.retry_after.unwrap_or(exp).max(self.settings.retry_after) + jitter;
        wait.min(MAX_BACKOFF)
    }

    /// Picks a healthy deployment, preferring ones not tried yet in this group.
    fn pick(&self, deployments: &[Arc<Deployment>], tried: &[usize], now: u64, controls: &Controls) -> Option<usize> {
        let fits = |d: &Deployment| {
            !self.settings.pre_call_checks
                || match (controls.prompt_tokens, d.info.max_input_tokens) {
                    (Some(p), Some(max)) => p <= max,
                    _ => true,
                }
        };
        let healthy: Vec<usize> =
            (0..deployments.len()).filter(|&i| !deployments[i].health.cooling(now) && fits(&deployments[i])).collect();
        let fresh: Vec<usize> = healthy.iter().copied().filter(|i| !tried.contains(i)).collect();
        let pool = if fresh.is_empty() { healthy } else { fresh };
        match pool.len() {
            0 => None,
            1 => Some(pool[0]),
            _ => {
                let source = WeightSource::of(pool.iter().map(|&i| &deployments[i].params));
                let candidates: Vec<Candidate<'_>> = pool
                    .iter()
                    .map(|&i| Candidate {
                        id: &deployments[i].id,
                        weight: source.weight(&deployments[i].params),
                        in_flight: deployments[i].health.in_flight(),
                    })
                    .collect();
                Some(pool[self.strategy.pick(&candidates)])
            }
        }
    }

    fn no_deployments(&self, group: &str, deployments: &[Arc<Deployment>], now: u64, controls: &Controls) -> GatewayError {
        let cooling: Vec<&Arc<Deployment>> = deployments.iter().filter(|d| d.health.cooling(now)).collect();
        if cooling.is_empty() && self.settings.pre_call_checks && controls.prompt_tokens.is_some() {
            return GatewayError::new(
                ErrorKind::ContextWindowExceeded,
                format!(
                    "The prompt (~{} tokens) exceeds the context window of every deployment of model={group}",
                    controls.prompt_tokens.unwrap_or_default()
                ),
            );
        }
        let wait_ms = cooling.iter().map(|d| d.health.cooldown_left_ms(now)).min().unwrap_or(0);
        let wait_s = wait_ms.div_ceil(1000).max(1);
        let ids: Vec<&str> = cooling.iter().map(|d| d.id.as_str()).collect();
        GatewayError::new(
            ErrorKind::NoDeploymentsAvailable,
            format!("No deployments available for selected model, Try again in {wait_s} seconds. Passed model={group}. All deployments are cooling down after failures: cooldown_list={ids:?}"),
        )
        .with_retry_after(Some(Duration::from_secs(wait_s)))
    }
}

/// Which parameter weighs deployments in `simple-shuffle`, decided for the whole
/// group as LiteLLM does: `weight` if any deployment has one, else `rpm`, else
/// `tpm`; a deployment without the chosen parameter weighs 0.
enum WeightSource {
    Weight,
    Rpm,
    Tpm,
    Equal,
}

impl WeightSource {
    fn of<'a>(params: impl Iterator<Item = &'a tianji_core::config::LitellmParams> + Clone) -> Self {
        if params.clone().any(|p| p.weight.is_some()) {
            WeightSource::Weight
        } else if params.clone().any(|p| p.rpm.is_some()) {
            WeightSource::Rpm
        } else if params.clone().any(|p| p.tpm.is_some()) {
            WeightSource::Tpm
        } else {
            WeightSource::Equal
        }
    }

    fn weight(&self, p: &tianji_core::config::LitellmParams) -> f64 {
        match self {
            WeightSource::Weight => p.weight.unwrap_or(0.0),
            WeightSource::Rpm => p.rpm.map(|r| r as f64).unwrap_or(0.0),
            WeightSource::Tpm => p.tpm.map(|t| t as f64).unwrap_or(0.0),
            WeightSource::Equal => 1.0,
        }
    }
}

fn model_key<'a>(groups: &'a HashMap<String, Vec<Arc<Deployment>>>, model: &str) -> &'a str {
    groups.get_key_value(model).map(|(k, _)| k.as_str()).unwrap_or_default()
}

/// Parses request-level `fallbacks`: names, or `{model, messages}` objects,
/// or LiteLLM's `[{"group": ["fallback"]}]` rule shape.
pub fn parse_request_fallbacks(v: &Value, requested: &str) -> Result<Vec<FallbackTarget>, GatewayError> {
    let bad = |msg: &str| GatewayError::bad_request(format!("fallbacks: {msg}"), Some("fallbacks"));
    let Value::Array(items) = v else { return Err(bad("expected a list")) };
    let mut out = Vec::new();
    for item in items {
        match item {
            Value::String(m) => out.push(FallbackTarget { model: m.clone(), messages: None }),
            Value::Object(map) if map.contains_key("model") => {
                let model = map.get("model").and_then(Value::as_str).ok_or_else(|| bad("model must be a string"))?;
                let messages = match map.get("messages") {
                    None | Some(Value::Null) => None,
                    Some(m) => Some(serde_json::from_value(m.clone()).map_err(|e| bad(&format!("invalid messages: {e}")))?),
                };
                out.push(FallbackTarget { model: model.to_owned(), messages });
            }
            Value::Object(map) => {
                for (from, to) in map {
                    if from != requested && from != "*" {
                        continue;
                    }
                    let list = to.as_array().ok_or_else(|| bad("expected {\"model\": [\"fallback\", ...]}"))?;
                    for m in list {
                        let m = m.as_str().ok_or_else(|| bad("fallback names must be strings"))?;
                        out.push(FallbackTarget { model: m.to_owned(), messages: None });
                    }
                }
            }
            _ => return Err(bad("expected model names or {model, messages} objects")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
