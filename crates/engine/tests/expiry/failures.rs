use domain::MentorStatus;
use store::RunOutcome;
use store::Store;

use crate::helpers::*;

#[tokio::test]
async fn a_failed_run_records_its_error_and_leaves_no_half_applied_batch() {
    let world = world(RUN_DAY).await;
    let population = populate(&world).await;
    let effects_before = world.effects().await;
    // Make every expiry notice fail to insert: the batch statement that carries it must fail whole.
    sqlx::query("ALTER TABLE notifications ADD CONSTRAINT test_no_expiry_notices CHECK (kind <> 'certification_expired')")
        .execute(world.store.pool())
        .await
        .unwrap();
    let error = world
        .engine
        .run_expiry(&world.org, date(RUN_DAY))
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("test_no_expiry_notices"),
        "{error}"
    );
    for id in &population.lapsed {
        assert_eq!(
            world.status(*id).await,
            MentorStatus::Active,
            "nothing of the failed batch was applied"
        );
    }
    assert_eq!(
        world.effects().await,
        effects_before,
        "no effect at all: the run stopped at its first batch"
    );
    let (outcome, error): (String, Option<String>) =
        sqlx::query_as("SELECT outcome, error FROM job_runs ORDER BY id DESC LIMIT 1")
            .fetch_one(world.store.pool())
            .await
            .unwrap();
    assert_eq!(outcome, "failed");
    assert!(
        error.unwrap_or_default().contains("test_no_expiry_notices"),
        "the run log names the cause"
    );

    // Fixed, the next run does everything once.
    sqlx::query("ALTER TABLE notifications DROP CONSTRAINT test_no_expiry_notices")
        .execute(world.store.pool())
        .await
        .unwrap();
    let report = world.run().await;
    assert_eq!(report.outcome, RunOutcome::Succeeded);
    assert_eq!(report.counts.expired, 6);
}

#[tokio::test]
async fn an_injected_duplicate_is_found_and_keeps_one_alert_open_across_runs() {
    let world = world(RUN_DAY).await;
    let id = world.mentor("Kari", "2026-06-22").await;
    world.run().await;
    // Copy the 7-day reminder notification, as a double send would have.
    sqlx::query(
        "INSERT INTO notifications (id, org_id, recipient_user_id, recipient_mentor_id, kind, mentor_id, payload, created_at) \
         SELECT gen_random_uuid(), org_id, recipient_user_id, recipient_mentor_id, kind, mentor_id, payload, created_at \
         FROM notifications WHERE kind = 'certification_reminder' AND mentor_id = $1",
    )
    .bind(id.0)
    .execute(world.store.pool())
    .await
    .unwrap();
    for _ in 0..3 {
        let report = world.run().await;
        assert_eq!(report.counts.findings, 1);
    }
    assert_eq!(
        world
            .scalar("SELECT count(*) FROM alerts WHERE resolved_at IS NULL")
            .await,
        1,
        "one open alert, not one per run"
    );
    assert_eq!(
        world.scalar("SELECT count FROM alerts").await,
        3,
        "counted three times"
    );
    assert_eq!(
        world
            .scalar("SELECT count(*) FROM reconciliation_log WHERE kind = 'duplicate_reminder'")
            .await,
        3
    );
    let alerts = world
        .store
        .alerts(world.org.id, true, 10, None)
        .await
        .unwrap();
    assert_eq!(alerts.items[0].kind, "duplicate_effects");
    assert!(
        alerts.items[0].summary.contains("duplicate_reminder"),
        "{}",
        alerts.items[0].summary
    );

    // Cleaned up by hand: the next run finds nothing and resolves the alert.
    sqlx::query("DELETE FROM notifications WHERE id = (SELECT id FROM notifications WHERE kind = 'certification_reminder' ORDER BY id DESC LIMIT 1)")
        .execute(world.store.pool())
        .await
        .unwrap();
    let report = world.run().await;
    assert_eq!(report.counts.findings, 0);
    assert_eq!(
        world
            .scalar("SELECT count(*) FROM alerts WHERE resolved_at IS NULL")
            .await,
        0
    );
}
