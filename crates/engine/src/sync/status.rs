//! What coordinators see of the sync: a mentor's sync state, and the organisation's sync health.

use chrono::{DateTime, Utc};
use serde::Serialize;
use store::{DeadLetter, MentorRecord, RunOutcome, Store, SyncFailure, User};

use crate::access::{own_organisation, require};
use crate::{Engine, EngineError, Job};
use domain::access::Permission;
use store::{ListingOutbox, RunStore};

/// How far back lag percentiles look.
const LAG_WINDOW_HOURS: i64 = 24;
/// How many earlier runs to look through for the last reconciliation.
const RUNS_TO_SEARCH: u32 = 50;
const DEAD_LETTERS_SHOWN: u32 = 50;

/// A mentor's sync state, as the API and the dashboard name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncState {
    /// The organisation has no Dynamics integration.
    Disabled,
    /// The mentor has no Dynamics contact id or key.
    Unlinked,
    /// The last push confirmed the mentor's current version.
    InSync,
    /// A change waits to be pushed.
    Pending,
    /// The last push failed and will be retried.
    Failed,
    /// Given up until retried (or the remote record does not exist).
    Dead,
}

impl SyncState {
    pub const ALL: [SyncState; 6] = [
        SyncState::Disabled,
        SyncState::Unlinked,
        SyncState::InSync,
        SyncState::Pending,
        SyncState::Failed,
        SyncState::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SyncState::Disabled => "disabled",
            SyncState::Unlinked => "unlinked",
            SyncState::InSync => "in_sync",
            SyncState::Pending => "pending",
            SyncState::Failed => "failed",
            SyncState::Dead => "dead",
        }
    }
}

/// A mentor's sync state: `disabled` (no integration), `unlinked`, `in_sync`, `pending`, `failed`
/// (retrying after an error) or `dead` (given up until retried). One of [`SyncState::as_str`].
pub fn sync_state(mentor: &MentorRecord, integration_enabled: bool) -> &'static str {
    let linked = mentor.dynamics_contact_id.is_some() || mentor.dynamics_key.is_some();
    let state = if !integration_enabled {
        SyncState::Disabled
    } else if !linked {
        SyncState::Unlinked
    } else {
        match mentor.sync.failure {
            Some(SyncFailure::Dead | SyncFailure::NotFound) => SyncState::Dead,
            Some(SyncFailure::Retrying) => SyncState::Failed,
            None if mentor.sync.pushed_version >= Some(mentor.version) => SyncState::InSync,
            None => SyncState::Pending,
        }
    };
    state.as_str()
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SyncStatusView {
    /// Whether this organisation has a Dynamics integration configured.
    pub enabled: bool,
    /// Outbox rows waiting to be pushed (including those waiting for a retry).
    pub pending: u64,
    /// Outbox rows given up on; retry them once the cause is fixed.
    pub dead: u64,
    /// Mentors whose last push failed and will be retried.
    pub retrying: u64,
    pub oldest_pending_age_seconds: Option<i64>,
    pub lag: LagView,
    pub last_credential_check: Option<CredentialCheckView>,
    /// The last reconciliation (nightly listing sync run), if any.
    pub drift: Option<DriftView>,
    pub dead_letters: Vec<DeadLetterView>,
}

/// Sync lag, from a change's commit to the push's confirmation, of rows confirmed in the window.
/// The public website shows a change up to ~15 minutes later still (Power Pages' own cache).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LagView {
    pub window_hours: i64,
    pub confirmed: u64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CredentialCheckView {
    pub checked_at: DateTime<Utc>,
    pub ok: bool,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DriftView {
    pub run_id: store::RunId,
    pub finished_at: Option<DateTime<Utc>>,
    pub checked: u64,
    pub drift: u64,
    pub missing_records: u64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeadLetterView {
    pub mentor_id: domain::MentorId,
    pub full_name: String,
    pub rows: u64,
    pub last_error: Option<String>,
    pub since: DateTime<Utc>,
}

impl From<DeadLetter> for DeadLetterView {
    fn from(d: DeadLetter) -> Self {
        DeadLetterView {
            mentor_id: d.mentor,
            full_name: d.full_name,
            rows: d.rows,
            last_error: d.last_error,
            since: d.since,
        }
    }
}

impl<S: ListingOutbox + RunStore> Engine<S> {
    pub async fn sync_status(&self, user: &User) -> Result<SyncStatusView, EngineError> {
        require(user, Permission::ManageMentors, own_organisation(user))?;
        let org = user.org_id;
        let now = self.clock().now();
        let window = std::time::Duration::from_secs(LAG_WINDOW_HOURS.unsigned_abs() * 3600);
        let record = self.store().sync_status(org, window).await?;
        let runs = self.store().runs(org, RUNS_TO_SEARCH, None).await?;
        let drift = runs
            .items
            .into_iter()
            .find(|r| {
                Job::parse(&r.job) == Some(Job::ListingSync) && r.outcome == RunOutcome::Succeeded
            })
            .map(|r| DriftView {
                run_id: r.id,
                finished_at: r.finished_at,
                checked: r.counts.checked,
                drift: r.counts.drift,
                missing_records: r.counts.missing_records,
            });
        let dead_letters = self
            .store()
            .dead_letters(org, DEAD_LETTERS_SHOWN)
            .await?
            .into_iter()
            .map(DeadLetterView::from)
            .collect();
        Ok(SyncStatusView {
            enabled: self.sync_enabled(org),
            pending: record.pending,
            dead: record.dead,
            retrying: record.retrying,
            oldest_pending_age_seconds: record
                .oldest_pending_at
                .map(|at| (now - at).num_seconds().max(0)),
            lag: LagView {
                window_hours: LAG_WINDOW_HOURS,
                confirmed: record.confirmed,
                p50_ms: record.lag_p50_ms,
                p95_ms: record.lag_p95_ms,
                p99_ms: record.lag_p99_ms,
            },
            last_credential_check: record.last_credential_check.map(|c| CredentialCheckView {
                checked_at: c.checked_at,
                ok: c.ok,
                detail: c.detail,
            }),
            drift,
            dead_letters,
        })
    }
}

/// The health of one organisation's integration, for readiness checks: `degraded` with the reasons
/// when its last credential check failed or outbox rows are dead.
#[derive(Debug, Clone, Serialize)]
pub struct IntegrationHealth {
    /// The organisation's slug.
    pub org: String,
    /// `ok` or `degraded`.
    pub status: &'static str,
    pub reasons: Vec<String>,
    /// `ok`, `failed`, or `unchecked` (no check recorded yet).
    pub credentials: &'static str,
    pub credentials_checked_at: Option<DateTime<Utc>>,
    /// Dead outbox rows.
    pub dead: u64,
}

impl<S: Store> Engine<S> {
    /// Every configured integration's health, by organisation slug. Reasons are short and carry no
    /// error text from Dynamics (readiness endpoints are often unauthenticated); the sync status
    /// page has the detail.
    pub async fn integration_health(&self) -> Result<Vec<IntegrationHealth>, EngineError> {
        let Some(listing) = self.listing() else {
            return Ok(Vec::new());
        };
        let orgs: Vec<_> = listing.integrations().map(|i| i.org).collect();
        let mut health = Vec::with_capacity(orgs.len());
        for org in orgs {
            // A zero window: no lag percentiles needed.
            let record = self
                .store()
                .sync_status(org, std::time::Duration::ZERO)
                .await?;
            let mut reasons = Vec::new();
            let credentials = match &record.last_credential_check {
                None => "unchecked",
                Some(check) if check.ok => "ok",
                Some(check) => {
                    reasons.push(format!(
                        "the last credential check failed (at {}); the sync status says why",
                        check
                            .checked_at
                            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    ));
                    "failed"
                }
            };
            if record.dead > 0 {
                reasons.push(format!(
                    "{} outbox row(s) are dead letters; retry them once the cause is fixed",
                    record.dead
                ));
            }
            health.push(IntegrationHealth {
                org: self.org_label(org).await,
                status: if reasons.is_empty() { "ok" } else { "degraded" },
                reasons,
                credentials,
                credentials_checked_at: record.last_credential_check.map(|c| c.checked_at),
                dead: record.dead,
            });
        }
        health.sort_by(|a, b| a.org.cmp(&b.org));
        Ok(health)
    }
}
