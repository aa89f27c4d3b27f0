//! The engine's Prometheus series, through the `metrics` facade: counters and histograms recorded
//! where things happen, and gauges read from the database by [`GaugeSampler`]. Nothing here
//! installs a recorder: a process that wants the numbers installs one (`serve` does); without one
//! every call is a no-op.
//!
//! Names carry the `mentor_status_` prefix and their unit; labels are low-cardinality (job, outcome,
//! action, status, organisation slug, alert kind): never a mentor id or an address.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use domain::{MentorStatus, OrgId, Transition};
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use store::{OutboxDepth, RunOutcome, Store};

use crate::{Engine, EngineError, Job};

pub const RUNS: &str = "mentor_status_runs_total";
pub const RUN_DURATION: &str = "mentor_status_run_duration_seconds";
pub const REMINDERS: &str = "mentor_status_reminders_total";
pub const TRANSITIONS: &str = "mentor_status_transitions_total";

pub const SYNC_OUTBOX_PENDING: &str = "mentor_status_sync_outbox_pending";
pub const SYNC_OUTBOX_DEAD: &str = "mentor_status_sync_outbox_dead";
pub const SYNC_OUTBOX_OLDEST_AGE: &str = "mentor_status_sync_outbox_oldest_pending_age_seconds";
pub const SYNC_RETRYING: &str = "mentor_status_sync_retrying_mentors";
pub const SYNC_CREDENTIALS_OK: &str = "mentor_status_sync_credentials_ok";
pub const SYNC_PUSHES: &str = "mentor_status_sync_pushes_total";
pub const SYNC_PUSH_LAG: &str = "mentor_status_sync_push_lag_seconds";
pub const SYNC_THROTTLED: &str = "mentor_status_sync_throttled_total";
pub const SYNC_CREDENTIAL_FAILURES: &str = "mentor_status_sync_credential_failures_total";
pub const SYNC_DRIFT: &str = "mentor_status_sync_drift_total";
pub const SYNC_MISSING_RECORDS: &str = "mentor_status_sync_missing_records_total";

pub const EMAIL_QUEUE_PENDING: &str = "mentor_status_email_queue_pending";
pub const EMAIL_QUEUE_DEAD: &str = "mentor_status_email_queue_dead";
pub const EMAIL_QUEUE_OLDEST_AGE: &str = "mentor_status_email_queue_oldest_pending_age_seconds";
pub const EMAILS: &str = "mentor_status_emails_total";
pub const WEBHOOK_QUEUE_PENDING: &str = "mentor_status_webhook_queue_pending";
pub const WEBHOOK_QUEUE_DEAD: &str = "mentor_status_webhook_queue_dead";
pub const WEBHOOK_QUEUE_OLDEST_AGE: &str = "mentor_status_webhook_queue_oldest_pending_age_seconds";
pub const WEBHOOK_POSTS: &str = "mentor_status_webhook_posts_total";

pub const ALERTS_OPEN: &str = "mentor_status_alerts_open";

/// Histogram buckets (seconds) for a whole run: from a re-run that changes nothing to a first night
/// over a million mentors.
pub const RUN_DURATION_BUCKETS: &[f64] = &[
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
];
/// Histogram buckets (seconds) for the listing sync's lag, commit → confirmed by Dynamics: a few
/// milliseconds when all is well, minutes to hours while throttled, retrying or paused.
pub const SYNC_PUSH_LAG_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0,
];

/// Register the engine's series with their help texts, and start the counters that have no
/// labels at zero (a counter appears in the output at its first increment).
pub fn describe() {
    describe_counter!(
        RUNS,
        "Runs of scheduled jobs (expiry, listing_sync) by job and outcome"
    );
    describe_histogram!(
        RUN_DURATION,
        metrics::Unit::Seconds,
        "How long a run took, by job and outcome"
    );
    describe_counter!(
        REMINDERS,
        "Certification reminders decided by the nightly run, by outcome (sent, skipped)"
    );
    describe_counter!(
        TRANSITIONS,
        "Status transitions applied, by action, new status and actor (user, system)"
    );
    describe_gauge!(
        SYNC_OUTBOX_PENDING,
        "Listing sync outbox rows waiting to be pushed (including retries), per organisation"
    );
    describe_gauge!(
        SYNC_OUTBOX_DEAD,
        "Listing sync outbox rows given up on (dead letters), per organisation"
    );
    describe_gauge!(
        SYNC_OUTBOX_OLDEST_AGE,
        metrics::Unit::Seconds,
        "Age of the oldest pending listing sync outbox row (0 when none), per organisation"
    );
    describe_gauge!(
        SYNC_RETRYING,
        "Mentors whose last push failed and will be retried, per organisation"
    );
    describe_gauge!(
        SYNC_CREDENTIALS_OK,
        "1 when the organisation's last Dynamics credential check succeeded, 0 when it failed"
    );
    describe_counter!(
        SYNC_PUSHES,
        "Mentors pushed by the listing sync relay, by organisation and outcome \
         (pushed, unlinked, retry, released, dead, not_found)"
    );
    describe_histogram!(
        SYNC_PUSH_LAG,
        metrics::Unit::Seconds,
        "Listing sync lag of confirmed outbox rows, from the change's commit to Dynamics' confirmation"
    );
    describe_counter!(
        SYNC_THROTTLED,
        "Requests to Dynamics answered 429 (a $batch with throttled operations counts once)"
    );
    describe_counter!(
        SYNC_CREDENTIAL_FAILURES,
        "Dynamics refusing the integration's credentials, by organisation and HTTP status (401, 403)"
    );
    describe_counter!(
        SYNC_DRIFT,
        "Remote records found differing from the desired state by reconciliation"
    );
    describe_counter!(
        SYNC_MISSING_RECORDS,
        "Linked mentors without a remote record, found by reconciliation"
    );
    describe_gauge!(
        EMAIL_QUEUE_PENDING,
        "Emails waiting to be sent (including retries)"
    );
    describe_gauge!(EMAIL_QUEUE_DEAD, "Emails given up on");
    describe_gauge!(
        EMAIL_QUEUE_OLDEST_AGE,
        metrics::Unit::Seconds,
        "Age of the oldest email waiting to be sent (0 when none)"
    );
    describe_counter!(
        EMAILS,
        "Email delivery attempts by outcome (sent, retried, dead)"
    );
    describe_gauge!(
        WEBHOOK_QUEUE_PENDING,
        "Alert webhook posts waiting to be sent (including retries)"
    );
    describe_gauge!(WEBHOOK_QUEUE_DEAD, "Alert webhook posts given up on");
    describe_gauge!(
        WEBHOOK_QUEUE_OLDEST_AGE,
        metrics::Unit::Seconds,
        "Age of the oldest alert webhook post waiting to be sent (0 when none)"
    );
    describe_counter!(
        WEBHOOK_POSTS,
        "Alert webhook posts by outcome (delivered, retried, dead)"
    );
    describe_gauge!(
        ALERTS_OPEN,
        "Open (unresolved) alerts of the organisations, by kind and severity"
    );
    for job in Job::ALL {
        for outcome in [RunOutcome::Succeeded, RunOutcome::Failed] {
            counter!(RUNS, "job" => job.as_str(), "outcome" => outcome.as_str()).increment(0);
        }
    }
    for outcome in ["sent", "skipped"] {
        counter!(REMINDERS, "outcome" => outcome).increment(0);
    }
    for outcome in ["sent", "retried", "dead"] {
        counter!(EMAILS, "outcome" => outcome).increment(0);
    }
    for outcome in ["delivered", "retried", "dead"] {
        counter!(WEBHOOK_POSTS, "outcome" => outcome).increment(0);
    }
}

/// A finished run of `job`.
pub(crate) fn run_finished(job: Job, outcome: RunOutcome, took: Duration) {
    let (job, outcome) = (job.as_str(), outcome.as_str());
    counter!(RUNS, "job" => job, "outcome" => outcome).increment(1);
    histogram!(RUN_DURATION, "job" => job, "outcome" => outcome).record(took.as_secs_f64());
}

pub(crate) fn reminders(sent: u64, skipped: u64) {
    counter!(REMINDERS, "outcome" => "sent").increment(sent);
    counter!(REMINDERS, "outcome" => "skipped").increment(skipped);
}

/// `count` applied transitions of one kind; `system` for the nightly run's.
pub(crate) fn transitions(transition: &Transition, system: bool, count: u64) {
    transitions_to(transition.action.as_str(), transition.to, system, count);
}

pub(crate) fn transitions_to(action: &'static str, to: MentorStatus, system: bool, count: u64) {
    if count == 0 {
        return;
    }
    let actor = if system { "system" } else { "user" };
    counter!(TRANSITIONS, "action" => action, "to" => to.as_str(), "actor" => actor)
        .increment(count);
}

pub(crate) fn emails(sent: usize, retried: usize, dead: usize) {
    counter!(EMAILS, "outcome" => "sent").increment(sent as u64);
    counter!(EMAILS, "outcome" => "retried").increment(retried as u64);
    counter!(EMAILS, "outcome" => "dead").increment(dead as u64);
}

pub(crate) fn webhook_posts(delivered: usize, retried: usize, dead: usize) {
    counter!(WEBHOOK_POSTS, "outcome" => "delivered").increment(delivered as u64);
    counter!(WEBHOOK_POSTS, "outcome" => "retried").increment(retried as u64);
    counter!(WEBHOOK_POSTS, "outcome" => "dead").increment(dead as u64);
}

/// Organisation slugs by id, for labels (slugs never change).
#[derive(Debug, Default)]
pub(crate) struct OrgLabels(Mutex<HashMap<OrgId, String>>);

impl<S: Store> Engine<S> {
    /// The organisation's slug as a metric label; its id when the database cannot say.
    pub(crate) async fn org_label(&self, org: OrgId) -> String {
        if let Some(slug) = self
            .org_labels
            .0
            .lock()
            .ok()
            .and_then(|m| m.get(&org).cloned())
        {
            return slug;
        }
        match self.store().org(org).await {
            Ok(found) => {
                let slug = found.slug.to_string();
                if let Ok(mut labels) = self.org_labels.0.lock() {
                    labels.insert(org, slug.clone());
                }
                slug
            }
            Err(_) => org.to_string(),
        }
    }
}

/// The gauges that come from the database: listing sync outbox and credential health per
/// organisation with an integration, both delivery outboxes, open alerts. `serve` samples every
/// few seconds and on each scrape of `/metrics`; samples never overlap.
#[derive(Debug, Clone)]
pub struct GaugeSampler<S> {
    engine: Engine<S>,
    state: Arc<tokio::sync::Mutex<SamplerState>>,
}

#[derive(Debug, Default)]
struct SamplerState {
    /// Label sets of open-alert gauges set so far: ones no longer open go back to 0.
    alert_kinds: HashSet<(String, &'static str)>,
    last: Option<std::time::Instant>,
}

/// Alerts read per page when counting the open ones.
const ALERT_PAGE: u32 = 200;

impl<S: Store> GaugeSampler<S> {
    pub fn new(engine: Engine<S>) -> Self {
        GaugeSampler {
            engine,
            state: Arc::default(),
        }
    }

    /// Sample unless the last sample is younger than `max_age` (scrapes close together share one).
    pub async fn refresh(&self, max_age: Duration) -> Result<(), EngineError> {
        let mut state = self.state.lock().await;
        if state.last.is_some_and(|last| last.elapsed() < max_age) {
            return Ok(());
        }
        self.sample_into(&mut state).await?;
        state.last = Some(std::time::Instant::now());
        Ok(())
    }

    /// Read the database once and set every gauge.
    pub async fn sample(&self) -> Result<(), EngineError> {
        self.refresh(Duration::ZERO).await
    }

    async fn sample_into(&self, state: &mut SamplerState) -> Result<(), EngineError> {
        let seen = &mut state.alert_kinds;
        let engine = &self.engine;
        let now = engine.clock().now();
        let age = |oldest: Option<chrono::DateTime<chrono::Utc>>| {
            oldest.map_or(0.0, |at| {
                (now - at).num_milliseconds().max(0) as f64 / 1000.0
            })
        };
        let orgs = engine.store().orgs().await?;
        let mut open: HashMap<(String, &'static str), f64> = HashMap::new();
        for org in &orgs {
            let slug = org.slug.to_string();
            if engine.sync_enabled(org.id) {
                // A zero window: the lag percentiles are not needed here (the histogram has them).
                let sync = engine.store().sync_status(org.id, Duration::ZERO).await?;
                gauge!(SYNC_OUTBOX_PENDING, "org" => slug.clone()).set(sync.pending as f64);
                gauge!(SYNC_OUTBOX_DEAD, "org" => slug.clone()).set(sync.dead as f64);
                gauge!(SYNC_RETRYING, "org" => slug.clone()).set(sync.retrying as f64);
                gauge!(SYNC_OUTBOX_OLDEST_AGE, "org" => slug.clone())
                    .set(age(sync.oldest_pending_at));
                if let Some(check) = &sync.last_credential_check {
                    gauge!(SYNC_CREDENTIALS_OK, "org" => slug.clone()).set(if check.ok {
                        1.0
                    } else {
                        0.0
                    });
                }
                // Counters of an integration start at zero, so rates and alerts work from the start.
                for outcome in [
                    "pushed",
                    "unlinked",
                    "retry",
                    "released",
                    "dead",
                    "not_found",
                ] {
                    counter!(SYNC_PUSHES, "org" => slug.clone(), "outcome" => outcome).increment(0);
                }
                counter!(SYNC_THROTTLED, "org" => slug.clone()).increment(0);
                for status in ["401", "403"] {
                    counter!(SYNC_CREDENTIAL_FAILURES, "org" => slug.clone(), "status" => status)
                        .increment(0);
                }
                counter!(SYNC_DRIFT, "org" => slug.clone()).increment(0);
                counter!(SYNC_MISSING_RECORDS, "org" => slug.clone()).increment(0);
            }
            let mut before = None;
            loop {
                let page = engine
                    .store()
                    .alerts(org.id, true, ALERT_PAGE, before)
                    .await?;
                for alert in &page.items {
                    *open
                        .entry((alert.kind.clone(), alert.severity.as_str()))
                        .or_default() += 1.0;
                }
                match page.next {
                    Some(next) => before = Some(next),
                    None => break,
                }
            }
        }
        for (kind, severity) in seen.iter() {
            if !open.contains_key(&(kind.clone(), *severity)) {
                gauge!(ALERTS_OPEN, "kind" => kind.clone(), "severity" => *severity).set(0.0);
            }
        }
        for ((kind, severity), count) in open {
            gauge!(ALERTS_OPEN, "kind" => kind.clone(), "severity" => severity).set(count);
            seen.insert((kind, severity));
        }
        let delivery = engine.store().delivery_status().await?;
        let set_depth = |depth: &OutboxDepth, pending: &'static str, dead, oldest| {
            gauge!(pending).set(depth.pending as f64);
            gauge!(dead).set(depth.dead as f64);
            gauge!(oldest).set(age(depth.oldest_pending_at));
        };
        set_depth(
            &delivery.email,
            EMAIL_QUEUE_PENDING,
            EMAIL_QUEUE_DEAD,
            EMAIL_QUEUE_OLDEST_AGE,
        );
        set_depth(
            &delivery.webhook,
            WEBHOOK_QUEUE_PENDING,
            WEBHOOK_QUEUE_DEAD,
            WEBHOOK_QUEUE_OLDEST_AGE,
        );
        Ok(())
    }
}
