//! [`Reply`]: a response that is either typed or still the upstream's bytes.
//!
//! OpenAI-format upstreams answer in the shape the client wants, so the
//! gateway relays their bytes unchanged and reads only `usage`; parsing into
//! the typed model happens on demand, when a stage (a guardrail, the cache)
//! needs it. Adapters that translate build the typed form directly.

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Usage;
use crate::error::{ErrorKind, GatewayError};

/// A response body: typed, or raw JSON with its usage already read.
#[derive(Debug, Clone)]
pub enum Reply<T> {
    /// Built or parsed by the gateway.
    Parsed(T),
    /// The upstream's JSON, relayed as is.
    Raw {
        /// The JSON body.
        bytes: Bytes,
        /// `usage` from the body, if any.
        usage: Option<Usage>,
        /// Upstream response headers relayed to the client (`x-ratelimit-*`); empty for stream chunks.
        headers: http::HeaderMap,
    },
}

#[derive(serde::Deserialize)]
struct UsageOnly {
    #[serde(default)]
    usage: Option<Usage>,
}

/// Types that carry token usage.
pub trait HasUsage {
    /// The usage, if reported.
    fn usage(&self) -> Option<&Usage>;
}

impl<T: HasUsage + Serialize + DeserializeOwned> Reply<T> {
    /// Wraps an upstream body, reading only its `usage` (and checking it is JSON).
    pub fn from_upstream(provider: &str, bytes: Bytes) -> Result<Self, GatewayError> {
        let env: UsageOnly = serde_json::from_slice(&bytes).map_err(|e| {
            GatewayError::new(ErrorKind::UpstreamServer, format!("{provider} returned an invalid response: {e}")).with_provider(provider)
        })?;
        Ok(Reply::Raw { bytes, usage: env.usage, headers: http::HeaderMap::new() })
    }

    /// Upstream headers to relay to the client (none for typed replies).
    pub fn upstream_headers(&self) -> Option<&http::HeaderMap> {
        match self {
            Reply::Raw { headers, .. } if !headers.is_empty() => Some(headers),
            _ => None,
        }
    }

    /// Token usage.
    pub fn usage(&self) -> Option<&Usage> {
        match self {
            Reply::Parsed(t) => t.usage(),
            Reply::Raw { usage, .. } => usage.as_ref(),
        }
    }

    /// The typed form, parsing the raw bytes the first time.
    pub fn parsed(&mut self) -> Result<&mut T, GatewayError> {
        if let Reply::Raw { bytes, .. } = self {
            let t: T = serde_json::from_slice(bytes)
                .map_err(|e| GatewayError::new(ErrorKind::UpstreamServer, format!("upstream response does not parse: {e}")))?;
            *self = Reply::Parsed(t);
        }
        match self {
            Reply::Parsed(t) => Ok(t),
            Reply::Raw { .. } => Err(GatewayError::internal("reply left unparsed")),
        }
    }

    /// The typed form, by value.
    pub fn into_parsed(mut self) -> Result<T, GatewayError> {
        self.parsed()?;
        match self {
            Reply::Parsed(t) => Ok(t),
            Reply::Raw { .. } => Err(GatewayError::internal("reply left unparsed")),
        }
    }

    /// The JSON body for the client.
    pub fn to_bytes(&self) -> Result<Bytes, GatewayError> {
        match self {
            Reply::Raw { bytes, .. } => Ok(bytes.clone()),
            Reply::Parsed(t) => {
                serde_json::to_vec(t).map(Bytes::from).map_err(|e| GatewayError::internal(format!("cannot encode response: {e}")))
            }
        }
    }
}

impl<T> From<T> for Reply<T> {
    fn from(t: T) -> Self {
        Reply::Parsed(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ChatResponse;

    #[test]
    fn raw_relays_bytes_and_parses_on_demand() {
        let body = Bytes::from_static(br#"{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi","annotations":[]},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4},"service_tier":"default"}"#);
        let mut r: Reply<ChatResponse> = Reply::from_upstream("openai", body.clone()).expect("json");
        assert_eq!(r.usage().map(|u| u.total_tokens), Some(4));
        assert_eq!(r.to_bytes().expect("bytes"), body, "relayed byte for byte");
        assert_eq!(r.parsed().expect("parse").choices[0].message.text_content(), "hi");
        let again = r.to_bytes().expect("bytes");
        let v: serde_json::Value = serde_json::from_slice(&again).expect("json");
        assert_eq!(v["service_tier"], "default");
        assert_eq!(v["choices"][0]["message"]["annotations"], serde_json::json!([]));
        assert!(Reply::<ChatResponse>::from_upstream("openai", Bytes::from_static(b"not json")).is_err());
    }
}
