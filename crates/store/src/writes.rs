//! What the store is asked to write.

use chrono::{DateTime, NaiveDate, Utc};
use domain::{
    CertificationPeriod, Email, FullName, Locale, MentorId, MentorStatus, OrgId, OrgSlug,
    OrgTimeZone, Phone, Role, Transition, UserId,
};
use uuid::Uuid;

use crate::{Actor, Conflict, Constraint, RunId, StoreError, StoreResult};

#[derive(Debug, Clone)]
pub struct NewOrg {
    pub slug: OrgSlug,
    pub name: String,
    pub timezone: OrgTimeZone,
}

#[derive(Clone)]
pub struct NewUser {
    pub org_id: OrgId,
    pub email: Email,
    pub role: Role,
    pub mentor_id: Option<MentorId>,
    /// Defaults to the new user's id when `None`.
    pub auth_subject: Option<String>,
    pub password_hash: Option<String>,
    /// The language of this user's emails; the organisation's when `None`.
    pub locale: Option<Locale>,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("org_id", &self.org_id)
            .field("email", &self.email)
            .field("role", &self.role)
            .field("mentor_id", &self.mentor_id)
            .field("auth_subject", &self.auth_subject)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "[redacted]"),
            )
            .field("locale", &self.locale)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct NewMentor {
    pub id: MentorId,
    pub full_name: FullName,
    pub email: Email,
    pub phone: Option<Phone>,
    pub listed_publicly: bool,
    pub dynamics_contact_id: Option<Uuid>,
    pub dynamics_key: Option<String>,
    /// Decided by the engine from the certification: `active` or `certification_expired`.
    pub status: MentorStatus,
    pub certification: Option<NewCertification>,
}

#[derive(Debug, Clone)]
pub struct NewCertification {
    pub period: CertificationPeriod,
    /// One kind is in scope today; the column lets more come later.
    pub kind: String,
}

impl NewCertification {
    pub const DEFAULT_KIND: &'static str = "likeperson";

    pub fn new(period: CertificationPeriod) -> Self {
        Self {
            period,
            kind: Self::DEFAULT_KIND.to_owned(),
        }
    }
}

/// A change to a mentor's details. `None` leaves a field alone; `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct MentorPatch {
    pub full_name: Option<FullName>,
    pub email: Option<Email>,
    pub phone: Option<Option<Phone>>,
    pub listed_publicly: Option<bool>,
    pub dynamics_contact_id: Option<Option<Uuid>>,
    pub dynamics_key: Option<Option<String>>,
}

/// Who an in-app notification is for. Resolved inside the change's transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    User(UserId),
    /// The mentor themself (their login sees it; email later uses the mentor's address).
    Mentor(MentorId),
    /// Every coordinator of the organisation, one row each.
    OrgCoordinators,
}

#[derive(Debug, Clone)]
pub struct NewNotification {
    pub recipient: Recipient,
    pub kind: String,
    pub payload: serde_json::Value,
}

/// One unit of work on one mentor: compare-and-set on `expected_status` and `expected_version`, then
/// the optional certification, the optional transition with its history row, an outbox row for the
/// new version, and the notifications, all in one transaction. A change without transition still
/// bumps the version, so a concurrent decision based on the old facts loses its compare-and-set.
#[derive(Debug, Clone)]
pub struct MentorChange {
    pub org: OrgId,
    pub mentor: MentorId,
    pub expected_status: MentorStatus,
    pub expected_version: i64,
    pub certification: Option<NewCertification>,
    pub transition: Option<Transition>,
    pub actor: Actor,
    /// For system transitions: unique in the history (e.g. `expired:{mentor}:{expires_on}`).
    pub idempotency_key: Option<String>,
    /// What the history row says; defaults to the transition's reason.
    pub history_note: Option<String>,
    /// Notifications about this mentor.
    pub notifications: Vec<NewNotification>,
    /// The job run that made this change, if any (its effects are listed in the coordinator digest).
    pub run: Option<RunId>,
    /// For a system transition: the certification expiry date it was decided on, kept in the history
    /// so the compensation check can find two expiry transitions for one certification period.
    pub bound_expires_on: Option<NaiveDate>,
    pub at: DateTime<Utc>,
}

/// What happened to one change of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeOutcome {
    Applied,
    /// The mentor's status or version was not the expected one: read again and decide again.
    LostRace,
    /// The history already holds this change's idempotency key: it was applied before.
    AlreadyRecorded,
    /// No such mentor in the organisation.
    NotFound,
}

impl ChangeOutcome {
    /// A single change's outcome as the error its caller handles: a lost race or a recorded key is
    /// a conflict, an unknown mentor is not found.
    pub fn into_result(self) -> StoreResult<()> {
        match self {
            ChangeOutcome::Applied => Ok(()),
            ChangeOutcome::LostRace => Err(StoreError::Conflict(Conflict::LostRace)),
            ChangeOutcome::AlreadyRecorded => Err(StoreError::Conflict(Conflict::Constraint(
                Constraint::HistoryIdempotencyKey,
            ))),
            ChangeOutcome::NotFound => Err(StoreError::not_found("mentor")),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct MentorFilter {
    pub status: Option<MentorStatus>,
    /// Current certification's `expires_on` within `[today, today + N]`.
    pub expiring_within_days: Option<u32>,
    /// Case-insensitive substring of name or email.
    pub query: Option<String>,
}

/// Keyset position in the mentor list (ordered by name, then id).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MentorCursor {
    pub full_name: String,
    pub id: MentorId,
}

/// A response kept for replay under an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// The key is ours: run the request, then complete or abandon it.
    Started,
    /// The same request finished before: send this again.
    Replay(StoredResponse),
    /// The key was used for a different request.
    Mismatch,
    /// The same request is running right now.
    InProgress,
}
