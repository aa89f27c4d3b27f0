//! Pure rules of mentor-status: no I/O, no clocks read implicitly, no database.
//!
//! Everything here is a value or a function of values, so it can be tested exhaustively.

pub mod access;
pub mod business_date;
pub mod certification;
pub mod error;
pub mod ids;
pub mod locale;
pub mod redact;
pub mod reminders;
pub mod role;
pub mod status;
pub mod text;
pub mod transition;

pub use business_date::{Clock, FixedClock, OrgTimeZone, SystemClock, business_date};
pub use certification::{CertificationPeriod, days_left, is_valid_on};
pub use error::DomainError;
pub use ids::{CertificationId, MentorId, NotificationId, OrgId, UserId};
pub use locale::Locale;
pub use reminders::{ReminderDecision, Thresholds, reminder_decisions};
pub use role::Role;
pub use status::MentorStatus;
pub use text::{Email, FullName, OrgSlug, Phone, Reason, TextError};
pub use transition::{Action, ActionKind, Facts, Refusal, Transition, decide};
