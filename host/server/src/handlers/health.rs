//! Health and metrics endpoints (open without a key, as in LiteLLM).

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};
use serde_json::json;

use crate::state::AppState;

/// `GET /health/liveliness`: the process is up.
pub async fn liveliness() -> Json<&'static str> {
    Json("I'm alive!")
}

/// `GET /health/readiness`: the proxy can serve.
pub async fn readiness(State(state): State<AppState>) -> Json<serde_json::Value> {
    let secret_manager = match &state.secrets {
        Some(s) => s.health().await,
        None => serde_json::Value::Null,
    };
    Json(json!({
        "secret_manager": secret_manager,
        "status": "healthy",
        "db": "Not connected",
        "cache": null,
        "litellm_version": env!("CARGO_PKG_VERSION"),
        "tianji_version": env!("CARGO_PKG_VERSION"),
        "success_callbacks": [],
        "use_aiohttp_transport": false,
        "log_level": std::env::var("LITELLM_LOG").unwrap_or_else(|_| "INFO".to_owned()),
        "is_detailed_debug": std::env::var("LITELLM_LOG").is_ok_and(|l| l.eq_ignore_ascii_case("debug")),
        "model_groups": state.router.load().group_names().len(),
        "uptime_seconds": state.started.elapsed().as_secs(),
    }))
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    state.metrics.run_upkeep();
    let mut r = state.metrics.render().into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    r
}
