//! The `guardrails:` section, exactly as LiteLLM configures it:
//!
//! ```yaml
//! guardrails:
//!   - guardrail_name: "pii-mask"
//!     litellm_params:
//!       guardrail: litellm_content_filter   # a built-in or a plugin name
//!       mode: [pre_call, post_call]         # or one mode
//!       default_on: true
//!       failure_policy: fail_closed         # Tianji: fail_open | fail_closed
//!       patterns: [...]                     # everything else configures the guardrail
//! ```

use serde_json::{Map, Value};

use super::Problems;
use super::walk::{Section, kind_of};
use crate::traits::GuardrailPhase;

/// What happens to a call when its guardrail fails (times out, traps, errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailurePolicy {
    /// Let the call through (and log the failure).
    FailOpen,
    /// Refuse the call (the default).
    #[default]
    FailClosed,
}

/// One `guardrails:` entry.
#[derive(Debug, Clone)]
pub struct GuardrailConfig {
    /// Path of the entry (`guardrails[2]`), for errors.
    pub path: String,
    /// `guardrail_name`: what requests and responses call it.
    pub guardrail_name: String,
    /// `litellm_params.guardrail`: the implementation (built-in or plugin).
    pub guardrail: String,
    /// `mode`: when it runs.
    pub modes: Vec<GuardrailPhase>,
    /// `default_on`: runs on every request without being asked for.
    pub default_on: bool,
    /// `failure_policy`.
    pub failure_policy: FailurePolicy,
    /// Every other `litellm_params` key: the implementation's own settings.
    pub params: Map<String, Value>,
}

fn parse_mode(s: &str) -> Option<GuardrailPhase> {
    Some(match s {
        "pre_call" => GuardrailPhase::PreCall,
        "during_call" => GuardrailPhase::DuringCall,
        "post_call" => GuardrailPhase::PostCall,
        "logging_only" => GuardrailPhase::LoggingOnly,
        _ => return None,
    })
}

/// Parses the `guardrails:` list.
pub fn parse(items: Vec<Value>, problems: &mut Problems) -> Vec<GuardrailConfig> {
    let mut out: Vec<GuardrailConfig> = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let path = format!("guardrails[{i}]");
        let Some(mut s) = Section::open(path.clone(), item, problems) else { continue };
        let name = s.string("guardrail_name", problems);
        if name.is_none() {
            problems.error(&s.child_path("guardrail_name"), "required");
        }
        let Some(mut p) = s.section("litellm_params", problems) else {
            problems.error(&s.child_path("litellm_params"), "required (with at least `guardrail` and `mode`)");
            s.finish(problems);
            continue;
        };
        let guardrail = p.string("guardrail", problems);
        if guardrail.is_none() {
            problems.error(&p.child_path("guardrail"), "required: the name of a built-in guardrail or of a plugin");
        }
        let mode_path = p.child_path("mode");
        let modes = match p.value("mode") {
            None => {
                problems.error(&mode_path, "required: pre_call, during_call, post_call or logging_only (or a list)");
                Vec::new()
            }
            Some(v) => {
                let names: Vec<Value> = match v {
                    Value::Array(a) => a,
                    other => vec![other],
                };
                let mut modes = Vec::new();
                for m in names {
                    match m.as_str().and_then(parse_mode) {
                        Some(phase) if !modes.contains(&phase) => modes.push(phase),
                        Some(_) => {}
                        None => problems
                            .error(&mode_path, format!("expected pre_call, during_call, post_call or logging_only, found {}", show(&m))),
                    }
                }
                modes
            }
        };
        let default_on = p.bool("default_on", problems).unwrap_or(false);
        let failure_policy = match p.string("failure_policy", problems).as_deref() {
            None | Some("fail_closed") => FailurePolicy::FailClosed,
            Some("fail_open") => FailurePolicy::FailOpen,
            Some(other) => {
                problems.error(&p.child_path("failure_policy"), format!("expected fail_open or fail_closed, found {other:?}"));
                FailurePolicy::FailClosed
            }
        };
        let params = p.take_rest();
        s.finish(problems);
        let (Some(guardrail_name), Some(guardrail)) = (name, guardrail) else { continue };
        if out.iter().any(|g| g.guardrail_name == guardrail_name) {
            problems.error(&format!("{path}.guardrail_name"), format!("duplicate guardrail_name {guardrail_name:?}"));
            continue;
        }
        out.push(GuardrailConfig { path, guardrail_name, guardrail, modes, default_on, failure_policy, params });
    }
    out
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => kind_of(other).to_string(),
    }
}
