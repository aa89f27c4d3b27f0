//! In-app notifications (written by `changes.rs` with the change that causes them, and by `ledgers.rs`
//! and `digest.rs` with the claim that causes them): read and marked read by the user they are
//! addressed to, or by the login of the mentor they are addressed to.

use chrono::{DateTime, Utc};
use domain::NotificationId;
use sqlx::PgPool;
use store::{Notification, Page, Recipient, StoreError, StoreResult, User};
use uuid::Uuid;

use crate::error::db_err;
use crate::rows::{NOTIFICATION_COLUMNS, NotificationRow};

/// How a recipient is bound to SQL that writes notifications: `(to_coordinators, user, mentor)`.
/// "Every coordinator" is resolved in the writing statement itself (one row per coordinator), so the
/// list is the one committed with the notifications.
pub(crate) fn recipient_columns(recipient: &Recipient) -> (bool, Option<Uuid>, Option<Uuid>) {
    match recipient {
        Recipient::User(user) => (false, Some(user.0), None),
        Recipient::Mentor(mentor) => (false, None, Some(mentor.0)),
        Recipient::OrgCoordinators => (true, None, None),
    }
}

/// Who sees a notification: its user, or the login of its mentor, within the user's organisation.
const VISIBLE_TO: &str = "org_id = $1 AND (recipient_user_id = $2 OR ($3::uuid IS NOT NULL AND recipient_mentor_id = $3))";

pub(crate) async fn notifications(
    pool: &PgPool,
    user: &User,
    unread_only: bool,
    limit: u32,
    before: Option<NotificationId>,
) -> StoreResult<Page<Notification, NotificationId>> {
    let rows: Vec<NotificationRow> = sqlx::query_as(&format!(
        "SELECT {NOTIFICATION_COLUMNS} FROM notifications \
         WHERE {VISIBLE_TO} AND (NOT $4 OR read_at IS NULL) \
           AND ($5::uuid IS NULL OR seq < (SELECT seq FROM notifications WHERE id = $5)) \
         ORDER BY seq DESC LIMIT $6"
    ))
    .bind(user.org_id.0)
    .bind(user.id.0)
    .bind(user.mentor_id.map(|m| m.0))
    .bind(unread_only)
    .bind(before.map(|n| n.0))
    .bind(store::page_fetch_limit(limit))
    .fetch_all(pool)
    .await
    .map_err(db_err)?;
    let items: Vec<Notification> = rows.into_iter().map(Notification::from).collect();
    Ok(Page::from_fetched(items, limit, |n| n.id))
}

pub(crate) async fn mark_read(
    pool: &PgPool,
    user: &User,
    id: NotificationId,
    at: DateTime<Utc>,
) -> StoreResult<Notification> {
    // COALESCE keeps the first read time when the same notification is marked again.
    let row: Option<NotificationRow> = sqlx::query_as(&format!(
        "UPDATE notifications SET read_at = COALESCE(read_at, $4) \
         WHERE {VISIBLE_TO} AND id = $5 \
         RETURNING {NOTIFICATION_COLUMNS}"
    ))
    .bind(user.org_id.0)
    .bind(user.id.0)
    .bind(user.mentor_id.map(|m| m.0))
    .bind(at)
    .bind(id.0)
    .fetch_optional(pool)
    .await
    .map_err(db_err)?;
    row.map(Notification::from)
        .ok_or(StoreError::not_found("notification"))
}

impl store::NotificationStore for crate::PgStore {
    async fn notifications(
        &self,
        user: &User,
        unread_only: bool,
        limit: u32,
        before: Option<NotificationId>,
    ) -> StoreResult<Page<Notification, NotificationId>> {
        notifications(&self.pool, user, unread_only, limit, before).await
    }
    async fn mark_notification_read(
        &self,
        user: &User,
        id: NotificationId,
        at: DateTime<Utc>,
    ) -> StoreResult<Notification> {
        mark_read(&self.pool, user, id, at).await
    }
}
