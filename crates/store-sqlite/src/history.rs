//! A mentor's status history, newest first.

use domain::{MentorId, OrgId};
use store::{HistoryRecord, Page, StoreError, StoreResult};

use crate::db::Db;
use crate::error::db_err;
use crate::exists::mentor_exists;
use crate::rows::HistoryRow;

pub(crate) async fn history(
    db: &Db,
    org: OrgId,
    mentor: MentorId,
    limit: u32,
    before: Option<i64>,
) -> StoreResult<Page<HistoryRecord, i64>> {
    // An empty page would not tell "no history" from "not your mentor"; the latter is NotFound.
    if !mentor_exists(&db.read, org, mentor).await? {
        return Err(StoreError::not_found("mentor"));
    }
    let rows: Vec<HistoryRow> = sqlx::query_as(
        "SELECT h.id, h.mentor_id, h.from_status, h.to_status, h.reason, h.actor_user_id, \
                u.email AS actor_email, h.idempotency_key, h.occurred_at \
         FROM status_history h \
         LEFT JOIN users u ON u.id = h.actor_user_id \
         WHERE h.mentor_id = ? AND h.org_id = ? AND h.id < ? \
         ORDER BY h.id DESC \
         LIMIT ?",
    )
    .bind(mentor.0)
    .bind(org.0)
    .bind(before.unwrap_or(i64::MAX))
    .bind(store::page_fetch_limit(limit))
    .fetch_all(&db.read)
    .await
    .map_err(db_err)?;
    let records = rows
        .into_iter()
        .map(HistoryRecord::try_from)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::from_fetched(records, limit, |h| h.id))
}
