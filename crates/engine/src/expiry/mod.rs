//! The nightly certification expiry run: reminders, automatic transitions and resumes, the coordinator
//! digest, the run log and the compensation check. Every effect is idempotent, so running it twice,
//! or on three instances at once, changes nothing the second time.

mod config;
mod steps;

pub use config::{ExpiryConfig, RunAt};
pub use steps::{SystemAction, TransitionCounts};

use std::panic::AssertUnwindSafe;

use chrono::NaiveDate;
use domain::Thresholds;
use futures::FutureExt;
use serde::Serialize;
use store::{
    NewAlert, NewRun, Org, RunCounts, RunFinish, RunId, RunOutcome, RunTrigger, Severity, Store,
};

use crate::{Engine, EngineError, Job};
use store::OrgStore;

/// How long delivered emails and the notices of resolved alerts are kept (for investigations);
/// longer than any alert reminder interval, as pruning requires.
const DELIVERIES_KEPT: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

/// How often a finished run asks again for the digest while another run is alive.
const DIGEST_RETRY: std::time::Duration = std::time::Duration::from_millis(500);

/// What one run did.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub run_id: RunId,
    pub org: String,
    pub business_date: NaiveDate,
    pub outcome: RunOutcome,
    pub counts: RunCounts,
    pub error: Option<String>,
}

impl<S: OrgStore> Engine<S> {
    /// The reminder thresholds that apply to `org`.
    pub async fn effective_thresholds(&self, org: &Org) -> Result<Thresholds, EngineError> {
        let config = self.expiry_config();
        if !config.per_org_thresholds {
            return Ok(config.thresholds.clone());
        }
        let settings = self.store().org_settings(org.id).await?;
        match settings.thresholds_days {
            Some(days) => {
                let values: Vec<i64> = days.iter().map(|d| i64::from(*d)).collect();
                Thresholds::parse(&values)
                    .map_err(|e| EngineError::invalid("thresholds_days", e.to_string()))
            }
            None => Ok(config.thresholds.clone()),
        }
    }
}

impl<S: Store> Engine<S> {
    /// Run now for `org` as of `business_date` (CLI, backfill, tests). Always allowed: every effect is
    /// idempotent.
    pub async fn run_expiry(
        &self,
        org: &Org,
        business_date: NaiveDate,
    ) -> Result<RunReport, EngineError> {
        let run = self.new_run(Job::Expiry, org, business_date, RunTrigger::Manual);
        self.store().start_run(run.clone()).await?;
        self.execute_expiry(org, run).await
    }

    pub(crate) fn new_run(
        &self,
        job: Job,
        org: &Org,
        business_date: NaiveDate,
        trigger: RunTrigger,
    ) -> NewRun {
        let at = self.clock().now();
        NewRun {
            id: RunId::new(),
            job: job.as_str().to_owned(),
            org: org.id,
            business_date,
            trigger,
            instance: self.expiry_config().instance.clone(),
            lease_until: at + self.expiry_config().lease,
            at,
        }
    }

    /// Execute a recorded run and record how it ended. A panic inside the run is caught and recorded
    /// as a failure, so one bad run never takes the scheduler down.
    pub(crate) async fn execute_expiry(
        &self,
        org: &Org,
        run: NewRun,
    ) -> Result<RunReport, EngineError> {
        let started = std::time::Instant::now();
        let mut counts = RunCounts::default();
        let heartbeat = self.keep_lease(run.id);
        let result = AssertUnwindSafe(self.expiry_steps(org, &run, &mut counts))
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".to_owned());
                Err(EngineError::Conflict(format!(
                    "the run panicked: {message}"
                )))
            });
        heartbeat.abort();
        let (outcome, error) = match &result {
            Ok(()) => (RunOutcome::Succeeded, None),
            Err(e) => (RunOutcome::Failed, Some(e.to_string())),
        };
        let mut finished = self
            .store()
            .finish_run(RunFinish {
                run: run.id,
                outcome,
                counts,
                error: error.clone(),
                at: self.clock().now(),
                digest_for: (outcome == RunOutcome::Succeeded).then_some(run.business_date),
            })
            .await?;
        if finished.deferred {
            finished = self.await_digest(org, &run).await?;
        }
        counts.digests = finished.digests;
        if outcome == RunOutcome::Succeeded {
            counts.findings = self.compensation_check(org, run.id).await?;
        }
        crate::metrics::run_finished(Job::Expiry, outcome, started.elapsed());
        let report = RunReport {
            run_id: run.id,
            org: org.slug.to_string(),
            business_date: run.business_date,
            outcome,
            counts,
            error,
        };
        match result {
            Ok(()) => {
                tracing::info!(org = %org.slug, date = %run.business_date, ?counts, "expiry run finished");
                Ok(report)
            }
            Err(e) => {
                tracing::error!(org = %org.slug, date = %run.business_date, error = %e, "expiry run failed");
                Err(e)
            }
        }
    }

    async fn expiry_steps(
        &self,
        org: &Org,
        run: &NewRun,
        counts: &mut RunCounts,
    ) -> Result<(), EngineError> {
        let today = run.business_date;
        let thresholds = self.effective_thresholds(org).await?;
        let worklist = self
            .store()
            .expiry_worklist(
                org.id,
                today,
                thresholds.window(),
                self.expiry_config().resume_notice_days,
            )
            .await?;

        let expired = self
            .apply_system_transitions(
                org,
                run.id,
                today,
                SystemAction::Expire,
                worklist.lapsed_active,
            )
            .await?;
        counts.expired = expired.to_expired;
        counts.lost_races += expired.lost_races;

        let resumed = self
            .apply_system_transitions(
                org,
                run.id,
                today,
                SystemAction::AutoResume,
                worklist.resume_due,
            )
            .await?;
        counts.resumed = resumed.to_active;
        counts.resumed_into_expired = resumed.to_expired;
        counts.lost_races += resumed.lost_races;

        let reminders = self
            .claim_reminders(org, run.id, today, &thresholds, worklist.reminders)
            .await?;
        counts.reminders_sent = reminders.sent;
        counts.reminders_skipped = reminders.skipped;

        counts.resume_notices = self
            .claim_resume_notices(org, run.id, today, worklist.resume_soon)
            .await?;

        let pruned = self
            .store()
            .prune_delivery_outboxes(org.id, DELIVERIES_KEPT)
            .await?;
        tracing::info!(org = %org.slug, pruned, "old deliveries pruned");
        Ok(())
    }

    /// Renew the run's lease in the background while it works, so it stays short: a run whose
    /// process died is recognised as dead (and its scheduled claim taken over) within one lease.
    pub(crate) fn keep_lease(&self, run: RunId) -> tokio::task::JoinHandle<()> {
        let store = self.store().clone();
        let clock = self.clock().clone();
        let lease = self.expiry_config().lease;
        let every = (lease / 3)
            .to_std()
            .unwrap_or(std::time::Duration::from_secs(1));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                if let Err(e) = store.renew_run_lease(run, clock.now() + lease).await {
                    tracing::warn!(%run, error = %e, "could not renew the run's lease");
                }
            }
        })
    }

    /// This run finished while another of the same organisation was alive. That one normally finishes
    /// soon and writes the digest; if it died, its lease runs out and this run writes it. Waits at
    /// most one lease.
    async fn await_digest(
        &self,
        org: &Org,
        run: &NewRun,
    ) -> Result<store::FinishedRun, EngineError> {
        let give_up = tokio::time::Instant::now()
            + self.expiry_config().lease.to_std().unwrap_or_default()
            + DIGEST_RETRY;
        loop {
            tokio::time::sleep(DIGEST_RETRY).await;
            let finished = self
                .store()
                .write_digest(
                    org.id,
                    Job::Expiry.as_str(),
                    run.id,
                    run.business_date,
                    self.clock().now(),
                )
                .await?;
            if !finished.deferred || tokio::time::Instant::now() >= give_up {
                if finished.deferred {
                    tracing::info!(org = %org.slug, "another run is still alive; it writes the digest when it finishes");
                }
                return Ok(finished);
            }
        }
    }

    /// After every run: look for duplicate effects. Findings go to the reconciliation log and keep one
    /// alert open for the operations team; a clean check resolves it.
    async fn compensation_check(&self, org: &Org, run: RunId) -> Result<u64, EngineError> {
        let findings = self.store().find_duplicate_effects(org.id).await?;
        let dedupe_key = format!("duplicate_effects:{}", org.id);
        let at = self.clock().now();
        if findings.is_empty() {
            if self.store().resolve_alert(&dedupe_key, at).await?.is_some() {
                tracing::info!(org = %org.slug, "no duplicate effects any more; alert resolved");
            }
            return Ok(0);
        }
        let count = findings.len() as u64;
        let summary = format!(
            "{count} duplicate effect(s) in {}: {}",
            org.slug,
            findings
                .iter()
                .take(3)
                .map(|f| format!("{} ({})", f.kind, f.key))
                .collect::<Vec<_>>()
                .join(", ")
        );
        self.store()
            .record_findings(org.id, Some(run), findings, at)
            .await?;
        self.raise_alert(NewAlert {
            org: Some(org.id),
            kind: "duplicate_effects".to_owned(),
            severity: Severity::Critical,
            dedupe_key,
            summary,
            at,
        })
        .await?;
        Ok(count)
    }
}
