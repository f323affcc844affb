//! The guardrail's settings, as LiteLLM's `litellm_content_filter` takes
//! them under `litellm_params`, and the built-in category data.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Deserializer};

/// What a rule does when it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Refuse the request or response.
    Block,
    /// Redact the match and let the rest through.
    Mask,
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.to_ascii_uppercase().as_str() {
            "BLOCK" => Ok(Action::Block),
            "MASK" => Ok(Action::Mask),
            _ => Err(serde::de::Error::custom(format!("action must be BLOCK or MASK, found {s:?}"))),
        }
    }
}

/// Keyword severity; a category uses the keywords at or above its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Mild.
    Low,
    /// Default threshold.
    Medium,
    /// Severe.
    High,
}

impl Severity {
    /// `low`, `medium`, `high`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

impl<'de> Deserialize<'de> for Severity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.to_ascii_lowercase().as_str() {
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            _ => Err(serde::de::Error::custom(format!("severity must be low, medium or high, found {s:?}"))),
        }
    }
}

/// One `patterns` entry.
#[derive(Debug, Deserialize)]
pub struct PatternConfig {
    /// `prebuilt` or `regex`.
    pub pattern_type: String,
    /// For `prebuilt`.
    pub pattern_name: Option<String>,
    /// For `regex`.
    pub pattern: Option<String>,
    /// A label for a custom regex (default `custom_regex`).
    pub name: Option<String>,
    /// BLOCK or MASK.
    pub action: Action,
}

impl PatternConfig {
    /// The pattern's name and regex source.
    pub fn resolve(&self) -> Result<(String, String), String> {
        match self.pattern_type.to_ascii_lowercase().as_str() {
            "prebuilt" => {
                let name = self.pattern_name.as_deref().ok_or("pattern_name is required for a prebuilt pattern")?;
                let regex = crate::patterns::lookup(name).ok_or_else(|| {
                    format!("Unknown pattern name: '{name}'. Available patterns: {}", crate::patterns::names().join(", "))
                })?;
                Ok((name.to_string(), regex.to_string()))
            }
            "regex" => {
                let regex = self.pattern.as_deref().ok_or("pattern is required for a regex pattern")?;
                Ok((self.name.clone().unwrap_or_else(|| "custom_regex".into()), regex.to_string()))
            }
            other => Err(format!("pattern_type must be prebuilt or regex, found {other:?}")),
        }
    }
}

/// One `blocked_words` entry.
#[derive(Debug, Clone, Deserialize)]
pub struct WordConfig {
    /// The word or phrase (matched case-insensitively, as a substring).
    pub keyword: String,
    /// BLOCK or MASK.
    pub action: Action,
    /// Shown in the block message.
    pub description: Option<String>,
}

/// One `categories` entry.
#[derive(Debug, Deserialize)]
pub struct CategoryConfig {
    /// The category's name.
    pub category: String,
    /// Off switch.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Overrides the category's default action.
    pub action: Option<Action>,
    /// Overrides the top-level threshold.
    pub severity_threshold: Option<Severity>,
}

fn yes() -> bool {
    true
}

fn medium() -> Severity {
    Severity::Medium
}

fn pattern_format() -> String {
    "[{pattern_name}_REDACTED]".into()
}

fn keyword_tag() -> String {
    "[KEYWORD_REDACTED]".into()
}

/// The whole configuration.
#[derive(Debug, Deserialize)]
pub struct Settings {
    /// Prebuilt and custom patterns.
    #[serde(default)]
    pub patterns: Vec<PatternConfig>,
    /// Blocked words inline.
    #[serde(default)]
    pub blocked_words: Vec<WordConfig>,
    /// A YAML file of blocked words (read by the proxy, which passes its text
    /// as `blocked_words_file_content`: plugins have no filesystem).
    pub blocked_words_file: Option<String>,
    /// The file's text, from the proxy.
    pub blocked_words_file_content: Option<String>,
    /// Keyword categories.
    #[serde(default)]
    pub categories: Vec<CategoryConfig>,
    /// Default category threshold.
    #[serde(default = "medium")]
    pub severity_threshold: Severity,
    /// Pattern mask format; `{pattern_name}` becomes the upper-cased name.
    #[serde(default = "pattern_format")]
    pub pattern_redaction_format: String,
    /// Keyword mask.
    #[serde(default = "keyword_tag")]
    pub keyword_redaction_tag: String,
}

#[derive(Deserialize)]
struct WordsFile {
    blocked_words: Vec<WordConfig>,
}

impl Settings {
    /// Inline words followed by the file's.
    pub fn all_blocked_words(&self) -> Result<Vec<WordConfig>, String> {
        let mut words = self.blocked_words.clone();
        match (&self.blocked_words_file, &self.blocked_words_file_content) {
            (_, Some(text)) => {
                let file: WordsFile = serde_yaml_ng::from_str(text).map_err(|e| format!("blocked_words_file: {e}"))?;
                words.extend(file.blocked_words);
            }
            (Some(path), None) => return Err(format!("blocked_words_file {path:?} was not provided by the proxy")),
            (None, None) => {}
        }
        Ok(words)
    }
}

/// A built-in category's data.
#[derive(Debug, Deserialize)]
pub struct CategoryData {
    /// Action when the config does not set one.
    pub default_action: Action,
    /// Keywords with severities.
    pub keywords: Vec<Keyword>,
    /// Phrases that exempt a text.
    #[serde(default)]
    pub exceptions: Vec<String>,
}

/// A category keyword.
#[derive(Debug, Deserialize)]
pub struct Keyword {
    /// The word or phrase.
    pub keyword: String,
    /// Its severity.
    pub severity: Severity,
}

#[derive(Deserialize)]
struct CategoriesFile {
    categories: BTreeMap<String, CategoryData>,
}

fn builtin() -> &'static BTreeMap<String, CategoryData> {
    static DATA: OnceLock<BTreeMap<String, CategoryData>> = OnceLock::new();
    DATA.get_or_init(|| {
        serde_yaml_ng::from_str::<CategoriesFile>(include_str!("categories.yaml")).map(|f| f.categories).unwrap_or_default()
    })
}

/// A category by name (`harmful_violence`, or the short `violence`).
pub fn category(name: &str) -> Option<&'static CategoryData> {
    let data = builtin();
    data.get(name).or_else(|| data.get(&format!("harmful_{name}")))
}

/// Every built-in category name.
pub fn category_names() -> Vec<&'static str> {
    builtin().keys().map(String::as_str).collect()
}
