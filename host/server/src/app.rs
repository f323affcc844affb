//! The axum application: every route LiteLLM clients call, with OpenAI-shaped 404s.

use axum::Router;
use axum::routing::{get, post};

use crate::handlers::management::keys;
use crate::handlers::{chat, completions, embeddings, health, images, method_not_allowed, models, moderations, not_found};
use crate::plugins;
use crate::state::AppState;

/// Builds the HTTP application.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat::chat_completions))
        .route("/chat/completions", post(chat::chat_completions))
        .route("/openai/deployments/{model}/chat/completions", post(chat::chat_completions_for))
        .route("/engines/{model}/chat/completions", post(chat::chat_completions_for))
        .route("/v1/completions", post(completions::completions))
        .route("/completions", post(completions::completions))
        .route("/openai/deployments/{model}/completions", post(completions::completions_for))
        .route("/v1/embeddings", post(embeddings::embeddings))
        .route("/embeddings", post(embeddings::embeddings))
        .route("/openai/deployments/{model}/embeddings", post(embeddings::embeddings_for))
        .route("/v1/moderations", post(moderations::moderations))
        .route("/moderations", post(moderations::moderations))
        .route("/v1/images/generations", post(images::generations))
        .route("/images/generations", post(images::generations))
        .route("/v1/models", get(models::list))
        .route("/models", get(models::list))
        .route("/v1/models/{*id}", get(models::retrieve))
        .route("/models/{*id}", get(models::retrieve))
        .route("/model/info", get(models::model_info))
        .route("/v1/model/info", get(models::model_info))
        .route("/v2/model/info", get(models::model_info_v2))
        .route("/model_group/info", get(models::model_group_info))
        .route("/health/liveliness", get(health::liveliness))
        .route("/health/liveness", get(health::liveliness))
        .route("/health/readiness", get(health::readiness))
        .route("/metrics", get(health::metrics))
        .route("/metrics/", get(health::metrics))
        .route("/plugins", get(plugins::list))
        .route("/plugins/reload", post(plugins::reload))
        .route("/guardrails/list", get(plugins::guardrails_list))
        .route("/key/generate", post(keys::generate))
        .route("/key/info", get(keys::info))
        .route("/key/update", post(keys::update))
        .route("/key/delete", post(keys::delete))
        .route("/key/list", get(keys::list))
        .route("/key/regenerate", post(keys::regenerate))
        .route("/key/{key}/regenerate", post(keys::regenerate_path))
        .route("/key/block", post(keys::block))
        .route("/key/unblock", post(keys::unblock))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}
