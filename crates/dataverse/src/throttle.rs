//! The client-wide throttling gate.
//!
//! Dataverse's service protection limits answer 429 with `Retry-After` and lengthen the penalty
//! for clients that keep sending, so after a 429 *no* request leaves this client (from any task)
//! until the wait is over.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug, Default)]
pub(crate) struct ThrottleGate {
    blocked_until: Mutex<Option<Instant>>,
}

impl ThrottleGate {
    /// Returns once no `Retry-After` is pending; re-checks after sleeping because another 429
    /// may have pushed the deadline further out meanwhile.
    pub(crate) async fn wait_until_open(&self) {
        while let Some(deadline) = self.pending_deadline() {
            tokio::time::sleep_until(deadline).await;
        }
    }

    /// Closes the gate for `wait` from now; never shortens a longer pending wait.
    pub(crate) fn block_for(&self, wait: Duration) {
        let deadline = Instant::now() + wait;
        let mut blocked_until = self.lock();
        if blocked_until.is_none_or(|current| current < deadline) {
            *blocked_until = Some(deadline);
        }
    }

    fn pending_deadline(&self) -> Option<Instant> {
        let mut blocked_until = self.lock();
        match *blocked_until {
            Some(deadline) if deadline > Instant::now() => Some(deadline),
            _ => {
                *blocked_until = None;
                None
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        // The guarded value is a plain `Option<Instant>`: a panic elsewhere cannot leave it
        // half-written, so a poisoned lock is still safe to use.
        self.blocked_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn an_open_gate_does_not_wait() {
        let gate = ThrottleGate::default();
        let start = Instant::now();
        gate.wait_until_open().await;
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_closed_gate_waits_the_whole_retry_after() {
        let gate = ThrottleGate::default();
        let start = Instant::now();
        gate.block_for(Duration::from_secs(5));
        gate.wait_until_open().await;
        assert_eq!(start.elapsed(), Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn a_shorter_block_never_shortens_a_longer_one() {
        let gate = ThrottleGate::default();
        let start = Instant::now();
        gate.block_for(Duration::from_secs(10));
        gate.block_for(Duration::from_secs(2));
        gate.wait_until_open().await;
        assert_eq!(start.elapsed(), Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn a_block_arriving_while_waiting_extends_the_wait() {
        let gate = std::sync::Arc::new(ThrottleGate::default());
        let start = Instant::now();
        gate.block_for(Duration::from_secs(2));
        let extender = {
            let gate = gate.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(1)).await;
                gate.block_for(Duration::from_secs(4));
            })
        };
        gate.wait_until_open().await;
        assert_eq!(start.elapsed(), Duration::from_secs(5));
        extender.await.unwrap();
    }
}
