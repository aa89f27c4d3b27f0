//! Faults around two running instances: PostgreSQL restarted in the middle of a nightly run and of
//! portal pushes (a private cluster the test restarts with `pg_ctl restart`, so no other test's
//! database goes down), and the SMTP server and the portal down for minutes. Afterwards everything
//! has been delivered, nothing twice, and the run log and the alerts tell what happened.

use std::time::{Duration, Instant};

use serde_json::Value;
use testkit::{PrivateCluster, TestDatabase};

use crate::fleet::Fleet;
use crate::model::{Model, calm_mentors, first_night, night, oslo, spread_expiries};
use crate::population::Population;
use crate::support::Setup;

const INSTANCES: usize = 2;
const MENTORS: usize = 40;
/// The outage of the SMTP server and the portal.
const OUTAGE: Duration = Duration::from_secs(120);
/// How late the portal answers the pushes that are in flight when the database restarts: long
/// enough for the test to see them unconfirmed and restart before the answers come.
const ANSWER_DELAY_SECONDS: u64 = 5;
/// `[alerts] backlog_minutes` in these tests: 15 s.
const BACKLOG_MINUTES: &str = "0.25";

/// Runs the nights `from..to` one after the other, each to its end.
async fn nights(fleet: &Fleet, from: u64, to: u64) {
    for n in from..to {
        fleet.set_clock(oslo(night(n), "05:30"));
        fleet.night_done(night(n)).await;
    }
}

/// The writes of `contact` since write number `since`.
fn writes_to(fleet: &Fleet, since: usize, contact: uuid::Uuid) -> usize {
    fleet.writes()[since..]
        .iter()
        .filter(|w| w.contact_id == contact)
        .count()
}

pub async fn database_restarts() {
    const RESTART_IN_RUN: u64 = 6;
    const NIGHTS: u64 = 10;
    let cluster = tokio::task::block_in_place(PrivateCluster::start);
    let setup = Setup::on(TestDatabase::create_on(cluster.url()).await);
    let expiries = spread_expiries(MENTORS);
    let model = Model::of(first_night(), NIGHTS, &expiries);
    let mut fleet = Fleet::new(setup, oslo(night(0), "04:00")).await;
    let people = Population::settle(&mut fleet, &expiries, INSTANCES).await;
    nights(&fleet, 0, RESTART_IN_RUN).await;

    // 1. The database restarts while a nightly run is in its reminders step, its lapses committed.
    let day = night(RESTART_IN_RUN);
    let held = fleet.hold_expiry_in_reminders(day, &model).await;
    tokio::task::block_in_place(|| cluster.restart());
    drop(held);
    // The run lost its connection: it is recorded as failed (or its lease runs out) and the night
    // is run again — a minute later, when the claim's lease has run out.
    fleet.set_clock(oslo(day, "05:31"));
    fleet.night_done(day).await;
    let log = fleet.run_log("expiry", day).await;
    assert_eq!(log.len(), 2, "{log:?}");
    assert!(log[0].starts_with("failed: "), "the run log tells: {log:?}");
    assert_eq!(log[1], "succeeded: ", "{log:?}");

    // 2. The database restarts while pushes are in flight: the portal has the writes and answers
    //    late. Which relay takes which change is up to them (one may push both, one after the
    //    other), so the last push at least is still unconfirmed at the restart.
    let calm = calm_mentors(&expiries, NIGHTS);
    let pushed = &calm[..INSTANCES];
    let since = fleet.writes().len();
    fleet
        .world
        .sim
        .faults()
        .set_answer_delay(Duration::from_secs(ANSWER_DELAY_SECONDS));
    for i in pushed {
        people.act(&fleet, *i, "pause").await;
    }
    fleet
        .eventually("the writes landed", || async {
            pushed
                .iter()
                .all(|i| writes_to(&fleet, since, people.contacts[*i]) == 1)
        })
        .await;
    fleet.emails_sent().await;
    let unconfirmed = format!(
        "SELECT count(*) FROM sync_outbox WHERE state = 'pending' AND mentor_id IN ({})",
        pushed
            .iter()
            .map(|i| format!("'{}'", people.ids[*i]))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let in_flight = fleet.count(&unconfirmed).await;
    assert!(
        in_flight >= 1,
        "a push is still unconfirmed when the database restarts"
    );
    eprintln!("the database restarts with {in_flight} push(es) unconfirmed");
    tokio::task::block_in_place(|| cluster.restart());
    fleet.world.sim.faults().set_answer_delay(Duration::ZERO);
    fleet
        .eventually("every push recorded", || fleet.queues_empty())
        .await;
    for i in pushed {
        assert_eq!(
            writes_to(&fleet, since, people.contacts[*i]),
            1,
            "written once"
        );
        assert!(!fleet.world.listed(people.contacts[*i]));
    }

    // 3. The rest of the nights run as if nothing happened.
    nights(&fleet, RESTART_IN_RUN + 1, NIGHTS).await;
    fleet
        .eventually("everything delivered", || fleet.queues_empty())
        .await;
    people
        .assert_exactly_once(&fleet, &model, NIGHTS, INSTANCES as u64)
        .await;
}

pub async fn smtp_and_portal_outage() {
    const OUTAGE_NIGHT: u64 = 6;
    const NIGHTS: u64 = 8;
    let expiries = spread_expiries(MENTORS);
    let model = Model::of(first_night(), NIGHTS, &expiries);
    let mut fleet = Fleet::new(Setup::new().await, oslo(night(0), "04:00")).await;
    fleet.set_env("MENTOR_STATUS__ALERTS__BACKLOG_MINUTES", BACKLOG_MINUTES);
    let people = Population::settle(&mut fleet, &expiries, INSTANCES).await;
    nights(&fleet, 0, OUTAGE_NIGHT).await;

    // The SMTP server stops taking connections; the portal answers 503 to everything.
    fleet.world.sink.stop_listening();
    fleet.world.sim.faults().set_server_error_share(1.0);
    let day = night(OUTAGE_NIGHT);
    let start = oslo(day, "05:30");
    fleet.set_clock(start);
    let calm = calm_mentors(&expiries, NIGHTS);
    people.act(&fleet, calm[0], "pause").await;
    // The outage lasts minutes; the rehearsal clock runs along with it.
    let began = Instant::now();
    while began.elapsed() < OUTAGE {
        tokio::time::sleep(Duration::from_secs(1)).await;
        fleet.set_clock(start + chrono::Duration::from_std(began.elapsed()).expect("short"));
    }

    // The story while it lasts: the expiry run did its work, the listing sync could not; changes
    // and emails wait; both backlog alerts are open and were posted; readiness says degraded.
    assert_eq!(fleet.run_log("expiry", day).await, ["succeeded: "]);
    let sync_log = fleet.run_log("listing_sync", day).await;
    assert!(
        !sync_log.is_empty() && sync_log.iter().all(|r| r.starts_with("failed: ")),
        "{sync_log:?}"
    );
    let pending = |table: &str| format!("SELECT count(*) FROM {table} WHERE state = 'pending'");
    assert!(fleet.count(&pending("email_outbox")).await > 0);
    assert!(fleet.count(&pending("sync_outbox")).await > 0);
    let events = fleet.world.hooks.events();
    let open = fleet
        .world
        .get("/api/v1/alerts?open=true", &people.coordinator)
        .await;
    for kind in ["sync_backlog", "email_backlog"] {
        assert!(
            events.contains(&("opened".to_owned(), kind.to_owned())),
            "{kind} posted: {events:?}"
        );
        assert!(
            open["items"]
                .as_array()
                .expect("items")
                .iter()
                .any(|a| a["kind"] == kind),
            "{kind} shown to the coordinators: {open}"
        );
    }
    let ready: Value = fleet
        .world
        .client
        .get(format!("{}/readyz", fleet.world.base()))
        .send()
        .await
        .expect("readyz")
        .json()
        .await
        .expect("JSON");
    assert_eq!(ready["status"], "degraded", "{ready}");
    assert!(
        fleet.world.listed(people.contacts[calm[0]]),
        "the paused mentor is still listed: nothing reached the portal"
    );

    // Both come back: everything goes out, the night's listing sync succeeds at its next try, and
    // both alerts resolve.
    fleet.world.sink.resume_listening().expect("listen again");
    fleet.world.sim.faults().clear();
    fleet.set_clock(start + chrono::Duration::minutes(10));
    fleet.night_done(day).await;
    fleet
        .eventually("both alerts resolved and posted", || async {
            let events = fleet.world.hooks.events();
            ["sync_backlog", "email_backlog"]
                .iter()
                .all(|kind| events.contains(&("resolved".to_owned(), (*kind).to_owned())))
        })
        .await;
    assert!(!fleet.world.listed(people.contacts[calm[0]]));
    let sync_log = fleet.run_log("listing_sync", day).await;
    assert_eq!(
        sync_log.last().map(String::as_str),
        Some("succeeded: "),
        "{sync_log:?}"
    );

    nights(&fleet, OUTAGE_NIGHT + 1, NIGHTS).await;
    fleet
        .eventually("everything delivered", || fleet.queues_empty())
        .await;
    people.assert_exactly_once(&fleet, &model, NIGHTS, 1).await;
    let mut told = fleet.world.hooks.events();
    told.sort();
    assert_eq!(
        told,
        [
            ("opened".to_owned(), "email_backlog".to_owned()),
            ("opened".to_owned(), "sync_backlog".to_owned()),
            ("resolved".to_owned(), "email_backlog".to_owned()),
            ("resolved".to_owned(), "sync_backlog".to_owned()),
        ],
        "each alert opened and resolved once"
    );
}
