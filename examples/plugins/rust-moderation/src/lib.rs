//! An example third-party guardrail in Rust: sends each request's text to an
//! OpenAI-style moderation endpoint (`POST {url}` with `{"input": text}`,
//! answered `{"results": [{"flagged", "categories"}]}`) and blocks what it
//! flags, naming the categories. Settings: `url`, optional `api_key_secret`
//! (the name of a granted secret sent as a bearer token).
//!
//! Build with `tianji plugin build examples/plugins/rust-moderation`.

use serde::Deserialize;
use serde_json::Value;
use tianji_plugin_sdk::guardrail::{Guardrail, RequestVerdict};
use tianji_plugin_sdk::{CallContext, ChatRequest, Config};

#[derive(Deserialize)]
struct Settings {
    url: String,
    #[serde(default)]
    api_key_secret: Option<String>,
}

/// The guardrail.
pub struct Moderation {
    url: String,
    key: Option<String>,
}

/// The flagged categories of a moderation answer, or `None` when nothing was flagged.
pub fn flagged(answer: &Value) -> Result<Option<Vec<String>>, String> {
    let results = answer.get("results").and_then(Value::as_array).ok_or("the moderation answer has no results")?;
    let mut categories = Vec::new();
    let mut any = false;
    for r in results {
        if r.get("flagged").and_then(Value::as_bool).unwrap_or(false) {
            any = true;
            if let Some(c) = r.get("categories").and_then(Value::as_object) {
                categories.extend(c.iter().filter(|(_, v)| v.as_bool() == Some(true)).map(|(k, _)| k.clone()));
            }
        }
    }
    Ok(any.then_some(categories))
}

impl Guardrail for Moderation {
    fn new(config: &Config) -> Result<Self, String> {
        let s: Settings = config.parse()?;
        let key = match &s.api_key_secret {
            Some(name) => Some(
                tianji_plugin_sdk::secret(name)
                    .ok_or_else(|| format!("secret {name} is not granted (list it in the manifest's secrets)"))?,
            ),
            None => None,
        };
        Ok(Moderation { url: s.url, key })
    }

    fn check_request(&self, _ctx: &CallContext, request: &ChatRequest) -> Result<RequestVerdict, String> {
        let auth = self.key.as_ref().map(|k| format!("Bearer {k}"));
        let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
        let resp = tianji_plugin_sdk::http::post_json(&self.url, &headers, &serde_json::json!({"input": request.all_text()}))?;
        if resp.status != 200 {
            return Err(format!("the moderation endpoint answered {}", resp.status));
        }
        let answer: Value = serde_json::from_slice(&resp.body).map_err(|e| format!("the moderation answer is not JSON: {e}"))?;
        Ok(match flagged(&answer)? {
            Some(categories) => RequestVerdict::block("flagged by moderation", serde_json::json!({"categories": categories})),
            None => RequestVerdict::Allow,
        })
    }
}

#[cfg(target_arch = "wasm32")]
tianji_plugin_sdk::export_guardrail!(Moderation);

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn flagged_categories_are_named() {
        let answer = json!({"results": [{"flagged": true, "categories": {"violence": true, "hate": false}}]});
        assert_eq!(super::flagged(&answer), Ok(Some(vec!["violence".to_owned()])));
        assert_eq!(super::flagged(&json!({"results": [{"flagged": false}]})), Ok(None));
        assert!(super::flagged(&json!({})).is_err());
    }
}
