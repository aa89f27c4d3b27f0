//! The Store: every use case the engine and the web layer need from persistence, stated as meanings
//! ("apply this change if nobody else moved the mentor"), never as SQL. One crate per backend implements it.

mod changes;
#[cfg(feature = "contract")]
pub mod contract;
mod delivery;
mod error;
mod jobs;
mod passwords;
mod records;
mod sessions;
mod sync;
mod writes;

use std::future::Future;

use chrono::{DateTime, NaiveDate, Utc};
use domain::{Email, MentorId, NotificationId, OrgId, OrgSlug, UserId};
use uuid::Uuid;

pub use changes::ChangeStore;
pub use delivery::{
    AlertDeliveryPlan, AlertEvent, ChannelTold, DeliveryClaim, DeliveryOutcome, DeliveryResult,
    DeliveryStatus, EmailJob, OrgRef, OutboxDepth, WebhookJob, alert_payload, due_alert_events,
};
pub use error::{Conflict, Constraint, StoreError};
pub use jobs::{
    AlertOpened, AlertRecord, ClaimCounts, ExpiryWorklist, Finding, FindingRecord, FinishedRun,
    MentorFacts, NewAlert, NewRun, OrgSettings, ReminderCandidate, ReminderClaim, ReminderOutcome,
    ReminderRecord, ResumeNoticeClaim, RunCounts, RunFinish, RunId, RunOutcome, RunRecord,
    RunTrigger, Severity,
};
pub use passwords::PasswordStore;
pub use records::{
    Actor, CertificationRecord, HistoryRecord, MentorRecord, Notification, Org, Page, SchemaStatus,
    SyncFailure, SyncRecord, User, page_fetch_limit,
};
pub use sessions::{
    LoginFailure, LoginFailureCounts, NewSession, SESSION_TOUCH_INTERVAL, SessionRecord, TokenHash,
    session_needs_touch,
};
pub use sync::{
    ClaimedMentor, CredentialCheck, DeadLetter, DeadReason, DynamicsLink, SyncClaim, SyncOutcome,
    SyncPriority, SyncRecorded, SyncResult, SyncSelection, SyncStatusRecord, SyncTarget,
    SyncWakeups,
};
pub use writes::{
    ChangeOutcome, IdempotencyBegin, MentorChange, MentorCursor, MentorFilter, MentorPatch,
    NewCertification, NewMentor, NewNotification, NewOrg, NewUser, Recipient, StoredResponse,
};

pub type StoreResult<T> = Result<T, StoreError>;

/// Persistence for mentor-status. Implementations are cheap to clone (a pool handle) and safe to share.
///
/// Every write method is one transaction: it commits whole or not at all.
pub trait Store: ChangeStore + PasswordStore {
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

    // --- organisations: the scheduler's list and admins' settings ---

    /// Every organisation, for the scheduler.
    fn orgs(&self) -> impl Future<Output = StoreResult<Vec<Org>>> + Send;
    fn org_settings(&self, org: OrgId) -> impl Future<Output = StoreResult<OrgSettings>> + Send;
    fn update_org_settings(
        &self,
        org: OrgId,
        settings: OrgSettings,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    // --- the nightly expiry run ---

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

    // --- job runs ---

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
    /// The run log of an organisation, newest first.
    fn runs(
        &self,
        org: OrgId,
        limit: u32,
        before: Option<RunId>,
    ) -> impl Future<Output = StoreResult<Page<RunRecord, RunId>>> + Send;

    // --- compensation check and alerts ---

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
    /// Open an alert, or count again the open one with the same dedupe key.
    fn open_alert(&self, alert: NewAlert) -> impl Future<Output = StoreResult<AlertOpened>> + Send;
    /// Resolve the open alert with this dedupe key; `None` when none was open.
    fn resolve_alert(
        &self,
        dedupe_key: &str,
        at: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<Option<AlertRecord>>> + Send;
    /// Alerts of `org`, newest first.
    fn alerts(
        &self,
        org: OrgId,
        open_only: bool,
        limit: u32,
        before: Option<Uuid>,
    ) -> impl Future<Output = StoreResult<Page<AlertRecord, Uuid>>> + Send;
    fn acknowledge_alert(
        &self,
        org: OrgId,
        id: Uuid,
        user: UserId,
        at: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<AlertRecord>> + Send;

    // --- public listing sync ---

    /// Lease up to `claim.limit` mentors of the organisation with due outbox rows to one relay, and
    /// hide their rows from other relays until the lease ends. Mentors leased by another relay are
    /// skipped. Returns each mentor's current state.
    fn claim_sync(
        &self,
        claim: SyncClaim,
    ) -> impl Future<Output = StoreResult<Vec<ClaimedMentor>>> + Send;
    /// Record what pushing the claimed mentors did, and end `owner`'s leases on them; one transaction.
    fn record_sync_results(
        &self,
        org: OrgId,
        owner: Uuid,
        results: Vec<SyncResult>,
    ) -> impl Future<Output = StoreResult<SyncRecorded>> + Send;
    /// Queue an outbox row for the selected mentors; returns how many were queued. A mentor that
    /// already has a row at this priority or above that is due now is skipped; rows waiting out a
    /// backoff or another relay's lease do not count, so a force sync is not held up by them.
    fn queue_sync(
        &self,
        org: OrgId,
        selection: SyncSelection,
        priority: SyncPriority,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
    /// Put dead rows (of one mentor, or of the organisation) back in the queue; returns how many.
    fn retry_dead_sync(
        &self,
        org: OrgId,
        mentor: Option<MentorId>,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
    /// Every linked mentor's desired state, for reconciliation.
    fn sync_targets(&self, org: OrgId)
    -> impl Future<Output = StoreResult<Vec<SyncTarget>>> + Send;
    /// Queue depth, dead letters, lag percentiles of rows confirmed in the last `window`, last
    /// credential check.
    fn sync_status(
        &self,
        org: OrgId,
        window: std::time::Duration,
    ) -> impl Future<Output = StoreResult<SyncStatusRecord>> + Send;
    /// Mentors with dead rows, newest first.
    fn dead_letters(
        &self,
        org: OrgId,
        limit: u32,
    ) -> impl Future<Output = StoreResult<Vec<DeadLetter>>> + Send;
    fn record_credential_check(
        &self,
        org: OrgId,
        check: CredentialCheck,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Wake-ups for relays: the value changes whenever outbox rows may have been queued (by any
    /// process, where the backend can tell). Relays poll as well, so a missed wake-up only delays.
    fn sync_wakeups(&self) -> impl Future<Output = StoreResult<SyncWakeups>> + Send;
    /// Forget outbox rows confirmed longer than `age` ago; returns how many.
    fn prune_sync_outbox(
        &self,
        age: std::time::Duration,
    ) -> impl Future<Output = StoreResult<u64>> + Send;

    // --- delivery: emails and the operations webhook ---
    //
    // Writing a notification queues its email in the same transaction (the backends do it where the
    // notification is written, for every writer): when its organisation enables email
    // (`OrgSettings::email_enabled`) and the recipient has an address, in the recipient's language
    // (the user's `locale`, else the organisation's, else nb).

    /// Lease up to `claim.limit` due emails to one sender, oldest first.
    fn claim_emails(
        &self,
        claim: DeliveryClaim,
    ) -> impl Future<Output = StoreResult<Vec<EmailJob>>> + Send;
    /// Record what sending the claimed emails did, and end `owner`'s leases; results for emails no
    /// longer leased to `owner` are ignored (another sender took them over). Returns how many were
    /// recorded.
    fn record_email_results(
        &self,
        owner: Uuid,
        results: Vec<DeliveryResult>,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
    /// Queue, once per (alert, event), what the operations channels must hear: each alert's opening,
    /// a reminder for an open alert whose last notice is `remind_after` old, and its resolution.
    /// Returns how many notices were queued (emails and webhook posts).
    fn queue_alert_deliveries(
        &self,
        plan: AlertDeliveryPlan,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
    /// Lease up to `claim.limit` due webhook posts to one sender, oldest first.
    fn claim_webhooks(
        &self,
        claim: DeliveryClaim,
    ) -> impl Future<Output = StoreResult<Vec<WebhookJob>>> + Send;
    /// As [`Store::record_email_results`], for webhook posts.
    fn record_webhook_results(
        &self,
        owner: Uuid,
        results: Vec<DeliveryResult>,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
    /// Both outboxes' depth.
    fn delivery_status(&self) -> impl Future<Output = StoreResult<DeliveryStatus>> + Send;
    /// Forget the organisation's delivered emails sent longer than `age` ago, and every email and
    /// webhook row of its alerts resolved longer than `age` ago (all of an alert's rows at once, so
    /// no event of it is ever told again — `age` must exceed the alert reminder interval); returns
    /// how many. Dead rows of other emails stay for a
    /// person to look at.
    fn prune_delivery_outboxes(
        &self,
        org: OrgId,
        age: std::time::Duration,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
    /// The organisation's emails: how many wait, how many are dead, and when the oldest waiting
    /// one was queued.
    fn email_queue(&self, org: OrgId) -> impl Future<Output = StoreResult<OutboxDepth>> + Send;

    // --- dashboard sessions ---
    //
    // Instants come from the caller's clock (the engine's), so sessions expire by the same time the
    // rest of the request sees.

    /// Start a session. `NotFound("user")` when the user does not exist; a token hash already in use
    /// is a constraint conflict.
    fn create_session(&self, session: NewSession) -> impl Future<Output = StoreResult<()>> + Send;
    /// The session with this token hash and its user, if it is live at `now`: before its absolute
    /// expiry and last seen less than `idle` ago. Marks it seen at `now` (when its last sighting is
    /// [`SESSION_TOUCH_INTERVAL`] old or more, so busy pages do not write on every request).
    fn session(
        &self,
        token_hash: &TokenHash,
        now: DateTime<Utc>,
        idle: chrono::Duration,
    ) -> impl Future<Output = StoreResult<Option<SessionRecord>>> + Send;
    /// End a session (logout); false when there was none.
    fn delete_session(
        &self,
        token_hash: &TokenHash,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Forget sessions that are no longer live at `now` (expired, or idle for `idle`); returns how many.
    fn delete_expired_sessions(
        &self,
        now: DateTime<Utc>,
        idle: chrono::Duration,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
    /// Count a failed login.
    fn record_login_failure(
        &self,
        failure: LoginFailure,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Failed logins at or after `since`, for `account` and for `address`.
    fn login_failures_since(
        &self,
        account: &str,
        address: &str,
        since: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<LoginFailureCounts>> + Send;
    /// Forget failed logins before `before`; returns how many.
    fn prune_login_failures(
        &self,
        before: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<u64>> + Send;

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
