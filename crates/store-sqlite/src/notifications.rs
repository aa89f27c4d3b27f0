//! In-app notifications (written by `changes.rs` with the change that causes them, and by `ledgers.rs`
//! and `digest.rs` with the claim that causes them): read and marked read by the user they are
//! addressed to, or by the login of the mentor they are addressed to.

use chrono::{DateTime, Utc};
use domain::NotificationId;
use store::{Notification, Page, StoreError, StoreResult, User};

use crate::db::Db;
use crate::error::db_err;
use crate::rows::{NOTIFICATION_COLUMNS, NotificationRow};
use crate::time::Ts;

/// Who sees a notification: its user, or the login of its mentor, within the user's organisation.
/// Binds the organisation, the user and the user's mentor (NULL matches no notification).
const VISIBLE_TO: &str = "org_id = ? AND (recipient_user_id = ? OR recipient_mentor_id = ?)";

pub(crate) async fn notifications(
    db: &Db,
    user: &User,
    unread_only: bool,
    limit: u32,
    before: Option<NotificationId>,
) -> StoreResult<Page<Notification, NotificationId>> {
    let rows: Vec<NotificationRow> = sqlx::query_as(&format!(
        "SELECT {NOTIFICATION_COLUMNS} FROM notifications \
         WHERE {VISIBLE_TO} AND (NOT ? OR read_at IS NULL) \
           AND (? IS NULL OR seq < (SELECT seq FROM notifications WHERE id = ?)) \
         ORDER BY seq DESC LIMIT ?"
    ))
    .bind(user.org_id.0)
    .bind(user.id.0)
    .bind(user.mentor_id.map(|m| m.0))
    .bind(unread_only)
    .bind(before.map(|n| n.0))
    .bind(before.map(|n| n.0))
    .bind(store::page_fetch_limit(limit))
    .fetch_all(&db.read)
    .await
    .map_err(db_err)?;
    let items = rows
        .into_iter()
        .map(Notification::try_from)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::from_fetched(items, limit, |n| n.id))
}

pub(crate) async fn mark_read(
    db: &Db,
    user: &User,
    id: NotificationId,
    at: DateTime<Utc>,
) -> StoreResult<Notification> {
    let mut tx = db.begin().await?;
    // COALESCE keeps the first read time when the same notification is marked again.
    let row: Option<NotificationRow> = sqlx::query_as(&format!(
        "UPDATE notifications SET read_at = COALESCE(read_at, ?) \
         WHERE {VISIBLE_TO} AND id = ? \
         RETURNING {NOTIFICATION_COLUMNS}"
    ))
    .bind(Ts(at))
    .bind(user.org_id.0)
    .bind(user.id.0)
    .bind(user.mentor_id.map(|m| m.0))
    .bind(id.0)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db_err)?;
    db.commit(tx).await?;
    row.ok_or(StoreError::not_found("notification"))?.try_into()
}

impl store::NotificationStore for crate::SqliteStore {
    async fn notifications(
        &self,
        user: &User,
        unread_only: bool,
        limit: u32,
        before: Option<NotificationId>,
    ) -> StoreResult<Page<Notification, NotificationId>> {
        notifications(&self.db, user, unread_only, limit, before).await
    }
    async fn mark_notification_read(
        &self,
        user: &User,
        id: NotificationId,
        at: DateTime<Utc>,
    ) -> StoreResult<Notification> {
        mark_read(&self.db, user, id, at).await
    }
}
