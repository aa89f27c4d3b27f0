//! Journey 1: a mentor pauses themself with a return date → the coordinator is told (in the app and
//! by email) → the public listing hides them within seconds → a notice before the return (email) →
//! the automatic resume on the date → listed again. Each effect exactly once, also when the same
//! business date is run again.

use chrono::{Days, NaiveDate, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Backend, World};

const ADMIN: &str = "admin@hlf.no";
const COORDINATOR: &str = "coord@hlf.no";
const MENTOR: &str = "kari@hlf.no";
const MENTOR_NAME: &str = "Kari Nordmann";
/// A second mentor nobody touches: listed throughout, never emailed.
const BYSTANDER: &str = "ola@hlf.no";

fn plus(day: NaiveDate, days: u64) -> NaiveDate {
    day.checked_add_days(Days::new(days)).expect("a date")
}

/// Every count in the expiry run's report for the organisation.
fn counts(report: &Value) -> Value {
    report["runs"][0]["counts"].clone()
}

pub async fn run(backend: Backend) {
    let mut world = World::new(backend).await;
    let kari = world.import_mentor(MENTOR_NAME, MENTOR);
    let ola = world.import_mentor("Ola Nordmann", BYSTANDER);
    world.add_user(ADMIN, "admin", None);
    world.add_user(COORDINATOR, "coordinator", None);
    let admin = world.token(ADMIN);
    let coordinator = world.token(COORDINATOR);
    world.serve().await;

    // The import queued both mentors: the relay lists them without any nightly job.
    world.until_listed(kari, true).await;
    world.until_listed(ola, true).await;

    // The mentor's own login (added beside the running server), and email on for the organisation.
    let mentor_id = world.mentor_id(MENTOR, &coordinator).await;
    world.add_user(MENTOR, "mentor", Some(&mentor_id));
    let mentor = world.token(MENTOR);
    world.enable_email(&admin).await;

    // 1. The mentor pauses themself until a date ten days ahead.
    let return_on = plus(Utc::now().date_naive(), 10);
    let (status, paused) = world
        .api(
            Method::POST,
            "/api/v1/me/pause",
            &mentor,
            Some(json!({"reason": "Ferie", "resume_on": return_on})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{paused}");
    assert_eq!(paused["status"], "paused", "{paused}");

    // 2. The public listing hides them within seconds.
    let hidden_after = world.until_listed(kari, false).await;
    assert!(world.listed(ola), "the bystander stays listed");

    // 3. The coordinator is told: one notification in the app, one email.
    let notifications = world.get("/api/v1/notifications", &coordinator).await;
    let told: Vec<&Value> = notifications["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|n| n["mentor_id"] == json!(mentor_id))
        .collect();
    assert_eq!(told.len(), 1, "{notifications}");
    assert_eq!(told[0]["kind"], "mentor_paused");
    assert_eq!(told[0]["payload"]["resume_on"], json!(return_on));
    let email = world
        .email_arrives(COORDINATOR, &format!("{MENTOR_NAME} has paused"))
        .await;
    assert!(
        email.text_body().unwrap_or_default().contains(MENTOR_NAME),
        "{}",
        email.summary()
    );

    // 4. Three days before the return: the notice, by email to the mentor; still paused, hidden.
    let notice_day = return_on.checked_sub_days(Days::new(3)).expect("a date");
    let report = world.expiry_run(&notice_day.to_string());
    assert_eq!(counts(&report)["resume_notices"], 1, "{report}");
    assert_eq!(counts(&report)["digests"], 1, "{report}");
    world.email_arrives(MENTOR, "Your pause ends").await;
    let again = world.expiry_run(&notice_day.to_string());
    assert_eq!(counts(&again)["resume_notices"], 0, "{again}");
    assert_eq!(counts(&again)["digests"], 0, "{again}");
    let me = world.get("/api/v1/me", &mentor).await;
    assert_eq!(me["mentor"]["status"], "paused", "{me}");
    assert!(!world.listed(kari));

    // 5. On the return date: resumed automatically, and listed again within seconds.
    let report = world.expiry_run(&return_on.to_string());
    assert_eq!(counts(&report)["resumed"], 1, "{report}");
    assert_eq!(counts(&report)["digests"], 1, "{report}");
    let me = world.get("/api/v1/me", &mentor).await;
    assert_eq!(me["mentor"]["status"], "active", "{me}");
    let listed_after = world.until_listed(kari, true).await;
    let again = world.expiry_run(&return_on.to_string());
    assert_eq!(counts(&again)["resumed"], 0, "{again}");
    assert_eq!(counts(&again)["digests"], 0, "{again}");
    let history = world
        .get(
            &format!("/api/v1/mentors/{mentor_id}/history"),
            &coordinator,
        )
        .await;
    let resumes = history["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|h| h["to_status"] == "active" && h["from_status"] == "paused")
        .count();
    assert_eq!(resumes, 1, "{history}");

    world
        .email_arrives(MENTOR, "Your pause is over – you are active again")
        .await;

    // Exactly once. The re-runs did nothing (above); every email they could have queued was queued
    // before this first scrape, so once the queue reads empty everything has been sent.
    world.emails_settled().await;
    let subjects = |to: &str| world.subjects(to);
    assert_eq!(
        subjects(MENTOR),
        [
            "Your pause ends in 3 days",
            "Your pause is over – you are active again"
        ]
    );
    let digest =
        |day: NaiveDate| format!("Daily peer mentor summary – {}", day.format("%-d %B %Y"));
    let mut expected = vec![
        digest(notice_day),
        digest(return_on),
        format!("{MENTOR_NAME} has paused as a peer mentor"),
    ];
    expected.sort();
    assert_eq!(subjects(COORDINATOR), expected);
    assert!(subjects(ADMIN).is_empty(), "{:?}", subjects(ADMIN));
    assert!(subjects(BYSTANDER).is_empty(), "{:?}", subjects(BYSTANDER));
    world.assert_emails_sent_once(5);

    // The mentor's own in-app notifications: the notice and the resume, once each.
    let mine = world.get("/api/v1/notifications", &mentor).await;
    let mut kinds: Vec<&str> = mine["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|n| n["kind"].as_str().expect("a kind"))
        .collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["auto_resumed", "resume_notice"], "{mine}");
    assert!(world.listed(ola), "the bystander stayed listed");
    eprintln!("{backend:?}: hidden after {hidden_after:?}, listed again after {listed_after:?}");
}
