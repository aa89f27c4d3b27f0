use serde_json::json;
use store::prelude::*;
use testkit::TestBackend;

use crate::helpers::{test_relay_config, world, world_with};

async fn a_transition_reaches_dynamics_without_any_nightly_job<B: TestBackend>() {
    let w = world::<B>().await;
    let links = w.linked_mentors(3).await;
    let (cancel, task) = w.spawn_relay();
    // Registration queued every mentor: all become visible.
    w.all_listed(&links, 10).await;
    let (mentor, contact) = links[1];
    w.pause(mentor).await;
    w.eventually(10, "the paused mentor hidden", || {
        w.visible(contact) == json!(false)
    })
    .await;
    assert_eq!(w.visible(links[0].1), json!(true));
    assert_eq!(w.visible(links[2].1), json!(true));
    // The remote record keeps its other fields; only the mapped ones changed.
    assert_eq!(
        w.sim.contact(contact).unwrap()["hlf_memberno"],
        json!("M-1")
    );
    cancel.cancel();
    task.await.unwrap();
    assert_eq!(w.mentor_sync_state(mentor).await, "in_sync");
    assert_eq!(
        w.scalar("SELECT count(*) FROM sync_outbox WHERE state = 'pending'")
            .await,
        0
    );
}

async fn pause_then_resume_ends_visible_and_a_stale_row_never_regresses_it<B: TestBackend>() {
    let w = world::<B>().await;
    let links = w.linked_mentors(1).await;
    let (mentor, contact) = links[0];
    w.drain().await;
    // Two changes before the relay looks: both rows coalesce into one push of the current state.
    w.pause(mentor).await;
    w.resume(mentor).await;
    let mut writes = w.sim.writes();
    let report = w.drain().await;
    assert_eq!(report.pushed, 1, "{report:?}");
    assert_eq!(w.visible(contact), json!(true));
    assert_eq!(
        writes.try_recv().unwrap().fields[crate::helpers::VISIBLE],
        json!(true)
    );
    assert!(writes.try_recv().is_err(), "one push for two changes");

    // An old row put back by hand (as a retry would) pushes the CURRENT state, not its own.
    w.pause(mentor).await;
    w.drain().await;
    w.execute(
        "UPDATE sync_outbox SET state = 'pending', done_at = NULL \
         WHERE id = (SELECT min(id) FROM sync_outbox)",
    )
    .await;
    w.drain().await;
    assert_eq!(w.visible(contact), json!(false), "the paused state stays");
}

async fn two_relays_on_separate_connections_push_each_change_once<B: TestBackend>() {
    let w = world::<B>().await;
    let links = w.linked_mentors(40).await;
    let other_store = B::open(&w.db, 4).await;
    let other = engine::Engine::new(
        other_store,
        std::sync::Arc::new(domain::FixedClock::new(w.engine.clock().now())),
    )
    .with_listing_sync(engine::sync::ListingSync::new(
        vec![(*w.integration).clone()],
        w.config.clone(),
    ));
    let mut writes = w.sim.writes();
    let relay_a = w.relay();
    let relay_b = engine::sync::Relay::new(
        other,
        w.integration.clone(),
        w.config.clone(),
        uuid::Uuid::new_v4(),
    );
    let drain = |relay: engine::sync::Relay<B::Store>| async move {
        let mut pushed = 0;
        loop {
            let pass = relay.pass().await.unwrap();
            if pass.claimed == 0 {
                return pushed;
            }
            pushed += pass.pushed;
        }
    };
    let (a, b) = tokio::join!(drain(relay_a), drain(relay_b));
    assert_eq!(
        a + b,
        40,
        "every mentor pushed once between them ({a} + {b})"
    );
    let mut pushes = std::collections::HashMap::new();
    while let Ok(event) = writes.try_recv() {
        *pushes.entry(event.contact_id).or_insert(0) += 1;
    }
    assert_eq!(pushes.len(), 40);
    assert!(pushes.values().all(|n| *n == 1), "{pushes:?}");
    for (_, contact) in &links {
        assert_eq!(w.visible(*contact), json!(true));
    }
}

async fn a_status_changed_by_hand_in_sql_is_synced_too<B: TestBackend>() {
    let w = world::<B>().await;
    let links = w.linked_mentors(1).await;
    let (mentor, contact) = links[0];
    w.drain().await;
    let (cancel, task) = w.spawn_relay();
    // (The mentor by its email: uuids have no portable literal.)
    let email = w.store.mentor(w.org.id, mentor).await.unwrap().email;
    w.execute(&format!(
        "UPDATE mentors SET status = 'inactive' WHERE email = '{email}'"
    ))
    .await;
    w.eventually(10, "the hand-made change pushed", || {
        w.visible(contact) == json!(false)
    })
    .await;
    cancel.cancel();
    task.await.unwrap();
    assert_eq!(w.scalar("SELECT max(version) FROM mentors").await, 2);
}

async fn unlinked_mentors_are_reported_never_guessed<B: TestBackend>() {
    let w = world::<B>().await;
    let mentor = w
        .engine
        .register_mentor(
            &w.coordinator,
            serde_json::from_value(json!({
                "full_name": "Uten Lenke", "email": "uten@hlf.no",
                "certification": {"issued_on": "2026-01-01", "expires_on": "2027-01-01"}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let report = w.drain().await;
    assert_eq!((report.unlinked, report.pushed), (1, 0));
    assert_eq!(w.sim.stats().patches_applied, 0);
    assert_eq!(w.mentor_sync_state(mentor.mentor.id).await, "unlinked");
}

async fn force_sync_queues_at_high_priority_and_is_pushed_first<B: TestBackend>() {
    // One mentor per claim, to see the order.
    let w = world_with::<B>(test_relay_config(), |client| client.batch_size = 1).await;
    let links = w.linked_mentors(5).await;
    w.drain().await;
    // Drift behind our back, then a coordinator forces a sync of that mentor.
    let (mentor, contact) = links[3];
    w.sim
        .set_field(contact, crate::helpers::VISIBLE, json!(false));
    for (other, _) in &links[..3] {
        w.pause(*other).await;
    }
    assert_eq!(
        w.engine.force_sync(&w.coordinator, mentor).await.unwrap(),
        1
    );
    let mut writes = w.sim.writes();
    let first = w.relay().pass().await.unwrap();
    assert_eq!(first.pushed, 1);
    assert_eq!(
        writes.try_recv().unwrap().contact_id,
        contact,
        "the forced mentor goes first"
    );
    w.drain().await;
    assert_eq!(w.visible(contact), json!(true));
}

/// A relay that dies after its PATCH landed but before recording it: the mentor's lease runs out,
/// the next relay reads the record first and does not write what is already there; a record that
/// does not show it yet is written once.
async fn a_push_taken_over_from_a_dead_relay_is_not_written_twice<B: TestBackend>() {
    let w = world::<B>().await;
    let links = w.linked_mentors(2).await;
    w.drain().await;
    let (landed, lost) = (links[0], links[1]);
    w.pause(landed.0).await;
    w.pause(lost.0).await;
    // The dead relay claimed both with a lease that runs out at once; only one PATCH landed.
    let dead = w
        .store
        .claim_sync(store::SyncClaim {
            org: w.org.id,
            owner: uuid::Uuid::new_v4(),
            limit: 10,
            lease: std::time::Duration::ZERO,
        })
        .await
        .unwrap();
    assert_eq!(dead.len(), 2);
    w.sim
        .set_field(landed.1, crate::helpers::VISIBLE, json!(false));
    let mut writes = w.sim.writes();
    let report = w.drain().await;
    assert_eq!(report.pushed, 2, "{report:?}");
    let written: Vec<_> = std::iter::from_fn(|| writes.try_recv().ok())
        .map(|event| event.contact_id)
        .collect();
    assert_eq!(written, vec![lost.1], "only the record that missed it");
    assert_eq!(w.visible(landed.1), json!(false));
    assert_eq!(w.visible(lost.1), json!(false));
    assert_eq!(w.mentor_sync_state(landed.0).await, "in_sync");
    assert_eq!(w.mentor_sync_state(lost.0).await, "in_sync");
}

/// Changes waiting longer than the limit open the organisation's backlog alert once; it resolves
/// when they have been pushed.
async fn changes_backing_up_open_a_backlog_alert_that_resolves_when_pushed<B: TestBackend>() {
    let w = world::<B>().await;
    w.linked_mentors(3).await;
    let open = "SELECT count(*) FROM alerts WHERE kind = 'sync_backlog' AND resolved_at IS NULL";
    let all = "SELECT count(*) FROM alerts WHERE kind = 'sync_backlog'";
    w.engine
        .check_backlogs(std::time::Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(w.scalar(all).await, 0, "younger than the limit");
    w.engine
        .check_backlogs(std::time::Duration::ZERO)
        .await
        .unwrap();
    w.engine
        .check_backlogs(std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!((w.scalar(open).await, w.scalar(all).await), (1, 1));
    let summary = w
        .store
        .alerts(w.org.id, true, 10, None)
        .await
        .unwrap()
        .items
        .remove(0)
        .summary;
    assert!(summary.starts_with("3 change(s) wait"), "{summary}");
    w.drain().await;
    w.engine
        .check_backlogs(std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!((w.scalar(open).await, w.scalar(all).await), (0, 1));
}

testkit::on_both_backends!(
    changes_backing_up_open_a_backlog_alert_that_resolves_when_pushed,
    a_push_taken_over_from_a_dead_relay_is_not_written_twice,
    a_transition_reaches_dynamics_without_any_nightly_job,
    pause_then_resume_ends_visible_and_a_stale_row_never_regresses_it,
    two_relays_on_separate_connections_push_each_change_once,
    a_status_changed_by_hand_in_sql_is_synced_too,
    unlinked_mentors_are_reported_never_guessed,
    force_sync_queues_at_high_priority_and_is_pushed_first,
);
