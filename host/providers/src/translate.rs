//! Pieces every translating adapter shares: tool-call arguments, data URLs,
//! stop sequences, embedding inputs and answers, and the chat chunks a
//! translated stream emits.

use serde_json::{Map, Value, json};
use tianji_core::GatewayError;
use tianji_core::types::{ChatChunk, ChunkChoice, Delta, EmbeddingResponse, Reply, Usage};

/// A tool call's JSON-encoded arguments as a value (`{}` when empty); `at`
/// names the field for the 400 when they are not JSON.
pub fn tool_arguments(arguments: &str, at: impl FnOnce() -> String) -> Result<Value, GatewayError> {
    if arguments.trim().is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_str(arguments).map_err(|e| GatewayError::bad_request(format!("tool call arguments are not JSON: {e}"), Some(&at())))
}

/// `data:<mime>[;base64],<data>` → (mime, data); `None` for other URLs, a
/// 400 naming `at` for a data URL without its comma.
pub fn data_url(url: &str, at: impl FnOnce() -> String) -> Result<Option<(&str, &str)>, GatewayError> {
    let Some(rest) = url.strip_prefix("data:") else { return Ok(None) };
    let (meta, data) = rest
        .split_once(',')
        .ok_or_else(|| GatewayError::bad_request("malformed data URL (expected data:<type>;base64,<data>)", Some(&at())))?;
    Ok(Some((meta.strip_suffix(";base64").unwrap_or(meta), data)))
}

/// OpenAI's `stop` (a string or a list) as a list.
pub fn stop_list(stop: Option<Value>) -> Result<Option<Vec<Value>>, GatewayError> {
    match stop {
        None | Some(Value::Null) => Ok(None),
        Some(s @ Value::String(_)) => Ok(Some(vec![s])),
        Some(Value::Array(a)) => Ok(Some(a)),
        Some(_) => Err(GatewayError::bad_request("stop must be a string or a list of strings", Some("stop"))),
    }
}

/// Embedding input as texts (providers that translate take no token arrays).
pub fn embedding_texts(input: &Value, provider: &str) -> Result<Vec<String>, GatewayError> {
    let refuse =
        || GatewayError::bad_request(format!("{provider} embeddings take text input (a string or a list of strings)"), Some("input"));
    match input {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items.iter().map(|v| v.as_str().map(str::to_owned)).collect::<Option<Vec<_>>>().ok_or_else(refuse),
        _ => Err(refuse()),
    }
}

/// An OpenAI embeddings answer from vectors.
pub fn embedding_response<'a>(vectors: impl IntoIterator<Item = &'a Value>, model: &str, prompt_tokens: u64) -> EmbeddingResponse {
    let data = vectors.into_iter().enumerate().map(|(i, v)| json!({"object": "embedding", "index": i, "embedding": v})).collect();
    let usage = Usage { prompt_tokens, completion_tokens: 0, total_tokens: prompt_tokens, extra: Map::new() };
    EmbeddingResponse { object: "list".to_owned(), data, model: model.to_owned(), usage: Some(usage), extra: Map::new() }
}

/// What every chunk of one translated stream repeats.
#[derive(Debug, Clone)]
pub struct StreamHead {
    /// Completion id.
    pub id: String,
    /// Unix seconds.
    pub created: u64,
    /// Model reported.
    pub model: String,
}

impl StreamHead {
    /// A head for `model`, created now.
    pub fn new(id: String, model: &str) -> Self {
        Self { id, created: tianji_core::types::unix_now(), model: model.to_owned() }
    }

    /// A chunk with the given choices.
    pub fn choices(&self, choices: Vec<ChunkChoice>) -> Reply<ChatChunk> {
        Reply::Parsed(ChatChunk {
            id: self.id.clone(),
            object: "chat.completion.chunk".to_owned(),
            created: self.created,
            model: self.model.clone(),
            choices,
            usage: None,
            extra: Map::new(),
        })
    }

    /// A chunk with one delta for choice 0.
    pub fn delta(&self, delta: Delta, finish: Option<&str>) -> Reply<ChatChunk> {
        self.choices(vec![ChunkChoice { index: 0, delta, finish_reason: finish.map(str::to_owned), extra: Map::new() }])
    }

    /// The first chunk: the assistant role with empty content.
    pub fn role(&self) -> Reply<ChatChunk> {
        self.delta(Delta { role: Some("assistant".to_owned()), content: Some(String::new()), ..Default::default() }, None)
    }

    /// The usage chunk (no choices), as OpenAI sends it with `include_usage`.
    pub fn usage(&self, usage: Usage) -> Reply<ChatChunk> {
        let mut r = self.choices(Vec::new());
        if let Reply::Parsed(c) = &mut r {
            c.usage = Some(usage);
        }
        r
    }
}

/// OpenAI's `tool_choice`, parsed once for the adapters to map.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolChoice {
    /// `"auto"`: the model decides.
    Auto,
    /// `"required"`: some tool must be called.
    Required,
    /// `"none"`: no tool may be called.
    None,
    /// `{"type": "function", "function": {"name"}}`: this tool must be called.
    Function(String),
}

impl ToolChoice {
    /// Parses `tool_choice` (absent or `null` is `None`), or a 400 naming it.
    pub fn parse(choice: Option<&Value>) -> Result<Option<ToolChoice>, GatewayError> {
        let bad = |m: String| GatewayError::bad_request(m, Some("tool_choice"));
        Ok(Some(match choice {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(s)) => match s.as_str() {
                "auto" => ToolChoice::Auto,
                "required" => ToolChoice::Required,
                "none" => ToolChoice::None,
                other => return Err(bad(format!("unknown tool_choice '{other}'"))),
            },
            Some(Value::Object(o)) => match o.get("function").and_then(|f| f.get("name")).and_then(Value::as_str) {
                Some(name) => ToolChoice::Function(name.to_owned()),
                None => return Err(bad("tool_choice must name a function".to_owned())),
            },
            Some(_) => return Err(bad("tool_choice must be a string or an object".to_owned())),
        }))
    }
}
