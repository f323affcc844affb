//! Each secret manager against a real stand-in where one runs here (moto
//! for AWS, an OpenBao dev server for Vault) and wiremock servers that check
//! the documented request shape and auth for Google and Azure.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tianji_core::config::Env;
use tianji_core::config::secrets::SecretSettings;
use tianji_mock_upstream::standins::{self, OPENBAO_ROOT_TOKEN, StandIn};
use tianji_secrets::{Lookup, Secrets};
use wiremock::matchers::{body_string_contains, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn env(vars: &[(&str, &str)]) -> Env {
    Env::isolated(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())))
}

fn settings(system: &str, ttl: f64) -> SecretSettings {
    SecretSettings { system: system.to_owned(), cache_ttl: ttl, ..Default::default() }
}

async fn connect(system: &str, ttl: f64, vars: &[(&str, &str)]) -> Secrets {
    tianji_secrets::connect(&settings(system, ttl), &env(vars)).await.unwrap_or_else(|e| panic!("connect {system}: {e}"))
}

fn found(l: Lookup) -> String {
    match l {
        Lookup::Found(v) => v,
        other => panic!("expected a value, got {other:?}"),
    }
}

fn failed(l: Lookup) -> String {
    match l {
        Lookup::Failed(m) => m,
        other => panic!("expected a failure, got {other:?}"),
    }
}

// ---------- HashiCorp Vault (OpenBao) ----------

async fn bao(vault: &StandIn, method: reqwest::Method, path: &str, body: Value) -> Value {
    let resp = reqwest::Client::new()
        .request(method, format!("{}/v1/{path}", vault.url))
        .header("X-Vault-Token", OPENBAO_ROOT_TOKEN)
        .json(&body)
        .send()
        .await
        .expect("OpenBao request");
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    assert!(status.is_success(), "{path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

async fn put_kv(vault: &StandIn, mount: &str, name: &str, data: Value) {
    bao(vault, reqwest::Method::POST, &format!("{mount}/data/{name}"), json!({"data": data})).await;
}

#[tokio::test]
async fn vault_reads_kv2_as_litellm_stores_it() {
    let vault = standins::openbao().await;
    put_kv(&vault, "secret", "OPENAI_API_KEY", json!({"key": "sk-from-vault"})).await;
    put_kv(&vault, "secret", "db", json!({"key": "{\"password\": \"pw\"}"})).await;
    put_kv(&vault, "secret", "EMPTY", json!({"key": ""})).await;
    put_kv(&vault, "secret", "ODD", json!({"value": "x"})).await;
    let s = connect("hashicorp_vault", 60.0, &[("HCP_VAULT_ADDR", &vault.url), ("HCP_VAULT_TOKEN", OPENBAO_ROOT_TOKEN)]).await;
    assert_eq!(found(s.lookup("OPENAI_API_KEY").await), "sk-from-vault", "the value only, no data.data wrapping");
    assert_eq!(found(s.lookup("db#password").await), "pw");
    assert_eq!(s.lookup("NOT_THERE").await, Lookup::Missing);
    assert!(failed(s.lookup("EMPTY").await).contains("is empty"));
    let odd = failed(s.lookup("ODD").await);
    assert!(odd.contains("no field 'key'") && odd.contains("fields: value") && !odd.contains("\"x\""), "{odd}");
    assert!(s.health().await.is_ok());

    // A custom mount and path prefix; a namespace with its own mount.
    bao(&vault, reqwest::Method::POST, "sys/mounts/team-kv", json!({"type": "kv", "options": {"version": "2"}})).await;
    put_kv(&vault, "team-kv", "prod/ANTHROPIC_API_KEY", json!({"key": "sk-ant-vault"})).await;
    let s = connect(
        "hashicorp_vault",
        60.0,
        &[
            ("HCP_VAULT_ADDR", &vault.url),
            ("HCP_VAULT_TOKEN", OPENBAO_ROOT_TOKEN),
            ("HCP_VAULT_MOUNT_NAME", "team-kv"),
            ("HCP_VAULT_PATH_PREFIX", "/prod/"),
        ],
    )
    .await;
    assert_eq!(found(s.lookup("ANTHROPIC_API_KEY").await), "sk-ant-vault");
    let c = reqwest::Client::new();
    let created = c
        .post(format!("{}/v1/sys/namespaces/team-a", vault.url))
        .header("X-Vault-Token", OPENBAO_ROOT_TOKEN)
        .send()
        .await
        .expect("namespace");
    assert!(created.status().is_success(), "namespaces: {}", created.text().await.unwrap_or_default());
    let mounted = c
        .post(format!("{}/v1/sys/mounts/secret", vault.url))
        .header("X-Vault-Token", OPENBAO_ROOT_TOKEN)
        .header("X-Vault-Namespace", "team-a")
        .json(&json!({"type": "kv", "options": {"version": "2"}}))
        .send()
        .await
        .expect("mount");
    assert!(mounted.status().is_success());
    let put = c
        .post(format!("{}/v1/secret/data/OPENAI_API_KEY", vault.url))
        .header("X-Vault-Token", OPENBAO_ROOT_TOKEN)
        .header("X-Vault-Namespace", "team-a")
        .json(&json!({"data": {"key": "sk-team-a"}}))
        .send()
        .await
        .expect("put");
    assert!(put.status().is_success());
    let s = connect(
        "hashicorp_vault",
        60.0,
        &[("HCP_VAULT_ADDR", &vault.url), ("HCP_VAULT_TOKEN", OPENBAO_ROOT_TOKEN), ("HCP_VAULT_NAMESPACE", "team-a")],
    )
    .await;
    assert_eq!(found(s.lookup("OPENAI_API_KEY").await), "sk-team-a");
}

#[tokio::test]
async fn vault_approle_login_and_token_renewal() {
    let vault = standins::openbao().await;
    put_kv(&vault, "secret", "OPENAI_API_KEY", json!({"key": "sk-approle"})).await;
    bao(&vault, reqwest::Method::PUT, "sys/policies/acl/reader", json!({"policy": "path \"secret/data/*\" { capabilities = [\"read\"] }"}))
        .await;
    bao(&vault, reqwest::Method::POST, "sys/auth/approle", json!({"type": "approle"})).await;
    bao(
        &vault,
        reqwest::Method::POST,
        "auth/approle/role/tianji",
        json!({"token_policies": "reader", "token_ttl": "3s", "token_max_ttl": "60s"}),
    )
    .await;
    let role_id = bao(&vault, reqwest::Method::GET, "auth/approle/role/tianji/role-id", Value::Null).await["data"]["role_id"]
        .as_str()
        .expect("role")
        .to_owned();
    let secret_id = bao(&vault, reqwest::Method::POST, "auth/approle/role/tianji/secret-id", json!({})).await["data"]["secret_id"]
        .as_str()
        .expect("sid")
        .to_owned();
    // A renewable 3 s token: without renewal it expires between the reads below.
    let token = bao(
        &vault,
        reqwest::Method::POST,
        "auth/token/create",
        json!({"policies": ["reader"], "ttl": "3s", "explicit_max_ttl": "60s", "renewable": true}),
    )
    .await["auth"]["client_token"]
        .as_str()
        .expect("token")
        .to_owned();

    let approle = connect(
        "hashicorp_vault",
        0.0,
        &[("HCP_VAULT_ADDR", &vault.url), ("HCP_VAULT_APPROLE_ROLE_ID", &role_id), ("HCP_VAULT_APPROLE_SECRET_ID", &secret_id)],
    )
    .await;
    let renewed = connect("hashicorp_vault", 0.0, &[("HCP_VAULT_ADDR", &vault.url), ("HCP_VAULT_TOKEN", &token)]).await;
    for _ in 0..3 {
        assert_eq!(found(approle.lookup("OPENAI_API_KEY").await), "sk-approle");
        assert_eq!(found(renewed.lookup("OPENAI_API_KEY").await), "sk-approle");
        tokio::time::sleep(Duration::from_millis(2200)).await;
    }

    let wrong = connect(
        "hashicorp_vault",
        0.0,
        &[("HCP_VAULT_ADDR", &vault.url), ("HCP_VAULT_APPROLE_ROLE_ID", &role_id), ("HCP_VAULT_APPROLE_SECRET_ID", "not-the-secret")],
    )
    .await;
    assert!(failed(wrong.lookup("OPENAI_API_KEY").await).contains("AppRole login failed"));
}

#[tokio::test]
async fn vault_cache_ttl_rotation_and_outage() {
    let vault = standins::openbao().await;
    put_kv(&vault, "secret", "OPENAI_API_KEY", json!({"key": "v1"})).await;
    let s = connect("hashicorp_vault", 1.0, &[("HCP_VAULT_ADDR", &vault.url), ("HCP_VAULT_TOKEN", OPENBAO_ROOT_TOKEN)]).await;
    assert_eq!(found(s.lookup("OPENAI_API_KEY").await), "v1");
    put_kv(&vault, "secret", "OPENAI_API_KEY", json!({"key": "v2"})).await;
    assert_eq!(found(s.lookup("OPENAI_API_KEY").await), "v1", "within the TTL the cache answers (Vault is not asked)");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let refreshed = s.refresh().await;
    assert_eq!(refreshed.changed, vec!["OPENAI_API_KEY".to_owned()], "the rotation is picked up");
    assert_eq!(found(s.lookup("OPENAI_API_KEY").await), "v2");
    drop(vault);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(s.refresh().await.failed.len(), 1);
    assert_eq!(found(s.lookup("OPENAI_API_KEY").await), "v2", "with Vault gone the old value keeps serving");
    assert!(s.health().await.is_err());

    let down = connect("hashicorp_vault", 60.0, &[("HCP_VAULT_ADDR", "http://127.0.0.1:1"), ("HCP_VAULT_TOKEN", "t")]).await;
    assert!(failed(down.lookup("OPENAI_API_KEY").await).contains("cannot reach Vault"));
    let Err(e) = tianji_secrets::connect(&settings("hashicorp_vault", 1.0), &env(&[])).await else { panic!("no token") };
    assert!(e.to_string().contains("HCP_VAULT_TOKEN"), "{e}");
}

// ---------- AWS Secrets Manager (moto) ----------

#[tokio::test]
async fn aws_secrets_manager_against_moto() {
    let moto = standins::moto().await;
    let vars = [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION_NAME", "us-east-1"),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto.url.as_str()),
    ];
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new("testing", "testing", None, None, "test"))
        .endpoint_url(&moto.url)
        .load()
        .await;
    let admin = aws_sdk_secretsmanager::Client::new(&conf);
    admin.create_secret().name("OPENAI_API_KEY").secret_string("sk-from-aws").send().await.expect("create");
    admin.create_secret().name("prod/db").secret_string(r#"{"password": "pw", "user": "u"}"#).send().await.expect("create");
    admin
        .create_secret()
        .name("BINARY_KEY")
        .secret_binary(aws_sdk_secretsmanager::primitives::Blob::new(b"sk-binary".to_vec()))
        .send()
        .await
        .expect("create");
    admin.create_secret().name("BLANK").secret_string(" ").send().await.expect("create");
    admin.create_secret().name("TEXT").secret_string("plain").send().await.expect("create");

    let s = connect("aws_secret_manager", 60.0, &vars).await;
    assert_eq!(found(s.lookup("OPENAI_API_KEY").await), "sk-from-aws");
    assert_eq!(found(s.lookup("BINARY_KEY").await), "sk-binary");
    assert_eq!(found(s.lookup("prod/db#password").await), "pw");
    assert_eq!(s.lookup("NOT_THERE").await, Lookup::Missing);
    assert!(failed(s.lookup("BLANK").await).contains("is empty"));
    assert!(failed(s.lookup("TEXT#field").await).contains("not a JSON object"));
    assert!(s.health().await.is_ok());

    // Rotation, picked up after the TTL.
    let s = connect("aws_secret_manager", 0.5, &vars).await;
    assert_eq!(found(s.lookup("OPENAI_API_KEY").await), "sk-from-aws");
    admin.put_secret_value().secret_id("OPENAI_API_KEY").secret_string("sk-rotated").send().await.expect("rotate");
    assert_eq!(found(s.lookup("OPENAI_API_KEY").await), "sk-from-aws");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(s.refresh().await.changed, vec!["OPENAI_API_KEY".to_owned()]);
    assert_eq!(found(s.lookup("OPENAI_API_KEY").await), "sk-rotated");

    let down =
        connect("aws_secret_manager", 60.0, &[vars[0], vars[1], vars[2], ("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:1")]).await;
    assert!(!failed(down.lookup("OPENAI_API_KEY").await).is_empty());
}

// ---------- Google Secret Manager (wiremock) ----------

/// Matches requests whose bearer JWT the service account signed.
struct SignedBy(tianji_mock_upstream::google_auth::GoogleServiceAccount);

impl wiremock::Match for SignedBy {
    fn matches(&self, request: &Request) -> bool {
        let auth = request.headers.get("authorization").and_then(|v| v.to_str().ok());
        tianji_mock_upstream::google_auth::verify(auth, &self.0).is_ok()
    }
}

fn access_path(name: &str) -> String {
    format!("/v1/projects/tianji-gsm/secrets/{name}/versions/latest:access")
}

fn payload(value: &str) -> ResponseTemplate {
    use base64::Engine;
    ResponseTemplate::new(200).set_body_json(json!({
        "name": "projects/123/secrets/x/versions/1",
        "payload": {"data": base64::engine::general_purpose::STANDARD.encode(value), "dataCrc32c": "1"}
    }))
}

#[tokio::test]
async fn google_secret_manager_request_shape_cache_and_rotation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, account) = tianji_mock_upstream::google_auth::service_account("tianji-gsm");
    let key_path = dir.path().join("sa.json");
    std::fs::write(&key_path, key.to_string()).expect("key");
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(access_path("OPENAI_API_KEY")))
        .and(SignedBy(account.clone()))
        .respond_with(payload("sk-google-1"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(access_path("MISSING")))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!({"error": {"code": 404, "message": "Secret [projects/123/secrets/MISSING] not found or has no versions.", "status": "NOT_FOUND"}}),
        ))
        .mount(&server)
        .await;
    let vars = [
        ("GOOGLE_APPLICATION_CREDENTIALS", key_path.to_str().expect("path")),
        ("GOOGLE_SECRET_MANAGER_ENDPOINT", server.uri().leak() as &str),
    ];
    let s = connect("google_secret_manager", 0.5, &vars).await;
    assert_eq!(found(s.lookup("OPENAI_API_KEY").await), "sk-google-1");
    assert_eq!(found(s.lookup("OPENAI_API_KEY").await), "sk-google-1", "a cache hit: the mock expects one call");
    assert_eq!(s.lookup("MISSING").await, Lookup::Missing);

    // After the TTL: rotated, then the manager fails and the old value stays.
    Mock::given(method("GET"))
        .and(path(access_path("OPENAI_API_KEY")))
        .and(SignedBy(account.clone()))
        .respond_with(payload("sk-google-2"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(s.refresh().await.changed, vec!["OPENAI_API_KEY".to_owned()]);
    assert_eq!(found(s.lookup("OPENAI_API_KEY").await), "sk-google-2");
    Mock::given(method("GET"))
        .and(path(access_path("OPENAI_API_KEY")))
        .respond_with(
            ResponseTemplate::new(503).set_body_json(json!({"error": {"code": 503, "message": "unavailable", "status": "UNAVAILABLE"}})),
        )
        .mount(&server)
        .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(s.refresh().await.failed.len(), 1);
    assert_eq!(found(s.lookup("OPENAI_API_KEY").await), "sk-google-2");

    // A key the server does not trust is refused (the mock checks the JWT's signature).
    Mock::given(method("GET")).and(path(access_path("SIGNED"))).and(SignedBy(account)).respond_with(payload("ok")).mount(&server).await;
    let (other, _) = tianji_mock_upstream::google_auth::service_account("tianji-gsm");
    let other_path = dir.path().join("other.json");
    std::fs::write(&other_path, other.to_string()).expect("key");
    let trusted = connect("google_secret_manager", 60.0, &vars).await;
    assert_eq!(found(trusted.lookup("SIGNED").await), "ok");
    let stranger =
        connect("google_secret_manager", 60.0, &[("GOOGLE_APPLICATION_CREDENTIALS", other_path.to_str().expect("path")), vars[1]]).await;
    assert_ne!(stranger.lookup("SIGNED").await, Lookup::Found("ok".into()), "another account's token does not get the secret");
    let Err(e) =
        tianji_secrets::connect(&settings("google_secret_manager", 1.0), &env(&[("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent.json")]))
            .await
    else {
        panic!("unreadable key")
    };
    assert!(e.to_string().contains("/nonexistent.json"), "{e}");
}

// ---------- Azure Key Vault (wiremock) ----------

/// Sends azure_identity's `https://login.test` requests to the wiremock server.
#[derive(Debug)]
struct Redirect {
    to: reqwest::Url,
    inner: reqwest::Client,
}

#[async_trait::async_trait]
impl azure_core::http::HttpClient for Redirect {
    async fn execute_request(&self, request: &azure_core::http::Request) -> azure_core::Result<azure_core::http::AsyncRawResponse> {
        let mut r = request.clone();
        let url = r.url_mut();
        let _ = url.set_scheme(self.to.scheme());
        let _ = url.set_host(self.to.host_str());
        let _ = url.set_port(self.to.port());
        self.inner.execute_request(&r).await
    }
}

#[tokio::test]
async fn azure_key_vault_client_secret_flow_and_secret_reads() {
    use azure_core::credentials::Secret;
    use azure_identity::{ClientSecretCredential, ClientSecretCredentialOptions};

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/tenant-1/oauth2/v2.0/token"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string_contains("client_id=app-1"))
        .and(body_string_contains("client_secret=shh"))
        .and(body_string_contains("grant_type=client_credentials"))
        .and(body_string_contains("scope=https%3A%2F%2Fvault.azure.net%2F.default"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": "aad-token"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/secrets/OPENAI-API-KEY"))
        .and(query_param("api-version", "7.5"))
        .and(header("authorization", "Bearer aad-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"value": "sk-azure", "id": "https://v.vault.azure.net/secrets/OPENAI-API-KEY/1", "attributes": {"enabled": true}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/secrets/MISSING"))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!({"error": {"code": "SecretNotFound", "message": "A secret with (name/id) MISSING was not found in this key vault."}}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/secrets/FORBIDDEN"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(json!({"error": {"code": "Forbidden", "message": "The user does not have secrets get permission."}})),
        )
        .mount(&server)
        .await;

    let transport =
        azure_core::http::Transport::new(Arc::new(Redirect { to: server.uri().parse().expect("url"), inner: reqwest::Client::new() }));
    let mut client_options = azure_core::http::ClientOptions { transport: Some(transport), ..Default::default() };
    let mut custom = azure_core::cloud::CustomConfiguration::default();
    custom.authority_host = "https://login.test".to_owned();
    client_options.cloud = Some(Arc::new(azure_core::cloud::CloudConfiguration::Custom(custom)));
    let credential =
        ClientSecretCredential::new("tenant-1", "app-1".into(), Secret::new("shh"), Some(ClientSecretCredentialOptions { client_options }))
            .expect("credential");
    let vault =
        tianji_secrets::azure::AzureKeyVault::new(&format!("{}/", server.uri()), credential, reqwest::Client::new()).expect("vault");
    let s = Secrets::new(settings("azure_key_vault", 60.0), Arc::new(vault));
    assert_eq!(found(s.lookup("OPENAI_API_KEY").await), "sk-azure", "OPENAI_API_KEY is read as OPENAI-API-KEY");
    assert_eq!(found(s.lookup("OPENAI_API_KEY").await), "sk-azure", "a cache hit");
    assert_eq!(s.lookup("MISSING").await, Lookup::Missing);
    assert!(failed(s.lookup("FORBIDDEN").await).contains("secrets get permission"));
    assert!(failed(s.lookup("bad.name").await).contains("not a valid Key Vault secret name"));

    let Err(e) = tianji_secrets::connect(&settings("azure_key_vault", 1.0), &env(&[])).await else { panic!("no vault URI") };
    assert!(e.to_string().contains("AZURE_KEY_VAULT_URI"), "{e}");
}
