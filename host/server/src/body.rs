//! The JSON body extractor: a size limit that answers 413, and decode errors
//! that answer 400 naming the offending field, both in OpenAI's shape.

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;
use tianji_core::{ErrorKind, GatewayError};

use crate::error::ApiError;
use crate::state::AppState;

/// A request body decoded as `T`, within `general_settings.max_request_size_mb`.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request<Body>, state: &AppState) -> Result<Self, Self::Rejection> {
        let limit = state.max_body_bytes;
        let bytes = axum::body::to_bytes(req.into_body(), limit).await.map_err(|e| {
            let too_large = std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if too_large {
                GatewayError::new(
                    ErrorKind::PayloadTooLarge,
                    format!(
                        "Request size is too large. Request size is over the limit of {:.1} MB (general_settings.max_request_size_mb)",
                        limit as f64 / (1024.0 * 1024.0)
                    ),
                )
            } else {
                GatewayError::bad_request(format!("could not read the request body: {e}"), None)
            }
        })?;
        decode(&bytes).map(JsonBody).map_err(ApiError::from)
    }
}

/// Decodes JSON, turning serde's message into a 400 with the field as `param`.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, GatewayError> {
    if bytes.is_empty() {
        return Err(GatewayError::bad_request("Request body is empty; expected a JSON object", None));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            return GatewayError::bad_request(format!("Malformed JSON in request body: {e}"), None);
        }
        // Decode again, tracking the path, only on this error path (it costs time).
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let path = match serde_path_to_error::deserialize::<_, T>(&mut de) {
            Err(pe) => Some(pe.path().to_string()).filter(|p| p != "."),
            Ok(_) => None,
        };
        let msg = e.to_string();
        let param = match (path, field_of(&msg)) {
            // A missing field is reported at its parent's path; name the field itself.
            (Some(p), Some(f)) if msg.starts_with("missing field") => Some(format!("{p}.{f}")),
            (Some(p), _) => Some(p),
            (None, f) => f,
        };
        GatewayError::bad_request(format!("Invalid request body: {msg}"), param.as_deref())
    })
}

/// Pulls the field name out of serde messages like "missing field `messages`".
fn field_of(msg: &str) -> Option<String> {
    let start = msg.find('`')? + 1;
    let end = start + msg[start..].find('`')?;
    let field = &msg[start..end];
    (msg.contains("field")).then(|| field.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tianji_core::types::ChatRequest;

    #[test]
    fn missing_field_is_named() {
        // A missing `messages` decodes (a managed prompt may supply them); the
        // handler refuses it with param `messages` when no prompt does.
        let e = decode::<ChatRequest>(br#"{"model":"m", "messages": [}"#).expect_err("error");
        assert!(e.message.starts_with("Malformed JSON"), "{}", e.message);
        let e = decode::<ChatRequest>(br#"{"model":"m","messages":"hi"}"#).expect_err("error");
        assert_eq!(e.param.as_deref(), Some("messages"));
        assert_eq!(e.status.as_u16(), 400);
        let e =
            decode::<ChatRequest>(br#"{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":"hot"}"#).expect_err("error");
        assert_eq!(e.param.as_deref(), Some("temperature"));
        let e = decode::<ChatRequest>(br#"{"model":"m","messages":[{"content":"x"}]}"#).expect_err("error");
        assert_eq!(e.param.as_deref(), Some("messages[0].role"));
    }
}
