//! A cursor over one mapping of the configuration tree that types its keys,
//! records every problem with its path, and lists the keys nobody read.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::Problems;

/// One mapping of the config, consumed key by key.
#[derive(Debug)]
pub struct Section {
    path: String,
    map: Map<String, Value>,
}

impl Section {
    /// Opens `value` at `path` as a mapping; `null` is an empty mapping.
    pub fn open(path: impl Into<String>, value: Value, problems: &mut Problems) -> Option<Self> {
        let path = path.into();
        match value {
            Value::Object(map) => Some(Self { path, map }),
            Value::Null => Some(Self { path, map: Map::new() }),
            other => {
                problems.error(&path, format!("expected a mapping, found {}", kind_of(&other)));
                None
            }
        }
    }

    /// The path of this section (`model_list[0].litellm_params`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The path of a key in this section.
    pub fn child_path(&self, key: &str) -> String {
        if self.path.is_empty() { key.to_owned() } else { format!("{}.{key}", self.path) }
    }

    /// Removes and returns a raw value; `null` counts as absent.
    pub fn value(&mut self, key: &str) -> Option<Value> {
        match self.map.remove(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    /// Whether a key is present (and not null).
    pub fn has(&self, key: &str) -> bool {
        self.map.get(key).is_some_and(|v| !v.is_null())
    }

    /// A string; numbers and booleans are accepted and printed.
    pub fn string(&mut self, key: &str, problems: &mut Problems) -> Option<String> {
        match self.value(key)? {
            Value::String(s) => Some(s),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            other => {
                problems.error(&self.child_path(key), format!("expected a string, found {}", kind_of(&other)));
                None
            }
        }
    }

    /// A non-negative integer; numeric strings are accepted (as pydantic does).
    pub fn u64(&mut self, key: &str, problems: &mut Problems) -> Option<u64> {
        let v = self.value(key)?;
        let parsed = match &v {
            Value::Number(n) => n.as_u64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0).map(|f| f as u64)),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        if parsed.is_none() {
            problems.error(&self.child_path(key), format!("expected a non-negative integer, found {}", describe(&v)));
        }
        parsed
    }

    /// A number; numeric strings are accepted.
    pub fn f64(&mut self, key: &str, problems: &mut Problems) -> Option<f64> {
        let v = self.value(key)?;
        let parsed = match &v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        if parsed.is_none() {
            problems.error(&self.child_path(key), format!("expected a number, found {}", describe(&v)));
        }
        parsed
    }

    /// A boolean; `"true"`/`"false"` strings are accepted.
    pub fn bool(&mut self, key: &str, problems: &mut Problems) -> Option<bool> {
        let v = self.value(key)?;
        let parsed = match &v {
            Value::Bool(b) => Some(*b),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => Some(true),
                "false" | "no" | "0" => Some(false),
                _ => None,
            },
            _ => None,
        };
        if parsed.is_none() {
            problems.error(&self.child_path(key), format!("expected true or false, found {}", describe(&v)));
        }
        parsed
    }

    /// A nested mapping.
    pub fn section(&mut self, key: &str, problems: &mut Problems) -> Option<Section> {
        let path = self.child_path(key);
        let v = self.value(key)?;
        Section::open(path, v, problems)
    }

    /// A list.
    pub fn list(&mut self, key: &str, problems: &mut Problems) -> Option<Vec<Value>> {
        match self.value(key)? {
            Value::Array(items) => Some(items),
            other => {
                problems.error(&self.child_path(key), format!("expected a list, found {}", kind_of(&other)));
                None
            }
        }
    }

    /// A list of strings; a single string becomes a one-item list.
    pub fn string_list(&mut self, key: &str, problems: &mut Problems) -> Option<Vec<String>> {
        let path = self.child_path(key);
        match self.value(key)? {
            Value::String(s) => Some(vec![s]),
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.into_iter().enumerate() {
                    match item {
                        Value::String(s) => out.push(s),
                        other => problems.error(&format!("{path}[{i}]"), format!("expected a string, found {}", kind_of(&other))),
                    }
                }
                Some(out)
            }
            other => {
                problems.error(&path, format!("expected a list of strings, found {}", kind_of(&other)));
                None
            }
        }
    }

    /// Any serde type, with `expected` naming it in the error.
    pub fn typed<T: DeserializeOwned>(&mut self, key: &str, expected: &str, problems: &mut Problems) -> Option<T> {
        let v = self.value(key)?;
        match serde_json::from_value(v) {
            Ok(t) => Some(t),
            Err(e) => {
                problems.error(&self.child_path(key), format!("expected {expected}: {e}"));
                None
            }
        }
    }

    /// Takes every remaining key (for open-ended maps such as `model_info`).
    pub fn take_rest(&mut self) -> Map<String, Value> {
        std::mem::take(&mut self.map)
    }

    /// Records every key nobody consumed as ignored.
    pub fn finish(self, problems: &mut Problems) {
        for key in self.map.keys() {
            problems.ignore(if self.path.is_empty() { key.clone() } else { format!("{}.{key}", self.path) });
        }
    }
}

/// `a string`, `a list`, ... for error messages.
pub fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{s}\""),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => kind_of(other).to_owned(),
    }
}
