use super::*;

fn parse(text: &str, vars: &[(&str, &str)]) -> (Config, Problems) {
    let env = Env::isolated(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let mut problems = Problems::default();
    let c = Config::parse(text, env, &mut problems);
    (c, problems)
}

/// The proxy quickstart config from LiteLLM's documentation.
const LITELLM_QUICKSTART: &str = r#"
model_list:
  - model_name: gpt-3.5-turbo
    litellm_params:
      model: azure/<your-deployment-name>
      api_base: os.environ/AZURE_API_BASE
      api_key: "os.environ/AZURE_API_KEY"
      api_version: "2023-07-01-preview"
  - model_name: gpt-4
    litellm_params:
      model: openai/gpt-4
      api_key: os.environ/OPENAI_API_KEY
      rpm: 6
  - model_name: "*"
    litellm_params:
      model: openai/*
      api_key: os.environ/OPENAI_API_KEY

litellm_settings:
  drop_params: True
  success_callback: ["langfuse"]
  num_retries: 3
  request_timeout: 10
  fallbacks: [{"gpt-3.5-turbo": ["gpt-4"]}]
  context_window_fallbacks: [{"gpt-3.5-turbo": ["gpt-4"]}]

router_settings:
  routing_strategy: simple-shuffle
  model_group_alias: {"gpt-4o": "gpt-4", "hidden-one": {"model": "gpt-4", "hidden": true}}
  num_retries: 2
  timeout: 30
  allowed_fails: 3
  cooldown_time: 30
  redis_host: localhost

general_settings:
  master_key: sk-1234
  alerting: ["slack"]

environment_variables:
  AZURE_API_BASE: "https://my-endpoint.openai.azure.com"
"#;

#[test]
fn litellm_quickstart_parses_and_lists_ignored_keys() {
    let (c, p) = parse(LITELLM_QUICKSTART, &[("AZURE_API_KEY", "az"), ("OPENAI_API_KEY", "sk-o")]);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(c.model_list.len(), 3);
    assert_eq!(c.model_list[0].litellm_params.api_base.as_deref(), Some("https://my-endpoint.openai.azure.com"));
    assert_eq!(c.model_list[0].litellm_params.api_key.as_deref(), Some("az"));
    assert_eq!(c.model_list[1].litellm_params.rpm, Some(6));
    assert_eq!(c.model_list[2].model_name, "*");
    assert!(c.litellm_settings.drop_params);
    assert_eq!(c.litellm_settings.num_retries, Some(3));
    assert_eq!(c.litellm_settings.fallbacks, vec![FallbackRule { from: "gpt-3.5-turbo".into(), to: vec!["gpt-4".into()] }]);
    assert_eq!(c.router_settings.cooldown_time, Some(30.0));
    assert_eq!(c.router_settings.model_group_alias["gpt-4o"].model, "gpt-4");
    assert!(c.router_settings.model_group_alias["hidden-one"].hidden);
    assert_eq!(c.general_settings.master_key.as_deref(), Some("sk-1234"));
    assert_eq!(c.router_settings.redis().as_deref(), Some("redis://localhost:6379"));
    let mut ignored = p.ignored.clone();
    ignored.sort();
    assert_eq!(ignored, vec!["general_settings.alerting"], "success_callback is read (the server reports unknown loggers)");
}

#[test]
fn every_error_is_reported_with_its_path() {
    let text = r#"
model_list:
  - model_name: a
    litellm_params:
      model: openai/gpt-4o
      rpm: lots
      api_key: os.environ/MISSING_KEY
  - model_name: b
  - litellm_params:
      model: openai/x
      timeout: -1
router_settings:
  num_retries: [1]
  fallbacks: "nope"
general_settings:
  master_key: not-sk
"#;
    let (_, p) = parse(text, &[]);
    let msgs: Vec<String> = p.errors.iter().map(ToString::to_string).collect();
    let joined = msgs.join("\n");
    for needle in [
        "model_list[0].litellm_params.rpm: expected a non-negative integer, found \"lots\"",
        "model_list[0].litellm_params.api_key: environment variable MISSING_KEY is not set",
        "model_list[1].litellm_params: is required",
        "model_list[2].model_name: is required",
        "model_list[2].litellm_params.timeout: must be a positive number of seconds",
        "router_settings.num_retries: expected a non-negative integer",
        "router_settings.fallbacks: expected a list of mappings",
        "general_settings.master_key: must start with 'sk-'",
    ] {
        assert!(joined.contains(needle), "missing {needle:?} in\n{joined}");
    }
    assert_eq!(p.errors.len(), 8, "{joined}");
}

#[test]
fn invalid_yaml_names_the_line() {
    let (_, p) = parse("model_list:\n  - model_name: [unclosed\n", &[]);
    assert_eq!(p.errors.len(), 1);
    assert!(p.errors[0].path.starts_with("line "), "{:?}", p.errors);
}

#[test]
fn numeric_strings_and_defaults_from_litellm_params() {
    let text = r#"
model_list:
  - model_name: m
    litellm_params:
      model: openai/gpt-4o
      rpm: "100"
      temperature: 0.2
      max_tokens: 50
      vertex_project: p
      mock_response: "hello"
    model_info:
      id: dep-1
      max_input_tokens: 128000
      custom_field: 1
"#;
    let (c, p) = parse(text, &[]);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    let d = &c.model_list[0];
    assert_eq!(d.litellm_params.rpm, Some(100));
    assert_eq!(d.litellm_params.default_params["temperature"], 0.2);
    assert_eq!(d.litellm_params.default_params["max_tokens"], 50);
    assert!(d.litellm_params.extra.contains_key("vertex_project"));
    assert_eq!(d.litellm_params.mock_response, Some(Value::String("hello".into())));
    assert_eq!(d.model_info.id.as_deref(), Some("dep-1"));
    assert_eq!(d.model_info.extra["custom_field"], 1);
    assert!(p.ignored.is_empty());
}

#[test]
fn env_references_anywhere_and_referenced_names() {
    let text = "general_settings:\n  master_key: os.environ/MK\nrouter_settings:\n  num_retries: os.environ/RETRIES\n";
    let (c, p) = parse(text, &[("MK", "sk-env"), ("RETRIES", "4")]);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(c.general_settings.master_key.as_deref(), Some("sk-env"));
    assert_eq!(c.router_settings.num_retries, Some(4));
    let v: Value = serde_yaml_ng::from_str(text).unwrap_or_default();
    assert_eq!(env::referenced_names(&v), vec!["MK".to_owned(), "RETRIES".to_owned()]);
}

#[test]
fn empty_file_is_an_empty_config() {
    let (c, p) = parse("", &[]);
    assert!(p.errors.is_empty());
    assert!(c.model_list.is_empty());
}

#[test]
fn guardrails_section_as_litellm_writes_it() {
    let yaml = r#"
guardrails:
  - guardrail_name: "pii"
    litellm_params:
      guardrail: litellm_content_filter
      mode: [pre_call, post_call]
      default_on: true
      patterns: [{pattern_type: prebuilt, pattern_name: email, action: MASK}]
  - guardrail_name: "ext"
    litellm_params:
      guardrail: generic_guardrail_api
      mode: during_call
      failure_policy: fail_open
      api_base: http://127.0.0.1:1
"#;
    let mut problems = Problems::default();
    let c = Config::parse(yaml, Env::default(), &mut problems);
    assert!(problems.errors.is_empty(), "{:?}", problems.errors);
    assert_eq!(c.guardrails.len(), 2);
    let g = &c.guardrails[0];
    assert_eq!((g.guardrail_name.as_str(), g.guardrail.as_str(), g.default_on), ("pii", "litellm_content_filter", true));
    assert_eq!(g.modes, vec![crate::traits::GuardrailPhase::PreCall, crate::traits::GuardrailPhase::PostCall]);
    assert!(g.params.contains_key("patterns") && !g.params.contains_key("mode"));
    assert_eq!(c.guardrails[1].failure_policy, super::guardrails::FailurePolicy::FailOpen);
    assert_eq!(c.guardrails[1].params["api_base"], "http://127.0.0.1:1");
}

#[test]
fn guardrails_errors_name_every_path() {
    let yaml = r#"
guardrails:
  - guardrail_name: a
    litellm_params: {guardrail: x, mode: sometimes, failure_policy: maybe}
  - litellm_params: {mode: pre_call}
  - guardrail_name: a
    litellm_params: {guardrail: y, mode: pre_call}
  - guardrail_name: b
"#;
    let mut problems = Problems::default();
    Config::parse(yaml, Env::default(), &mut problems);
    let text: Vec<String> = problems.errors.iter().map(|p| p.to_string()).collect();
    let all = text.join("\n");
    for want in [
        "guardrails[0].litellm_params.mode: expected pre_call",
        "guardrails[0].litellm_params.failure_policy: expected fail_open or fail_closed",
        "guardrails[1].guardrail_name: required",
        "guardrails[1].litellm_params.guardrail: required",
        "guardrails[2].guardrail_name: duplicate guardrail_name \"a\"",
        "guardrails[3].litellm_params: required",
    ] {
        assert!(all.contains(want), "missing {want:?} in:\n{all}");
    }
}
