//! The store against both backends: SQLite (memory and file) and a
//! PostgreSQL database created on the machine's server for this test.

use serde_json::json;
use tianji_store::testing::TempDatabase;
use tianji_store::time::{self, Timestamp};
use tianji_store::{Filter, KeyRecord, SpendQuery, SpendRow, Store, StoreError, StoreOptions, TeamRecord, hash_key};

fn key(secret: &str, alias: Option<&str>, team: Option<&str>) -> KeyRecord {
    let now = time::now();
    KeyRecord {
        token: hash_key(secret),
        key_name: "sk-...abcd".into(),
        key_alias: alias.map(Into::into),
        spend: 0.0,
        max_budget: Some(10.0),
        soft_budget: None,
        expires: None,
        models: vec!["gpt-4o".into()],
        aliases: Default::default(),
        config: Default::default(),
        user_id: Some("u1".into()),
        team_id: team.map(Into::into),
        organization_id: None,
        budget_id: None,
        permissions: Default::default(),
        max_parallel_requests: None,
        tpm_limit: None,
        rpm_limit: Some(50),
        metadata: json!({"env": "test"}).as_object().cloned().unwrap_or_default(),
        blocked: None,
        budget_duration: Some("30d".into()),
        budget_reset_at: Some(now + chrono::Duration::days(30)),
        allowed_cache_controls: vec![],
        model_max_budget: Default::default(),
        model_rpm_limit: Default::default(),
        model_tpm_limit: Default::default(),
        tags: vec![],
        guardrails: vec![],
        created_at: now,
        created_by: Some("admin".into()),
        updated_at: now,
        updated_by: None,
    }
}

fn spend(id: &str, key: &str, team: Option<&str>, cost: f64, at: Timestamp) -> SpendRow {
    SpendRow {
        request_id: id.into(),
        call_type: "acompletion".into(),
        api_key: key.into(),
        spend: cost,
        total_tokens: 30,
        prompt_tokens: 10,
        completion_tokens: 20,
        start_time: at,
        end_time: at,
        model: "gpt-4o".into(),
        model_id: Some("m1".into()),
        model_group: Some("gpt-4o".into()),
        custom_llm_provider: Some("openai".into()),
        api_base: None,
        user: Some("u1".into()),
        team_id: team.map(Into::into),
        organization_id: None,
        end_user: Some("customer-7".into()),
        status: "success".into(),
        request_tags: vec!["prod".into()],
        metadata: json!({}),
    }
}

async fn exercise(store: &Store) {
    // Keys: insert, read back, alias taken, update, list, spend, reset, delete.
    let k = key("sk-one", Some("one"), Some("t1"));
    store.insert(&k).await.expect("insert");
    let back: KeyRecord = store.require(&k.token).await.expect("get");
    assert_eq!(back, k, "a record reads back as written");
    let dup = key("sk-two", Some("one"), None);
    assert!(matches!(store.insert(&dup).await, Err(StoreError::Conflict(_))), "alias is unique");
    assert!(matches!(store.insert(&k).await, Err(StoreError::Conflict(_))), "id is unique");
    let mut changed = back.clone();
    changed.blocked = Some(true);
    changed.rpm_limit = Some(5);
    store.update(&changed).await.expect("update");
    let back: KeyRecord = store.require(&k.token).await.expect("get");
    assert_eq!((back.blocked, back.rpm_limit), (Some(true), Some(5)));
    let missing = key("sk-missing", None, None);
    assert!(matches!(store.update(&missing).await, Err(StoreError::NotFound { .. })));

    store.insert(&key("sk-two", Some("two"), None)).await.expect("insert two");
    store.insert(&key("sk-three", None, Some("t1"))).await.expect("insert three");
    let page = store.list::<KeyRecord>(&Filter { team_id: Some("t1".into()), ..Default::default() }, 0, 10).await.expect("list");
    assert_eq!((page.total, page.items.len()), (2, 2));
    let page = store.list::<KeyRecord>(&Filter::default(), 1, 1).await.expect("page");
    assert_eq!((page.total, page.items.len()), (3, 1));

    // Teams are their own table.
    let now = time::now();
    let team = TeamRecord {
        team_id: "t1".into(),
        team_alias: Some("platform".into()),
        organization_id: None,
        admins: vec![],
        members: vec![],
        members_with_roles: vec![],
        metadata: Default::default(),
        tpm_limit: None,
        rpm_limit: None,
        max_parallel_requests: None,
        max_budget: Some(100.0),
        budget_duration: None,
        budget_reset_at: None,
        models: vec![],
        blocked: false,
        spend: 0.0,
        model_max_budget: Default::default(),
        created_at: now,
        updated_at: now,
    };
    store.insert(&team).await.expect("team");

    // Spend: totals follow, and a batch sent twice counts once.
    let rows = vec![spend("r1", &k.token, Some("t1"), 0.25, now), spend("r2", &k.token, Some("t1"), 0.5, now)];
    assert_eq!(store.write_spend(&rows).await.expect("spend"), 2);
    assert_eq!(store.write_spend(&rows).await.expect("again"), 0, "a re-sent batch is skipped");
    let more = vec![spend("r2", &k.token, Some("t1"), 0.5, now), spend("r3", &k.token, None, 1.0, now)];
    assert_eq!(store.write_spend(&more).await.expect("overlap"), 1);
    let back: KeyRecord = store.require(&k.token).await.expect("get");
    assert!((back.spend - 1.75).abs() < 1e-9, "key spend {}", back.spend);
    let t: TeamRecord = store.require("t1").await.expect("team");
    assert!((t.spend - 0.75).abs() < 1e-9, "team spend {}", t.spend);
    let end_user: tianji_store::EndUserRecord = store.require("customer-7").await.expect("end user created on first spend");
    assert!((end_user.spend - 1.75).abs() < 1e-9);
    let logs = store.spend_logs(&SpendQuery { api_key: Some(k.token.clone()), limit: 100, ..Default::default() }).await.expect("logs");
    assert_eq!(logs.len(), 3);
    assert_eq!(logs.iter().find(|r| r.request_id == "r1"), Some(&rows[0]));
    let one = store.spend_logs(&SpendQuery { request_id: Some("r3".into()), limit: 10, ..Default::default() }).await.expect("by id");
    assert_eq!(one.len(), 1);
    let today = time::day(&now);
    let daily = store.daily_spend("key", Some(&k.token), &today, &today).await.expect("daily");
    assert_eq!(daily.len(), 1);
    assert_eq!((daily[0].api_requests, daily[0].prompt_tokens), (3, 30));
    let tags = store.daily_spend("tag", None, &today, &today).await.expect("tags");
    assert_eq!(tags[0].entity_id, "prod");
    let per_model = store.model_spend("key", &k.token).await.expect("model spend");
    assert_eq!(per_model.len(), 1);

    // Budget windows: due rows reset once.
    let mut due = back.clone();
    due.budget_reset_at = Some(now - chrono::Duration::seconds(1));
    store.update(&due).await.expect("update");
    let found: Vec<KeyRecord> = store.due_for_reset(&now).await.expect("due");
    assert_eq!(found.len(), 1);
    let current = found[0].budget_reset_at.expect("set");
    let next = now + chrono::Duration::days(30);
    assert!(store.reset_budget::<KeyRecord>(&k.token, &current, &next).await.expect("reset"));
    assert!(!store.reset_budget::<KeyRecord>(&k.token, &current, &next).await.expect("reset"), "a second reset is a no-op");
    let back: KeyRecord = store.require(&k.token).await.expect("get");
    assert_eq!(back.spend, 0.0);
    assert!(store.model_spend("key", &k.token).await.expect("model spend").is_empty());

    let deleted = store.delete::<KeyRecord>(&[k.token.clone(), "nope".into()]).await.expect("delete");
    assert_eq!(deleted, vec![k.token.clone()]);
    assert!(store.get::<KeyRecord>(&k.token).await.expect("get").is_none());
    store.ping().await.expect("ping");
}

#[tokio::test]
async fn sqlite_in_memory() {
    let store = Store::connect("sqlite::memory:", &StoreOptions::default()).await.expect("connect");
    exercise(&store).await;
}

#[tokio::test]
async fn sqlite_file_reopens_with_an_up_to_date_schema_quickly() {
    let dir = std::env::temp_dir().join(format!("tianji-store-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let url = tianji_store::sqlite_url(&dir.join("t.db"));
    let store = Store::connect(&url, &StoreOptions::default()).await.expect("connect");
    exercise(&store).await;
    store.close().await;
    let t = std::time::Instant::now();
    let again = Store::connect(&url, &StoreOptions::default()).await.expect("reconnect");
    let took = t.elapsed();
    again.ping().await.expect("ping");
    assert!(took < std::time::Duration::from_secs(1), "re-opening took {took:?}");
    again.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn postgres() {
    let db = TempDatabase::create().await;
    let store = Store::connect(&db.url, &StoreOptions::default()).await.expect("connect");
    exercise(&store).await;
    // Applying the schema again is a no-op.
    tianji_store::migrator().run(store.pool()).await.expect("idempotent");
    store.close().await;
}

#[test]
fn urls_are_redacted() {
    assert_eq!(tianji_store::redact_url("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
    assert_eq!(tianji_store::redact_url("sqlite::memory:"), "sqlite::memory:");
}
