//! Rows as SQLite returns them, and their conversion into the store's records. Stored text is parsed
//! back into domain types here; a value the domain refuses is reported, never guessed.

use chrono::{DateTime, NaiveDate, Utc};
use domain::{
    CertificationId, Email, Locale, MentorId, MentorStatus, NotificationId, OrgId, OrgSlug,
    OrgTimeZone, UserId,
};
use store::{
    Actor, CertificationRecord, HistoryRecord, MentorRecord, Notification, Org, StoreError,
    SyncFailure, SyncRecord, User,
};
use uuid::Uuid;

use crate::error::bad_column;

pub(crate) const ORG_COLUMNS: &str = "id, slug, name, timezone, created_at";

#[derive(sqlx::FromRow)]
pub(crate) struct OrgRow {
    id: Uuid,
    slug: String,
    name: String,
    timezone: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<OrgRow> for Org {
    type Error = StoreError;
    fn try_from(row: OrgRow) -> Result<Self, StoreError> {
        Ok(Org {
            id: OrgId(row.id),
            slug: OrgSlug::parse(&row.slug).map_err(|_| bad_column("organisations.slug"))?,
            name: row.name,
            timezone: OrgTimeZone::parse(&row.timezone)
                .map_err(|_| bad_column("organisations.timezone"))?,
            created_at: row.created_at,
        })
    }
}

pub(crate) const USER_COLUMNS: &str =
    "id, org_id, email, role, mentor_id, auth_subject, password_hash, locale, created_at";

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: Uuid,
    org_id: Uuid,
    email: String,
    role: String,
    mentor_id: Option<Uuid>,
    auth_subject: String,
    password_hash: Option<String>,
    locale: Option<String>,
    created_at: DateTime<Utc>,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(row: UserRow) -> Result<Self, StoreError> {
        Ok(User {
            id: UserId(row.id),
            org_id: OrgId(row.org_id),
            email: Email::parse(&row.email).map_err(|_| bad_column("users.email"))?,
            role: row.role.parse().map_err(|_| bad_column("users.role"))?,
            mentor_id: row.mentor_id.map(MentorId),
            auth_subject: row.auth_subject,
            password_hash: row.password_hash,
            locale: row
                .locale
                .map(|l| Locale::parse(&l).map_err(|_| bad_column("users.locale")))
                .transpose()?,
            created_at: row.created_at,
        })
    }
}

/// The mentor projection shared by `mentor()` and `list_mentors()`: the organisation's slug, the sync
/// state and the current certification (latest `expires_on`; ties go to the newest row). SQLite has no
/// LATERAL join, so the current certification is picked by a correlated subquery on its id.
pub(crate) const MENTOR_SELECT: &str = "\
SELECT m.id, m.org_id, o.slug AS org_slug, m.full_name, m.email, m.phone, m.status, m.status_reason, \
       m.status_changed_at, m.resume_on, m.listed_publicly, m.dynamics_contact_id, m.dynamics_key, \
       m.version, s.pushed_version, s.pushed_at, s.last_error AS sync_last_error, \
       s.failure AS sync_failure, m.created_at, m.updated_at, \
       c.id AS cert_id, c.kind AS cert_kind, c.issued_on AS cert_issued_on, c.expires_on AS cert_expires_on \
FROM mentors m \
JOIN organisations o ON o.id = m.org_id \
LEFT JOIN mentor_sync s ON s.mentor_id = m.id \
LEFT JOIN certifications c ON c.id = ( \
    SELECT id FROM certifications \
    WHERE mentor_id = m.id \
    ORDER BY expires_on DESC, created_at DESC, id DESC \
    LIMIT 1 \
) ";

#[derive(sqlx::FromRow)]
pub(crate) struct MentorRow {
    id: Uuid,
    org_id: Uuid,
    org_slug: String,
    full_name: String,
    email: String,
    phone: Option<String>,
    status: String,
    status_reason: Option<String>,
    status_changed_at: DateTime<Utc>,
    resume_on: Option<NaiveDate>,
    listed_publicly: bool,
    dynamics_contact_id: Option<Uuid>,
    dynamics_key: Option<String>,
    version: i64,
    pushed_version: Option<i64>,
    pushed_at: Option<DateTime<Utc>>,
    sync_last_error: Option<String>,
    sync_failure: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    cert_id: Option<Uuid>,
    cert_kind: Option<String>,
    cert_issued_on: Option<NaiveDate>,
    cert_expires_on: Option<NaiveDate>,
}

impl TryFrom<MentorRow> for MentorRecord {
    type Error = StoreError;
    fn try_from(row: MentorRow) -> Result<Self, StoreError> {
        let certification = match (
            row.cert_id,
            row.cert_kind,
            row.cert_issued_on,
            row.cert_expires_on,
        ) {
            (Some(id), Some(kind), Some(issued_on), Some(expires_on)) => {
                Some(CertificationRecord {
                    id: CertificationId(id),
                    kind,
                    issued_on,
                    expires_on,
                })
            }
            _ => None,
        };
        Ok(MentorRecord {
            id: MentorId(row.id),
            org_id: OrgId(row.org_id),
            org_slug: row.org_slug,
            full_name: row.full_name,
            email: Email::parse(&row.email).map_err(|_| bad_column("mentors.email"))?,
            phone: row.phone,
            status: parse_status(&row.status, "mentors.status")?,
            status_reason: row.status_reason,
            status_changed_at: row.status_changed_at,
            resume_on: row.resume_on,
            listed_publicly: row.listed_publicly,
            dynamics_contact_id: row.dynamics_contact_id,
            dynamics_key: row.dynamics_key,
            version: row.version,
            certification,
            sync: SyncRecord {
                pushed_version: row.pushed_version,
                pushed_at: row.pushed_at,
                last_error: row.sync_last_error,
                failure: row
                    .sync_failure
                    .map(|failure| {
                        SyncFailure::parse(&failure)
                            .ok_or_else(|| bad_column("mentor_sync.failure"))
                    })
                    .transpose()?,
            },
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct HistoryRow {
    id: i64,
    mentor_id: Uuid,
    from_status: Option<String>,
    to_status: String,
    reason: Option<String>,
    actor_user_id: Option<Uuid>,
    actor_email: Option<String>,
    idempotency_key: Option<String>,
    occurred_at: DateTime<Utc>,
}

impl TryFrom<HistoryRow> for HistoryRecord {
    type Error = StoreError;
    fn try_from(row: HistoryRow) -> Result<Self, StoreError> {
        Ok(HistoryRecord {
            id: row.id,
            mentor_id: MentorId(row.mentor_id),
            from_status: row
                .from_status
                .map(|s| parse_status(&s, "status_history.from_status"))
                .transpose()?,
            to_status: parse_status(&row.to_status, "status_history.to_status")?,
            reason: row.reason,
            // A CHECK ties `actor_kind = 'user'` to a non-null `actor_user_id`.
            actor: row
                .actor_user_id
                .map_or(Actor::System, |id| Actor::User(UserId(id))),
            actor_email: row.actor_email,
            idempotency_key: row.idempotency_key,
            occurred_at: row.occurred_at,
        })
    }
}

pub(crate) const NOTIFICATION_COLUMNS: &str = "id, org_id, recipient_user_id, recipient_mentor_id, kind, \
     mentor_id, payload, created_at, read_at";

#[derive(sqlx::FromRow)]
pub(crate) struct NotificationRow {
    id: Uuid,
    org_id: Uuid,
    recipient_user_id: Option<Uuid>,
    recipient_mentor_id: Option<Uuid>,
    kind: String,
    mentor_id: Option<Uuid>,
    /// JSON text (a CHECK keeps it valid).
    payload: String,
    created_at: DateTime<Utc>,
    read_at: Option<DateTime<Utc>>,
}

impl TryFrom<NotificationRow> for Notification {
    type Error = StoreError;
    fn try_from(row: NotificationRow) -> Result<Self, StoreError> {
        Ok(Notification {
            id: NotificationId(row.id),
            org_id: OrgId(row.org_id),
            recipient_user_id: row.recipient_user_id.map(UserId),
            recipient_mentor_id: row.recipient_mentor_id.map(MentorId),
            kind: row.kind,
            mentor_id: row.mentor_id.map(MentorId),
            payload: serde_json::from_str(&row.payload)
                .map_err(|_| bad_column("notifications.payload"))?,
            created_at: row.created_at,
            read_at: row.read_at,
        })
    }
}

pub(crate) fn parse_status(value: &str, column: &'static str) -> Result<MentorStatus, StoreError> {
    value.parse().map_err(|_| bad_column(column))
}
