//! Logs and metrics: `tracing` to stdout (JSON with `--json-logs`, level from
//! `RUST_LOG` or `LITELLM_LOG`), and a Prometheus recorder for `/metrics`.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

/// Latency buckets in seconds, from sub-millisecond overhead to long generations.
const LATENCY_BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0];

/// Installs the global Prometheus recorder once and returns its handle.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            // `_total` on counters, as LiteLLM's prometheus_client exports them.
            let builder = PrometheusBuilder::new()
                .with_recommended_naming(true)
                .set_buckets_for_metric(Matcher::Suffix("latency_metric".into()), LATENCY_BUCKETS)
                .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS));
            let recorder = match builder {
                Ok(b) => b.build_recorder(),
                Err(_) => PrometheusBuilder::new().build_recorder(),
            };
            let handle = recorder.handle();
            // Another recorder may already be installed (tests); the handle still renders ours.
            let _ = metrics::set_global_recorder(recorder);
            describe();
            handle
        })
        .clone()
}

fn describe() {
    metrics::describe_counter!("litellm_proxy_total_requests_metric", "Requests to the proxy, by route, model and status");
    metrics::describe_counter!("litellm_proxy_failed_requests_metric", "Requests that ended in an error, by status and class");
    // No unit on histograms: recommended naming would append `_seconds` and break LiteLLM's names.
    metrics::describe_histogram!("litellm_request_total_latency_metric", "Seconds from request to response head, by route and model group");
    metrics::describe_histogram!("litellm_llm_api_latency_metric", "Upstream latency per deployment, seconds");
    metrics::describe_counter!("litellm_deployment_success_responses", "Successful upstream attempts per deployment");
    metrics::describe_counter!("litellm_deployment_failure_responses", "Failed upstream attempts per deployment");
    metrics::describe_gauge!("litellm_deployment_state", "0 healthy, 1 partial outage, 2 complete outage (cooling down)");
    metrics::describe_counter!("litellm_deployment_cooled_down", "Times a deployment was put in cooldown, by the status that caused it");
}

/// Logs of the command-line tools (`tianji plugin ...`): to stderr, warnings
/// only unless `RUST_LOG` says otherwise, so their stdout stays machine-readable.
pub fn init_tool_tracing() {
    let filter = std::env::var("RUST_LOG").ok().and_then(|s| EnvFilter::try_new(s).ok()).unwrap_or_else(|| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_writer(std::io::stderr).compact().try_init();
}

/// Sets up logging. `LITELLM_LOG=DEBUG` is honoured like `RUST_LOG=debug`.
pub fn init_tracing(json: bool) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .or_else(|| std::env::var("LITELLM_LOG").ok().map(|l| l.to_ascii_lowercase()))
        .and_then(|s| EnvFilter::try_new(s).ok())
        .unwrap_or_else(|| EnvFilter::new("info,hyper=warn,reqwest=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    if json {
        let _ = builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init();
    } else {
        let _ = builder.compact().try_init();
    }
}
