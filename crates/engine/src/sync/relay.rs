//! The outbox relay of one organisation: claim due mentors with a lease, push each one's CURRENT
//! desired state (one `$batch` per claim), record what happened, repeat. Woken by the store's
//! wake-ups, polling as the fallback.
//!
//! Failure handling: a 429 makes the whole client wait out `Retry-After` and costs no
//! attempt; transient failures retry with backoff and jitter within a time budget, then the rows are
//! dead and an alert opens; a refused credential pauses this relay and opens the credentials alert
//! at once, and pushing resumes when a check succeeds; a missing remote record is a finding and an
//! alert, never a retry loop; any other refusal is dead at once. Each mentor's result is its own, so
//! one bad mentor never holds up the others.

use std::sync::Arc;
use std::time::Duration;

use dataverse::{DataverseError, RecordKey, Update};
use domain::MentorId;
use serde_json::{Map, Value};
use store::{
    ClaimedMentor, DeadReason, Finding, Store, SyncClaim, SyncOutcome, SyncResult, SyncWakeups,
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::alerts::SyncAlert;
use super::{Integration, RelayConfig};
use crate::backoff::retry_delay;
use crate::{Engine, EngineError};

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PassReport {
    pub claimed: usize,
    pub pushed: usize,
    pub unlinked: usize,
    pub retried: usize,
    pub dead: usize,
    pub not_found: usize,
    /// Put back without an attempt (throttled, or credentials refused).
    pub released: usize,
    pub credentials_refused: bool,
    /// Sync lag of every confirmed outbox row, from its commit to the push's confirmation.
    pub lag_ms: Vec<i64>,
    /// What became of each claimed mentor, in claim order.
    pub outcomes: Vec<(MentorId, MentorOutcome)>,
}

/// What one pass did with one mentor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MentorOutcome {
    Pushed,
    Unlinked,
    /// Failed; the relay tries again after a backoff. The error says why.
    Retried(String),
    /// Given up (a permanent refusal, or the retry budget spent) until someone retries it.
    Dead(String),
    /// The remote record does not exist.
    NotFound(String),
    /// Put back without an attempt: throttled, or the credentials were refused.
    Released,
}

impl PassReport {
    /// Mentors that failed in these passes: retried later, dead, or without a remote record. (Released
    /// ones were throttled or refused before trying, and are claimed again.)
    pub fn failed(&self) -> usize {
        self.retried + self.dead + self.not_found
    }

    /// Add a later pass's counts to these.
    pub fn absorb(&mut self, pass: PassReport) {
        self.claimed += pass.claimed;
        self.pushed += pass.pushed;
        self.unlinked += pass.unlinked;
        self.retried += pass.retried;
        self.dead += pass.dead;
        self.not_found += pass.not_found;
        self.released += pass.released;
        self.credentials_refused |= pass.credentials_refused;
        self.lag_ms.extend(pass.lag_ms);
        self.outcomes.extend(pass.outcomes);
    }
}

#[derive(Debug, Clone)]
pub struct Relay<S> {
    pub(super) engine: Engine<S>,
    pub(super) integration: Arc<Integration>,
    pub(super) config: RelayConfig,
    pub(super) owner: Uuid,
}

impl<S: Store> Relay<S> {
    pub fn new(
        engine: Engine<S>,
        integration: Arc<Integration>,
        config: RelayConfig,
        owner: Uuid,
    ) -> Self {
        Relay {
            engine,
            integration,
            config,
            owner,
        }
    }

    /// Push until `cancel` fires. Errors are logged and retried after a poll interval, never fatal.
    pub async fn run(self, cancel: CancellationToken) {
        let org = self.integration.org;
        let mut wakeups = match self.engine.store().sync_wakeups().await {
            Ok(wakeups) => Some(wakeups),
            Err(error) => {
                tracing::warn!(%org, %error, "no relay wake-ups; polling only");
                None
            }
        };
        let mut paused_on_credentials = false;
        tracing::info!(%org, owner = %self.owner, "listing sync relay started");
        while !cancel.is_cancelled() {
            if paused_on_credentials {
                if !sleep_or_cancel(self.config.credential_check_interval, &cancel).await {
                    break;
                }
                match self.engine.check_credentials(&self.integration).await {
                    Ok(Ok(_)) => {
                        tracing::info!(%org, "credentials work again; pushing resumes");
                        paused_on_credentials = false;
                    }
                    Ok(Err(_)) => continue,
                    Err(error) => {
                        tracing::warn!(%org, %error, "credential check could not be recorded");
                        continue;
                    }
                }
            }
            match self.pass().await {
                Ok(report) if report.credentials_refused => paused_on_credentials = true,
                Ok(report) if report.claimed > 0 => {}
                Ok(_) => {
                    if !self.wait_for_work(wakeups.as_mut(), &cancel).await {
                        break;
                    }
                }
                Err(error) => {
                    tracing::warn!(%org, %error, "relay pass failed; retrying after the poll interval");
                    if !sleep_or_cancel(self.config.poll_interval, &cancel).await {
                        break;
                    }
                }
            }
        }
        tracing::info!(%org, "listing sync relay stopped");
    }

    /// Until a wake-up, the poll interval, or cancellation (then `false`).
    async fn wait_for_work(
        &self,
        wakeups: Option<&mut SyncWakeups>,
        cancel: &CancellationToken,
    ) -> bool {
        let woken = async {
            match wakeups {
                Some(wakeups) => {
                    if wakeups.changed().await.is_err() {
                        // The listener is gone; polling carries on.
                        std::future::pending::<()>().await
                    }
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = cancel.cancelled() => false,
            () = woken => true,
            () = tokio::time::sleep(self.config.poll_interval) => true,
        }
    }

    /// One claim, one push, one record.
    pub async fn pass(&self) -> Result<PassReport, EngineError> {
        let engine = &self.engine;
        let org = self.integration.org;
        let claimed = engine
            .store()
            .claim_sync(SyncClaim {
                org,
                owner: self.owner,
                limit: self.integration.client.batch_size(),
                lease: self.config.lease,
            })
            .await?;
        self.push_claimed(claimed).await
    }

    /// Push the mentors this relay has leased, record what happened (ending the leases), count it
    /// and raise the alerts it calls for.
    pub(super) async fn push_claimed(
        &self,
        claimed: Vec<ClaimedMentor>,
    ) -> Result<PassReport, EngineError> {
        let engine = &self.engine;
        let org = self.integration.org;
        let mut report = PassReport {
            claimed: claimed.len(),
            ..PassReport::default()
        };
        if claimed.is_empty() {
            return Ok(report);
        }
        let outcomes = self.push(&claimed).await;
        // One pass is one request (a single PATCH or one `$batch`): throttled at most once.
        let throttled = outcomes
            .iter()
            .any(|o| matches!(o, Pushed::Failed(Failure::Throttled)));
        let mut results = Vec::with_capacity(claimed.len());
        let mut findings = Vec::new();
        let mut last_dead_error = None;
        let mut refused_detail = None;
        for (mentor, outcome) in claimed.iter().zip(outcomes) {
            let outcome = match outcome {
                Pushed::Yes => SyncOutcome::Pushed {
                    version: mentor.version,
                },
                Pushed::Unlinked => SyncOutcome::Unlinked {
                    version: mentor.version,
                },
                Pushed::Failed(error) => self.failure_outcome(mentor, error, &mut refused_detail),
            };
            let counted = match &outcome {
                SyncOutcome::Pushed { .. } => {
                    report.pushed += 1;
                    MentorOutcome::Pushed
                }
                SyncOutcome::Unlinked { .. } => {
                    report.unlinked += 1;
                    MentorOutcome::Unlinked
                }
                SyncOutcome::Retry { error, .. } => {
                    report.retried += 1;
                    MentorOutcome::Retried(error.clone())
                }
                SyncOutcome::Released { .. } => {
                    report.released += 1;
                    MentorOutcome::Released
                }
                SyncOutcome::Dead {
                    reason: DeadReason::NotFound,
                    error,
                    ..
                } => {
                    report.not_found += 1;
                    findings.push(Finding {
                        kind: "record_not_found".to_owned(),
                        mentor_id: Some(mentor.mentor),
                        key: error.clone(),
                        count: 1,
                    });
                    MentorOutcome::NotFound(error.clone())
                }
                SyncOutcome::Dead { error, .. } => {
                    report.dead += 1;
                    last_dead_error = Some(error.clone());
                    MentorOutcome::Dead(error.clone())
                }
            };
            report.outcomes.push((mentor.mentor, counted));
            results.push(SyncResult {
                mentor: mentor.mentor,
                outcome,
            });
        }
        let recorded = engine
            .store()
            .record_sync_results(org, self.owner, results)
            .await?;
        report.lag_ms = recorded.confirmed_lag_ms;
        report.credentials_refused = refused_detail.is_some();
        self.record_metrics(&report, throttled).await;
        self.raise_alerts(&report, findings, last_dead_error, refused_detail)
            .await?;
        tracing::debug!(%org, ?report, "relay pass");
        Ok(report)
    }

    async fn record_metrics(&self, report: &PassReport, throttled: bool) {
        use crate::metrics::{
            SYNC_CREDENTIAL_FAILURES, SYNC_PUSH_LAG, SYNC_PUSHES, SYNC_THROTTLED,
        };
        use metrics::{counter, histogram};
        let org = self.engine.org_label(self.integration.org).await;
        for (outcome, count) in [
            ("pushed", report.pushed),
            ("unlinked", report.unlinked),
            ("retry", report.retried),
            ("released", report.released),
            ("dead", report.dead),
            ("not_found", report.not_found),
        ] {
            counter!(SYNC_PUSHES, "org" => org.clone(), "outcome" => outcome)
                .increment(count as u64);
        }
        let lag = histogram!(SYNC_PUSH_LAG, "org" => org.clone());
        for ms in &report.lag_ms {
            lag.record(*ms as f64 / 1000.0);
        }
        if throttled {
            counter!(SYNC_THROTTLED, "org" => org.clone()).increment(1);
        }
        if report.credentials_refused {
            // The relay classifies only 401 as refused credentials (403 is a permanent failure).
            counter!(SYNC_CREDENTIAL_FAILURES, "org" => org, "status" => "401").increment(1);
        }
    }

    /// Push every linked mentor's desired state: one request for one mentor, a `$batch` for more.
    async fn push(&self, claimed: &[ClaimedMentor]) -> Vec<Pushed> {
        let mapping = &self.integration.mapping;
        let client = &self.integration.client;
        // `None` marks a mentor whose update is sent below; the results fill those slots in order.
        let mut outcomes: Vec<Option<Pushed>> = Vec::with_capacity(claimed.len());
        let mut updates = Vec::new();
        for mentor in claimed {
            let Some(link) = &mentor.link else {
                outcomes.push(Some(Pushed::Unlinked));
                continue;
            };
            match mapping.key(link) {
                Ok(key) => {
                    let fields = mapping.desired(mentor.status, mentor.listed_publicly);
                    if mentor.recovered && self.already_shows(&key, &fields).await {
                        outcomes.push(Some(Pushed::Yes));
                        continue;
                    }
                    updates.push(Update { key, fields });
                    outcomes.push(None);
                }
                Err(message) => {
                    outcomes.push(Some(Pushed::Failed(Failure::Configuration(message))))
                }
            }
        }
        let results: Vec<Pushed> = match updates.as_slice() {
            [] => Vec::new(),
            [single] => vec![Pushed::from(
                client
                    .update(&mapping.entity_set, &single.key, &single.fields)
                    .await,
            )],
            many => match client.update_batch(&mapping.entity_set, many).await {
                Ok(results) => results.into_iter().map(Pushed::from).collect(),
                // The whole request failed: every update in it shares that failure.
                Err(error) => vec![Pushed::Failed(Failure::from(&error)); many.len()],
            },
        };
        let mut results = results.into_iter();
        outcomes
            .into_iter()
            .map(|outcome| {
                outcome.unwrap_or_else(|| {
                    results.next().unwrap_or_else(|| {
                        Pushed::Failed(Failure::Transient(
                            "the batch response had fewer results than operations".to_owned(),
                        ))
                    })
                })
            })
            .collect()
    }

    /// Whether the remote record already shows `fields`: asked only for a mentor whose previous
    /// relay died mid-push, so the write it may have landed is not made twice. Any doubt (the read
    /// failed) means write.
    async fn already_shows(&self, key: &RecordKey, fields: &Map<String, Value>) -> bool {
        let mapping = &self.integration.mapping;
        let select: Vec<String> = fields.keys().cloned().collect();
        match self
            .integration
            .client
            .retrieve(&mapping.entity_set, key, &select)
            .await
        {
            Ok(record) => mapping.differences(&record, fields).is_empty(),
            Err(error) => {
                tracing::debug!(%error, "could not read a recovered record; writing it");
                false
            }
        }
    }

    fn failure_outcome(
        &self,
        mentor: &ClaimedMentor,
        failure: Failure,
        refused_detail: &mut Option<String>,
    ) -> SyncOutcome {
        // The client holds every request until a Retry-After has passed, and a relay paused on
        // credentials claims nothing: the rows can be due again at once.
        let at_once = Duration::ZERO;
        match failure {
            Failure::Throttled => SyncOutcome::Released { after: at_once },
            Failure::CredentialsRefused(detail) => {
                *refused_detail = Some(detail);
                SyncOutcome::Released { after: at_once }
            }
            Failure::NotFound(detail) => SyncOutcome::Dead {
                version: mentor.version,
                reason: DeadReason::NotFound,
                error: detail,
            },
            Failure::Permanent(detail) | Failure::Configuration(detail) => SyncOutcome::Dead {
                version: mentor.version,
                reason: DeadReason::Failed,
                error: detail,
            },
            Failure::Transient(detail) => {
                let budget_spent = mentor
                    .failing_for
                    .is_some_and(|failing| failing >= self.config.retry_budget);
                if budget_spent {
                    SyncOutcome::Dead {
                        version: mentor.version,
                        reason: DeadReason::Failed,
                        error: format!(
                            "gave up after retrying for {} h: {detail}",
                            self.config.retry_budget.as_secs() / 3600
                        ),
                    }
                } else {
                    SyncOutcome::Retry {
                        error: detail,
                        after: retry_delay(
                            mentor.attempts,
                            self.config.backoff_initial,
                            self.config.backoff_max,
                        ),
                    }
                }
            }
        }
    }

    async fn raise_alerts(
        &self,
        report: &PassReport,
        findings: Vec<Finding>,
        last_dead_error: Option<String>,
        refused_detail: Option<String>,
    ) -> Result<(), EngineError> {
        let engine = &self.engine;
        let org = self.integration.org;
        if let Some(detail) = refused_detail {
            engine
                .credentials_refused(&self.integration, &detail)
                .await?;
        }
        if let Some(error) = last_dead_error {
            engine
                .open_sync_alert(
                    org,
                    SyncAlert::DeadLetters,
                    format!(
                        "{} mentor(s) could not be synced to the public listing and were given up \
                         (last error: {error}); retry them from the sync health page once fixed",
                        report.dead
                    ),
                )
                .await?;
        }
        if !findings.is_empty() {
            let summary = format!(
                "{} linked mentor(s) have no record in Dynamics (first: {})",
                findings.len(),
                findings[0].key
            );
            engine
                .store()
                .record_findings(org, None, findings, engine.clock().now())
                .await?;
            engine
                .open_sync_alert(org, SyncAlert::RecordNotFound, summary)
                .await?;
        }
        Ok(())
    }
}

/// What pushing one mentor did.
#[derive(Clone)]
enum Pushed {
    Yes,
    Unlinked,
    Failed(Failure),
}

/// A failed push, classified for the relay.
#[derive(Debug, Clone)]
enum Failure {
    Throttled,
    CredentialsRefused(String),
    NotFound(String),
    Transient(String),
    Permanent(String),
    /// Our own configuration cannot address the record.
    Configuration(String),
}

impl From<Result<(), DataverseError>> for Pushed {
    fn from(result: Result<(), DataverseError>) -> Self {
        match result {
            Ok(()) => Pushed::Yes,
            Err(error) => Pushed::Failed(Failure::from(&error)),
        }
    }
}

impl From<&DataverseError> for Failure {
    fn from(error: &DataverseError) -> Self {
        match error {
            DataverseError::Throttled { .. } => Failure::Throttled,
            DataverseError::Unauthorized { .. } => Failure::CredentialsRefused(error.to_string()),
            DataverseError::NotFound { .. } => Failure::NotFound(error.to_string()),
            DataverseError::Transient { .. } => Failure::Transient(error.to_string()),
            DataverseError::Forbidden { .. } | DataverseError::Permanent { .. } => {
                Failure::Permanent(error.to_string())
            }
        }
    }
}

/// `false` when cancelled first.
async fn sleep_or_cancel(duration: Duration, cancel: &CancellationToken) -> bool {
    tokio::select! {
        () = cancel.cancelled() => false,
        () = tokio::time::sleep(duration) => true,
    }
}
