//! The rows that go with a write, inside its transaction: certifications, status history, sync outbox
//! and notifications. SQLite runs in this process, so a batch is a loop of prepared statements in
//! one transaction: no round trips to save.

use chrono::{DateTime, NaiveDate, Utc};
use domain::{CertificationId, MentorId, MentorStatus, NotificationId, OrgId};
use sqlx::SqliteConnection;
use store::{Actor, NewCertification, NewNotification, Recipient, RunId, StoreResult};
use uuid::Uuid;

use crate::error::db_err;
use crate::time::Ts;

pub(crate) async fn insert_certification(
    conn: &mut SqliteConnection,
    mentor: MentorId,
    certification: &NewCertification,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO certifications (id, mentor_id, kind, issued_on, expires_on, created_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(CertificationId::new().0)
    .bind(mentor.0)
    .bind(&certification.kind)
    .bind(certification.period.issued_on())
    .bind(certification.period.expires_on())
    .bind(Ts(at))
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// One status history row to append.
pub(crate) struct HistoryEntry<'a> {
    pub mentor: MentorId,
    pub from: Option<MentorStatus>,
    pub to: MentorStatus,
    pub reason: Option<&'a str>,
    pub actor: Actor,
    pub idempotency_key: Option<&'a str>,
    pub run: Option<RunId>,
    pub certification_expires_on: Option<NaiveDate>,
}

pub(crate) async fn insert_history(
    conn: &mut SqliteConnection,
    org: OrgId,
    entry: &HistoryEntry<'_>,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let (actor_kind, actor_user) = actor_columns(entry.actor);
    sqlx::query(
        "INSERT INTO status_history (org_id, mentor_id, from_status, to_status, reason, actor_kind, \
                                     actor_user_id, idempotency_key, run_id, \
                                     certification_expires_on, occurred_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(org.0)
    .bind(entry.mentor.0)
    .bind(entry.from.map(MentorStatus::as_str))
    .bind(entry.to.as_str())
    .bind(entry.reason)
    .bind(actor_kind)
    .bind(actor_user)
    .bind(entry.idempotency_key)
    .bind(entry.run.map(|r| r.0))
    .bind(entry.certification_expires_on)
    .bind(Ts(at))
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// How an actor is stored: `(actor_kind, actor_user_id)`.
pub(crate) fn actor_columns(actor: Actor) -> (&'static str, Option<Uuid>) {
    match actor {
        Actor::User(id) => ("user", Some(id.0)),
        Actor::System => ("system", None),
    }
}

/// Queue a push of `mentor` at the `version` the write produced; the relay pushes whatever is
/// current. The caller commits with `Db::commit_queued`, which wakes the relays. Outbox times are
/// the system clock's (as PostgreSQL's are its own), never the caller's: leases and due times are
/// judged by it, and a rehearsal clock must not hide rows in the future.
pub(crate) async fn enqueue_sync(
    conn: &mut SqliteConnection,
    org: OrgId,
    mentor: MentorId,
    version: i64,
) -> StoreResult<()> {
    let now = Ts::now();
    sqlx::query(
        "INSERT INTO sync_outbox (org_id, mentor_id, mentor_version, available_at, created_at) \
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(org.0)
    .bind(mentor.0)
    .bind(version)
    .bind(now)
    .bind(now)
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Write `notification` (about `about`, if it concerns a mentor). "Every coordinator" is resolved
/// here, in the writing transaction, one row each, so the list is the one committed with it.
/// Returns how many rows were written.
pub(crate) async fn insert_notification(
    conn: &mut SqliteConnection,
    org: OrgId,
    about: Option<MentorId>,
    notification: &NewNotification,
    at: DateTime<Utc>,
) -> StoreResult<u64> {
    let recipients: Vec<(Option<Uuid>, Option<Uuid>)> = match &notification.recipient {
        Recipient::User(user) => vec![(Some(user.0), None)],
        Recipient::Mentor(mentor) => vec![(None, Some(mentor.0))],
        Recipient::OrgCoordinators => coordinators(&mut *conn, org)
            .await?
            .into_iter()
            .map(|id| (Some(id), None))
            .collect(),
    };
    let payload = notification.payload.to_string();
    for (user, mentor) in &recipients {
        sqlx::query(
            "INSERT INTO notifications (id, org_id, recipient_user_id, recipient_mentor_id, kind, \
                                        mentor_id, payload, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(NotificationId::new().0)
        .bind(org.0)
        .bind(user)
        .bind(mentor)
        .bind(&notification.kind)
        .bind(about.map(|m| m.0))
        .bind(&payload)
        .bind(Ts(at))
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    Ok(recipients.len() as u64)
}

/// The coordinators of `org`, in id order.
pub(crate) async fn coordinators(
    conn: &mut SqliteConnection,
    org: OrgId,
) -> StoreResult<Vec<Uuid>> {
    sqlx::query_scalar("SELECT id FROM users WHERE org_id = ? AND role = 'coordinator' ORDER BY id")
        .bind(org.0)
        .fetch_all(conn)
        .await
        .map_err(db_err)
}
