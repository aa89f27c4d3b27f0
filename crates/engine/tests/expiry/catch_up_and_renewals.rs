use domain::{Action, MentorStatus};
use engine::CertificationInput;
use store::prelude::*;
use testkit::TestBackend;

use crate::helpers::*;

/// The reminder ledger of a mentor, through the store, oldest business date first and the larger
/// threshold first within a day.
async fn ledger<B: TestBackend>(
    world: &World<B>,
    id: domain::MentorId,
) -> Vec<(i16, String, String, String)> {
    let mut records = world.store.reminders(world.org.id, id).await.unwrap();
    records.sort_by_key(|r| (r.business_date, std::cmp::Reverse(r.threshold_days)));
    records
        .into_iter()
        .map(|r| {
            (
                i16::try_from(r.threshold_days).unwrap(),
                r.certification_expires_on.to_string(),
                r.outcome.as_str().to_owned(),
                r.business_date.to_string(),
            )
        })
        .collect()
}

fn row(t: i16, expires: &str, outcome: &str, day: &str) -> (i16, String, String, String) {
    (t, expires.into(), outcome.into(), day.into())
}

async fn after_ten_days_without_runs_only_the_most_urgent_reminder_is_sent<B: TestBackend>() {
    let world = world::<B>("2026-06-05").await;
    let id = world.mentor("Kari", "2026-06-21").await;
    // The last run was ten days ago; 6 days are left now.
    world.set_today("2026-06-15");
    let report = world.run().await;
    assert_eq!(
        (
            report.counts.reminders_sent,
            report.counts.reminders_skipped
        ),
        (1, 2)
    );
    assert_eq!(
        ledger(&world, id).await,
        [
            row(30, "2026-06-21", "skipped", "2026-06-15"),
            row(14, "2026-06-21", "skipped", "2026-06-15"),
            row(7, "2026-06-21", "sent", "2026-06-15")
        ]
    );
    assert_eq!(
        world.notifications_of_kind("certification_reminder").await,
        1
    );
    let reminders: Vec<_> = world
        .mentor_notifications(id)
        .await
        .into_iter()
        .filter(|n| n.kind == "certification_reminder")
        .collect();
    assert_eq!(reminders.len(), 1, "{reminders:?}");
    let payload = &reminders[0].payload;
    assert_eq!(payload["threshold_days"], 7);
    assert_eq!(payload["days_left"], 6);
    assert_eq!(payload["certification_expires_on"], "2026-06-21");

    world.set_today("2026-06-16");
    let next = world.run().await;
    assert_eq!(
        (next.counts.reminders_sent, next.counts.reminders_skipped),
        (0, 0),
        "nothing the next night"
    );
}

async fn daily_runs_send_each_threshold_on_its_own_day_and_a_renewal_starts_a_new_cycle<
    B: TestBackend,
>() {
    let world = world::<B>("2026-06-01").await;
    let id = world.mentor("Kari", "2026-07-15").await;
    let mut day = date("2026-06-01");
    // Daily runs up to the 14-day reminder.
    while day <= date("2026-07-01") {
        world.set_today(&day.to_string());
        world.run().await;
        day = day.succ_opt().unwrap();
    }
    assert_eq!(
        ledger(&world, id).await,
        [
            row(30, "2026-07-15", "sent", "2026-06-15"),
            row(14, "2026-07-15", "sent", "2026-07-01")
        ]
    );
    // Renewed between the 14- and 7-day thresholds: no 7-day reminder for the old date.
    let renewal = CertificationInput {
        issued_on: date("2026-07-02"),
        expires_on: date("2026-08-31"),
    };
    world
        .engine
        .register_certification(&world.coordinators[0], id, renewal)
        .await
        .unwrap();
    while day <= date("2026-08-24") {
        world.set_today(&day.to_string());
        world.run().await;
        day = day.succ_opt().unwrap();
    }
    assert_eq!(
        ledger(&world, id).await,
        [
            row(30, "2026-07-15", "sent", "2026-06-15"),
            row(14, "2026-07-15", "sent", "2026-07-01"),
            row(30, "2026-08-31", "sent", "2026-08-01"),
            row(14, "2026-08-31", "sent", "2026-08-17"),
            row(7, "2026-08-31", "sent", "2026-08-24"),
        ]
    );
    assert_eq!(world.status(id).await, MentorStatus::Active);
}

async fn a_renewal_committed_between_the_runs_read_and_write_wins<B: TestBackend>() {
    let world = world::<B>("2026-06-15").await;
    let id = world.mentor("Kari", "2026-06-14").await;
    let worklist = world
        .store
        .expiry_worklist(world.org.id, date("2026-06-15"), 30, 3)
        .await
        .unwrap();
    assert_eq!(worklist.lapsed_active.len(), 1, "the run read the lapse");
    let outbox_before = world.scalar("SELECT count(*) FROM sync_outbox").await;

    // The coordinator renews before the run writes (the mentor is still active: no status change).
    let renewal = CertificationInput {
        issued_on: date("2026-06-15"),
        expires_on: date("2027-06-14"),
    };
    world
        .engine
        .register_certification(&world.coordinators[0], id, renewal)
        .await
        .unwrap();
    let outbox_after_renewal = world.scalar("SELECT count(*) FROM sync_outbox").await;

    let run = store::RunId::new();
    let counts = world
        .engine
        .apply_system_transitions(
            &world.org,
            run,
            date("2026-06-15"),
            engine::expiry::SystemAction::Expire,
            worklist.lapsed_active,
        )
        .await
        .unwrap();
    assert_eq!(counts.to_expired, 0, "the renewal wins");
    assert_eq!(
        counts.lost_races, 1,
        "the stale write lost its compare-and-set and was decided again"
    );
    assert_eq!(world.status(id).await, MentorStatus::Active);
    assert_eq!(
        outbox_after_renewal,
        outbox_before + 1,
        "the renewal queued its own version"
    );
    assert_eq!(
        world.scalar("SELECT count(*) FROM sync_outbox").await,
        outbox_after_renewal,
        "no outbox row for an expiry"
    );
    assert_eq!(
        world
            .scalar("SELECT count(*) FROM status_history WHERE to_status = 'certification_expired'")
            .await,
        0
    );
}

async fn a_manual_pause_is_not_lifted_by_a_renewal_nor_by_the_run<B: TestBackend>() {
    let world = world::<B>("2026-06-10").await;
    let id = world.mentor("Kari", "2026-06-12").await;
    pause(&world, id, None).await;
    world.set_today("2026-06-15");
    world.run().await;
    assert_eq!(
        world.status(id).await,
        MentorStatus::Paused,
        "a lapse keeps a paused mentor paused"
    );
    let renewal = CertificationInput {
        issued_on: date("2026-06-15"),
        expires_on: date("2027-06-14"),
    };
    let after = world
        .engine
        .register_certification(&world.coordinators[0], id, renewal)
        .await
        .unwrap();
    assert_eq!(after.mentor.status, MentorStatus::Paused);
    world.run().await;
    assert_eq!(world.status(id).await, MentorStatus::Paused);
    let resumed = world
        .engine
        .request(&world.coordinators[0], id, Action::Resume)
        .await
        .unwrap();
    assert_eq!(
        resumed.mentor.status,
        MentorStatus::Active,
        "renewed, so resume lands in active"
    );
}

testkit::on_both_backends!(
    after_ten_days_without_runs_only_the_most_urgent_reminder_is_sent,
    daily_runs_send_each_threshold_on_its_own_day_and_a_renewal_starts_a_new_cycle,
    a_renewal_committed_between_the_runs_read_and_write_wins,
    a_manual_pause_is_not_lifted_by_a_renewal_nor_by_the_run,
);
