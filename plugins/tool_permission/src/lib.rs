//! `tool_permission`: LiteLLM's tool permission guardrail as a WASM plugin.
//!
//! ```yaml
//! guardrails:
//!   - guardrail_name: tools
//!     litellm_params:
//!       guardrail: tool_permission
//!       mode: [pre_call, post_call]
//!       rules:
//!         - {id: allow_search, tool_name: "search_.*", decision: allow}
//!         - id: mail_internal_only
//!           tool_name: send_email
//!           decision: allow
//!           allowed_param_patterns: {"to[]": ".*@example\\.com"}
//!         - {id: no_shell, tool_type: "bash.*", decision: deny}
//!       default_action: deny          # allow | deny (default deny)
//!       on_disallowed_action: block   # block | rewrite (default block)
//! ```
//!
//! Rules are tried in order and the first that matches a tool decides;
//! `tool_name` and `tool_type` are regexes that must match the whole name
//! (an unset one matches anything). Pre-call, the request's offered `tools`
//! are checked: `block` refuses the request, `rewrite` removes the denied
//! tools. Post-call, the model's `tool_calls` are checked, including
//! `allowed_param_patterns` (argument paths like `a.b` or `to[]`, each value
//! must fully match): `block` refuses the answer, `rewrite` removes the
//! denied calls and appends `Permission denied: ...` to the message content.

use regex::Regex;
use serde::Deserialize;
use serde_json::{Value, json};
use tianji_plugin_sdk::guardrail::{Guardrail, RequestVerdict, ResponseVerdict};
use tianji_plugin_sdk::{CallContext, ChatRequest, ChatResponse, Config, ContentPart};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    Allow,
    Deny,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnDisallowed {
    Block,
    Rewrite,
}

#[derive(Debug, Deserialize)]
struct RuleConfig {
    id: String,
    tool_name: Option<String>,
    tool_type: Option<String>,
    decision: String,
    #[serde(default)]
    allowed_param_patterns: serde_json::Map<String, Value>,
}

#[derive(Debug, Deserialize)]
struct Settings {
    #[serde(default)]
    rules: Vec<RuleConfig>,
    #[serde(default)]
    default_action: Option<String>,
    #[serde(default)]
    on_disallowed_action: Option<String>,
    violation_message_template: Option<String>,
}

struct Rule {
    id: String,
    name: Option<Regex>,
    kind: Option<Regex>,
    decision: Decision,
    params: Vec<(String, Regex)>,
}

/// The compiled rules.
pub struct ToolPermission {
    rules: Vec<Rule>,
    default: Decision,
    on_disallowed: OnDisallowed,
    template: Option<String>,
}

fn anchored(field: &str, id: &str, pattern: &str) -> Result<Regex, String> {
    Regex::new(&format!("^(?:{pattern})$")).map_err(|e| format!("Invalid regex for {field} in rule '{id}': {e}"))
}

fn decision(s: &str, what: &str) -> Result<Decision, String> {
    match s.to_ascii_lowercase().as_str() {
        "allow" => Ok(Decision::Allow),
        "deny" => Ok(Decision::Deny),
        _ => Err(format!("{what} must be allow or deny, found {s:?}")),
    }
}

/// Values at a dotted path in JSON arguments; `x[]` descends into a list.
fn values_at<'a>(v: &'a Value, path: &str, out: &mut Vec<&'a Value>) {
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    let (key, list) = match head.strip_suffix("[]") {
        Some(k) => (k, true),
        None => (head, false),
    };
    let Some(next) = v.get(key) else { return };
    let items: Vec<&Value> = if list { next.as_array().map(|a| a.iter().collect()).unwrap_or_default() } else { vec![next] };
    for item in items {
        match rest {
            Some(r) => values_at(item, r, out),
            None => out.push(item),
        }
    }
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl ToolPermission {
    fn from_settings(s: Settings) -> Result<Self, String> {
        let mut rules = Vec::new();
        for r in s.rules {
            let name = r.tool_name.as_deref().filter(|n| !n.trim().is_empty()).map(|p| anchored("tool_name", &r.id, p)).transpose()?;
            let kind = r.tool_type.as_deref().filter(|n| !n.trim().is_empty()).map(|p| anchored("tool_type", &r.id, p)).transpose()?;
            if name.is_none() && kind.is_none() {
                return Err(format!("rule '{}' needs tool_name or tool_type", r.id));
            }
            let mut params = Vec::new();
            for (path, pattern) in &r.allowed_param_patterns {
                let pattern =
                    pattern.as_str().ok_or_else(|| format!("rule '{}': allowed_param_patterns.{path} must be a regex string", r.id))?;
                params.push((path.clone(), anchored(&format!("allowed_param_patterns.{path}"), &r.id, pattern)?));
            }
            rules.push(Rule { decision: decision(&r.decision, &format!("rule '{}' decision", r.id))?, id: r.id, name, kind, params });
        }
        let default = s.default_action.as_deref().map(|d| decision(d, "default_action")).transpose()?.unwrap_or(Decision::Deny);
        let on_disallowed = match s.on_disallowed_action.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("block") => OnDisallowed::Block,
            Some("rewrite") => OnDisallowed::Rewrite,
            Some(other) => return Err(format!("on_disallowed_action must be block or rewrite, found {other:?}")),
        };
        Ok(Self { rules, default, on_disallowed, template: s.violation_message_template })
    }

    /// The decision for a tool (and, for calls, its arguments): `None` when
    /// allowed, else the message and rule id.
    fn judge(&self, name: &str, kind: &str, arguments: Option<&str>) -> Option<(String, Option<String>)> {
        let mut last_param_failure = None;
        for rule in &self.rules {
            let name_ok = rule.name.as_ref().is_none_or(|r| r.is_match(name));
            let kind_ok = rule.kind.as_ref().is_none_or(|r| r.is_match(kind));
            if !(name_ok && kind_ok) {
                continue;
            }
            if let (Some(args), false, Decision::Allow) = (arguments, rule.params.is_empty(), rule.decision) {
                let parsed: Value = serde_json::from_str(args).unwrap_or(Value::Null);
                let mut failed = None;
                for (path, re) in &rule.params {
                    let mut found = Vec::new();
                    values_at(&parsed, path, &mut found);
                    if found.is_empty() || found.iter().any(|v| !re.is_match(&as_text(v))) {
                        failed = Some(format!("Tool '{name}' argument '{path}' does not match the allowed pattern of rule '{}'", rule.id));
                        break;
                    }
                }
                if let Some(f) = failed {
                    last_param_failure = Some((f, Some(rule.id.clone())));
                    continue;
                }
            }
            return match rule.decision {
                Decision::Allow => None,
                Decision::Deny => {
                    Some((self.message(name, Some(&rule.id), format!("Tool '{name}' denied by rule '{}'", rule.id)), Some(rule.id.clone())))
                }
            };
        }
        match self.default {
            Decision::Allow => None,
            Decision::Deny => {
                let (msg, id) = last_param_failure.unwrap_or_else(|| (format!("Tool '{name}' denied by default action"), None));
                Some((self.message(name, id.as_deref(), msg), id))
            }
        }
    }

    fn message(&self, tool: &str, rule: Option<&str>, default: String) -> String {
        match &self.template {
            Some(t) => t.replace("{tool_name}", tool).replace("{rule_id}", rule.unwrap_or("")).replace("{default_message}", &default),
            None => default,
        }
    }
}

impl Guardrail for ToolPermission {
    fn new(config: &Config) -> Result<Self, String> {
        Self::from_settings(config.parse()?)
    }

    fn check_request(&self, _ctx: &CallContext, request: &ChatRequest) -> Result<RequestVerdict, String> {
        let mut denied = Vec::new();
        for t in &request.tools {
            if let Some((msg, rule)) = self.judge(&t.name, &t.kind, None) {
                denied.push((t.name.clone(), msg, rule));
            }
        }
        if denied.is_empty() {
            return Ok(RequestVerdict::Allow);
        }
        Ok(match self.on_disallowed {
            OnDisallowed::Block => {
                let (tool, msg, rule) = &denied[0];
                RequestVerdict::block(
                    msg.clone(),
                    json!({"error": "Violated guardrail policy", "detection_message": msg, "tool": tool, "rule": rule}),
                )
            }
            OnDisallowed::Rewrite => {
                let mut r = request.clone();
                r.tools.retain(|t| !denied.iter().any(|(name, ..)| name == &t.name));
                RequestVerdict::Modify(r)
            }
        })
    }

    fn check_response(&self, _ctx: &CallContext, _request: &ChatRequest, response: &ChatResponse) -> Result<ResponseVerdict, String> {
        let mut modified = response.clone();
        let mut changed = false;
        for choice in &mut modified.choices {
            let mut notes = Vec::new();
            let mut kept = Vec::new();
            for call in std::mem::take(&mut choice.message.tool_calls) {
                match self.judge(&call.name, "function", Some(&call.arguments)) {
                    None => kept.push(call),
                    Some((msg, rule)) => {
                        if self.on_disallowed == OnDisallowed::Block {
                            return Ok(ResponseVerdict::block(
                                msg.clone(),
                                json!({"error": "Violated guardrail policy", "detection_message": msg, "tool": call.name, "rule": rule}),
                            ));
                        }
                        notes.push(match rule {
                            Some(id) => format!("Permission denied: {msg} (Rule: {id})"),
                            None => format!("Permission denied: {msg}"),
                        });
                    }
                }
            }
            choice.message.tool_calls = kept;
            if !notes.is_empty() {
                changed = true;
                let note = notes.join("\n");
                let existing = choice.message.text();
                let text = if existing.is_empty() { note } else { format!("{existing}\n\n{note}") };
                choice.message.content = vec![ContentPart::Text(text)];
            }
        }
        Ok(if changed { ResponseVerdict::Modify(modified) } else { ResponseVerdict::Allow })
    }
}

#[cfg(target_arch = "wasm32")]
tianji_plugin_sdk::export_guardrail!(ToolPermission);

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(v: Value) -> ToolPermission {
        ToolPermission::from_settings(serde_json::from_value(v).unwrap()).unwrap()
    }

    #[test]
    fn first_matching_rule_wins_and_default_denies() {
        let t = tp(json!({"rules": [
            {"id": "search", "tool_name": "search_.*", "decision": "allow"},
            {"id": "no_shell", "tool_type": "bash.*", "decision": "deny"}
        ]}));
        assert!(t.judge("search_web", "function", None).is_none());
        assert_eq!(t.judge("run", "bash_20250124", None).unwrap().0, "Tool 'run' denied by rule 'no_shell'");
        assert_eq!(t.judge("search", "function", None).unwrap().0, "Tool 'search' denied by default action", "fullmatch, not prefix");
        let t = tp(json!({"rules": [], "default_action": "allow"}));
        assert!(t.judge("anything", "function", None).is_none());
    }

    #[test]
    fn argument_patterns_apply_to_tool_calls() {
        let t = tp(json!({"rules": [{"id": "mail", "tool_name": "send_email", "decision": "allow",
            "allowed_param_patterns": {"to[]": ".*@example\\.com", "meta.priority": "low|normal"}}]}));
        assert!(t.judge("send_email", "function", Some(r#"{"to": ["a@example.com"], "meta": {"priority": "low"}}"#)).is_none());
        let (msg, rule) = t.judge("send_email", "function", Some(r#"{"to": ["a@evil.com"], "meta": {"priority": "low"}}"#)).unwrap();
        assert!(msg.contains("argument 'to[]'"), "{msg}");
        assert_eq!(rule.as_deref(), Some("mail"));
        assert!(t.judge("send_email", "function", Some("{}")).is_some(), "a missing path fails");
    }

    #[test]
    fn bad_config_is_named() {
        let err = |v: Value| ToolPermission::from_settings(serde_json::from_value(v).unwrap()).err().unwrap();
        assert!(err(json!({"rules": [{"id": "x", "decision": "allow"}]})).contains("needs tool_name or tool_type"));
        assert!(
            err(json!({"rules": [{"id": "x", "tool_name": "(", "decision": "allow"}]})).contains("Invalid regex for tool_name in rule 'x'")
        );
        assert!(err(json!({"rules": [], "on_disallowed_action": "explode"})).contains("block or rewrite"));
    }
}
