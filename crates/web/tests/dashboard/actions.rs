//! What the mentor page's forms do: post/redirect/get on success, the page again with the reason
//! (and a 4xx status) when refused, never a raw 500; and who may do what.

use domain::MentorStatus;
use reqwest::StatusCode;
use store::prelude::*;
use testkit::TestBackend;

use crate::helpers::spawn;

testkit::on_both_backends!(
    a_write_a_database_rule_refuses_is_a_conflict_page,
    pause_resume_deactivate_reactivate_and_renew_redirect_and_show_the_change,
    refused_and_invalid_actions_show_the_reason_on_the_page,
    another_organisations_mentor_is_not_found,
    a_mentors_own_login_sees_and_pauses_only_themself,
    settings_are_for_admins_and_checked,
    alerts_are_acknowledged_from_the_list,
);

/// A rule of the database that refuses the write (a unique index the test adds: one pause per
/// reason) is a 409 page, as the API answers.
async fn a_write_a_database_rule_refuses_is_a_conflict_page<B: TestBackend>() {
    let app = spawn::<B>().await;
    B::execute(
        &app.db,
        "CREATE UNIQUE INDEX test_one_pause_per_reason ON status_history (reason) \
         WHERE to_status = 'paused'",
    )
    .await;
    let mut browser = app.browser().logged_in("coord@hlf.no").await;
    let csrf = browser.csrf().await;
    for (mentor, expected) in [
        (app.own_mentor, StatusCode::SEE_OTHER),
        (app.colleague, StatusCode::CONFLICT),
    ] {
        let answer = browser
            .post(
                &format!("/mentors/{mentor}/pause"),
                &[("csrf", &csrf), ("reason", "ferie")],
            )
            .await;
        assert_eq!(answer.status, expected, "{}", answer.body);
    }
    assert_eq!(app.status_of(app.colleague).await, MentorStatus::Active);
}

async fn pause_resume_deactivate_reactivate_and_renew_redirect_and_show_the_change<
    B: TestBackend,
>() {
    let app = spawn::<B>().await;
    let mut browser = app.browser().logged_in("coord@hlf.no").await;
    let id = app.own_mentor;
    let page = format!("/mentors/{id}");
    let csrf = browser.csrf().await;

    browser
        .post(
            &format!("{page}/pause"),
            &[
                ("csrf", &csrf),
                ("reason", "Sommerferie"),
                ("resume_on", "2026-08-15"),
            ],
        )
        .await
        .assert_redirect(&format!("{page}?done=paused"));
    let shown = browser.get(&format!("{page}?done=paused")).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(shown.body.contains("Likepersonen er satt på pause."));
    assert!(
        shown
            .body
            .contains(r#"<span id="status" class="badge status-paused">på pause</span>"#)
    );
    assert!(shown.body.contains("Sommerferie"));
    assert!(
        shown.body.contains("15.08.2026"),
        "the return date, the Norwegian way"
    );
    assert!(
        shown.body.contains("aktiv → på pause"),
        "the history shows the change"
    );
    assert!(shown.body.contains("id=\"resume-form\"") && !shown.body.contains("id=\"pause-form\""));
    assert_eq!(app.status_of(id).await, MentorStatus::Paused);

    browser
        .post(&format!("{page}/resume"), &[("csrf", &csrf)])
        .await
        .assert_redirect(&format!("{page}?done=resumed"));
    browser
        .post(
            &format!("{page}/deactivate"),
            &[("csrf", &csrf), ("reason", "Flyttet")],
        )
        .await
        .assert_redirect(&format!("{page}?done=deactivated"));
    assert_eq!(app.status_of(id).await, MentorStatus::Inactive);
    browser
        .post(&format!("{page}/reactivate"), &[("csrf", &csrf)])
        .await
        .assert_redirect(&format!("{page}?done=reactivated"));
    assert_eq!(app.status_of(id).await, MentorStatus::Active);
    browser
        .post(
            &format!("{page}/certifications"),
            &[
                ("csrf", &csrf),
                ("issued_on", "2026-06-01"),
                ("expires_on", "2028-05-31"),
            ],
        )
        .await
        .assert_redirect(&format!("{page}?done=renewed"));
    let shown = browser.get(&page).await;
    assert!(shown.body.contains("31.05.2028"));
    assert!(shown.body.contains("716 dager igjen"), "{}", shown.body);
    // Newest first: the reactivation above the deactivation.
    let reactivated = shown.body.find("inaktiv → aktiv").unwrap();
    let deactivated = shown.body.find("aktiv → inaktiv").unwrap();
    assert!(reactivated < deactivated);
    // Force sync without an integration still queues the mentor (nothing pushes it).
    browser
        .post(&format!("{page}/sync"), &[("csrf", &csrf)])
        .await
        .assert_redirect(&format!("{page}?done=sync_queued"));
}

async fn refused_and_invalid_actions_show_the_reason_on_the_page<B: TestBackend>() {
    let app = spawn::<B>().await;
    let mut browser = app.browser().logged_in("coord@hlf.no").await;
    let id = app.own_mentor;
    let page = format!("/mentors/{id}");
    let csrf = browser.csrf().await;
    let history = app.history_len(id).await;

    // Not allowed from this status: 409, the page, the reason in words.
    let refused = browser
        .post(&format!("{page}/resume"), &[("csrf", &csrf)])
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(
        refused
            .body
            .contains("Kan ikke avslutte pausen for en likeperson med status «aktiv»."),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("role=\"alert\""));
    assert!(
        refused.body.contains("Kari Nordmann"),
        "the mentor page itself"
    );

    // Invalid input: 422, what was typed is kept.
    let no_reason = browser
        .post(
            &format!("{page}/pause"),
            &[
                ("csrf", &csrf),
                ("reason", "   "),
                ("resume_on", "2026-08-15"),
            ],
        )
        .await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(no_reason.body.contains("Skriv en begrunnelse."));
    assert!(no_reason.body.contains("value=\"2026-08-15\""));
    let past = browser
        .post(
            &format!("{page}/pause"),
            &[
                ("csrf", &csrf),
                ("reason", "ferie"),
                ("resume_on", "2026-06-15"),
            ],
        )
        .await;
    assert_eq!(past.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(past.body.contains("Tilbakedatoen må være etter i dag."));
    let garbled = browser
        .post(
            &format!("{page}/pause"),
            &[
                ("csrf", &csrf),
                ("reason", "ferie"),
                ("resume_on", "15/08/2026"),
            ],
        )
        .await;
    assert_eq!(garbled.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(garbled.body.contains("ÅÅÅÅ-MM-DD"));
    let long = "x".repeat(501);
    let too_long = browser
        .post(
            &format!("{page}/pause"),
            &[("csrf", &csrf), ("reason", &long)],
        )
        .await;
    assert_eq!(too_long.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(too_long.body.contains("høyst 500 tegn"));
    let backwards = browser
        .post(
            &format!("{page}/certifications"),
            &[
                ("csrf", &csrf),
                ("issued_on", "2026-06-01"),
                ("expires_on", "2026-05-01"),
            ],
        )
        .await;
    assert_eq!(backwards.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        backwards
            .body
            .contains("kan ikke utløpe før den er utstedt")
    );
    let missing = browser
        .post(
            &format!("{page}/certifications"),
            &[("csrf", &csrf), ("issued_on", "2026-06-01")],
        )
        .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(missing.body.contains("Fyll inn begge datoene."));
    let bad_filter = browser.get("/mentors?expiring=lots").await;
    assert_eq!(bad_filter.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad_filter.body.contains("et helt tall fra 0 til 3650"));

    assert_eq!(app.status_of(id).await, MentorStatus::Active);
    assert_eq!(app.history_len(id).await, history, "nothing was written");
    // A malformed body is a 400 page, not a crash.
    let odd = reqwest::Client::new()
        .post(format!("{}{page}/pause", app.address))
        .header("content-type", "application/json")
        .header(
            "cookie",
            format!("ms_session={}", browser.cookies["ms_session"]),
        )
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(odd.status(), StatusCode::BAD_REQUEST);
}

async fn another_organisations_mentor_is_not_found<B: TestBackend>() {
    let app = spawn::<B>().await;
    let mut browser = app.browser().logged_in("coord@hlf.no").await;
    let csrf = browser.csrf().await;
    let foreign = format!("/mentors/{}", app.foreign_mentor);
    let page = browser.get(&foreign).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.body.contains("Siden eller likepersonen finnes ikke."));
    assert!(!page.body.contains("Ola Utenfor"));
    for (action, form) in [
        ("pause", vec![("csrf", csrf.as_str()), ("reason", "ferie")]),
        ("deactivate", vec![("csrf", csrf.as_str()), ("reason", "x")]),
        ("sync", vec![("csrf", csrf.as_str())]),
    ] {
        let answer = browser.post(&format!("{foreign}/{action}"), &form).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{action}");
    }
    let foreign_status = app
        .store
        .mentor(app.other_org.id, app.foreign_mentor)
        .await
        .unwrap()
        .status;
    assert_eq!(foreign_status, MentorStatus::Active);
    assert_eq!(
        browser.get("/mentors/not-a-uuid").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        browser
            .get(&format!("/mentors/{}", domain::MentorId::new()))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

async fn a_mentors_own_login_sees_and_pauses_only_themself<B: TestBackend>() {
    let app = spawn::<B>().await;
    let mut browser = app.browser().logged_in("kari@hlf.no").await;
    let own = format!("/mentors/{}", app.own_mentor);
    browser.get("/mentors").await.assert_redirect(&own);
    let page = browser.get(&own).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Min side"));
    assert!(page.body.contains("id=\"pause-form\""));
    for absent in [
        "deactivate-form",
        "renew-form",
        "sync-form",
        "href=\"/sync\"",
        "href=\"/alerts\"",
    ] {
        assert!(!page.body.contains(absent), "{absent}");
    }
    // A colleague in the same organisation is not found either.
    let colleague = format!("/mentors/{}", app.colleague);
    assert_eq!(browser.get(&colleague).await.status, StatusCode::NOT_FOUND);
    let csrf = page.csrf();
    assert_eq!(
        browser
            .post(
                &format!("{colleague}/pause"),
                &[("csrf", &csrf), ("reason", "x")]
            )
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    for path in ["/sync", "/alerts", "/runs", "/settings"] {
        assert_eq!(
            browser.get(path).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    // Deactivating themself is not theirs to do.
    let refused = browser
        .post(
            &format!("{own}/deactivate"),
            &[("csrf", &csrf), ("reason", "x")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("Du har ikke tilgang til dette."));
    // Pausing and resuming is.
    browser
        .post(
            &format!("{own}/pause"),
            &[("csrf", &csrf), ("reason", "Syk")],
        )
        .await
        .assert_redirect(&format!("{own}?done=paused"));
    assert_eq!(app.status_of(app.own_mentor).await, MentorStatus::Paused);
    assert_eq!(app.status_of(app.colleague).await, MentorStatus::Active);
    browser
        .post(&format!("{own}/resume"), &[("csrf", &csrf)])
        .await
        .assert_redirect(&format!("{own}?done=resumed"));
}

async fn settings_are_for_admins_and_checked<B: TestBackend>() {
    let app = spawn::<B>().await;
    let mut coordinator = app.browser().logged_in("coord@hlf.no").await;
    assert_eq!(
        coordinator.get("/settings").await.status,
        StatusCode::FORBIDDEN
    );
    let csrf = coordinator.csrf().await;
    assert_eq!(
        coordinator
            .post("/settings", &[("csrf", &csrf), ("thresholds", "9")])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let mentors = coordinator.get("/mentors").await;
    assert!(
        !mentors.body.contains("href=\"/settings\""),
        "no menu entry either"
    );

    let mut admin = app.browser().logged_in("admin@hlf.no").await;
    let page = admin.get("/settings").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("Slått av for hele installasjonen"),
        "the flag is shown"
    );
    let csrf = page.csrf();
    let invalid = admin
        .post(
            "/settings",
            &[
                ("csrf", &csrf),
                ("thresholds", "30, fourteen"),
                ("locale", "nb"),
            ],
        )
        .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(invalid.body.contains("hele tall fra 1 til 365"));
    let out_of_range = admin
        .post(
            "/settings",
            &[("csrf", &csrf), ("thresholds", "400"), ("locale", "nb")],
        )
        .await;
    assert_eq!(out_of_range.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(out_of_range.body.contains("hele tall fra 1 til 365"));
    let bad_locale = admin
        .post("/settings", &[("csrf", &csrf), ("locale", "de")])
        .await;
    assert_eq!(bad_locale.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.store.org_settings(app.org.id).await.unwrap(),
        Default::default()
    );

    admin
        .post(
            "/settings",
            &[
                ("csrf", &csrf),
                ("thresholds", "7 30,14"),
                ("email_enabled", "on"),
                ("locale", "en"),
            ],
        )
        .await
        .assert_redirect("/settings?done=saved");
    let saved = app.store.org_settings(app.org.id).await.unwrap();
    assert_eq!(saved.thresholds_days, Some(vec![30, 14, 7]));
    assert!(saved.email_enabled);
    assert_eq!(saved.locale, domain::Locale::En);
    // The organisation now reads English (after the cache of another instance would expire).
    let page = admin.get("/settings?done=saved").await;
    assert!(page.body.contains("<html lang=\"en\">"), "{}", page.body);
    assert!(page.body.contains("The settings are saved."));
}

async fn alerts_are_acknowledged_from_the_list<B: TestBackend>() {
    let app = spawn::<B>().await;
    let opened = app
        .store
        .open_alert(store::NewAlert {
            org: Some(app.org.id),
            kind: "sync_auth".into(),
            severity: store::Severity::Critical,
            dedupe_key: "sync_auth:hlf".into(),
            summary: "Dynamics refused the credentials".into(),
            at: domain::Clock::now(&app.clock),
        })
        .await
        .unwrap();
    let id = opened.alert.id;
    let mut browser = app.browser().logged_in("coord@hlf.no").await;
    let list = browser.get("/alerts?open=1").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("Dynamics refused the credentials"));
    assert!(list.body.contains("kritisk"));
    let csrf = list.csrf();
    browser
        .post(
            &format!("/alerts/{id}/ack"),
            &[("csrf", &csrf), ("open", "1")],
        )
        .await
        .assert_redirect("/alerts?done=acknowledged&open=1");
    let list = browser.get("/alerts?done=acknowledged&open=1").await;
    assert!(list.body.contains("Varselet er kvittert."));
    assert!(
        list.body.contains("kvittert 15.06.2026 kl. 12:00"),
        "{}",
        list.body
    );
    assert!(
        !list.body.contains(&format!("/alerts/{id}/ack")),
        "no second button"
    );
    let alert = app
        .store
        .alerts(app.org.id, false, 10, None)
        .await
        .unwrap()
        .items;
    assert_eq!(alert[0].acknowledged_by, Some(app.coordinator.id));
    // An unknown (or another organisation's) alert id is not found.
    assert_eq!(
        browser
            .post(
                &format!("/alerts/{}/ack", uuid::Uuid::new_v4()),
                &[("csrf", &csrf)]
            )
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}
