//! A closed-loop load generator on keep-alive HTTP/1.1 connections, with
//! latencies in an HDR histogram (microseconds).

use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// How each measured row is loaded.
pub struct Plan<'a> {
    /// Request body.
    pub body: &'a str,
    /// Concurrency levels.
    pub concurrency: &'a [usize],
    /// Warm-up per point.
    pub warmup: Duration,
    /// Measurement per point.
    pub duration: Duration,
}

/// Results of one load run.
pub struct Stats {
    hist: Histogram<u64>,
    /// Requests completed in the measured window.
    pub total: u64,
    /// Requests completed during warm-up.
    pub warmup_total: u64,
    /// Non-200 answers or transport errors.
    pub errors: u64,
    elapsed: Duration,
}

impl Stats {
    fn new() -> Self {
        Self {
            hist: Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds"),
            total: 0,
            warmup_total: 0,
            errors: 0,
            elapsed: Duration::ZERO,
        }
    }

    /// Median latency, ms.
    pub fn p50_ms(&self) -> f64 {
        self.hist.value_at_quantile(0.5) as f64 / 1000.0
    }

    /// 99th percentile latency, ms.
    pub fn p99_ms(&self) -> f64 {
        self.hist.value_at_quantile(0.99) as f64 / 1000.0
    }

    /// Requests per second in the measured window.
    pub fn rps(&self) -> f64 {
        self.total as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(port: u16) -> std::io::Result<Sender> {
    let stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(std::io::Error::other)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

fn request(port: u16, path: &str, auth: &str, body: &Bytes) -> Request<Full<Bytes>> {
    Request::post(path)
        .header("host", format!("127.0.0.1:{port}"))
        .header("content-type", "application/json")
        .header("authorization", auth)
        .body(Full::new(body.clone()))
        .expect("valid request")
}

/// Drives `concurrency` connections for `warmup` then `duration`.
pub async fn run_load(
    port: u16,
    path: &str,
    auth: &str,
    body: &str,
    concurrency: usize,
    warmup: Duration,
    duration: Duration,
) -> Result<Stats, Box<dyn std::error::Error>> {
    let body = Bytes::from(body.to_owned());
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + duration;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let mut sender = connect(port).await?;
        let (path, auth, body) = (path.to_owned(), auth.to_owned(), body.clone());
        tasks.push(tokio::spawn(async move {
            let mut s = Stats::new();
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                let ok = match sender.send_request(request(port, &path, &auth, &body)).await {
                    Ok(resp) => {
                        let status = resp.status();
                        let drained = resp.into_body().collect().await.is_ok();
                        status.is_success() && drained
                    }
                    Err(_) => false,
                };
                let t1 = Instant::now();
                if !ok {
                    s.errors += 1;
                    match connect(port).await {
                        Ok(new) => sender = new,
                        Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                    }
                    continue;
                }
                if t0 >= measure_from && t1 <= end {
                    let _ = s.hist.record((t1 - t0).as_micros().max(1) as u64);
                    s.total += 1;
                } else {
                    s.warmup_total += 1;
                }
            }
            s
        }));
    }
    let mut all = Stats::new();
    for t in tasks {
        let s = t.await?;
        all.hist.add(&s.hist)?;
        all.total += s.total;
        all.warmup_total += s.warmup_total;
        all.errors += s.errors;
    }
    all.elapsed = duration;
    Ok(all)
}

/// Time from sending a streaming request to its first body bytes, `n` times on one connection.
pub async fn ttft(port: u16, auth: &str, body: &str, n: usize) -> Result<Stats, Box<dyn std::error::Error>> {
    let body = Bytes::from(body.to_owned());
    let mut sender = connect(port).await?;
    let mut s = Stats::new();
    let started = Instant::now();
    for i in 0..n {
        let t0 = Instant::now();
        let resp = sender.send_request(request(port, "/v1/chat/completions", auth, &body)).await?;
        if !resp.status().is_success() {
            s.errors += 1;
            continue;
        }
        let mut b = resp.into_body();
        let mut first = None;
        while let Some(frame) = b.frame().await {
            let frame = frame?;
            if first.is_none() && frame.data_ref().is_some_and(|d| !d.is_empty()) {
                first = Some(t0.elapsed());
            }
        }
        // The first 10% warm the connection and caches.
        if let Some(f) = first
            && i >= n / 10
        {
            let _ = s.hist.record(f.as_micros().max(1) as u64);
            s.total += 1;
        }
    }
    s.elapsed = started.elapsed();
    Ok(s)
}
