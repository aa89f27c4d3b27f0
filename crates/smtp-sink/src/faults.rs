//! Fault injection and counters.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::{Shared, lock};

/// Changes how the running sink misbehaves; get it from
/// [`SmtpSink::faults`](crate::SmtpSink::faults). Cheap to clone; every
/// change applies at once, to open connections too.
#[derive(Clone)]
pub struct Faults {
    shared: Arc<Shared>,
}

impl Faults {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Faults { shared }
    }

    /// `RCPT TO:<address>` gets `550 5.1.1 mailbox unavailable` (compared
    /// without regard to case). The other recipients are still accepted.
    pub fn reject_recipient(&self, address: impl AsRef<str>) {
        lock(&self.shared.faults.rejected).insert(address.as_ref().to_lowercase());
    }

    /// Undoes [`reject_recipient`](Self::reject_recipient) for `address`.
    pub fn accept_recipient(&self, address: impl AsRef<str>) {
        lock(&self.shared.faults.rejected).remove(&address.as_ref().to_lowercase());
    }

    /// While on, `MAIL FROM` gets `451 4.3.0` (a transient failure).
    pub fn temporary_failure(&self, on: bool) {
        self.shared
            .faults
            .temporary_failure
            .store(on, Ordering::SeqCst);
    }

    /// For the next `n` messages: store the message as received, then close
    /// the connection instead of sending the final `250`, so the client
    /// cannot know it was accepted. Replaces any count still pending; 0 turns
    /// it off.
    pub fn drop_after_data(&self, n: usize) {
        self.shared
            .faults
            .drop_after_data
            .store(n, Ordering::SeqCst);
    }

    /// Waits this long before every reply (the greeting included);
    /// `Duration::ZERO` turns it off.
    pub fn delay(&self, delay: Duration) {
        *lock(&self.shared.faults.delay) = delay;
    }

    /// Turns every fault off.
    pub fn reset(&self) {
        lock(&self.shared.faults.rejected).clear();
        self.temporary_failure(false);
        self.drop_after_data(0);
        self.delay(Duration::ZERO);
    }

    /// Counters since the sink started.
    pub fn stats(&self) -> Stats {
        self.shared.counters.snapshot()
    }
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let faults = &self.shared.faults;
        f.debug_struct("Faults")
            .field("rejected", &*lock(&faults.rejected))
            .field(
                "temporary_failure",
                &faults.temporary_failure.load(Ordering::SeqCst),
            )
            .field(
                "drop_after_data",
                &faults.drop_after_data.load(Ordering::SeqCst),
            )
            .field("delay", &faults.delay())
            .finish()
    }
}

/// Counters since the sink started (not reset by `clear`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// TCP connections accepted.
    pub connections: u64,
    /// Messages stored (those dropped after DATA included).
    pub messages_accepted: u64,
    /// `RCPT TO` commands answered with 550 by `reject_recipient`.
    pub recipients_rejected: u64,
    /// `MAIL FROM` commands answered with 451 by `temporary_failure`.
    pub temporary_failures: u64,
    /// Connections closed by `drop_after_data` after storing the message.
    pub dropped_after_data: u64,
    /// `AUTH` attempts refused with 535.
    pub auth_failures: u64,
}
