//! JSON shapes of the API. Field names are a contract: add, never rename.

use chrono::{DateTime, NaiveDate, Utc};
use domain::{CertificationId, MentorId, MentorStatus, NotificationId, days_left};
use engine::MentorSnapshot;
use serde::Serialize;
use store::{
    Actor, AlertRecord, FindingRecord, HistoryRecord, MentorRecord, Notification, ReminderOutcome,
    ReminderRecord, RunCounts, RunId, RunOutcome, RunRecord, RunTrigger, Severity, User,
};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Serialize, ToSchema)]
pub(crate) struct List<T> {
    pub items: Vec<T>,
    /// The `cursor` of the next page; null on the last one.
    pub next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct CertificationDto {
    pub id: CertificationId,
    pub kind: String,
    pub issued_on: NaiveDate,
    pub expires_on: NaiveDate,
    /// Calendar days from the organisation's today to the last valid day; negative once lapsed.
    pub days_left: i64,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct SyncDto {
    #[schema(value_type = engine::sync::SyncState)]
    pub state: &'static str,
    pub pushed_version: Option<i64>,
    pub pushed_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct MentorDto {
    pub id: MentorId,
    pub org: String,
    pub full_name: String,
    pub email: String,
    pub phone: Option<String>,
    pub status: MentorStatus,
    pub status_reason: Option<String>,
    pub status_changed_at: DateTime<Utc>,
    pub resume_on: Option<NaiveDate>,
    pub listed_publicly: bool,
    pub dynamics_contact_id: Option<Uuid>,
    pub dynamics_key: Option<String>,
    pub version: i64,
    pub certification: Option<CertificationDto>,
    pub sync: SyncDto,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl MentorDto {
    pub fn new(mentor: MentorRecord, today: NaiveDate, sync_state: &'static str) -> Self {
        MentorDto {
            id: mentor.id,
            org: mentor.org_slug,
            full_name: mentor.full_name,
            email: mentor.email.into_inner(),
            phone: mentor.phone,
            status: mentor.status,
            status_reason: mentor.status_reason,
            status_changed_at: mentor.status_changed_at,
            resume_on: mentor.resume_on,
            listed_publicly: mentor.listed_publicly,
            dynamics_contact_id: mentor.dynamics_contact_id,
            dynamics_key: mentor.dynamics_key,
            version: mentor.version,
            certification: mentor.certification.map(|c| CertificationDto {
                days_left: days_left(c.expires_on, today),
                id: c.id,
                kind: c.kind,
                issued_on: c.issued_on,
                expires_on: c.expires_on,
            }),
            sync: SyncDto {
                state: sync_state,
                pushed_version: mentor.sync.pushed_version,
                pushed_at: mentor.sync.pushed_at,
                last_error: mentor.sync.last_error,
            },
            created_at: mentor.created_at,
            updated_at: mentor.updated_at,
        }
    }
}

impl From<MentorSnapshot> for MentorDto {
    fn from(s: MentorSnapshot) -> Self {
        MentorDto::new(s.mentor, s.today, s.sync_state)
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ActorDto {
    pub kind: ActorKind,
    pub user_id: Option<Uuid>,
    pub email: Option<String>,
}

/// Who made a change: a user, or the service itself (the nightly run, an automatic resume).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ActorKind {
    User,
    System,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct HistoryDto {
    pub id: i64,
    pub from_status: Option<MentorStatus>,
    pub to_status: MentorStatus,
    pub reason: Option<String>,
    pub actor: ActorDto,
    pub occurred_at: DateTime<Utc>,
}

impl From<HistoryRecord> for HistoryDto {
    fn from(h: HistoryRecord) -> Self {
        let actor = match h.actor {
            Actor::User(id) => ActorDto {
                kind: ActorKind::User,
                user_id: Some(id.0),
                email: h.actor_email,
            },
            Actor::System => ActorDto {
                kind: ActorKind::System,
                user_id: None,
                email: None,
            },
        };
        HistoryDto {
            id: h.id,
            from_status: h.from_status,
            to_status: h.to_status,
            reason: h.reason,
            actor,
            occurred_at: h.occurred_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct NotificationDto {
    pub id: NotificationId,
    pub kind: String,
    pub mentor_id: Option<MentorId>,
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

impl From<Notification> for NotificationDto {
    fn from(n: Notification) -> Self {
        NotificationDto {
            id: n.id,
            kind: n.kind,
            mentor_id: n.mentor_id,
            payload: n.payload,
            created_at: n.created_at,
            read_at: n.read_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct MeDto {
    pub id: Uuid,
    pub org_id: Uuid,
    pub email: String,
    pub role: domain::Role,
    pub mentor: Option<MentorDto>,
}

impl MeDto {
    pub fn new(user: &User, mentor: Option<MentorSnapshot>) -> Self {
        MeDto {
            id: user.id.0,
            org_id: user.org_id.0,
            email: user.email.to_string(),
            role: user.role,
            mentor: mentor.map(MentorDto::from),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ReminderDto {
    pub threshold_days: u16,
    pub certification_expires_on: NaiveDate,
    pub outcome: ReminderOutcome,
    pub business_date: NaiveDate,
    pub run_id: Option<RunId>,
    pub created_at: DateTime<Utc>,
}

impl From<ReminderRecord> for ReminderDto {
    fn from(r: ReminderRecord) -> Self {
        ReminderDto {
            threshold_days: r.threshold_days,
            certification_expires_on: r.certification_expires_on,
            outcome: r.outcome,
            business_date: r.business_date,
            run_id: r.run_id,
            created_at: r.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct RunDto {
    pub id: RunId,
    pub job: String,
    pub business_date: NaiveDate,
    pub trigger: RunTrigger,
    pub instance: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub outcome: RunOutcome,
    pub counts: RunCounts,
    pub error: Option<String>,
}

impl From<RunRecord> for RunDto {
    fn from(r: RunRecord) -> Self {
        RunDto {
            id: r.id,
            job: r.job,
            business_date: r.business_date,
            trigger: r.trigger,
            instance: r.instance,
            started_at: r.started_at,
            finished_at: r.finished_at,
            outcome: r.outcome,
            counts: r.counts,
            error: r.error,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct AlertDto {
    pub id: Uuid,
    pub kind: String,
    pub severity: Severity,
    pub summary: String,
    pub dedupe_key: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub count: i64,
    pub acknowledged_by: Option<Uuid>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
}

impl From<AlertRecord> for AlertDto {
    fn from(a: AlertRecord) -> Self {
        AlertDto {
            id: a.id,
            kind: a.kind,
            severity: a.severity,
            summary: a.summary,
            dedupe_key: a.dedupe_key,
            first_seen: a.first_seen,
            last_seen: a.last_seen,
            count: a.count,
            acknowledged_by: a.acknowledged_by.map(|u| u.0),
            acknowledged_at: a.acknowledged_at,
            resolved_at: a.resolved_at,
        }
    }
}

/// An entry of the reconciliation log.
#[derive(Serialize, ToSchema)]
pub(crate) struct FindingDto {
    pub id: i64,
    /// The run that found it (none for a finding of a relay or a command).
    pub run_id: Option<Uuid>,
    /// `listing_drift`, `record_missing`, `record_not_found` (the listing sync) or
    /// `duplicate_reminder`, `duplicate_expiry`, `duplicate_digest` (the compensation check).
    pub kind: String,
    pub mentor_id: Option<Uuid>,
    /// What was found, e.g. `hlf_showonwebsite=false (want true)`.
    pub key: String,
    pub count: i64,
    pub found_at: DateTime<Utc>,
}

impl From<FindingRecord> for FindingDto {
    fn from(f: FindingRecord) -> Self {
        FindingDto {
            id: f.id,
            run_id: f.run_id.map(|r| r.0),
            kind: f.finding.kind,
            mentor_id: f.finding.mentor_id.map(|m| m.0),
            key: f.finding.key,
            count: f.finding.count,
            found_at: f.found_at,
        }
    }
}
