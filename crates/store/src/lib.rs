//! The Store: every use case the engine and the web layer need from persistence, stated as meanings
//! ("apply this change if nobody else moved the mentor"), never as SQL. One crate per backend implements it.

mod error;
mod records;
mod writes;

use std::future::Future;

use chrono::{DateTime, NaiveDate, Utc};
use domain::{Email, MentorId, NotificationId, OrgId, OrgSlug, UserId};

pub use error::{Conflict, Constraint, StoreError};
pub use records::{
    Actor, CertificationRecord, HistoryRecord, MentorRecord, Notification, Org, Page, SchemaStatus,
    SyncRecord, User,
};
pub use writes::{
    IdempotencyBegin, MentorChange, MentorCursor, MentorFilter, MentorPatch, NewCertification,
    NewMentor, NewNotification, NewOrg, NewUser, Recipient, StoredResponse,
};

pub type StoreResult<T> = Result<T, StoreError>;

/// Persistence for mentor-status. Implementations are cheap to clone (a pool handle) and safe to share.
///
/// Every write method is one transaction: it commits whole or not at all.
pub trait Store: Clone + Send + Sync + 'static {
    // --- schema and health ---

    /// Apply pending migrations.
    fn migrate(&self) -> impl Future<Output = StoreResult<()>> + Send;
    /// How many migrations this build knows and how many the database has applied.
    fn schema_status(&self) -> impl Future<Output = StoreResult<SchemaStatus>> + Send;
    /// A round trip to the database.
    fn ping(&self) -> impl Future<Output = StoreResult<()>> + Send;

    // --- organisations and users ---

    fn create_org(&self, org: NewOrg) -> impl Future<Output = StoreResult<Org>> + Send;
    fn org(&self, id: OrgId) -> impl Future<Output = StoreResult<Org>> + Send;
    fn org_by_slug(&self, slug: &OrgSlug) -> impl Future<Output = StoreResult<Option<Org>>> + Send;

    fn create_user(&self, user: NewUser) -> impl Future<Output = StoreResult<User>> + Send;
    /// The user a token's `sub` claim names.
    fn user_by_subject(
        &self,
        subject: &str,
    ) -> impl Future<Output = StoreResult<Option<User>>> + Send;
    fn user_by_email(
        &self,
        email: &Email,
    ) -> impl Future<Output = StoreResult<Option<User>>> + Send;

    // --- mentors ---

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
    /// The unit of work behind every status change and certification: compare-and-set on the expected
    /// status and version, then certification, history, outbox and notifications, in one transaction.
    /// `Conflict::LostRace` when the mentor moved meanwhile (re-read and decide again).
    fn apply_change(&self, change: MentorChange) -> impl Future<Output = StoreResult<()>> + Send;
    /// Status history, newest first; `before` is the id of the last item of the previous page.
    fn history(
        &self,
        org: OrgId,
        mentor: MentorId,
        limit: u32,
        before: Option<i64>,
    ) -> impl Future<Output = StoreResult<Page<HistoryRecord, i64>>> + Send;

    // --- notifications ---

    /// In-app notifications for `user` (addressed to them, or to the mentor they log in as), newest first.
    fn notifications(
        &self,
        user: &User,
        unread_only: bool,
        limit: u32,
        before: Option<NotificationId>,
    ) -> impl Future<Output = StoreResult<Page<Notification, NotificationId>>> + Send;
    /// Mark one of `user`'s notifications read (once; later calls keep the first time).
    fn mark_notification_read(
        &self,
        user: &User,
        id: NotificationId,
        at: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<Notification>> + Send;

    // --- idempotency keys of API requests ---

    /// Claim `key` for `user` by inserting it first. A finished request replays; another fingerprint
    /// under the same key is a mismatch; a claim that never finished and is older than `stale_after`
    /// (by the database's clock, which also stamped it) is taken over.
    fn idempotency_begin(
        &self,
        user: UserId,
        key: &str,
        fingerprint: &str,
        stale_after: chrono::Duration,
    ) -> impl Future<Output = StoreResult<IdempotencyBegin>> + Send;
    fn idempotency_complete(
        &self,
        user: UserId,
        key: &str,
        response: StoredResponse,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Forget an unfinished claim (the request failed in a way the client may retry).
    fn idempotency_abandon(
        &self,
        user: UserId,
        key: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}
