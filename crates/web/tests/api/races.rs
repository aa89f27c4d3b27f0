use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;
use testkit::TestBackend;

use crate::helpers::*;

async fn twenty_concurrent_pauses_of_one_mentor_apply_exactly_once<B: TestBackend>() {
    let app = spawn_app::<B>().await;
    let id = app.own_mentor;
    let history_before = app.history_rows(id).await;
    let outbox_before = app.outbox_rows(id).await;
    let replies = join_all((0..20).map(|n| {
        app.post(
            "/api/v1/me/pause",
            &app.mentor,
            json!({"reason": format!("pause {n}")}),
        )
    }))
    .await;
    let ok = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    let refused: Vec<_> = replies
        .iter()
        .filter(|r| r.status == StatusCode::CONFLICT)
        .collect();
    assert_eq!(ok, 1, "exactly one pause wins");
    assert_eq!(refused.len(), 19, "the rest are refused");
    for reply in refused {
        assert_eq!(reply.problem(409)["current_status"], "paused");
    }
    assert_eq!(app.history_rows(id).await, history_before + 1);
    assert_eq!(app.outbox_rows(id).await, outbox_before + 1);
    let coordinator_notes = app
        .count("notifications", id, Some("t.kind = 'mentor_paused'"))
        .await;
    assert_eq!(coordinator_notes, 1, "one coordinator, one notification");
}

async fn a_renewal_racing_a_pause_both_apply<B: TestBackend>() {
    let app = spawn_app::<B>().await;
    for round in 0..8 {
        let mentor = app
            .create_mentor("Racer", &format!("racer{round}@hlf.no"), Some("2026-06-30"))
            .await;
        let id = id_of(&mentor);
        let (pause_path, renew_path) = (
            format!("/api/v1/mentors/{id}/pause"),
            format!("/api/v1/mentors/{id}/certifications"),
        );
        let pause = app.post(&pause_path, &app.coordinator, json!({"reason": "ferie"}));
        let renew = app.post(
            &renew_path,
            &app.admin,
            json!({"issued_on": "2026-06-15", "expires_on": "2028-06-15"}),
        );
        let (pause, renew) = tokio::join!(pause, renew);
        assert_eq!(pause.status, StatusCode::OK, "{}", pause.body);
        assert_eq!(renew.status, StatusCode::CREATED, "{}", renew.body);
        let now = app.mentor_json(id).await;
        assert_eq!(now["status"], "paused");
        assert_eq!(now["certification"]["expires_on"], "2028-06-15");
        assert_eq!(now["version"], 3, "both changes bumped the version once");
        let certifications = app.count("certifications", id, None).await;
        assert_eq!(certifications, 2);
        assert_eq!(app.history_rows(id).await, 2, "registration and the pause");
    }
}

testkit::on_both_backends!(
    twenty_concurrent_pauses_of_one_mentor_apply_exactly_once,
    a_renewal_racing_a_pause_both_apply,
);
