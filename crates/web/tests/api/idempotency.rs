use reqwest::{Method, StatusCode};
use serde_json::json;
use testkit::TestBackend;

use crate::helpers::*;

async fn the_same_key_and_body_replays_the_first_response<B: TestBackend>() {
    let app = spawn_app::<B>().await;
    let id = app.own_mentor;
    let path = format!("/api/v1/mentors/{id}/pause");
    let body = json!({"reason": "ferie"});
    let key = [("idempotency-key", "pause-kari-1")];
    let first = app
        .call_with(
            Method::POST,
            &path,
            Some(&app.coordinator.token),
            Some(body.clone()),
            &key,
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let second = app
        .call_with(
            Method::POST,
            &path,
            Some(&app.coordinator.token),
            Some(body.clone()),
            &key,
        )
        .await;
    assert_eq!(
        second.status,
        StatusCode::OK,
        "a replay, not a 409: {}",
        second.body
    );
    assert_eq!(second.body, first.body);
    assert_eq!(second.headers["idempotent-replayed"], "true");
    assert_eq!(app.history_rows(id).await, 2, "registration + one pause");
    assert_eq!(app.outbox_rows(id).await, 2);

    let created = app
        .call_with(
            Method::POST,
            "/api/v1/mentors",
            Some(&app.coordinator.token),
            Some(json!({"full_name": "Ny", "email": "ny@hlf.no"})),
            &[("idempotency-key", "create-ny")],
        )
        .await;
    let replayed = app
        .call_with(
            Method::POST,
            "/api/v1/mentors",
            Some(&app.coordinator.token),
            Some(json!({"full_name": "Ny", "email": "ny@hlf.no"})),
            &[("idempotency-key", "create-ny")],
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(
        replayed.status,
        StatusCode::CREATED,
        "the replay keeps the first status"
    );
    assert_eq!(replayed.body["id"], created.body["id"]);
}

async fn the_same_key_with_another_body_is_422_and_changes_nothing<B: TestBackend>() {
    let app = spawn_app::<B>().await;
    let id = app.own_mentor;
    let path = format!("/api/v1/mentors/{id}/pause");
    let key = [("idempotency-key", "k1")];
    app.call_with(
        Method::POST,
        &path,
        Some(&app.coordinator.token),
        Some(json!({"reason": "ferie"})),
        &key,
    )
    .await;
    let other = app
        .call_with(
            Method::POST,
            &path,
            Some(&app.coordinator.token),
            Some(json!({"reason": "sykdom"})),
            &key,
        )
        .await;
    other.invalid_field("Idempotency-Key");
    let elsewhere = app
        .call_with(
            Method::POST,
            &format!("/api/v1/mentors/{id}/resume"),
            Some(&app.coordinator.token),
            None,
            &key,
        )
        .await;
    elsewhere.invalid_field("Idempotency-Key");
    assert_eq!(
        app.mentor_json(id).await["status"],
        "paused",
        "the resume did not run"
    );
}

async fn keys_belong_to_their_user_and_refusals_replay_too<B: TestBackend>() {
    let app = spawn_app::<B>().await;
    let id = app.own_mentor;
    let path = format!("/api/v1/mentors/{id}/resume");
    let key = [("idempotency-key", "shared")];
    let refused = app
        .call_with(
            Method::POST,
            &path,
            Some(&app.coordinator.token),
            None,
            &key,
        )
        .await;
    refused.problem(409);
    let replayed = app
        .call_with(
            Method::POST,
            &path,
            Some(&app.coordinator.token),
            None,
            &key,
        )
        .await;
    assert_eq!(replayed.body, refused.body);
    assert_eq!(replayed.headers["idempotent-replayed"], "true");
    assert_eq!(replayed.headers["content-type"], "application/problem+json");
    // Another user's identical key is their own.
    let admin = app
        .call_with(Method::POST, &path, Some(&app.admin.token), None, &key)
        .await;
    assert!(admin.headers.get("idempotent-replayed").is_none());
    let bad_key = app
        .call_with(
            Method::POST,
            &path,
            Some(&app.admin.token),
            None,
            &[("idempotency-key", "has space")],
        )
        .await;
    bad_key.problem(400);
}

testkit::on_both_backends!(
    the_same_key_and_body_replays_the_first_response,
    the_same_key_with_another_body_is_422_and_changes_nothing,
    keys_belong_to_their_user_and_refusals_replay_too,
);
