//! `[clock] file`: a rehearsal clock. Every reading of "now" comes from an RFC 3339 instant in a file,
//! so a rehearsal (or an end-to-end test) can walk several `serve` processes through a month of
//! business dates in minutes: the scheduler, run leases and every timestamp follow the file, while
//! network timeouts and the database's own clock stay real. Never set in production.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use domain::{Clock, SystemClock};

use crate::error::CliError;

/// The engine's clock: the system clock, or the file's when `[clock] file` is set.
pub fn from_config(file: Option<&Path>) -> Result<Arc<dyn Clock>, CliError> {
    match file {
        None => Ok(Arc::new(SystemClock)),
        Some(path) => {
            let start = read(path).map_err(|e| CliError::usage(format!("clock.file: {e}")))?;
            tracing::warn!(
                file = %path.display(),
                now = %start,
                "the rehearsal clock is on: \"now\" is read from clock.file, not the system clock"
            );
            Ok(Arc::new(FileClock {
                path: path.to_owned(),
                last: Mutex::new(start),
            }))
        }
    }
}

/// Reads the file on every call; an unreadable or half-written file keeps the last good instant, so
/// the clock never jumps back to the system time.
#[derive(Debug)]
struct FileClock {
    path: PathBuf,
    last: Mutex<DateTime<Utc>>,
}

impl Clock for FileClock {
    fn now(&self) -> DateTime<Utc> {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        match read(&self.path) {
            Ok(now) => *last = now,
            Err(e) => tracing::warn!(error = %e, "clock.file unreadable; keeping the last instant"),
        }
        *last
    }
}

fn read(path: &Path) -> Result<DateTime<Utc>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    DateTime::parse_from_rfc3339(text.trim())
        .map(|at| at.with_timezone(&Utc))
        .map_err(|e| {
            format!(
                "{} must hold one RFC 3339 instant such as 2027-01-05T04:30:00+01:00 ({e})",
                path.display()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_file_and_keeps_the_last_good_instant() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("now");
        std::fs::write(&path, "2027-01-05T04:30:00+01:00\n").expect("write");
        let clock = from_config(Some(&path)).expect("a clock");
        assert_eq!(clock.now().to_rfc3339(), "2027-01-05T03:30:00+00:00");
        std::fs::write(&path, "2027-01-06T04:30:00Z").expect("write");
        assert_eq!(clock.now().to_rfc3339(), "2027-01-06T04:30:00+00:00");
        std::fs::write(&path, "").expect("write");
        assert_eq!(clock.now().to_rfc3339(), "2027-01-06T04:30:00+00:00");
    }

    #[test]
    fn a_bad_file_is_refused_at_start_naming_the_key() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("now");
        std::fs::write(&path, "tomorrow").expect("write");
        let error = from_config(Some(&path)).expect_err("refused");
        let message = error.to_string();
        assert!(
            message.contains("clock.file") && message.contains("RFC 3339"),
            "{message}"
        );
    }
}
