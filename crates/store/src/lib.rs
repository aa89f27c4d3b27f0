//! The Store: every use case the engine and the web layer need from persistence, stated as meanings
//! ("apply this change if nobody else moved the mentor"), never as SQL. One crate per backend implements it.

mod alerts;
mod changes;
#[cfg(feature = "contract")]
pub mod contract;
mod delivery;
mod error;
mod expiry;
mod findings;
mod idempotency;
mod jobs;
mod mentors;
mod notifications;
mod orgs;
mod records;
mod runs;
mod schema;
mod sessions;
mod sync;
mod users;
mod writes;

pub use alerts::AlertStore;
pub use changes::ChangeStore;
pub use delivery::{
    AlertCandidate, AlertDeliveryPlan, AlertEvent, ChannelTold, DeliveryClaim, DeliveryOutbox,
    DeliveryOutcome, DeliveryResult, DeliveryStatus, EmailJob, OrgRef, OutboxDepth,
    QueuedAlertEmail, QueuedWebhook, WebhookJob, alert_candidates_cutoff, alert_deliveries,
    alert_payload, due_alert_events,
};
pub use error::{Conflict, Constraint, StoreError};
pub use expiry::ExpiryStore;
pub use findings::FindingStore;
pub use idempotency::IdempotencyStore;
pub use jobs::{
    AlertOpened, AlertRecord, ClaimCounts, ExpiryWorklist, Finding, FindingRecord, FinishedRun,
    MentorFacts, NewAlert, NewRun, OrgSettings, ReminderCandidate, ReminderClaim, ReminderOutcome,
    ReminderRecord, ResumeNoticeClaim, RunCounts, RunFinish, RunOutcome, RunRecord, RunTrigger,
    Severity,
};
pub use mentors::MentorStore;
pub use notifications::NotificationStore;
pub use orgs::OrgStore;
pub use records::{
    Actor, CertificationRecord, HistoryRecord, MentorRecord, Notification, Org, Page, RunId,
    SchemaStatus, SyncFailure, SyncRecord, User, page_fetch_limit,
};
pub use runs::RunStore;
pub use schema::SchemaStore;
pub use sessions::{
    LoginFailure, LoginFailureCounts, NewSession, SESSION_TOUCH_INTERVAL, SessionRecord,
    SessionStore, TokenHash, session_needs_touch,
};
pub use sync::{
    ClaimedMentor, ClaimedMentors, CredentialCheck, DeadLetter, DeadReason, DynamicsLink,
    ListingOutbox, MentorsClaim, SyncClaim, SyncOutcome, SyncPriority, SyncRecorded, SyncResult,
    SyncSelection, SyncStatusRecord, SyncTarget, SyncWakeups,
};
pub use users::UserStore;
pub use writes::{
    ChangeOutcome, IdempotencyBegin, MentorChange, MentorCursor, MentorFilter, MentorPatch,
    NewCertification, NewMentor, NewNotification, NewOrg, NewUser, Recipient, StoredResponse,
};

pub type StoreResult<T> = Result<T, StoreError>;

/// Every capability trait, unnamed: `use store::prelude::*;` lets code that holds a concrete backend
/// (`PgStore`, `SqliteStore`) call any store method. Generic code bound on [`Store`] needs nothing.
pub mod prelude {
    pub use crate::{
        AlertStore as _, ChangeStore as _, DeliveryOutbox as _, ExpiryStore as _,
        FindingStore as _, IdempotencyStore as _, ListingOutbox as _, MentorStore as _,
        NotificationStore as _, OrgStore as _, RunStore as _, SchemaStore as _, SessionStore as _,
        UserStore as _,
    };
}

/// Persistence for mentor-status: the sum of the capabilities, one trait each, for code that needs
/// them all (the engine). Implementations are cheap to clone (a pool handle) and safe to share.
///
/// Every write method is one transaction: it commits whole or not at all.
pub trait Store:
    ChangeStore
    + SchemaStore
    + OrgStore
    + UserStore
    + MentorStore
    + NotificationStore
    + ExpiryStore
    + RunStore
    + FindingStore
    + AlertStore
    + ListingOutbox
    + DeliveryOutbox
    + SessionStore
    + IdempotencyStore
{
}

impl<T> Store for T where
    T: ChangeStore
        + SchemaStore
        + OrgStore
        + UserStore
        + MentorStore
        + NotificationStore
        + ExpiryStore
        + RunStore
        + FindingStore
        + AlertStore
        + ListingOutbox
        + DeliveryOutbox
        + SessionStore
        + IdempotencyStore
{
}
