//! The coordinator digest: one notification per coordinator per organisation and business date, listing
//! what the runs did that no digest has listed yet. Written by the last run of a job to finish (finishes
//! of one organisation take turns on its row, see `runs::finish_run`), inside that finish's transaction.

use chrono::{DateTime, NaiveDate, Utc};
use domain::OrgId;
use sqlx::PgConnection;
use store::{FinishedRun, RunId, StoreResult};
use uuid::Uuid;

use crate::error::db_err;

/// Notification kind of a digest; the compensation check looks for two of them per coordinator and day.
pub(crate) const DIGEST_KIND: &str = "coordinator_digest";

/// Longest list a digest carries per kind of effect; its counts stay true.
const LIST_CAP: i64 = 500;

/// What the given runs did in the organisation, as JSON lists (capped) and true counts. Only the listed
/// items are joined to their mentor for the name: a first run's thousands of expiries per organisation
/// are counted from the ledgers alone. Lists keep the first items in the order they were written, then
/// read by name.
const EFFECTS: &str = r#"
WITH transitions AS (
    SELECT h.id, h.mentor_id, h.from_status, h.to_status
    FROM status_history h
    WHERE h.run_id = ANY($2) AND h.org_id = $1 AND h.actor_kind = 'system'
), reminders AS (
    SELECT r.mentor_id, r.threshold_days, r.certification_expires_on
    FROM cert_expiry_reminders r
    WHERE r.run_id = ANY($2) AND r.org_id = $1 AND r.outcome = 'sent'
), notices AS (
    SELECT n.mentor_id, n.resume_on
    FROM resume_notices n
    WHERE n.run_id = ANY($2) AND n.org_id = $1
)
SELECT
    (SELECT count(*) FROM transitions) AS transition_count,
    (SELECT COALESCE(jsonb_agg(jsonb_build_object(
                'mentor_id', t.mentor_id, 'full_name', m.full_name,
                'from_status', t.from_status, 'to_status', t.to_status)
            ORDER BY m.full_name, t.mentor_id, t.id), '[]')
     FROM (SELECT * FROM transitions ORDER BY id LIMIT $3) t
     JOIN mentors m ON m.id = t.mentor_id) AS transitions,
    (SELECT count(*) FROM reminders) AS reminder_count,
    (SELECT COALESCE(jsonb_agg(jsonb_build_object(
                'mentor_id', r.mentor_id, 'full_name', m.full_name,
                'threshold_days', r.threshold_days,
                'certification_expires_on', r.certification_expires_on)
            ORDER BY m.full_name, r.mentor_id, r.threshold_days), '[]')
     FROM (SELECT * FROM reminders ORDER BY certification_expires_on, mentor_id, threshold_days
           LIMIT $3) r
     JOIN mentors m ON m.id = r.mentor_id) AS reminders,
    (SELECT count(*) FROM notices) AS notice_count,
    (SELECT COALESCE(jsonb_agg(jsonb_build_object(
                'mentor_id', n.mentor_id, 'full_name', m.full_name, 'resume_on', n.resume_on)
            ORDER BY m.full_name, n.mentor_id, n.resume_on), '[]')
     FROM (SELECT * FROM notices ORDER BY resume_on, mentor_id LIMIT $3) n
     JOIN mentors m ON m.id = n.mentor_id) AS resume_notices
"#;

#[derive(sqlx::FromRow)]
struct Effects {
    transition_count: i64,
    transitions: serde_json::Value,
    reminder_count: i64,
    reminders: serde_json::Value,
    notice_count: i64,
    resume_notices: serde_json::Value,
}

impl Effects {
    fn is_empty(&self) -> bool {
        self.transition_count == 0 && self.reminder_count == 0 && self.notice_count == 0
    }
}

/// Write the digest of `date` for `job` in `org` if this finish completes the day's work, inside the
/// finishing transaction (which holds the organisation's row). Returns the notifications written.
pub(crate) async fn write_digest(
    conn: &mut PgConnection,
    org: OrgId,
    job: &str,
    run: RunId,
    date: NaiveDate,
    at: DateTime<Utc>,
) -> StoreResult<FinishedRun> {
    // Another run of the job is still alive: it finishes later and lists everything then.
    let others_alive: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM job_runs \
                        WHERE org_id = $1 AND job = $2 AND outcome = 'running' AND id <> $3 \
                          AND lease_until >= $4)",
    )
    .bind(org.0)
    .bind(job)
    .bind(run.0)
    .bind(at)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    if others_alive {
        return Ok(FinishedRun {
            digests: 0,
            deferred: true,
        });
    }
    // Runs whose effects no digest has listed: every finished one, failed ones included (the batches
    // they committed happened), and ones that died without finishing (their lease ran out), so a crash
    // never hides what was done before it.
    let runs: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM job_runs \
         WHERE org_id = $1 AND job = $2 AND NOT digested \
           AND (outcome <> 'running' OR lease_until IS NULL OR lease_until < $3) \
         ORDER BY id",
    )
    .bind(org.0)
    .bind(job)
    .bind(at)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    let effects: Effects = sqlx::query_as(EFFECTS)
        .bind(org.0)
        .bind(&runs)
        .bind(LIST_CAP)
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
    if effects.is_empty() {
        // Nothing to tell (a re-run that found everything done): no digest, and none used up for the day.
        mark_digested(conn, &runs).await?;
        return Ok(FinishedRun::default());
    }
    // The insert that wins (organisation, date) writes the day's digest. When the day has one already,
    // these runs stay undigested: the next date's digest lists them, so nothing is listed twice and
    // nothing is lost.
    let digest: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO digests (id, org_id, business_date, run_id, created_at) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT ON CONSTRAINT digests_org_date_key DO NOTHING \
         RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(org.0)
    .bind(date)
    .bind(run.0)
    .bind(at)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    let Some(digest) = digest else {
        return Ok(FinishedRun::default());
    };
    let payload = serde_json::json!({
        "business_date": date,
        "digest_id": digest,
        "transitions": effects.transitions,
        "reminders": effects.reminders,
        "resume_notices": effects.resume_notices,
        "counts": {
            "transitions": effects.transition_count,
            "reminders": effects.reminder_count,
            "resume_notices": effects.notice_count,
        },
    });
    let written = sqlx::query(
        "INSERT INTO notifications (id, org_id, recipient_user_id, recipient_mentor_id, kind, \
                                    mentor_id, payload, created_at) \
         SELECT gen_random_uuid(), $1, u.id, NULL, $2, NULL, $3, $4 \
         FROM users u WHERE u.org_id = $1 AND u.role = 'coordinator' \
         ORDER BY u.id",
    )
    .bind(org.0)
    .bind(DIGEST_KIND)
    .bind(&payload)
    .bind(at)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?
    .rows_affected();
    mark_digested(conn, &runs).await?;
    Ok(FinishedRun {
        digests: written,
        deferred: false,
    })
}

async fn mark_digested(conn: &mut PgConnection, runs: &[Uuid]) -> StoreResult<()> {
    if runs.is_empty() {
        return Ok(());
    }
    sqlx::query("UPDATE job_runs SET digested = true WHERE id = ANY($1)")
        .bind(runs)
        .execute(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}
