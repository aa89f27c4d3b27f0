//! Three `serve` instances on one PostgreSQL database, scheduler, relays and senders on in all of
//! them, walk a month of business dates with a few hundred mentors. On one night the instance
//! running the expiry job is killed (SIGKILL) in the middle of it; on another, the instance whose
//! relay has a portal write in flight is killed before it hears the answer. Every effect is then
//! counted against a model of the month built from the domain's own rules: ledger, history,
//! digests, emails and portal writes, each exactly once.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Days, FixedOffset, NaiveDate, TimeZone};
use domain::{OrgTimeZone, ReminderDecision, Thresholds, reminder_decisions};
use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::Connection;

use crate::fleet::{Fleet, SYNC_LEASE_SECONDS};
use crate::harness::ORG;
use crate::support::Setup;

const INSTANCES: usize = 3;
const MENTORS: u64 = 240;
const NIGHTS: u64 = 31;
const ADMIN: &str = "admin@hlf.no";
const COORDINATOR: &str = "coord@hlf.no";
/// The night the expiry run's instance is killed mid-run, and the night a push is cut off.
const KILL_RUN_NIGHT: u64 = 10;
const KILL_PUSH_NIGHT: u64 = 15;

fn first_night() -> NaiveDate {
    NaiveDate::from_ymd_opt(2027, 3, 1).expect("a date")
}

fn night(n: u64) -> NaiveDate {
    first_night() + Days::new(n)
}

/// `time` (HH:MM) on `day` in Oslo, where the organisation lives (the month crosses into summer
/// time on 28 March).
fn oslo(day: NaiveDate, time: &str) -> DateTime<FixedOffset> {
    let local = day.and_time(time.parse().expect("a time"));
    OrgTimeZone::default()
        .tz()
        .from_local_datetime(&local)
        .single()
        .expect("an unambiguous local time")
        .fixed_offset()
}

/// Mentor `i`'s last valid day: spread over the 50 days from the third night, so the month sees
/// catch-up on its first night, 30/14/7-day reminders on their dates, and lapses.
fn expires_on(i: u64) -> NaiveDate {
    first_night() + Days::new(3 + (i * 7) % 50)
}

/// What a month of nightly runs must do, by the domain's rules, night by night.
#[derive(Default)]
struct Model {
    sent: BTreeMap<NaiveDate, u64>,
    skipped: u64,
    lapsed: BTreeMap<NaiveDate, Vec<u64>>,
}

impl Model {
    fn of_the_month() -> Model {
        let thresholds = Thresholds::standard();
        let mut model = Model::default();
        let mut recorded: HashMap<u64, Vec<u16>> = HashMap::new();
        let mut lapsed = HashSet::new();
        for n in 0..NIGHTS {
            let today = night(n);
            for i in 0..MENTORS {
                let expires_on = expires_on(i);
                if expires_on < today {
                    if lapsed.insert(i) {
                        model.lapsed.entry(today).or_default().push(i);
                    }
                    continue;
                }
                let done = recorded.entry(i).or_default();
                for (threshold, decision) in
                    reminder_decisions(expires_on, today, &thresholds, done)
                {
                    done.push(threshold);
                    match decision {
                        ReminderDecision::Send => *model.sent.entry(today).or_default() += 1,
                        ReminderDecision::Skip => model.skipped += 1,
                    }
                }
            }
        }
        model
    }

    fn reminders_sent(&self) -> u64 {
        self.sent.values().sum()
    }

    fn lapses(&self) -> u64 {
        self.lapsed.values().map(|l| l.len() as u64).sum()
    }

    /// Nights whose run did something: each gets one digest.
    fn busy_nights(&self) -> Vec<NaiveDate> {
        let mut nights: Vec<NaiveDate> = self
            .sent
            .keys()
            .chain(self.lapsed.keys())
            .copied()
            .collect();
        nights.sort();
        nights.dedup();
        nights
    }
}

/// Mentors whose certification outlasts the month: coordinators pause and resume only these, so
/// the model's lapses stay those of active mentors.
fn calm_mentors() -> Vec<u64> {
    (0..MENTORS)
        .rev()
        .filter(|i| expires_on(*i) > night(NIGHTS))
        .collect()
}

fn name(i: u64) -> String {
    format!("Mentor {i:03}")
}

fn email(i: u64) -> String {
    format!("mentor{i:03}@hlf.no")
}

pub async fn run() {
    let model = Model::of_the_month();
    let mut fleet = Fleet::new(Setup::new().await, oslo(night(0), "04:00")).await;
    let population: Vec<(String, String, NaiveDate)> = (0..MENTORS)
        .map(|i| (name(i), email(i), expires_on(i)))
        .collect();
    let contacts = fleet.world.import_mentors(&population);
    fleet.world.add_user(ADMIN, "admin", None);
    fleet.world.add_user(COORDINATOR, "coordinator", None);
    let admin = fleet.world.token(ADMIN);
    let coordinator = fleet.world.token(COORDINATOR);
    // Before 05:00 on the first night: the instances start, nothing is due yet.
    fleet.start(INSTANCES).await;
    let (status, body) = fleet
        .world
        .api(
            Method::PUT,
            "/api/v1/org/settings",
            &admin,
            Some(json!({"email_enabled": true, "locale": "en"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    fleet
        .eventually("every imported mentor listed", || async {
            contacts.iter().all(|c| fleet.world.listed(*c))
        })
        .await;
    let ids = mentor_ids(&fleet, &coordinator).await;

    let calm = calm_mentors();
    let mut coordinator_actions = 0;
    let mut night_times = Vec::new();
    for n in 0..NIGHTS {
        let day = night(n);
        match n {
            KILL_RUN_NIGHT => kill_mid_run(&mut fleet, day, &model).await,
            _ => fleet.set_clock(oslo(day, "05:30")),
        }
        night_times.push(fleet.night_done(day).await);
        if n == KILL_PUSH_NIGHT {
            kill_mid_push(
                &mut fleet,
                &coordinator,
                &ids[&calm[0]],
                contacts[calm[0] as usize],
            )
            .await;
            coordinator_actions += 1;
        }
        // During the day a coordinator pauses one mentor (one that never lapses this month) and
        // resumes them two days later, through a different instance each time.
        if n % 4 == 1 {
            let i = calm[1 + n as usize];
            fleet
                .world
                .set_base(fleet.base_of((n as usize) % INSTANCES));
            act(&fleet, &coordinator, &ids[&i], "pause").await;
            fleet.world.until_listed(contacts[i as usize], false).await;
            coordinator_actions += 1;
        }
        if n % 4 == 3 {
            let i = calm[1 + n as usize - 2];
            fleet
                .world
                .set_base(fleet.base_of((n as usize + 1) % INSTANCES));
            act(&fleet, &coordinator, &ids[&i], "resume").await;
            fleet.world.until_listed(contacts[i as usize], true).await;
            coordinator_actions += 1;
        }
    }
    fleet
        .eventually("everything delivered", || fleet.queues_empty())
        .await;

    assert_ledger_and_history(&fleet, &model).await;
    assert_runs(&fleet).await;
    assert_emails(&fleet, &model, coordinator_actions);
    assert_portal(&fleet, &contacts, &model, coordinator_actions).await;
    assert!(
        fleet.world.hooks.events().is_empty(),
        "no alert, no duplicate found by the compensation check: {:?}",
        fleet.world.hooks.events()
    );
    night_times.sort();
    eprintln!(
        "a month on {INSTANCES} instances, {MENTORS} mentors: nights done in {:?} (median), {:?} (slowest)",
        night_times[night_times.len() / 2],
        night_times.last().expect("nights")
    );
}

/// Mentor number → id, through the API.
async fn mentor_ids(fleet: &Fleet, token: &str) -> HashMap<u64, String> {
    let mut ids = HashMap::new();
    let mut path = "/api/v1/mentors?limit=200".to_owned();
    loop {
        let page = fleet.world.get(&path, token).await;
        for m in page["items"].as_array().expect("items") {
            let address = m["email"].as_str().expect("an email");
            let i: u64 = address["mentor".len().."mentor".len() + 3]
                .parse()
                .expect("a mentor number");
            ids.insert(i, m["id"].as_str().expect("an id").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/mentors?limit=200&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(ids.len() as u64, MENTORS);
    ids
}

async fn act(fleet: &Fleet, token: &str, id: &str, action: &str) {
    let body = (action == "pause").then(|| json!({"reason": "Ferie"}));
    let (status, reply) = fleet
        .world
        .api(
            Method::POST,
            &format!("/api/v1/mentors/{id}/{action}"),
            token,
            body,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{action}: {reply}");
}

/// The night's expiry run is held inside its reminders step (a test transaction keeps
/// `cert_expiry_reminders` from taking inserts) after its lapses committed; the instance running
/// it is killed; once its lease has run out another instance takes the night over.
async fn kill_mid_run(fleet: &mut Fleet, day: NaiveDate, model: &Model) {
    let mut blocker = sqlx::PgConnection::connect(fleet.world.setup.db.as_ref().expect("PG").url())
        .await
        .expect("connect");
    sqlx::query("BEGIN")
        .execute(&mut blocker)
        .await
        .expect("begin");
    sqlx::query("LOCK TABLE cert_expiry_reminders IN SHARE MODE")
        .execute(&mut blocker)
        .await
        .expect("lock");
    fleet.set_clock(oslo(day, "05:30"));
    let lapses = model.lapsed[&day].len() as i64;
    assert!(lapses > 0 && model.sent[&day] > 0, "a night with both");
    let lapsed_today = format!(
        "SELECT count(*) FROM status_history WHERE to_status = 'certification_expired' \
         AND occurred_at >= '{}'",
        oslo(day, "05:30").to_rfc3339()
    );
    fleet
        .eventually("the run's lapses committed, its reminders held", || async {
            fleet.count(&lapsed_today).await == lapses
                && fleet
                    .count(
                        "SELECT count(*) FROM pg_stat_activity \
                         WHERE datname = current_database() AND wait_event_type = 'Lock'",
                    )
                    .await
                    > 0
        })
        .await;
    // Its lapse emails are all sent first, so no email is in flight in the instance killed.
    fleet
        .eventually("the lapse emails sent", || async {
            fleet
                .count("SELECT count(*) FROM email_outbox WHERE state = 'pending'")
                .await
                == 0
        })
        .await;
    let running = fleet
        .world
        .setup
        .lines(&format!(
            "SELECT instance FROM job_runs WHERE job = 'expiry' AND business_date = '{day}' \
             AND outcome = 'running'"
        ))
        .await;
    let pid: u32 = running[0]
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("the run's instance names its process id");
    let victim = fleet.index_of_pid(pid);
    fleet.kill(victim);
    sqlx::query("ROLLBACK")
        .execute(&mut blocker)
        .await
        .expect("rollback");
    // A minute later on the same night the dead run's lease has run out.
    fleet.set_clock(oslo(day, "05:31"));
    fleet.night_done(day).await;
    let outcomes = fleet
        .world
        .setup
        .lines(&format!(
            "SELECT outcome || ': ' || coalesce(error, '') FROM job_runs \
             WHERE job = 'expiry' AND business_date = '{day}' ORDER BY started_at"
        ))
        .await;
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    assert!(
        outcomes[0].starts_with("failed: lease expired; taken over by"),
        "the run log tells of the takeover: {outcomes:?}"
    );
    assert_eq!(outcomes[1], "succeeded: ");
    fleet.start_instance(victim).await;
}

/// A coordinator pauses a mentor; the portal applies the write but answers late, and the instance
/// whose relay sent it is killed before the answer. After the lease, another relay finds the write
/// already there and does not make it again.
async fn kill_mid_push(fleet: &mut Fleet, token: &str, id: &str, contact: uuid::Uuid) {
    let writes_before = fleet.writes().len();
    fleet
        .world
        .sim
        .faults()
        .set_answer_delay(std::time::Duration::from_secs(6));
    act(fleet, token, id, "pause").await;
    fleet
        .eventually("the write landed", || async {
            fleet.writes()[writes_before..]
                .iter()
                .any(|w| w.contact_id == contact)
        })
        .await;
    fleet
        .eventually("the mentor's email sent", || async {
            fleet
                .count("SELECT count(*) FROM email_outbox WHERE state = 'pending'")
                .await
                == 0
        })
        .await;
    let owner = fleet
        .world
        .setup
        .lines(&format!(
            "SELECT s.lease_owner::text FROM mentor_sync s WHERE s.mentor_id = '{id}' \
             AND s.lease_owner IS NOT NULL"
        ))
        .await;
    assert_eq!(owner.len(), 1, "the push is still in flight");
    let victim = fleet
        .index_logging(&owner[0])
        .expect("an instance's log names the relay");
    fleet.kill(victim);
    fleet
        .world
        .sim
        .faults()
        .set_answer_delay(std::time::Duration::ZERO);
    let taken_over = fleet
        .eventually("another relay records the push", || async {
            fleet
                .count(&format!(
                    "SELECT count(*) FROM sync_outbox WHERE mentor_id = '{id}' AND state = 'pending'"
                ))
                .await
                == 0
        })
        .await;
    assert!(
        taken_over.as_secs() + 1 >= SYNC_LEASE_SECONDS / 2,
        "recorded only after the dead relay's lease ran out ({taken_over:?})"
    );
    let writes: Vec<_> = fleet.writes()[writes_before..]
        .iter()
        .filter(|w| w.contact_id == contact)
        .map(|w| w.fields.clone())
        .collect();
    assert_eq!(writes.len(), 1, "the write is not made twice: {writes:?}");
    fleet.start_instance(victim).await;
}

async fn assert_ledger_and_history(fleet: &Fleet, model: &Model) {
    let sent = fleet
        .count("SELECT count(*) FROM cert_expiry_reminders WHERE outcome = 'sent'")
        .await;
    let skipped = fleet
        .count("SELECT count(*) FROM cert_expiry_reminders WHERE outcome = 'skipped'")
        .await;
    assert_eq!(sent as u64, model.reminders_sent(), "reminders sent");
    assert_eq!(
        skipped as u64, model.skipped,
        "reminders skipped (catch-up)"
    );
    for (day, count) in &model.sent {
        assert_eq!(
            fleet
                .count(&format!(
                    "SELECT count(*) FROM cert_expiry_reminders \
                     WHERE outcome = 'sent' AND business_date = '{day}'"
                ))
                .await as u64,
            *count,
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

async fn assert_runs(fleet: &Fleet) {
    for job in ["expiry", "listing_sync"] {
        let succeeded = fleet
            .count(&format!(
                "SELECT count(DISTINCT business_date) FROM job_runs \
                 WHERE job = '{job}' AND outcome = 'succeeded' AND trigger = 'scheduled'"
            ))
            .await;
        let runs = fleet
            .count(&format!(
                "SELECT count(*) FROM job_runs WHERE job = '{job}' AND outcome = 'succeeded'"
            ))
            .await;
        assert_eq!(
            (succeeded as u64, runs as u64),
            (NIGHTS, NIGHTS),
            "{job}: one successful run per night"
        );
    }
    let instances = fleet
        .count("SELECT count(DISTINCT instance) FROM job_runs")
        .await;
    eprintln!("the month's runs were made by {instances} processes");
}

fn assert_emails(fleet: &Fleet, model: &Model, coordinator_actions: u64) {
    let messages = fleet.world.sink.messages();
    let ids: HashSet<Option<String>> = messages.iter().map(|m| m.message_id()).collect();
    assert_eq!(ids.len(), messages.len(), "no Message-ID twice");
    let subjects = |to: &str| -> Vec<String> {
        fleet
            .world
            .emails_to(to)
            .iter()
            .map(|m| m.subject().unwrap_or_default())
            .collect()
    };
    let digests = subjects(COORDINATOR);
    assert_eq!(
        digests.len(),
        model.busy_nights().len(),
        "one digest per busy night: {digests:?}"
    );
    let mut reminders = 0;
    let mut expired = 0;
    let mut changed = 0;
    for i in 0..MENTORS {
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
    assert_eq!(changed, coordinator_actions, "status change emails");
    assert_eq!(
        messages.len() as u64,
        model.busy_nights().len() as u64
            + model.reminders_sent()
            + model.lapses()
            + coordinator_actions,
        "nothing else was sent"
    );
}

async fn assert_portal(
    fleet: &Fleet,
    contacts: &[uuid::Uuid],
    model: &Model,
    coordinator_actions: u64,
) {
    let writes = fleet.visibility_writes();
    for (contact, values) in &writes {
        for pair in values.windows(2) {
            assert_ne!(
                pair[0], pair[1],
                "{contact} written twice alike: {values:?}"
            );
        }
    }
    let listed = fleet
        .world
        .setup
        .lines(&format!(
            "SELECT dynamics_contact_id::text FROM mentors m JOIN organisations o ON o.id = m.org_id \
             WHERE o.slug = '{ORG}' AND m.status = 'active' AND m.listed_publicly"
        ))
        .await;
    let listed: HashSet<String> = listed.into_iter().collect();
    for contact in contacts {
        assert_eq!(
            fleet.world.listed(*contact),
            listed.contains(&contact.to_string()),
            "{contact}: the portal shows what the database says"
        );
    }
    let total: usize = writes.values().map(Vec::len).sum();
    assert_eq!(
        total as u64,
        MENTORS + model.lapses() + coordinator_actions,
        "one write per registration, lapse and coordinator action"
    );
}
