//! The management API end to end, in-process, on SQLite and on PostgreSQL:
//! keys, teams, users, customers, budgets and organizations, enforcement on
//! the request path (model access, blocked and expired keys, budgets, rate
//! limits) and spend accounting.

use std::time::Duration;

use serde_json::{Value, json};
use tianji_core::config::Env;
use tianji_store::testing::TempDatabase;

const MASTER: &str = "sk-master-1234";

struct Proxy {
    base: String,
    client: reqwest::Client,
    state: tianji_server::AppState,
}

fn config(database_url: &str) -> String {
    config_with(database_url, "")
}

fn config_with(database_url: &str, router_settings: &str) -> String {
    format!(
        r#"
model_list:
  - model_name: cheap
    litellm_params: {{model: openai/cheap, mock_response: "hello there"}}
    model_info: {{input_cost_per_token: 0.001, output_cost_per_token: 0.002, access_groups: [beta]}}
  - model_name: pricey
    litellm_params: {{model: openai/pricey, mock_response: "hello there"}}
    model_info: {{input_cost_per_token: 1.0, output_cost_per_token: 1.0}}
  - model_name: other
    litellm_params: {{model: openai/other, mock_response: "hello there"}}
general_settings:
  master_key: {MASTER}
  database_url: "{database_url}"
  proxy_batch_write_at: 0.05
{router_settings}
"#
    )
}

impl Proxy {
    async fn start(database_url: &str) -> Proxy {
        Self::start_with(config(database_url)).await
    }

    async fn start_with(yaml: String) -> Proxy {
        let loaded = tianji_server::load_str(&yaml, Env::isolated([])).unwrap_or_else(|e| panic!("config: {e}"));
        let state = loaded.state.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(tianji_server::serve(listener, loaded.state, std::future::pending(), Duration::from_secs(1)));
        Proxy { base, client: reqwest::Client::new(), state }
    }

    async fn admin(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self.client.post(format!("{}{path}", self.base)).bearer_auth(MASTER).json(&body).send().await.expect("request");
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn admin_get(&self, path: &str) -> (u16, Value) {
        let r = self.client.get(format!("{}{path}", self.base)).bearer_auth(MASTER).send().await.expect("request");
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn chat(&self, key: &str, model: &str) -> reqwest::Response {
        self.chat_as(key, model, None).await
    }

    async fn chat_as(&self, key: &str, model: &str, user: Option<&str>) -> reqwest::Response {
        let mut body = json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
        if let Some(u) = user {
            body["user"] = json!(u);
        }
        self.client.post(format!("{}/v1/chat/completions", self.base)).bearer_auth(key).json(&body).send().await.expect("request")
    }

    async fn generate(&self, body: Value) -> String {
        let (status, v) = self.admin("/key/generate", body).await;
        assert_eq!(status, 200, "{v}");
        v["key"].as_str().expect("key").to_owned()
    }

    /// Waits until the spend writer has written everything accepted.
    async fn spend_written(&self) {
        let access = self.state.access.as_ref().expect("access");
        for _ in 0..200 {
            let stats = &access.spend.stats;
            if stats.written.load(std::sync::atomic::Ordering::Relaxed) >= stats.accepted.load(std::sync::atomic::Ordering::Relaxed) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("spend rows were not written within 4 s");
    }
}

fn message(v: &Value) -> &str {
    v["error"]["message"].as_str().unwrap_or_default()
}

async fn lifecycle(p: &Proxy) {
    // Generate: the key is shown once; its hash is the token.
    let (status, v) =
        p.admin("/key/generate", json!({"models": ["cheap", "pricey"], "key_alias": "alice", "metadata": {"team": "x"}})).await;
    assert_eq!(status, 200, "{v}");
    let key = v["key"].as_str().expect("key").to_owned();
    assert!(key.starts_with("sk-") && key.len() == 25, "{key}");
    assert_eq!(v["key_name"], format!("sk-...{}", &key[key.len() - 4..]));
    assert_eq!(v["token"], tianji_store::hash_key(&key));

    // It calls what it may, with the spend header; not what it may not.
    let r = p.chat(&key, "cheap").await;
    assert_eq!(r.status(), 200);
    let spend: f64 = r.headers()["x-litellm-key-spend"].to_str().expect("ascii").parse().expect("number");
    assert!(spend > 0.0, "key spend header {spend}");
    let r = p.chat(&key, "other").await;
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.expect("json");
    assert!(message(&v).starts_with("key not allowed to access model."), "{v}");
    assert_eq!(v["error"]["type"], "key_model_access_denied");
    // Unknown and missing keys.
    let r = p.chat("sk-not-a-key", "cheap").await;
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.expect("json");
    assert!(message(&v).contains("Invalid proxy server token passed"), "{v}");

    // Spend reaches the database and /key/info.
    p.spend_written().await;
    let (status, info) = p.admin_get(&format!("/key/info?key={key}")).await;
    assert_eq!(status, 200, "{info}");
    assert!((info["info"]["spend"].as_f64().expect("spend") - spend).abs() < 1e-9, "{info}");
    assert_eq!(info["info"]["key_alias"], "alice");
    assert!(info["info"]["model_spend"]["cheap"].as_f64().is_some(), "{info}");
    // A key may read its own info, not another's.
    let other = p.generate(json!({})).await;
    let r = p.client.get(format!("{}/key/info", p.base)).bearer_auth(&key).send().await.expect("request");
    assert_eq!(r.status(), 200);
    let r = p.client.get(format!("{}/key/info?key={other}", p.base)).bearer_auth(&key).send().await.expect("request");
    assert_eq!(r.status(), 403);
    // Management needs the master key.
    let r = p.client.post(format!("{}/key/generate", p.base)).bearer_auth(&key).json(&json!({})).send().await.expect("request");
    assert_eq!(r.status(), 401);

    // Block and unblock take effect at once.
    let (status, _) = p.admin("/key/block", json!({"key": key})).await;
    assert_eq!(status, 200);
    let r = p.chat(&key, "cheap").await;
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.expect("json");
    assert!(message(&v).contains("blocked"), "{v}");
    let (status, _) = p.admin("/key/unblock", json!({"key": key})).await;
    assert_eq!(status, 200);
    assert_eq!(p.chat(&key, "cheap").await.status(), 200);

    // Update: new models, and access groups count.
    let (status, v) = p.admin("/key/update", json!({"key": key, "models": ["beta"]})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(p.chat(&key, "cheap").await.status(), 200, "the access group beta holds cheap");
    assert_eq!(p.chat(&key, "pricey").await.status(), 401);

    // Budgets: a key over its budget gets 429 budget_exceeded.
    let poor = p.generate(json!({"max_budget": 0.5})).await;
    assert_eq!(p.chat(&poor, "pricey").await.status(), 200, "under budget");
    let r = p.chat(&poor, "pricey").await;
    assert_eq!(r.status(), 429);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"]["type"], "budget_exceeded", "{v}");
    assert!(message(&v).starts_with("Budget has been exceeded!"), "{v}");

    // Expired keys.
    let brief = p.generate(json!({"duration": "1s"})).await;
    assert_eq!(p.chat(&brief, "cheap").await.status(), 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = p.chat(&brief, "cheap").await;
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"]["type"], "expired_key", "{v}");

    // Regenerate: the old key stops, the new one carries the settings and spend.
    let (status, v) = p.admin("/key/regenerate", json!({"key": key})).await;
    assert_eq!(status, 200, "{v}");
    let renewed = v["key"].as_str().expect("key").to_owned();
    assert_ne!(renewed, key);
    assert_eq!(v["key_alias"], "alice");
    assert_eq!(p.chat(&key, "cheap").await.status(), 401);
    assert_eq!(p.chat(&renewed, "cheap").await.status(), 200);
    let (status, v) = p.admin(&format!("/key/{renewed}/regenerate"), json!({})).await;
    assert_eq!(status, 200, "{v}");
    let renewed = v["key"].as_str().expect("key").to_owned();

    // List with pagination.
    let (status, v) = p.admin_get("/key/list?size=2").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["keys"].as_array().map(Vec::len), Some(2));
    assert_eq!(v["total_count"], 4);
    assert_eq!(v["total_pages"], 2);
    let (_, v) = p.admin_get("/key/list?key_alias=alice&return_full_object=true").await;
    assert_eq!(v["keys"][0]["key_alias"], "alice", "{v}");

    // Delete: by key and by alias; the key stops at once.
    let (status, v) = p.admin("/key/delete", json!({"key_aliases": ["alice"]})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(p.chat(&renewed, "cheap").await.status(), 401);
    let (status, _) = p.admin("/key/delete", json!({"keys": [poor]})).await;
    assert_eq!(status, 200);
    let (status, v) = p.admin("/key/delete", json!({"keys": [poor]})).await;
    assert_eq!(status, 404, "{v}");
    let (status, _) = p.admin_get(&format!("/key/info?key={poor}")).await;
    assert_eq!(status, 404);
}

async fn bad_input(p: &Proxy) {
    let cases = [
        (json!({"max_budget": -1}), 400, "max_budget"),
        (json!({"rpm_limit": "ten"}), 400, "rpm_limit"),
        (json!({"colour": "red"}), 400, ""),
        (json!({"duration": "forever"}), 400, "duration"),
        (json!({"team_id": "no-such-team"}), 404, "team_id"),
        (json!({"key": "not-sk"}), 400, "key"),
    ];
    for (body, want, param) in cases {
        let (status, v) = p.admin("/key/generate", body.clone()).await;
        assert_eq!(status, want, "{body} -> {v}");
        if !param.is_empty() {
            assert_eq!(v["error"]["param"], param, "{body} -> {v}");
        } else {
            assert!(message(&v).contains("colour"), "unknown field named: {v}");
        }
    }
    p.generate(json!({"key_alias": "dup"})).await;
    let (status, v) = p.admin("/key/generate", json!({"key_alias": "dup"})).await;
    assert_eq!(status, 409, "{v}");
    let (_, v) = p.admin_get("/key/list?key_alias=dup").await;
    assert_eq!(v["total_count"], 1, "nothing half-written: {v}");
    let (status, _) = p.admin("/key/update", json!({"key": "sk-nope", "max_budget": 1})).await;
    assert_eq!(status, 404);
}

async fn rpm_limit_is_exact_under_concurrency(p: &Proxy) {
    let key = p.generate(json!({"rpm_limit": 50})).await;
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let (client, base, key) = (p.client.clone(), p.base.clone(), key.clone());
            tokio::spawn(async move {
                let r = client
                    .post(format!("{base}/v1/chat/completions"))
                    .bearer_auth(&key)
                    .json(&json!({"model": "cheap", "messages": [{"role": "user", "content": "hi"}]}))
                    .send()
                    .await
                    .expect("request");
                let retry = r.headers().get("retry-after").is_some();
                (r.status().as_u16(), retry)
            })
        })
        .collect();
    let mut ok = 0;
    let mut limited = 0;
    for t in tasks {
        match t.await.expect("task") {
            (200, _) => ok += 1,
            (429, true) => limited += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    // The minute may roll over mid-test; then at most twice the limit pass.
    assert!(ok == 50 || (ok > 50 && ok <= 100), "{ok} of 200 passed an rpm_limit of 50");
    assert_eq!(ok + limited, 200);
}

async fn teams_and_users(p: &Proxy) {
    // A team with a model list, a budget and members.
    let (status, team) = p
        .admin("/team/new", json!({"team_alias": "platform", "models": ["cheap", "pricey"], "max_budget": 1.5, "members_with_roles": [{"role": "admin", "user_id": "ann"}]}))
        .await;
    assert_eq!(status, 200, "{team}");
    let team_id = team["team_id"].as_str().expect("id").to_owned();
    assert_eq!(team["admins"], json!(["ann"]));
    let (status, v) = p.admin("/team/new", json!({"team_id": team_id})).await;
    assert_eq!(status, 409, "{v}");
    let (status, v) = p.admin("/team/new", json!({"team_alias": "platform"})).await;
    assert_eq!(status, 409, "duplicate alias: {v}");
    let (status, v) = p.admin("/team/member_add", json!({"team_id": team_id, "member": {"role": "user", "user_id": "bob"}})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["members"], json!(["bob"]));
    let (status, v) = p.admin("/team/member_add", json!({"team_id": team_id, "member": {"role": "user", "user_id": "bob"}})).await;
    assert_eq!(status, 400, "already a member: {v}");
    let (status, v) = p.admin("/team/member_add", json!({"team_id": team_id, "member": {"role": "owner", "user_id": "cy"}})).await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["param"], "member[0].role");
    let (status, v) = p.admin_get("/user/info?user_id=bob").await;
    assert_eq!(status, 200, "members become users: {v}");
    assert_eq!(v["user_info"]["teams"], json!([team_id]));

    // A team key: the team's models bound the key; the team's budget is shared.
    let key = p.generate(json!({"team_id": team_id, "user_id": "bob"})).await;
    assert_eq!(p.chat(&key, "other").await.status(), 401, "not a team model");
    assert_eq!(p.chat(&key, "pricey").await.status(), 200);
    let r = p.chat(&key, "pricey").await;
    assert_eq!(r.status(), 429, "team budget 1.5 spent");
    let v: Value = r.json().await.expect("json");
    assert!(message(&v).contains(&format!("Team={team_id}")), "{v}");
    p.spend_written().await;
    let (_, info) = p.admin_get(&format!("/team/info?team_id={team_id}")).await;
    assert!(info["team_info"]["spend"].as_f64().expect("spend") >= 1.5, "{info}");
    assert_eq!(info["keys"].as_array().map(Vec::len), Some(1));
    let (status, _) = p.admin("/team/update", json!({"team_id": team_id, "max_budget": 1000})).await;
    assert_eq!(status, 200);
    assert_eq!(p.chat(&key, "cheap").await.status(), 200, "budget raised takes effect at once");
    let (status, _) = p.admin("/team/block", json!({"team_id": team_id})).await;
    assert_eq!(status, 200);
    let r = p.chat(&key, "cheap").await;
    assert_eq!(r.status(), 401, "blocked team");
    let (status, _) = p.admin("/team/unblock", json!({"team_id": team_id})).await;
    assert_eq!(status, 200);
    assert_eq!(p.chat(&key, "cheap").await.status(), 200);

    // A proxy_admin user's key manages like the master key; an internal user's does not.
    let (status, boss) = p.admin("/user/new", json!({"user_id": "boss", "user_role": "proxy_admin"})).await;
    assert_eq!(status, 200, "{boss}");
    let boss_key = boss["key"].as_str().expect("key").to_owned();
    let r = p
        .client
        .post(format!("{}/key/generate", p.base))
        .bearer_auth(&boss_key)
        .json(&json!({"key_alias": "made-by-boss"}))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200, "an admin key may generate keys");
    let r = p.client.get(format!("{}/user/info?user_id=bob", p.base)).bearer_auth(&boss_key).send().await.expect("request");
    assert_eq!(r.status(), 200);

    // Users: /user/new makes a key; a user's budget covers all their keys.
    let (status, u) = p.admin("/user/new", json!({"user_id": "dee", "max_budget": 0.5, "user_role": "internal_user"})).await;
    assert_eq!(status, 200, "{u}");
    let dee_key = u["key"].as_str().expect("auto-created key").to_owned();
    assert_eq!(p.chat(&dee_key, "pricey").await.status(), 200);
    let r = p.chat(&dee_key, "pricey").await;
    assert_eq!(r.status(), 429, "user budget");
    let (status, v) = p.admin("/user/new", json!({"user_id": "dee"})).await;
    assert_eq!(status, 409, "{v}");
    let (status, v) = p.admin("/user/new", json!({"user_role": "emperor"})).await;
    assert_eq!((status, v["error"]["param"].as_str()), (400, Some("user_role")), "{v}");
    // Another user's info is refused to a key; its own is not.
    let r = p.client.get(format!("{}/user/info?user_id=bob", p.base)).bearer_auth(&dee_key).send().await.expect("request");
    assert_eq!(r.status(), 403);
    let r = p.client.get(format!("{}/user/info", p.base)).bearer_auth(&dee_key).send().await.expect("request");
    assert_eq!(r.status(), 200);
    let (status, v) = p.admin_get("/user/list?page_size=2").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["users"].as_array().map(Vec::len), Some(2));
    assert!(v["total"].as_i64().expect("total") >= 3);
    let (status, v) = p.admin("/user/delete", json!({"user_ids": ["dee"]})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(p.chat(&dee_key, "cheap").await.status(), 401, "a deleted user's keys go too");

    // Members leave; teams go with their keys.
    let (status, _) = p.admin("/team/member_delete", json!({"team_id": team_id, "user_id": "bob"})).await;
    assert_eq!(status, 200);
    let (_, v) = p.admin_get("/user/info?user_id=bob").await;
    assert_eq!(v["user_info"]["teams"], json!([]));
    let (status, v) = p.admin("/team/delete", json!({"team_ids": [team_id]})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(p.chat(&key, "cheap").await.status(), 401);
    let (status, _) = p.admin_get(&format!("/team/info?team_id={team_id}")).await;
    assert_eq!(status, 404);
}

async fn customers_budgets_and_organizations(p: &Proxy) {
    let key = p.generate(json!({})).await;
    // A customer with a budget (created from max_budget) and one blocked.
    let (status, c) = p.admin("/customer/new", json!({"user_id": "acme", "max_budget": 0.5, "rpm_limit": 100})).await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["litellm_budget_table"]["max_budget"], 0.5);
    assert_eq!(p.chat_as(&key, "pricey", Some("acme")).await.status(), 200);
    let r = p.chat_as(&key, "pricey", Some("acme")).await;
    assert_eq!(r.status(), 429, "end-user budget");
    assert_eq!(p.chat_as(&key, "pricey", Some("someone-else")).await.status(), 200);
    let (status, _) = p.admin("/customer/block", json!({"user_ids": ["mallory"]})).await;
    assert_eq!(status, 200);
    let r = p.chat_as(&key, "cheap", Some("mallory")).await;
    assert_eq!(r.status(), 400, "blocked end user");
    let (status, _) = p.admin("/customer/unblock", json!({"user_ids": ["mallory"]})).await;
    assert_eq!(status, 200);
    assert_eq!(p.chat_as(&key, "cheap", Some("mallory")).await.status(), 200);
    p.spend_written().await;
    let (status, v) = p.admin_get("/customer/info?end_user_id=someone-else").await;
    assert_eq!(status, 200, "end users appear once they spend: {v}");
    assert!(v["spend"].as_f64().expect("spend") > 0.0);
    let (status, _) = p.admin_get("/customer/info?end_user_id=nobody").await;
    assert_eq!(status, 404);
    let (status, v) = p.admin("/customer/new", json!({"user_id": "acme"})).await;
    assert_eq!(status, 409, "{v}");

    // Budgets on their own, shared by reference.
    let (status, b) = p.admin("/budget/new", json!({"budget_id": "small", "max_budget": 0.5})).await;
    assert_eq!(status, 200, "{b}");
    let (status, _) = p.admin("/budget/new", json!({"max_budget": -3})).await;
    assert_eq!(status, 400);
    let (status, _) = p.admin("/customer/new", json!({"user_id": "globex", "budget_id": "small"})).await;
    assert_eq!(status, 200);
    let (status, _) = p.admin("/customer/new", json!({"user_id": "initech", "budget_id": "missing"})).await;
    assert_eq!(status, 404);
    let (status, v) = p.admin("/budget/info", json!({"budgets": ["small"]})).await;
    assert_eq!((status, v[0]["max_budget"].as_f64()), (200, Some(0.5)), "{v}");
    let (status, v) = p.admin("/budget/update", json!({"budget_id": "small", "max_budget": 0.75})).await;
    assert_eq!((status, v["max_budget"].as_f64()), (200, Some(0.75)), "{v}");
    let (_, v) = p.admin_get("/budget/list").await;
    assert!(v.as_array().map(Vec::len).unwrap_or(0) >= 2, "{v}");

    // Organizations: a budget for all their teams' keys.
    let (status, o) =
        p.admin("/organization/new", json!({"organization_alias": "initrode", "max_budget": 1.5, "models": ["pricey"]})).await;
    assert_eq!(status, 200, "{o}");
    let org = o["organization_id"].as_str().expect("id").to_owned();
    let (status, v) = p.admin("/organization/new", json!({"models": []})).await;
    assert_eq!((status, v["error"]["param"].as_str()), (400, Some("organization_alias")), "{v}");
    let (status, t) = p.admin("/team/new", json!({"organization_id": org})).await;
    assert_eq!(status, 200, "{t}");
    let (status, _) = p.admin("/team/new", json!({"organization_id": "no-such-org"})).await;
    assert_eq!(status, 404);
    let team_key = p.generate(json!({"team_id": t["team_id"]})).await;
    assert_eq!(p.chat(&team_key, "pricey").await.status(), 200);
    let r = p.chat(&team_key, "pricey").await;
    assert_eq!(r.status(), 429, "organization budget");
    let (status, v) =
        p.admin("/organization/member_add", json!({"organization_id": org, "member": {"user_id": "eve", "role": "org_admin"}})).await;
    assert_eq!(status, 200, "{v}");
    let (status, _) =
        p.admin("/organization/member_add", json!({"organization_id": org, "member": {"user_id": "eve", "role": "org_admin"}})).await;
    assert_eq!(status, 409);
    let (status, v) = p.admin_get(&format!("/organization/info?organization_id={org}")).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["members"][0]["user_id"], "eve");
    assert_eq!(v["teams"].as_array().map(Vec::len), Some(1));
    let (status, _) =
        p.admin("/organization/member_update", json!({"organization_id": org, "user_id": "eve", "role": "internal_user"})).await;
    assert_eq!(status, 200);
    let (status, _) = p.admin("/organization/member_delete", json!({"organization_id": org, "user_id": "eve"})).await;
    assert_eq!(status, 200);
    let (status, v) = p.admin("/organization/delete", json!({"organization_ids": [org]})).await;
    assert_eq!(status, 400, "an organization with teams stays: {v}");
    let (_, v) = p.admin_get("/organization/list").await;
    assert_eq!(v.as_array().map(Vec::len), Some(1));
}

async fn spend_reports(p: &Proxy) {
    let (status, team) = p.admin("/team/new", json!({"team_alias": "reporting"})).await;
    assert_eq!(status, 200, "{team}");
    let team_id = team["team_id"].as_str().expect("id").to_owned();
    let key = p.generate(json!({"team_id": team_id, "user_id": "reporter"})).await;
    let mut call_ids = Vec::new();
    for _ in 0..3 {
        let r = p.chat_as(&key, "cheap", Some("cust-1")).await;
        assert_eq!(r.status(), 200);
        call_ids.push(r.headers()["x-litellm-call-id"].to_str().expect("ascii").to_owned());
    }
    p.spend_written().await;
    let (status, rows) = p.admin_get(&format!("/spend/logs?api_key={key}")).await;
    assert_eq!(status, 200, "{rows}");
    let rows = rows.as_array().expect("rows").clone();
    assert_eq!(rows.len(), 3);
    for r in &rows {
        assert!(call_ids.contains(&r["request_id"].as_str().expect("id").to_owned()));
        assert_eq!(r["team_id"], team_id.as_str());
        assert_eq!(r["user"], "reporter");
        assert_eq!(r["end_user"], "cust-1");
        assert_eq!(r["status"], "success");
        assert!(r["spend"].as_f64().expect("spend") > 0.0 && r["startTime"].is_string(), "{r}");
    }
    let (_, one) = p.admin_get(&format!("/spend/logs?request_id={}", call_ids[0])).await;
    assert_eq!(one.as_array().map(Vec::len), Some(1));
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let (status, days) = p.admin_get(&format!("/spend/logs?user_id=reporter&start_date={today}&end_date={today}")).await;
    assert_eq!(status, 200, "{days}");
    assert_eq!(days[0]["startTime"], today.as_str());
    assert!(days[0]["models"]["cheap"].as_f64().is_some(), "{days}");
    let (status, v) = p.admin_get("/spend/logs?start_date=yesterday&end_date=today").await;
    assert_eq!((status, v["error"]["param"].as_str()), (400, Some("start_date")), "{v}");

    let (status, report) = p.admin_get(&format!("/global/spend/report?start_date={today}&end_date={today}&group_by=team")).await;
    assert_eq!(status, 200, "{report}");
    let teams = report[0]["teams"].as_array().expect("teams");
    let ours = teams.iter().find(|t| t["team_name"] == team_id.as_str()).expect("our team");
    assert!(ours["total_spend"].as_f64().expect("spend") > 0.0);
    assert_eq!(ours["metadata"][0]["model_name"], "cheap");
    let (_, report) = p.admin_get(&format!("/global/spend/report?start_date={today}&end_date={today}&group_by=customer")).await;
    assert!(report[0]["customers"].as_array().expect("customers").iter().any(|c| c["customer"] == "cust-1"), "{report}");
    let (_, report) = p.admin_get(&format!("/global/spend/report?group_by=api_key&api_key={key}")).await;
    assert_eq!(report[0]["api_key"], tianji_store::hash_key(&key));
    assert_eq!(report[0]["model_details"][0]["model"], "cheap");
    let (status, _) = p.admin_get("/global/spend/report?group_by=planet").await;
    assert_eq!(status, 400);
}

async fn chat_text(p: &Proxy, model: &str) -> (u16, String) {
    let r = p.chat(MASTER, model).await;
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    (status, v["choices"][0]["message"]["content"].as_str().unwrap_or_default().to_owned())
}

async fn models_in_the_database(p: &Proxy) {
    assert_eq!(chat_text(p, "added").await.0, 400, "not there yet");
    let (status, v) = p
        .admin("/model/new", json!({"model_name": "added", "litellm_params": {"model": "openai/added", "mock_response": "from the db", "api_key": "sk-secret"}, "model_info": {"id": "db-1"}}))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["model_id"], "db-1");
    assert_eq!(v["litellm_params"]["api_key"], "********", "secrets are not echoed");
    assert_eq!(chat_text(p, "added").await, (200, "from the db".to_owned()), "effective at once");
    let (_, info) = p.admin_get("/model/info").await;
    let row = info["data"].as_array().expect("rows").iter().find(|r| r["model_info"]["id"] == "db-1").cloned().expect("listed");
    assert_eq!(row["model_info"]["db_model"], true);
    let (_, cheap) = p.admin_get("/model/info?model=cheap").await;
    assert_eq!(cheap["data"][0]["model_info"]["db_model"], false);

    let (status, v) = p.admin("/model/update", json!({"model_id": "db-1", "litellm_params": {"mock_response": "updated"}})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(chat_text(p, "added").await, (200, "updated".to_owned()));

    let (status, v) = p.admin("/model/new", json!({"model_name": "broken", "litellm_params": {"model": "no-such-provider/x"}})).await;
    assert_eq!(status, 400, "{v}");
    assert!(message(&v).contains("litellm_params.model"), "{v}");
    let (status, v) = p.admin("/model/new", json!({"model_name": "x", "litellm_params": {"model": "openai/x"}, "colour": 1})).await;
    assert_eq!(status, 400, "{v}");
    let config_id = cheap["data"][0]["model_info"]["id"].as_str().expect("id").to_owned();
    let (status, _) = p.admin("/model/delete", json!({"id": config_id})).await;
    assert_eq!(status, 400, "config models are edited in the file");

    let (status, v) = p.admin("/model/delete", json!({"id": "db-1"})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(chat_text(p, "added").await.0, 400);
    let (status, _) = p.admin("/model/delete", json!({"id": "db-1"})).await;
    assert_eq!(status, 404);
    // One stays, for the restart check.
    let (status, _) = p
        .admin("/model/new", json!({"model_name": "kept", "litellm_params": {"model": "openai/kept", "mock_response": "still here"}}))
        .await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn management_on_sqlite() {
    let p = Proxy::start("sqlite::memory:").await;
    lifecycle(&p).await;
    bad_input(&p).await;
    teams_and_users(&p).await;
    customers_budgets_and_organizations(&p).await;
    spend_reports(&p).await;
    models_in_the_database(&p).await;
    rpm_limit_is_exact_under_concurrency(&p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn management_on_postgres() {
    let db = TempDatabase::create().await;
    let p = Proxy::start(&db.url).await;
    lifecycle(&p).await;
    bad_input(&p).await;
    teams_and_users(&p).await;
    customers_budgets_and_organizations(&p).await;
    spend_reports(&p).await;
    models_in_the_database(&p).await;
    rpm_limit_is_exact_under_concurrency(&p).await;
    // A restarted proxy serves the stored models.
    let again = Proxy::start(&db.url).await;
    assert_eq!(chat_text(&again, "kept").await, (200, "still here".to_owned()));
    for proxy in [&p, &again] {
        if let Some(a) = &proxy.state.access {
            a.shutdown(Duration::from_secs(5)).await;
            a.store.close().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_rate_limits_and_changes_through_redis() {
    if std::net::TcpStream::connect("127.0.0.1:6379").is_err() {
        panic!("Redis is not reachable at 127.0.0.1:6379: start it (e.g. `redis-server --daemonize yes`)");
    }
    let db = TempDatabase::create().await;
    let yaml = config_with(&db.url, "router_settings:\n  redis_host: 127.0.0.1\n  redis_port: 6379");
    let a = Proxy::start_with(yaml.clone()).await;
    let b = Proxy::start_with(yaml).await;
    let key = a.generate(json!({"rpm_limit": 50})).await;
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let base = if i % 2 == 0 { a.base.clone() } else { b.base.clone() };
            let (client, key) = (a.client.clone(), key.clone());
            tokio::spawn(async move {
                client
                    .post(format!("{base}/v1/chat/completions"))
                    .bearer_auth(&key)
                    .json(&json!({"model": "cheap", "messages": [{"role": "user", "content": "hi"}]}))
                    .send()
                    .await
                    .expect("request")
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        let status = t.await.expect("task");
        assert!(status == 200 || status == 429, "status {status}");
        ok += usize::from(status == 200);
    }
    assert!(ok == 50 || (ok > 50 && ok <= 100), "{ok} of 200 passed an rpm_limit of 50 shared by two instances");

    // A change on one instance reaches the other at once (not after the 60 s cache TTL).
    let other = a.generate(json!({})).await;
    assert_eq!(b.chat(&other, "cheap").await.status(), 200, "b caches the key");
    let (status, _) = a.admin("/key/block", json!({"key": other})).await;
    assert_eq!(status, 200);
    let mut refused = false;
    for _ in 0..50 {
        if b.chat(&other, "cheap").await.status() == 401 {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "instance b still accepts a key blocked on instance a");

    // A model added on one instance is served by the other.
    let (status, _) =
        a.admin("/model/new", json!({"model_name": "shared", "litellm_params": {"model": "openai/shared", "mock_response": "both"}})).await;
    assert_eq!(status, 200);
    let mut served = false;
    for _ in 0..50 {
        if chat_text(&b, "shared").await.0 == 200 {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(served, "instance b does not serve a model added on instance a");
}

#[tokio::test]
async fn a_litellm_cost_map_prices_models_from_the_first_request() {
    let dir = tempfile::tempdir().expect("dir");
    let map = dir.path().join("model_prices_and_context_window.json");
    std::fs::write(&map, r#"{"sample_spec": {}, "house-model": {"input_cost_per_token": 0.01, "output_cost_per_token": 0.02, "input_cost_per_request": 0.5, "litellm_provider": "openai", "mode": "chat"}}"#)
        .expect("write");
    let yaml = format!(
        "model_list:\n  - model_name: house\n    litellm_params: {{model: openai/house-model, mock_response: \"hi\"}}\ngeneral_settings:\n  master_key: {MASTER}\n"
    );
    let env = Env::isolated([("LITELLM_MODEL_COST_MAP_URL".to_owned(), map.display().to_string())]);
    let loaded = tianji_server::load_str(&yaml, env).unwrap_or_else(|e| panic!("config: {e}"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(tianji_server::serve(listener, loaded.state, std::future::pending(), Duration::from_secs(1)));
    let r = reqwest::Client::new()
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth(MASTER)
        .json(&json!({"model": "house", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    let cost: f64 = r.headers()["x-litellm-response-cost"].to_str().expect("ascii").parse().expect("number");
    let body: Value = r.json().await.expect("json");
    let (p, c) = (body["usage"]["prompt_tokens"].as_f64().expect("p"), body["usage"]["completion_tokens"].as_f64().expect("c"));
    assert!((cost - (0.01 * p + 0.02 * c + 0.5)).abs() < 1e-9, "cost {cost} for {p}+{c} tokens");

    let env = Env::isolated([("LITELLM_MODEL_COST_MAP_URL".to_owned(), "/no/such/prices.json".to_owned())]);
    let err = tianji_server::load_str(&yaml, env).err().expect("a missing cost map fails start-up").to_string();
    assert!(err.contains("/no/such/prices.json"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_window_resets_and_the_key_works_again() {
    let p = Proxy::start("sqlite::memory:").await;
    let key = p.generate(json!({"max_budget": 0.5, "budget_duration": "2s"})).await;
    assert_eq!(p.chat(&key, "pricey").await.status(), 200);
    assert_eq!(p.chat(&key, "pricey").await.status(), 429, "budget spent");
    // Windows are checked every 5 s; this one ends after 2 s.
    let mut reset = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if p.chat(&key, "cheap").await.status() == 200 {
            reset = true;
            break;
        }
    }
    assert!(reset, "the key stayed refused after its budget window ended");
    let (_, info) = p.admin_get(&format!("/key/info?key={key}")).await;
    assert!(info["info"]["budget_reset_at"].as_str().is_some(), "{info}");
}
