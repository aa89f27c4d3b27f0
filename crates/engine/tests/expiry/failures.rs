use domain::MentorStatus;
use store::RunOutcome;
use store::prelude::*;
use testkit::TestBackend;

use crate::helpers::*;

/// A trigger that refuses the `certification_expired` notification about `mentor` only, with an error
/// naming `test_no_expiry_notices` (SQLite cannot add a CHECK constraint to an existing table).
async fn refuse_expiry_notice_of<B: TestBackend>(world: &World<B>, mentor: domain::MentorId) {
    // SQLite keeps uuids as 16-byte BLOBs, PostgreSQL as uuid.
    let hex = mentor.to_string().replace('-', "");
    if B::NAME == "postgres" {
        world
            .execute(
                "CREATE FUNCTION test_no_expiry_notices() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'test_no_expiry_notices'; END $$",
            )
            .await;
        world
            .execute(&format!(
                "CREATE TRIGGER test_no_expiry_notices BEFORE INSERT ON notifications FOR EACH ROW \
                 WHEN (NEW.kind = 'certification_expired' AND NEW.mentor_id = '{mentor}') \
                 EXECUTE FUNCTION test_no_expiry_notices()"
            ))
            .await;
    } else {
        world
            .execute(&format!(
                "CREATE TRIGGER test_no_expiry_notices BEFORE INSERT ON notifications \
                 WHEN NEW.kind = 'certification_expired' AND NEW.mentor_id = X'{hex}' \
                 BEGIN SELECT RAISE(ABORT, 'test_no_expiry_notices'); END"
            ))
            .await;
    }
}

async fn accept_expiry_notices<B: TestBackend>(world: &World<B>) {
    if B::NAME == "postgres" {
        world
            .execute("DROP TRIGGER test_no_expiry_notices ON notifications")
            .await;
    } else {
        world.execute("DROP TRIGGER test_no_expiry_notices").await;
    }
}

async fn a_failed_run_records_its_error_and_leaves_no_half_applied_batch<B: TestBackend>() {
    let world = world::<B>(RUN_DAY).await;
    let population = populate(&world).await;
    let effects_before = world.effects().await;
    // Only the notice of a mentor in the middle of the batch fails to insert: the batch must fail
    // whole, so the mentors before it in the batch are not lapsed either.
    assert_eq!(population.lapsed.len(), 6);
    refuse_expiry_notice_of(&world, population.lapsed[3]).await;
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
    let runs = world.store.runs(world.org.id, 1, None).await.unwrap();
    let last = &runs.items[0];
    assert_eq!(last.outcome, RunOutcome::Failed);
    assert!(
        last.error
            .as_deref()
            .unwrap_or_default()
            .contains("test_no_expiry_notices"),
        "the run log names the cause"
    );

    // Fixed, the next run does everything once.
    accept_expiry_notices(&world).await;
    let report = world.run().await;
    assert_eq!(report.outcome, RunOutcome::Succeeded);
    assert_eq!(report.counts.expired, 6);
}

async fn an_injected_duplicate_is_found_and_keeps_one_alert_open_across_runs<B: TestBackend>() {
    let world = world::<B>(RUN_DAY).await;
    let id = world.mentor("Kari", "2026-06-22").await;
    world.run().await;
    // Copy the 7-day reminder notification, as a double send would have.
    // (A new id: a random UUID on PostgreSQL, 16 random bytes on SQLite, where ids are BLOBs.)
    let new_id = match B::NAME {
        "postgres" => "gen_random_uuid()",
        _ => "randomblob(16)",
    };
    // (The mentor by its email: uuids have no portable literal.)
    let email = world.store.mentor(world.org.id, id).await.unwrap().email;
    let copied = world
        .execute(&format!(
            "INSERT INTO notifications (id, org_id, recipient_user_id, recipient_mentor_id, kind, mentor_id, payload, created_at) \
             SELECT {new_id}, org_id, recipient_user_id, recipient_mentor_id, kind, mentor_id, payload, created_at \
             FROM notifications WHERE kind = 'certification_reminder' \
               AND mentor_id = (SELECT id FROM mentors WHERE email = '{email}')"
        ))
        .await;
    assert_eq!(copied, 1);
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
    world
        .execute("DELETE FROM notifications WHERE id = (SELECT id FROM notifications WHERE kind = 'certification_reminder' ORDER BY id DESC LIMIT 1)")
        .await;
    let report = world.run().await;
    assert_eq!(report.counts.findings, 0);
    assert_eq!(
        world
            .scalar("SELECT count(*) FROM alerts WHERE resolved_at IS NULL")
            .await,
        0
    );
}

testkit::on_both_backends!(
    a_failed_run_records_its_error_and_leaves_no_half_applied_batch,
    an_injected_duplicate_is_found_and_keeps_one_alert_open_across_runs,
);
