//! Logging in and out, sessions, CSRF tokens, the rate limit.

use chrono::Duration;
use domain::MentorStatus;
use reqwest::StatusCode;
use store::prelude::*;
use testkit::TestBackend;

use crate::helpers::{Browser, PASSWORD, spawn, spawn_with};

testkit::on_both_backends!(
    the_right_password_opens_a_session_and_a_wrong_one_is_refused,
    cookies_are_http_only_same_site_and_secure_behind_tls,
    forms_without_the_sessions_csrf_token_are_refused_and_change_nothing,
    an_idle_or_too_old_session_goes_back_to_the_login_page,
    logout_ends_the_session_for_good,
    failed_logins_are_limited_per_account_and_per_address,
    a_burst_of_parallel_guesses_gets_no_more_tries_than_the_limit,
    the_start_page_leads_to_the_login_or_the_mentors,
);

async fn the_right_password_opens_a_session_and_a_wrong_one_is_refused<B: TestBackend>() {
    let app = spawn::<B>().await;
    let mut browser = app.browser();

    let wrong = browser.login("coord@hlf.no", "not the password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(
        wrong.body.contains("Feil e-postadresse eller passord."),
        "{}",
        wrong.body
    );
    assert!(wrong.cookie("ms_session").is_none());
    let unknown = browser.login("nobody@hlf.no", PASSWORD).await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert!(unknown.body.contains("Feil e-postadresse eller passord."));
    // A login without a password (an API-only user) cannot log in at all.
    let api_only = store::NewUser {
        org_id: app.org.id,
        email: domain::Email::parse("api@hlf.no").unwrap(),
        role: domain::Role::Coordinator,
        mentor_id: None,
        auth_subject: None,
        password_hash: None,
        locale: None,
    };
    app.store.create_user(api_only).await.unwrap();
    assert_eq!(
        browser.login("api@hlf.no", "").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert!(
        browser.get("/mentors").await.location.is_some(),
        "still not signed in"
    );

    // The right one, in any letter case of the address.
    let right = browser.login("Coord@HLF.no", PASSWORD).await;
    right.assert_redirect("/mentors");
    let mentors = browser.get("/mentors").await;
    assert_eq!(mentors.status, StatusCode::OK);
    assert!(mentors.body.contains("Kari Nordmann"));
    assert!(mentors.body.contains("coord@hlf.no"));
    // Only the token's hash is stored: the cookie's value is nowhere in the database.
    let token = browser.cookies["ms_session"].clone();
    assert_eq!(token.len(), 43, "256 random bits");
    let sessions = B::scalar(&app.db, "SELECT count(*) FROM dashboard_sessions").await;
    assert_eq!(sessions, 1);
    let as_text = B::scalar(
        &app.db,
        &format!("SELECT count(*) FROM dashboard_sessions WHERE csrf_token = '{token}'"),
    )
    .await;
    assert_eq!(as_text, 0);
}

async fn cookies_are_http_only_same_site_and_secure_behind_tls<B: TestBackend>() {
    let app = spawn::<B>().await;
    let mut plain = app.browser();
    let login_form = plain.get("/login").await;
    let csrf_cookie = login_form.cookie("ms_login").unwrap();
    assert!(csrf_cookie.contains("HttpOnly") && csrf_cookie.contains("SameSite=Strict"));
    let page = plain.login("coord@hlf.no", PASSWORD).await;
    let cookie = page.cookie("ms_session").unwrap();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=43200"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");

    let mut behind_tls = app.browser();
    behind_tls
        .headers
        .push(("x-forwarded-proto".into(), "https".into()));
    let page = behind_tls.login("coord@hlf.no", PASSWORD).await;
    assert!(page.cookie("ms_session").unwrap().contains("; Secure"));

    // Or configured so.
    let configured = spawn_with::<B>(|app| {
        web::with_dashboard_config(
            app,
            web::DashboardConfig {
                secure_cookies: true,
                ..web::DashboardConfig::default()
            },
        )
    })
    .await;
    let page = configured.browser().login("coord@hlf.no", PASSWORD).await;
    assert!(page.cookie("ms_session").unwrap().contains("; Secure"));

    // Pages are not cached, framed or sniffed: every kind of answer the dashboard gives.
    let mut anonymous = app.browser();
    anonymous.get("/").await.assert_private("GET / signed out");
    anonymous.get("/login").await.assert_private("GET /login");
    anonymous
        .get("/mentors")
        .await
        .assert_private("GET /mentors signed out");
    let refused = anonymous.login("coord@hlf.no", "not the password").await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    refused.assert_private("POST /login refused");
    let unknown = uuid::Uuid::now_v7();
    let own = app.own_mentor;
    for path in [
        "/".to_owned(),
        "/mentors".to_owned(),
        format!("/mentors/{own}"),
        format!("/mentors/{unknown}"),
        "/sync".to_owned(),
        "/alerts".to_owned(),
        "/runs".to_owned(),
        "/settings".to_owned(),
    ] {
        let page = plain.get(&path).await;
        assert!(
            page.status.is_success()
                || page.status.is_redirection()
                || page.status.is_client_error(),
            "GET {path}: {}",
            page.status
        );
        page.assert_private(&format!("GET {path} ({})", page.status));
    }
    let mut admin = app.browser().logged_in("admin@hlf.no").await;
    let settings = admin.get("/settings").await;
    assert_eq!(settings.status, StatusCode::OK);
    settings.assert_private("GET /settings as admin");
    let mentor = plain.get(&format!("/mentors/{own}")).await;
    let csrf = mentor.csrf();
    let acted = plain
        .post(
            &format!("/mentors/{own}/pause"),
            &[("csrf", csrf.as_str()), ("reason", "ferie")],
        )
        .await;
    assert!(acted.status.is_redirection(), "{}", acted.body);
    acted.assert_private("POST a form");
    let logout = plain.post("/logout", &[("csrf", csrf.as_str())]).await;
    logout.assert_private("POST /logout");
}

async fn forms_without_the_sessions_csrf_token_are_refused_and_change_nothing<B: TestBackend>() {
    let app = spawn::<B>().await;
    let mut browser = app.browser().logged_in("coord@hlf.no").await;
    let path = format!("/mentors/{}/pause", app.own_mentor);
    let history = app.history_len(app.own_mentor).await;

    let missing = browser.post(&path, &[("reason", "ferie")]).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    assert!(
        missing.body.contains("Skjemaet er utløpt eller ugyldig"),
        "{}",
        missing.body
    );
    let wrong = browser
        .post(&path, &[("csrf", "not-the-token"), ("reason", "ferie")])
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    // Another session's token is just as wrong.
    let mut other = app.browser().logged_in("admin@hlf.no").await;
    let others_token = other.csrf().await;
    let borrowed = browser
        .post(&path, &[("csrf", &others_token), ("reason", "ferie")])
        .await;
    assert_eq!(borrowed.status, StatusCode::FORBIDDEN);
    assert_eq!(app.status_of(app.own_mentor).await, MentorStatus::Active);
    assert_eq!(app.history_len(app.own_mentor).await, history);

    // Logout and settings too.
    assert_eq!(
        browser.post("/logout", &[]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        browser.get("/mentors").await.status,
        StatusCode::OK,
        "still signed in"
    );
    assert_eq!(
        other
            .post("/settings", &[("thresholds", "9"), ("locale", "en")])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let settings = app.store.org_settings(app.org.id).await.unwrap();
    assert_eq!(settings.thresholds_days, None);

    // The login form has its own token (a cookie and the form field must agree).
    let mut fresh = Browser::new(&app.address);
    let refused = fresh
        .post(
            "/login",
            &[("email", "coord@hlf.no"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.cookie("ms_session").is_none());

    // With the token, the same form works.
    let csrf = browser.csrf().await;
    browser
        .post(&path, &[("csrf", &csrf), ("reason", "ferie")])
        .await
        .assert_redirect(&format!("/mentors/{}?done=paused", app.own_mentor));
    assert_eq!(app.status_of(app.own_mentor).await, MentorStatus::Paused);
}

async fn an_idle_or_too_old_session_goes_back_to_the_login_page<B: TestBackend>() {
    let app = spawn::<B>().await;
    let mut browser = app.browser().logged_in("coord@hlf.no").await;
    // In use every 50 minutes: alive (the idle timeout is an hour).
    for _ in 0..3 {
        app.clock.advance(Duration::minutes(50));
        assert_eq!(browser.get("/mentors").await.status, StatusCode::OK);
    }
    app.clock.advance(Duration::minutes(61));
    let page = browser.get("/mentors?status=paused").await;
    page.assert_redirect("/login?expired=1&next=%2Fmentors%3Fstatus%3Dpaused");
    assert!(page.cookie("ms_session").unwrap().contains("Max-Age=0"));
    let login = browser.get("/login?expired=1").await;
    assert!(login.body.contains("Økten din er utløpt"));
    // After logging in again, back where the user was going.
    let csrf = login.csrf();
    browser
        .post(
            "/login",
            &[
                ("csrf", &csrf),
                ("email", "coord@hlf.no"),
                ("password", PASSWORD),
                ("next", "/mentors?status=paused"),
            ],
        )
        .await
        .assert_redirect("/mentors?status=paused");

    // However busy, a session ends 12 hours after login.
    for _ in 0..23 {
        app.clock.advance(Duration::minutes(30));
        assert_eq!(browser.get("/mentors").await.status, StatusCode::OK);
    }
    app.clock.advance(Duration::minutes(30));
    browser.get("/mentors").await.assert_to_login();
    // A form posted with an ended session changes nothing.
    let posted = browser
        .post(
            &format!("/mentors/{}/pause", app.own_mentor),
            &[("csrf", "x"), ("reason", "ferie")],
        )
        .await;
    posted.assert_to_login();
    assert_eq!(app.status_of(app.own_mentor).await, MentorStatus::Active);
}

async fn logout_ends_the_session_for_good<B: TestBackend>() {
    let app = spawn::<B>().await;
    let mut browser = app.browser().logged_in("coord@hlf.no").await;
    let token = browser.cookies["ms_session"].clone();
    let csrf = browser.csrf().await;
    browser
        .post("/logout", &[("csrf", &csrf)])
        .await
        .assert_redirect("/login?out=1&lang=nb");
    assert!(!browser.cookies.contains_key("ms_session"));
    let login = browser.get("/login?out=1").await;
    assert!(login.body.contains("Du er logget ut."));
    // The old cookie, replayed, is worth nothing: the session is gone from the store.
    let mut replay = Browser::new(&app.address);
    replay.cookies.insert("ms_session".into(), token);
    replay.get("/mentors").await.assert_to_login();
    assert_eq!(
        B::scalar(&app.db, "SELECT count(*) FROM dashboard_sessions").await,
        0
    );
}

async fn failed_logins_are_limited_per_account_and_per_address<B: TestBackend>() {
    let app = spawn::<B>().await;
    let mut browser = app.browser();
    for _ in 0..5 {
        assert_eq!(
            browser.login("coord@hlf.no", "guess").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    // The sixth attempt is refused before the password is looked at, even the right one.
    let limited = browser.login("coord@hlf.no", PASSWORD).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        limited.body.contains("For mange mislykkede innlogginger"),
        "{}",
        limited.body
    );
    assert!(limited.cookie("ms_session").is_none());
    // Other accounts from this address still may.
    browser
        .login("admin@hlf.no", PASSWORD)
        .await
        .assert_redirect("/mentors");
    browser.cookies.remove("ms_session");

    // 20 failures from one address, whatever the accounts, close it for everyone.
    for n in 0..15 {
        let page = browser.login(&format!("guess{n}@hlf.no"), "guess").await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        browser.login("admin@hlf.no", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The failures are counted in the store, so every instance sees them.
    assert_eq!(
        B::scalar(&app.db, "SELECT count(*) FROM dashboard_login_failures").await,
        20
    );

    // The window passes.
    app.clock.advance(Duration::minutes(16));
    browser
        .login("coord@hlf.no", PASSWORD)
        .await
        .assert_redirect("/mentors");
}

async fn the_start_page_leads_to_the_login_or_the_mentors<B: TestBackend>() {
    let app = spawn::<B>().await;
    let mut browser = app.browser();
    browser.get("/").await.assert_redirect("/login");
    browser
        .get("/mentors")
        .await
        .assert_redirect("/login?next=%2Fmentors");
    let mut browser = browser.logged_in("coord@hlf.no").await;
    browser.get("/").await.assert_redirect("/mentors");
    browser.get("/login").await.assert_redirect("/mentors");
    // The JSON API is untouched by the dashboard's routes.
    assert_eq!(
        browser.get("/api/v1/mentors").await.status,
        StatusCode::UNAUTHORIZED,
        "the API wants its bearer token, never the cookie"
    );
}

async fn a_burst_of_parallel_guesses_gets_no_more_tries_than_the_limit<B: TestBackend>() {
    let app = spawn::<B>().await;
    // Twelve browsers, each with its login form, post their guesses at once.
    let mut browsers = Vec::new();
    for _ in 0..12 {
        let mut browser = app.browser();
        let csrf = browser.get("/login").await.csrf();
        browsers.push((browser, csrf));
    }
    let answers = futures::future::join_all(browsers.iter_mut().map(|(browser, csrf)| async {
        let form = [
            ("csrf", csrf.as_str()),
            ("email", "coord@hlf.no"),
            ("password", "guess"),
        ];
        browser.post("/login", &form).await
    }))
    .await;
    let refused = |status| answers.iter().filter(|a| a.status == status).count();
    assert_eq!(
        refused(StatusCode::UNAUTHORIZED),
        5,
        "five passwords were checked"
    );
    assert_eq!(refused(StatusCode::TOO_MANY_REQUESTS), 7);
    assert_eq!(
        B::scalar(&app.db, "SELECT count(*) FROM dashboard_login_failures").await,
        5
    );
}
