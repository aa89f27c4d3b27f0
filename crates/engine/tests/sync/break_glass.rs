//! The break-glass push (`Relay::push_now`): every selected mentor is pushed now, whatever state a
//! relay left it in — leased, in retry backoff, dead — each accounted for, and no change written twice.

use std::time::Duration;

use engine::sync::{BreakGlassProgress, BreakGlassReport, RelayConfig};
use serde_json::json;
use store::prelude::*;
use testkit::TestBackend;
use uuid::Uuid;

use crate::helpers::{World, test_relay_config, world, world_with};

const HOUR: Duration = Duration::from_secs(3600);

/// A break-glass push of `mentors` by a relay of its own; the report and whether it said it waited.
async fn push_now<B: TestBackend>(
    w: &World<B>,
    mentors: Vec<domain::MentorId>,
) -> (BreakGlassReport, bool) {
    let mut waited = false;
    let report = w
        .relay()
        .push_now(mentors, |progress| {
            if matches!(progress, BreakGlassProgress::Waiting { .. }) {
                waited = true;
            }
        })
        .await
        .unwrap();
    (report, waited)
}

/// How many writes the simulator applied to `contact` since `writes` was taken.
fn writes_to(
    writes: &mut tokio::sync::broadcast::Receiver<dataverse_sim::WriteEvent>,
    contact: Uuid,
) -> usize {
    std::iter::from_fn(|| writes.try_recv().ok())
        .filter(|event| event.contact_id == contact)
        .count()
}

/// A running relay holds the mentor: its PATCH lands, but the answer comes too late and it records
/// a retry. The break-glass push waits for that lease (and says so), then reads the record before
/// writing: the change is on the portal once, and the mentor counts as pushed.
async fn a_mentor_leased_by_a_live_relay_is_waited_for_and_never_written_twice<B: TestBackend>() {
    let w = world_with::<B>(test_relay_config(), |client| {
        client.request_timeout = Duration::from_secs(1);
    })
    .await;
    let links = w.linked_mentors(1).await;
    let (mentor, contact) = links[0];
    w.drain().await;
    w.pause(mentor).await;
    let mut writes = w.sim.writes();
    w.sim.faults().set_answer_delay(Duration::from_secs(3));
    let live = w.relay();
    let relay = tokio::spawn(async move { live.pass().await.unwrap() });
    w.eventually(5, "the live relay's write landed", || {
        w.visible(contact) == json!(false)
    })
    .await;
    w.sim.faults().set_answer_delay(Duration::ZERO);
    assert_eq!(
        w.scalar("SELECT count(*) FROM mentor_sync WHERE lease_owner IS NOT NULL")
            .await,
        1,
        "the live relay still holds its lease"
    );
    let (report, waited) = push_now(&w, vec![mentor]).await;
    assert!(waited, "the push said it waited for the relay");
    let pass = relay.await.unwrap();
    assert_eq!(
        pass.retried, 1,
        "the relay never learnt its write landed: {pass:?}"
    );
    assert_eq!(
        (report.selected, report.pushed, report.waited_for_relay),
        (1, 1, 1),
        "{report:?}"
    );
    assert!(report.failures.is_empty(), "{report:?}");
    assert_eq!(
        writes_to(&mut writes, contact),
        1,
        "one write for one change"
    );
    assert_eq!(w.visible(contact), json!(false));
    assert_eq!(w.mentor_sync_state(mentor).await, "in_sync");
}

/// The relay pushed while the break-glass push waited for its lease: nothing is written again.
async fn a_mentor_the_live_relay_pushes_meanwhile_is_counted_and_not_written_again<
    B: TestBackend,
>() {
    let w = world::<B>().await;
    let links = w.linked_mentors(1).await;
    let (mentor, contact) = links[0];
    w.drain().await;
    w.pause(mentor).await;
    let mut writes = w.sim.writes();
    w.sim.faults().set_delay(Duration::from_millis(1500));
    let live = w.relay();
    let relay = tokio::spawn(async move { live.pass().await.unwrap() });
    // The delay holds its PATCH; the lease is in the database before the request leaves.
    testkit::poll_until("the live relay's lease", Duration::from_secs(5), || async {
        w.scalar("SELECT count(*) FROM mentor_sync WHERE lease_owner IS NOT NULL")
            .await
            == 1
    })
    .await;
    let (report, waited) = push_now(&w, vec![mentor]).await;
    assert!(waited);
    assert_eq!(relay.await.unwrap().pushed, 1);
    assert_eq!((report.pushed, report.failures.len()), (1, 0), "{report:?}");
    assert_eq!(writes_to(&mut writes, contact), 1, "the relay's write only");
    assert_eq!(w.visible(contact), json!(false));
}

/// A relay's transient failure scheduled a retry an hour away: the break-glass push does not wait
/// for it.
async fn a_mentor_in_retry_backoff_is_pushed_at_once<B: TestBackend>() {
    let config = RelayConfig {
        backoff_initial: HOUR,
        backoff_max: HOUR,
        ..test_relay_config()
    };
    let w = world_with::<B>(config, |_| {}).await;
    let links = w.linked_mentors(2).await;
    w.drain().await;
    let (mentor, contact) = links[0];
    w.pause(mentor).await;
    w.sim.faults().fail_contact(contact, 503);
    let pass = w.relay().pass().await.unwrap();
    assert_eq!(pass.retried, 1, "{pass:?}");
    assert_eq!(w.mentor_sync_state(mentor).await, "failed");
    assert_eq!(
        w.relay().pass().await.unwrap().claimed,
        0,
        "not due for an hour"
    );
    w.sim.faults().clear_contact_failure(contact);
    let selected = w.store.unsynced_mentors(w.org.id).await.unwrap();
    assert_eq!(selected, vec![mentor], "the in-sync mentor is not selected");
    let (report, waited) = push_now(&w, selected).await;
    assert!(!waited);
    assert_eq!((report.selected, report.pushed), (1, 1), "{report:?}");
    assert_eq!(w.visible(contact), json!(false));
    assert_eq!(w.mentor_sync_state(mentor).await, "in_sync");
    assert_eq!(
        w.scalar("SELECT count(*) FROM sync_outbox WHERE state = 'pending'")
            .await,
        0,
        "the row waiting out its backoff is confirmed"
    );
}

/// A mentor given up on (dead) is pushed when its cause is fixed; one that still fails is counted as
/// failed, by id, with the reason.
async fn a_dead_mentor_is_pushed_and_one_still_failing_is_reported_by_id<B: TestBackend>() {
    let w = world::<B>().await;
    let links = w.linked_mentors(2).await;
    w.drain().await;
    let (fixed, fixed_contact) = links[0];
    let (broken, broken_contact) = links[1];
    w.pause(fixed).await;
    w.pause(broken).await;
    w.sim.faults().fail_contact(fixed_contact, 400);
    w.sim.faults().fail_contact(broken_contact, 400);
    let report = w.drain().await;
    assert_eq!(report.dead, 2, "{report:?}");
    assert_eq!(w.mentor_sync_state(fixed).await, "dead");
    w.sim.faults().clear_contact_failure(fixed_contact);
    let (report, _) = push_now(&w, w.store.unsynced_mentors(w.org.id).await.unwrap()).await;
    assert_eq!(
        (report.selected, report.pushed, report.unlinked),
        (2, 1, 0),
        "{report:?}"
    );
    assert_eq!(report.failures.len(), 1, "{report:?}");
    assert_eq!(report.failures[0].mentor, broken);
    assert!(
        report.failures[0].reason.contains("400"),
        "{:?}",
        report.failures[0]
    );
    assert_eq!(w.visible(fixed_contact), json!(false));
    assert_eq!(w.visible(broken_contact), json!(true));
    assert_eq!(w.mentor_sync_state(fixed).await, "in_sync");
    assert_eq!(w.mentor_sync_state(broken).await, "dead");
}

/// Refused credentials stop the push: every mentor not pushed is a failure, none is left uncounted.
async fn refused_credentials_fail_every_mentor_not_pushed<B: TestBackend>() {
    let w = world::<B>().await;
    let links = w.linked_mentors(3).await;
    w.drain().await;
    for (mentor, _) in &links {
        w.pause(*mentor).await;
    }
    w.sim.faults().set_reject_credentials(true);
    let mentors: Vec<_> = links.iter().map(|(m, _)| *m).collect();
    let (report, _) = push_now(&w, mentors).await;
    assert_eq!((report.selected, report.pushed), (3, 0), "{report:?}");
    assert_eq!(report.failures.len(), 3, "{report:?}");
    assert!(report.passes.credentials_refused);
    assert!(
        report
            .failures
            .iter()
            .all(|f| f.reason.contains("refused the credentials")),
        "{report:?}"
    );
}

testkit::on_both_backends!(
    a_mentor_leased_by_a_live_relay_is_waited_for_and_never_written_twice,
    a_mentor_the_live_relay_pushes_meanwhile_is_counted_and_not_written_again,
    a_mentor_in_retry_backoff_is_pushed_at_once,
    a_dead_mentor_is_pushed_and_one_still_failing_is_reported_by_id,
    refused_credentials_fail_every_mentor_not_pushed,
);
