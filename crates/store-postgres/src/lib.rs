//! The PostgreSQL backend of the mentor-status [`Store`]: the production database, shared safely by several
//! instances. SQL lives here and only here; every write method is one transaction.

mod alerts;
mod appends;
mod changes;
mod compensation;
mod delivery;
mod digest;
mod error;
mod history;
mod idempotency;
mod ledgers;
mod mentors;
mod notifications;
mod orgs_users;
mod plans;
mod rows;
mod runs;
mod sessions;
mod sync;
mod wakeups;
mod worklist;

use chrono::{DateTime, NaiveDate, Utc};
use domain::{Email, MentorId, NotificationId, OrgId, OrgSlug, UserId};
use sqlx::PgPool;
use sqlx::migrate::{MigrateError, Migrator};
use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
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

use crate::error::db_err;

/// How long a request waits for a pooled connection before the database counts as unavailable.
const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The migrations of this backend, embedded at compile time.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// A handle to the database; cloning shares the pool.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// The process's one LISTEN connection, started by the first relay that asks.
    wakeups: std::sync::Arc<std::sync::Mutex<Option<SyncWakeups>>>,
}

impl PgStore {
    /// Open a pool of at most `max_connections` and check that the server answers. Any failure is
    /// `Unavailable`; the error names the cause, never the URL (it may hold a password).
    pub async fn connect(url: &str, max_connections: u32) -> Result<PgStore, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?
            // Planned once per connection; large batches ask for plans of their own (see plans.rs).
            .options([("plan_cache_mode", "force_generic_plan")]);
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            // Fail fast when the server is down: callers (readiness, requests) should answer, not hang.
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        Ok(Self::from_pool(pool))
    }

    pub fn from_pool(pool: PgPool) -> PgStore {
        PgStore {
            pool,
            wakeups: Default::default(),
        }
    }

    /// The pool, for jobs that need Postgres-specific features (LISTEN/NOTIFY, SKIP LOCKED claims).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

fn migrate_err(err: MigrateError) -> StoreError {
    match err {
        MigrateError::Execute(e) => db_err(e),
        other => StoreError::Other(Box::new(other)),
    }
}

impl Store for PgStore {
    async fn migrate(&self) -> StoreResult<()> {
        // The migrator holds an advisory lock, so instances starting together apply each migration once.
        MIGRATOR.run(&self.pool).await.map_err(migrate_err)?;
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
        let has_table: bool =
            sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                .fetch_one(&self.pool)
                .await
                .map_err(db_err)?;
        let applied: Vec<i64> = if has_table {
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.pool)
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
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn create_org(&self, org: NewOrg) -> StoreResult<Org> {
        orgs_users::create_org(&self.pool, org).await
    }

    async fn org(&self, id: OrgId) -> StoreResult<Org> {
        orgs_users::org(&self.pool, id).await
    }

    async fn org_by_slug(&self, slug: &OrgSlug) -> StoreResult<Option<Org>> {
        orgs_users::org_by_slug(&self.pool, slug).await
    }

    async fn create_user(&self, user: NewUser) -> StoreResult<User> {
        orgs_users::create_user(&self.pool, user).await
    }

    async fn user_by_subject(&self, subject: &str) -> StoreResult<Option<User>> {
        orgs_users::user_by_subject(&self.pool, subject).await
    }

    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        orgs_users::user_by_email(&self.pool, email).await
    }

    async fn create_mentors(
        &self,
        org: OrgId,
        actor: Actor,
        mentors: Vec<NewMentor>,
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<MentorId>> {
        mentors::create_mentors(&self.pool, org, actor, mentors, at).await
    }

    async fn existing_mentor_emails(
        &self,
        org: OrgId,
        emails: Vec<Email>,
    ) -> StoreResult<Vec<Email>> {
        mentors::existing_mentor_emails(&self.pool, org, emails).await
    }

    async fn mentor(&self, org: OrgId, id: MentorId) -> StoreResult<MentorRecord> {
        mentors::mentor(&self.pool, org, id).await
    }

    async fn list_mentors(
        &self,
        org: OrgId,
        filter: MentorFilter,
        today: NaiveDate,
        limit: u32,
        cursor: Option<MentorCursor>,
    ) -> StoreResult<Page<MentorRecord, MentorCursor>> {
        mentors::list_mentors(&self.pool, org, filter, today, limit, cursor).await
    }

    async fn update_mentor(
        &self,
        org: OrgId,
        id: MentorId,
        patch: MentorPatch,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        mentors::update_mentor(&self.pool, org, id, patch, at).await
    }

    async fn history(
        &self,
        org: OrgId,
        mentor: MentorId,
        limit: u32,
        before: Option<i64>,
    ) -> StoreResult<Page<HistoryRecord, i64>> {
        history::history(&self.pool, org, mentor, limit, before).await
    }

    async fn notifications(
        &self,
        user: &User,
        unread_only: bool,
        limit: u32,
        before: Option<NotificationId>,
    ) -> StoreResult<Page<Notification, NotificationId>> {
        notifications::notifications(&self.pool, user, unread_only, limit, before).await
    }

    async fn mark_notification_read(
        &self,
        user: &User,
        id: NotificationId,
        at: DateTime<Utc>,
    ) -> StoreResult<Notification> {
        notifications::mark_read(&self.pool, user, id, at).await
    }

    async fn orgs(&self) -> StoreResult<Vec<Org>> {
        orgs_users::orgs(&self.pool).await
    }

    async fn org_settings(&self, org: OrgId) -> StoreResult<OrgSettings> {
        orgs_users::org_settings(&self.pool, org).await
    }

    async fn update_org_settings(&self, org: OrgId, settings: OrgSettings) -> StoreResult<()> {
        orgs_users::update_org_settings(&self.pool, org, settings).await
    }

    async fn expiry_worklist(
        &self,
        org: OrgId,
        today: NaiveDate,
        reminder_window_days: u16,
        resume_notice_days: u16,
    ) -> StoreResult<ExpiryWorklist> {
        worklist::expiry_worklist(
            &self.pool,
            org,
            today,
            reminder_window_days,
            resume_notice_days,
        )
        .await
    }

    async fn mentor_facts(&self, org: OrgId, ids: Vec<MentorId>) -> StoreResult<Vec<MentorFacts>> {
        worklist::mentor_facts(&self.pool, org, ids).await
    }

    async fn claim_reminders(
        &self,
        org: OrgId,
        run: RunId,
        business_date: NaiveDate,
        claims: Vec<ReminderClaim>,
        at: DateTime<Utc>,
    ) -> StoreResult<ClaimCounts> {
        ledgers::claim_reminders(&self.pool, org, run, business_date, claims, at).await
    }

    async fn claim_resume_notices(
        &self,
        org: OrgId,
        run: RunId,
        business_date: NaiveDate,
        claims: Vec<ResumeNoticeClaim>,
        at: DateTime<Utc>,
    ) -> StoreResult<u64> {
        ledgers::claim_resume_notices(&self.pool, org, run, business_date, claims, at).await
    }

    async fn reminders(&self, org: OrgId, mentor: MentorId) -> StoreResult<Vec<ReminderRecord>> {
        ledgers::reminders(&self.pool, org, mentor).await
    }

    async fn claim_scheduled_run(&self, run: NewRun) -> StoreResult<bool> {
        runs::claim_scheduled_run(&self.pool, run).await
    }

    async fn start_run(&self, run: NewRun) -> StoreResult<()> {
        runs::start_run(&self.pool, run).await
    }

    async fn renew_run_lease(&self, run: RunId, until: DateTime<Utc>) -> StoreResult<()> {
        runs::renew_run_lease(&self.pool, run, until).await
    }

    async fn write_digest(
        &self,
        org: OrgId,
        job: &str,
        run: RunId,
        business_date: NaiveDate,
        at: DateTime<Utc>,
    ) -> StoreResult<FinishedRun> {
        runs::retry_digest(&self.pool, org, job, run, business_date, at).await
    }

    async fn finish_run(&self, finish: RunFinish) -> StoreResult<FinishedRun> {
        runs::finish_run(&self.pool, finish).await
    }

    async fn runs(
        &self,
        org: OrgId,
        limit: u32,
        before: Option<RunId>,
    ) -> StoreResult<Page<RunRecord, RunId>> {
        runs::runs(&self.pool, org, limit, before).await
    }

    async fn find_duplicate_effects(&self, org: OrgId) -> StoreResult<Vec<Finding>> {
        compensation::find_duplicate_effects(&self.pool, org).await
    }

    async fn record_findings(
        &self,
        org: OrgId,
        run: Option<RunId>,
        findings: Vec<Finding>,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        compensation::record_findings(&self.pool, org, run, findings, at).await
    }

    async fn findings(
        &self,
        org: OrgId,
        limit: u32,
        before: Option<i64>,
    ) -> StoreResult<Page<FindingRecord, i64>> {
        compensation::findings(&self.pool, org, limit, before).await
    }

    async fn open_alert(&self, alert: NewAlert) -> StoreResult<AlertOpened> {
        alerts::open_alert(&self.pool, alert).await
    }

    async fn resolve_alert(
        &self,
        dedupe_key: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<AlertRecord>> {
        alerts::resolve_alert(&self.pool, dedupe_key, at).await
    }

    async fn alerts(
        &self,
        org: OrgId,
        open_only: bool,
        limit: u32,
        before: Option<Uuid>,
    ) -> StoreResult<Page<AlertRecord, Uuid>> {
        alerts::alerts(&self.pool, org, open_only, limit, before).await
    }

    async fn acknowledge_alert(
        &self,
        org: OrgId,
        id: Uuid,
        user: UserId,
        at: DateTime<Utc>,
    ) -> StoreResult<AlertRecord> {
        alerts::acknowledge_alert(&self.pool, org, id, user, at).await
    }

    async fn idempotency_begin(
        &self,
        user: UserId,
        key: &str,
        fingerprint: &str,
        stale_after: chrono::Duration,
    ) -> StoreResult<IdempotencyBegin> {
        idempotency::begin(&self.pool, user, key, fingerprint, stale_after).await
    }

    async fn idempotency_complete(
        &self,
        user: UserId,
        key: &str,
        response: StoredResponse,
    ) -> StoreResult<()> {
        idempotency::complete(&self.pool, user, key, response).await
    }

    async fn idempotency_abandon(&self, user: UserId, key: &str) -> StoreResult<()> {
        idempotency::abandon(&self.pool, user, key).await
    }

    async fn create_session(&self, session: NewSession) -> StoreResult<()> {
        sessions::create_session(&self.pool, session).await
    }

    async fn session(
        &self,
        token_hash: &TokenHash,
        now: DateTime<Utc>,
        idle: chrono::Duration,
    ) -> StoreResult<Option<SessionRecord>> {
        sessions::session(&self.pool, token_hash, now, idle).await
    }

    async fn delete_session(&self, token_hash: &TokenHash) -> StoreResult<bool> {
        sessions::delete_session(&self.pool, token_hash).await
    }

    async fn delete_expired_sessions(
        &self,
        now: DateTime<Utc>,
        idle: chrono::Duration,
    ) -> StoreResult<u64> {
        sessions::delete_expired_sessions(&self.pool, now, idle).await
    }

    async fn record_login_failure(&self, failure: LoginFailure) -> StoreResult<()> {
        sessions::record_login_failure(&self.pool, failure).await
    }

    async fn login_failures_since(
        &self,
        account: &str,
        address: &str,
        since: DateTime<Utc>,
    ) -> StoreResult<LoginFailureCounts> {
        sessions::login_failures_since(&self.pool, account, address, since).await
    }

    async fn prune_login_failures(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        sessions::prune_login_failures(&self.pool, before).await
    }

    async fn claim_sync(&self, claim: SyncClaim) -> StoreResult<Vec<ClaimedMentor>> {
        sync::claim_sync(&self.pool, claim).await
    }

    async fn record_sync_results(
        &self,
        org: OrgId,
        owner: Uuid,
        results: Vec<SyncResult>,
    ) -> StoreResult<SyncRecorded> {
        sync::record_sync_results(&self.pool, org, owner, results).await
    }

    async fn queue_sync(
        &self,
        org: OrgId,
        selection: SyncSelection,
        priority: SyncPriority,
    ) -> StoreResult<u64> {
        sync::queue_sync(&self.pool, org, selection, priority).await
    }

    async fn retry_dead_sync(&self, org: OrgId, mentor: Option<MentorId>) -> StoreResult<u64> {
        sync::retry_dead_sync(&self.pool, org, mentor).await
    }

    async fn sync_targets(&self, org: OrgId) -> StoreResult<Vec<SyncTarget>> {
        sync::sync_targets(&self.pool, org).await
    }

    async fn sync_status(
        &self,
        org: OrgId,
        window: std::time::Duration,
    ) -> StoreResult<SyncStatusRecord> {
        sync::sync_status(&self.pool, org, window).await
    }

    async fn dead_letters(&self, org: OrgId, limit: u32) -> StoreResult<Vec<DeadLetter>> {
        sync::dead_letters(&self.pool, org, limit).await
    }

    async fn record_credential_check(&self, org: OrgId, check: CredentialCheck) -> StoreResult<()> {
        sync::record_credential_check(&self.pool, org, check).await
    }

    async fn sync_wakeups(&self) -> StoreResult<SyncWakeups> {
        let mut shared = self
            .wakeups
            .lock()
            .map_err(|_| StoreError::Other("the wake-up listener's lock was poisoned".into()))?;
        let receiver = match shared.as_ref() {
            Some(receiver) if receiver.has_changed().is_ok() => receiver.clone(),
            _ => {
                let receiver = wakeups::start(self.pool.clone());
                *shared = Some(receiver.clone());
                receiver
            }
        };
        Ok(receiver)
    }

    async fn prune_sync_outbox(&self, age: std::time::Duration) -> StoreResult<u64> {
        sync::prune_sync_outbox(&self.pool, age).await
    }

    async fn claim_emails(&self, claim: DeliveryClaim) -> StoreResult<Vec<EmailJob>> {
        delivery::claim_emails(&self.pool, claim).await
    }

    async fn record_email_results(
        &self,
        owner: Uuid,
        results: Vec<DeliveryResult>,
    ) -> StoreResult<u64> {
        delivery::record_email_results(&self.pool, owner, results).await
    }

    async fn queue_alert_deliveries(&self, plan: AlertDeliveryPlan) -> StoreResult<u64> {
        delivery::queue_alert_deliveries(&self.pool, plan).await
    }

    async fn claim_webhooks(&self, claim: DeliveryClaim) -> StoreResult<Vec<WebhookJob>> {
        delivery::claim_webhooks(&self.pool, claim).await
    }

    async fn record_webhook_results(
        &self,
        owner: Uuid,
        results: Vec<DeliveryResult>,
    ) -> StoreResult<u64> {
        delivery::record_webhook_results(&self.pool, owner, results).await
    }

    async fn delivery_status(&self) -> StoreResult<DeliveryStatus> {
        delivery::delivery_status(&self.pool).await
    }

    async fn prune_delivery_outboxes(
        &self,
        org: OrgId,
        age: std::time::Duration,
    ) -> StoreResult<u64> {
        delivery::prune_delivery_outboxes(&self.pool, org, age).await
    }

    async fn email_queue(&self, org: OrgId) -> StoreResult<OutboxDepth> {
        delivery::email_queue(&self.pool, org).await
    }
}
