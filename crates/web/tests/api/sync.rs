use reqwest::StatusCode;
use serde_json::json;
use testkit::TestBackend;

use crate::helpers::*;

async fn force_sync_queues_the_mentor_at_high_priority_and_the_status_counts_it<B: TestBackend>() {
    let app = spawn_app::<B>().await;
    let mentor = id_of(
        &app.create_mentor("Synk Mentor", "synk@hlf.no", Some("2027-01-01"))
            .await,
    );
    let before = app.get("/api/v1/sync/status", &app.coordinator).await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.body);
    assert_eq!(
        before.body["enabled"], false,
        "no integration in this deployment"
    );
    // Registrations queued a row each (the seeded mentor and this one).
    assert_eq!(before.body["pending"], 2);

    let forced = app
        .post(
            &format!("/api/v1/mentors/{mentor}/sync"),
            &app.coordinator,
            json!(null),
        )
        .await;
    assert_eq!(forced.status, StatusCode::ACCEPTED, "{}", forced.body);
    assert_eq!(forced.body["queued"], 1);
    assert_eq!(
        app.count("sync_outbox", mentor, Some("t.priority > 0"))
            .await,
        1
    );
    // Forcing again while the first is waiting queues nothing more.
    let again = app
        .post(
            &format!("/api/v1/mentors/{mentor}/sync"),
            &app.coordinator,
            json!(null),
        )
        .await;
    assert_eq!(again.body["queued"], 0);

    let after = app.get("/api/v1/sync/status", &app.coordinator).await;
    assert_eq!(after.body["pending"], 3);
    for field in [
        "dead",
        "retrying",
        "oldest_pending_age_seconds",
        "lag",
        "last_credential_check",
        "drift",
        "dead_letters",
    ] {
        assert!(
            after.body.get(field).is_some(),
            "missing {field}: {}",
            after.body
        );
    }
    assert_eq!(after.body["lag"]["window_hours"], 24);
}

async fn dead_letters_are_retried_through_the_api<B: TestBackend>() {
    let app = spawn_app::<B>().await;
    B::execute(
        &app.db,
        "UPDATE sync_outbox SET state = 'dead', last_error = 'HTTP 400'",
    )
    .await;
    let status = app.get("/api/v1/sync/status", &app.coordinator).await;
    assert_eq!(status.body["dead"], 1);
    assert_eq!(status.body["dead_letters"][0]["last_error"], "HTTP 400");
    let retried = app
        .post("/api/v1/sync/retry", &app.coordinator, json!({}))
        .await;
    assert_eq!(retried.status, StatusCode::ACCEPTED, "{}", retried.body);
    assert_eq!(retried.body["retried"], 1);
    let status = app.get("/api/v1/sync/status", &app.coordinator).await;
    assert_eq!(
        (status.body["dead"].clone(), status.body["pending"].clone()),
        (json!(0), json!(1))
    );
    app.post(
        "/api/v1/sync/retry",
        &app.coordinator,
        json!({"mentor": "x"}),
    )
    .await
    .invalid_field("mentor");
}

async fn an_org_wide_push_queues_every_linked_mentor<B: TestBackend>() {
    let app = spawn_app::<B>().await;
    for n in 0..3 {
        let reply = app
            .post(
                "/api/v1/mentors",
                &app.coordinator,
                json!({"full_name": format!("Lenket {n}"), "email": format!("l{n}@hlf.no"),
                       "dynamics_key": format!("M-{n}"),
                       "certification": {"issued_on": "2026-01-01", "expires_on": "2027-01-01"}}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    let pushed = app.post("/api/v1/sync/push", &app.admin, json!(null)).await;
    assert_eq!(pushed.status, StatusCode::ACCEPTED, "{}", pushed.body);
    assert_eq!(pushed.body["queued"], 3, "linked mentors only");
}

testkit::on_both_backends!(
    force_sync_queues_the_mentor_at_high_priority_and_the_status_counts_it,
    dead_letters_are_retried_through_the_api,
    an_org_wide_push_queues_every_linked_mentor,
);
