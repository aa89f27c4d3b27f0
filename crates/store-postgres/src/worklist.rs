//! What the nightly run looks at, read in sets: two statements per organisation, never one per mentor.
//!
//! The current certification's last valid day is `mentors.current_expires_on` (kept by triggers on
//! `certifications`, see migration 0002). "Lapsed and still active" and "expires in the reminder
//! window" are range scans of (org_id, current_expires_on) that check each row's status: no index
//! holds the status (migration 0005 keeps status changes HOT), so the lapsed range also passes the
//! organisation's mentors already `certification_expired` — a few milliseconds per organisation of
//! 10,000 mentors, where a certification probe per mentor took about 55 ms. (A trigger-kept table of
//! active mentors' expiry dates made that range exact, but cost the first night 8 s more than it saved
//! later: measured and left out.) Paused mentors whose return date has come or is near come from the
//! index on `resume_on`.
//!
//! Both statements run in one read-only snapshot as nested loops over plain index scans (sequential
//! and bitmap scans, hash and merge joins off):
//! - statistics taken before a night's lapses estimate thousands of lapsed active mentors per
//!   organisation where there are none left, and the planner would pick a plan for thousands (a
//!   sequential scan of all mentors, once per organisation);
//! - a run that moves thousands of mentors leaves their old row versions in these index ranges until
//!   vacuum; a bitmap scan visits every one of them on every run (it never marks an index entry dead),
//!   while a plain index scan marks them dead on its first visit, so the next run, and an immediate
//!   re-run, skip them. Without bitmaps, each range is its own `UNION ALL` branch (an `OR` needs one).

use chrono::{Days, NaiveDate};
use domain::{MentorId, OrgId};
use sqlx::PgPool;
use store::{ExpiryWorklist, MentorFacts, ReminderCandidate, StoreError, StoreResult};
use uuid::Uuid;

use crate::error::{bad_column, db_err};

/// The columns of [`MentorFacts`].
const FACTS_COLUMNS: &str =
    "m.id, m.full_name, m.status, m.version, m.resume_on, m.current_expires_on AS expires_on";

/// Lapsed `active` mentors (without a certification, or with one that ended before today) and
/// `active`/`paused` mentors whose certification expires in the reminder window, with the thresholds
/// already recorded for that expiry date (read only for the latter, which is how they are told apart).
/// Ordered by id, so the run's batches lock mentors in one order whichever instance runs them.
const CERTIFICATION_PASS: &str = "\
SELECT m.id, m.full_name, m.status, m.version, m.resume_on, m.current_expires_on AS expires_on, \
       NULL::smallint[] AS recorded_thresholds \
FROM mentors m \
WHERE m.org_id = $1 AND m.status = 'active' AND m.current_expires_on < $2 \
UNION ALL \
SELECT m.id, m.full_name, m.status, m.version, m.resume_on, m.current_expires_on, NULL \
FROM mentors m \
WHERE m.org_id = $1 AND m.status = 'active' AND m.current_expires_on IS NULL \
UNION ALL \
SELECT m.id, m.full_name, m.status, m.version, m.resume_on, m.current_expires_on, \
       ARRAY(SELECT r.threshold_days FROM cert_expiry_reminders r \
             WHERE r.mentor_id = m.id AND r.certification_expires_on = m.current_expires_on \
             ORDER BY r.threshold_days) \
FROM mentors m \
WHERE m.org_id = $1 AND m.status IN ('active', 'paused') AND m.current_expires_on BETWEEN $2 AND $3 \
ORDER BY id";

#[derive(sqlx::FromRow)]
struct CertificationRow {
    id: Uuid,
    full_name: String,
    status: String,
    version: i64,
    resume_on: Option<NaiveDate>,
    expires_on: Option<NaiveDate>,
    /// Set only for mentors in the reminder window.
    recorded_thresholds: Option<Vec<i16>>,
}

#[derive(sqlx::FromRow)]
struct FactsRow {
    id: Uuid,
    full_name: String,
    status: String,
    version: i64,
    resume_on: Option<NaiveDate>,
    expires_on: Option<NaiveDate>,
}

impl TryFrom<FactsRow> for MentorFacts {
    type Error = StoreError;
    fn try_from(row: FactsRow) -> Result<Self, StoreError> {
        facts(
            row.id,
            row.full_name,
            &row.status,
            row.version,
            row.expires_on,
            row.resume_on,
        )
    }
}

fn facts(
    id: Uuid,
    full_name: String,
    status: &str,
    version: i64,
    expires_on: Option<NaiveDate>,
    resume_on: Option<NaiveDate>,
) -> StoreResult<MentorFacts> {
    Ok(MentorFacts {
        id: MentorId(id),
        full_name,
        status: status.parse().map_err(|_| bad_column("mentors.status"))?,
        version,
        expires_on,
        resume_on,
    })
}

/// `today + days`, or the end of the calendar when that is past it (a window that never closes).
fn days_after(today: NaiveDate, days: u16) -> NaiveDate {
    today
        .checked_add_days(Days::new(days.into()))
        .unwrap_or(NaiveDate::MAX)
}

pub(crate) async fn expiry_worklist(
    pool: &PgPool,
    org: OrgId,
    today: NaiveDate,
    reminder_window_days: u16,
    resume_notice_days: u16,
) -> StoreResult<ExpiryWorklist> {
    let mut worklist = ExpiryWorklist::default();
    // One snapshot for both statements; see the module comment for the bitmap scans, and plans.rs
    // for the plans made for the actual dates. The BEGIN is sent as a simple query, so the settings
    // cost one round trip.
    let mut tx = pool
        .begin_with(
            "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET LOCAL enable_bitmapscan = off; \
             SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off; \
             SET LOCAL enable_seqscan = off; SET LOCAL plan_cache_mode = force_custom_plan",
        )
        .await
        .map_err(db_err)?;

    let rows: Vec<CertificationRow> = sqlx::query_as(CERTIFICATION_PASS)
        .bind(org.0)
        .bind(today)
        .bind(days_after(today, reminder_window_days))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
    for row in rows {
        let mentor = facts(
            row.id,
            row.full_name,
            &row.status,
            row.version,
            row.expires_on,
            row.resume_on,
        )?;
        match (row.expires_on, row.recorded_thresholds) {
            // The statement reads the recorded thresholds exactly for mentors in the window.
            (Some(expires_on), Some(recorded)) => {
                let recorded_thresholds = recorded
                    .into_iter()
                    .map(|t| {
                        u16::try_from(t)
                            .map_err(|_| bad_column("cert_expiry_reminders.threshold_days"))
                    })
                    .collect::<StoreResult<Vec<u16>>>()?;
                worklist.reminders.push(ReminderCandidate {
                    mentor,
                    expires_on,
                    recorded_thresholds,
                });
            }
            _ => worklist.lapsed_active.push(mentor),
        }
    }

    // Return dates up to the end of the notice window; a notice already given takes a mentor out of
    // `resume_soon` here, so an immediate re-run reads almost nothing.
    let rows: Vec<FactsRow> = sqlx::query_as(&format!(
        "SELECT {FACTS_COLUMNS} \
         FROM mentors m \
         WHERE m.org_id = $1 AND m.status = 'paused' AND m.resume_on <= $3 \
           AND (m.resume_on <= $2 OR NOT EXISTS ( \
               SELECT 1 FROM resume_notices n WHERE n.mentor_id = m.id AND n.resume_on = m.resume_on)) \
         ORDER BY m.id"
    ))
    .bind(org.0)
    .bind(today)
    .bind(days_after(today, resume_notice_days))
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    for row in rows {
        let mentor = MentorFacts::try_from(row)?;
        if mentor.resume_on.is_some_and(|d| d <= today) {
            worklist.resume_due.push(mentor);
        } else {
            worklist.resume_soon.push(mentor);
        }
    }
    Ok(worklist)
}

pub(crate) async fn mentor_facts(
    pool: &PgPool,
    org: OrgId,
    ids: Vec<MentorId>,
) -> StoreResult<Vec<MentorFacts>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = ids.into_iter().map(|m| m.0).collect();
    let rows: Vec<FactsRow> = sqlx::query_as(&format!(
        "SELECT {FACTS_COLUMNS} FROM mentors m WHERE m.org_id = $1 AND m.id = ANY($2) \
         ORDER BY m.id"
    ))
    .bind(org.0)
    .bind(&ids)
    .fetch_all(pool)
    .await
    .map_err(db_err)?;
    rows.into_iter().map(MentorFacts::try_from).collect()
}
