//! The public listing sync: the outbox relay's claims and results, force sync, reconciliation input,
//! credential checks and the numbers behind `GET /sync/status`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::{MentorId, MentorStatus, OrgId};
use uuid::Uuid;

/// Queue order for the relay: a force sync goes before the changes of the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SyncPriority {
    Normal,
    High,
}

impl SyncPriority {
    pub fn as_i16(self) -> i16 {
        match self {
            SyncPriority::Normal => 0,
            SyncPriority::High => 10,
        }
    }
}

/// Relay wake-ups: a counter that moves when new outbox rows may be waiting.
pub type SyncWakeups = tokio::sync::watch::Receiver<u64>;

/// How a mentor is linked to its record in Dynamics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DynamicsLink {
    ContactId(Uuid),
    /// The value of the organisation's alternate key column (e.g. a member number).
    Key(String),
}

impl DynamicsLink {
    pub fn from_columns(contact_id: Option<Uuid>, key: Option<String>) -> Option<Self> {
        match (contact_id, key) {
            (Some(id), _) => Some(DynamicsLink::ContactId(id)),
            (None, Some(key)) => Some(DynamicsLink::Key(key)),
            (None, None) => None,
        }
    }
}

/// A relay's request for work: up to `limit` mentors of `org` with due outbox rows, leased to `owner`
/// for `lease`. Outbox times are the database's clock (rows are stamped by it), so callers pass
/// durations, never instants.
#[derive(Debug, Clone)]
pub struct SyncClaim {
    pub org: OrgId,
    pub owner: Uuid,
    pub limit: usize,
    pub lease: Duration,
}

/// One leased mentor: its CURRENT state (what gets pushed, whatever the rows said) and what its
/// pending rows add up to.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedMentor {
    pub mentor: MentorId,
    pub version: i64,
    pub status: MentorStatus,
    pub listed_publicly: bool,
    pub link: Option<DynamicsLink>,
    /// Failed attempts since the last success, and for how long it has been failing.
    pub attempts: u32,
    pub failing_for: Option<Duration>,
    /// An earlier lease ran out before its relay recorded anything: that relay died or lost the
    /// database mid-push, and the remote record may already show this state.
    pub recovered: bool,
}

/// Why a mentor's sync stopped for good until someone retries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadReason {
    /// A permanent refusal, or transient failures for longer than the retry budget.
    Failed,
    /// The remote record does not exist (any more).
    NotFound,
}

/// What happened to one leased mentor.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncOutcome {
    /// The remote record now shows `version`: rows up to it are done.
    Pushed { version: i64 },
    /// Not linked to a remote record: nothing to push, rows up to `version` are done.
    Unlinked { version: i64 },
    /// A failure that counts as an attempt; the rows come back `after` this long.
    Retry { error: String, after: Duration },
    /// A permanent failure: rows up to `version` are dead.
    Dead {
        version: i64,
        reason: DeadReason,
        error: String,
    },
    /// Put back without counting an attempt (throttling, paused on credentials), due `after` this long.
    Released { after: Duration },
}

#[derive(Debug, Clone, PartialEq)]
pub struct SyncResult {
    pub mentor: MentorId,
    pub outcome: SyncOutcome,
}

/// What recording results changed: the sync lag of every row confirmed, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncRecorded {
    pub confirmed_lag_ms: Vec<i64>,
    pub dead: u64,
}

/// Which mentors of an organisation to queue for a push.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncSelection {
    /// One mentor (force sync).
    Mentor(MentorId),
    /// Every linked mentor (org-wide force sync, break-glass).
    AllLinked,
    /// Linked mentors whose pushed version is behind their version, that are not dead and have no
    /// pending row (nightly). A pending row, even one a running push has hidden, means the relay
    /// pushes the current state anyway: queueing again would write it twice.
    Behind,
    /// These mentors at these versions (reconciliation found them divergent); a mentor with pending
    /// rows, or changed since (its push may have landed after the remote read), is skipped.
    Divergent(Vec<(MentorId, i64)>),
}

/// A linked mentor's desired state, for reconciliation.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncTarget {
    pub mentor: MentorId,
    pub link: DynamicsLink,
    pub status: MentorStatus,
    pub listed_publicly: bool,
    pub version: i64,
    /// Pending outbox rows exist: the relay will push it anyway.
    pub pending: bool,
}

/// The last credential check of an organisation's integration.
#[derive(Debug, Clone, PartialEq)]
pub struct CredentialCheck {
    pub checked_at: DateTime<Utc>,
    pub ok: bool,
    pub detail: Option<String>,
}

/// The numbers behind `GET /sync/status`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncStatusRecord {
    pub pending: u64,
    pub dead: u64,
    /// Mentors whose last push failed and will be retried.
    pub retrying: u64,
    pub oldest_pending_at: Option<DateTime<Utc>>,
    /// Sync lag of rows confirmed in the window, in milliseconds.
    pub lag_p50_ms: Option<f64>,
    pub lag_p95_ms: Option<f64>,
    pub lag_p99_ms: Option<f64>,
    pub confirmed: u64,
    pub last_credential_check: Option<CredentialCheck>,
}

/// A mentor's dead outbox rows and why, for the sync health view.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub mentor: MentorId,
    pub full_name: String,
    pub rows: u64,
    pub last_error: Option<String>,
    pub since: DateTime<Utc>,
}
