//! The embedded SQLite backend of the mentor-status [`Store`]: the whole service from one file, no
//! database server. It keeps every guarantee of the PostgreSQL backend — unique claims,
//! compare-and-set transitions, one transaction per change with its history, outbox and
//! notifications — for one process per file (see `db.rs`). SQL lives here and only here.

mod alerts;
mod appends;
mod changes;
mod compensation;
mod db;
mod delivery;
mod digest;
mod error;
mod history;
mod idempotency;
mod ledgers;
mod mentors;
mod notifications;
mod orgs_users;
mod rows;
mod runs;
mod sessions;
mod sync;
mod time;
mod worklist;

use chrono::{DateTime, NaiveDate, Utc};
use domain::{Email, MentorId, NotificationId, OrgId, OrgSlug, UserId};
use sqlx::migrate::{MigrateError, Migrator};
use store::{
    Actor, AlertDeliveryPlan, AlertOpened, AlertRecord, ClaimCounts, ClaimedMentor,
    CredentialCheck, DeadLetter, DeliveryClaim, DeliveryResult, DeliveryStatus, EmailJob,
    ExpiryWorklist, Finding, FindingRecord, FinishedRun, HistoryRecord, IdempotencyBegin,
    MentorCursor, MentorFacts, MentorFilter, MentorPatch, MentorRecord, NewAlert, NewMentor,
    NewOrg, NewRun, NewUser, Notification, Org, OrgSettings, OutboxDepth, Page, ReminderClaim,
    ReminderRecord, ResumeNoticeClaim, RunFinish, RunId, RunRecord, SchemaStatus, Store,
    StoreError, StoreResult, StoredResponse, SyncClaim, SyncPriority, SyncRecorded, SyncResult,
    SyncSelection, SyncStatusRecord, SyncTarget, SyncWakeups, User, WebhookJob,
};
use store::{LoginFailure, LoginFailureCounts, NewSession, SessionRecord, TokenHash};
use uuid::Uuid;

pub use crate::db::Access;
use crate::db::Db;
use crate::error::db_err;

/// The migrations of this backend, embedded at compile time.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// A handle to the database file; cloning shares the connections and the file lock.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    db: Db,
}

impl SqliteStore {
    /// Open (creating it and its directory if missing) the database a `sqlite://` URL names, with
    /// up to `readers` read connections. With [`Access::Exclusive`] it fails as `Unavailable` when
    /// another server holds the file.
    pub async fn connect(
        url: &str,
        readers: u32,
        access: Access,
    ) -> Result<SqliteStore, StoreError> {
        Ok(SqliteStore {
            db: Db::open(url, readers, access).await?,
        })
    }
}

fn migrate_err(err: MigrateError) -> StoreError {
    match err {
        MigrateError::Execute(e) => db_err(e),
        other => StoreError::Other(Box::new(other)),
    }
}

impl Store for SqliteStore {
    async fn migrate(&self) -> StoreResult<()> {
        MIGRATOR.run(self.db.writer()).await.map_err(migrate_err)?;
        tracing::info!(
            migrations = MIGRATOR.iter().count(),
            "database schema is current"
        );
        Ok(())
    }

    async fn schema_status(&self) -> StoreResult<SchemaStatus> {
        let known: Vec<i64> = MIGRATOR
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .map(|m| m.version)
            .collect();
        // A database that was never migrated has no migrations table: nothing applied, not an error.
        let has_table: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = '_sqlx_migrations')",
        )
        .fetch_one(&self.db.read)
        .await
        .map_err(db_err)?;
        let applied: Vec<i64> = if has_table {
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.db.read)
                .await
                .map_err(db_err)?
        } else {
            Vec::new()
        };
        Ok(SchemaStatus {
            known: known.len(),
            applied: applied.iter().filter(|v| known.contains(v)).count(),
        })
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.db.read)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn create_org(&self, org: NewOrg) -> StoreResult<Org> {
        orgs_users::create_org(&self.db, org).await
    }

    async fn org(&self, id: OrgId) -> StoreResult<Org> {
        orgs_users::org(&self.db, id).await
    }

    async fn org_by_slug(&self, slug: &OrgSlug) -> StoreResult<Option<Org>> {
        orgs_users::org_by_slug(&self.db, slug).await
    }

    async fn create_user(&self, user: NewUser) -> StoreResult<User> {
        orgs_users::create_user(&self.db, user).await
    }

    async fn user_by_subject(&self, subject: &str) -> StoreResult<Option<User>> {
        orgs_users::user_by_subject(&self.db, subject).await
    }

    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        orgs_users::user_by_email(&self.db, email).await
    }

    async fn create_mentors(
        &self,
        org: OrgId,
        actor: Actor,
        mentors: Vec<NewMentor>,
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<MentorId>> {
        mentors::create_mentors(&self.db, org, actor, mentors, at).await
    }

    async fn existing_mentor_emails(
        &self,
        org: OrgId,
        emails: Vec<Email>,
    ) -> StoreResult<Vec<Email>> {
        mentors::existing_mentor_emails(&self.db, org, emails).await
    }

    async fn mentor(&self, org: OrgId, id: MentorId) -> StoreResult<MentorRecord> {
        mentors::mentor(&self.db, org, id).await
    }

    async fn list_mentors(
        &self,
        org: OrgId,
        filter: MentorFilter,
        today: NaiveDate,
        limit: u32,
        cursor: Option<MentorCursor>,
    ) -> StoreResult<Page<MentorRecord, MentorCursor>> {
        mentors::list_mentors(&self.db, org, filter, today, limit, cursor).await
    }

    async fn update_mentor(
        &self,
        org: OrgId,
        id: MentorId,
        patch: MentorPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        mentors::update_mentor(&self.db, org, id, patch, at).await
    }

    async fn history(
        &self,
        org: OrgId,
        mentor: MentorId,
        limit: u32,
        before: Option<i64>,
    ) -> StoreResult<Page<HistoryRecord, i64>> {
        history::history(&self.db, org, mentor, limit, before).await
    }

    async fn notifications(
        &self,
        user: &User,
        unread_only: bool,
        limit: u32,
        before: Option<NotificationId>,
    ) -> StoreResult<Page<Notification, NotificationId>> {
        notifications::notifications(&self.db, user, unread_only, limit, before).await
    }

    async fn mark_notification_read(
        &self,
        user: &User,
        id: NotificationId,
        at: DateTime<Utc>,
    ) -> StoreResult<Notification> {
        notifications::mark_read(&self.db, user, id, at).await
    }

    async fn orgs(&self) -> StoreResult<Vec<Org>> {
        orgs_users::orgs(&self.db).await
    }

    async fn org_settings(&self, org: OrgId) -> StoreResult<OrgSettings> {
        orgs_users::org_settings(&self.db, org).await
    }

    async fn update_org_settings(&self, org: OrgId, settings: OrgSettings) -> StoreResult<()> {
        orgs_users::update_org_settings(&self.db, org, settings).await
    }

    async fn expiry_worklist(
        &self,
        org: OrgId,
        today: NaiveDate,
        reminder_window_days: u16,
        resume_notice_days: u16,
    ) -> StoreResult<ExpiryWorklist> {
        worklist::expiry_worklist(
            &self.db,
            org,
            today,
            reminder_window_days,
            resume_notice_days,
        )
        .await
    }

    async fn mentor_facts(&self, org: OrgId, ids: Vec<MentorId>) -> StoreResult<Vec<MentorFacts>> {
        worklist::mentor_facts(&self.db, org, ids).await
    }

    async fn claim_reminders(
        &self,
        org: OrgId,
        run: RunId,
        business_date: NaiveDate,
        claims: Vec<ReminderClaim>,
        at: DateTime<Utc>,
    ) -> StoreResult<ClaimCounts> {
        ledgers::claim_reminders(&self.db, org, run, business_date, claims, at).await
    }

    async fn claim_resume_notices(
        &self,
        org: OrgId,
        run: RunId,
        business_date: NaiveDate,
        claims: Vec<ResumeNoticeClaim>,
        at: DateTime<Utc>,
    ) -> StoreResult<u64> {
        ledgers::claim_resume_notices(&self.db, org, run, business_date, claims, at).await
    }

    async fn reminders(&self, org: OrgId, mentor: MentorId) -> StoreResult<Vec<ReminderRecord>> {
        ledgers::reminders(&self.db, org, mentor).await
    }

    async fn claim_scheduled_run(&self, run: NewRun) -> StoreResult<bool> {
        runs::claim_scheduled_run(&self.db, run).await
    }

    async fn start_run(&self, run: NewRun) -> StoreResult<()> {
        runs::start_run(&self.db, run).await
    }

    async fn renew_run_lease(&self, run: RunId, until: DateTime<Utc>) -> StoreResult<()> {
        runs::renew_run_lease(&self.db, run, until).await
    }

    async fn write_digest(
        &self,
        org: OrgId,
        job: &str,
        run: RunId,
        business_date: NaiveDate,
        at: DateTime<Utc>,
    ) -> StoreResult<FinishedRun> {
        runs::retry_digest(&self.db, org, job, run, business_date, at).await
    }

    async fn finish_run(&self, finish: RunFinish) -> StoreResult<FinishedRun> {
        runs::finish_run(&self.db, finish).await
    }

    async fn runs(
        &self,
        org: OrgId,
        limit: u32,
        before: Option<RunId>,
    ) -> StoreResult<Page<RunRecord, RunId>> {
        runs::runs(&self.db, org, limit, before).await
    }

    async fn find_duplicate_effects(&self, org: OrgId) -> StoreResult<Vec<Finding>> {
        compensation::find_duplicate_effects(&self.db, org).await
    }

    async fn record_findings(
        &self,
        org: OrgId,
        run: Option<RunId>,
        findings: Vec<Finding>,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        compensation::record_findings(&self.db, org, run, findings, at).await
    }

    async fn findings(
        &self,
        org: OrgId,
        limit: u32,
        before: Option<i64>,
    ) -> StoreResult<Page<FindingRecord, i64>> {
        compensation::findings(&self.db, org, limit, before).await
    }

    async fn open_alert(&self, alert: NewAlert) -> StoreResult<AlertOpened> {
        alerts::open_alert(&self.db, alert).await
    }

    async fn resolve_alert(
        &self,
        dedupe_key: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<AlertRecord>> {
        alerts::resolve_alert(&self.db, dedupe_key, at).await
    }

    async fn alerts(
        &self,
        org: OrgId,
        open_only: bool,
        limit: u32,
        before: Option<Uuid>,
    ) -> StoreResult<Page<AlertRecord, Uuid>> {
        alerts::alerts(&self.db, org, open_only, limit, before).await
    }

    async fn acknowledge_alert(
        &self,
        org: OrgId,
        id: Uuid,
        user: UserId,
        at: DateTime<Utc>,
    ) -> StoreResult<AlertRecord> {
        alerts::acknowledge_alert(&self.db, org, id, user, at).await
    }

    async fn idempotency_begin(
        &self,
        user: UserId,
        key: &str,
        fingerprint: &str,
        stale_after: chrono::Duration,
    ) -> StoreResult<IdempotencyBegin> {
        idempotency::begin(&self.db, user, key, fingerprint, stale_after).await
    }

    async fn idempotency_complete(
        &self,
        user: UserId,
        key: &str,
        response: StoredResponse,
    ) -> StoreResult<()> {
        idempotency::complete(&self.db, user, key, response).await
    }

    async fn idempotency_abandon(&self, user: UserId, key: &str) -> StoreResult<()> {
        idempotency::abandon(&self.db, user, key).await
    }

    async fn create_session(&self, session: NewSession) -> StoreResult<()> {
        sessions::create_session(&self.db, session).await
    }

    async fn session(
        &self,
        token_hash: &TokenHash,
        now: DateTime<Utc>,
        idle: chrono::Duration,
    ) -> StoreResult<Option<SessionRecord>> {
        sessions::session(&self.db, token_hash, now, idle).await
    }

    async fn delete_session(&self, token_hash: &TokenHash) -> StoreResult<bool> {
        sessions::delete_session(&self.db, token_hash).await
    }

    async fn delete_expired_sessions(
        &self,
        now: DateTime<Utc>,
        idle: chrono::Duration,
    ) -> StoreResult<u64> {
        sessions::delete_expired_sessions(&self.db, now, idle).await
    }

    async fn record_login_failure(&self, failure: LoginFailure) -> StoreResult<()> {
        sessions::record_login_failure(&self.db, failure).await
    }

    async fn login_failures_since(
        &self,
        account: &str,
        address: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<LoginFailureCounts> {
        sessions::login_failures_since(&self.db, account, address, since).await
    }

    async fn prune_login_failures(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        sessions::prune_login_failures(&self.db, before).await
    }

    async fn claim_sync(&self, claim: SyncClaim) -> StoreResult<Vec<ClaimedMentor>> {
        sync::claim_sync(&self.db, claim).await
    }

    async fn record_sync_results(
        &self,
        org: OrgId,
        owner: Uuid,
        results: Vec<SyncResult>,
    ) -> StoreResult<SyncRecorded> {
        sync::record_sync_results(&self.db, org, owner, results).await
    }

    async fn queue_sync(
        &self,
        org: OrgId,
        selection: SyncSelection,
        priority: SyncPriority,
    ) -> StoreResult<u64> {
        sync::queue_sync(&self.db, org, selection, priority).await
    }

    async fn retry_dead_sync(&self, org: OrgId, mentor: Option<MentorId>) -> StoreResult<u64> {
        sync::retry_dead_sync(&self.db, org, mentor).await
    }

    async fn sync_targets(&self, org: OrgId) -> StoreResult<Vec<SyncTarget>> {
        sync::sync_targets(&self.db, org).await
    }

    async fn sync_status(
        &self,
        org: OrgId,
        window: std::time::Duration,
    ) -> StoreResult<SyncStatusRecord> {
        sync::sync_status(&self.db, org, window).await
    }

    async fn dead_letters(&self, org: OrgId, limit: u32) -> StoreResult<Vec<DeadLetter>> {
        sync::dead_letters(&self.db, org, limit).await
    }

    async fn record_credential_check(&self, org: OrgId, check: CredentialCheck) -> StoreResult<()> {
        sync::record_credential_check(&self.db, org, check).await
    }

    async fn sync_wakeups(&self) -> StoreResult<SyncWakeups> {
        Ok(self.db.wakeups())
    }

    async fn prune_sync_outbox(&self, age: std::time::Duration) -> StoreResult<u64> {
        sync::prune_sync_outbox(&self.db, age).await
    }

    async fn claim_emails(&self, claim: DeliveryClaim) -> StoreResult<Vec<EmailJob>> {
        delivery::claim_emails(&self.db, claim).await
    }

    async fn record_email_results(
        &self,
        owner: Uuid,
        results: Vec<DeliveryResult>,
    ) -> StoreResult<u64> {
        delivery::record_email_results(&self.db, owner, results).await
    }

    async fn queue_alert_deliveries(&self, plan: AlertDeliveryPlan) -> StoreResult<u64> {
        delivery::queue_alert_deliveries(&self.db, plan).await
    }

    async fn claim_webhooks(&self, claim: DeliveryClaim) -> StoreResult<Vec<WebhookJob>> {
        delivery::claim_webhooks(&self.db, claim).await
    }

    async fn record_webhook_results(
        &self,
        owner: Uuid,
        results: Vec<DeliveryResult>,
    ) -> StoreResult<u64> {
        delivery::record_webhook_results(&self.db, owner, results).await
    }

    async fn delivery_status(&self) -> StoreResult<DeliveryStatus> {
        delivery::delivery_status(&self.db).await
    }

    async fn prune_delivery_outboxes(
        &self,
        org: OrgId,
        age: std::time::Duration,
    ) -> StoreResult<u64> {
        delivery::prune_delivery_outboxes(&self.db, org, age).await
    }

    async fn email_queue(&self, org: OrgId) -> StoreResult<OutboxDepth> {
        delivery::email_queue(&self.db, org).await
    }
}
