use futures::future::join_all;
use store::RunOutcome;
use store::prelude::*;
use testkit::TestBackend;

use crate::helpers::*;

async fn one_run_does_what_the_rules_say<B: TestBackend>() {
    let world = world::<B>(RUN_DAY).await;
    let population = populate(&world).await;
    let report = world.run().await;
    assert_eq!(report.outcome, RunOutcome::Succeeded);
    let c = report.counts;
    assert_eq!(c.expired, 6, "{c:?}");
    assert_eq!((c.resumed, c.resumed_into_expired), (1, 1), "{c:?}");
    assert_eq!((c.reminders_sent, c.reminders_skipped), (6, 9), "{c:?}");
    assert_eq!(c.resume_notices, 1, "{c:?}");
    assert_eq!(c.digests, 2, "one digest per coordinator: {c:?}");
    assert_eq!(c.findings, 0);

    for id in &population.lapsed {
        assert_eq!(
            world.status(*id).await,
            domain::MentorStatus::CertificationExpired
        );
    }
    assert_eq!(
        world.status(population.last_day).await,
        domain::MentorStatus::Active,
        "expires_on is the last valid day"
    );
    assert_eq!(
        world.status(population.due_back).await,
        domain::MentorStatus::Active
    );
    assert_eq!(
        world.status(population.due_back_lapsed).await,
        domain::MentorStatus::CertificationExpired
    );
    assert_eq!(
        world.status(population.back_soon).await,
        domain::MentorStatus::Paused
    );
    assert_eq!(
        world.status(population.paused_expiring).await,
        domain::MentorStatus::Paused,
        "a lapse never lifts a pause"
    );
    assert_eq!(
        world.notifications_of_kind("certification_reminder").await,
        6
    );
    assert_eq!(
        world.notifications_of_kind("certification_expired").await,
        6
    );
    assert_eq!(world.notifications_of_kind("auto_resumed").await, 2);
    assert_eq!(world.notifications_of_kind("resume_notice").await, 1);

    // The digest lists what the run did.
    let inbox = world
        .store
        .notifications(&world.coordinators[0], false, 100, None)
        .await
        .unwrap();
    let digests: Vec<_> = inbox
        .items
        .iter()
        .filter(|n| n.kind == "coordinator_digest")
        .collect();
    assert_eq!(digests.len(), 1, "{digests:?}");
    let digest = &digests[0].payload;
    assert_eq!(digest["business_date"], RUN_DAY);
    assert_eq!(digest["counts"]["transitions"], 8, "{digest}");
    assert_eq!(digest["counts"]["reminders"], 6, "{digest}");
    assert_eq!(digest["counts"]["resume_notices"], 1, "{digest}");

    // The ledger of a mentor reached through the API's store method.
    let history = world
        .store
        .history(world.org.id, population.lapsed[0], 10, None)
        .await
        .unwrap();
    assert_eq!(
        history.items[0].idempotency_key.as_deref(),
        Some(format!("expired:{}:2026-06-01", population.lapsed[0]).as_str())
    );
}

async fn the_same_day_run_five_times_changes_nothing_after_the_first<B: TestBackend>() {
    let world = world::<B>(RUN_DAY).await;
    populate(&world).await;
    world.run().await;
    let after_one = world.effects().await;
    for _ in 0..4 {
        let again = world.run().await;
        let c = again.counts;
        assert_eq!(
            (
                c.expired,
                c.resumed,
                c.resumed_into_expired,
                c.reminders_sent,
                c.reminders_skipped,
                c.resume_notices,
                c.digests
            ),
            (0, 0, 0, 0, 0, 0, 0),
            "a re-run does nothing new: {c:?}"
        );
    }
    assert_eq!(world.effects().await, after_one);
    assert_eq!(
        world
            .scalar("SELECT count(*) FROM job_runs WHERE outcome = 'succeeded'")
            .await,
        5,
        "every run is in the log"
    );
}

async fn ten_concurrent_runs_on_separate_connections_equal_one_run<B: TestBackend>() {
    let reference = world::<B>(RUN_DAY).await;
    populate(&reference).await;
    reference.run().await;
    let expected = summary(&reference).await;

    let world = world::<B>(RUN_DAY).await;
    populate(&world).await;
    let mut engines = Vec::new();
    for n in 0..10 {
        engines.push(instance(&world, &format!("instance-{n}")).await);
    }
    let org = world.org.clone();
    let today = date(RUN_DAY);
    let results = join_all(engines.iter().map(|engine| engine.run_expiry(&org, today))).await;
    for result in &results {
        assert!(result.is_ok(), "{result:?}");
    }
    assert_eq!(summary(&world).await, expected);
    let digests: i64 = world
        .scalar("SELECT count(*) FROM notifications WHERE kind = 'coordinator_digest'")
        .await;
    assert_eq!(digests, 2, "one digest per coordinator per day");
}

async fn three_schedulers_on_one_database_run_each_day_once<B: TestBackend>() {
    let reference = world::<B>(RUN_DAY).await;
    populate(&reference).await;
    reference.run().await;
    let expected = summary(&reference).await;

    let world = world::<B>(RUN_DAY).await;
    populate(&world).await;
    let mut schedulers = Vec::new();
    for n in 0..3 {
        let engine = instance(&world, &format!("scheduler-{n}")).await;
        schedulers.push(engine::scheduler::Scheduler::new(
            engine,
            std::time::Duration::from_millis(10),
        ));
    }
    // Three ticks each, racing: only one claim of (expiry, hlf, 2026-06-15) wins.
    for _ in 0..3 {
        let ticks = join_all(schedulers.iter().map(|s| s.tick())).await;
        for tick in ticks {
            tick.expect("tick");
        }
    }
    assert_eq!(summary(&world).await, expected);
    assert_eq!(
        world.scalar("SELECT count(*) FROM job_runs").await,
        1,
        "one scheduled run for the day"
    );

    // The next day, one of them runs again, once.
    world.set_today("2026-06-16");
    let ticks = join_all(schedulers.iter().map(|s| s.tick())).await;
    let runs: usize = ticks.into_iter().map(|t| t.unwrap().len()).sum();
    assert_eq!(runs, 1);
    assert_eq!(world.scalar("SELECT count(*) FROM job_runs").await, 2);
}

async fn the_scheduler_waits_for_run_at_and_uses_the_local_date<B: TestBackend>() {
    let world = world::<B>(RUN_DAY).await;
    let id = world.mentor("Lapses on the 14th", "2026-06-14").await;
    let scheduler =
        engine::scheduler::Scheduler::new(world.engine.clone(), std::time::Duration::from_secs(1));
    // 04:30 in Oslo on the 15th (02:30 UTC): before the default 05:00.
    world.clock.set("2026-06-15T02:30:00Z".parse().unwrap());
    assert!(scheduler.tick().await.unwrap().is_empty());
    assert_eq!(world.status(id).await, domain::MentorStatus::Active);
    // 05:00 in Oslo is 03:00 UTC, still the 15th in Oslo.
    world.clock.set("2026-06-15T03:00:00Z".parse().unwrap());
    let reports = scheduler.tick().await.unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].business_date, date(RUN_DAY));
    assert_eq!(
        world.status(id).await,
        domain::MentorStatus::CertificationExpired
    );
}

async fn a_run_at_half_past_midnight_in_oslo_uses_the_oslo_date<B: TestBackend>() {
    let world = world::<B>(RUN_DAY).await;
    let config = engine::expiry::ExpiryConfig {
        run_at: engine::expiry::RunAt::parse("00:15").unwrap(),
        ..engine::expiry::ExpiryConfig::default()
    };
    let engine = engine::Engine::new(
        world.store.clone(),
        std::sync::Arc::new(world.clock.clone()),
    )
    .with_expiry_config(config);
    // 22:30 UTC on the 14th is 00:30 on the 15th in Oslo (summer time).
    world.clock.set("2026-06-14T22:30:00Z".parse().unwrap());
    let reports = engine::scheduler::Scheduler::new(engine, std::time::Duration::from_secs(1))
        .tick()
        .await
        .unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].business_date, date("2026-06-15"));
}

testkit::on_both_backends!(
    one_run_does_what_the_rules_say,
    the_same_day_run_five_times_changes_nothing_after_the_first,
    ten_concurrent_runs_on_separate_connections_equal_one_run,
    three_schedulers_on_one_database_run_each_day_once,
    the_scheduler_waits_for_run_at_and_uses_the_local_date,
    a_run_at_half_past_midnight_in_oslo_uses_the_oslo_date,
);
