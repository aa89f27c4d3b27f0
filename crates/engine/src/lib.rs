//! Workflows of mentor-status, generic over the [`Store`](store::Store): they read, ask the domain
//! rules for a decision, and hand the store one unit of work. No SQL and no HTTP here.

pub mod access;
mod admin;
mod backlog;
mod backoff;
pub mod delivery;
mod error;
pub mod expiry;
mod health;
mod inbox;
mod input;
pub mod jobs;
mod mentors;
pub mod metrics;
mod notices;
mod org_clock;
mod orgs;
mod raise_alert;
mod requests;
pub mod scheduler;
pub mod sign_in;
pub mod sync;
mod transitions;
mod write_batcher;

pub use admin::{FeaturesView, SettingsInput, SettingsView};
pub use error::{EngineError, FieldError};
pub use input::{CertificationInput, ImportRow, ImportSummary, MentorInput, MentorPatchInput};
pub use jobs::Job;
pub use mentors::MentorSnapshot;
pub use org_clock::OrgClock;
pub use transitions::refusal_is_invalid_input;
pub use write_batcher::WriteBatcher;

use std::sync::Arc;

use domain::Clock;
use expiry::ExpiryConfig;
use store::{MentorChange, StoreResult};

/// The workflows, over one store and one clock. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Engine<S> {
    store: S,
    clock: OrgClock,
    expiry: Arc<ExpiryConfig>,
    writer: Option<WriteBatcher>,
    listing: Option<Arc<sync::ListingSync>>,
    org_labels: Arc<metrics::OrgLabels>,
}

impl<S: store::Store> Engine<S> {
    pub fn new(store: S, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock: OrgClock::new(clock),
            expiry: Arc::default(),
            writer: None,
            listing: None,
            org_labels: Arc::default(),
        }
    }

    /// Write user changes through a group-committing writer (see [`WriteBatcher`]); for servers.
    /// Must be called inside a Tokio runtime.
    pub fn with_batched_writes(self, max_batch: usize, writers: usize) -> Self {
        let writer = WriteBatcher::spawn(self.store.clone(), max_batch, writers);
        self.with_write_batcher(writer)
    }

    /// Write user changes through `writer`, a batching writer started elsewhere.
    pub fn with_write_batcher(mut self, writer: WriteBatcher) -> Self {
        self.writer = Some(writer);
        self
    }

    /// Use this configuration for the nightly run and its scheduler.
    pub fn with_expiry_config(mut self, config: ExpiryConfig) -> Self {
        self.expiry = Arc::new(config);
        self
    }

    /// Sync organisations' public listings through these integrations.
    pub fn with_listing_sync(mut self, listing: sync::ListingSync) -> Self {
        self.listing = Some(Arc::new(listing));
        self
    }
}

impl<S: store::ChangeStore> Engine<S> {
    /// Apply one user change, through the batching writer when there is one.
    pub(crate) async fn apply_user_change(&self, change: MentorChange) -> StoreResult<()> {
        match &self.writer {
            Some(writer) => writer.apply(change).await?.into_result(),
            None => self.store.apply_change(change).await,
        }
    }
}

/// What needs no store capability at all, so code bound on one capability can reach it too.
impl<S> Engine<S> {
    /// The listing sync's integrations, when any are configured.
    pub fn listing(&self) -> Option<&sync::ListingSync> {
        self.listing.as_deref()
    }

    pub fn expiry_config(&self) -> &ExpiryConfig {
        &self.expiry
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn clock(&self) -> &OrgClock {
        &self.clock
    }
}
