//! End-to-end journeys: the real `mentor-status` binary as separate processes (`serve` and one-shot
//! commands beside it) with a real SMTP server and the Dataverse simulator, on PostgreSQL and on
//! SQLite, moving the business date with `expiry run --as-of … --allow-future`.
//!
//! Each journey is one body generic over the backend, run once per backend; every effect is counted
//! exactly.
//!
//! The rule this suite keeps: no fixed sleeps. A test waits for something only through
//! `World::eventually` or `Fleet::eventually` (both `testkit::poll_until_watching`: poll every 50 ms, fail
//! after a deadline naming what was awaited, with the servers' logs). The one sleep is an outage's
//! own length in `faults.rs`, which is what that test is about.

mod support;

#[path = "e2e/breakglass_journey.rs"]
mod breakglass_journey;
#[path = "e2e/certification_journey.rs"]
mod certification_journey;
#[path = "e2e/credentials_journey.rs"]
mod credentials_journey;
#[path = "e2e/drift_journey.rs"]
mod drift_journey;
#[path = "e2e/faults.rs"]
mod faults;
#[path = "e2e/fleet.rs"]
mod fleet;
#[path = "e2e/harness.rs"]
mod harness;
#[path = "e2e/model.rs"]
mod model;
#[path = "e2e/month.rs"]
mod month;
#[path = "e2e/pause_journey.rs"]
mod pause_journey;
#[path = "e2e/population.rs"]
mod population;

use harness::Backend;

/// Multi-threaded: the simulator and the SMTP server keep serving while the test waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_mentor_pauses_until_a_date_and_comes_back_on_it() {
    pause_journey::run(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_mentor_pauses_until_a_date_and_comes_back_on_it() {
    pause_journey::run(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_certification_lapses_and_a_renewal_brings_the_mentor_back() {
    certification_journey::run(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_certification_lapses_and_a_renewal_brings_the_mentor_back() {
    certification_journey::run(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_forced_sync_corrects_portal_drift_and_reconciliation_reports_it() {
    drift_journey::run(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_forced_sync_corrects_portal_drift_and_reconciliation_reports_it() {
    drift_journey::run(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_rotated_credentials_alert_once_queue_changes_and_resolve_with_the_new_secret() {
    credentials_journey::run(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_rotated_credentials_alert_once_queue_changes_and_resolve_with_the_new_secret() {
    credentials_journey::run(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_break_glass_pushes_every_selected_mentor_whatever_the_relay_left() {
    breakglass_journey::run(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_break_glass_pushes_every_selected_mentor_whatever_the_relay_left() {
    breakglass_journey::run(Backend::Sqlite).await;
}

/// Three instances on one PostgreSQL database, a month of nights, one killed mid-run and one
/// mid-push: every effect exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_three_instances_walk_a_month_and_every_effect_happens_once() {
    month::run().await;
}

/// PostgreSQL (a private cluster) restarted in the middle of a nightly run and of portal pushes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_mid_run_and_mid_push_loses_and_doubles_nothing() {
    faults::database_restarts().await;
}

/// The SMTP server and the portal down for two minutes: alerts open, everything goes out once after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_smtp_and_portal_down_for_minutes_deliver_everything_once_after() {
    faults::smtp_and_portal_outage().await;
}
