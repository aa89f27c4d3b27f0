//! The rows that go with a mentor write, in the same transaction: certifications, status history and sync
//! outbox. Each takes a batch (one statement, arrays bound as parameters), so an import of thousands of
//! mentors costs a few round trips, and a single change uses the same SQL.

use chrono::{DateTime, Utc};
use domain::{CertificationId, MentorId, MentorStatus, OrgId};
use sqlx::PgConnection;
use store::{Actor, NewCertification, StoreResult};
use uuid::Uuid;

use crate::error::db_err;
use crate::rows::actor_columns;

pub(crate) async fn insert_certifications(
    conn: &mut PgConnection,
    certifications: &[(MentorId, &NewCertification)],
    at: DateTime<Utc>,
) -> StoreResult<()> {
    if certifications.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = certifications
        .iter()
        .map(|_| CertificationId::new().0)
        .collect();
    let mentors: Vec<Uuid> = certifications.iter().map(|(m, _)| m.0).collect();
    let kinds: Vec<&str> = certifications
        .iter()
        .map(|(_, c)| c.kind.as_str())
        .collect();
    let issued: Vec<_> = certifications
        .iter()
        .map(|(_, c)| c.period.issued_on())
        .collect();
    let expires: Vec<_> = certifications
        .iter()
        .map(|(_, c)| c.period.expires_on())
        .collect();
    sqlx::query(
        "INSERT INTO certifications (id, mentor_id, kind, issued_on, expires_on, created_at) \
         SELECT c.id, c.mentor_id, c.kind, c.issued_on, c.expires_on, $6 \
         FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::date[], $5::date[]) \
              AS c(id, mentor_id, kind, issued_on, expires_on)",
    )
    .bind(&ids)
    .bind(&mentors)
    .bind(&kinds)
    .bind(&issued)
    .bind(&expires)
    .bind(at)
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
    pub idempotency_key: Option<&'a str>,
}

pub(crate) async fn insert_history(
    conn: &mut PgConnection,
    org: OrgId,
    actor: Actor,
    entries: &[HistoryEntry<'_>],
    at: DateTime<Utc>,
) -> StoreResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let (actor_kind, actor_user) = actor_columns(actor);
    let mentors: Vec<Uuid> = entries.iter().map(|e| e.mentor.0).collect();
    let from: Vec<Option<&str>> = entries
        .iter()
        .map(|e| e.from.map(MentorStatus::as_str))
        .collect();
    let to: Vec<&str> = entries.iter().map(|e| e.to.as_str()).collect();
    let reasons: Vec<Option<&str>> = entries.iter().map(|e| e.reason).collect();
    let keys: Vec<Option<&str>> = entries.iter().map(|e| e.idempotency_key).collect();
    // WITH ORDINALITY keeps the input order in the bigserial ids, so "newest first" is well defined.
    sqlx::query(
        "INSERT INTO status_history \
             (org_id, mentor_id, from_status, to_status, reason, actor_kind, actor_user_id, idempotency_key, occurred_at) \
         SELECT $1, h.mentor_id, h.from_status, h.to_status, h.reason, $7, $8, h.idempotency_key, $9 \
         FROM UNNEST($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY \
              AS h(mentor_id, from_status, to_status, reason, idempotency_key, n) \
         ORDER BY h.n",
    )
    .bind(org.0)
    .bind(&mentors)
    .bind(&from)
    .bind(&to)
    .bind(&reasons)
    .bind(&keys)
    .bind(actor_kind)
    .bind(actor_user)
    .bind(at)
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Queue a push of each mentor at the version the write produced; the relay pushes whatever is current.
pub(crate) async fn enqueue_sync(
    conn: &mut PgConnection,
    org: OrgId,
    mentors: &[(MentorId, i64)],
) -> StoreResult<()> {
    if mentors.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = mentors.iter().map(|(m, _)| m.0).collect();
    let versions: Vec<i64> = mentors.iter().map(|(_, v)| *v).collect();
    sqlx::query(
        "INSERT INTO sync_outbox (org_id, mentor_id, mentor_version) \
         SELECT $1, o.mentor_id, o.mentor_version \
         FROM UNNEST($2::uuid[], $3::bigint[]) WITH ORDINALITY AS o(mentor_id, mentor_version, n) \
         ORDER BY o.n",
    )
    .bind(org.0)
    .bind(&ids)
    .bind(&versions)
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}
