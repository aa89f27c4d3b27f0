//! The unit of work behind every status change: its own capability, so what only writes changes (the
//! batching writer) asks for nothing else.

use std::future::Future;

use crate::{ChangeOutcome, MentorChange, StoreResult};

/// Status changes and certifications, each compare-and-set on its mentor. Every call is one
/// transaction: it commits whole or not at all.
pub trait ChangeStore: Clone + Send + Sync + 'static {
    /// The unit of work behind every status change and certification: compare-and-set on the expected
    /// status and version, then certification, history, outbox and notifications, in one transaction.
    /// `Conflict::LostRace` when the mentor moved meanwhile (re-read and decide again).
    fn apply_change(&self, change: MentorChange) -> impl Future<Output = StoreResult<()>> + Send {
        async move {
            self.apply_changes(vec![change])
                .await?
                .pop()
                .unwrap_or(ChangeOutcome::NotFound)
                .into_result()
        }
    }
    /// Many independent units of work (as [`ChangeStore::apply_change`]) in one transaction, at most one per
    /// mentor. Each is compare-and-set on its own mentor; one that loses its race, names an unknown
    /// mentor, or whose idempotency key is already in the history is skipped without affecting the
    /// others. Returns one outcome per change, in order.
    fn apply_changes(
        &self,
        changes: Vec<MentorChange>,
    ) -> impl Future<Output = StoreResult<Vec<ChangeOutcome>>> + Send;
}
