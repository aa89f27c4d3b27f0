//! Workflows of mentor-status, generic over the [`Store`](store::Store): they read, ask the domain
//! rules for a decision, and hand the store one unit of work. No SQL and no HTTP here.

mod error;
mod input;
mod mentors;
mod notices;
mod org_clock;
mod transitions;

pub use error::{EngineError, FieldError};
pub use input::{CertificationInput, ImportRow, ImportSummary, MentorInput, MentorPatchInput};
pub use mentors::MentorSnapshot;
pub use org_clock::OrgClock;
pub use transitions::refusal_is_invalid_input;

use std::sync::Arc;

use domain::Clock;

/// The workflows, over one store and one clock. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Engine<S> {
    store: S,
    clock: OrgClock,
}

impl<S: store::Store> Engine<S> {
    pub fn new(store: S, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock: OrgClock::new(clock),
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn clock(&self) -> &OrgClock {
        &self.clock
    }
}
