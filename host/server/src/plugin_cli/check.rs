//! `tianji plugin check <file.wasm>`: which world a component implements,
//! its exports and imports, and whether the proxy would load it.

use std::path::Path;

use tianji_plugin_host::engine::{EngineOptions, Inspection, PluginEngine};

/// Inspects `path`; `expected` is the kind it must be (`guardrail`, `logger`, `prompt-source`).
pub fn inspect(path: &Path, expected: Option<&str>) -> Result<Inspection, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let engine = PluginEngine::new(&EngineOptions { pooling: false, ..EngineOptions::from_env() })?;
    let mut found = engine.inspect(&bytes)?;
    if let (Some(want), Ok(kind)) = (expected, &found.kind)
        && kind.as_str() != want
    {
        found.refused.push(format!("it is a {} plugin, not a {want}", kind.as_str()));
    }
    Ok(found)
}

/// The report `check` prints, and whether the component passed.
pub fn report(path: &Path, found: &Inspection) -> (String, bool) {
    use std::fmt::Write;
    let mut out = String::new();
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let _ = writeln!(out, "component: {} ({:.1} KiB)", path.display(), size as f64 / 1024.0);
    match &found.kind {
        Ok(kind) => {
            let _ = writeln!(out, "world:     tianji:plugin {}-plugin", kind.as_str());
        }
        Err(e) => {
            let _ = writeln!(out, "world:     none of Tianji's ({e})");
        }
    }
    let _ = writeln!(out, "exports:   {}", if found.exports.is_empty() { "(none)".to_owned() } else { found.exports.join(", ") });
    let _ = writeln!(out, "imports:");
    for i in &found.imports {
        let _ = writeln!(out, "  {i}");
    }
    let ok = found.kind.is_ok() && found.refused.is_empty();
    if ok {
        let _ = writeln!(out, "OK: the proxy can load it");
    } else {
        let _ = writeln!(out, "REFUSED:");
        if let Err(e) = &found.kind {
            let _ = writeln!(out, "  - {e}");
        }
        for r in &found.refused {
            let _ = writeln!(out, "  - {r}");
        }
    }
    (out, ok)
}
