use chrono::{TimeZone, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::TestBackend;

use crate::helpers::*;

async fn act<B: TestBackend>(app: &TestApp<B>, id: &str, action: &str) -> Reply {
    let body = match action {
        "pause" => json!({"reason": "ferie"}),
        "deactivate" => json!({"reason": "sluttet"}),
        _ => json!({}),
    };
    app.post(
        &format!("/api/v1/mentors/{id}/{action}"),
        &app.coordinator,
        body,
    )
    .await
}

/// Brings a fresh mentor to `status` through the API.
async fn mentor_in<B: TestBackend>(app: &TestApp<B>, status: &str, n: usize) -> String {
    let email = format!("m{n}@hlf.no");
    let mentor = match status {
        "certification_expired" => {
            app.create_mentor("Utløpt", &email, Some("2026-01-01"))
                .await
        }
        _ => app.create_mentor("Aktiv", &email, Some("2027-01-01")).await,
    };
    let id = mentor["id"].as_str().unwrap().to_owned();
    match status {
        "paused" => assert_eq!(act(app, &id, "pause").await.status, StatusCode::OK),
        "inactive" => assert_eq!(act(app, &id, "deactivate").await.status, StatusCode::OK),
        _ => {}
    }
    assert_eq!(app.mentor_json(id.parse().unwrap()).await["status"], status);
    id
}

async fn every_transition_of_the_table_works_and_every_other_is_refused_with_the_current_status<
    B: TestBackend,
>() {
    let app = spawn_app::<B>().await;
    // (from, action) -> expected status afterwards, or None when refused. Certifications valid,
    // except for `certification_expired` mentors.
    let table: &[(&str, &str, Option<&str>)] = &[
        ("active", "pause", Some("paused")),
        ("active", "resume", None),
        ("active", "deactivate", Some("inactive")),
        ("active", "reactivate", None),
        ("paused", "pause", None),
        ("paused", "resume", Some("active")),
        ("paused", "deactivate", Some("inactive")),
        ("paused", "reactivate", None),
        ("certification_expired", "pause", None),
        ("certification_expired", "resume", None),
        ("certification_expired", "deactivate", Some("inactive")),
        ("certification_expired", "reactivate", None),
        ("inactive", "pause", None),
        ("inactive", "resume", None),
        ("inactive", "deactivate", None),
        ("inactive", "reactivate", Some("active")),
    ];
    for (n, (from, action, to)) in table.iter().enumerate() {
        let id = mentor_in(&app, from, n).await;
        let mentor_id = id.parse().unwrap();
        let history_before = app.history_rows(mentor_id).await;
        let outbox_before = app.outbox_rows(mentor_id).await;
        let reply = act(&app, &id, action).await;
        match to {
            Some(to) => {
                assert_eq!(
                    reply.status,
                    StatusCode::OK,
                    "{from} --{action}--> {}",
                    reply.body
                );
                assert_eq!(reply.body["status"], *to, "{from} --{action}-->");
                assert_eq!(app.history_rows(mentor_id).await, history_before + 1);
                assert_eq!(app.outbox_rows(mentor_id).await, outbox_before + 1);
            }
            None => {
                let problem = reply.problem(409);
                assert_eq!(
                    problem["current_status"], *from,
                    "{from} --{action}--> {problem}"
                );
                assert!(
                    problem["detail"].as_str().unwrap().contains(action),
                    "{problem}"
                );
                assert_eq!(
                    app.history_rows(mentor_id).await,
                    history_before,
                    "nothing written"
                );
                assert_eq!(
                    app.outbox_rows(mentor_id).await,
                    outbox_before,
                    "nothing written"
                );
            }
        }
    }
}

async fn a_pause_keeps_its_reason_and_return_date_and_resume_clears_them<B: TestBackend>() {
    let app = spawn_app::<B>().await;
    let id = app.own_mentor;
    let paused = app
        .post(
            &format!("/api/v1/mentors/{id}/pause"),
            &app.coordinator,
            json!({"reason": " ferie ", "resume_on": "2026-07-01"}),
        )
        .await;
    assert_eq!(paused.status, StatusCode::OK, "{}", paused.body);
    assert_eq!(paused.body["status"], "paused");
    assert_eq!(paused.body["status_reason"], "ferie");
    assert_eq!(paused.body["resume_on"], "2026-07-01");
    assert_eq!(paused.body["version"], 2);
    let resumed = app
        .post(
            &format!("/api/v1/mentors/{id}/resume"),
            &app.coordinator,
            json!({}),
        )
        .await;
    assert_eq!(resumed.body["status"], "active");
    assert_eq!(resumed.body["status_reason"], Value::Null);
    assert_eq!(resumed.body["resume_on"], Value::Null);
    assert_eq!(resumed.body["version"], 3);
}

async fn resume_and_reactivate_land_in_certification_expired_when_it_lapsed_meanwhile<
    B: TestBackend,
>() {
    let app = spawn_app::<B>().await;
    let mentor = app
        .create_mentor("Snart Utløpt", "snart@hlf.no", Some("2026-06-20"))
        .await;
    let id = mentor["id"].as_str().unwrap();
    assert_eq!(act(&app, id, "pause").await.status, StatusCode::OK);
    let other = app
        .create_mentor("Også Snart", "ogsa@hlf.no", Some("2026-06-20"))
        .await;
    let other_id = other["id"].as_str().unwrap();
    assert_eq!(
        act(&app, other_id, "deactivate").await.status,
        StatusCode::OK
    );

    app.clock
        .set(Utc.with_ymd_and_hms(2026, 6, 21, 10, 0, 0).unwrap());
    let resumed = act(&app, id, "resume").await;
    assert_eq!(
        resumed.body["status"], "certification_expired",
        "{}",
        resumed.body
    );
    let reactivated = act(&app, other_id, "reactivate").await;
    assert_eq!(
        reactivated.body["status"], "certification_expired",
        "{}",
        reactivated.body
    );
}

async fn a_renewal_lifts_certification_expired_but_never_a_manual_pause<B: TestBackend>() {
    let app = spawn_app::<B>().await;
    let lapsed = app
        .create_mentor("Utløpt", "utlopt@hlf.no", Some("2026-06-01"))
        .await;
    let lapsed_id = id_of(&lapsed);
    let renewal = json!({"issued_on": "2026-06-10", "expires_on": "2028-06-10"});
    let renewed = app
        .post(
            &format!("/api/v1/mentors/{lapsed_id}/certifications"),
            &app.coordinator,
            renewal.clone(),
        )
        .await;
    assert_eq!(renewed.status, StatusCode::CREATED, "{}", renewed.body);
    assert_eq!(renewed.body["status"], "active");
    assert_eq!(renewed.body["certification"]["expires_on"], "2028-06-10");
    assert_eq!(renewed.body["certification"]["days_left"], 726);
    assert_eq!(app.history_rows(lapsed_id).await, 2);
    assert_eq!(app.outbox_rows(lapsed_id).await, 2);

    let id = app.own_mentor;
    act(&app, &id.to_string(), "pause").await;
    let renewed = app
        .post(
            &format!("/api/v1/mentors/{id}/certifications"),
            &app.coordinator,
            renewal,
        )
        .await;
    assert_eq!(renewed.status, StatusCode::CREATED, "{}", renewed.body);
    assert_eq!(
        renewed.body["status"], "paused",
        "a renewal never lifts a manual pause"
    );
    assert_eq!(renewed.body["certification"]["expires_on"], "2028-06-10");
    assert_eq!(
        app.history_rows(id).await,
        2,
        "no status change, no history row"
    );
}

async fn changes_made_by_others_notify_the_mentor<B: TestBackend>() {
    let app = spawn_app::<B>().await;
    let id = app.own_mentor;
    act(&app, &id.to_string(), "pause").await;
    let inbox = app.get("/api/v1/notifications", &app.mentor).await;
    assert_eq!(inbox.status, StatusCode::OK);
    let items = inbox.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", inbox.body);
    assert_eq!(items[0]["kind"], "status_changed");
    assert_eq!(items[0]["mentor_id"], id.to_string());
    assert_eq!(items[0]["payload"]["to_status"], "paused");
    let coordinator_inbox = app.get("/api/v1/notifications", &app.coordinator).await;
    assert_eq!(
        coordinator_inbox.body["items"].as_array().unwrap().len(),
        0,
        "the actor is not told about their own act"
    );
}

/// A rule of the database that refuses the write (here a unique index the test adds: one pause per
/// reason) answers 409, as the dashboard does, not 500.
async fn a_write_a_database_rule_refuses_is_a_conflict<B: TestBackend>() {
    let app = spawn_app::<B>().await;
    let other = id_of(
        &app.create_mentor("Ola Nordmann", "ola@hlf.no", Some("2027-01-01"))
            .await,
    );
    B::execute(
        &app.db,
        "CREATE UNIQUE INDEX test_one_pause_per_reason ON status_history (reason) \
         WHERE to_status = 'paused'",
    )
    .await;
    let pause = json!({"reason": "ferie"});
    let first = app
        .post(
            &format!("/api/v1/mentors/{}/pause", app.own_mentor),
            &app.coordinator,
            pause.clone(),
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let refused = app
        .post(
            &format!("/api/v1/mentors/{other}/pause"),
            &app.coordinator,
            pause,
        )
        .await;
    refused.problem(409);
    assert_eq!(refused.body["type"], "/problems/conflict");
    assert_eq!(
        app.mentor_json(other).await["status"],
        "active",
        "nothing written"
    );
}

testkit::on_both_backends!(
    a_write_a_database_rule_refuses_is_a_conflict,
    every_transition_of_the_table_works_and_every_other_is_refused_with_the_current_status,
    a_pause_keeps_its_reason_and_return_date_and_resume_clears_them,
    resume_and_reactivate_land_in_certification_expired_when_it_lapsed_meanwhile,
    a_renewal_lifts_certification_expired_but_never_a_manual_pause,
    changes_made_by_others_notify_the_mentor,
);
