//! Child processes of the benchmark, and what `/proc` says about them.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A child process, killed on drop.
pub struct Child {
    child: std::process::Child,
    /// When it was spawned.
    pub spawned_at: Instant,
}

/// Linux clock ticks per second for `/proc/<pid>/stat` times (USER_HZ, 100 on every mainstream kernel).
const CLOCK_TICKS: f64 = 100.0;

impl Child {
    /// Spawns `bin` with `args` and extra environment.
    pub fn spawn(bin: impl AsRef<Path>, args: &[&str], env: &[(&str, &str)]) -> std::io::Result<Child> {
        let bin = bin.as_ref();
        let mut cmd = std::process::Command::new(bin);
        cmd.args(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let spawned_at = Instant::now();
        let child =
            cmd.spawn().map_err(|e| std::io::Error::other(format!("cannot start {}: {e} (build it with scripts/bench)", bin.display())))?;
        Ok(Child { child, spawned_at })
    }

    /// Resident memory, kB.
    pub fn rss_kb(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()).and_then(|n| n.parse().ok())
    }

    /// User + system CPU time so far.
    pub fn cpu_time(&self) -> Option<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        // Fields after the command name (which may contain spaces) start at ") ".
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let utime: f64 = fields.get(11)?.parse().ok()?;
        let stime: f64 = fields.get(12)?.parse().ok()?;
        Some(Duration::from_secs_f64((utime + stime) / CLOCK_TICKS))
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port.
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn try_request(port: u16, method: &str, path: &str, auth: Option<&str>, body: &str) -> Option<u16> {
    request(port, method, path, auth, body).await.map(|(status, _)| status)
}

/// One request on a fresh connection: the status and the body as text.
pub async fn request(port: u16, method: &str, path: &str, auth: Option<&str>, body: &str) -> Option<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    let auth = auth.map(|a| format!("authorization: Bearer {a}\r\n")).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n{auth}content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.ok()?;
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default()))
}

/// Waits until `GET path` answers at all.
pub async fn wait_http(port: u16, path: &str, limit: Duration) -> Result<(), Box<dyn std::error::Error>> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if try_request(port, "GET", path, None, "").await.is_some() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Err(format!("nothing answered on port {port} within {limit:?}").into())
}

/// Time from spawning `child` to its first 200 on a chat completion.
pub async fn time_to_first_completion(
    child: &Child,
    port: u16,
    body: &str,
    key: &str,
    limit: Duration,
) -> Result<Duration, Box<dyn std::error::Error>> {
    while child.spawned_at.elapsed() < limit {
        if try_request(port, "POST", "/v1/chat/completions", Some(key), body).await == Some(200) {
            return Ok(child.spawned_at.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Err("tianji did not answer a completion within the limit".into())
}
