//! Delivery beyond the application: notifications by email, alerts to the operations team by
//! webhook and email. Each channel drains an outbox the store keeps (written in the same transaction
//! as what it tells of), with leases, retries with backoff inside a time budget, and a dead state
//! that opens an alert. Every message has a stable id, so a resend after a crash is recognisable.

mod alert_queue;
mod email;
mod pacer;
pub mod templates;
mod webhook;

use std::time::Duration;

pub use alert_queue::AlertQueue;
pub use email::{
    EMAIL_DEAD_ALERT, EmailPassReport, EmailSender, Mailer, MailerConfig, MailerError,
};
pub use webhook::{WebhookPassReport, WebhookSender};

/// How a sender paces and retries (both channels).
#[derive(Debug, Clone)]
pub struct SenderConfig {
    /// Items claimed per pass.
    pub batch_size: u32,
    /// How long a claim keeps items from other senders.
    pub lease: Duration,
    /// How often an idle sender looks for work.
    pub poll: Duration,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// How long transient failures are retried, from the first, before the item is dead.
    pub retry_budget: Duration,
}

impl Default for SenderConfig {
    fn default() -> Self {
        SenderConfig {
            batch_size: 100,
            lease: Duration::from_secs(120),
            poll: Duration::from_secs(1),
            backoff_initial: Duration::from_secs(10),
            backoff_max: Duration::from_secs(30 * 60),
            retry_budget: Duration::from_secs(24 * 60 * 60),
        }
    }
}
