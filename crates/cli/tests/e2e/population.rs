//! A fleet's organisation with a population of linked mentors, email on, and the checks that every
//! effect of its nights happened exactly once — counted in the database, at the SMTP server and at
//! the portal, against the [`Model`] of those nights.

use std::collections::HashSet;

use chrono::NaiveDate;
use reqwest::{Method, StatusCode};
use serde_json::json;
use uuid::Uuid;

use crate::fleet::Fleet;
use crate::harness::ORG;
use crate::model::Model;

const ADMIN: &str = "admin@hlf.no";
pub const COORDINATOR: &str = "coord@hlf.no";

/// Mentor `i` of a population: its name, address, contact and id.
pub struct Population {
    pub contacts: Vec<Uuid>,
    pub ids: Vec<String>,
    pub coordinator: String,
}

pub fn email(i: usize) -> String {
    format!("mentor{i:03}@hlf.no")
}

impl Population {
    /// Imports one linked mentor per expiry date, an admin and a coordinator; starts `instances`
    /// instances; turns email on; waits until the relays listed everyone.
    pub async fn settle(fleet: &mut Fleet, expiries: &[NaiveDate], instances: usize) -> Population {
        let mentors: Vec<(String, String, NaiveDate)> = expiries
            .iter()
            .enumerate()
            .map(|(i, expires_on)| (format!("Mentor {i:03}"), email(i), *expires_on))
            .collect();
        let contacts = fleet.world.import_mentors(&mentors);
        fleet.world.add_user(ADMIN, "admin", None);
        fleet.world.add_user(COORDINATOR, "coordinator", None);
        let admin = fleet.world.token(ADMIN);
        let coordinator = fleet.world.token(COORDINATOR);
        fleet.start(instances).await;
        fleet.world.enable_email(&admin).await;
        fleet
            .eventually("every imported mentor listed", || async {
                contacts.iter().all(|c| fleet.world.listed(*c))
            })
            .await;
        let ids = mentor_ids(fleet, &coordinator, expiries.len()).await;
        Population {
            contacts,
            ids,
            coordinator,
        }
    }

    /// A coordinator's `pause` or `resume` of mentor `i`, through the fleet's current instance.
    pub async fn act(&self, fleet: &Fleet, i: usize, action: &str) {
        let body = (action == "pause").then(|| json!({"reason": "Ferie"}));
        let (status, reply) = fleet
            .world
            .api(
                Method::POST,
                &format!("/api/v1/mentors/{}/{action}", self.ids[i]),
                &self.coordinator,
                body,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{action}: {reply}");
    }

    /// Every effect of the nights exactly once: the ledger, lapses and digests in the database, one
    /// successful run of each job per night, every email once at the SMTP server, every change once
    /// at the portal, and the portal showing what the database says. `actions` coordinator pauses
    /// and resumes happened besides.
    pub async fn assert_exactly_once(
        &self,
        fleet: &Fleet,
        model: &Model,
        nights: u64,
        actions: u64,
    ) {
        assert_ledger_and_history(fleet, model).await;
        let history = fleet.count("SELECT count(*) FROM status_history").await;
        assert_eq!(
            history as u64,
            self.ids.len() as u64 + model.lapses() + actions,
            "history: one row per registration, lapse and coordinator action"
        );
        assert_runs(fleet, nights).await;
        self.assert_emails(fleet, model, actions);
        self.assert_portal(fleet, model, actions).await;
    }

    fn assert_emails(&self, fleet: &Fleet, model: &Model, actions: u64) {
        let subjects = |to: &str| fleet.world.subjects(to);
        let digests = subjects(COORDINATOR);
        assert_eq!(
            digests.len(),
            model.busy_nights().len(),
            "one digest per busy night: {digests:?}"
        );
        let (mut reminders, mut expired, mut changed) = (0, 0, 0);
        for i in 0..self.ids.len() {
            for subject in subjects(&email(i)) {
                if subject.starts_with("Your certification expires in") {
                    reminders += 1;
                } else if subject == "Your certification has expired" {
                    expired += 1;
                } else {
                    changed += 1;
                }
            }
        }
        assert_eq!(reminders, model.reminders_sent(), "reminder emails");
        assert_eq!(expired, model.lapses(), "lapse emails");
        assert_eq!(changed, actions, "status change emails");
        fleet
            .world
            .assert_emails_sent_once((model.emails() + actions) as usize);
    }

    async fn assert_portal(&self, fleet: &Fleet, model: &Model, actions: u64) {
        let writes = fleet.visibility_writes();
        for (contact, values) in &writes {
            for pair in values.windows(2) {
                assert_ne!(
                    pair[0], pair[1],
                    "{contact} written twice alike: {values:?}"
                );
            }
        }
        let listed: HashSet<String> = fleet
            .world
            .setup
            .lines(&format!(
                "SELECT dynamics_contact_id::text FROM mentors m \
                 JOIN organisations o ON o.id = m.org_id \
                 WHERE o.slug = '{ORG}' AND m.status = 'active' AND m.listed_publicly"
            ))
            .await
            .into_iter()
            .collect();
        for contact in &self.contacts {
            assert_eq!(
                fleet.world.listed(*contact),
                listed.contains(&contact.to_string()),
                "{contact}: the portal shows what the database says"
            );
        }
        let total: usize = writes.values().map(Vec::len).sum();
        assert_eq!(
            total as u64,
            self.contacts.len() as u64 + model.lapses() + actions,
            "one write per registration, lapse and coordinator action"
        );
    }
}

/// Mentor ids by index (their addresses say it), through the API.
async fn mentor_ids(fleet: &Fleet, token: &str, count: usize) -> Vec<String> {
    let mut ids = vec![String::new(); count];
    let mut path = "/api/v1/mentors?limit=200".to_owned();
    loop {
        let page = fleet.world.get(&path, token).await;
        for m in page["items"].as_array().expect("items") {
            let address = m["email"].as_str().expect("an email");
            let i: usize = address["mentor".len().."mentor".len() + 3]
                .parse()
                .expect("a mentor number");
            ids[i] = m["id"].as_str().expect("an id").to_owned();
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/mentors?limit=200&cursor={cursor}"),
            None => break,
        }
    }
    assert!(
        ids.iter().all(|id| !id.is_empty()),
        "every mentor listed by the API"
    );
    ids
}

async fn assert_ledger_and_history(fleet: &Fleet, model: &Model) {
    let count = |outcome: &str| {
        format!("SELECT count(*) FROM cert_expiry_reminders WHERE outcome = '{outcome}'")
    };
    assert_eq!(
        fleet.count(&count("sent")).await as u64,
        model.reminders_sent(),
        "reminders sent"
    );
    assert_eq!(
        fleet.count(&count("skipped")).await as u64,
        model.skipped,
        "reminders skipped (catch-up)"
    );
    for (day, sent) in &model.sent {
        let on_day = format!("{} AND business_date = '{day}'", count("sent"));
        assert_eq!(
            fleet.count(&on_day).await as u64,
            *sent,
            "reminders sent on {day}"
        );
    }
    let lapses = fleet
        .count("SELECT count(*) FROM status_history WHERE to_status = 'certification_expired'")
        .await;
    assert_eq!(lapses as u64, model.lapses(), "one lapse per mentor");
    let digests = fleet
        .world
        .setup
        .lines("SELECT business_date::text FROM digests ORDER BY business_date")
        .await;
    let busy: Vec<String> = model.busy_nights().iter().map(|d| d.to_string()).collect();
    assert_eq!(digests, busy, "one digest per night that did something");
}

async fn assert_runs(fleet: &Fleet, nights: u64) {
    for job in ["expiry", "listing_sync"] {
        let succeeded = fleet
            .count(&format!(
                "SELECT count(*) FROM job_runs WHERE job = '{job}' AND outcome = 'succeeded'"
            ))
            .await;
        let nights_done = fleet
            .count(&format!(
                "SELECT count(DISTINCT business_date) FROM job_runs \
                 WHERE job = '{job}' AND outcome = 'succeeded' AND trigger = 'scheduled'"
            ))
            .await;
        assert_eq!(
            (succeeded as u64, nights_done as u64),
            (nights, nights),
            "{job}: one successful run per night"
        );
    }
}
