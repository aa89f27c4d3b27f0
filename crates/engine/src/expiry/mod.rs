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

use crate::{Engine, EngineError};

/// The job name of the nightly run in the run log and the scheduler's claims.
pub const EXPIRY_JOB: &str = "expiry";

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

impl<S: Store> Engine<S> {
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
                Thresholds::parse(&values).map_err(|e| EngineError::invalid("thresholds_days", e))
            }
            None => Ok(config.thresholds.clone()),
        }
    }

    /// Run now for `org` as of `business_date` (CLI, backfill, tests). Always allowed: every effect is
    /// idempotent.
    pub async fn run_expiry(
        &self,
        org: &Org,
        business_date: NaiveDate,
    ) -> Result<RunReport, EngineError> {
        let run = self.new_run(org, business_date, RunTrigger::Manual);
        self.store().start_run(run.clone()).await?;
        self.execute_expiry(org, run).await
    }

    pub(crate) fn new_run(
        &self,
        org: &Org,
        business_date: NaiveDate,
        trigger: RunTrigger,
    ) -> NewRun {
        let at = self.clock().now();
        NewRun {
            id: RunId::new(),
            job: EXPIRY_JOB.to_owned(),
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
        let mut counts = RunCounts::default();
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
        let (outcome, error) = match &result {
            Ok(()) => (RunOutcome::Succeeded, None),
            Err(e) => (RunOutcome::Failed, Some(e.to_string())),
        };
        let finished = self
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
        counts.digests = finished.digests;
        if outcome == RunOutcome::Succeeded {
            counts.findings = self.compensation_check(org, run.id).await?;
        }
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
        self.renew_lease(run).await?;

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
        self.renew_lease(run).await?;

        let reminders = self
            .claim_reminders(org, run.id, today, &thresholds, worklist.reminders)
            .await?;
        counts.reminders_sent = reminders.sent;
        counts.reminders_skipped = reminders.skipped;

        counts.resume_notices = self
            .claim_resume_notices(org, run.id, today, worklist.resume_soon)
            .await?;
        Ok(())
    }

    async fn renew_lease(&self, run: &NewRun) -> Result<(), EngineError> {
        let until = self.clock().now() + self.expiry_config().lease;
        Ok(self.store().renew_run_lease(run.id, until).await?)
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
            .record_findings(org.id, run, findings, at)
            .await?;
        let opened = self
            .store()
            .open_alert(NewAlert {
                org: Some(org.id),
                kind: "duplicate_effects".to_owned(),
                severity: Severity::Critical,
                dedupe_key,
                summary: summary.clone(),
                at,
            })
            .await?;
        if opened.newly_opened {
            tracing::error!(org = %org.slug, %summary, "compensation check found duplicate effects");
        }
        Ok(count)
    }
}
