//! Renders [`GatewayError`] as an HTTP response in OpenAI's error shape,
//! with `retry-after` for 429/503 and the routing headers when known.

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, header};
use tianji_core::GatewayError;

/// A gateway error on its way to the client, with extra headers.
#[derive(Debug)]
pub struct ApiError {
    /// The error.
    pub error: GatewayError,
    /// Headers to add (`x-litellm-*`).
    pub headers: HeaderMap,
}

impl From<GatewayError> for ApiError {
    fn from(error: GatewayError) -> Self {
        Self { error, headers: HeaderMap::new() }
    }
}

/// The response for an error, by value, for handlers and extractors alike.
pub fn error_response(error: &GatewayError, mut headers: HeaderMap) -> Response {
    let body = serde_json::to_vec(&error.to_body()).unwrap_or_default();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let retry_after =
        error.retry_after.or((error.status == http::StatusCode::TOO_MANY_REQUESTS).then_some(std::time::Duration::from_secs(1)));
    if let Some(after) = retry_after {
        let secs = after.as_secs_f64().ceil().max(1.0) as u64;
        headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    let mut resp = (error.status, body).into_response();
    resp.headers_mut().extend(headers);
    resp
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        metrics::counter!(
            "litellm_proxy_failed_requests_metric",
            "exception_status" => self.error.status.as_str().to_owned(),
            "exception_class" => self.error.openai_type()
        )
        .increment(1);
        error_response(&self.error, self.headers)
    }
}
