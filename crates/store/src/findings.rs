//! The compensation check: duplicate effects found, and the reconciliation log.

use std::future::Future;

use chrono::{DateTime, Utc};
use domain::OrgId;

use crate::{Finding, FindingRecord, Page, RunId, StoreResult};

/// The compensation check: duplicate effects found, and the reconciliation log.
pub trait FindingStore: Clone + Send + Sync + 'static {
    /// Duplicate effects for one certification period or day: two reminders for one (mentor,
    /// threshold, expiry date) among the notifications, two expiry transitions for one expiry date in
    /// the history, two digests for one coordinator and day. Constraints should make this empty.
    fn find_duplicate_effects(
        &self,
        org: OrgId,
    ) -> impl Future<Output = StoreResult<Vec<Finding>>> + Send;
    /// Write findings to the reconciliation log.
    fn record_findings(
        &self,
        org: OrgId,
        run: Option<RunId>,
        findings: Vec<Finding>,
        at: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// The organisation's reconciliation log, newest first.
    fn findings(
        &self,
        org: OrgId,
        limit: u32,
        before: Option<i64>,
    ) -> impl Future<Output = StoreResult<Page<FindingRecord, i64>>> + Send;
}
