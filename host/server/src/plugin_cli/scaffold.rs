//! `tianji plugin new <kind> <name> --lang rust|js|python`: a buildable
//! project with the SDK, a handler, a manifest, a README and a test.
//!
//! Templates live in `sdk/templates/` and are compiled into the binary, as
//! are the WIT package and the JavaScript and Python SDKs (copied into the
//! project so it builds with no other checkout). Rust projects depend on
//! the Rust SDK by path (`TIANJI_SDK_DIR`, else the `sdk/rust` this binary
//! was built from).

use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Plugin kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// Checks requests and responses.
    Guardrail,
    /// Receives call logs.
    Logger,
    /// Serves managed prompts.
    PromptSource,
}

impl Kind {
    /// The manifest's and the WIT world's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Guardrail => "guardrail",
            Kind::Logger => "logger",
            Kind::PromptSource => "prompt-source",
        }
    }

    /// From the manifest's `kind`.
    pub fn parse(s: &str) -> Option<Self> {
        [Kind::Guardrail, Kind::Logger, Kind::PromptSource].into_iter().find(|k| k.as_str() == s)
    }
}

/// Languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Rust, with `tianji-plugin-sdk` (cargo, wasm32-wasip2).
    Rust,
    /// JavaScript, with `sdk/js` (componentize-js).
    Js,
    /// Python, with `sdk/python` (componentize-py).
    Python,
}

/// The WIT package plugins implement.
pub const WIT: &str = include_str!("../../../../wit/plugin.wit");
const JS_SDK: &str = include_str!("../../../../sdk/js/sdk.js");
const JS_SDK_TYPES: &str = include_str!("../../../../sdk/js/sdk.d.ts");
const JS_TYPES: &[(&str, &str)] = &[
    ("types/interfaces/tianji-plugin-types.d.ts", include_str!("../../../../sdk/js/types/interfaces/tianji-plugin-types.d.ts")),
    ("types/interfaces/tianji-plugin-host.d.ts", include_str!("../../../../sdk/js/types/interfaces/tianji-plugin-host.d.ts")),
    ("types/interfaces/tianji-plugin-guardrail.d.ts", include_str!("../../../../sdk/js/types/interfaces/tianji-plugin-guardrail.d.ts")),
    ("types/interfaces/tianji-plugin-logger.d.ts", include_str!("../../../../sdk/js/types/interfaces/tianji-plugin-logger.d.ts")),
    (
        "types/interfaces/tianji-plugin-prompt-source.d.ts",
        include_str!("../../../../sdk/js/types/interfaces/tianji-plugin-prompt-source.d.ts"),
    ),
];
/// The script that runs componentize-js.
pub const JS_COMPONENTIZE: &str = include_str!("../../../../sdk/js/componentize.mjs");
/// The Python SDK module.
pub const PY_SDK: &str = include_str!("../../../../sdk/python/tianji_sdk.py");

const MANIFEST: &str = include_str!("../../../../sdk/templates/common/plugin.toml");
const README: &str = include_str!("../../../../sdk/templates/common/README.md");
const REQUEST: &str = include_str!("../../../../sdk/templates/common/request.json");
const RUST_CARGO: &str = include_str!("../../../../sdk/templates/rust/Cargo.toml");
const JS_PACKAGE: &str = include_str!("../../../../sdk/templates/js/package.json");

fn handler(lang: Lang, kind: Kind) -> &'static str {
    match (lang, kind) {
        (Lang::Rust, Kind::Guardrail) => include_str!("../../../../sdk/templates/rust/guardrail.rs"),
        (Lang::Rust, Kind::Logger) => include_str!("../../../../sdk/templates/rust/logger.rs"),
        (Lang::Rust, Kind::PromptSource) => include_str!("../../../../sdk/templates/rust/prompt-source.rs"),
        (Lang::Js, Kind::Guardrail) => include_str!("../../../../sdk/templates/js/guardrail.js"),
        (Lang::Js, Kind::Logger) => include_str!("../../../../sdk/templates/js/logger.js"),
        (Lang::Js, Kind::PromptSource) => include_str!("../../../../sdk/templates/js/prompt-source.js"),
        (Lang::Python, Kind::Guardrail) => include_str!("../../../../sdk/templates/python/guardrail.py"),
        (Lang::Python, Kind::Logger) => include_str!("../../../../sdk/templates/python/logger.py"),
        (Lang::Python, Kind::PromptSource) => include_str!("../../../../sdk/templates/python/prompt-source.py"),
    }
}

/// The Rust SDK's directory: `TIANJI_SDK_DIR`, else the one this binary was built from.
pub fn rust_sdk_dir() -> PathBuf {
    std::env::var_os("TIANJI_SDK_DIR").map(PathBuf::from).unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sdk/rust"))
}

fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    vars.iter().fold(template.to_owned(), |t, (k, v)| t.replace(&format!("{{{{{k}}}}}"), v))
}

fn write(root: &Path, rel: &str, text: &str) -> Result<(), String> {
    let path = root.join(rel);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Creates the project; returns what to run next.
pub fn create(kind: Kind, name: &str, lang: Lang, dir: Option<&Path>) -> Result<String, String> {
    if name.is_empty()
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        || !name.starts_with(|c: char| c.is_ascii_alphabetic())
    {
        return Err(format!("'{name}' is not a plugin name: start with a letter; use letters, digits, - and _"));
    }
    let root = dir.map_or_else(|| PathBuf::from(name), Path::to_path_buf);
    if root.exists() && std::fs::read_dir(&root).map(|mut d| d.next().is_some()).unwrap_or(true) {
        return Err(format!("{} exists and is not empty", root.display()));
    }
    let (config, expect, usage) = match kind {
        Kind::Guardrail => (
            "word = \"forbidden\"",
            "block",
            format!("guardrails: [{{guardrail_name: {name}, litellm_params: {{guardrail: {name}, mode: pre_call, default_on: true}}}}]"),
        ),
        Kind::Logger => ("url = \"http://127.0.0.1:9999/logs\"", "allow", format!("litellm_settings: {{callbacks: [{name}]}}")),
        Kind::PromptSource => ("", "allow", format!("prompts: [{{prompt_id: greeting, litellm_params: {{prompt_integration: {name}}}}}]")),
    };
    let lang_label = match lang {
        Lang::Rust => "Rust",
        Lang::Js => "JavaScript",
        Lang::Python => "Python",
    };
    let vars =
        [("name", name), ("kind", kind.as_str()), ("lang", lang_label), ("config", config), ("expect", expect), ("usage", usage.as_str())];
    write(&root, "plugin.toml", &fill(MANIFEST, &vars))?;
    write(&root, "README.md", &fill(README, &vars))?;
    write(&root, "test/request.json", REQUEST)?;
    write(&root, "wit/plugin.wit", WIT)?;
    write(&root, ".gitignore", "dist/\ntarget/\nnode_modules/\n__pycache__/\n")?;
    let sdk = rust_sdk_dir();
    let features = match kind {
        Kind::Logger => "\"logger\", \"http\"".to_owned(),
        k => format!("\"{}\"", k.as_str()),
    };
    match lang {
        Lang::Rust => {
            let sdk_path = sdk.canonicalize().unwrap_or(sdk).to_string_lossy().into_owned();
            write(&root, "Cargo.toml", &fill(RUST_CARGO, &[("name", name), ("sdk_path", &sdk_path), ("features", &features)]))?;
            write(&root, "src/lib.rs", &fill(handler(lang, kind), &vars))?;
        }
        Lang::Js => {
            write(&root, "package.json", &fill(JS_PACKAGE, &vars))?;
            write(&root, "src/plugin.js", &fill(handler(lang, kind), &vars))?;
            write(&root, "src/tianji/sdk.js", JS_SDK)?;
            write(&root, "src/tianji/sdk.d.ts", JS_SDK_TYPES)?;
            for (rel, text) in JS_TYPES {
                write(&root, &format!("src/tianji/{rel}"), text)?;
            }
        }
        Lang::Python => {
            write(&root, "src/app.py", &fill(handler(lang, kind), &vars))?;
            write(&root, "src/tianji_sdk.py", PY_SDK)?;
        }
    }
    let mut out = String::new();
    let _ = writeln!(out, "created {} ({lang_label} {}):", root.display(), kind.as_str());
    let _ = writeln!(out, "  cd {}", root.display());
    if lang == Lang::Js {
        let _ = writeln!(out, "  npm install                # componentize-js, once");
    }
    let _ = writeln!(out, "  tianji plugin build        # -> dist/{name}.wasm, installed into ./plugins");
    let _ = writeln!(out, "  tianji plugin test dist/{name}.wasm --request test/request.json --expect {expect}");
    Ok(out)
}
