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

use chrono::{DateTime, Utc};
use store::DeliveryOutcome;
use tokio_util::sync::CancellationToken;

use crate::EngineError;
use crate::backoff::retry_delay;

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

impl SenderConfig {
    /// What a transient failure leads to: another attempt after a backoff, or dead once the retry
    /// budget, counted from the first failure, is spent. `first_failed_at` is stamped by the
    /// database's clock, which the system clock follows, so the budget is judged by the system
    /// clock — never by the engine's, which may be a rehearsal clock.
    pub(crate) fn after_transient_failure(
        &self,
        attempts: u32,
        first_failed_at: Option<DateTime<Utc>>,
        error: String,
    ) -> DeliveryOutcome {
        let failing_for = first_failed_at
            .and_then(|first| (Utc::now() - first).to_std().ok())
            .unwrap_or_default();
        if failing_for >= self.retry_budget {
            return DeliveryOutcome::Dead {
                error: format!(
                    "gave up after {} attempts over {} min: {error}",
                    attempts + 1,
                    failing_for.as_secs() / 60
                ),
            };
        }
        DeliveryOutcome::Retry {
            after: retry_delay(attempts, self.backoff_initial, self.backoff_max),
            error,
        }
    }

    /// Run `pass` (returning how many items it claimed) until cancelled: back to back while there
    /// is work, every `poll` when idle or after a failed pass.
    pub(crate) async fn run_passes<F, Fut>(&self, channel: &str, cancel: CancellationToken, pass: F)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<usize, EngineError>>,
    {
        while !cancel.is_cancelled() {
            let idle = match pass().await {
                Ok(claimed) => claimed == 0,
                Err(e) => {
                    tracing::warn!(channel, error = %e, "delivery pass failed; trying again");
                    true
                }
            };
            if idle {
                tokio::select! {
                    () = cancel.cancelled() => break,
                    () = tokio::time::sleep(self.poll) => {}
                }
            }
        }
    }
}
