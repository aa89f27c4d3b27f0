//! In-app notifications: written by a change (recipients resolved inside its transaction), read and
//! marked read by the user they are addressed to, or by the login of the mentor they are addressed to.

use chrono::{DateTime, Utc};
use domain::{MentorId, NotificationId, OrgId};
use sqlx::{PgConnection, PgPool};
use store::{NewNotification, Notification, Page, Recipient, StoreError, StoreResult, User};
use uuid::Uuid;

use crate::error::db_err;
use crate::page::{fetch_limit, page};
use crate::rows::{NOTIFICATION_COLUMNS, NotificationRow};

/// Who sees a notification: its user, or the login of its mentor, within the user's organisation.
const VISIBLE_TO: &str = "org_id = $1 AND (recipient_user_id = $2 OR ($3::uuid IS NOT NULL AND recipient_mentor_id = $3))";

/// Write the notifications a change about `mentor` causes. Ids are UUIDv7 made here, in order, so reading
/// newest-first by id follows creation; for that the coordinators are looked up first, not in an INSERT…SELECT.
pub(crate) async fn insert_for_change(
    conn: &mut PgConnection,
    org: OrgId,
    mentor: MentorId,
    notifications: Vec<NewNotification>,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    if notifications.is_empty() {
        return Ok(());
    }
    let mut coordinators: Option<Vec<Uuid>> = None;
    let mut ids = Vec::new();
    let mut users: Vec<Option<Uuid>> = Vec::new();
    let mut mentors: Vec<Option<Uuid>> = Vec::new();
    let mut kinds = Vec::new();
    let mut payloads = Vec::new();
    for notification in notifications {
        let recipients: Vec<(Option<Uuid>, Option<Uuid>)> = match notification.recipient {
            Recipient::User(user) => vec![(Some(user.0), None)],
            Recipient::Mentor(m) => vec![(None, Some(m.0))],
            Recipient::OrgCoordinators => {
                if coordinators.is_none() {
                    coordinators = Some(org_coordinators(conn, org).await?);
                }
                coordinators
                    .iter()
                    .flatten()
                    .map(|u| (Some(*u), None))
                    .collect()
            }
        };
        for (user, recipient_mentor) in recipients {
            ids.push(NotificationId::new().0);
            users.push(user);
            mentors.push(recipient_mentor);
            kinds.push(notification.kind.clone());
            payloads.push(notification.payload.clone());
        }
    }
    sqlx::query(
        "INSERT INTO notifications \
             (id, org_id, recipient_user_id, recipient_mentor_id, kind, mentor_id, payload, created_at) \
         SELECT n.id, $1, n.recipient_user_id, n.recipient_mentor_id, n.kind, $2, n.payload, $3 \
         FROM UNNEST($4::uuid[], $5::uuid[], $6::uuid[], $7::text[], $8::jsonb[]) \
              AS n(id, recipient_user_id, recipient_mentor_id, kind, payload)",
    )
    .bind(org.0)
    .bind(mentor.0)
    .bind(at)
    .bind(&ids)
    .bind(&users)
    .bind(&mentors)
    .bind(&kinds)
    .bind(&payloads)
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

async fn org_coordinators(conn: &mut PgConnection, org: OrgId) -> StoreResult<Vec<Uuid>> {
    sqlx::query_scalar(
        "SELECT id FROM users WHERE org_id = $1 AND role = 'coordinator' ORDER BY id",
    )
    .bind(org.0)
    .fetch_all(conn)
    .await
    .map_err(db_err)
}

pub(crate) async fn notifications(
    pool: &PgPool,
    user: &User,
    unread_only: bool,
    limit: u32,
    before: Option<NotificationId>,
) -> StoreResult<Page<Notification, NotificationId>> {
    let rows: Vec<NotificationRow> = sqlx::query_as(&format!(
        "SELECT {NOTIFICATION_COLUMNS} FROM notifications \
         WHERE {VISIBLE_TO} AND (NOT $4 OR read_at IS NULL) AND ($5::uuid IS NULL OR id < $5) \
         ORDER BY id DESC LIMIT $6"
    ))
    .bind(user.org_id.0)
    .bind(user.id.0)
    .bind(user.mentor_id.map(|m| m.0))
    .bind(unread_only)
    .bind(before.map(|n| n.0))
    .bind(fetch_limit(limit))
    .fetch_all(pool)
    .await
    .map_err(db_err)?;
    let items: Vec<Notification> = rows.into_iter().map(Notification::from).collect();
    Ok(page(items, limit, |n| n.id))
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
