use chrono::Utc;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::TestBackend;

use crate::helpers::*;

/// What a caller may get: allowed (2xx), forbidden, or not found. A 409 is none of these: every call
/// acts on a mentor put in the state its action starts from, so a permitted call must succeed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Allowed,
    Forbidden,
    NotFound,
}
use Expect::*;

fn classify(reply: &Reply) -> Option<Expect> {
    match reply.status.as_u16() {
        200..=299 => Some(Allowed),
        403 => Some(Forbidden),
        404 => Some(NotFound),
        _ => None,
    }
}

/// The status an action on `path` starts from: resuming needs a pause, reactivating a deactivation,
/// everything else an active mentor.
fn starting_status(path: &str) -> &'static str {
    if path.ends_with("/resume") {
        "paused"
    } else if path.ends_with("/reactivate") {
        "inactive"
    } else {
        "active"
    }
}

impl<B: TestBackend> TestApp<B> {
    /// Moves `mentor` to `status` as the admin, through the API.
    async fn put_in_status(&self, mentor: &str, status: &str) {
        let current = self
            .get(&format!("/api/v1/mentors/{mentor}"), &self.admin)
            .await;
        let current = current.body["status"].as_str().unwrap().to_owned();
        let steps: &[&str] = match (current.as_str(), status) {
            (from, to) if from == to => &[],
            ("active", "paused") => &["pause"],
            ("active", "inactive") | ("paused", "inactive") => &["deactivate"],
            ("paused", "active") => &["resume"],
            ("inactive", "active") => &["reactivate"],
            ("inactive", "paused") => &["reactivate", "pause"],
            (from, to) => panic!("no way from {from} to {to}"),
        };
        for step in steps {
            let reply = self
                .post(
                    &format!("/api/v1/mentors/{mentor}/{step}"),
                    &self.admin,
                    json!({"reason": "oppsett"}),
                )
                .await;
            assert!(
                reply.status.is_success(),
                "{step}: {} {}",
                reply.status,
                reply.body
            );
        }
    }
}

async fn every_endpoint_answers_each_role_and_token_as_designed<B: TestBackend>() {
    let app = spawn_app::<B>().await;
    let own = app.own_mentor.to_string();
    let unknown = uuid::Uuid::now_v7().to_string();
    let pause = json!({"reason": "ferie"});
    let cert = json!({"issued_on": "2026-01-01", "expires_on": "2028-01-01"});
    let new_mentor = |n: &str| json!({"full_name": "Ny Mentor", "email": format!("ny-{n}@hlf.no")});

    // `{target}` is a mentor registered for each role's call, `{own}` the mentor login's own mentor.
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
            "/api/v1/mentors/{target}".into(),
            None,
            [Forbidden, Allowed, Allowed, NotFound],
        ),
        (
            Method::GET,
            "/api/v1/mentors/{own}".into(),
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
            "/api/v1/mentors/{target}".into(),
            Some(json!({"listed_publicly": true})),
            [Forbidden, Allowed, Allowed, NotFound],
        ),
        (
            Method::POST,
            "/api/v1/mentors/{target}/pause".into(),
            Some(pause.clone()),
            [Forbidden, Allowed, Allowed, NotFound],
        ),
        (
            Method::POST,
            "/api/v1/mentors/{target}/resume".into(),
            None,
            [Forbidden, Allowed, Allowed, NotFound],
        ),
        (
            Method::POST,
            "/api/v1/mentors/{target}/deactivate".into(),
            Some(pause.clone()),
            [Forbidden, Allowed, Allowed, NotFound],
        ),
        (
            Method::POST,
            "/api/v1/mentors/{target}/reactivate".into(),
            None,
            [Forbidden, Allowed, Allowed, NotFound],
        ),
        (
            Method::POST,
            "/api/v1/mentors/{target}/certifications".into(),
            Some(cert.clone()),
            [Forbidden, Allowed, Allowed, NotFound],
        ),
        (
            Method::GET,
            "/api/v1/mentors/{target}/history".into(),
            None,
            [Forbidden, Allowed, Allowed, NotFound],
        ),
        (
            Method::GET,
            "/api/v1/mentors/{own}/history".into(),
            None,
            [Allowed, Allowed, Allowed, NotFound],
        ),
        (
            Method::POST,
            "/api/v1/mentors/{own}/deactivate".into(),
            Some(pause.clone()),
            [Forbidden, Allowed, Allowed, NotFound],
        ),
        (
            Method::POST,
            "/api/v1/mentors/{own}/reactivate".into(),
            None,
            [Forbidden, Allowed, Allowed, NotFound],
        ),
        (
            Method::POST,
            "/api/v1/mentors/{own}/certifications".into(),
            Some(cert.clone()),
            [Forbidden, Allowed, Allowed, NotFound],
        ),
        (
            Method::POST,
            "/api/v1/mentors/{own}/pause".into(),
            Some(pause.clone()),
            [Allowed, Allowed, Allowed, NotFound],
        ),
        (
            Method::POST,
            "/api/v1/mentors/{own}/resume".into(),
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
            "/api/v1/mentors/{target}/reminders".into(),
            None,
            [Forbidden, Allowed, Allowed, NotFound],
        ),
        (
            Method::GET,
            "/api/v1/mentors/{own}/reminders".into(),
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
            "/api/v1/mentors/{target}/sync".into(),
            None,
            [Forbidden, Allowed, Allowed, NotFound],
        ),
        (
            Method::POST,
            "/api/v1/mentors/{own}/sync".into(),
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

    let mut registered = 0;
    for (method, path, body, expected) in &endpoints {
        let any_mentor = path.replace("{target}", &own).replace("{own}", &own);
        for (token, why) in [
            (None, "no token"),
            (Some("not-a-jwt"), "garbage token"),
            (Some(expired.as_str()), "expired token"),
            (Some(unknown_subject.as_str()), "unknown subject"),
            (Some(foreign_key.as_str()), "token signed with another key"),
        ] {
            let reply = app
                .call(method.clone(), &any_mentor, token, body.clone())
                .await;
            reply.problem(401);
            assert_eq!(
                reply.headers["www-authenticate"], "Bearer",
                "{method} {any_mentor} with {why}"
            );
        }
        let logins = [
            &app.mentor,
            &app.coordinator,
            &app.admin,
            &app.other_coordinator,
        ];
        for (login, expect) in logins.iter().zip(expected) {
            let target = if path.contains("{target}") {
                registered += 1;
                let email = format!("maal-{registered}@hlf.no");
                let created = app
                    .create_mentor("Mål Mentor", &email, Some("2027-01-01"))
                    .await;
                id_of(&created).to_string()
            } else {
                String::new()
            };
            let acted_on = if path.contains("{target}") {
                Some(target.as_str())
            } else if path.contains("{own}") || path.starts_with("/api/v1/me/") {
                Some(own.as_str())
            } else {
                None
            };
            if let Some(mentor) = acted_on {
                app.put_in_status(mentor, starting_status(path)).await;
            }
            let path = path.replace("{target}", &target).replace("{own}", &own);
            let reply = app
                .call(method.clone(), &path, Some(&login.token), body.clone())
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
                for secret in ["Kari", "kari@hlf.no", "maal", own.as_str(), target.as_str()]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                {
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
