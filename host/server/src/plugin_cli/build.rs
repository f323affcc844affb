//! `tianji plugin build [path]`: builds a plugin project into a component
//! with its language's toolchain, checks it, and installs it with its
//! manifest into the plugin directory (where a running proxy picks it up).
//!
//! The language is the project's: `Cargo.toml` (cargo, `wasm32-wasip2`),
//! `package.json` (componentize-js: the project's `node_modules`, else
//! `$TIANJI_JS_TOOLS/node_modules`), `src/app.py` (componentize-py: on
//! `PATH`, else `$TIANJI_PY_TOOLS/bin`). A missing toolchain is reported with
//! the command that installs it.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::Value;

use super::check;
use super::scaffold::{JS_COMPONENTIZE, Kind, Lang, PY_SDK, WIT};

/// The directory to install into: `--plugin-dir`, else the config's `general_settings.plugin_dir`, else `./plugins`.
pub fn plugin_dir(explicit: Option<PathBuf>, config: Option<&Path>) -> PathBuf {
    if let Some(d) = explicit {
        return d;
    }
    if let Some(cfg) = config
        && let Ok(text) = std::fs::read_to_string(cfg)
        && let Ok(tree) = tianji_core::config::Config::tree(&text)
        && let Some(dir) = tree.pointer("/general_settings/plugin_dir").and_then(Value::as_str)
    {
        let dir = PathBuf::from(dir);
        return match cfg.parent() {
            Some(base) if dir.is_relative() => base.join(dir),
            _ => dir,
        };
    }
    PathBuf::from("plugins")
}

fn lang_of(project: &Path) -> Result<Lang, String> {
    if project.join("Cargo.toml").exists() {
        Ok(Lang::Rust)
    } else if project.join("package.json").exists() {
        Ok(Lang::Js)
    } else if project.join("src/app.py").exists() {
        Ok(Lang::Python)
    } else {
        Err(format!(
            "{} is not a plugin project: no Cargo.toml, package.json or src/app.py (create one with `tianji plugin new`)",
            project.display()
        ))
    }
}

/// The manifest's name and kind.
fn manifest(project: &Path) -> Result<(String, Kind, String), String> {
    let path = project.join("plugin.toml");
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e} (every plugin project has a manifest)", path.display()))?;
    let mut name = None;
    let mut kind = None;
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else { continue };
        let v = v.trim().trim_matches('"').to_owned();
        match k.trim() {
            "name" => name = Some(v),
            "kind" => kind = Some(v),
            _ => {}
        }
    }
    let name = name.ok_or_else(|| format!("{}: `name` is required", path.display()))?;
    let kind_name = kind.ok_or_else(|| format!("{}: `kind` is required (guardrail, logger, prompt-source)", path.display()))?;
    let kind = Kind::parse(&kind_name).ok_or_else(|| format!("{}: unknown kind '{kind_name}'", path.display()))?;
    Ok((name, kind, text))
}

fn run(cmd: &mut Command, what: &str, install: &str) -> Result<String, String> {
    let out = cmd.output().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("{what} is not installed: {install}"),
        _ => format!("cannot run {what}: {e}"),
    })?;
    if !out.status.success() {
        return Err(format!(
            "{what} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The project's `wit/`, else this binary's WIT package written into `dist/.wit`.
fn wit_dir(project: &Path) -> Result<PathBuf, String> {
    let own = project.join("wit");
    if own.join("plugin.wit").exists() {
        return Ok(own);
    }
    let dir = project.join("dist/.wit");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    std::fs::write(dir.join("plugin.wit"), WIT).map_err(|e| format!("cannot write the WIT: {e}"))?;
    Ok(dir)
}

/// This binary's Python SDK in `dist/.python-sdk`, searched after the project's
/// own modules (a project may carry its own copy).
fn python_sdk_dir(project: &Path) -> Result<PathBuf, String> {
    let dir = project.join("dist/.python-sdk");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    std::fs::write(dir.join("tianji_sdk.py"), PY_SDK).map_err(|e| format!("cannot write the Python SDK: {e}"))?;
    Ok(dir)
}

fn build_rust(project: &Path, out: &Path) -> Result<(), String> {
    let stdout = run(
        Command::new("cargo")
            .args(["build", "--release", "--target", "wasm32-wasip2", "--message-format=json-render-diagnostics"])
            .current_dir(project),
        "cargo",
        "install Rust from https://rustup.rs, then `rustup target add wasm32-wasip2`",
    )
    .map_err(|e| {
        if e.contains("wasm32-wasip2") && e.contains("target may not be installed") {
            format!("{e}\nrun `rustup target add wasm32-wasip2`")
        } else {
            e
        }
    })?;
    let wasm = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .flat_map(|m| m["filenames"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| f.as_str().map(PathBuf::from))
        .rfind(|f| f.extension().is_some_and(|x| x == "wasm"))
        .ok_or("cargo built no .wasm (is the crate a cdylib?)")?;
    std::fs::copy(&wasm, out).map_err(|e| format!("cannot copy {}: {e}", wasm.display()))?;
    Ok(())
}

fn componentize_js(project: &Path) -> Option<PathBuf> {
    let rel = "node_modules/@bytecodealliance/componentize-js";
    std::iter::once(project.to_path_buf())
        .chain(std::env::var_os("TIANJI_JS_TOOLS").map(PathBuf::from))
        .map(|d| d.join(rel))
        .find(|d| d.join("package.json").exists())
}

fn build_js(project: &Path, kind: Kind, out: &Path) -> Result<(), String> {
    let tool = componentize_js(project)
        .ok_or_else(|| format!("componentize-js is not installed: run `npm install` in {} (or set TIANJI_JS_TOOLS)", project.display()))?;
    let script = project.join("dist/.componentize.mjs");
    std::fs::write(&script, JS_COMPONENTIZE).map_err(|e| format!("cannot write {}: {e}", script.display()))?;
    let world = format!("{}-plugin", kind.as_str());
    let wit = wit_dir(project)?;
    run(
        Command::new("node").arg(&script).arg(project.join("src/plugin.js")).arg(&wit).arg(&world).arg(out).arg(&tool),
        "node",
        "install Node.js 20 or newer",
    )?;
    Ok(())
}

fn componentize_py() -> PathBuf {
    std::env::var_os("TIANJI_PY_TOOLS")
        .map(|d| PathBuf::from(d).join("bin/componentize-py"))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("componentize-py"))
}

fn build_python(project: &Path, kind: Kind, out: &Path) -> Result<(), String> {
    let world = format!("{}-plugin", kind.as_str());
    let wit = wit_dir(project)?;
    run(
        Command::new(componentize_py())
            .arg("-d")
            .arg(&wit)
            .args(["-w", &world, "componentize", "-p"])
            .arg(project.join("src"))
            .arg("-p")
            .arg(python_sdk_dir(project)?)
            .arg("app")
            .arg("-o")
            .arg(out),
        "componentize-py",
        "`pip install componentize-py==0.25.1` (or set TIANJI_PY_TOOLS to a venv that has it)",
    )?;
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a watching proxy never sees half a file.
fn install(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension("installing");
    std::fs::write(&tmp, bytes).and_then(|_| std::fs::rename(&tmp, path)).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Builds, checks and installs; returns the summary.
pub fn build(project: &Path, plugin_dir: &Path) -> Result<String, String> {
    let lang = lang_of(project)?;
    let (name, kind, manifest_text) = manifest(project)?;
    let dist = project.join("dist");
    std::fs::create_dir_all(&dist).map_err(|e| format!("cannot create {}: {e}", dist.display()))?;
    let out = dist.join(format!("{name}.wasm"));
    let started = Instant::now();
    match lang {
        Lang::Rust => build_rust(project, &out)?,
        Lang::Js => build_js(project, kind, &out)?,
        Lang::Python => build_python(project, kind, &out)?,
    }
    let built_in = started.elapsed();
    std::fs::write(dist.join(format!("{name}.toml")), &manifest_text).map_err(|e| format!("cannot write the manifest: {e}"))?;
    let found = check::inspect(&out, Some(kind.as_str()))?;
    let (report, ok) = check::report(&out, &found);
    if !ok {
        return Err(format!("the built component would not load:\n{report}"));
    }
    std::fs::create_dir_all(plugin_dir).map_err(|e| format!("cannot create {}: {e}", plugin_dir.display()))?;
    // The manifest first: the component's arrival is what triggers a reload.
    install(&plugin_dir.join(format!("{name}.toml")), manifest_text.as_bytes())?;
    let bytes = std::fs::read(&out).map_err(|e| format!("cannot read {}: {e}", out.display()))?;
    install(&plugin_dir.join(format!("{name}.wasm")), &bytes)?;
    let mut s = String::new();
    let _ = writeln!(s, "built {} in {:.1} s", out.display(), built_in.as_secs_f64());
    s.push_str(&report);
    let _ = writeln!(s, "installed {name}.wasm and {name}.toml into {}", plugin_dir.display());
    Ok(s)
}
