//! Three `serve` instances on one PostgreSQL database, scheduler, relays and senders on in all of
//! them, walk a month of business dates with a few hundred mentors. On one night the instance
//! running the expiry job is killed (SIGKILL) in the middle of it; on another, the instance whose
//! relay has a portal write in flight is killed before it hears the answer. Every effect is then
//! counted against a model of the month built from the domain's own rules: ledger, history,
//! digests, emails and portal writes, each exactly once.

use std::time::Duration;

use chrono::NaiveDate;

use crate::fleet::{Fleet, SYNC_LEASE_SECONDS};
use crate::model::{Model, calm_mentors, first_night, night, oslo, spread_expiries};
use crate::population::Population;
use crate::support::Setup;

const INSTANCES: usize = 3;
const MENTORS: usize = 240;
const NIGHTS: u64 = 31;
/// The night the expiry run's instance is killed mid-run, and the night a push is cut off.
const KILL_RUN_NIGHT: u64 = 10;
const KILL_PUSH_NIGHT: u64 = 15;

pub async fn run() {
    let expiries = spread_expiries(MENTORS);
    let model = Model::of(first_night(), NIGHTS, &expiries);
    // Before 05:00 on the first night: the instances start, nothing is due yet.
    let mut fleet = Fleet::new(Setup::new().await, oslo(night(0), "04:00")).await;
    let people = Population::settle(&mut fleet, &expiries, INSTANCES).await;
    let calm = calm_mentors(&expiries, NIGHTS);
    let mut actions = 0;
    let mut night_times = Vec::new();
    for n in 0..NIGHTS {
        let day = night(n);
        match n {
            KILL_RUN_NIGHT => kill_mid_run(&mut fleet, day, &model).await,
            _ => fleet.set_clock(oslo(day, "05:30")),
        }
        night_times.push(fleet.night_done(day).await);
        if n == KILL_PUSH_NIGHT {
            kill_mid_push(&mut fleet, &people, calm[0]).await;
            actions += 1;
        }
        // During the day a coordinator pauses one mentor and resumes them two days later, through
        // a different instance each time.
        let instance = n as usize % INSTANCES;
        if n % 4 == 1 {
            let i = calm[1 + n as usize];
            fleet.world.set_base(fleet.base_of(instance));
            people.act(&fleet, i, "pause").await;
            fleet.world.until_listed(people.contacts[i], false).await;
            actions += 1;
        }
        if n % 4 == 3 {
            let i = calm[n as usize - 1];
            fleet.world.set_base(fleet.base_of(instance));
            people.act(&fleet, i, "resume").await;
            fleet.world.until_listed(people.contacts[i], true).await;
            actions += 1;
        }
        // The day's emails go out before the clock jumps to the next night (a day of waiting
        // would be a backlog).
        fleet
            .eventually("the day's deliveries done", || fleet.queues_empty())
            .await;
    }
    fleet
        .eventually("everything delivered", || fleet.queues_empty())
        .await;
    people
        .assert_exactly_once(&fleet, &model, NIGHTS, actions)
        .await;
    assert!(
        fleet.world.hooks.events().is_empty(),
        "no alert, no duplicate found by the compensation check: {:?}",
        fleet.world.hooks.events()
    );
    let processes = fleet
        .count("SELECT count(DISTINCT instance) FROM job_runs")
        .await;
    // At least the killed instance and the one that took its night over made runs.
    assert!(
        processes >= 2,
        "the nights were run by {processes} process(es), not shared"
    );
    night_times.sort();
    eprintln!(
        "a month on {INSTANCES} instances ({processes} processes made its runs), {MENTORS} mentors: \
         nights done in {:?} (median), {:?} (slowest)",
        night_times[night_times.len() / 2],
        night_times.last().expect("nights")
    );
}

/// The night's expiry run is held inside its reminders step (a test transaction keeps
/// `cert_expiry_reminders` from taking inserts) after its lapses committed; the instance running
/// it is killed; once its lease has run out another instance takes the night over.
async fn kill_mid_run(fleet: &mut Fleet, day: NaiveDate, model: &Model) {
    let held = fleet.hold_expiry_in_reminders(day, model).await;
    let victim = fleet.running_expiry_instance(day).await;
    fleet.kill(victim);
    held.release().await;
    // A minute later on the same night the dead run's lease has run out.
    fleet.set_clock(oslo(day, "05:31"));
    fleet.night_done(day).await;
    let outcomes = fleet.run_log("expiry", day).await;
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
async fn kill_mid_push(fleet: &mut Fleet, people: &Population, i: usize) {
    let (id, contact) = (&people.ids[i], people.contacts[i]);
    let writes_before = fleet.writes().len();
    fleet
        .world
        .sim
        .faults()
        .set_answer_delay(Duration::from_secs(6));
    people.act(fleet, i, "pause").await;
    fleet
        .eventually("the write landed", || async {
            fleet.writes()[writes_before..]
                .iter()
                .any(|w| w.contact_id == contact)
        })
        .await;
    fleet.emails_sent().await;
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
    fleet.world.sim.faults().set_answer_delay(Duration::ZERO);
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
