use domain::MentorStatus;
use store::prelude::*;
use testkit::TestBackend;

use crate::helpers::*;

async fn a_paused_mentor_is_told_before_the_return_and_resumed_on_the_date<B: TestBackend>() {
    let world = world::<B>("2026-06-01").await;
    let id = world.mentor("Kari", "2027-06-01").await;
    pause(&world, id, Some("2026-06-20")).await;
    let mut notices_seen = Vec::new();
    for day in 2..=21 {
        let today = format!("2026-06-{day:02}");
        world.set_today(&today);
        let report = world.run().await;
        if report.counts.resume_notices > 0 {
            notices_seen.push(today.clone());
        }
        let status = world.status(id).await;
        if day < 20 {
            assert_eq!(status, MentorStatus::Paused, "{today}");
        } else {
            assert_eq!(status, MentorStatus::Active, "{today}");
        }
    }
    assert_eq!(
        notices_seen,
        ["2026-06-17"],
        "one notice, three days before"
    );
    assert_eq!(world.notifications_of_kind("resume_notice").await, 1);
    assert_eq!(world.notifications_of_kind("auto_resumed").await, 1);
    let history = world
        .store
        .history(world.org.id, id, 10, None)
        .await
        .unwrap();
    assert_eq!(history.items[0].actor, store::Actor::System);
    assert_eq!(
        history.items[0].idempotency_key.as_deref(),
        Some(format!("resumed:{id}:2026-06-20").as_str())
    );
}

async fn a_return_after_a_missed_night_still_happens_once<B: TestBackend>() {
    let world = world::<B>("2026-06-01").await;
    let id = world.mentor("Kari", "2026-06-10").await;
    pause(&world, id, Some("2026-06-12")).await;
    // No runs until the 15th: the return date has passed and the certification lapsed meanwhile.
    world.set_today("2026-06-15");
    let report = world.run().await;
    assert_eq!(
        (report.counts.resumed, report.counts.resumed_into_expired),
        (0, 1)
    );
    assert_eq!(world.status(id).await, MentorStatus::CertificationExpired);
    let again = world.run().await;
    assert_eq!(again.counts.resumed_into_expired, 0);
}

testkit::on_both_backends!(
    a_paused_mentor_is_told_before_the_return_and_resumed_on_the_date,
    a_return_after_a_missed_night_still_happens_once,
);
