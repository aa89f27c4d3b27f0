use std::time::Duration;

use dataverse_sim::RateLimit;
use serde_json::json;
use testkit::TestBackend;

use crate::helpers::{test_relay_config, world, world_with};

async fn a_429_storm_sends_nothing_during_retry_after_costs_no_attempt_and_converges<
    B: TestBackend,
>() {
    let w = world_with::<B>(test_relay_config(), |client| client.batch_size = 5).await;
    let links = w.linked_mentors(40).await;
    w.sim.faults().set_rate_limit(Some(RateLimit {
        requests: 3,
        window: Duration::from_secs(1),
    }));
    let (cancel, task) = w.spawn_relay();
    w.all_listed(&links, 60).await;
    cancel.cancel();
    task.await.unwrap();
    let stats = w.sim.stats();
    assert!(
        stats.throttled_responses > 0,
        "the storm happened: {stats:?}"
    );
    assert_eq!(stats.requests_during_retry_after, 0, "{stats:?}");
    assert_eq!(
        w.scalar("SELECT COALESCE(sum(attempts), 0) FROM mentor_sync")
            .await,
        0
    );
    assert_eq!(
        w.scalar("SELECT COALESCE(sum(attempts), 0) FROM sync_outbox")
            .await,
        0
    );
    assert_eq!(
        w.scalar("SELECT count(*) FROM sync_outbox WHERE state <> 'done'")
            .await,
        0
    );
}

async fn with_30_percent_server_errors_and_timeouts_every_mentor_converges_and_none_is_dead<
    B: TestBackend,
>() {
    // Batches of two: enough requests (and retries) that both faults surely happen (the chance that
    // no request of ~40 times out at a 15 % share is below 0.2 %).
    let w = world_with::<B>(test_relay_config(), |client| {
        client.batch_size = 2;
        client.request_timeout = Duration::from_millis(300);
    })
    .await;
    let links = w.linked_mentors(60).await;
    let faults = w.sim.faults();
    faults.set_server_error_share(0.3);
    faults.set_batch_error_share(0.1);
    faults.set_timeout_share(0.15);
    faults.set_timeout_hang(Duration::from_secs(1));
    let (cancel, task) = w.spawn_relay();
    w.all_listed(&links, 60).await;
    cancel.cancel();
    task.await.unwrap();
    let stats = w.sim.stats();
    assert!(stats.server_errors > 0 && stats.timeouts > 0, "{stats:?}");
    assert_eq!(
        w.scalar("SELECT count(*) FROM sync_outbox WHERE state = 'dead'")
            .await,
        0
    );
    assert_eq!(
        w.scalar("SELECT count(*) FROM alerts WHERE kind = 'sync_dead_letters'")
            .await,
        0
    );
}

async fn transient_failures_past_the_retry_budget_are_dead_with_one_alert<B: TestBackend>() {
    let config = engine::sync::RelayConfig {
        retry_budget: Duration::from_millis(200),
        ..test_relay_config()
    };
    let w = world_with::<B>(config, |_| {}).await;
    let links = w.linked_mentors(2).await;
    w.sim.faults().set_server_error_share(1.0);
    let mut dead = 0;
    for _ in 0..40 {
        dead += w.drain().await.dead;
        if dead == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    assert_eq!(dead, 2);
    for (mentor, _) in &links {
        assert_eq!(w.mentor_sync_state(*mentor).await, "dead");
    }
    assert_eq!(
        w.scalar(
            "SELECT count(*) FROM alerts WHERE kind = 'sync_dead_letters' AND resolved_at IS NULL"
        )
        .await,
        1
    );
    // Fixed and retried from the sync health page: they converge.
    w.sim.faults().clear();
    let retried = w
        .engine
        .retry_dead_sync(&w.coordinator, None)
        .await
        .unwrap();
    assert_eq!(retried, 2);
    assert_eq!(w.drain().await.pushed, 2);
    for (mentor, contact) in &links {
        assert_eq!(w.visible(*contact), json!(true));
        assert_eq!(w.mentor_sync_state(*mentor).await, "in_sync");
    }
}

async fn a_missing_contact_flags_its_mentor_and_all_others_sync<B: TestBackend>() {
    let w = world::<B>().await;
    let links = w.linked_mentors(6).await;
    let (gone_mentor, gone_contact) = links[2];
    w.sim.remove_contact(gone_contact);
    let report = w.drain().await;
    assert_eq!((report.pushed, report.not_found), (5, 1), "{report:?}");
    assert!(
        w.sim.contact(gone_contact).is_none(),
        "never created (If-Match: *)"
    );
    for (mentor, contact) in links.iter().filter(|(m, _)| *m != gone_mentor) {
        assert_eq!(w.visible(*contact), json!(true));
        assert_eq!(w.mentor_sync_state(*mentor).await, "in_sync");
    }
    assert_eq!(w.mentor_sync_state(gone_mentor).await, "dead");
    assert_eq!(
        w.scalar("SELECT count(*) FROM reconciliation_log WHERE kind = 'record_not_found'")
            .await,
        1
    );
    assert_eq!(
        w.scalar("SELECT count(*) FROM alerts WHERE kind = 'sync_record_not_found'")
            .await,
        1
    );
    // No retry loop: nothing more is tried for it.
    assert_eq!(w.drain().await.claimed, 0);
}

async fn a_failure_inside_a_batch_affects_only_its_mentor<B: TestBackend>() {
    let w = world::<B>().await;
    let links = w.linked_mentors(8).await;
    let (bad_mentor, bad_contact) = links[5];
    w.sim.faults().fail_contact(bad_contact, 400);
    let report = w.drain().await;
    assert_eq!((report.pushed, report.dead), (7, 1), "{report:?}");
    assert_eq!(w.sim.stats().batch_requests, 1, "one $batch for the eight");
    assert_eq!(w.visible(bad_contact), json!(false));
    assert_eq!(w.mentor_sync_state(bad_mentor).await, "dead");
    for (_, contact) in links.iter().filter(|(m, _)| *m != bad_mentor) {
        assert_eq!(w.visible(*contact), json!(true));
    }
    let status = w.engine.sync_status(&w.coordinator).await.unwrap();
    assert_eq!(status.dead, 1);
    assert_eq!(status.dead_letters.len(), 1);
    assert_eq!(status.dead_letters[0].mentor_id, bad_mentor);
    assert!(
        status.dead_letters[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("400")),
        "{:?}",
        status.dead_letters[0].last_error
    );
    assert_eq!(status.lag.confirmed, 7);
    assert!(status.lag.p99_ms.is_some());
}

testkit::on_both_backends!(
    a_429_storm_sends_nothing_during_retry_after_costs_no_attempt_and_converges,
    with_30_percent_server_errors_and_timeouts_every_mentor_converges_and_none_is_dead,
    transient_failures_past_the_retry_budget_are_dead_with_one_alert,
    a_missing_contact_flags_its_mentor_and_all_others_sync,
    a_failure_inside_a_batch_affects_only_its_mentor,
);
