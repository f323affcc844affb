//! What the host offers every plugin: logging, secrets, a clock.

use crate::LogLevel;
use crate::bindings::tianji::plugin::host;

/// Writes a line into the proxy's log, tagged with the plugin's name.
pub fn log(level: LogLevel, message: &str) {
    host::log(level, message);
}

/// A secret the operator granted this plugin (`secrets:` in its manifest);
/// `None` when it is not granted or not set.
pub fn secret(name: &str) -> Option<String> {
    host::secret(name)
}

/// Wall-clock time in milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    host::now_ms()
}
