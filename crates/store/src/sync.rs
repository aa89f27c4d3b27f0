//! The public listing sync: the outbox relay's claims and results, force sync, reconciliation input,
//! credential checks and the numbers behind `GET /sync/status`.

use std::time::Duration;

use crate::StoreResult;
use chrono::{DateTime, Utc};
use domain::{MentorId, MentorStatus, OrgId};
use std::future::Future;
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

/// A break-glass request for work: exactly these mentors of `org`, whatever their outbox rows say
/// (due, waiting out a retry backoff, dead, or none at all), up to `limit` of them, leased to
/// `owner` for `lease`.
#[derive(Debug, Clone)]
pub struct MentorsClaim {
    pub org: OrgId,
    pub owner: Uuid,
    pub mentors: Vec<MentorId>,
    pub limit: usize,
    pub lease: Duration,
}

/// What a [`MentorsClaim`] got.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClaimedMentors {
    /// Leased to the claimant now, with their current state, by id.
    pub claimed: Vec<ClaimedMentor>,
    /// Held by another owner's running lease, with the time left on it, by id: not taken.
    pub held: Vec<(MentorId, Duration)>,
    /// Already pushed at their current version with no pending row left, by id: someone pushed
    /// them since they were selected. Not taken: writing them again would write a change twice.
    pub settled: Vec<MentorId>,
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

/// The public listing sync's outbox: changes queued for Dynamics, claimed by relays, and what they recorded.
pub trait ListingOutbox: Clone + Send + Sync + 'static {
    /// Lease up to `claim.limit` mentors of the organisation with due outbox rows to one relay, and
    /// hide their rows from other relays until the lease ends. Mentors leased by another relay are
    /// skipped. Returns each mentor's current state.
    fn claim_sync(
        &self,
        claim: SyncClaim,
    ) -> impl Future<Output = StoreResult<Vec<ClaimedMentor>>> + Send;
    /// Break-glass: lease up to `claim.limit` of `claim.mentors` (of the organisation; others are
    /// left out) to one owner NOW, whatever their rows' state — due, waiting out a retry backoff,
    /// dead, or none — and hide their pending rows until the lease ends, as `claim_sync` does. A
    /// mentor under another owner's running lease is not taken but reported in `held` (a live
    /// relay is never overtaken: its write may still land); a lease that ran out unrecorded is
    /// taken over and the mentor marked `recovered`, as `claim_sync` does; a mentor already pushed
    /// at its current version with nothing pending is reported in `settled`. One transaction.
    fn claim_sync_mentors(
        &self,
        claim: MentorsClaim,
    ) -> impl Future<Output = StoreResult<ClaimedMentors>> + Send;
    /// Which linked mentors of the organisation a break-glass push without `--all` covers: those
    /// whose pushed version is behind their version or that have pending rows, whatever their
    /// lease, backoff or dead state; by id.
    fn unsynced_mentors(
        &self,
        org: OrgId,
    ) -> impl Future<Output = StoreResult<Vec<MentorId>>> + Send;
    /// Record what pushing the claimed mentors did, and end `owner`'s leases on them; one transaction.
    fn record_sync_results(
        &self,
        org: OrgId,
        owner: Uuid,
        results: Vec<SyncResult>,
    ) -> impl Future<Output = StoreResult<SyncRecorded>> + Send;
    /// Queue an outbox row for the selected mentors; returns how many were queued. A mentor that
    /// already has a row at this priority or above that is due now is skipped; rows waiting out a
    /// backoff or another relay's lease do not count, so a force sync is not held up by them.
    fn queue_sync(
        &self,
        org: OrgId,
        selection: SyncSelection,
        priority: SyncPriority,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
    /// Put dead rows (of one mentor, or of the organisation) back in the queue; returns how many.
    fn retry_dead_sync(
        &self,
        org: OrgId,
        mentor: Option<MentorId>,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
    /// Every linked mentor's desired state, for reconciliation.
    fn sync_targets(&self, org: OrgId)
    -> impl Future<Output = StoreResult<Vec<SyncTarget>>> + Send;
    /// Queue depth, dead letters, lag percentiles of rows confirmed in the last `window`, last
    /// credential check.
    fn sync_status(
        &self,
        org: OrgId,
        window: std::time::Duration,
    ) -> impl Future<Output = StoreResult<SyncStatusRecord>> + Send;
    /// Mentors with dead rows, newest first.
    fn dead_letters(
        &self,
        org: OrgId,
        limit: u32,
    ) -> impl Future<Output = StoreResult<Vec<DeadLetter>>> + Send;
    fn record_credential_check(
        &self,
        org: OrgId,
        check: CredentialCheck,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Wake-ups for relays: the value changes whenever outbox rows may have been queued (by any
    /// process, where the backend can tell). Relays poll as well, so a missed wake-up only delays.
    fn sync_wakeups(&self) -> impl Future<Output = StoreResult<SyncWakeups>> + Send;
    /// Forget outbox rows confirmed longer than `age` ago; returns how many.
    fn prune_sync_outbox(
        &self,
        age: std::time::Duration,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
}
