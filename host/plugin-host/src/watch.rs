//! Watching the plugin directories (and the config file) for changes.

use std::path::PathBuf;
use std::sync::Arc;

use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::Notify;

/// Keeps the OS watch alive; dropping it stops watching.
pub struct WatchGuard {
    _watcher: notify::RecommendedWatcher,
}

/// Watches `paths` (directories, non-recursively, or files) and signals
/// `changed` on every create, modify or remove event. Paths that do not exist
/// are skipped with a log line. The receiver should debounce.
pub fn watch(paths: &[PathBuf], changed: Arc<Notify>) -> Result<WatchGuard, String> {
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
        Ok(e) if matches!(e.kind, EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_)) => changed.notify_one(),
        Ok(_) => {}
        Err(e) => tracing::warn!("file watcher error: {e}"),
    })
    .map_err(|e| format!("cannot start the file watcher: {e}"))?;
    for path in paths {
        if !path.exists() {
            tracing::info!(path = %path.display(), "not watching (does not exist); POST /plugins/reload rescans");
            continue;
        }
        watcher.watch(path, RecursiveMode::NonRecursive).map_err(|e| format!("cannot watch {}: {e}", path.display()))?;
    }
    Ok(WatchGuard { _watcher: watcher })
}
