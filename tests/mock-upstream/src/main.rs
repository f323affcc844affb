//! `mock-upstream`: serves the OpenAI-format mock on a port.
//!
//! Run with: `cargo run -p tianji-mock-upstream -- --port 9000 [--latency-ms 5] [--chunks 10] [--google-service-account key.json]`.
//! Prints `listening on 127.0.0.1:PORT` once ready.

use std::time::Duration;

use clap::Parser;
use tianji_mock_upstream::MockOptions;

#[derive(Parser)]
#[command(about = "Deterministic mock of OpenAI-format model APIs")]
struct Args {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Latency added to every answer.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Deltas per streamed answer.
    #[arg(long, default_value_t = 5)]
    chunks: usize,
    /// Pause between deltas.
    #[arg(long, default_value_t = 0)]
    chunk_interval_ms: u64,
    /// Fraction of requests answered with a 500.
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Require this key as `Authorization: Bearer` or `api-key`.
    #[arg(long)]
    require_key: Option<String>,
    /// Verify Bedrock SigV4 signatures against this `ACCESS_KEY_ID:SECRET`.
    #[arg(long)]
    aws_credentials: Option<String>,
    /// Write a new Google service-account key file here and accept only
    /// Vertex AI tokens signed with it.
    #[arg(long)]
    google_service_account: Option<std::path::PathBuf>,
    /// Worker threads (default: 1, so it competes little with what it serves).
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(args.threads.max(1)).enable_all().build()?;
    let google_service_account = match &args.google_service_account {
        Some(path) => {
            let (file, account) = tianji_mock_upstream::google_auth::service_account("tianji-mock");
            std::fs::write(path, file.to_string())?;
            Some(account)
        }
        None => None,
    };
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
        println!("listening on {}", listener.local_addr()?);
        let opts = MockOptions {
            latency: Duration::from_millis(args.latency_ms),
            chunks: args.chunks,
            chunk_interval: Duration::from_millis(args.chunk_interval_ms),
            error_rate: args.error_rate,
            require_key: args.require_key,
            aws_credentials: args.aws_credentials.and_then(|c| c.split_once(':').map(|(k, s)| (k.to_owned(), s.to_owned()))),
            google_service_account,
        };
        tianji_mock_upstream::serve_on(listener, opts).await;
        Ok(())
    })
}
