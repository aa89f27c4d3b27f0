//! A mentor's status history, newest first.

use domain::{MentorId, OrgId};
use sqlx::PgPool;
use store::{HistoryRecord, Page, StoreError, StoreResult};

use crate::error::db_err;
use crate::rows::HistoryRow;

pub(crate) async fn history(
    pool: &PgPool,
    org: OrgId,
    mentor: MentorId,
    limit: u32,
    before: Option<i64>,
) -> StoreResult<Page<HistoryRecord, i64>> {
    // An empty page would not tell "no history" from "not your mentor"; the latter is NotFound.
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
    let rows: Vec<HistoryRow> = sqlx::query_as(
        "SELECT h.id, h.mentor_id, h.from_status, h.to_status, h.reason, h.actor_user_id, \
                u.email AS actor_email, h.idempotency_key, h.occurred_at \
         FROM status_history h \
         LEFT JOIN users u ON u.id = h.actor_user_id \
         WHERE h.mentor_id = $1 AND h.org_id = $2 AND ($3::bigint IS NULL OR h.id < $3) \
         ORDER BY h.id DESC \
         LIMIT $4",
    )
    .bind(mentor.0)
    .bind(org.0)
    .bind(before)
    .bind(store::page_fetch_limit(limit))
    .fetch_all(pool)
    .await
    .map_err(db_err)?;
    let records = rows
        .into_iter()
        .map(HistoryRecord::try_from)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::from_fetched(records, limit, |h| h.id))
}
