use super::*;
use tianji_core::config::{Env, Problems};
use tianji_core::types::ChatRequest;

fn router(yaml: &str) -> (Router, Problems) {
    let mut problems = Problems::default();
    let config = Config::parse(yaml, Env::isolated([]), &mut problems);
    let r = Router::build(&config, Arc::new(ProviderRegistry::with_builtin()), tianji_providers::http::build_client(), &mut problems);
    (r, problems)
}

async fn call(r: &Router, model: &str, controls: &Controls) -> Result<Routed<String>, Box<RouteFailure>> {
    r.execute(model, controls, "test", |a: Attempt| async move {
        let req = ChatRequest { model: a.model.clone(), messages: vec![Message::text("user", "hi")], ..Default::default() };
        let resp = a.provider.chat(req, &a.opts).await?.into_parsed()?;
        Ok(format!("{}:{}", a.deployment.id, resp.choices[0].message.text_content()))
    })
    .await
}

const BASE: &str = r#"
model_list:
  - model_name: good
    litellm_params: {model: openai/gpt-4o, mock_response: "ok from good"}
    model_info: {id: good-1}
  - model_name: bad
    litellm_params: {model: openai/gpt-4o, mock_response: "litellm.InternalServerError"}
    model_info: {id: bad-1}
  - model_name: badreq
    litellm_params: {model: openai/gpt-4o, mock_response: "litellm.BadRequestError"}
  - model_name: small
    litellm_params: {model: openai/gpt-4o, mock_response: "litellm.ContextWindowExceededError"}
  - model_name: mixed
    litellm_params: {model: openai/gpt-4o, mock_response: "litellm.RateLimitError"}
    model_info: {id: mixed-bad}
  - model_name: mixed
    litellm_params: {model: openai/gpt-4o, mock_response: "fine"}
    model_info: {id: mixed-good}
  - model_name: "*"
    litellm_params: {model: "openai/*", api_key: sk-x}
router_settings:
  num_retries: 2
  retry_after: 0
  fallbacks: [{"bad": ["good"]}, {"badreq": ["good"]}]
  context_window_fallbacks: [{"small": ["good"]}]
  model_group_alias: {"alias-good": "good"}
  allowed_fails: 1
  cooldown_time: 30
"#;

#[tokio::test]
async fn retries_then_falls_back() {
    let (r, p) = router(BASE);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    let out = call(&r, "bad", &Controls::default()).await.expect("fallback succeeds");
    assert_eq!(out.value, "good-1:ok from good");
    assert_eq!(out.meta.attempted_retries, 2);
    assert_eq!(out.meta.attempted_fallbacks, 1);
    assert_eq!(out.meta.model_group, "good");
}

#[tokio::test]
async fn client_errors_are_not_retried_nor_fallen_back() {
    let (r, _) = router(BASE);
    let err = call(&r, "badreq", &Controls::default()).await.expect_err("fails");
    assert_eq!(err.error.status.as_u16(), 400);
    assert_eq!(err.meta.attempted_retries, 0);
    assert_eq!(err.meta.attempted_fallbacks, 0);
}

#[tokio::test]
async fn context_window_errors_use_their_fallbacks() {
    let (r, _) = router(BASE);
    let out = call(&r, "small", &Controls::default()).await.expect("cw fallback");
    assert_eq!(out.meta.model_group, "good");
    assert_eq!(out.meta.attempted_retries, 0, "context window errors are not retried");
}

#[tokio::test]
async fn rate_limited_deployment_cools_down_and_traffic_moves() {
    let (r, _) = router(BASE);
    for _ in 0..20 {
        let out = call(&r, "mixed", &Controls::default()).await.expect("good deployment answers");
        assert!(out.value.starts_with("mixed-good:"), "{}", out.value);
    }
    let bad = r.group("mixed").and_then(|g| g.iter().find(|d| d.id == "mixed-bad")).expect("deployment");
    assert!(bad.health.cooling(now_ms()), "429 on a multi-deployment group cools the deployment down");
}

#[tokio::test]
async fn all_cooling_down_is_a_429_that_says_so() {
    let (r, _) = router(BASE);
    let controls = Controls { num_retries: Some(0), fallbacks: Some(vec![]), ..Default::default() };
    // allowed_fails = 1: the second failure within a minute cools the only deployment down.
    for _ in 0..2 {
        let e = call(&r, "bad", &controls).await.expect_err("fails");
        assert_eq!(e.error.kind, ErrorKind::UpstreamServer);
    }
    let e = call(&r, "bad", &controls).await.expect_err("cooling");
    assert_eq!(e.error.status.as_u16(), 429);
    assert!(e.error.message.contains("No deployments available"), "{}", e.error.message);
    assert!(e.error.retry_after.is_some());
}

#[tokio::test]
async fn request_controls() {
    let (r, _) = router(BASE);
    let c = Controls {
        mock_testing_fallbacks: true,
        fallbacks: Some(vec![FallbackTarget { model: "alias-good".into(), messages: None }]),
        ..Default::default()
    };
    let out = call(&r, "mixed", &c).await.expect("mock fallback");
    assert_eq!(out.meta.attempted_fallbacks, 1);
    assert!(out.value.starts_with("good-1"));

    let c = Controls {
        mock_timeout: true,
        timeout: Some(Duration::from_millis(20)),
        num_retries: Some(0),
        fallbacks: Some(vec![]),
        ..Default::default()
    };
    let e = call(&r, "good", &c).await.expect_err("timeout");
    assert_eq!(e.error.kind, ErrorKind::Timeout);
    assert_eq!(e.error.status.as_u16(), 408);
}

#[test]
fn resolution_exact_alias_wildcard_and_unknown() {
    let (r, _) = router(BASE);
    assert_eq!(r.resolve("good").map(|(g, _, m)| (g.to_owned(), m)), Some(("good".into(), "good".into())));
    assert_eq!(r.resolve("alias-good").map(|(g, _, m)| (g.to_owned(), m)), Some(("good".into(), "good".into())));
    assert_eq!(r.resolve("gpt-4.1").map(|(g, _, m)| (g.to_owned(), m)), Some(("*".into(), "gpt-4.1".into())));
    let (r2, _) = router("model_list:\n  - model_name: only\n    litellm_params: {model: openai/x, mock_response: hi}\n");
    assert!(r2.resolve("other").is_none());
    let e = r2.unknown_model("other");
    assert!(e.message.contains("model=other") && e.message.contains("only"), "{}", e.message);
}

#[test]
fn config_problems_name_their_paths() {
    let (_, p) = router(
        r#"
model_list:
  - model_name: a
    litellm_params: {model: nosuch/x}
  - model_name: b
    litellm_params: {model: hosted_vllm/llama, vertex_project: p}
router_settings:
  routing_strategy: fastest-please
  fallbacks: [{"a": ["zzz"]}]
"#,
    );
    let msgs: Vec<String> = p.errors.iter().map(ToString::to_string).collect();
    let joined = msgs.join("\n");
    assert!(joined.contains("model_list[0].litellm_params.model: unknown provider 'nosuch'"), "{joined}");
    assert!(joined.contains("model_list[1].litellm_params: hosted_vllm needs api_base"), "{joined}");
    assert!(joined.contains("router_settings.routing_strategy: unknown routing_strategy 'fastest-please'"), "{joined}");
    assert!(joined.contains("router_settings.fallbacks.a: fallback to unknown model group 'zzz'"), "{joined}");
    assert!(p.ignored.contains(&"model_list[1].litellm_params.vertex_project".to_owned()), "{:?}", p.ignored);
}

#[test]
fn request_fallback_shapes() {
    let v: Value =
        serde_json::json!(["a", {"model": "b", "messages": [{"role": "user", "content": "x"}]}, {"req": ["c"]}, {"other": ["d"]}]);
    let f = parse_request_fallbacks(&v, "req").expect("parse");
    assert_eq!(f.iter().map(|t| t.model.as_str()).collect::<Vec<_>>(), vec!["a", "b", "c"]);
    assert!(f[1].messages.is_some());
    assert!(parse_request_fallbacks(&serde_json::json!("a"), "req").is_err());
}

#[tokio::test]
async fn client_provoked_failures_do_not_cool_deployments_down() {
    let (r, _) = router(BASE);
    let c = Controls {
        mock_timeout: true,
        timeout: Some(Duration::from_millis(5)),
        num_retries: Some(0),
        fallbacks: Some(vec![]),
        ..Default::default()
    };
    for _ in 0..5 {
        let e = call(&r, "mixed", &c).await.expect_err("mock timeout");
        assert_eq!(e.error.kind, ErrorKind::Timeout);
    }
    let group = r.group("mixed").expect("group");
    assert!(group.iter().all(|d| !d.health.cooling(now_ms())), "a client's mock_timeout must not take deployments out");
}

#[tokio::test]
async fn single_deployment_groups_cool_only_with_allowed_fails_set() {
    let yaml = "model_list:\n  - model_name: solo\n    litellm_params: {model: openai/x, mock_response: litellm.InternalServerError}\nrouter_settings: {num_retries: 0}\n";
    let (r, _) = router(yaml);
    let c = Controls { fallbacks: Some(vec![]), ..Default::default() };
    for _ in 0..10 {
        let e = call(&r, "solo", &c).await.expect_err("fails");
        assert_eq!(e.error.kind, ErrorKind::UpstreamServer, "never 'No deployments available' without allowed_fails");
    }
}

#[test]
fn weights_are_chosen_per_group_like_litellm() {
    let yaml = "model_list:\n  - model_name: g\n    litellm_params: {model: openai/a, mock_response: a, weight: 1}\n    model_info: {id: a}\n  - model_name: g\n    litellm_params: {model: openai/b, mock_response: b, rpm: 1000}\n    model_info: {id: b}\n";
    let (r, _) = router(yaml);
    let deployments = r.group("g").expect("group");
    for _ in 0..200 {
        let i = r.pick(deployments, &[], now_ms(), &Controls::default()).expect("pick");
        assert_eq!(deployments[i].id, "a", "with any `weight` set, a deployment without one weighs 0");
    }
}

#[test]
fn latency_based_routing_is_configured_from_strategy_args() {
    let yaml = "model_list:\n  - model_name: g\n    litellm_params: {model: openai/a, mock_response: a}\nrouter_settings:\n  routing_strategy: latency-based-routing\n  routing_strategy_args: {lowest_latency_buffer: 0.2}\n";
    let (r, p) = router(yaml);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert!(p.ignored.is_empty(), "{:?}", p.ignored);
    assert_eq!(r.strategy.name(), "latency-based-routing");
    let (_, p) = router(&yaml.replace("0.2", "-3"));
    assert!(
        p.errors.iter().any(|e| e.path == "router_settings.routing_strategy" && e.message.contains("lowest_latency_buffer")),
        "{:?}",
        p.errors
    );
}
