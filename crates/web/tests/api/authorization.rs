use chrono::Utc;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::TestBackend;

use crate::helpers::*;

/// What a caller may get: allowed (2xx, or 409 when the state refuses), forbidden, or not found.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Allowed,
    Forbidden,
    NotFound,
}
use Expect::*;

fn classify(reply: &Reply) -> Option<Expect> {
    match reply.status.as_u16() {
        200..=299 | 409 => Some(Allowed),
        403 => Some(Forbidden),
        404 => Some(NotFound),
        _ => None,
    }
}

async fn every_endpoint_answers_each_role_and_token_as_designed<B: TestBackend>() {
    let app = spawn_app::<B>().await;
    let own = app.own_mentor.to_string();
    let target = id_of(
        &app.create_mentor("Mål Mentor", "maal@hlf.no", Some("2027-01-01"))
            .await,
    )
    .to_string();
    let unknown = uuid::Uuid::now_v7().to_string();
    let pause = json!({"reason": "ferie"});
    let cert = json!({"issued_on": "2026-01-01", "expires_on": "2028-01-01"});
    let new_mentor = |n: &str| json!({"full_name": "Ny Mentor", "email": format!("ny-{n}@hlf.no")});

    // (method, path, body, [mentor, coordinator, admin, other organisation's coordinator])
    let endpoints: Vec<(Method, String, Option<Value>, [Expect; 4])> = vec![
        (
            Method::GET,
            "/api/v1/me".into(),
            None,
            [Allowed, Allowed, Allowed, Allowed],
        ),
        (
            Method::GET,
            "/api/v1/mentors".into(),
            None,
            [Forbidden, Allowed, Allowed, Allowed],
        ),
        (
            Method::GET,
            format!("/api/v1/mentors/{target}"),
            None,
            [Forbidden, Allowed, Allowed, NotFound],
        ),
        (
            Method::GET,
            format!("/api/v1/mentors/{own}"),
            None,
            [Allowed, Allowed, Allowed, NotFound],
        ),
        (
            Method::GET,
            format!("/api/v1/mentors/{unknown}"),
            None,
            [NotFound, NotFound, NotFound, NotFound],
        ),
        (
            Method::PATCH,
            format!("/api/v1/mentors/{target}"),
            Some(json!({"listed_publicly": true})),
            [Forbidden, Allowed, Allowed, NotFound],
        ),
        (
            Method::POST,
            format!("/api/v1/mentors/{target}/pause"),
            Some(pause.clone()),
            [Forbidden, Allowed, Allowed, NotFound],
        ),
        (
            Method::POST,
            format!("/api/v1/mentors/{target}/resume"),
            None,
            [Forbidden, Allowed, Allowed, NotFound],
        ),
        (
            Method::POST,
            format!("/api/v1/mentors/{target}/deactivate"),
            Some(pause.clone()),
            [Forbidden, Allowed, Allowed, NotFound],
        ),
        (
            Method::POST,
            format!("/api/v1/mentors/{target}/reactivate"),
            None,
            [Forbidden, Allowed, Allowed, NotFound],
        ),
        (
            Method::POST,
            format!("/api/v1/mentors/{target}/certifications"),
            Some(cert.clone()),
            [Forbidden, Allowed, Allowed, NotFound],
        ),
        (
            Method::GET,
            format!("/api/v1/mentors/{target}/history"),
            None,
            [Forbidden, Allowed, Allowed, NotFound],
        ),
        (
            Method::GET,
            format!("/api/v1/mentors/{own}/history"),
            None,
            [Allowed, Allowed, Allowed, NotFound],
        ),
        (
            Method::POST,
            format!("/api/v1/mentors/{own}/deactivate"),
            Some(pause.clone()),
            [Forbidden, Allowed, Allowed, NotFound],
        ),
        (
            Method::POST,
            format!("/api/v1/mentors/{own}/reactivate"),
            None,
            [Forbidden, Allowed, Allowed, NotFound],
        ),
        (
            Method::POST,
            format!("/api/v1/mentors/{own}/certifications"),
            Some(cert.clone()),
            [Forbidden, Allowed, Allowed, NotFound],
        ),
        (
            Method::POST,
            format!("/api/v1/mentors/{own}/pause"),
            Some(pause.clone()),
            [Allowed, Allowed, Allowed, NotFound],
        ),
        (
            Method::POST,
            format!("/api/v1/mentors/{own}/resume"),
            None,
            [Allowed, Allowed, Allowed, NotFound],
        ),
        (
            Method::POST,
            "/api/v1/me/pause".into(),
            Some(pause.clone()),
            [Allowed, Forbidden, Forbidden, Forbidden],
        ),
        (
            Method::POST,
            "/api/v1/me/resume".into(),
            None,
            [Allowed, Forbidden, Forbidden, Forbidden],
        ),
        (
            Method::GET,
            "/api/v1/notifications".into(),
            None,
            [Allowed, Allowed, Allowed, Allowed],
        ),
        (
            Method::POST,
            format!("/api/v1/notifications/{unknown}/read"),
            None,
            [NotFound, NotFound, NotFound, NotFound],
        ),
        (
            Method::GET,
            "/api/v1/org/settings".into(),
            None,
            [Forbidden, Forbidden, Allowed, Forbidden],
        ),
        (
            Method::PUT,
            "/api/v1/org/settings".into(),
            Some(json!({"thresholds_days": [30, 14, 7]})),
            [Forbidden, Forbidden, Allowed, Forbidden],
        ),
        (
            Method::GET,
            format!("/api/v1/mentors/{target}/reminders"),
            None,
            [Forbidden, Allowed, Allowed, NotFound],
        ),
        (
            Method::GET,
            format!("/api/v1/mentors/{own}/reminders"),
            None,
            [Allowed, Allowed, Allowed, NotFound],
        ),
        (
            Method::GET,
            "/api/v1/runs".into(),
            None,
            [Forbidden, Allowed, Allowed, Allowed],
        ),
        (
            Method::GET,
            "/api/v1/findings".into(),
            None,
            [Forbidden, Allowed, Allowed, Allowed],
        ),
        (
            Method::GET,
            "/api/v1/alerts".into(),
            None,
            [Forbidden, Allowed, Allowed, Allowed],
        ),
        (
            Method::POST,
            format!("/api/v1/mentors/{target}/sync"),
            None,
            [Forbidden, Allowed, Allowed, NotFound],
        ),
        (
            Method::POST,
            format!("/api/v1/mentors/{own}/sync"),
            None,
            [Forbidden, Allowed, Allowed, NotFound],
        ),
        (
            Method::POST,
            "/api/v1/sync/push".into(),
            None,
            [Forbidden, Forbidden, Allowed, Forbidden],
        ),
        (
            Method::POST,
            "/api/v1/sync/retry".into(),
            Some(json!({})),
            [Forbidden, Allowed, Allowed, Allowed],
        ),
        (
            Method::GET,
            "/api/v1/sync/status".into(),
            None,
            [Forbidden, Allowed, Allowed, Allowed],
        ),
        (
            Method::POST,
            format!("/api/v1/alerts/{unknown}/ack"),
            None,
            [Forbidden, NotFound, NotFound, NotFound],
        ),
    ];

    let expired = app.keys.mint(
        &app.coordinator.user.auth_subject,
        chrono::Duration::hours(1),
        Utc::now() - chrono::Duration::hours(3),
    );
    let unknown_subject = app
        .keys
        .mint("nobody", chrono::Duration::hours(1), Utc::now());
    let foreign_key = web::TokenKeys::from_secret(&secrecy::SecretString::from(
        "another-secret-another-secret-xyz".to_owned(),
    ))
    .unwrap()
    .mint(
        &app.coordinator.user.auth_subject,
        chrono::Duration::hours(1),
        Utc::now(),
    );

    for (method, path, body, expected) in &endpoints {
        for (token, why) in [
            (None, "no token"),
            (Some("not-a-jwt"), "garbage token"),
            (Some(expired.as_str()), "expired token"),
            (Some(unknown_subject.as_str()), "unknown subject"),
            (Some(foreign_key.as_str()), "token signed with another key"),
        ] {
            let reply = app.call(method.clone(), path, token, body.clone()).await;
            reply.problem(401);
            assert_eq!(
                reply.headers["www-authenticate"], "Bearer",
                "{method} {path} with {why}"
            );
        }
        let logins = [
            &app.mentor,
            &app.coordinator,
            &app.admin,
            &app.other_coordinator,
        ];
        for (login, expect) in logins.iter().zip(expected) {
            let reply = app
                .call(method.clone(), path, Some(&login.token), body.clone())
                .await;
            assert_eq!(
                classify(&reply),
                Some(*expect),
                "{method} {path} as {}: {} {}",
                login.user.email,
                reply.status,
                reply.body
            );
            if reply.status.is_client_error() {
                reply.problem(reply.status.as_u16());
            }
            if login.user.org_id == app.other_org.id {
                let text = reply.body.to_string();
                for secret in [
                    "Kari",
                    "kari@hlf.no",
                    "maal@hlf.no",
                    own.as_str(),
                    target.as_str(),
                ] {
                    assert!(
                        !text.contains(secret),
                        "{method} {path} leaked {secret} to another organisation: {text}"
                    );
                }
            }
        }
    }

    // Creating mentors: managers may, in their own organisation only.
    for (n, (login, expect)) in [
        (&app.mentor, Forbidden),
        (&app.coordinator, Allowed),
        (&app.admin, Allowed),
        (&app.other_coordinator, Allowed),
    ]
    .into_iter()
    .enumerate()
    {
        let reply = app
            .post("/api/v1/mentors", login, new_mentor(&n.to_string()))
            .await;
        assert_eq!(
            classify(&reply),
            Some(expect),
            "POST /api/v1/mentors as {}",
            login.user.email
        );
        if expect == Allowed {
            assert_eq!(reply.status, StatusCode::CREATED);
            let org_slug = if login.user.org_id == app.org.id {
                "hlf"
            } else {
                "other"
            };
            assert_eq!(
                reply.body["org"], org_slug,
                "created in the caller's organisation"
            );
        }
    }
    let other_list = app.get("/api/v1/mentors", &app.other_coordinator).await;
    let names: Vec<&str> = other_list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["ny-3@hlf.no"],
        "another organisation sees only its own mentors"
    );
}

async fn malformed_authorization_headers_are_401_problems<B: TestBackend>() {
    let app = spawn_app::<B>().await;
    for header in ["Basic abc", "Bearer", "Bearer ", "bearer token"] {
        let reply = app
            .call_with(
                Method::GET,
                "/api/v1/me",
                None,
                None,
                &[("authorization", header)],
            )
            .await;
        reply.problem(401);
    }
}

testkit::on_both_backends!(
    every_endpoint_answers_each_role_and_token_as_designed,
    malformed_authorization_headers_are_401_problems,
);
