//! Real local stand-ins for cloud services, started by tests: `moto`
//! (AWS) and an OpenBao dev server (HashiCorp Vault's API), both from the
//! repo's `.venv` (`scripts/test` installs `tests/e2e/requirements.txt`).
//! A stand-in that is missing fails the test with the command that
//! installs it; each is killed and reaped when its guard drops.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running stand-in process.
pub struct StandIn {
    child: Child,
    /// Its base URL (`http://127.0.0.1:PORT`).
    pub url: String,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The root token of the OpenBao dev server [`openbao`] starts.
pub const OPENBAO_ROOT_TOKEN: &str = "tianji-root";

fn venv_bin(var: &str, name: &str) -> PathBuf {
    let bin =
        std::env::var(var).map(PathBuf::from).unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin").join(name));
    assert!(
        bin.exists(),
        "{name} not found at {}: run scripts/test (it installs tests/e2e/requirements.txt into .venv), or `python3 -m venv .venv && .venv/bin/pip install -r tests/e2e/requirements.txt`, or set {var}",
        bin.display()
    );
    bin
}

fn free_port() -> u16 {
    #[allow(clippy::expect_used)]
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

async fn start(bin: &Path, args: &[String], url: String, ready_path: &str) -> StandIn {
    #[allow(clippy::expect_used)]
    let child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
    // Owned by the guard at once, so it is killed and reaped on every path.
    let s = StandIn { child, url };
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if client.get(format!("{}{ready_path}", s.url)).send().await.is_ok_and(|r| r.status().is_success()) {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{} did not start on {}", bin.display(), s.url);
}

/// A `moto_server` on a free port (`MOTO_SERVER` overrides the binary).
pub async fn moto() -> StandIn {
    let bin = venv_bin("MOTO_SERVER", "moto_server");
    let port = free_port();
    start(&bin, &["-H".into(), "127.0.0.1".into(), "-p".into(), port.to_string()], format!("http://127.0.0.1:{port}"), "/moto-api/").await
}

/// An OpenBao dev server on a free port with root token
/// [`OPENBAO_ROOT_TOKEN`] and KV v2 at `secret/` (`BAO_BIN` overrides the binary).
pub async fn openbao() -> StandIn {
    let bin = venv_bin("BAO_BIN", "bao");
    let port = free_port();
    let args = [
        "server".to_owned(),
        "-dev".to_owned(),
        format!("-dev-root-token-id={OPENBAO_ROOT_TOKEN}"),
        format!("-dev-listen-address=127.0.0.1:{port}"),
        "-dev-no-store-token".to_owned(),
    ];
    start(&bin, &args, format!("http://127.0.0.1:{port}"), "/v1/sys/health").await
}
