//! What the store reads back.

use chrono::{DateTime, NaiveDate, Utc};
use domain::{
    CertificationId, Email, Locale, MentorId, MentorStatus, NotificationId, OrgId, OrgSlug,
    OrgTimeZone, Role, UserId,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq)]
pub struct Org {
    pub id: OrgId,
    pub slug: OrgSlug,
    pub name: String,
    pub timezone: OrgTimeZone,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, PartialEq)]
pub struct User {
    pub id: UserId,
    pub org_id: OrgId,
    pub email: Email,
    pub role: Role,
    /// The mentor this login belongs to (role `mentor`).
    pub mentor_id: Option<MentorId>,
    /// What a token's `sub` claim must say to be this user.
    pub auth_subject: String,
    /// argon2id PHC string, for dashboard logins.
    pub password_hash: Option<String>,
    /// The language of this user's emails; the organisation's when `None`.
    pub locale: Option<Locale>,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("org_id", &self.org_id)
            .field("email", &self.email)
            .field("role", &self.role)
            .field("mentor_id", &self.mentor_id)
            .field("auth_subject", &self.auth_subject)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

/// Who made a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    User(UserId),
    System,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificationRecord {
    pub id: CertificationId,
    pub kind: String,
    pub issued_on: NaiveDate,
    pub expires_on: NaiveDate,
}

/// What we last pushed to the public listing for a mentor.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncRecord {
    pub pushed_version: Option<i64>,
    pub pushed_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// Why pushing this mentor fails, if it does.
    pub failure: Option<SyncFailure>,
}

/// Why a mentor's pushes fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncFailure {
    /// Transient failures; the relay retries with backoff.
    Retrying,
    /// Given up (permanent refusal or retry budget spent) until someone retries.
    Dead,
    /// The remote record is gone.
    NotFound,
}

impl SyncFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncFailure::Retrying => "retrying",
            SyncFailure::Dead => "dead",
            SyncFailure::NotFound => "not_found",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            SyncFailure::Retrying,
            SyncFailure::Dead,
            SyncFailure::NotFound,
        ]
        .into_iter()
        .find(|f| f.as_str() == value)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct MentorRecord {
    pub id: MentorId,
    pub org_id: OrgId,
    pub org_slug: String,
    pub full_name: String,
    pub email: Email,
    pub phone: Option<String>,
    pub status: MentorStatus,
    pub status_reason: Option<String>,
    pub status_changed_at: DateTime<Utc>,
    pub resume_on: Option<NaiveDate>,
    pub listed_publicly: bool,
    pub dynamics_contact_id: Option<Uuid>,
    pub dynamics_key: Option<String>,
    pub version: i64,
    /// The current certification: the one with the latest `expires_on`.
    pub certification: Option<CertificationRecord>,
    pub sync: SyncRecord,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRecord {
    pub id: i64,
    pub mentor_id: MentorId,
    /// `None` for the row that records the mentor's registration.
    pub from_status: Option<MentorStatus>,
    pub to_status: MentorStatus,
    pub reason: Option<String>,
    pub actor: Actor,
    /// The acting user's email, when a user acted.
    pub actor_email: Option<String>,
    pub idempotency_key: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub id: NotificationId,
    pub org_id: OrgId,
    pub recipient_user_id: Option<UserId>,
    pub recipient_mentor_id: Option<MentorId>,
    pub kind: String,
    pub mentor_id: Option<MentorId>,
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

/// One page of a keyset-paginated list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T, C> {
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<C>,
}

/// How many rows a backend fetches for a page of `limit`: one more, so the page knows whether another
/// follows.
pub fn page_fetch_limit(limit: u32) -> i64 {
    i64::from(limit) + 1
}

impl<T, C> Page<T, C> {
    /// Cut `rows` (fetched with [`page_fetch_limit`]) to `limit`; the next page starts after the last
    /// item kept.
    pub fn from_fetched(mut rows: Vec<T>, limit: u32, cursor: impl Fn(&T) -> C) -> Page<T, C> {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = if more { rows.last().map(cursor) } else { None };
        Page { items: rows, next }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaStatus {
    /// Migrations this build ships.
    pub known: usize,
    /// Of those, how many the database has applied.
    pub applied: usize,
}

impl SchemaStatus {
    pub fn is_current(&self) -> bool {
        self.applied == self.known
    }
}

/// A job run's id.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(transparent)]
pub struct RunId(pub Uuid);

impl RunId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for RunId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
