use reqwest::{Method, StatusCode};
use serde_json::json;
use testkit::TestBackend;

use crate::helpers::*;

async fn health_endpoints_report_a_ready_database<B: TestBackend>() {
    let app = spawn_app::<B>().await;
    let alive = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(alive.status, StatusCode::OK);
    assert_eq!(alive.body["status"], "ok");
    let ready = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    assert_eq!(ready.body["checks"]["database"], "ok");
    assert_eq!(ready.body["checks"]["migrations"], "current");
}

async fn registering_a_mentor_returns_the_contract_shape<B: TestBackend>() {
    let app = spawn_app::<B>().await;
    let created = app
        .create_mentor("Ola Hansen", "Ola@Example.no", Some("2026-07-15"))
        .await;
    let id = id_of(&created);
    assert_eq!(created["org"], "hlf");
    assert_eq!(created["full_name"], "Ola Hansen");
    assert_eq!(
        created["email"], "ola@example.no",
        "emails are stored lower-cased"
    );
    assert_eq!(created["status"], "active");
    assert_eq!(created["version"], 1);
    assert_eq!(created["listed_publicly"], true);
    assert_eq!(created["certification"]["expires_on"], "2026-07-15");
    assert_eq!(created["certification"]["days_left"], 30);
    assert_eq!(created["sync"]["state"], "disabled"); // no Dynamics integration in this deployment
    for field in [
        "id",
        "org",
        "full_name",
        "email",
        "phone",
        "status",
        "status_reason",
        "status_changed_at",
        "resume_on",
        "listed_publicly",
        "dynamics_contact_id",
        "dynamics_key",
        "version",
        "certification",
        "sync",
    ] {
        assert!(created.get(field).is_some(), "mentor JSON lacks {field}");
    }
    for field in ["state", "pushed_version", "pushed_at", "last_error"] {
        assert!(created["sync"].get(field).is_some(), "sync lacks {field}");
    }
    assert_eq!(app.mentor_json(id).await, created);
    assert_eq!(app.history_rows(id).await, 1, "registration is recorded");
    assert_eq!(
        app.outbox_rows(id).await,
        1,
        "a new mentor is queued for the listing"
    );
}

async fn a_mentor_without_a_valid_certification_starts_expired<B: TestBackend>() {
    let app = spawn_app::<B>().await;
    let none = app
        .create_mentor("Uten Sertifikat", "uten@hlf.no", None)
        .await;
    assert_eq!(none["status"], "certification_expired");
    assert_eq!(none["certification"], serde_json::Value::Null);
    let lapsed = app
        .create_mentor("Utløpt", "utlopt@hlf.no", Some("2026-06-14"))
        .await;
    assert_eq!(lapsed["status"], "certification_expired");
    assert_eq!(lapsed["certification"]["days_left"], -1);
    let last_day = app
        .create_mentor("Siste Dag", "siste@hlf.no", Some(TODAY))
        .await;
    assert_eq!(
        last_day["status"], "active",
        "expires_on is the last valid day"
    );
    assert_eq!(last_day["certification"]["days_left"], 0);
}

async fn a_dynamics_link_is_kept_and_patch_changes_details<B: TestBackend>() {
    let app = spawn_app::<B>().await;
    let reply = app
        .post(
            "/api/v1/mentors",
            &app.coordinator,
            json!({"full_name": "Per Berg", "email": "per@hlf.no", "phone": "+47 900 00 000",
                   "dynamics_key": "M-1001", "listed_publicly": false}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let id = id_of(&reply.body);
    assert_eq!(reply.body["dynamics_key"], "M-1001");
    assert_eq!(reply.body["sync"]["state"], "disabled");

    let patched = app
        .call(
            Method::PATCH,
            &format!("/api/v1/mentors/{id}"),
            Some(&app.coordinator.token),
            Some(json!({"phone": null, "listed_publicly": true, "full_name": "Per Berg-Hansen"})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.body["phone"], serde_json::Value::Null);
    assert_eq!(patched.body["listed_publicly"], true);
    assert_eq!(patched.body["full_name"], "Per Berg-Hansen");
    assert_eq!(patched.body["version"], 2);
    assert_eq!(patched.body["dynamics_key"], "M-1001", "absent fields stay");
    assert_eq!(
        app.outbox_rows(id).await,
        2,
        "a change of listing fields is queued"
    );
}

async fn the_list_filters_searches_and_pages<B: TestBackend>() {
    let app = spawn_app::<B>().await;
    // Kari Nordmann (expires 2027-06-15) exists already.
    let a = app
        .create_mentor("Anne Aas", "anne@hlf.no", Some("2026-06-20"))
        .await;
    app.create_mentor("Bjørn Bø", "bjorn@hlf.no", Some("2026-07-15"))
        .await;
    app.create_mentor("Cecilie Cox", "cecilie@hlf.no", Some("2026-07-16"))
        .await;
    app.create_mentor("David 100% Dahl", "david@hlf.no", None)
        .await;
    app.post(
        &format!("/api/v1/mentors/{}/pause", id_of(&a)),
        &app.coordinator,
        json!({"reason": "ferie"}),
    )
    .await;

    let names = |reply: &Reply| -> Vec<String> {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["full_name"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = app.get("/api/v1/mentors", &app.coordinator).await;
    assert_eq!(
        names(&all),
        [
            "Anne Aas",
            "Bjørn Bø",
            "Cecilie Cox",
            "David 100% Dahl",
            "Kari Nordmann"
        ]
    );
    assert_eq!(all.body["next_cursor"], serde_json::Value::Null);

    let paused = app
        .get("/api/v1/mentors?status=paused", &app.coordinator)
        .await;
    assert_eq!(names(&paused), ["Anne Aas"]);
    let expired = app
        .get(
            "/api/v1/mentors?status=certification_expired",
            &app.coordinator,
        )
        .await;
    assert_eq!(names(&expired), ["David 100% Dahl"]);
    // 30 days from 2026-06-15 is 2026-07-15, inclusive.
    let expiring = app
        .get("/api/v1/mentors?expiring_within_days=30", &app.coordinator)
        .await;
    assert_eq!(names(&expiring), ["Anne Aas", "Bjørn Bø"]);
    let search = app.get("/api/v1/mentors?q=B%C3%B8", &app.coordinator).await;
    assert_eq!(names(&search), ["Bjørn Bø"]);
    let percent = app.get("/api/v1/mentors?q=100%25", &app.coordinator).await;
    assert_eq!(
        names(&percent),
        ["David 100% Dahl"],
        "% is matched literally"
    );
    let by_email = app
        .get("/api/v1/mentors?q=CECILIE@", &app.coordinator)
        .await;
    assert_eq!(names(&by_email), ["Cecilie Cox"]);

    let mut seen = Vec::new();
    let mut path = "/api/v1/mentors?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let page = app.get(&path, &app.coordinator).await;
        let items = names(&page);
        assert!(items.len() <= 2);
        seen.extend(items);
        pages += 1;
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/mentors?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, names(&all), "pages cover everything once, in order");
}

async fn history_is_newest_first_with_who_and_why<B: TestBackend>() {
    let app = spawn_app::<B>().await;
    let id = app.own_mentor;
    let path = format!("/api/v1/mentors/{id}");
    app.post(
        &format!("{path}/pause"),
        &app.coordinator,
        json!({"reason": "sykdom", "resume_on": "2026-07-01"}),
    )
    .await;
    app.post(&format!("{path}/resume"), &app.mentor, json!({}))
        .await;
    let history = app.get(&format!("{path}/history"), &app.coordinator).await;
    assert_eq!(history.status, StatusCode::OK, "{}", history.body);
    let items = history.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["from_status"], "paused");
    assert_eq!(items[0]["to_status"], "active");
    assert_eq!(items[0]["actor"]["email"], "kari@hlf.no");
    assert_eq!(items[1]["to_status"], "paused");
    assert_eq!(items[1]["reason"], "sykdom");
    assert_eq!(items[1]["actor"]["kind"], "user");
    assert_eq!(items[1]["actor"]["email"], "coord@hlf.no");
    assert_eq!(items[2]["from_status"], serde_json::Value::Null);
    assert_eq!(items[2]["actor"]["kind"], "system");
    for item in items {
        for field in [
            "id",
            "from_status",
            "to_status",
            "reason",
            "actor",
            "occurred_at",
        ] {
            assert!(item.get(field).is_some(), "history item lacks {field}");
        }
    }
    let first_page = app
        .get(&format!("{path}/history?limit=2"), &app.coordinator)
        .await;
    let cursor = first_page.body["next_cursor"]
        .as_str()
        .expect("a second page")
        .to_owned();
    let second = app
        .get(
            &format!("{path}/history?limit=2&cursor={cursor}"),
            &app.coordinator,
        )
        .await;
    assert_eq!(second.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(second.body["items"][0]["id"], items[2]["id"]);
}

testkit::on_both_backends!(
    health_endpoints_report_a_ready_database,
    registering_a_mentor_returns_the_contract_shape,
    a_mentor_without_a_valid_certification_starts_expired,
    a_dynamics_link_is_kept_and_patch_changes_details,
    the_list_filters_searches_and_pages,
    history_is_newest_first_with_who_and_why,
);
