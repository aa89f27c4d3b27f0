//! What the nightly expiry run reads and the ledgers it claims its effects in (reminders, resume notices, digests).

use std::future::Future;

use chrono::{DateTime, NaiveDate, Utc};
use domain::{MentorId, OrgId};

use crate::{
    ClaimCounts, ExpiryWorklist, FinishedRun, MentorFacts, ReminderClaim, ReminderRecord,
    ResumeNoticeClaim, RunId, StoreResult,
};

/// What the nightly expiry run reads and the ledgers it claims its effects in (reminders, resume notices, digests).
pub trait ExpiryStore: Clone + Send + Sync + 'static {
    /// What the run has to look at on `today`, read in sets (never one query per mentor).
    fn expiry_worklist(
        &self,
        org: OrgId,
        today: NaiveDate,
        reminder_window_days: u16,
        resume_notice_days: u16,
    ) -> impl Future<Output = StoreResult<ExpiryWorklist>> + Send;
    /// The current facts of these mentors of `org` (to decide again after a lost race).
    fn mentor_facts(
        &self,
        org: OrgId,
        ids: Vec<MentorId>,
    ) -> impl Future<Output = StoreResult<Vec<MentorFacts>>> + Send;
    /// Record reminder decisions by inserting them into the ledger; a (mentor, threshold, expiry date)
    /// already there is left alone. The notifications of winning `sent` claims are written in the same
    /// transaction. Returns how many claims won, by outcome.
    fn claim_reminders(
        &self,
        org: OrgId,
        run: RunId,
        business_date: NaiveDate,
        claims: Vec<ReminderClaim>,
        at: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<ClaimCounts>> + Send;
    /// As `claim_reminders`, for notices before an automatic resume, keyed by (mentor, resume_on).
    fn claim_resume_notices(
        &self,
        org: OrgId,
        run: RunId,
        business_date: NaiveDate,
        claims: Vec<ResumeNoticeClaim>,
        at: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
    /// The reminder ledger of one mentor, newest first.
    fn reminders(
        &self,
        org: OrgId,
        mentor: MentorId,
    ) -> impl Future<Output = StoreResult<Vec<ReminderRecord>>> + Send;
    /// Write the digest of `business_date` now if no other run of `job` in `org` is alive (as
    /// `RunFinish::digest_for` describes), for a run that finished while another was still running.
    fn write_digest(
        &self,
        org: OrgId,
        job: &str,
        run: RunId,
        business_date: NaiveDate,
        at: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<FinishedRun>> + Send;
}
