//! The coordinator digest: one notification per coordinator per organisation and business date, listing
//! what the runs did that no digest has listed yet. Written by the last run of a job to finish, inside
//! that finish's write transaction (SQLite has one writer at a time, so finishes take turns).

use chrono::{DateTime, NaiveDate, Utc};
use domain::OrgId;
use serde_json::{Value, json};
use sqlx::SqliteConnection;
use store::{FinishedRun, NewNotification, Recipient, RunId, StoreResult};
use uuid::Uuid;

use crate::appends::insert_notification;
use crate::error::db_err;
use crate::time::Ts;

/// Notification kind of a digest; the compensation check looks for two of them per coordinator and day.
pub(crate) const DIGEST_KIND: &str = "coordinator_digest";

/// Longest list a digest carries per kind of effect; its counts stay true.
const LIST_CAP: i64 = 500;

/// Runs of job `?2` in organisation `?1` whose effects no digest has listed: every finished one,
/// failed ones included (the batches they committed happened), and ones that died without finishing
/// (their lease ran out before `?3`), so a crash never hides what was done before it. Every statement
/// below reads this set inside one write transaction, so they all see the same runs.
const UNDIGESTED_RUNS: &str = "org_id = ?1 AND job = ?2 AND NOT digested \
     AND (outcome <> 'running' OR lease_until IS NULL OR lease_until < ?3)";

/// System transitions of the undigested runs: the count, and the first `?4` (in the order they were
/// written) by name.
fn transitions_sql() -> (String, String) {
    let runs = format!("SELECT id FROM job_runs WHERE {UNDIGESTED_RUNS}");
    let from = format!(
        "FROM status_history h \
         WHERE h.run_id IN ({runs}) AND h.org_id = ?1 AND h.actor_kind = 'system'"
    );
    (
        format!("SELECT count(*) {from}"),
        format!(
            "SELECT t.mentor_id, m.full_name, t.from_status, t.to_status \
             FROM (SELECT h.id, h.mentor_id, h.from_status, h.to_status {from} ORDER BY h.id LIMIT ?4) t \
             JOIN mentors m ON m.id = t.mentor_id \
             ORDER BY m.full_name, t.mentor_id, t.id"
        ),
    )
}

/// Sent reminders of the undigested runs: the count, and the first `?4` by expiry date, then by name.
fn reminders_sql() -> (String, String) {
    let runs = format!("SELECT id FROM job_runs WHERE {UNDIGESTED_RUNS}");
    let from = format!(
        "FROM cert_expiry_reminders r \
         WHERE r.run_id IN ({runs}) AND r.org_id = ?1 AND r.outcome = 'sent'"
    );
    (
        format!("SELECT count(*) {from}"),
        format!(
            "SELECT r.mentor_id, m.full_name, r.threshold_days, r.certification_expires_on \
             FROM (SELECT r.mentor_id, r.threshold_days, r.certification_expires_on {from} \
                   ORDER BY r.certification_expires_on, r.mentor_id, r.threshold_days LIMIT ?4) r \
             JOIN mentors m ON m.id = r.mentor_id \
             ORDER BY m.full_name, r.mentor_id, r.threshold_days"
        ),
    )
}

/// Resume notices of the undigested runs: the count, and the first `?4` by return date, then by name.
fn notices_sql() -> (String, String) {
    let runs = format!("SELECT id FROM job_runs WHERE {UNDIGESTED_RUNS}");
    let from = format!("FROM resume_notices n WHERE n.run_id IN ({runs}) AND n.org_id = ?1");
    (
        format!("SELECT count(*) {from}"),
        format!(
            "SELECT n.mentor_id, m.full_name, n.resume_on \
             FROM (SELECT n.mentor_id, n.resume_on {from} ORDER BY n.resume_on, n.mentor_id LIMIT ?4) n \
             JOIN mentors m ON m.id = n.mentor_id \
             ORDER BY m.full_name, n.mentor_id, n.resume_on"
        ),
    )
}

/// What the undigested runs did, as JSON lists (capped) and true counts.
struct Effects {
    transition_count: i64,
    transitions: Vec<Value>,
    reminder_count: i64,
    reminders: Vec<Value>,
    notice_count: i64,
    resume_notices: Vec<Value>,
}

impl Effects {
    fn is_empty(&self) -> bool {
        self.transition_count == 0 && self.reminder_count == 0 && self.notice_count == 0
    }
}

/// The statement parameters every effects query takes, in order.
struct Scope<'a> {
    org: OrgId,
    job: &'a str,
    at: DateTime<Utc>,
}

impl Scope<'_> {
    async fn count(&self, conn: &mut SqliteConnection, sql: &str) -> StoreResult<i64> {
        sqlx::query_scalar(sql)
            .bind(self.org.0)
            .bind(self.job)
            .bind(Ts(self.at))
            .fetch_one(conn)
            .await
            .map_err(db_err)
    }

    async fn list<R>(&self, conn: &mut SqliteConnection, sql: &str) -> StoreResult<Vec<R>>
    where
        R: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> + Send + Unpin,
    {
        sqlx::query_as(sql)
            .bind(self.org.0)
            .bind(self.job)
            .bind(Ts(self.at))
            .bind(LIST_CAP)
            .fetch_all(conn)
            .await
            .map_err(db_err)
    }

    async fn effects(&self, conn: &mut SqliteConnection) -> StoreResult<Effects> {
        let (count_transitions, list_transitions) = transitions_sql();
        let (count_reminders, list_reminders) = reminders_sql();
        let (count_notices, list_notices) = notices_sql();
        let transitions: Vec<(Uuid, String, Option<String>, String)> =
            self.list(conn, &list_transitions).await?;
        let reminders: Vec<(Uuid, String, i64, NaiveDate)> =
            self.list(conn, &list_reminders).await?;
        let notices: Vec<(Uuid, String, NaiveDate)> = self.list(conn, &list_notices).await?;
        Ok(Effects {
            transition_count: self.count(conn, &count_transitions).await?,
            transitions: transitions
                .into_iter()
                .map(|(mentor, name, from, to)| {
                    json!({
                        "mentor_id": mentor,
                        "full_name": name,
                        "from_status": from,
                        "to_status": to,
                    })
                })
                .collect(),
            reminder_count: self.count(conn, &count_reminders).await?,
            reminders: reminders
                .into_iter()
                .map(|(mentor, name, threshold, expires_on)| {
                    json!({
                        "mentor_id": mentor,
                        "full_name": name,
                        "threshold_days": threshold,
                        "certification_expires_on": expires_on,
                    })
                })
                .collect(),
            notice_count: self.count(conn, &count_notices).await?,
            resume_notices: notices
                .into_iter()
                .map(|(mentor, name, resume_on)| {
                    json!({ "mentor_id": mentor, "full_name": name, "resume_on": resume_on })
                })
                .collect(),
        })
    }

    async fn mark_digested(&self, conn: &mut SqliteConnection) -> StoreResult<()> {
        sqlx::query(&format!(
            "UPDATE job_runs SET digested = 1 WHERE {UNDIGESTED_RUNS}"
        ))
        .bind(self.org.0)
        .bind(self.job)
        .bind(Ts(self.at))
        .execute(conn)
        .await
        .map_err(db_err)?;
        Ok(())
    }
}

/// Write the digest of `date` for `job` in `org` if this finish completes the day's work, inside the
/// finishing transaction. Returns the notifications written.
pub(crate) async fn write_digest(
    conn: &mut SqliteConnection,
    org: OrgId,
    job: &str,
    run: RunId,
    date: NaiveDate,
    at: DateTime<Utc>,
) -> StoreResult<FinishedRun> {
    // Another run of the job is still alive: it finishes later and lists everything then.
    let others_alive: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM job_runs \
                        WHERE org_id = ?1 AND job = ?2 AND outcome = 'running' AND id <> ?3 \
                          AND lease_until >= ?4)",
    )
    .bind(org.0)
    .bind(job)
    .bind(run.0)
    .bind(Ts(at))
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err)?;
    if others_alive {
        return Ok(FinishedRun {
            digests: 0,
            deferred: true,
        });
    }
    let scope = Scope { org, job, at };
    let effects = scope.effects(conn).await?;
    if effects.is_empty() {
        // Nothing to tell (a re-run that found everything done): no digest, and none used up for the day.
        scope.mark_digested(conn).await?;
        return Ok(FinishedRun::default());
    }
    // The insert that wins (organisation, date) writes the day's digest. When the day has one already,
    // these runs stay undigested: the next date's digest lists them, so nothing is listed twice and
    // nothing is lost.
    let digest: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO digests (id, org_id, business_date, run_id, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (org_id, business_date) DO NOTHING \
         RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(org.0)
    .bind(date)
    .bind(run.0)
    .bind(Ts(at))
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    let Some(digest) = digest else {
        return Ok(FinishedRun::default());
    };
    let digest = NewNotification {
        recipient: Recipient::OrgCoordinators,
        kind: DIGEST_KIND.to_owned(),
        payload: json!({
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
        }),
    };
    let written = insert_notification(conn, org, None, &digest, at).await?;
    scope.mark_digested(conn).await?;
    Ok(FinishedRun {
        digests: written,
        deferred: false,
    })
}
