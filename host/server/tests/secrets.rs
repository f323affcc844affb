//! The proxy with a secret manager: a config that holds only `os.environ/`
//! references, an environment that holds only the manager's credentials
//! (a real OpenBao dev server), secrets granted to a plugin, a rotated
//! provider key picked up without a restart, and start-up errors that list
//! every reference the manager could not deliver.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use tianji_core::config::Env;
use tianji_mock_upstream::standins::{self, OPENBAO_ROOT_TOKEN, StandIn};
use tianji_mock_upstream::{MockOptions, MockServer};
use tianji_server::LoadOptions;

mod common;

async fn put(vault: &StandIn, name: &str, value: &str) {
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/secret/data/{name}", vault.url))
        .header("X-Vault-Token", OPENBAO_ROOT_TOKEN)
        .json(&json!({"data": {"key": value}}))
        .send()
        .await
        .expect("OpenBao");
    assert!(resp.status().is_success(), "put {name}: {}", resp.status());
}

fn vault_env(vault: &StandIn) -> Env {
    Env::isolated([("HCP_VAULT_ADDR".to_owned(), vault.url.clone()), ("HCP_VAULT_TOKEN".to_owned(), OPENBAO_ROOT_TOKEN.to_owned())])
}

fn built(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("exe");
    let path = exe.ancestors().nth(3).expect("target dir").join("wasm32-wasip2/plugin").join(format!("{name}.wasm"));
    assert!(path.exists(), "{} is missing: run scripts/build-plugins first", path.display());
    path
}

const CONFIG: &str = r#"
model_list:
  - model_name: gpt
    litellm_params: {model: openai/gpt-4o, api_base: os.environ/UPSTREAM_BASE, api_key: os.environ/OPENAI_API_KEY}
guardrails:
  - guardrail_name: granted
    litellm_params: {guardrail: test_guardrail, mode: pre_call, on_request: secret, secret: GUARD_TOKEN, word: show-granted, default_on: true}
  - guardrail_name: not-granted
    litellm_params: {guardrail: test_guardrail, mode: pre_call, on_request: secret, secret: OPENAI_API_KEY, word: show-other, default_on: true}
general_settings:
  master_key: os.environ/LITELLM_MASTER_KEY
  key_management_system: hashicorp_vault
  key_management_settings: {cache_ttl: 1}
"#;

struct Proxy {
    base: String,
    client: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start(env: Env, plugin_dir: &Path) -> Proxy {
    let options = LoadOptions { config_path: None, plugin_dir: Some(plugin_dir.to_path_buf()) };
    let loaded = tianji_server::load_with(CONFIG, env, options).unwrap_or_else(|e| panic!("config: {e}"));
    let (base, tx, _) = common::serve(loaded.state).await;
    Proxy { base, client: reqwest::Client::new(), _stop: tx }
}

impl Proxy {
    async fn chat(&self, key: &str, text: &str) -> (u16, Value) {
        let resp = self
            .client
            .post(format!("{}/v1/chat/completions", self.base))
            .bearer_auth(key)
            .json(&json!({"model": "gpt", "messages": [{"role": "user", "content": text}]}))
            .send()
            .await
            .expect("send");
        (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
    }
}

fn plugin_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(built("test_guardrail"), dir.path().join("test_guardrail.wasm")).expect("copy");
    std::fs::write(dir.path().join("test_guardrail.toml"), "secrets = [\"GUARD_TOKEN\"]\n").expect("manifest");
    dir
}

fn upstream_key(mock: &MockServer) -> String {
    mock.last_request().expect("a request")["headers"]["authorization"].as_str().unwrap_or("").to_owned()
}

#[tokio::test]
async fn a_config_of_references_starts_from_vault_alone_and_follows_rotation() {
    let vault = standins::openbao().await;
    let mock = tianji_mock_upstream::spawn(MockOptions::default()).await.expect("mock");
    put(&vault, "UPSTREAM_BASE", &mock.base_url()).await;
    put(&vault, "OPENAI_API_KEY", "sk-upstream-1").await;
    put(&vault, "LITELLM_MASTER_KEY", "sk-master-from-vault").await;
    put(&vault, "GUARD_TOKEN", "guard-from-vault").await;
    let dir = plugin_dir();
    let proxy = start(vault_env(&vault), dir.path()).await;

    let (status, body) = proxy.chat("sk-master-from-vault", "hello").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(upstream_key(&mock), "Bearer sk-upstream-1");
    let (status, _) = proxy.chat("sk-wrong", "hello").await;
    assert_eq!(status, 401, "the master key came from Vault");

    // A plugin reads only what its manifest grants.
    let (status, body) = proxy.chat("sk-master-from-vault", "show-granted").await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("secret GUARD_TOKEN is guard-from-vault")), "{body}");
    let (_, body) = proxy.chat("sk-master-from-vault", "show-other").await;
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("secret OPENAI_API_KEY is not granted")), "{body}");

    let health: Value =
        proxy.client.get(format!("{}/health/readiness", proxy.base)).send().await.expect("health").json().await.expect("json");
    assert_eq!(health["secret_manager"]["name"], "hashicorp_vault");
    assert_eq!(health["secret_manager"]["status"], "healthy");

    // Rotation: the new provider key is used once the 1 s TTL has passed, without a restart.
    put(&vault, "OPENAI_API_KEY", "sk-upstream-2").await;
    let mut rotated = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (status, _) = proxy.chat("sk-master-from-vault", "hello").await;
        assert_eq!(status, 200);
        if upstream_key(&mock) == "Bearer sk-upstream-2" {
            rotated = true;
            break;
        }
    }
    assert!(rotated, "the rotated key was picked up");

    // Vault goes away: the cached values keep serving; readiness says so.
    drop(vault);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (status, _) = proxy.chat("sk-master-from-vault", "hello").await;
    assert_eq!(status, 200);
    assert_eq!(upstream_key(&mock), "Bearer sk-upstream-2");
    let health: Value =
        proxy.client.get(format!("{}/health/readiness", proxy.base)).send().await.expect("health").json().await.expect("json");
    assert_eq!(health["secret_manager"]["status"], "unhealthy", "{health}");
}

#[tokio::test]
async fn unresolved_references_are_listed_with_their_paths() {
    let vault = standins::openbao().await;
    put(&vault, "OPENAI_API_KEY", "").await;
    let dir = plugin_dir();
    let err =
        tianji_server::load_with(CONFIG, vault_env(&vault), LoadOptions { config_path: None, plugin_dir: Some(dir.path().to_path_buf()) })
            .err()
            .expect("refused")
            .to_string();
    assert!(
        err.contains(
            "model_list[0].litellm_params.api_base: secret UPSTREAM_BASE could not be resolved: hashicorp_vault has no secret UPSTREAM_BASE"
        ),
        "{err}"
    );
    assert!(err.contains("model_list[0].litellm_params.api_key: secret OPENAI_API_KEY could not be resolved: secret OPENAI_API_KEY in hashicorp_vault is empty"), "{err}");
    assert!(err.contains("general_settings.master_key: secret LITELLM_MASTER_KEY could not be resolved"), "{err}");

    // Unreachable: every reference, with the reason.
    let down =
        Env::isolated([("HCP_VAULT_ADDR".to_owned(), "http://127.0.0.1:1".to_owned()), ("HCP_VAULT_TOKEN".to_owned(), "t".to_owned())]);
    let err = tianji_server::load_with(CONFIG, down, LoadOptions { config_path: None, plugin_dir: Some(dir.path().to_path_buf()) })
        .err()
        .expect("refused")
        .to_string();
    for path in ["model_list[0].litellm_params.api_base", "model_list[0].litellm_params.api_key", "general_settings.master_key"] {
        assert!(err.contains(&format!("{path}: secret")) && err.contains("cannot reach Vault"), "{path}: {err}");
    }

    // No credentials for the manager: the manager's own problem, and each reference.
    let err =
        tianji_server::load_with(CONFIG, Env::isolated([]), LoadOptions { config_path: None, plugin_dir: Some(dir.path().to_path_buf()) })
            .err()
            .expect("refused")
            .to_string();
    assert!(
        err.contains("general_settings.key_management_system: cannot use the secret manager") && err.contains("HCP_VAULT_TOKEN"),
        "{err}"
    );
    assert!(
        err.contains(
            "general_settings.master_key: secret LITELLM_MASTER_KEY could not be resolved: the secret manager hashicorp_vault is not usable"
        ),
        "{err}"
    );
}
