//! The unit of work behind every status change and certification: a compare-and-set on the mentor, then
//! everything the change causes, committed together or not at all.

use domain::{MentorId, OrgId, Reason};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use store::{Conflict, MentorChange, StoreError, StoreResult};

use crate::appends::{HistoryEntry, enqueue_sync, insert_certifications, insert_history};
use crate::error::db_err;
use crate::notifications::insert_for_change;

pub(crate) async fn apply_change(pool: &PgPool, change: MentorChange) -> StoreResult<()> {
    let mut tx = pool.begin().await.map_err(db_err)?;

    // A change without a transition still bumps the version, so a decision based on the old facts loses.
    let mut cas =
        QueryBuilder::<Postgres>::new("UPDATE mentors SET version = version + 1, updated_at = ");
    cas.push_bind(change.at);
    if let Some(t) = &change.transition {
        cas.push(", status = ")
            .push_bind(t.to.as_str())
            .push(", status_reason = ")
            .push_bind(t.reason.as_ref().map(|r| r.as_str().to_owned()))
            .push(", status_changed_at = ")
            .push_bind(change.at)
            .push(", resume_on = ")
            .push_bind(t.resume_on);
    }
    cas.push(" WHERE id = ")
        .push_bind(change.mentor.0)
        .push(" AND org_id = ")
        .push_bind(change.org.0)
        .push(" AND status = ")
        .push_bind(change.expected_status.as_str())
        .push(" AND version = ")
        .push_bind(change.expected_version)
        .push(" RETURNING version");
    let version: Option<i64> = cas
        .build_query_scalar()
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
    let Some(version) = version else {
        return Err(
            if mentor_exists(&mut tx, change.org, change.mentor).await? {
                tracing::debug!(mentor = %change.mentor, "compare-and-set lost: the mentor moved meanwhile");
                StoreError::Conflict(Conflict::LostRace)
            } else {
                StoreError::not_found("mentor")
            },
        );
    };

    if let Some(certification) = &change.certification {
        insert_certifications(&mut tx, &[(change.mentor, certification)], change.at).await?;
    }
    if let Some(t) = &change.transition {
        let reason = change
            .history_note
            .as_deref()
            .or(t.reason.as_ref().map(Reason::as_str));
        let entry = HistoryEntry {
            mentor: change.mentor,
            from: Some(t.from),
            to: t.to,
            reason,
            idempotency_key: change.idempotency_key.as_deref(),
        };
        // A duplicate idempotency key fails here, and dropping `tx` undoes the certification too.
        insert_history(&mut tx, change.org, change.actor, &[entry], change.at).await?;
    }
    // Every version gets an outbox row, so "pushed version behind" always means "something to push".
    enqueue_sync(&mut tx, change.org, &[(change.mentor, version)]).await?;
    insert_for_change(
        &mut tx,
        change.org,
        change.mentor,
        change.notifications,
        change.at,
    )
    .await?;
    tx.commit().await.map_err(db_err)?;
    Ok(())
}

async fn mentor_exists(conn: &mut PgConnection, org: OrgId, mentor: MentorId) -> StoreResult<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM mentors WHERE id = $1 AND org_id = $2)")
        .bind(mentor.0)
        .bind(org.0)
        .fetch_one(conn)
        .await
        .map_err(db_err)
}
