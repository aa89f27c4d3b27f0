//! The reminder ledger and the resume-notice ledger. The insert that wins the unique key is the claim
//! (`ON CONFLICT DO NOTHING RETURNING`), never check-then-insert: of several runs racing for one key,
//! exactly one gets the row back, and only that one writes the notification, in the same statement.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};
use domain::{MentorId, OrgId};
use sqlx::PgPool;
use store::{
    ClaimCounts, NewNotification, ReminderClaim, ReminderOutcome, ReminderRecord,
    ResumeNoticeClaim, RunId, StoreError, StoreResult,
};
use uuid::Uuid;

use crate::error::{bad_column, db_err};
use crate::notifications::recipient_columns;
use crate::plans::begin_custom_planned;
use store::{ExpiryWorklist, FinishedRun, MentorFacts};

/// One statement: claim every key, then write the notifications of the won `sent` claims. Claims for
/// mentors outside the organisation are not recorded. The inserts go in key order, so two runs
/// claiming overlapping batches wait for each other instead of deadlocking.
const CLAIM_REMINDERS: &str = r#"
WITH input AS (
    SELECT * FROM UNNEST($4::uuid[], $5::smallint[], $6::date[], $7::text[], $8::boolean[],
                         $9::boolean[], $10::uuid[], $11::uuid[], $12::text[], $13::jsonb[])
        WITH ORDINALITY
        AS i(mentor_id, threshold_days, expires_on, outcome, has_notification, to_coordinators,
             recipient_user_id, recipient_mentor_id, kind, payload, n)
),
claimed AS (
    INSERT INTO cert_expiry_reminders (org_id, mentor_id, threshold_days, certification_expires_on,
                                       outcome, business_date, run_id, created_at)
    SELECT $1, i.mentor_id, i.threshold_days, i.expires_on, i.outcome, $2, $3, $14
    FROM input i
    JOIN mentors m ON m.id = i.mentor_id AND m.org_id = $1
    ORDER BY i.mentor_id, i.threshold_days, i.expires_on
    ON CONFLICT ON CONSTRAINT cert_expiry_reminders_key DO NOTHING
    RETURNING mentor_id, threshold_days, certification_expires_on, outcome
),
notified AS (
    INSERT INTO notifications (id, org_id, recipient_user_id, recipient_mentor_id, kind, mentor_id,
                               payload, created_at)
    SELECT gen_random_uuid(), $1, COALESCE(i.recipient_user_id, u.id), i.recipient_mentor_id, i.kind,
           i.mentor_id, i.payload, $14
    FROM claimed c
    JOIN input i ON i.mentor_id = c.mentor_id AND i.threshold_days = c.threshold_days
                AND i.expires_on = c.certification_expires_on
    LEFT JOIN users u ON i.to_coordinators AND u.org_id = $1 AND u.role = 'coordinator'
    WHERE c.outcome = 'sent' AND i.has_notification AND (NOT i.to_coordinators OR u.id IS NOT NULL)
    ORDER BY i.n, u.id
)
SELECT count(*) FILTER (WHERE outcome = 'sent') AS sent,
       count(*) FILTER (WHERE outcome = 'skipped') AS skipped
FROM claimed
"#;

/// As [`CLAIM_REMINDERS`], keyed by (mentor, return date); every notice has a notification.
const CLAIM_RESUME_NOTICES: &str = r#"
WITH input AS (
    SELECT * FROM UNNEST($4::uuid[], $5::date[], $6::boolean[], $7::uuid[], $8::uuid[], $9::text[],
                         $10::jsonb[])
        WITH ORDINALITY
        AS i(mentor_id, resume_on, to_coordinators, recipient_user_id, recipient_mentor_id, kind,
             payload, n)
),
claimed AS (
    INSERT INTO resume_notices (org_id, mentor_id, resume_on, business_date, run_id, created_at)
    SELECT $1, i.mentor_id, i.resume_on, $2, $3, $11
    FROM input i
    JOIN mentors m ON m.id = i.mentor_id AND m.org_id = $1
    ORDER BY i.mentor_id, i.resume_on
    ON CONFLICT ON CONSTRAINT resume_notices_key DO NOTHING
    RETURNING mentor_id, resume_on
),
notified AS (
    INSERT INTO notifications (id, org_id, recipient_user_id, recipient_mentor_id, kind, mentor_id,
                               payload, created_at)
    SELECT gen_random_uuid(), $1, COALESCE(i.recipient_user_id, u.id), i.recipient_mentor_id, i.kind,
           i.mentor_id, i.payload, $11
    FROM claimed c
    JOIN input i ON i.mentor_id = c.mentor_id AND i.resume_on = c.resume_on
    LEFT JOIN users u ON i.to_coordinators AND u.org_id = $1 AND u.role = 'coordinator'
    WHERE NOT i.to_coordinators OR u.id IS NOT NULL
    ORDER BY i.n, u.id
)
SELECT count(*) FROM claimed
"#;

/// A notification as parallel-array columns: `has_notification` false leaves the rest empty.
#[derive(Default)]
struct NotificationColumns {
    has_notification: Vec<bool>,
    to_coordinators: Vec<bool>,
    user: Vec<Option<Uuid>>,
    mentor: Vec<Option<Uuid>>,
    kind: Vec<Option<String>>,
    payload: Vec<Option<serde_json::Value>>,
}

impl NotificationColumns {
    fn push(&mut self, notification: Option<NewNotification>) {
        self.has_notification.push(notification.is_some());
        match notification {
            Some(n) => {
                let (to_coordinators, user, mentor) = recipient_columns(&n.recipient);
                self.to_coordinators.push(to_coordinators);
                self.user.push(user);
                self.mentor.push(mentor);
                self.kind.push(Some(n.kind));
                self.payload.push(Some(n.payload));
            }
            None => {
                self.to_coordinators.push(false);
                self.user.push(None);
                self.mentor.push(None);
                self.kind.push(None);
                self.payload.push(None);
            }
        }
    }
}

/// A key given twice in one batch would win once and notify twice: a caller bug, refused whole.
fn refuse_repeated_keys<K: std::hash::Hash + Eq + std::fmt::Debug>(
    keys: impl IntoIterator<Item = K>,
    what: &str,
) -> StoreResult<()> {
    let mut seen = HashSet::new();
    for key in keys {
        if seen.contains(&key) {
            return Err(StoreError::Other(
                format!("a batch of {what} claims names {key:?} twice").into(),
            ));
        }
        seen.insert(key);
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct ClaimCountsRow {
    sent: i64,
    skipped: i64,
}

pub(crate) async fn claim_reminders(
    pool: &PgPool,
    org: OrgId,
    run: RunId,
    business_date: NaiveDate,
    claims: Vec<ReminderClaim>,
    at: DateTime<Utc>,
) -> StoreResult<ClaimCounts> {
    if claims.is_empty() {
        return Ok(ClaimCounts::default());
    }
    refuse_repeated_keys(
        claims
            .iter()
            .map(|c| (c.mentor, c.threshold_days, c.expires_on)),
        "reminder",
    )?;
    let mut mentors = Vec::with_capacity(claims.len());
    let mut thresholds = Vec::with_capacity(claims.len());
    let mut expires = Vec::with_capacity(claims.len());
    let mut outcomes = Vec::with_capacity(claims.len());
    let mut notes = NotificationColumns::default();
    for claim in claims {
        mentors.push(claim.mentor.0);
        // Out of range for smallint is out of range for the CHECK too, which then names the problem.
        thresholds.push(i16::try_from(claim.threshold_days).unwrap_or(i16::MAX));
        expires.push(claim.expires_on);
        outcomes.push(claim.outcome.as_str());
        // Only a `sent` claim notifies; a notification given with a `skipped` one is not written.
        notes.push(
            claim
                .notification
                .filter(|_| claim.outcome == ReminderOutcome::Sent),
        );
    }
    let mut tx = begin_custom_planned(pool).await?;
    let won: ClaimCountsRow = sqlx::query_as(CLAIM_REMINDERS)
        .bind(org.0)
        .bind(business_date)
        .bind(run.0)
        .bind(&mentors)
        .bind(&thresholds)
        .bind(&expires)
        .bind(&outcomes)
        .bind(&notes.has_notification)
        .bind(&notes.to_coordinators)
        .bind(&notes.user)
        .bind(&notes.mentor)
        .bind(&notes.kind)
        .bind(&notes.payload)
        .bind(at)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    Ok(ClaimCounts {
        sent: count(won.sent),
        skipped: count(won.skipped),
    })
}

pub(crate) async fn claim_resume_notices(
    pool: &PgPool,
    org: OrgId,
    run: RunId,
    business_date: NaiveDate,
    claims: Vec<ResumeNoticeClaim>,
    at: DateTime<Utc>,
) -> StoreResult<u64> {
    if claims.is_empty() {
        return Ok(0);
    }
    refuse_repeated_keys(
        claims.iter().map(|c| (c.mentor, c.resume_on)),
        "resume notice",
    )?;
    let mut mentors = Vec::with_capacity(claims.len());
    let mut resume_on = Vec::with_capacity(claims.len());
    let mut notes = NotificationColumns::default();
    for claim in claims {
        mentors.push(claim.mentor.0);
        resume_on.push(claim.resume_on);
        notes.push(Some(claim.notification));
    }
    let mut tx = begin_custom_planned(pool).await?;
    let won: i64 = sqlx::query_scalar(CLAIM_RESUME_NOTICES)
        .bind(org.0)
        .bind(business_date)
        .bind(run.0)
        .bind(&mentors)
        .bind(&resume_on)
        .bind(&notes.to_coordinators)
        .bind(&notes.user)
        .bind(&notes.mentor)
        .bind(&notes.kind)
        .bind(&notes.payload)
        .bind(at)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    Ok(count(won))
}

/// A SQL count as the store's unsigned counts (a count is never negative).
fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[derive(sqlx::FromRow)]
struct ReminderRow {
    mentor_id: Uuid,
    threshold_days: i16,
    certification_expires_on: NaiveDate,
    outcome: String,
    business_date: NaiveDate,
    run_id: Option<Uuid>,
    created_at: DateTime<Utc>,
}

impl TryFrom<ReminderRow> for ReminderRecord {
    type Error = StoreError;
    fn try_from(row: ReminderRow) -> Result<Self, StoreError> {
        Ok(ReminderRecord {
            mentor_id: MentorId(row.mentor_id),
            threshold_days: u16::try_from(row.threshold_days)
                .map_err(|_| bad_column("cert_expiry_reminders.threshold_days"))?,
            certification_expires_on: row.certification_expires_on,
            outcome: ReminderOutcome::parse(&row.outcome)
                .ok_or_else(|| bad_column("cert_expiry_reminders.outcome"))?,
            business_date: row.business_date,
            run_id: row.run_id.map(RunId),
            created_at: row.created_at,
        })
    }
}

pub(crate) async fn reminders(
    pool: &PgPool,
    org: OrgId,
    mentor: MentorId,
) -> StoreResult<Vec<ReminderRecord>> {
    // An empty ledger would not tell "no reminders yet" from "not your mentor"; the latter is NotFound.
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM mentors WHERE id = $1 AND org_id = $2)")
            .bind(mentor.0)
            .bind(org.0)
            .fetch_one(pool)
            .await
            .map_err(db_err)?;
    if !exists {
        return Err(StoreError::not_found("mentor"));
    }
    let rows: Vec<ReminderRow> = sqlx::query_as(
        "SELECT mentor_id, threshold_days, certification_expires_on, outcome, business_date, run_id, \
                created_at \
         FROM cert_expiry_reminders \
         WHERE mentor_id = $1 AND org_id = $2 \
         ORDER BY created_at DESC, threshold_days ASC",
    )
    .bind(mentor.0)
    .bind(org.0)
    .fetch_all(pool)
    .await
    .map_err(db_err)?;
    rows.into_iter().map(ReminderRecord::try_from).collect()
}

impl store::ExpiryStore for crate::PgStore {
    async fn expiry_worklist(
        &self,
        org: OrgId,
        today: NaiveDate,
        reminder_window_days: u16,
        resume_notice_days: u16,
    ) -> StoreResult<ExpiryWorklist> {
        crate::worklist::expiry_worklist(
            &self.pool,
            org,
            today,
            reminder_window_days,
            resume_notice_days,
        )
        .await
    }
    async fn mentor_facts(&self, org: OrgId, ids: Vec<MentorId>) -> StoreResult<Vec<MentorFacts>> {
        crate::worklist::mentor_facts(&self.pool, org, ids).await
    }
    async fn claim_reminders(
        &self,
        org: OrgId,
        run: RunId,
        business_date: NaiveDate,
        claims: Vec<ReminderClaim>,
        at: DateTime<Utc>,
    ) -> StoreResult<ClaimCounts> {
        claim_reminders(&self.pool, org, run, business_date, claims, at).await
    }
    async fn claim_resume_notices(
        &self,
        org: OrgId,
        run: RunId,
        business_date: NaiveDate,
        claims: Vec<ResumeNoticeClaim>,
        at: DateTime<Utc>,
    ) -> StoreResult<u64> {
        claim_resume_notices(&self.pool, org, run, business_date, claims, at).await
    }
    async fn reminders(&self, org: OrgId, mentor: MentorId) -> StoreResult<Vec<ReminderRecord>> {
        reminders(&self.pool, org, mentor).await
    }
    async fn write_digest(
        &self,
        org: OrgId,
        job: &str,
        run: RunId,
        business_date: NaiveDate,
        at: DateTime<Utc>,
    ) -> StoreResult<FinishedRun> {
        crate::runs::retry_digest(&self.pool, org, job, run, business_date, at).await
    }
}
