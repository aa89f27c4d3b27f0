//! The list's filters and pages, the language of the pages, the read-only pages.

use domain::{Email, Locale, MentorStatus, Role};
use reqwest::StatusCode;
use store::NewUser;
use store::prelude::*;
use testkit::TestBackend;

use crate::helpers::{PASSWORD, hash, mentor, spawn};

testkit::on_both_backends!(
    the_mentors_list_filters_searches_and_pages,
    pages_speak_the_organisations_language_or_the_users_own,
    the_sync_and_runs_pages_show_their_figures,
);

async fn the_mentors_list_filters_searches_and_pages<B: TestBackend>() {
    let app = spawn::<B>().await;
    // 60 more mentors: expiring in 1..=60 days from 2026-06-15.
    for n in 1..=60 {
        let expires = (chrono::NaiveDate::from_ymd_opt(2026, 6, 15).unwrap()
            + chrono::Duration::days(n))
        .to_string();
        mentor(
            &app.store,
            &app.org,
            &format!("Mentor {n:02}"),
            &format!("m{n}@hlf.no"),
            &expires,
            &app.clock,
        )
        .await;
    }
    let mut browser = app.browser().logged_in("coord@hlf.no").await;
    let first = browser.get("/mentors").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.body.matches("<th scope=\"row\">").count(), 50);
    assert!(first.body.contains("Viser 50 likepersoner."));
    assert!(
        first.body.contains("Kari Nordmann"),
        "sorted by name: K before M"
    );
    let next = first
        .body
        .split("href=\"")
        .find(|part| part.starts_with("/mentors?cursor="))
        .map(|part| part[..part.find('"').unwrap()].replace("&#38;", "&"))
        .expect("a next page link");
    let second = browser.get(&next).await;
    assert_eq!(second.body.matches("<th scope=\"row\">").count(), 12);
    assert!(second.body.contains("Første side"));
    assert!(second.body.contains("Per Hansen"));

    // Expiring within 7 days: Mentor 01–07 (Per Hansen's certification runs to 1 July).
    let soon = browser.get("/mentors?expiring=7").await;
    assert_eq!(soon.body.matches("<th scope=\"row\">").count(), 7);
    assert!(soon.body.contains("Mentor 07") && !soon.body.contains("Mentor 08"));
    assert!(soon.body.contains("1 dag igjen"));
    assert!(
        soon.body.contains("value=\"7\""),
        "the filter is kept in the form"
    );
    let search = browser.get("/mentors?q=hansen").await;
    assert_eq!(search.body.matches("<th scope=\"row\">").count(), 1);
    assert!(search.body.contains("Per Hansen"));
    assert!(
        search.body.contains("ikke i bruk"),
        "sync state badge: no integration"
    );

    let csrf = search.csrf();
    browser
        .post(
            &format!("/mentors/{}/pause", app.colleague),
            &[("csrf", &csrf), ("reason", "ferie")],
        )
        .await;
    let paused = browser.get("/mentors?status=paused").await;
    assert_eq!(paused.body.matches("<th scope=\"row\">").count(), 1);
    assert!(paused.body.contains("Per Hansen"));
    assert!(paused.body.contains("<option value=\"paused\" selected>"));
    let nothing = browser.get("/mentors?status=inactive").await;
    assert!(
        nothing
            .body
            .contains("Ingen likepersoner passer til filteret.")
    );
    // Escaped, never interpreted.
    let script = browser.get("/mentors?q=%3Cscript%3E").await;
    assert!(script.body.contains("&#60;script&#62;") && !script.body.contains("<script>"));
    assert_eq!(app.status_of(app.colleague).await, MentorStatus::Paused);
}

async fn pages_speak_the_organisations_language_or_the_users_own<B: TestBackend>() {
    let app = spawn::<B>().await;
    let mut browser = app.browser();
    let login = browser.get("/login").await;
    assert!(login.body.contains("<html lang=\"nb\">") && login.body.contains("Logg inn"));
    browser
        .headers
        .push(("accept-language".into(), "en-GB,en;q=0.8".into()));
    let login = browser.get("/login").await;
    assert!(login.body.contains("<html lang=\"en\">") && login.body.contains("Log in"));

    let mut browser = app.browser().logged_in("coord@hlf.no").await;
    let page = browser.get("/mentors").await;
    assert!(page.body.contains("<html lang=\"nb\">") && page.body.contains("Likepersoner"));
    let mut settings = app.store.org_settings(app.org.id).await.unwrap();
    settings.locale = Locale::En;
    app.store
        .update_org_settings(app.org.id, settings)
        .await
        .unwrap();
    // Another instance's change shows within the organisation cache's few seconds.
    testkit::poll_until(
        "the organisation's new language on the page",
        std::time::Duration::from_secs(10),
        || {
            let mut browser = browser.clone();
            async move {
                let page = browser.get("/mentors").await;
                page.body.contains("<html lang=\"en\">")
            }
        },
    )
    .await;
    let page = browser.get("/mentors").await;
    assert!(page.body.contains("Certification expires within (days)"));

    // A user's own language wins over the organisation's.
    app.store
        .create_user(NewUser {
            org_id: app.org.id,
            email: Email::parse("norsk@hlf.no").unwrap(),
            role: Role::Coordinator,
            mentor_id: None,
            auth_subject: None,
            password_hash: Some(hash(PASSWORD)),
            locale: Some(Locale::Nb),
        })
        .await
        .unwrap();
    let mut norsk = app.browser().logged_in("norsk@hlf.no").await;
    let page = norsk.get(&format!("/mentors/{}", app.own_mentor)).await;
    assert!(page.body.contains("<html lang=\"nb\">"));
    assert!(page.body.contains("Sett på pause"));
}

async fn the_sync_and_runs_pages_show_their_figures<B: TestBackend>() {
    let app = spawn::<B>().await;
    let mut browser = app.browser().logged_in("admin@hlf.no").await;
    let sync = browser.get("/sync").await;
    assert_eq!(sync.status, StatusCode::OK);
    assert!(
        sync.body
            .contains("Organisasjonen har ingen kobling til Dynamics")
    );
    assert!(sync.body.contains("Ingen stoppede sendinger."));
    let csrf = sync.csrf();
    browser
        .post("/sync/retry", &[("csrf", &csrf)])
        .await
        .assert_redirect("/sync?done=nothing_to_retry");
    let runs = browser.get("/runs").await;
    assert_eq!(runs.status, StatusCode::OK);
    assert!(runs.body.contains("Ingen kjøringer ennå."));
    let alerts = browser.get("/alerts").await;
    assert!(alerts.body.contains("Ingen varsler."));
    // The stylesheet is public and cacheable; pages are not.
    let css = reqwest::get(format!("{}/assets/dashboard.css", app.address))
        .await
        .unwrap();
    assert_eq!(css.status(), StatusCode::OK);
    assert_eq!(css.headers()["cache-control"], "public, max-age=3600");
    let page = reqwest::Client::new()
        .get(format!("{}/login", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(page.headers()["cache-control"], "no-store");
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
}
