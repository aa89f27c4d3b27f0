use serde_json::json;
use testkit::TestBackend;

use crate::helpers::world;

async fn rotated_credentials_open_one_alert_pause_pushing_and_recover_with_the_new_secret<
    B: TestBackend,
>() {
    let w = world::<B>().await;
    let links = w.linked_mentors(4).await;
    w.drain().await;
    let (cancel, task) = w.spawn_relay();

    // The portal's secret is rotated without notice; a change is made.
    w.sim.rotate_secret("rotated-secret");
    let (mentor, contact) = links[0];
    w.pause(mentor).await;
    let open_alert =
        "SELECT count(*) FROM alerts WHERE kind = 'sync_credentials' AND resolved_at IS NULL";
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while w.scalar(open_alert).await != 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no credentials alert"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // More changes keep queueing while paused; nothing is lost and no attempt is spent.
    let (second, second_contact) = links[1];
    w.pause(second).await;
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert_eq!(
        w.visible(contact),
        json!(true),
        "nothing pushed while refused"
    );
    assert_eq!(w.visible(second_contact), json!(true));
    assert_eq!(
        w.scalar("SELECT count(*) FROM alerts WHERE kind = 'sync_credentials'")
            .await,
        1,
        "one alert for the incident, however many checks failed"
    );
    assert_eq!(
        w.scalar("SELECT COALESCE(sum(attempts), 0) FROM mentor_sync")
            .await,
        0
    );
    let status = w.engine.sync_status(&w.coordinator).await.unwrap();
    let check = status.last_credential_check.unwrap();
    assert!(!check.ok);
    assert!(!check.detail.unwrap_or_default().contains("rotated-secret"));

    // The new secret arrives: the next check works, the alert resolves, everything converges.
    w.integration
        .client
        .set_client_secret("rotated-secret".to_owned().into());
    w.eventually(10, "both pauses pushed", || {
        w.visible(contact) == json!(false) && w.visible(second_contact) == json!(false)
    })
    .await;
    cancel.cancel();
    task.await.unwrap();
    assert_eq!(
        w.scalar("SELECT count(*) FROM alerts WHERE kind = 'sync_credentials' AND resolved_at IS NOT NULL")
            .await,
        1
    );
    assert!(
        w.engine
            .sync_status(&w.coordinator)
            .await
            .unwrap()
            .last_credential_check
            .unwrap()
            .ok
    );
}

testkit::on_both_backends!(
    rotated_credentials_open_one_alert_pause_pushing_and_recover_with_the_new_secret,
);
