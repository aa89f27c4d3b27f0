//! Journey 2: a certification approaches expiry → the 30-, 14- and 7-day reminders by email, once
//! each (a re-run of a date, or a date in between, sends nothing) → on its last valid day nothing
//! happens, the day after it lapses: `certification_expired`, the mentor told, a coordinator
//! digest, hidden on the listing → the coordinator registers a renewal → active and listed again →
//! the next cycle's first reminder comes on its date. Each effect exactly once.

use chrono::{Days, NaiveDate, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::{Backend, ORG, VISIBILITY_FIELD, World};

const ADMIN: &str = "admin@hlf.no";
const COORDINATOR: &str = "coord@hlf.no";
const MENTOR: &str = "kari@hlf.no";
const MENTOR_NAME: &str = "Kari Nordmann";
/// A second mentor nobody touches: certified for decades, listed throughout, never emailed.
const BYSTANDER: &str = "ola@hlf.no";

fn plus(day: NaiveDate, days: u64) -> NaiveDate {
    day.checked_add_days(Days::new(days)).expect("a date")
}

fn minus(day: NaiveDate, days: u64) -> NaiveDate {
    day.checked_sub_days(Days::new(days)).expect("a date")
}

/// Every count in the expiry run's report for the organisation.
fn counts(report: &Value) -> Value {
    report["runs"][0]["counts"].clone()
}

/// Registers a mentor whose certification's last valid day is `expires_on`, linked to a new,
/// not yet listed contact of the simulator; the contact's id.
fn import_expiring(world: &World, full_name: &str, email: &str, expires_on: NaiveDate) -> Uuid {
    let contact = Uuid::new_v4();
    world.sim.insert_contact(
        contact,
        json!({"contactid": contact.to_string(), VISIBILITY_FIELD: false})
            .as_object()
            .cloned()
            .expect("an object"),
    );
    let file = world.setup.write(
        &format!("{contact}.csv"),
        &format!(
            "full_name,email,dynamics_contact_id,certification_issued_on,certification_expires_on\n\
             {full_name},{email},{contact},2024-01-01,{expires_on}\n"
        ),
    );
    world
        .run(&["import", "mentors", &file, "--org", ORG])
        .success();
    contact
}

/// Runs the business date twice: the first run must count `sent` reminders, `expired` lapses and
/// `digests` digests, the re-run nothing at all.
fn run_day(world: &World, day: NaiveDate, sent: u64, expired: u64, digests: u64) {
    let report = world.expiry_run(&day.to_string());
    let c = counts(&report);
    assert_eq!(c["reminders_sent"], sent, "{day}: {report}");
    assert_eq!(c["reminders_skipped"], 0, "{day}: {report}");
    assert_eq!(c["expired"], expired, "{day}: {report}");
    assert_eq!(c["digests"], digests, "{day}: {report}");
    let again = world.expiry_run(&day.to_string());
    let c = counts(&again);
    for count in ["reminders_sent", "reminders_skipped", "expired", "digests"] {
        assert_eq!(c[count], 0, "{day} again, {count}: {again}");
    }
}

/// The mentor's reminder ledger as (threshold, expiry date, outcome, business date), in order.
async fn ledger(world: &World, mentor_id: &str, token: &str) -> Vec<(u64, String, String, String)> {
    let body = world
        .get(&format!("/api/v1/mentors/{mentor_id}/reminders"), token)
        .await;
    let mut rows: Vec<(u64, String, String, String)> = body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| {
            (
                r["threshold_days"].as_u64().expect("a threshold"),
                r["certification_expires_on"]
                    .as_str()
                    .expect("a date")
                    .to_owned(),
                r["outcome"].as_str().expect("an outcome").to_owned(),
                r["business_date"].as_str().expect("a date").to_owned(),
            )
        })
        .collect();
    rows.sort_by(|a, b| a.3.cmp(&b.3));
    rows
}

fn row(threshold: u64, expires_on: NaiveDate, day: NaiveDate) -> (u64, String, String, String) {
    (
        threshold,
        expires_on.to_string(),
        "sent".to_owned(),
        day.to_string(),
    )
}

pub async fn run(backend: Backend) {
    let today = Utc::now().date_naive();
    // The last valid day of the first certification, and of the renewal.
    let expires_on = plus(today, 40);
    let renewed_until = plus(expires_on, 365);

    let mut world = World::new(backend).await;
    let kari = import_expiring(&world, MENTOR_NAME, MENTOR, expires_on);
    let ola = world.import_mentor("Ola Nordmann", BYSTANDER);
    world.add_user(ADMIN, "admin", None);
    world.add_user(COORDINATOR, "coordinator", None);
    let admin = world.token(ADMIN);
    let coordinator = world.token(COORDINATOR);
    world.serve().await;
    world.until_listed(kari, true).await;
    world.until_listed(ola, true).await;

    let mentor_id = world.mentor_id(MENTOR, &coordinator).await;
    world.enable_email(&admin).await;

    // 1. The 30-, 14- and 7-day reminders on their dates, once each; nothing on the days between.
    let mut expected_ledger = Vec::new();
    for (threshold, quiet_day) in [(30, 31), (14, 20), (7, 10)] {
        run_day(&world, minus(expires_on, quiet_day), 0, 0, 0);
        let day = minus(expires_on, threshold);
        run_day(&world, day, 1, 0, 1);
        world
            .email_arrives(
                MENTOR,
                &format!("Your certification expires in {threshold} days"),
            )
            .await;
        expected_ledger.push(row(threshold, expires_on, day));
        assert_eq!(
            ledger(&world, &mentor_id, &coordinator).await,
            expected_ledger
        );
    }
    assert!(world.listed(kari), "still listed while certified");

    // 2. The last valid day: still certified, still active; nothing happens.
    run_day(&world, expires_on, 0, 0, 0);
    let mentor = world
        .get(&format!("/api/v1/mentors/{mentor_id}"), &coordinator)
        .await;
    assert_eq!(mentor["status"], "active", "{mentor}");

    // 3. The day after: lapsed, the mentor told, the coordinator's digest, hidden on the listing.
    let lapsed_on = plus(expires_on, 1);
    run_day(&world, lapsed_on, 0, 1, 1);
    let mentor = world
        .get(&format!("/api/v1/mentors/{mentor_id}"), &coordinator)
        .await;
    assert_eq!(mentor["status"], "certification_expired", "{mentor}");
    let hidden_after = world.until_listed(kari, false).await;
    assert!(world.listed(ola), "the bystander stays listed");
    world
        .email_arrives(MENTOR, "Your certification has expired")
        .await;
    let digest =
        |day: NaiveDate| format!("Daily peer mentor summary – {}", day.format("%-d %B %Y"));
    let lapse_digest = world.email_arrives(COORDINATOR, &digest(lapsed_on)).await;
    assert!(
        lapse_digest
            .text_body()
            .unwrap_or_default()
            .contains(MENTOR_NAME),
        "{}",
        lapse_digest.summary()
    );

    // 4. The coordinator registers a renewal: active, and listed again within seconds.
    let (status, renewed) = world
        .api(
            Method::POST,
            &format!("/api/v1/mentors/{mentor_id}/certifications"),
            &coordinator,
            Some(json!({"issued_on": lapsed_on, "expires_on": renewed_until})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{renewed}");
    assert_eq!(renewed["status"], "active", "{renewed}");
    let listed_after = world.until_listed(kari, true).await;
    world
        .email_arrives(MENTOR, "Your certification has been renewed")
        .await;
    let history = world
        .get(
            &format!("/api/v1/mentors/{mentor_id}/history"),
            &coordinator,
        )
        .await;
    let moves: Vec<(&str, &str)> = history["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|h| {
            (
                h["from_status"].as_str().unwrap_or_default(),
                h["to_status"].as_str().expect("a status"),
            )
        })
        .filter(|(from, _)| !from.is_empty())
        .collect();
    assert_eq!(
        moves,
        [
            ("certification_expired", "active"),
            ("active", "certification_expired"),
        ],
        "{history}"
    );

    // 5. The next cycle: nothing the day before its 30-day date, the 30-day reminder on it.
    run_day(&world, minus(renewed_until, 31), 0, 0, 0);
    let next_day = minus(renewed_until, 30);
    run_day(&world, next_day, 1, 0, 1);
    expected_ledger.push(row(30, renewed_until, next_day));
    assert_eq!(
        ledger(&world, &mentor_id, &coordinator).await,
        expected_ledger
    );

    // Exactly once. Every re-run did nothing (above) and every email was queued before this first
    // scrape, so once the queue reads empty everything has been sent.
    world.emails_settled().await;
    let subjects = |to: &str| world.subjects(to);
    let mut expected = vec![
        "Your certification expires in 30 days".to_owned(),
        "Your certification expires in 14 days".to_owned(),
        "Your certification expires in 7 days".to_owned(),
        "Your certification has expired".to_owned(),
        "Your certification has been renewed".to_owned(),
        "Your certification expires in 30 days".to_owned(),
    ];
    expected.sort();
    assert_eq!(subjects(MENTOR), expected);
    let mut expected: Vec<String> = [
        minus(expires_on, 30),
        minus(expires_on, 14),
        minus(expires_on, 7),
        lapsed_on,
        next_day,
    ]
    .into_iter()
    .map(digest)
    .collect();
    expected.sort();
    assert_eq!(subjects(COORDINATOR), expected);
    assert!(subjects(ADMIN).is_empty(), "{:?}", subjects(ADMIN));
    assert!(subjects(BYSTANDER).is_empty(), "{:?}", subjects(BYSTANDER));
    world.assert_emails_sent_once(11);
    assert!(world.listed(kari), "listed after the renewal");
    assert!(world.listed(ola), "the bystander stayed listed");
    eprintln!(
        "certification journey, {backend:?}: hidden after {hidden_after:?}, \
         listed again after {listed_after:?}"
    );
}
