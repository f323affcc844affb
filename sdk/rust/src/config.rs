//! The plugin's configuration, as the operator set it.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// The plugin's configuration: the manifest's defaults overlaid with the
/// operator's settings (for a guardrail, its `litellm_params` minus the keys
/// the proxy itself reads).
#[derive(Debug, Clone, Default)]
pub struct Config {
    values: Map<String, Value>,
}

impl Config {
    /// Reads the configuration the host holds for this instance.
    pub fn load() -> Result<Self, String> {
        Self::from_json(&crate::__private::host_config())
    }

    /// Parses a configuration from JSON text (an object).
    pub fn from_json(json: &str) -> Result<Self, String> {
        match serde_json::from_str::<Value>(json) {
            Ok(Value::Object(values)) => Ok(Self { values }),
            Ok(Value::Null) => Ok(Self::default()),
            Ok(other) => Err(format!("plugin config must be an object, got {other}")),
            Err(e) => Err(format!("plugin config is not valid JSON: {e}")),
        }
    }

    /// The whole configuration as a typed value; errors name the field.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, String> {
        serde_json::from_value(Value::Object(self.values.clone())).map_err(|e| format!("invalid plugin config: {e}"))
    }

    /// One setting as a typed value; `Ok(None)` when absent.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, String> {
        match self.values.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => serde_json::from_value(v.clone()).map(Some).map_err(|e| format!("invalid plugin config `{key}`: {e}")),
        }
    }

    /// The raw settings.
    pub fn values(&self) -> &Map<String, Value> {
        &self.values
    }
}
