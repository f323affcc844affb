//! `tianji`: the LLM gateway.
//!
//! Run with: `tianji --config config.yaml [--host 127.0.0.1] [--port 4000]`,
//! or `tianji check-config config.yaml` to validate a config.

use std::net::ToSocketAddrs;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use mimalloc::MiMalloc;
use tianji_core::config::Config;

/// mimalloc: the request path allocates many small, short-lived buffers; glibc's
/// allocator cost ~10% of CPU per request in profiles, mimalloc a fraction of that.
#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

#[derive(Parser)]
#[command(name = "tianji", version, about = "Tianji: an OpenAI-compatible LLM gateway that runs LiteLLM configs")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// LiteLLM-style config.yaml.
    #[arg(long, short, env = "TIANJI_CONFIG")]
    config: Option<PathBuf>,
    /// Address to bind.
    #[arg(long, env = "HOST", default_value = "0.0.0.0")]
    host: String,
    /// Port to bind.
    #[arg(long, env = "PORT", default_value_t = 4000)]
    port: u16,
    /// Log as JSON lines.
    #[arg(long)]
    json_logs: bool,
    /// Seconds to let in-flight requests finish after SIGTERM.
    #[arg(long, default_value_t = 30)]
    shutdown_grace_secs: u64,
    /// How requests are spread over threads: `per-core` (one single-threaded
    /// runtime and listener per worker; lowest latency) or `work-stealing`
    /// (one shared multi-threaded runtime; evens out uneven connections).
    #[arg(long, env = "TIANJI_RUNTIME", value_enum, default_value_t = RuntimeKind::PerCore)]
    runtime: RuntimeKind,
    /// Worker threads (default: one per core).
    #[arg(long, env = "TIANJI_WORKERS")]
    workers: Option<usize>,
    /// Plugin directory (`.wasm` components), watched while running
    /// (default: `general_settings.plugin_dir`, else `./plugins`).
    #[arg(long, env = "TIANJI_PLUGIN_DIR", global = true)]
    plugin_dir: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum RuntimeKind {
    PerCore,
    WorkStealing,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a config: print every problem (exit 1) or a summary (exit 0).
    CheckConfig {
        /// The config file.
        config: PathBuf,
    },
    /// Write, build, check and try plugins.
    #[command(subcommand)]
    Plugin(tianji_server::plugin_cli::PluginCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Some(Command::CheckConfig { config }) => check_config(config, cli.plugin_dir.clone()),
        Some(Command::Plugin(command)) => {
            tianji_server::telemetry::init_tool_tracing();
            tianji_server::plugin_cli::run(command, cli.plugin_dir.clone())
        }
        None => run(&cli),
    }
}

fn check_config(path: &std::path::Path, plugin_dir: Option<PathBuf>) -> ExitCode {
    tianji_server::telemetry::init_tracing(false);
    match tianji_server::load(path, plugin_dir) {
        Ok(loaded) => {
            print!("{}", summary(&loaded.config, &loaded.ignored));
            println!("config OK: {}", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprint!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn summary(c: &Config, ignored: &[String]) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "models ({} deployments):", c.model_list.len());
    for d in &c.model_list {
        let mock = if d.litellm_params.mock_response.is_some() { "  [mock_response]" } else { "" };
        let base = d.litellm_params.api_base.as_deref().map(|b| format!("  @ {b}")).unwrap_or_default();
        let _ = writeln!(s, "  {:<28} -> {}{base}{mock}", d.model_name, d.litellm_params.model);
    }
    let r = &c.router_settings;
    let l = &c.litellm_settings;
    let _ = writeln!(
        s,
        "router: strategy={} num_retries={} timeout={}s allowed_fails={} cooldown_time={}s fallbacks={} aliases={}",
        r.routing_strategy.as_deref().unwrap_or("simple-shuffle"),
        r.num_retries.or(l.num_retries).unwrap_or(tianji_router::DEFAULT_NUM_RETRIES),
        r.timeout.or(l.request_timeout).unwrap_or(tianji_router::DEFAULT_TIMEOUT.as_secs_f64()),
        r.allowed_fails.unwrap_or(tianji_router::DEFAULT_ALLOWED_FAILS),
        r.cooldown_time.unwrap_or(tianji_router::DEFAULT_COOLDOWN.as_secs_f64()),
        r.fallbacks.len() + l.fallbacks.len(),
        r.model_group_alias.len(),
    );
    let _ = writeln!(s, "auth: {}", if c.general_settings.master_key.is_some() { "master_key set" } else { "open (no master_key)" });
    if let Some(m) = &c.general_settings.secrets {
        let ttl = m.cache_ttl;
        let _ = writeln!(s, "secrets: {} (os.environ/ references resolved through it, cached {ttl} s)", m.system);
    }
    for g in &c.guardrails {
        let modes: Vec<&str> = g.modes.iter().map(|m| m.as_str()).collect();
        let on = if g.default_on { ", default_on" } else { "" };
        let _ = writeln!(s, "guardrail: {:<22} -> {} ({}{on})", g.guardrail_name, g.guardrail, modes.join(","));
    }
    let l = &c.litellm_settings;
    let callbacks: Vec<&str> = l.callbacks.iter().chain(&l.success_callback).chain(&l.failure_callback).map(String::as_str).collect();
    if !callbacks.is_empty() {
        let _ = writeln!(s, "callbacks: {}", callbacks.join(", "));
    }
    for p in &c.prompts {
        let _ = writeln!(s, "prompt: {:<25} -> {}", p.prompt_id, p.integration);
    }
    if !ignored.is_empty() {
        let _ = writeln!(s, "ignored (not supported yet):");
        for i in ignored {
            let _ = writeln!(s, "  {i}");
        }
    }
    s
}

fn run(cli: &Cli) -> ExitCode {
    tianji_server::telemetry::init_tracing(cli.json_logs);
    let Some(config) = &cli.config else {
        eprintln!("error: --config <config.yaml> is required (or TIANJI_CONFIG)");
        return ExitCode::from(2);
    };
    let loaded = match tianji_server::load(config, cli.plugin_dir.clone()) {
        Ok(l) => l,
        Err(e) => {
            eprint!("{e}");
            return ExitCode::FAILURE;
        }
    };
    for path in &loaded.ignored {
        tracing::warn!("ignored: {path}");
    }
    loaded.state.plugins.watch();
    let plugins = loaded.state.plugins.clone();
    let access = loaded.state.access.clone();
    let workers = cli.workers.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    let addr = match (cli.host.as_str(), cli.port).to_socket_addrs().ok().and_then(|mut a| a.next()) {
        Some(a) => a,
        None => {
            eprintln!("error: cannot resolve {}:{}", cli.host, cli.port);
            return ExitCode::FAILURE;
        }
    };
    let deployments = loaded.config.model_list.len();
    let grace = Duration::from_secs(cli.shutdown_grace_secs);
    let announce =
        move |bound: std::net::SocketAddr| tracing::info!(addr = %bound, workers, deployments, "tianji listening on http://{bound}");
    let result = match cli.runtime {
        RuntimeKind::PerCore => {
            tianji_server::per_core::serve_per_core(addr, workers, loaded.state, tianji_server::shutdown_signal(), grace, announce)
        }
        RuntimeKind::WorkStealing => {
            tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build().and_then(|rt| {
                rt.block_on(async {
                    let listener = tokio::net::TcpListener::bind(addr).await?;
                    announce(listener.local_addr()?);
                    tianji_server::serve(listener, loaded.state, tianji_server::shutdown_signal(), grace).await
                })
            })
        }
    };
    // Accepted call logs and spend rows are delivered before exit.
    plugins.flush_logs(grace.max(Duration::from_secs(5)));
    if let Some(access) = access {
        plugins.control.block_on(async move {
            access.shutdown(grace.max(Duration::from_secs(10))).await;
            access.store.close().await;
        });
    }
    match result {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
