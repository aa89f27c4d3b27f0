//! The run log of scheduled and manual jobs, and their once-a-day claims and leases.

use std::future::Future;

use chrono::{DateTime, Utc};
use domain::OrgId;

use crate::{FinishedRun, NewRun, Page, RunFinish, RunId, RunRecord, StoreResult};

/// The run log of scheduled and manual jobs, and their once-a-day claims and leases.
pub trait RunStore: Clone + Send + Sync + 'static {
    /// Claim (job, organisation, business date) for a scheduled run: true when this caller won it,
    /// either because nobody had, or because the previous claim's lease ran out before it finished.
    /// Records the run as started in the same transaction.
    fn claim_scheduled_run(&self, run: NewRun) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Record a manual run as started (manual runs are always allowed).
    fn start_run(&self, run: NewRun) -> impl Future<Output = StoreResult<()>> + Send;
    /// Keep a long run's claim.
    fn renew_run_lease(
        &self,
        run: RunId,
        until: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Record the outcome; completes a scheduled claim when it succeeded, and writes the coordinator
    /// digest as `RunFinish::digest_for` describes.
    fn finish_run(
        &self,
        finish: RunFinish,
    ) -> impl Future<Output = StoreResult<FinishedRun>> + Send;
    /// The run log of an organisation, newest first.
    fn runs(
        &self,
        org: OrgId,
        limit: u32,
        before: Option<RunId>,
    ) -> impl Future<Output = StoreResult<Page<RunRecord, RunId>>> + Send;
}
