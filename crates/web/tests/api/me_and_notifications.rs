use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::TestBackend;

use crate::helpers::*;

async fn me_describes_the_caller_and_their_mentor_profile<B: TestBackend>() {
    let app = spawn_app::<B>().await;
    let me = app.get("/api/v1/me", &app.mentor).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.body["email"], "kari@hlf.no");
    assert_eq!(me.body["role"], "mentor");
    assert_eq!(me.body["mentor"]["id"], app.own_mentor.to_string());
    assert_eq!(me.body["mentor"]["certification"]["days_left"], 365);
    let coordinator = app.get("/api/v1/me", &app.coordinator).await;
    assert_eq!(coordinator.body["role"], "coordinator");
    assert_eq!(coordinator.body["mentor"], Value::Null);
}

async fn a_mentor_pauses_and_resumes_themself_and_coordinators_are_told<B: TestBackend>() {
    let app = spawn_app::<B>().await;
    let second_coordinator = login(
        &app.store,
        &app.keys,
        &app.org,
        "coord2@hlf.no",
        domain::Role::Coordinator,
        None,
    )
    .await;
    let paused = app
        .post(
            "/api/v1/me/pause",
            &app.mentor,
            json!({"reason": "ferie", "resume_on": "2026-08-01"}),
        )
        .await;
    assert_eq!(paused.status, StatusCode::OK, "{}", paused.body);
    assert_eq!(paused.body["status"], "paused");
    assert_eq!(paused.body["resume_on"], "2026-08-01");
    let resumed = app.post("/api/v1/me/resume", &app.mentor, json!({})).await;
    assert_eq!(resumed.body["status"], "active", "{}", resumed.body);

    for coordinator in [&app.coordinator, &second_coordinator] {
        let inbox = app.get("/api/v1/notifications", coordinator).await;
        let kinds: Vec<&str> = inbox.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["mentor_resumed", "mentor_paused"], "newest first");
        assert_eq!(inbox.body["items"][1]["payload"]["reason"], "ferie");
        assert_eq!(
            inbox.body["items"][1]["payload"]["mentor_name"],
            "Kari Nordmann"
        );
    }
    let admin_inbox = app.get("/api/v1/notifications", &app.admin).await;
    assert_eq!(
        admin_inbox.body["items"].as_array().unwrap().len(),
        0,
        "digests of this kind go to coordinators"
    );
    let other_org = app
        .get("/api/v1/notifications", &app.other_coordinator)
        .await;
    assert_eq!(
        other_org.body["items"].as_array().unwrap().len(),
        0,
        "never another organisation's news"
    );
    let mentor_inbox = app.get("/api/v1/notifications", &app.mentor).await;
    assert_eq!(mentor_inbox.body["items"].as_array().unwrap().len(), 0);
}

async fn a_login_without_a_mentor_profile_cannot_pause_itself<B: TestBackend>() {
    let app = spawn_app::<B>().await;
    let reply = app
        .post(
            "/api/v1/me/pause",
            &app.coordinator,
            json!({"reason": "ferie"}),
        )
        .await;
    reply.problem(403);
}

async fn notifications_are_marked_read_once_and_only_by_their_recipient<B: TestBackend>() {
    let app = spawn_app::<B>().await;
    app.post("/api/v1/me/pause", &app.mentor, json!({"reason": "ferie"}))
        .await;
    let inbox = app.get("/api/v1/notifications", &app.coordinator).await;
    let id = inbox.body["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(inbox.body["items"][0]["read_at"], Value::Null);
    for field in [
        "id",
        "kind",
        "mentor_id",
        "payload",
        "created_at",
        "read_at",
    ] {
        assert!(
            inbox.body["items"][0].get(field).is_some(),
            "notification lacks {field}"
        );
    }

    let foreign = app
        .post(
            &format!("/api/v1/notifications/{id}/read"),
            &app.admin,
            json!({}),
        )
        .await;
    foreign.problem(404);
    let other_org = app
        .post(
            &format!("/api/v1/notifications/{id}/read"),
            &app.other_coordinator,
            json!({}),
        )
        .await;
    other_org.problem(404);

    let read = app
        .post(
            &format!("/api/v1/notifications/{id}/read"),
            &app.coordinator,
            json!({}),
        )
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    let first_read_at = read.body["read_at"].clone();
    assert!(first_read_at.is_string());
    app.clock.set(app.clock_now() + chrono::Duration::hours(1));
    let again = app
        .post(
            &format!("/api/v1/notifications/{id}/read"),
            &app.coordinator,
            json!({}),
        )
        .await;
    assert_eq!(
        again.body["read_at"], first_read_at,
        "the first read time is kept"
    );

    let unread = app
        .get("/api/v1/notifications?unread=true", &app.coordinator)
        .await;
    assert_eq!(unread.body["items"].as_array().unwrap().len(), 0);
    let bad = app
        .call(
            Method::GET,
            "/api/v1/notifications?unread=maybe",
            Some(&app.coordinator.token),
            None,
        )
        .await;
    bad.invalid_field("unread");
}

testkit::on_both_backends!(
    me_describes_the_caller_and_their_mentor_profile,
    a_mentor_pauses_and_resumes_themself_and_coordinators_are_told,
    a_login_without_a_mentor_profile_cannot_pause_itself,
    notifications_are_marked_read_once_and_only_by_their_recipient,
);
