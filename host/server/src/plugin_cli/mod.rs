//! `tianji plugin ...`: the plugin author's tools.
//!
//! - `new`: scaffolds a buildable guardrail, logger or prompt source in
//!   Rust, JavaScript or Python ([`scaffold`]);
//! - `build`: builds it into a component with the language's toolchain,
//!   checks it and installs it with its manifest ([`build`]);
//! - `check`: which world a component implements and whether the proxy
//!   would load it ([`check`]);
//! - `test`: one guardrail on one request outside the proxy ([`test`]).

pub mod build;
pub mod check;
pub mod scaffold;
pub mod test;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

/// The plugin subcommands.
#[derive(Subcommand)]
pub enum PluginCommand {
    /// Scaffold a plugin project: `tianji plugin new guardrail no-competitors --lang js`.
    New {
        /// `guardrail`, `logger` or `prompt-source`.
        kind: scaffold::Kind,
        /// The plugin's name (also the project directory's).
        name: String,
        /// `rust`, `js` or `python`.
        #[arg(long, default_value = "rust")]
        lang: scaffold::Lang,
        /// Where to create the project (default: `./<name>`).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Build a plugin project into a component, check it, and copy it with its manifest into the plugin directory.
    Build {
        /// The project (default: the current directory).
        path: Option<PathBuf>,
        /// The plugin directory to install into (default: `general_settings.plugin_dir` of `--config`, else `./plugins`).
        #[arg(long)]
        plugin_dir: Option<PathBuf>,
        /// A proxy config whose `plugin_dir` to install into.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Say which world a component implements, its exports and imports, and whether the proxy would load it.
    Check {
        /// The component.
        file: PathBuf,
        /// Also require this kind (`guardrail`, `logger`, `prompt-source`).
        #[arg(long)]
        kind: Option<String>,
    },
    /// Run one guardrail on one request outside the proxy: the verdict and its timing.
    Test {
        /// The component (a manifest `<name>.toml` beside it is used).
        file: PathBuf,
        /// An OpenAI chat request (JSON).
        #[arg(long)]
        request: PathBuf,
        /// A chat completion to check as the response (JSON).
        #[arg(long)]
        response: Option<PathBuf>,
        /// The guardrail's settings (a JSON object).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Warm calls to time.
        #[arg(long, default_value_t = 100)]
        runs: usize,
        /// Fail (exit 1) unless the request's verdict is this: `allow`, `block` or `modify`.
        #[arg(long)]
        expect: Option<String>,
    },
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}

/// Runs a plugin subcommand.
pub fn run(command: &PluginCommand, global_plugin_dir: Option<PathBuf>) -> ExitCode {
    match command {
        PluginCommand::New { kind, name, lang, dir } => match scaffold::create(*kind, name, *lang, dir.as_deref()) {
            Ok(summary) => {
                print!("{summary}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        PluginCommand::Build { path, plugin_dir, config } => {
            let project = path.clone().unwrap_or_else(|| PathBuf::from("."));
            let target = build::plugin_dir(plugin_dir.clone().or(global_plugin_dir), config.as_deref());
            match build::build(&project, &target) {
                Ok(summary) => {
                    print!("{summary}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
        PluginCommand::Check { file, kind } => match check::inspect(file, kind.as_deref()) {
            Ok(found) => {
                let (text, ok) = check::report(file, &found);
                print!("{text}");
                if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
            }
            Err(e) => fail(e),
        },
        PluginCommand::Test { file, request, response, config, runs, expect } => {
            let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build() {
                Ok(rt) => rt,
                Err(e) => return fail(format!("cannot start a runtime: {e}")),
            };
            let t = test::TestRun { wasm: file, request, response: response.as_deref(), config: config.as_deref(), runs: *runs };
            match rt.block_on(test::run(&t)) {
                Ok(report) => {
                    println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
                    match expect {
                        Some(want) if report["request"]["verdict"] != want.as_str() => {
                            fail(format!("expected the verdict {want}, got {}", report["request"]["verdict"]))
                        }
                        _ => ExitCode::SUCCESS,
                    }
                }
                Err(e) => fail(e),
            }
        }
    }
}
