//! Log output on standard error, as text for a terminal or JSON lines for a collector.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};
use crate::error::CliError;

/// Install the log subscriber; `default_level` applies when the configuration sets no level.
pub fn init(log: &LogConfig, default_level: &str) -> Result<(), CliError> {
    let level = log.level.as_deref().unwrap_or(default_level);
    let filter = EnvFilter::try_new(level).map_err(|e| {
        CliError::usage(format!(
            "log.level `{level}` is not a valid filter (e.g. `info` or `info,sqlx=warn`): {e}"
        ))
    })?;
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, not in files or journald.
        .with_ansi(std::io::stderr().is_terminal());
    let installed = match log.format {
        LogFormat::Text => subscriber.try_init(),
        LogFormat::Json => subscriber.json().try_init(),
    };
    installed.map_err(|e| CliError::failed(format!("cannot set up logging: {e}")))
}
