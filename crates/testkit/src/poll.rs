//! Waiting in tests: poll a condition with a deadline instead of sleeping for a fixed time, so a test
//! is as fast as the system under test and fails with what it was waiting for.

use std::future::Future;
use std::time::{Duration, Instant};

/// How often a condition is looked at.
const INTERVAL: Duration = Duration::from_millis(50);

/// Polls `check` until it holds and returns how long that took; panics naming `what` once
/// `deadline` has passed.
pub async fn poll_until<F, Fut>(what: &str, deadline: Duration, check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    poll_until_watching(what, deadline, check, || None, String::new).await
}

/// As [`poll_until`], for tests with processes of their own: fails at once when `exited` names a
/// process that ended, and shows `logs` with every failure.
pub async fn poll_until_watching<F, Fut>(
    what: &str,
    deadline: Duration,
    mut check: F,
    exited: impl Fn() -> Option<String>,
    logs: impl Fn() -> String,
) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        if let Some(how) = exited() {
            panic!("{how} while waiting for: {what}\n{}", logs());
        }
        assert!(
            started.elapsed() < deadline,
            "not within {deadline:?}: {what}\n{}",
            logs()
        );
        tokio::time::sleep(INTERVAL).await;
    }
}
