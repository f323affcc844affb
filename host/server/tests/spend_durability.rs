//! Accepted spend survives: a database outage mid-load, SIGTERM mid-load,
//! and SIGTERM while the database is down (spilled to disk, replayed at the
//! next start). Every request answered 200 has its spend row afterwards.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tianji_core::config::Env;
use tianji_store::testing::OwnPostgres;
use tianji_store::{SpendQuery, Store, StoreOptions};

const MASTER: &str = "sk-master-durable";

fn config(database_url: Option<&str>) -> String {
    let db = database_url.map(|u| format!("  database_url: \"{u}\"\n")).unwrap_or_default();
    format!(
        "model_list:\n  - model_name: m\n    litellm_params: {{model: openai/m, mock_response: \"ok\"}}\n    model_info: {{input_cost_per_token: 0.000001, output_cost_per_token: 0.000002}}\ngeneral_settings:\n  master_key: {MASTER}\n  proxy_batch_write_at: 0.1\n{db}"
    )
}

/// Requests from `workers` tasks until `stop`; returns the call ids answered 200.
async fn load(base: String, key: String, workers: usize, stop: Arc<AtomicBool>) -> Vec<String> {
    let client = reqwest::Client::new();
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let (client, base, key, stop) = (client.clone(), base.clone(), key.clone(), stop.clone());
            tokio::spawn(async move {
                let mut ok = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let r = client
                        .post(format!("{base}/v1/chat/completions"))
                        .bearer_auth(&key)
                        .json(&json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}))
                        .timeout(Duration::from_secs(10))
                        .send()
                        .await;
                    match r {
                        Ok(r) if r.status() == 200 => {
                            if let Some(id) = r.headers().get("x-litellm-call-id").and_then(|v| v.to_str().ok()) {
                                ok.push(id.to_owned());
                            }
                        }
                        Ok(_) => {}
                        // The server went away (SIGTERM): stop this worker.
                        Err(_) => break,
                    }
                }
                ok
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("load task"));
    }
    all
}

async fn stored_ids(store: &Store) -> HashSet<String> {
    store
        .spend_logs(&SpendQuery { limit: 1_000_000, ..Default::default() })
        .await
        .expect("spend logs")
        .into_iter()
        .map(|r| r.request_id)
        .collect()
}

async fn generate_key(base: &str) -> String {
    let v: Value = reqwest::Client::new()
        .post(format!("{base}/key/generate"))
        .bearer_auth(MASTER)
        .json(&json!({"key_alias": "load"}))
        .send()
        .await
        .expect("generate")
        .json()
        .await
        .expect("json");
    v["key"].as_str().expect("key").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_mid_load_loses_no_spend_row() {
    let pg = tokio::task::spawn_blocking(OwnPostgres::start).await.expect("postgres");
    let loaded = tianji_server::load_str(&config(Some(&pg.url)), Env::isolated([])).unwrap_or_else(|e| panic!("config: {e}"));
    let state = loaded.state.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(tianji_server::serve(listener, loaded.state, std::future::pending(), Duration::from_secs(1)));
    let key = generate_key(&base).await;

    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn(load(base.clone(), key, 4, stop.clone()));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pg = tokio::task::spawn_blocking(move || {
        pg.kill();
        pg
    })
    .await
    .expect("kill");
    // The proxy keeps answering while the database is down (the key is
    // cached); the outage outlasts the writer's 5 s connection wait.
    tokio::time::sleep(Duration::from_millis(6500)).await;
    let pg = tokio::task::spawn_blocking(move || {
        pg.resume();
        pg
    })
    .await
    .expect("resume");
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let ok = load.await.expect("load");
    assert!(ok.len() > 50, "only {} requests succeeded", ok.len());

    let access = state.access.as_ref().expect("access");
    assert!(access.spend.stats.failures.load(Ordering::Relaxed) > 0, "the outage was noticed by the writer");
    let deadline = Instant::now() + Duration::from_secs(60);
    let store = Store::connect(&pg.url, &StoreOptions::default()).await.expect("connect");
    loop {
        let ids = stored_ids(&store).await;
        let missing = ok.iter().filter(|id| !ids.contains(*id)).count();
        if missing == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{missing} of {} answered requests have no spend row", ok.len());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    access.shutdown(Duration::from_secs(5)).await;
    store.close().await;
    access.store.close().await;
}

struct Binary {
    child: std::process::Child,
    base: String,
}

impl Binary {
    async fn start(config_path: &Path) -> Binary {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port");
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tianji"))
            .arg("--config")
            .arg(config_path)
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--shutdown-grace-secs", "5"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn tianji");
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        for _ in 0..200 {
            if client.get(format!("{base}/health/liveliness")).send().await.is_ok_and(|r| r.status() == 200) {
                return Binary { child, base };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("tianji did not start");
    }

    fn terminate(&self) {
        let status = std::process::Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("kill");
        assert!(status.success());
    }

    async fn wait(mut self) {
        for _ in 0..600 {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "tianji exited with {status}");
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        panic!("tianji did not exit within 30 s of SIGTERM");
    }
}

fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(&format!("tianji-{name}-")).tempdir().expect("temp dir")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_load_loses_no_spend_row() {
    let tmp = temp_dir("sigterm");
    let dir = tmp.path();
    let cfg = dir.join("config.yaml");
    std::fs::write(&cfg, config(None)).expect("config");
    let proxy = Binary::start(&cfg).await;
    let key = generate_key(&proxy.base).await;
    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn(load(proxy.base.clone(), key, 4, stop.clone()));
    tokio::time::sleep(Duration::from_millis(800)).await;
    proxy.terminate();
    proxy.wait().await;
    stop.store(true, Ordering::Relaxed);
    let ok = load.await.expect("load");
    assert!(ok.len() > 50, "only {} requests succeeded", ok.len());
    // The SQLite file next to the config holds every answered call.
    let store = Store::connect(&tianji_store::sqlite_url(&dir.join("tianji.db")), &StoreOptions::default()).await.expect("open");
    let ids = stored_ids(&store).await;
    let missing: Vec<&String> = ok.iter().filter(|id| !ids.contains(*id)).collect();
    assert!(missing.is_empty(), "{} of {} answered requests have no spend row", missing.len(), ok.len());
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_the_database_down_spills_and_the_next_start_replays() {
    let pg = tokio::task::spawn_blocking(OwnPostgres::start).await.expect("postgres");
    let tmp = temp_dir("spill");
    let dir = tmp.path();
    let cfg = dir.join("config.yaml");
    std::fs::write(&cfg, config(Some(&pg.url))).expect("config");
    let proxy = Binary::start(&cfg).await;
    let key = generate_key(&proxy.base).await;
    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn(load(proxy.base.clone(), key, 2, stop.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pg = tokio::task::spawn_blocking(move || {
        pg.kill();
        pg
    })
    .await
    .expect("kill");
    tokio::time::sleep(Duration::from_millis(500)).await;
    proxy.terminate();
    proxy.wait().await;
    stop.store(true, Ordering::Relaxed);
    let ok = load.await.expect("load");
    let spill = dir.join("tianji-spend-spill.jsonl");
    assert!(spill.exists(), "rows that could not be written were spilled");

    let pg = tokio::task::spawn_blocking(move || {
        pg.resume();
        pg
    })
    .await
    .expect("resume");
    let again = Binary::start(&cfg).await;
    let store = Store::connect(&pg.url, &StoreOptions::default()).await.expect("connect");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ids = stored_ids(&store).await;
        let missing = ok.iter().filter(|id| !ids.contains(*id)).count();
        if missing == 0 && !spill.exists() {
            break;
        }
        assert!(Instant::now() < deadline, "{missing} of {} answered requests have no spend row after the restart", ok.len());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    again.terminate();
    again.wait().await;
    store.close().await;
}
