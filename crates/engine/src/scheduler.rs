//! The scheduler inside `serve`: on start and on every tick, each organisation whose local time is past
//! `run_at` and whose nightly run for today is not done gets it, once across all instances (the claim of
//! (job, organisation, business date) is a unique row). Missed nights are not replayed: a catch-up run
//! is simply today's run. A run whose instance died is taken over when its lease runs out.

use std::time::Duration;

use chrono::NaiveDate;
use domain::business_date;
use store::{Org, RunTrigger, Store};
use tokio_util::sync::CancellationToken;

use crate::expiry::RunReport;
use crate::{Engine, EngineError, Job};

/// How often the scheduler looks for due work.
pub const DEFAULT_TICK: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct Scheduler<S> {
    engine: Engine<S>,
    tick: Duration,
}

impl<S: Store> Scheduler<S> {
    pub fn new(engine: Engine<S>, tick: Duration) -> Self {
        Self { engine, tick }
    }

    /// Tick until `cancel` fires. Errors are logged, never fatal: the next tick tries again.
    pub async fn run(self, cancel: CancellationToken) {
        loop {
            if let Err(e) = self.tick().await {
                tracing::error!(error = %e, "scheduler tick failed");
            }
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(self.tick) => {}
            }
        }
        tracing::info!("scheduler stopped");
    }

    /// One look at every organisation; returns the runs this instance made.
    pub async fn tick(&self) -> Result<Vec<RunReport>, EngineError> {
        let engine = &self.engine;
        let now = engine.clock().now();
        let run_at = engine.expiry_config().run_at.time();
        let mut reports = Vec::new();
        for org in engine.store().orgs().await? {
            let local = now.with_timezone(&org.timezone.tz());
            if local.time() < run_at {
                continue;
            }
            let today = business_date(now, org.timezone);
            let run = engine.new_run(Job::Expiry, &org, today, RunTrigger::Scheduled);
            if engine.store().claim_scheduled_run(run.clone()).await? {
                match engine.execute_expiry(&org, run).await {
                    Ok(report) => reports.push(report),
                    // Recorded in the run log; the claim is retried once its lease runs out.
                    Err(e) => {
                        tracing::warn!(org = %org.slug, error = %e, "scheduled expiry run failed")
                    }
                }
            }
            self.listing_sync(&org, today).await?;
        }
        Ok(reports)
    }

    /// The nightly listing sync of an organisation with an integration, once a day across instances.
    async fn listing_sync(&self, org: &Org, today: NaiveDate) -> Result<(), EngineError> {
        let engine = &self.engine;
        if !engine.sync_enabled(org.id) {
            return Ok(());
        }
        let run = engine.new_run(Job::ListingSync, org, today, RunTrigger::Scheduled);
        if engine.store().claim_scheduled_run(run.clone()).await? {
            match engine.execute_listing_sync(org, run).await {
                Ok(report) if report.error.is_some() => {
                    tracing::warn!(org = %org.slug, error = ?report.error, "nightly listing sync failed")
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(org = %org.slug, error = %e, "nightly listing sync failed")
                }
            }
        }
        Ok(())
    }
}
