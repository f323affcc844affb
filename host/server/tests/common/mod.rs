//! The proxy in-process against the mock upstream, shared by the integration tests.
#![allow(dead_code)]

use std::time::Duration;

use serde_json::Value;
use tianji_core::config::Env;
use tianji_mock_upstream::{MockOptions, MockServer};

/// Serves `state` on a free port: its base URL, the sender that stops it, and the server task.
pub async fn serve(
    state: tianji_server::AppState,
) -> (String, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<std::io::Result<()>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(tianji_server::serve(
        listener,
        state,
        async move {
            let _ = rx.await;
        },
        Duration::from_secs(5),
    ));
    (base, tx, server)
}

/// A running proxy and its mock upstream.
pub struct Harness {
    pub base: String,
    pub mock: MockServer,
    pub client: reqwest::Client,
    pub stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Harness {
    pub async fn start(config: impl Fn(&str, &str) -> String) -> Harness {
        Self::start_with(MockOptions::default(), config).await
    }

    pub async fn start_with(opts: MockOptions, config: impl Fn(&str, &str) -> String) -> Harness {
        let mock = tianji_mock_upstream::spawn(opts).await.expect("mock upstream");
        let yaml = config(&mock.base_url(), &mock.root_url());
        let loaded = tianji_server::load_str(&yaml, Env::isolated([])).unwrap_or_else(|e| panic!("config: {e}"));
        let (base, tx, server) = serve(loaded.state).await;
        Harness { base, mock, client: reqwest::Client::new(), stop: Some(tx), server }
    }

    pub async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.client.post(format!("{}{path}", self.base)).bearer_auth("sk-test").json(&body).send().await.expect("request")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{path}", self.base)).bearer_auth("sk-test").send().await.expect("request")
    }

    pub fn upstream(&self) -> Value {
        self.mock.last_request().expect("upstream saw a request")
    }
}
