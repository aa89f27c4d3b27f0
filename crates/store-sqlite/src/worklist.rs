//! What the nightly run looks at, read in sets: two statements per organisation, never one per mentor,
//! both in one read snapshot.
//!
//! The current certification's last valid day is `mentors.current_expires_on` (kept by triggers on
//! `certifications`), so "lapsed and still active" and "expires in the reminder window" are range
//! scans of the index on (org_id, current_expires_on) that check each row's status. Paused mentors
//! whose return date has come or is near come from the index on `resume_on`.

use chrono::{Days, NaiveDate};
use domain::{MentorId, OrgId};
use store::{ExpiryWorklist, MentorFacts, ReminderCandidate, StoreError, StoreResult};
use uuid::Uuid;

use crate::db::Db;
use crate::error::{bad_column, db_err};

/// Lapsed `active` mentors (without a certification, or with one that ended before today) and
/// `active`/`paused` mentors whose certification expires in the reminder window, with the thresholds
/// already recorded for that expiry date as a JSON array (read only for the latter, which is how they
/// are told apart). Each range is its own branch so each is an index range scan. Ordered by id, so the
/// run's batches touch mentors in one order whichever run reads them.
const CERTIFICATION_PASS: &str = "\
SELECT m.id, m.full_name, m.status, m.version, m.resume_on, m.current_expires_on AS expires_on, \
       NULL AS recorded_thresholds \
FROM mentors m \
WHERE m.org_id = ?1 AND m.current_expires_on < ?2 AND m.status = 'active' \
UNION ALL \
SELECT m.id, m.full_name, m.status, m.version, m.resume_on, m.current_expires_on, NULL \
FROM mentors m \
WHERE m.org_id = ?1 AND m.current_expires_on IS NULL AND m.status = 'active' \
UNION ALL \
SELECT m.id, m.full_name, m.status, m.version, m.resume_on, m.current_expires_on, \
       (SELECT json_group_array(r.threshold_days) FROM cert_expiry_reminders r \
        WHERE r.mentor_id = m.id AND r.certification_expires_on = m.current_expires_on) \
FROM mentors m \
WHERE m.org_id = ?1 AND m.current_expires_on BETWEEN ?2 AND ?3 \
  AND m.status IN ('active', 'paused') \
ORDER BY id";

/// Paused mentors whose return date is up to the end of the notice window; a notice already given
/// takes a mentor out before its return date, so an immediate re-run reads almost nothing.
const RESUME_PASS: &str = "\
SELECT m.id, m.full_name, m.status, m.version, m.resume_on, m.current_expires_on AS expires_on \
FROM mentors m \
WHERE m.org_id = ?1 AND m.resume_on <= ?3 AND m.status = 'paused' \
  AND (m.resume_on <= ?2 OR NOT EXISTS ( \
      SELECT 1 FROM resume_notices n WHERE n.mentor_id = m.id AND n.resume_on = m.resume_on)) \
ORDER BY m.id";

const FACTS_OF_ONE: &str = "\
SELECT m.id, m.full_name, m.status, m.version, m.resume_on, m.current_expires_on AS expires_on \
FROM mentors m WHERE m.id = ?1 AND m.org_id = ?2";

#[derive(sqlx::FromRow)]
struct CertificationRow {
    #[sqlx(flatten)]
    facts: FactsRow,
    /// A JSON array, set only for mentors in the reminder window.
    recorded_thresholds: Option<String>,
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
        Ok(MentorFacts {
            id: MentorId(row.id),
            full_name: row.full_name,
            status: row
                .status
                .parse()
                .map_err(|_| bad_column("mentors.status"))?,
            version: row.version,
            expires_on: row.expires_on,
            resume_on: row.resume_on,
        })
    }
}

/// `today + days`, or the last day with a four-digit year when that is past it (a window that never
/// closes): later dates are written with a sign, which would sort before every stored date.
fn days_after(today: NaiveDate, days: u16) -> NaiveDate {
    let last_comparable = NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or(NaiveDate::MAX);
    today
        .checked_add_days(Days::new(days.into()))
        .map_or(last_comparable, |d| d.min(last_comparable))
}

fn recorded_thresholds(json: &str) -> StoreResult<Vec<u16>> {
    let column = "cert_expiry_reminders.threshold_days";
    let mut thresholds: Vec<u16> = serde_json::from_str(json).map_err(|_| bad_column(column))?;
    thresholds.sort_unstable();
    Ok(thresholds)
}

pub(crate) async fn expiry_worklist(
    db: &Db,
    org: OrgId,
    today: NaiveDate,
    reminder_window_days: u16,
    resume_notice_days: u16,
) -> StoreResult<ExpiryWorklist> {
    let mut worklist = ExpiryWorklist::default();
    // One snapshot for both statements: a deferred read transaction holds the first read's snapshot.
    let mut tx = db.read.begin().await.map_err(db_err)?;

    let rows: Vec<CertificationRow> = sqlx::query_as(CERTIFICATION_PASS)
        .bind(org.0)
        .bind(today)
        .bind(days_after(today, reminder_window_days))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
    for row in rows {
        let recorded = row.recorded_thresholds;
        let mentor = MentorFacts::try_from(row.facts)?;
        match (mentor.expires_on, recorded) {
            // The statement reads the recorded thresholds exactly for mentors in the window.
            (Some(expires_on), Some(recorded)) => worklist.reminders.push(ReminderCandidate {
                recorded_thresholds: recorded_thresholds(&recorded)?,
                mentor,
                expires_on,
            }),
            _ => worklist.lapsed_active.push(mentor),
        }
    }

    let rows: Vec<FactsRow> = sqlx::query_as(RESUME_PASS)
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
    db: &Db,
    org: OrgId,
    mut ids: Vec<MentorId>,
) -> StoreResult<Vec<MentorFacts>> {
    // In id order, each mentor once, as the set query of the PostgreSQL backend returns them.
    ids.sort_unstable();
    ids.dedup();
    let mut facts = Vec::with_capacity(ids.len());
    if ids.is_empty() {
        return Ok(facts);
    }
    let mut tx = db.read.begin().await.map_err(db_err)?;
    for id in ids {
        let row: Option<FactsRow> = sqlx::query_as(FACTS_OF_ONE)
            .bind(id.0)
            .bind(org.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        if let Some(row) = row {
            facts.push(MentorFacts::try_from(row)?);
        }
    }
    tx.commit().await.map_err(db_err)?;
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_past_the_four_digit_calendar_ends_on_its_last_day() {
        let today = NaiveDate::from_ymd_opt(9999, 12, 1).unwrap();
        assert_eq!(
            days_after(today, 365),
            NaiveDate::from_ymd_opt(9999, 12, 31).unwrap()
        );
        let today = NaiveDate::from_ymd_opt(2026, 5, 1).unwrap();
        assert_eq!(
            days_after(today, 30),
            NaiveDate::from_ymd_opt(2026, 5, 31).unwrap()
        );
    }
}
