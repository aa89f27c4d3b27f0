//! Workflows of mentor-status, generic over the [`Store`](store::Store): they read, ask the domain
//! rules for a decision, and hand the store one unit of work. No SQL and no HTTP here.

mod admin;
mod error;
pub mod expiry;
mod input;
mod mentors;
mod notices;
mod org_clock;
pub mod scheduler;
mod transitions;

pub use admin::{FeaturesView, SettingsInput, SettingsView};
pub use error::{EngineError, FieldError};
pub use input::{CertificationInput, ImportRow, ImportSummary, MentorInput, MentorPatchInput};
pub use mentors::MentorSnapshot;
pub use org_clock::OrgClock;
pub use transitions::refusal_is_invalid_input;

use std::sync::Arc;

use domain::Clock;
use expiry::ExpiryConfig;

/// The workflows, over one store and one clock. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Engine<S> {
    store: S,
    clock: OrgClock,
    expiry: Arc<ExpiryConfig>,
}

impl<S: store::Store> Engine<S> {
    pub fn new(store: S, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock: OrgClock::new(clock),
            expiry: Arc::default(),
        }
    }

    /// Use this configuration for the nightly run and its scheduler.
    pub fn with_expiry_config(mut self, config: ExpiryConfig) -> Self {
        self.expiry = Arc::new(config);
        self
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
