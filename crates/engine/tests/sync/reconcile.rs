use serde_json::json;
use store::RunOutcome;
use store::prelude::*;
use testkit::TestBackend;

use crate::helpers::{VISIBLE, world};

async fn records_changed_behind_our_back_are_found_requeued_fixed_and_reported_as_drift<
    B: TestBackend,
>() {
    let w = world::<B>().await;
    let links = w.linked_mentors(6).await;
    w.drain().await;
    // Behind our back: two records hidden, one record deleted.
    w.sim.set_field(links[0].1, VISIBLE, json!(false));
    w.sim.set_field(links[4].1, VISIBLE, json!(false));
    w.sim.remove_contact(links[5].1);
    // A mentor with a change pending is left to the relay, not counted as drift.
    w.pause(links[3].0).await;

    let report = w.engine.run_listing_sync(&w.org).await.unwrap();
    assert_eq!(report.outcome, RunOutcome::Succeeded, "{:?}", report.error);
    assert_eq!(report.counts.checked, 5);
    assert_eq!(report.counts.drift, 2);
    assert_eq!(report.counts.missing_records, 1);
    assert_eq!(
        w.scalar("SELECT count(*) FROM reconciliation_log WHERE kind = 'listing_drift'")
            .await,
        2
    );
    assert_eq!(
        w.scalar("SELECT count(*) FROM reconciliation_log WHERE kind = 'record_missing'")
            .await,
        1
    );
    let status = w.engine.sync_status(&w.coordinator).await.unwrap();
    let drift = status.drift.unwrap();
    assert_eq!((drift.drift, drift.missing_records), (2, 1));

    // The relay fixes what was re-queued.
    w.drain().await;
    assert_eq!(w.visible(links[0].1), json!(true));
    assert_eq!(w.visible(links[4].1), json!(true));
    assert_eq!(w.visible(links[3].1), json!(false));
    let again = w.engine.run_listing_sync(&w.org).await.unwrap();
    assert_eq!(again.counts.drift, 0);
}

async fn the_nightly_sync_queues_mentors_whose_pushed_version_is_behind<B: TestBackend>() {
    let w = world::<B>().await;
    let links = w.linked_mentors(3).await;
    w.drain().await;
    // Rows lost (e.g. deleted by hand): the mentor is behind with nothing queued.
    w.pause(links[1].0).await;
    w.execute("DELETE FROM sync_outbox WHERE state = 'pending'")
        .await;
    let report = w.engine.run_listing_sync(&w.org).await.unwrap();
    assert_eq!(report.counts.queued, 1);
    w.drain().await;
    assert_eq!(w.visible(links[1].1), json!(false));
    assert_eq!(w.mentor_sync_state(links[1].0).await, "in_sync");
}

/// A clock that moves one millisecond forward each time it is read, so every recorded instant
/// tells the order the engine read them in.
#[derive(Debug)]
struct SteppingClock(std::sync::Mutex<chrono::DateTime<chrono::Utc>>);

impl domain::Clock for SteppingClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        let mut now = self.0.lock().unwrap();
        *now += chrono::Duration::milliseconds(1);
        *now
    }
}

async fn the_scheduler_runs_the_listing_sync_once_a_day_after_the_expiry_run<B: TestBackend>() {
    let w = world::<B>().await;
    w.linked_mentors(2).await;
    let clock = SteppingClock(std::sync::Mutex::new(w.engine.clock().now()));
    let engine =
        engine::Engine::new(w.store.clone(), std::sync::Arc::new(clock)).with_listing_sync(
            engine::sync::ListingSync::new(vec![(*w.integration).clone()], w.config.clone()),
        );
    let scheduler = engine::scheduler::Scheduler::new(engine, std::time::Duration::from_secs(1));
    scheduler.tick().await.unwrap();
    scheduler.tick().await.unwrap();
    // Once a day: two ticks, one run of each.
    let log = w.store.runs(w.org.id, 10, None).await.unwrap().items;
    let jobs: Vec<(&str, &str)> = log
        .iter()
        .map(|run| (run.job.as_str(), run.outcome.as_str()))
        .collect();
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    let expiry = log
        .iter()
        .find(|run| run.job == "expiry")
        .expect("an expiry run");
    let listing = log
        .iter()
        .find(|run| run.job == "listing_sync")
        .expect("a listing sync run");
    assert_eq!(
        (expiry.outcome, listing.outcome),
        (RunOutcome::Succeeded, RunOutcome::Succeeded)
    );
    // After: the listing sync started once the expiry run had finished.
    let expiry_finished = expiry.finished_at.expect("the expiry run finished");
    assert!(
        listing.started_at > expiry_finished,
        "listing sync started {} before the expiry run finished {expiry_finished}",
        listing.started_at
    );
    assert!(
        w.engine
            .sync_status(&w.coordinator)
            .await
            .unwrap()
            .last_credential_check
            .unwrap()
            .ok,
        "the scheduled run checked the credentials"
    );
}

testkit::on_both_backends!(
    records_changed_behind_our_back_are_found_requeued_fixed_and_reported_as_drift,
    the_nightly_sync_queues_mentors_whose_pushed_version_is_behind,
    the_scheduler_runs_the_listing_sync_once_a_day_after_the_expiry_run,
);
