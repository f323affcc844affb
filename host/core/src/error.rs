//! The one error type of the request path.
//!
//! Every failure a client can see is a [`GatewayError`]. It knows its HTTP
//! status, its OpenAI error `type` and `code`, whether a retry may help, and
//! whether it came from the upstream or from the gateway itself. The server
//! renders it as OpenAI's `{"error": {"message", "type", "param", "code"}}`.

use std::time::Duration;

use http::StatusCode;
use serde::Serialize;

/// Where an error came from: the client's request, the gateway, or the upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorSource {
    /// The client sent something the gateway refuses.
    Downstream,
    /// The gateway failed on its own (config, internal, no capacity).
    Gateway,
    /// The upstream provider answered with an error or could not be reached.
    Upstream,
}

/// What kind of failure happened; drives status, OpenAI `type`, retry and fallback policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Malformed or invalid request (400).
    BadRequest,
    /// Missing or invalid credentials (401).
    Authentication,
    /// Valid credentials without the right to do this (403).
    PermissionDenied,
    /// Unknown resource (404).
    NotFound,
    /// Request took too long (408 from the gateway's own timeout).
    Timeout,
    /// Request body over the configured limit (413).
    PayloadTooLarge,
    /// The prompt does not fit the model's context window (400).
    ContextWindowExceeded,
    /// The provider refused the content (400).
    ContentPolicy,
    /// Rate limited by the upstream or by the gateway (429).
    RateLimited,
    /// Every deployment of the group is cooling down (429).
    NoDeploymentsAvailable,
    /// The upstream answered with a server error (5xx).
    UpstreamServer,
    /// The upstream could not be reached (connection refused, reset, DNS).
    UpstreamConnection,
    /// The feature exists in LiteLLM but not (yet) here (501).
    NotSupported,
    /// A bug or an unexpected state in the gateway (500).
    Internal,
}

/// A failure on the request path, rendered to the client in OpenAI's error shape.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct GatewayError {
    /// What kind of failure this is.
    pub kind: ErrorKind,
    /// Who caused it.
    pub origin: ErrorSource,
    /// Human-readable message, shown to the client.
    pub message: String,
    /// The HTTP status returned to the client.
    pub status: StatusCode,
    /// The request field at fault, if any (`param` in the OpenAI body).
    pub param: Option<String>,
    /// OpenAI `code`, if any; defaults to the status as a string.
    pub code: Option<String>,
    /// How long the client should wait before retrying (429/503).
    pub retry_after: Option<Duration>,
    /// Which provider produced the error, for upstream errors.
    pub provider: Option<String>,
    /// Structured details (a guardrail's violation), rendered as `error.details`.
    pub details: Option<Box<serde_json::Value>>,
    /// LiteLLM's specific error `type` (`budget_exceeded`, `expired_key`, ...),
    /// where it names one instead of the kind's OpenAI type.
    pub error_type: Option<&'static str>,
}

impl GatewayError {
    /// Builds an error of `kind` with the kind's default status.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        let (status, source) = match kind {
            ErrorKind::BadRequest => (StatusCode::BAD_REQUEST, ErrorSource::Downstream),
            ErrorKind::Authentication => (StatusCode::UNAUTHORIZED, ErrorSource::Downstream),
            ErrorKind::PermissionDenied => (StatusCode::FORBIDDEN, ErrorSource::Downstream),
            ErrorKind::NotFound => (StatusCode::NOT_FOUND, ErrorSource::Downstream),
            ErrorKind::Timeout => (StatusCode::REQUEST_TIMEOUT, ErrorSource::Upstream),
            ErrorKind::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, ErrorSource::Downstream),
            ErrorKind::ContextWindowExceeded => (StatusCode::BAD_REQUEST, ErrorSource::Upstream),
            ErrorKind::ContentPolicy => (StatusCode::BAD_REQUEST, ErrorSource::Upstream),
            ErrorKind::RateLimited => (StatusCode::TOO_MANY_REQUESTS, ErrorSource::Upstream),
            ErrorKind::NoDeploymentsAvailable => (StatusCode::TOO_MANY_REQUESTS, ErrorSource::Gateway),
            ErrorKind::UpstreamServer => (StatusCode::INTERNAL_SERVER_ERROR, ErrorSource::Upstream),
            ErrorKind::UpstreamConnection => (StatusCode::INTERNAL_SERVER_ERROR, ErrorSource::Upstream),
            ErrorKind::NotSupported => (StatusCode::NOT_IMPLEMENTED, ErrorSource::Gateway),
            ErrorKind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, ErrorSource::Gateway),
        };
        Self {
            kind,
            origin: source,
            message: message.into(),
            status,
            param: None,
            code: None,
            retry_after: None,
            provider: None,
            details: None,
            error_type: None,
        }
    }

    /// A 400 naming the offending request field.
    pub fn bad_request(message: impl Into<String>, param: Option<&str>) -> Self {
        let mut e = Self::new(ErrorKind::BadRequest, message);
        e.param = param.map(str::to_owned);
        e
    }

    /// A 501 for a feature that is not supported yet.
    pub fn not_supported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotSupported, message)
    }

    /// A 500 for an unexpected state inside the gateway.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// A 401 with LiteLLM's wording.
    pub fn authentication(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Authentication, message)
    }

    /// Overrides the HTTP status (e.g. an upstream 503 stays a 503).
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Sets `retry-after`.
    pub fn with_retry_after(mut self, after: Option<Duration>) -> Self {
        self.retry_after = after;
        self
    }

    /// Records the provider that produced the error.
    pub fn with_provider(mut self, provider: &str) -> Self {
        self.provider = Some(provider.to_owned());
        self
    }

    /// Names the request field at fault (`param`).
    pub fn with_param(mut self, param: &str) -> Self {
        self.param = Some(param.to_owned());
        self
    }

    /// Sets LiteLLM's specific error `type`.
    pub fn with_type(mut self, error_type: &'static str) -> Self {
        self.error_type = Some(error_type);
        self
    }

    /// Sets the OpenAI `code`.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Whether retrying the same request (possibly on another deployment) may help.
    ///
    /// Rate limits, server errors, timeouts and connection errors may; client
    /// errors (400/401/403/404/413) never do.
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, ErrorKind::RateLimited | ErrorKind::UpstreamServer | ErrorKind::UpstreamConnection | ErrorKind::Timeout)
    }

    /// Whether a generic fallback to another model group may help.
    ///
    /// Everything but malformed client requests: a model that rejects auth,
    /// is missing or is overloaded may be replaced by another.
    pub fn allows_fallback(&self) -> bool {
        !matches!(
            self.kind,
            ErrorKind::BadRequest
                | ErrorKind::PayloadTooLarge
                | ErrorKind::NotSupported
                | ErrorKind::ContextWindowExceeded
                | ErrorKind::ContentPolicy
        )
    }

    /// Whether this failure counts against the deployment's health (cooldown).
    pub fn counts_as_deployment_failure(&self) -> bool {
        self.origin == ErrorSource::Upstream
            && matches!(
                self.kind,
                ErrorKind::RateLimited
                    | ErrorKind::UpstreamServer
                    | ErrorKind::UpstreamConnection
                    | ErrorKind::Timeout
                    | ErrorKind::Authentication
                    | ErrorKind::NotFound
            )
    }

    /// LiteLLM's exception class for this error, which LiteLLM puts at the
    /// start of its messages (`litellm.RateLimitError: ...`) and clients match on.
    pub fn litellm_class(&self) -> &'static str {
        match self.kind {
            ErrorKind::BadRequest | ErrorKind::PayloadTooLarge => "BadRequestError",
            ErrorKind::Authentication => "AuthenticationError",
            ErrorKind::PermissionDenied => "PermissionDeniedError",
            ErrorKind::NotFound => "NotFoundError",
            ErrorKind::Timeout => "Timeout",
            ErrorKind::ContextWindowExceeded => "ContextWindowExceededError",
            ErrorKind::ContentPolicy => "ContentPolicyViolationError",
            ErrorKind::RateLimited | ErrorKind::NoDeploymentsAvailable => "RateLimitError",
            ErrorKind::UpstreamServer if self.status == StatusCode::SERVICE_UNAVAILABLE => "ServiceUnavailableError",
            ErrorKind::UpstreamServer | ErrorKind::Internal => "InternalServerError",
            ErrorKind::UpstreamConnection => "APIConnectionError",
            ErrorKind::NotSupported => "UnsupportedParamsError",
        }
    }

    /// OpenAI's error `type` for this kind.
    pub fn openai_type(&self) -> &'static str {
        match self.kind {
            ErrorKind::BadRequest | ErrorKind::ContextWindowExceeded | ErrorKind::ContentPolicy => "invalid_request_error",
            ErrorKind::PayloadTooLarge => "invalid_request_error",
            ErrorKind::Authentication => "auth_error",
            ErrorKind::PermissionDenied => "permission_error",
            ErrorKind::NotFound => "not_found_error",
            ErrorKind::Timeout => "timeout",
            ErrorKind::RateLimited | ErrorKind::NoDeploymentsAvailable => "rate_limit_error",
            ErrorKind::UpstreamServer | ErrorKind::UpstreamConnection => "api_error",
            ErrorKind::NotSupported => "not_supported",
            ErrorKind::Internal => "internal_server_error",
        }
    }

    /// The OpenAI-shaped body: `{"error": {"message", "type", "param", "code"}}`.
    pub fn to_body(&self) -> ErrorBody<'_> {
        ErrorBody {
            error: ErrorDetail {
                message: &self.message,
                r#type: self.error_type.unwrap_or_else(|| self.openai_type()),
                param: self.param.as_deref(),
                code: self.code.clone().unwrap_or_else(|| self.status.as_u16().to_string()),
                details: self.details.as_deref(),
            },
        }
    }

    /// Classifies an upstream HTTP error by status and body, as LiteLLM maps provider exceptions.
    pub fn from_upstream_status(
        provider: &str,
        status: StatusCode,
        message: String,
        code: Option<String>,
        retry_after: Option<Duration>,
    ) -> Self {
        let lower = message.to_ascii_lowercase();
        let code_lower = code.as_deref().unwrap_or("").to_ascii_lowercase();
        let kind = match status.as_u16() {
            400 | 413 | 422
                if code_lower == "context_length_exceeded"
                    || lower.contains("maximum context length")
                    || lower.contains("context length")
                    || lower.contains("context window")
                    || lower.contains("too many tokens")
                    || lower.contains("prompt is too long")
                    || lower.contains("exceeds the maximum number of tokens")
                    || lower.contains("input is too long")
                    || lower.contains("too many input tokens")
                    || lower.contains("exceed the total tokens limit") =>
            {
                ErrorKind::ContextWindowExceeded
            }
            400 if code_lower == "content_filter"
                || code_lower == "content_policy_violation"
                || lower.contains("content management policy")
                || lower.contains("content_policy") =>
            {
                ErrorKind::ContentPolicy
            }
            400 | 422 => ErrorKind::BadRequest,
            401 => ErrorKind::Authentication,
            403 => ErrorKind::PermissionDenied,
            404 => ErrorKind::NotFound,
            408 => ErrorKind::Timeout,
            413 => ErrorKind::PayloadTooLarge,
            429 => ErrorKind::RateLimited,
            s if s >= 500 => ErrorKind::UpstreamServer,
            _ => ErrorKind::BadRequest,
        };
        let mut e = Self::new(kind, String::new());
        e.status = status;
        e.message = format!(
            "litellm.{class}: {class}: {exception} - {message}",
            class = e.litellm_class(),
            exception = provider_exception(provider)
        );
        e.origin = ErrorSource::Upstream;
        e.code = code;
        e.retry_after = retry_after;
        e.provider = Some(provider.to_owned());
        e
    }
}

/// LiteLLM's name for a provider's exceptions (`OpenAIException`, `AzureException`, `GroqException`).
fn provider_exception(provider: &str) -> String {
    match provider {
        "openai" | "text-completion-openai" | "openai_like" | "mock" => "OpenAIException".to_owned(),
        "azure" => "AzureException".to_owned(),
        "vertex_ai" | "vertex_ai_beta" => "VertexAIException".to_owned(),
        other => {
            let mut c = other.chars();
            match c.next() {
                Some(f) => format!("{}{}Exception", f.to_uppercase(), c.as_str()),
                None => "Exception".to_owned(),
            }
        }
    }
}

/// Serialized form of [`GatewayError`].
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    /// The error object.
    pub error: ErrorDetail<'a>,
}

/// The inner `error` object of OpenAI's error body.
#[derive(Debug, Serialize)]
pub struct ErrorDetail<'a> {
    /// Human-readable message.
    pub message: &'a str,
    /// OpenAI error type.
    pub r#type: &'static str,
    /// Offending parameter.
    pub param: Option<&'a str>,
    /// Error code (LiteLLM uses the status as a string).
    pub code: String,
    /// Structured details, when there are any (a guardrail's violation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<&'a serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_classification() {
        let e = GatewayError::from_upstream_status(
            "openai",
            StatusCode::BAD_REQUEST,
            "This model's maximum context length is 8192 tokens".into(),
            None,
            None,
        );
        assert_eq!(e.kind, ErrorKind::ContextWindowExceeded);
        assert!(
            e.message.starts_with("litellm.ContextWindowExceededError: ContextWindowExceededError: OpenAIException - "),
            "{}",
            e.message
        );
        assert!(!e.is_retryable());
        let e = GatewayError::from_upstream_status("openai", StatusCode::TOO_MANY_REQUESTS, "slow down".into(), None, None);
        assert!(e.is_retryable());
        assert!(e.allows_fallback());
        let e = GatewayError::from_upstream_status("openai", StatusCode::BAD_REQUEST, "bad".into(), None, None);
        assert!(!e.is_retryable());
        assert!(!e.allows_fallback());
        let e = GatewayError::from_upstream_status("openai", StatusCode::SERVICE_UNAVAILABLE, "down".into(), None, None);
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(e.is_retryable());
    }

    #[test]
    fn body_shape() {
        let e = GatewayError::bad_request("messages is required", Some("messages"));
        let v = serde_json::to_value(e.to_body()).unwrap_or_default();
        assert_eq!(v["error"]["param"], "messages");
        assert_eq!(v["error"]["code"], "400");
        assert_eq!(v["error"]["type"], "invalid_request_error");
    }
}
