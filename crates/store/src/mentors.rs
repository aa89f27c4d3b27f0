//! Mentors: registered, read, listed, their details changed, and their status history.

use std::future::Future;

use chrono::{DateTime, NaiveDate, Utc};
use domain::{Email, MentorId, OrgId};

use crate::{
    Actor, HistoryRecord, MentorCursor, MentorFilter, MentorPatch, MentorRecord, NewMentor, Page,
    StoreResult,
};

/// Mentors: registered, read, listed, their details changed, and their status history.
pub trait MentorStore: Clone + Send + Sync + 'static {
    /// Register mentors (one from the API, many from an import) with their first certification, a
    /// history row and an outbox row each; all or nothing.
    fn create_mentors(
        &self,
        org: OrgId,
        actor: Actor,
        mentors: Vec<NewMentor>,
        at: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<Vec<MentorId>>> + Send;
    /// Which of `emails` already belong to a mentor of `org`.
    fn existing_mentor_emails(
        &self,
        org: OrgId,
        emails: Vec<Email>,
    ) -> impl Future<Output = StoreResult<Vec<Email>>> + Send;
    /// One mentor of `org` with its current certification (the latest `expires_on`) and sync state.
    fn mentor(
        &self,
        org: OrgId,
        id: MentorId,
    ) -> impl Future<Output = StoreResult<MentorRecord>> + Send;
    /// Mentors of `org` ordered by name then id, `limit` at most, after `cursor`.
    /// `today` is the business date that `expiring_within_days` counts from.
    fn list_mentors(
        &self,
        org: OrgId,
        filter: MentorFilter,
        today: NaiveDate,
        limit: u32,
        cursor: Option<MentorCursor>,
    ) -> impl Future<Output = StoreResult<Page<MentorRecord, MentorCursor>>> + Send;
    /// Change a mentor's details (not its status); bumps the version and queues a sync.
    fn update_mentor(
        &self,
        org: OrgId,
        id: MentorId,
        patch: MentorPatch,
        at: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Status history, newest first; `before` is the id of the last item of the previous page.
    fn history(
        &self,
        org: OrgId,
        mentor: MentorId,
        limit: u32,
        before: Option<i64>,
    ) -> impl Future<Output = StoreResult<Page<HistoryRecord, i64>>> + Send;
}
