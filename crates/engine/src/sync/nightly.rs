//! The nightly listing sync, after the expiry run: check the credentials, queue every mentor whose
//! pushed version is behind (the relay pushes them), then reconcile — page through the remote records,
//! compare each with the desired state, re-queue the divergent ones (unless rows are pending anyway),
//! and record findings and the drift count in the run log.

use std::collections::{HashMap, HashSet};

use dataverse::PageRequest;
use domain::MentorId;
use metrics::counter;
use serde::Serialize;
use serde_json::{Map, Value};
use store::{
    Finding, NewRun, Org, RunCounts, RunFinish, RunId, RunOutcome, RunTrigger, Store, SyncPriority,
    SyncSelection,
};

use super::Integration;
use super::mapping::Mapping;
use crate::metrics::{SYNC_DRIFT, SYNC_MISSING_RECORDS, SYNC_THROTTLED};
use crate::{Engine, EngineError, Job};

/// How long confirmed outbox rows are kept (lag percentiles read the last day; the rest is history
/// for investigations).
const CONFIRMED_ROWS_KEPT: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

/// Records per page when reading the remote table (Dataverse's maximum is 5,000).
const RECONCILE_PAGE_SIZE: u32 = 5000;

#[derive(Debug, Clone, Serialize)]
pub struct NightlySyncReport {
    pub org: String,
    pub run_id: RunId,
    pub outcome: RunOutcome,
    pub counts: RunCounts,
    pub error: Option<String>,
}

impl<S: Store> Engine<S> {
    /// Run the listing sync for `org` now (CLI, tests); the scheduler claims its own runs.
    pub async fn run_listing_sync(&self, org: &Org) -> Result<NightlySyncReport, EngineError> {
        let today = self.clock().today(self.store(), org.id).await?;
        let run = self.new_run(Job::ListingSync, org, today, RunTrigger::Manual);
        self.store().start_run(run.clone()).await?;
        self.execute_listing_sync(org, run).await
    }

    /// Execute a recorded listing sync run and record how it ended.
    pub(crate) async fn execute_listing_sync(
        &self,
        org: &Org,
        run: NewRun,
    ) -> Result<NightlySyncReport, EngineError> {
        let started = std::time::Instant::now();
        let mut counts = RunCounts::default();
        let heartbeat = self.keep_lease(run.id);
        let result = match self.listing().and_then(|l| l.integration(org.id)) {
            Some(integration) => {
                self.listing_sync_steps(integration, run.id, &mut counts)
                    .await
            }
            None => Err(EngineError::invalid(
                "org",
                format!("{} has no Dynamics integration configured", org.slug),
            )),
        };
        heartbeat.abort();
        let (outcome, error) = match &result {
            Ok(()) => (RunOutcome::Succeeded, None),
            Err(e) => (RunOutcome::Failed, Some(e.to_string())),
        };
        self.store()
            .finish_run(RunFinish {
                run: run.id,
                outcome,
                counts,
                error: error.clone(),
                at: self.clock().now(),
                digest_for: None,
            })
            .await?;
        crate::metrics::run_finished(Job::ListingSync, outcome, started.elapsed());
        Ok(NightlySyncReport {
            org: org.slug.to_string(),
            run_id: run.id,
            outcome,
            counts,
            error,
        })
    }

    async fn listing_sync_steps(
        &self,
        integration: &Integration,
        run: RunId,
        counts: &mut RunCounts,
    ) -> Result<(), EngineError> {
        if let Err(error) = self.check_credentials(integration).await? {
            return Err(EngineError::Conflict(format!(
                "the credential check failed, nothing was pushed or compared: {error}"
            )));
        }
        counts.queued = self
            .store()
            .queue_sync(integration.org, SyncSelection::Behind, SyncPriority::Normal)
            .await?;
        let reconciled = self.reconcile(integration, Some(run)).await?;
        let pruned = self.store().prune_sync_outbox(CONFIRMED_ROWS_KEPT).await?;
        tracing::info!(org = %integration.org, pruned, "confirmed outbox rows pruned");
        counts.checked = reconciled.checked;
        counts.drift = reconciled.drift;
        counts.missing_records = reconciled.missing_records;
        counts.findings = reconciled.drift + reconciled.missing_records;
        Ok(())
    }

    /// Compare every linked mentor without pending rows with its remote record; re-queue the
    /// divergent, record findings.
    pub async fn reconcile(
        &self,
        integration: &Integration,
        run: Option<RunId>,
    ) -> Result<ReconcileCounts, EngineError> {
        let mapping = &integration.mapping;
        let targets: Vec<_> = self
            .store()
            .sync_targets(integration.org)
            .await?
            .into_iter()
            .filter(|t| !t.pending)
            .collect();
        let wanted: HashSet<String> = targets
            .iter()
            .map(|t| Mapping::lookup_key(&t.link))
            .collect();
        let org = self.org_label(integration.org).await;
        let remote = self.read_remote(integration, &wanted, &org).await?;
        let mut counts = ReconcileCounts {
            checked: targets.len() as u64,
            ..ReconcileCounts::default()
        };
        let mut findings = Vec::new();
        let mut divergent: Vec<(MentorId, i64)> = Vec::new();
        for target in &targets {
            let key = Mapping::lookup_key(&target.link);
            let Some(record) = remote.get(&key) else {
                counts.missing_records += 1;
                findings.push(Finding {
                    kind: "record_missing".to_owned(),
                    mentor_id: Some(target.mentor),
                    key,
                    count: 1,
                });
                continue;
            };
            let desired = mapping.desired(target.status, target.listed_publicly);
            let differences = mapping.differences(record, &desired);
            if !differences.is_empty() {
                counts.drift += 1;
                divergent.push((target.mentor, target.version));
                let shown: Vec<String> = differences
                    .iter()
                    .map(|(field, remote)| format!("{field}={remote} (want {})", desired[field]))
                    .collect();
                findings.push(Finding {
                    kind: "listing_drift".to_owned(),
                    mentor_id: Some(target.mentor),
                    key: shown.join(", "),
                    count: 1,
                });
            }
        }
        counts.requeued = self
            .store()
            .queue_sync(
                integration.org,
                SyncSelection::Divergent(divergent),
                SyncPriority::Normal,
            )
            .await?;
        if !findings.is_empty() {
            self.store()
                .record_findings(integration.org, run, findings, self.clock().now())
                .await?;
        }
        counter!(SYNC_DRIFT, "org" => org.clone()).increment(counts.drift);
        counter!(SYNC_MISSING_RECORDS, "org" => org).increment(counts.missing_records);
        tracing::info!(org = %integration.org, ?counts, "reconciliation finished");
        Ok(counts)
    }

    /// The remote records our mentors link to, by lookup key; other records are not kept.
    async fn read_remote(
        &self,
        integration: &Integration,
        wanted: &HashSet<String>,
        org: &str,
    ) -> Result<HashMap<String, Map<String, Value>>, EngineError> {
        let mapping = &integration.mapping;
        let mut found = HashMap::new();
        let mut request = Some(PageRequest::First {
            entity_set: mapping.entity_set.clone(),
            select: mapping.select(),
            filter: None,
            page_size: RECONCILE_PAGE_SIZE,
        });
        while let Some(next) = request.take() {
            let page = read_page_waiting_out_throttling(integration, &next, org).await?;
            for record in page.records {
                for key in mapping.record_lookup_keys(&record) {
                    if wanted.contains(&key) {
                        found.insert(key, record.clone());
                    }
                }
            }
            request = page.next;
        }
        Ok(found)
    }
}

/// How often one page read may be throttled before reconciliation gives up for tonight.
const MAX_THROTTLED_READS: usize = 20;

/// One page; a 429 is waited out (the client holds every request until `Retry-After` has passed).
async fn read_page_waiting_out_throttling(
    integration: &Integration,
    request: &PageRequest,
    org: &str,
) -> Result<dataverse::Page, EngineError> {
    let mut throttled = 0;
    loop {
        let read = integration.client.read_page(request).await;
        if let Err(dataverse::DataverseError::Throttled { .. }) = &read {
            counter!(SYNC_THROTTLED, "org" => org.to_owned()).increment(1);
        }
        match read {
            Ok(page) => return Ok(page),
            Err(dataverse::DataverseError::Throttled { .. }) if throttled < MAX_THROTTLED_READS => {
                throttled += 1
            }
            Err(e) => {
                return Err(EngineError::Conflict(format!(
                    "reading Dynamics failed: {e}"
                )));
            }
        }
    }
}

/// What a reconciliation found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReconcileCounts {
    pub checked: u64,
    pub drift: u64,
    pub missing_records: u64,
    pub requeued: u64,
}
