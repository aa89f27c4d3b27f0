//! The public listing sync: the outbox relay, the nightly push and reconciliation,
//! credential checks, force sync and the sync status — generic over the Store, talking to Dynamics
//! through the [`dataverse`] client.

mod alerts;
mod break_glass;
mod credentials;
mod mapping;
mod nightly;
mod relay;
mod status;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use domain::{MentorId, OrgId};
use store::{SyncPriority, SyncSelection, User};

pub use break_glass::{BreakGlassProgress, BreakGlassReport, PushFailure};
pub use mapping::{Mapping, StatusColumn, StatusValues};
pub use nightly::NightlySyncReport;
pub use relay::{MentorOutcome, PassReport, Relay};
pub use status::{IntegrationHealth, SyncState, SyncStatusView, sync_state};

use crate::access::{own_organisation, require};
use crate::{Engine, EngineError};
use domain::access::Permission;
use store::{ListingOutbox, MentorStore, OrgStore};

/// How the relay paces itself. Every number is configuration: Microsoft says its limits may change.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// How long a relay holds the mentors it claimed; another relay takes them over after that.
    /// Longer than a push can take (the client's request timeout, plus a throttling wait).
    pub lease: Duration,
    /// Polling interval when no wake-up arrives.
    pub poll_interval: Duration,
    /// First retry delay after a transient failure; doubles per attempt, with jitter.
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// How long transient failures are retried before the mentor's rows are dead.
    pub retry_budget: Duration,
    /// How often credentials are checked (token + WhoAmI), and retried while paused on them.
    pub credential_check_interval: Duration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            lease: Duration::from_secs(120),
            poll_interval: Duration::from_secs(5),
            backoff_initial: Duration::from_secs(10),
            backoff_max: Duration::from_secs(60 * 60),
            retry_budget: Duration::from_secs(24 * 60 * 60),
            credential_check_interval: Duration::from_secs(5 * 60),
        }
    }
}

/// One organisation's integration: its Dataverse client and mapping.
#[derive(Debug, Clone)]
pub struct Integration {
    pub org: OrgId,
    pub client: dataverse::Client,
    pub mapping: Mapping,
}

/// The integrations of this deployment, by organisation, and how relays behave.
#[derive(Debug, Clone)]
pub struct ListingSync {
    integrations: HashMap<OrgId, Arc<Integration>>,
    pub config: RelayConfig,
}

impl ListingSync {
    pub fn new(integrations: Vec<Integration>, config: RelayConfig) -> Self {
        ListingSync {
            integrations: integrations
                .into_iter()
                .map(|i| (i.org, Arc::new(i)))
                .collect(),
            config,
        }
    }

    pub fn integration(&self, org: OrgId) -> Option<&Arc<Integration>> {
        self.integrations.get(&org)
    }

    pub fn integrations(&self) -> impl Iterator<Item = &Arc<Integration>> {
        self.integrations.values()
    }
}

impl<S: MentorStore + OrgStore + ListingOutbox> Engine<S> {
    /// Force sync of one mentor: queued at high priority; the relay pushes it next.
    pub async fn force_sync(&self, user: &User, mentor: MentorId) -> Result<u64, EngineError> {
        self.mentor(user, mentor).await?;
        require(user, Permission::ManageMentors, own_organisation(user))?;
        Ok(self
            .store()
            .queue_sync(
                user.org_id,
                SyncSelection::Mentor(mentor),
                SyncPriority::High,
            )
            .await?)
    }

    /// Force sync of every linked mentor of the caller's organisation (admins).
    pub async fn force_sync_org(&self, user: &User) -> Result<u64, EngineError> {
        require(user, Permission::Administer, own_organisation(user))?;
        Ok(self
            .store()
            .queue_sync(user.org_id, SyncSelection::AllLinked, SyncPriority::High)
            .await?)
    }

    /// Put dead rows back in the queue: one mentor's, or the organisation's.
    pub async fn retry_dead_sync(
        &self,
        user: &User,
        mentor: Option<MentorId>,
    ) -> Result<u64, EngineError> {
        if let Some(mentor) = mentor {
            self.mentor(user, mentor).await?;
        }
        require(user, Permission::ManageMentors, own_organisation(user))?;
        Ok(self.store().retry_dead_sync(user.org_id, mentor).await?)
    }
}

impl<S> Engine<S> {
    /// Whether `org` has an integration in this deployment.
    pub fn sync_enabled(&self, org: OrgId) -> bool {
        self.listing()
            .is_some_and(|listing| listing.integration(org).is_some())
    }
}
