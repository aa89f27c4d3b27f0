//! The reminder ledger and the resume-notice ledger. The insert that wins the unique key is the claim
//! (`ON CONFLICT DO NOTHING RETURNING`), never check-then-insert: of several runs claiming one key,
//! exactly one gets the row back, and only that one writes the notification, in the same transaction.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};
use domain::{MentorId, OrgId};
use store::{
    ClaimCounts, ReminderClaim, ReminderOutcome, ReminderRecord, ResumeNoticeClaim, RunId,
    StoreError, StoreResult,
};
use uuid::Uuid;

use crate::appends::insert_notification;
use crate::db::Db;
use crate::error::{bad_column, db_err};
use crate::time::Ts;
use store::{ExpiryWorklist, FinishedRun, MentorFacts};

/// Claim one (mentor, threshold, expiry date) key for a mentor of the organisation; a row comes back
/// only when this insert wrote it. (The SELECT has a WHERE, which SQLite needs to parse the upsert.)
const CLAIM_REMINDER: &str = "\
INSERT INTO cert_expiry_reminders (org_id, mentor_id, threshold_days, certification_expires_on, \
                                   outcome, business_date, run_id, created_at) \
SELECT m.org_id, m.id, ?3, ?4, ?5, ?6, ?7, ?8 FROM mentors m WHERE m.id = ?1 AND m.org_id = ?2 \
ON CONFLICT DO NOTHING \
RETURNING 1";

/// As [`CLAIM_REMINDER`], keyed by (mentor, return date).
const CLAIM_RESUME_NOTICE: &str = "\
INSERT INTO resume_notices (org_id, mentor_id, resume_on, business_date, run_id, created_at) \
SELECT m.org_id, m.id, ?3, ?4, ?5, ?6 FROM mentors m WHERE m.id = ?1 AND m.org_id = ?2 \
ON CONFLICT DO NOTHING \
RETURNING 1";

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

pub(crate) async fn claim_reminders(
    db: &Db,
    org: OrgId,
    run: RunId,
    business_date: NaiveDate,
    claims: Vec<ReminderClaim>,
    at: DateTime<Utc>,
) -> StoreResult<ClaimCounts> {
    let mut won = ClaimCounts::default();
    if claims.is_empty() {
        return Ok(won);
    }
    refuse_repeated_keys(
        claims
            .iter()
            .map(|c| (c.mentor, c.threshold_days, c.expires_on)),
        "reminder",
    )?;
    let mut tx = db.begin().await?;
    for claim in &claims {
        let claimed: Option<i64> = sqlx::query_scalar(CLAIM_REMINDER)
            .bind(claim.mentor.0)
            .bind(org.0)
            .bind(i64::from(claim.threshold_days))
            .bind(claim.expires_on)
            .bind(claim.outcome.as_str())
            .bind(business_date)
            .bind(run.0)
            .bind(Ts(at))
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        if claimed.is_none() {
            continue;
        }
        match claim.outcome {
            ReminderOutcome::Sent => {
                won.sent += 1;
                // Only a `sent` claim notifies; a notification given with a `skipped` one is not written.
                if let Some(notification) = &claim.notification {
                    insert_notification(&mut tx, org, Some(claim.mentor), notification, at).await?;
                }
            }
            ReminderOutcome::Skipped => won.skipped += 1,
        }
    }
    db.commit(tx).await?;
    Ok(won)
}

pub(crate) async fn claim_resume_notices(
    db: &Db,
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
    let mut won = 0;
    let mut tx = db.begin().await?;
    for claim in &claims {
        let claimed: Option<i64> = sqlx::query_scalar(CLAIM_RESUME_NOTICE)
            .bind(claim.mentor.0)
            .bind(org.0)
            .bind(claim.resume_on)
            .bind(business_date)
            .bind(run.0)
            .bind(Ts(at))
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        if claimed.is_some() {
            won += 1;
            insert_notification(&mut tx, org, Some(claim.mentor), &claim.notification, at).await?;
        }
    }
    db.commit(tx).await?;
    Ok(won)
}

#[derive(sqlx::FromRow)]
struct ReminderRow {
    mentor_id: Uuid,
    threshold_days: i64,
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
    db: &Db,
    org: OrgId,
    mentor: MentorId,
) -> StoreResult<Vec<ReminderRecord>> {
    let mut tx = db.read.begin().await.map_err(db_err)?;
    // An empty ledger would not tell "no reminders yet" from "not your mentor"; the latter is NotFound.
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM mentors WHERE id = ?1 AND org_id = ?2)")
            .bind(mentor.0)
            .bind(org.0)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
    if !exists {
        return Err(StoreError::not_found("mentor"));
    }
    let rows: Vec<ReminderRow> = sqlx::query_as(
        "SELECT mentor_id, threshold_days, certification_expires_on, outcome, business_date, run_id, \
                created_at \
         FROM cert_expiry_reminders \
         WHERE mentor_id = ?1 AND org_id = ?2 \
         ORDER BY created_at DESC, threshold_days ASC",
    )
    .bind(mentor.0)
    .bind(org.0)
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    rows.into_iter().map(ReminderRecord::try_from).collect()
}

impl store::ExpiryStore for crate::SqliteStore {
    async fn expiry_worklist(
        &self,
        org: OrgId,
        today: NaiveDate,
        reminder_window_days: u16,
        resume_notice_days: u16,
    ) -> StoreResult<ExpiryWorklist> {
        crate::worklist::expiry_worklist(
            &self.db,
            org,
            today,
            reminder_window_days,
            resume_notice_days,
        )
        .await
    }
    async fn mentor_facts(&self, org: OrgId, ids: Vec<MentorId>) -> StoreResult<Vec<MentorFacts>> {
        crate::worklist::mentor_facts(&self.db, org, ids).await
    }
    async fn claim_reminders(
        &self,
        org: OrgId,
        run: RunId,
        business_date: NaiveDate,
        claims: Vec<ReminderClaim>,
        at: DateTime<Utc>,
    ) -> StoreResult<ClaimCounts> {
        claim_reminders(&self.db, org, run, business_date, claims, at).await
    }
    async fn claim_resume_notices(
        &self,
        org: OrgId,
        run: RunId,
        business_date: NaiveDate,
        claims: Vec<ResumeNoticeClaim>,
        at: DateTime<Utc>,
    ) -> StoreResult<u64> {
        claim_resume_notices(&self.db, org, run, business_date, claims, at).await
    }
    async fn reminders(&self, org: OrgId, mentor: MentorId) -> StoreResult<Vec<ReminderRecord>> {
        reminders(&self.db, org, mentor).await
    }
    async fn write_digest(
        &self,
        org: OrgId,
        job: &str,
        run: RunId,
        business_date: NaiveDate,
        at: DateTime<Utc>,
    ) -> StoreResult<FinishedRun> {
        crate::runs::retry_digest(&self.db, org, job, run, business_date, at).await
    }
}
