use reqwest::{Method, StatusCode};
use serde_json::json;
use testkit::TestBackend;

use crate::helpers::*;

/// Asserts the mentor's history, outbox and status are what they were.
async fn unchanged<B: TestBackend>(app: &TestApp<B>, history: i64, outbox: i64) {
    assert_eq!(
        app.history_rows(app.own_mentor).await,
        history,
        "no history written"
    );
    assert_eq!(
        app.outbox_rows(app.own_mentor).await,
        outbox,
        "no outbox row written"
    );
    assert_eq!(app.mentor_json(app.own_mentor).await["status"], "active");
}

async fn bad_pause_requests_name_the_field_and_write_nothing<B: TestBackend>() {
    let app = spawn_app::<B>().await;
    let id = app.own_mentor;
    let path = format!("/api/v1/mentors/{id}/pause");
    let (history, outbox) = (app.history_rows(id).await, app.outbox_rows(id).await);

    let malformed = app
        .client
        .post(app.url(&path))
        .bearer_auth(&app.coordinator.token)
        .header("content-type", "application/json")
        .body("{\"reason\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        malformed.headers()["content-type"],
        "application/problem+json"
    );

    let not_json = app
        .client
        .post(app.url(&path))
        .bearer_auth(&app.coordinator.token)
        .body("reason=ferie")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);

    for (body, field) in [
        (
            json!({"reason": "ferie", "resume_on": "2026-02-30"}),
            "resume_on",
        ),
        (
            json!({"reason": "ferie", "resume_on": "15.07.2026"}),
            "resume_on",
        ),
        (json!({"reason": "ferie", "resume_on": TODAY}), "resume_on"),
        (
            json!({"reason": "ferie", "resume_on": "2026-06-14"}),
            "resume_on",
        ),
        (json!({"reason": ""}), "reason"),
        (json!({"reason": "   "}), "reason"),
        (json!({"reason": "x".repeat(501)}), "reason"),
        (json!({"reason": 42}), "reason"),
        (json!({}), "reason"),
        (json!({"reason": "ferie", "until": "2026-07-01"}), "until"),
    ] {
        let reply = app.post(&path, &app.coordinator, body.clone()).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} -> {}",
            reply.body
        );
        reply.invalid_field(field);
    }
    unchanged(&app, history, outbox).await;
    let ok = app
        .post(
            &path,
            &app.coordinator,
            json!({"reason": "x".repeat(500), "resume_on": "2026-06-16"}),
        )
        .await;
    assert_eq!(
        ok.status,
        StatusCode::OK,
        "500 characters and tomorrow are fine: {}",
        ok.body
    );
}

async fn bad_mentors_and_certifications_name_the_field_and_write_nothing<B: TestBackend>() {
    let app = spawn_app::<B>().await;
    let mentors_before = app.get("/api/v1/mentors", &app.coordinator).await.body["items"]
        .as_array()
        .unwrap()
        .len();
    for (body, field) in [
        (json!({"full_name": "Ny", "email": "kari@hlf.no"}), "email"),
        (json!({"full_name": "Ny", "email": "KARI@HLF.NO"}), "email"),
        (json!({"full_name": "Ny", "email": "not-an-email"}), "email"),
        (json!({"full_name": "", "email": "ny@hlf.no"}), "full_name"),
        (json!({"email": "ny@hlf.no"}), "full_name"),
        (
            json!({"full_name": "Ny", "email": "ny@hlf.no", "phone": "ring meg"}),
            "phone",
        ),
        (
            json!({"full_name": "Ny", "email": "ny@hlf.no", "dynamics_contact_id": "nope"}),
            "dynamics_contact_id",
        ),
        (
            json!({"full_name": "Ny", "email": "ny@hlf.no", "certification": {"issued_on": "2026-05-02", "expires_on": "2026-05-01"}}),
            "certification.expires_on",
        ),
        (
            json!({"full_name": "Ny", "email": "ny@hlf.no", "certification": {"issued_on": "2026-05-02"}}),
            "certification.expires_on",
        ),
    ] {
        let reply = app
            .post("/api/v1/mentors", &app.coordinator, body.clone())
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} -> {}",
            reply.body
        );
        reply.invalid_field(field);
    }
    let mentors_after = app.get("/api/v1/mentors", &app.coordinator).await.body["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(mentors_after, mentors_before, "no mentor was written");

    let id = app.own_mentor;
    let (history, outbox) = (app.history_rows(id).await, app.outbox_rows(id).await);
    let certs = app.count("certifications", id, None).await;
    let reply = app
        .post(
            &format!("/api/v1/mentors/{id}/certifications"),
            &app.coordinator,
            json!({"issued_on": "2026-06-10", "expires_on": "2026-06-09"}),
        )
        .await;
    reply.invalid_field("expires_on");
    assert_eq!(app.count("certifications", id, None).await, certs);
    let duplicate = app.create_mentor("Annen", "annen@hlf.no", None).await;
    let patch = app
        .call(
            Method::PATCH,
            &format!("/api/v1/mentors/{}", id_of(&duplicate)),
            Some(&app.coordinator.token),
            Some(json!({"email": "kari@hlf.no"})),
        )
        .await;
    patch.invalid_field("email");
    unchanged(&app, history, outbox).await;
}

async fn bad_list_parameters_and_ids_are_named<B: TestBackend>() {
    let app = spawn_app::<B>().await;
    for (query, field) in [
        ("status=on_leave", "status"),
        ("expiring_within_days=-1", "expiring_within_days"),
        ("expiring_within_days=soon", "expiring_within_days"),
        ("limit=0", "limit"),
        ("limit=1000", "limit"),
        ("cursor=garbage", "cursor"),
    ] {
        let reply = app
            .get(&format!("/api/v1/mentors?{query}"), &app.coordinator)
            .await;
        reply.invalid_field(field);
    }
    let reply = app
        .get("/api/v1/mentors/not-a-uuid", &app.coordinator)
        .await;
    reply.problem(400);
    let unknown_route = app.get("/api/v1/nothing-here", &app.coordinator).await;
    unknown_route.problem(404);
}

testkit::on_both_backends!(
    bad_pause_requests_name_the_field_and_write_nothing,
    bad_mentors_and_certifications_name_the_field_and_write_nothing,
    bad_list_parameters_and_ids_are_named,
);
