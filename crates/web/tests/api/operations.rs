use reqwest::{Method, StatusCode};
use serde_json::json;
use store::prelude::*;

use testkit::TestBackend;

use crate::helpers::*;

async fn admins_read_and_change_the_thresholds_and_others_may_not<B: TestBackend>() {
    let app = spawn_app::<B>().await;
    let settings = app.get("/api/v1/org/settings", &app.admin).await;
    assert_eq!(settings.status, StatusCode::OK, "{}", settings.body);
    assert_eq!(settings.body["thresholds_days"], serde_json::Value::Null);
    assert_eq!(
        settings.body["effective_thresholds_days"],
        json!([30, 14, 7])
    );
    assert_eq!(settings.body["features"]["per_org_thresholds"], false);

    let put = app
        .call(
            Method::PUT,
            "/api/v1/org/settings",
            Some(&app.admin.token),
            Some(json!({"thresholds_days": [7, 60, 7, 21]})),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!(
        put.body["thresholds_days"],
        json!([60, 21, 7]),
        "deduplicated and sorted"
    );
    assert_eq!(
        put.body["effective_thresholds_days"],
        json!([30, 14, 7]),
        "the flag is off: defaults apply"
    );

    for (bad, field) in [
        (json!({"thresholds_days": [0]}), "thresholds_days"),
        (json!({"thresholds_days": [366]}), "thresholds_days"),
        (json!({"thresholds_days": []}), "thresholds_days"),
        (json!({"thresholds_days": [30, 1.5]}), "thresholds_days[1]"),
        (json!({"thresholds": [30]}), "thresholds"),
    ] {
        let reply = app
            .call(
                Method::PUT,
                "/api/v1/org/settings",
                Some(&app.admin.token),
                Some(bad.clone()),
            )
            .await;
        reply.invalid_field(field);
    }
    let unchanged = app.get("/api/v1/org/settings", &app.admin).await;
    assert_eq!(
        unchanged.body["thresholds_days"],
        json!([60, 21, 7]),
        "refused changes wrote nothing"
    );

    for login in [&app.coordinator, &app.mentor] {
        app.get("/api/v1/org/settings", login).await.problem(403);
        app.call(
            Method::PUT,
            "/api/v1/org/settings",
            Some(&login.token),
            Some(json!({"thresholds_days": [7]})),
        )
        .await
        .problem(403);
    }
    let other = app
        .get("/api/v1/org/settings", &app.other_coordinator)
        .await;
    other.problem(403);
}

async fn runs_reminders_and_alerts_are_listed_for_the_organisation<B: TestBackend>() {
    let app = spawn_app::<B>().await;
    // Kari's certification ends 2027-06-15; this one 5 days from the end of 2026-06-15, and one whose
    // last valid day is today, which lapses by tomorrow's run.
    let soon = app
        .create_mentor("Snart", "snart@hlf.no", Some("2026-06-20"))
        .await;
    app.create_mentor("Siste dag", "siste@hlf.no", Some("2026-06-15"))
        .await;
    let engine = engine::Engine::new(app.store.clone(), std::sync::Arc::new(app.clock.clone()));
    engine
        .run_expiry(&app.org, "2026-06-15".parse().unwrap())
        .await
        .unwrap();
    engine
        .run_expiry(&app.org, "2026-06-16".parse().unwrap())
        .await
        .unwrap();

    let reminders = app
        .get(
            &format!("/api/v1/mentors/{}/reminders", id_of(&soon)),
            &app.coordinator,
        )
        .await;
    assert_eq!(reminders.status, StatusCode::OK, "{}", reminders.body);
    let items = reminders.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    let sent: Vec<_> = items.iter().filter(|r| r["outcome"] == "sent").collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["threshold_days"], 7);
    assert_eq!(sent[0]["certification_expires_on"], "2026-06-20");
    assert_eq!(sent[0]["business_date"], "2026-06-15");
    for field in [
        "threshold_days",
        "certification_expires_on",
        "outcome",
        "business_date",
        "created_at",
    ] {
        assert!(sent[0].get(field).is_some(), "reminder lacks {field}");
    }
    app.get(
        &format!("/api/v1/mentors/{}/reminders", id_of(&soon)),
        &app.other_coordinator,
    )
    .await
    .problem(404);
    app.get(
        &format!("/api/v1/mentors/{}/reminders", id_of(&soon)),
        &app.mentor,
    )
    .await
    .problem(403);
    let own = app
        .get(
            &format!("/api/v1/mentors/{}/reminders", app.own_mentor),
            &app.mentor,
        )
        .await;
    assert_eq!(own.status, StatusCode::OK);

    let runs = app.get("/api/v1/runs", &app.coordinator).await;
    assert_eq!(runs.status, StatusCode::OK, "{}", runs.body);
    let run = &runs.body["items"][0];
    assert_eq!(run["job"], "expiry");
    assert_eq!(run["outcome"], "succeeded");
    assert_eq!(run["trigger"], "manual");
    assert_eq!(run["business_date"], "2026-06-16", "newest first");
    assert_eq!(run["counts"]["expired"], 1);
    let first = &runs.body["items"][1];
    assert_eq!(first["business_date"], "2026-06-15");
    assert_eq!(
        first["counts"]["reminders_sent"], 2,
        "7 days for Snart, 0 days for Siste dag"
    );
    for field in [
        "id",
        "job",
        "business_date",
        "trigger",
        "instance",
        "started_at",
        "finished_at",
        "outcome",
        "counts",
        "error",
    ] {
        assert!(run.get(field).is_some(), "run lacks {field}");
    }
    let other_runs = app.get("/api/v1/runs", &app.other_coordinator).await;
    assert_eq!(
        other_runs.body["items"].as_array().unwrap().len(),
        0,
        "another organisation's log is empty"
    );
    app.get("/api/v1/runs", &app.mentor).await.problem(403);

    // An alert of this organisation, acknowledged once.
    let opened = app
        .store
        .open_alert(store::NewAlert {
            org: Some(app.org.id),
            kind: "duplicate_effects".into(),
            severity: store::Severity::Critical,
            dedupe_key: "test:1".into(),
            summary: "two reminders for one key".into(),
            at: app.clock_now(),
        })
        .await
        .unwrap();
    let alerts = app.get("/api/v1/alerts?open=true", &app.admin).await;
    assert_eq!(
        alerts.body["items"][0]["summary"], "two reminders for one key",
        "{}",
        alerts.body
    );
    let ack = app
        .post(
            &format!("/api/v1/alerts/{}/ack", opened.alert.id),
            &app.admin,
            json!({}),
        )
        .await;
    assert_eq!(ack.status, StatusCode::OK, "{}", ack.body);
    assert_eq!(ack.body["acknowledged_by"], app.admin.user.id.to_string());
    let again = app
        .post(
            &format!("/api/v1/alerts/{}/ack", opened.alert.id),
            &app.coordinator,
            json!({}),
        )
        .await;
    assert_eq!(
        again.body["acknowledged_by"],
        app.admin.user.id.to_string(),
        "the first acknowledgement stays"
    );
    app.post(
        &format!("/api/v1/alerts/{}/ack", opened.alert.id),
        &app.other_coordinator,
        json!({}),
    )
    .await
    .problem(404);
    app.get("/api/v1/alerts", &app.mentor).await.problem(403);
    let none_elsewhere = app.get("/api/v1/alerts", &app.other_coordinator).await;
    assert_eq!(none_elsewhere.body["items"].as_array().unwrap().len(), 0);
}

/// The reconciliation log: what the checks found, newest first, paged, for this organisation only.
async fn the_reconciliation_log_is_listed_newest_first<B: TestBackend>() {
    let app = spawn_app::<B>().await;
    let finding = |key: &str| store::Finding {
        kind: "listing_drift".into(),
        mentor_id: None,
        key: key.into(),
        count: 1,
    };
    app.store
        .record_findings(
            app.org.id,
            None,
            vec![finding("first"), finding("second"), finding("third")],
            app.clock_now(),
        )
        .await
        .unwrap();
    let page = app.get("/api/v1/findings?limit=2", &app.coordinator).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let keys = |body: &serde_json::Value| -> Vec<String> {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["key"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(keys(&page.body), ["third", "second"]);
    assert_eq!(page.body["items"][0]["kind"], "listing_drift");
    assert!(page.body["items"][0]["run_id"].is_null());
    let cursor = page.body["next_cursor"].as_str().expect("a next page");
    let rest = app
        .get(&format!("/api/v1/findings?cursor={cursor}"), &app.admin)
        .await;
    assert_eq!(keys(&rest.body), ["first"]);
    assert!(rest.body["next_cursor"].is_null());
    let elsewhere = app.get("/api/v1/findings", &app.other_coordinator).await;
    assert_eq!(elsewhere.body["items"].as_array().unwrap().len(), 0);
    app.get("/api/v1/findings", &app.mentor).await.problem(403);
    app.get("/api/v1/findings?cursor=abc", &app.coordinator)
        .await
        .problem(422);
}

testkit::on_both_backends!(
    the_reconciliation_log_is_listed_newest_first,
    admins_read_and_change_the_thresholds_and_others_may_not,
    runs_reminders_and_alerts_are_listed_for_the_organisation,
);
