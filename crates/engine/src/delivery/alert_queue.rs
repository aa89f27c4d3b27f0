//! Turns alert events into deliveries: every `tick`, queue (once per alert and event) what the
//! operations channels must hear — an alert opened, still open a day later, resolved. The store's
//! unique keys make this safe to run in every instance and as often as wanted.

use std::time::Duration;

use domain::{Email, Locale};
use store::{AlertDeliveryPlan, Store};
use tokio_util::sync::CancellationToken;

use crate::{Engine, EngineError};

/// The operations team's channels.
#[derive(Debug, Clone)]
pub struct AlertQueue<S> {
    engine: Engine<S>,
    webhook: bool,
    email: Option<(Email, Locale)>,
    remind_after: chrono::Duration,
    tick: Duration,
}

impl<S: Store> AlertQueue<S> {
    pub fn new(
        engine: Engine<S>,
        webhook: bool,
        email: Option<(Email, Locale)>,
        remind_after: chrono::Duration,
        tick: Duration,
    ) -> Self {
        AlertQueue {
            engine,
            webhook,
            email,
            remind_after,
            tick,
        }
    }

    /// Queue what is due now; returns how many deliveries were queued.
    pub async fn queue_due(&self) -> Result<u64, EngineError> {
        Ok(self
            .engine
            .store()
            .queue_alert_deliveries(AlertDeliveryPlan {
                webhook: self.webhook,
                email: self.email.clone(),
                remind_after: self.remind_after,
                now: self.engine.clock().now(),
            })
            .await?)
    }

    pub async fn run(self, cancel: CancellationToken) {
        while !cancel.is_cancelled() {
            match self.queue_due().await {
                Ok(0) => {}
                Ok(queued) => tracing::info!(queued, "alert deliveries queued"),
                Err(e) => tracing::warn!(error = %e, "queueing alert deliveries failed"),
            }
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(self.tick) => {}
            }
        }
    }
}
