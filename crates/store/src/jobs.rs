//! Scheduled and manual job runs, reminder ledgers, digests, alerts and the reconciliation log.

use chrono::{DateTime, NaiveDate, Utc};
use domain::{Locale, MentorId, MentorStatus, OrgId, UserId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{NewNotification, RunId};

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunTrigger {
    /// The scheduler, which claims (job, organisation, business date) once across all instances.
    Scheduled,
    /// The CLI or an operator; always allowed, safe because every effect is idempotent.
    Manual,
}

impl RunTrigger {
    /// The value a stored `as_str()` names.
    pub fn parse(value: &str) -> Option<Self> {
        [RunTrigger::Scheduled, RunTrigger::Manual]
            .into_iter()
            .find(|v| v.as_str() == value)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RunTrigger::Scheduled => "scheduled",
            RunTrigger::Manual => "manual",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    Running,
    Succeeded,
    Failed,
}

impl RunOutcome {
    /// The value a stored `as_str()` names.
    pub fn parse(value: &str) -> Option<Self> {
        [
            RunOutcome::Running,
            RunOutcome::Succeeded,
            RunOutcome::Failed,
        ]
        .into_iter()
        .find(|v| v.as_str() == value)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Running => "running",
            RunOutcome::Succeeded => "succeeded",
            RunOutcome::Failed => "failed",
        }
    }
}

/// A run to record as started.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub id: RunId,
    /// e.g. `expiry`.
    pub job: String,
    pub org: OrgId,
    pub business_date: NaiveDate,
    pub trigger: RunTrigger,
    /// Which process runs it (host and pid), for the run log.
    pub instance: String,
    /// A scheduled claim is held until then; another instance may take it over afterwards.
    pub lease_until: DateTime<Utc>,
    pub at: DateTime<Utc>,
}

/// What the run did, by kind of effect. Stored as JSON; names are part of the runs API. Each job fills
/// the counts of its own effects (the expiry run the first ones, the listing sync the last ones).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct RunCounts {
    pub expired: u64,
    pub resumed: u64,
    pub resumed_into_expired: u64,
    pub reminders_sent: u64,
    pub reminders_skipped: u64,
    pub resume_notices: u64,
    /// Compare-and-set writes that lost to a concurrent change and were decided again.
    pub lost_races: u64,
    pub digests: u64,
    pub findings: u64,
    /// Listing sync: mentors queued because their pushed version was behind.
    pub queued: u64,
    /// Listing sync: linked mentors compared with their remote record.
    pub checked: u64,
    /// Listing sync: remote records that did not show the desired state (re-queued unless pending).
    pub drift: u64,
    /// Listing sync: linked mentors whose remote record does not exist.
    pub missing_records: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub id: RunId,
    pub job: String,
    pub org_id: OrgId,
    pub business_date: NaiveDate,
    pub trigger: RunTrigger,
    pub instance: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub outcome: RunOutcome,
    pub counts: RunCounts,
    pub error: Option<String>,
}

/// A mentor as the nightly run sees it: enough facts to decide, bound to `version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MentorFacts {
    pub id: MentorId,
    pub full_name: String,
    pub status: MentorStatus,
    pub version: i64,
    /// The current certification's last valid day.
    pub expires_on: Option<NaiveDate>,
    pub resume_on: Option<NaiveDate>,
}

/// A mentor whose current certification expires within the reminder window, with the thresholds
/// already recorded for that expiry date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderCandidate {
    pub mentor: MentorFacts,
    pub expires_on: NaiveDate,
    pub recorded_thresholds: Vec<u16>,
}

/// The nightly run's work list for one organisation on one business date.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpiryWorklist {
    /// `active` mentors whose current certification lapsed before today (or who have none).
    pub lapsed_active: Vec<MentorFacts>,
    /// `paused` mentors whose `resume_on` is today or earlier.
    pub resume_due: Vec<MentorFacts>,
    /// `active`/`paused` mentors whose certification expires in `[today, today + max threshold]`.
    pub reminders: Vec<ReminderCandidate>,
    /// `paused` mentors whose `resume_on` is in `(today, today + notice days]` without a notice yet.
    pub resume_soon: Vec<MentorFacts>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReminderOutcome {
    Sent,
    Skipped,
}

impl ReminderOutcome {
    /// The value a stored `as_str()` names.
    pub fn parse(value: &str) -> Option<Self> {
        [ReminderOutcome::Sent, ReminderOutcome::Skipped]
            .into_iter()
            .find(|v| v.as_str() == value)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ReminderOutcome::Sent => "sent",
            ReminderOutcome::Skipped => "skipped",
        }
    }
}

/// One (mentor, threshold, expiry date) decision. The insert that wins the unique key is the claim;
/// only a winning `sent` claim writes its notification.
#[derive(Debug, Clone)]
pub struct ReminderClaim {
    pub mentor: MentorId,
    pub threshold_days: u16,
    pub expires_on: NaiveDate,
    pub outcome: ReminderOutcome,
    /// Written only when this claim wins and is `sent`.
    pub notification: Option<NewNotification>,
}

/// One (mentor, resume_on) notice before an automatic resume; same claim rule as reminders.
#[derive(Debug, Clone)]
pub struct ResumeNoticeClaim {
    pub mentor: MentorId,
    pub resume_on: NaiveDate,
    pub notification: NewNotification,
}

/// How many claims won.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClaimCounts {
    pub sent: u64,
    pub skipped: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReminderRecord {
    pub mentor_id: MentorId,
    pub threshold_days: u16,
    pub certification_expires_on: NaiveDate,
    pub outcome: ReminderOutcome,
    pub business_date: NaiveDate,
    pub run_id: Option<RunId>,
    pub created_at: DateTime<Utc>,
}

/// The result of finishing a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FinishedRun {
    /// Coordinator digests written (one per coordinator) when this run completed the day's work.
    pub digests: u64,
    /// Another run of the job and organisation was still alive (its lease current), so the digest
    /// waits: the last run to finish writes it. Ask again with `Store::write_digest`.
    pub deferred: bool,
}

/// What a `finish_run` records.
#[derive(Debug, Clone)]
pub struct RunFinish {
    pub run: RunId,
    pub outcome: RunOutcome,
    pub counts: RunCounts,
    pub error: Option<String>,
    pub at: DateTime<Utc>,
    /// For a succeeded run: write the coordinator digest of `business_date` if no other run of the same
    /// job and organisation is still running and no digest exists for that date yet. Effects of runs
    /// not yet in any digest are listed; effects of a later run on an already digested date wait for
    /// the next date's digest, so nothing is listed twice and nothing is lost.
    pub digest_for: Option<NaiveDate>,
}

/// Organisation settings that admins change through the API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgSettings {
    /// Overrides the configured reminder thresholds when the `per_org_thresholds` flag is on.
    #[serde(default)]
    pub thresholds_days: Option<Vec<u16>>,
    /// Whether notifications are also sent by email (where the recipient has an address).
    #[serde(default)]
    pub email_enabled: bool,
    /// The language of the organisation's emails, unless a user chose their own.
    #[serde(default)]
    pub locale: Locale,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warning,
    Critical,
}

impl Severity {
    /// The value a stored `as_str()` names.
    pub fn parse(value: &str) -> Option<Self> {
        [Severity::Warning, Severity::Critical]
            .into_iter()
            .find(|v| v.as_str() == value)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// An alert to open, or to count again when one with the same dedupe key is open.
#[derive(Debug, Clone)]
pub struct NewAlert {
    pub org: Option<OrgId>,
    pub kind: String,
    pub severity: Severity,
    /// One open alert per incident: opening again with this key only counts and updates `last_seen`.
    pub dedupe_key: String,
    pub summary: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AlertRecord {
    pub id: Uuid,
    pub org_id: Option<OrgId>,
    pub kind: String,
    pub severity: Severity,
    pub dedupe_key: String,
    pub summary: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub count: i64,
    pub acknowledged_by: Option<UserId>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// Whether opening an alert started a new incident (deliver it) or counted an open one.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertOpened {
    pub alert: AlertRecord,
    pub newly_opened: bool,
}

/// An entry of the reconciliation log: what a check found, when, and in which run.
#[derive(Debug, Clone, PartialEq)]
pub struct FindingRecord {
    pub id: i64,
    pub run_id: Option<RunId>,
    pub finding: Finding,
    pub found_at: DateTime<Utc>,
}

/// A duplicate effect found by the compensation check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// `duplicate_reminder`, `duplicate_expiry` or `duplicate_digest` (the compensation check);
    /// `listing_drift`, `record_missing` or `record_not_found` (the listing sync).
    pub kind: String,
    pub mentor_id: Option<MentorId>,
    /// What the duplicates share (e.g. `threshold=7 expires_on=2026-07-31`).
    pub key: String,
    pub count: i64,
}
