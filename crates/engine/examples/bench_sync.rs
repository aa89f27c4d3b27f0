//! Benchmark of the listing sync against the Dataverse simulator over real HTTP and a
//! fresh PostgreSQL database (dropped at the end):
//!
//! 1. Full push: BENCH_SYNC_MENTORS (default 100,000) linked mentors, the simulator limited to 600
//!    requests per 30 s window. Reports the Web API requests per second achieved against the
//!    allowed 20/s, and the requests sent while a Retry-After was pending (must be 0).
//! 2. Event-driven latency: 1,000 transitions with a healthy simulator and a running relay; from
//!    each transition's commit to the simulator receiving the write. Reports p50 and p99.
//!
//! Run: `cargo run --release -p mentor-status-engine --example bench_sync`
//! (PostgreSQL from TEST_DATABASE_URL, as for the tests).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use store::prelude::*;

use dataverse::ClientConfig;
use dataverse_sim::{RateLimit, SimConfig, Simulator};
use domain::{
    Action, CertificationPeriod, Email, FullName, MentorId, MentorStatus, OrgSlug, OrgTimeZone,
    Reason, Role, SystemClock,
};
use engine::Engine;
use engine::sync::{Integration, ListingSync, Mapping, Relay, RelayConfig};
use serde_json::json;
use store::{Actor, NewCertification, NewMentor, NewOrg, NewUser};
use store_postgres::PgStore;
use testkit::TestDatabase;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

extern crate mentor_status_engine as engine;

const VISIBLE: &str = "hlf_showonwebsite";
const LIMIT_REQUESTS: u32 = 600;
const LIMIT_WINDOW: Duration = Duration::from_secs(30);
const TRANSITIONS: usize = 1000;
const RELAYS: usize = 2;

#[tokio::main]
async fn main() {
    let mentors: usize = std::env::var("BENCH_SYNC_MENTORS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let db = TestDatabase::create().await;
    let store = PgStore::connect(db.url(), 8).await.unwrap();
    store.migrate().await.unwrap();
    let org = store
        .create_org(NewOrg {
            slug: OrgSlug::parse("hlf").unwrap(),
            name: "HLF".into(),
            timezone: OrgTimeZone::default(),
        })
        .await
        .unwrap();
    let coordinator = store
        .create_user(NewUser {
            org_id: org.id,
            email: Email::parse("k@hlf.no").unwrap(),
            role: Role::Coordinator,
            mentor_id: None,
            auth_subject: None,
            password_hash: None,
            locale: None,
        })
        .await
        .unwrap();
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let mut client = ClientConfig::new(
        sim.base_url(),
        sim.token_url(),
        "sim-client",
        "sim-secret".to_owned().into(),
        sim.scope(),
    );
    client.batch_size = dataverse::DEFAULT_BATCH_SIZE;
    let integration = Integration {
        org: org.id,
        client: dataverse::Client::new(client).unwrap(),
        mapping: Mapping::new(VISIBLE),
    };
    let config = RelayConfig::default();
    let engine = Engine::new(store.clone(), Arc::new(SystemClock))
        .with_listing_sync(ListingSync::new(vec![integration.clone()], config.clone()));
    let integration = engine
        .listing()
        .and_then(|l| l.integration(org.id))
        .unwrap()
        .clone();

    println!("== seeding {mentors} linked mentors");
    let seeded = Instant::now();
    let mut ids = Vec::with_capacity(mentors);
    for chunk_start in (0..mentors).step_by(5000) {
        let batch: Vec<NewMentor> = (chunk_start..(chunk_start + 5000).min(mentors))
            .map(|n| {
                let contact = Uuid::new_v4();
                sim.insert_contact(
                    contact,
                    json!({"contactid": contact.to_string(), VISIBLE: false})
                        .as_object()
                        .cloned()
                        .unwrap(),
                );
                let id = MentorId::new();
                ids.push((id, contact));
                NewMentor {
                    id,
                    full_name: FullName::parse(&format!("Mentor {n:06}")).unwrap(),
                    email: Email::parse(&format!("m{n}@hlf.no")).unwrap(),
                    phone: None,
                    listed_publicly: true,
                    dynamics_contact_id: Some(contact),
                    dynamics_key: None,
                    status: MentorStatus::Active,
                    certification: Some(NewCertification::new(
                        CertificationPeriod::new(
                            "2026-01-01".parse().unwrap(),
                            "2090-01-01".parse().unwrap(),
                        )
                        .unwrap(),
                    )),
                }
            })
            .collect();
        store
            .create_mentors(org.id, Actor::System, batch, chrono::Utc::now())
            .await
            .unwrap();
    }
    println!("seeded in {:.1} s", seeded.elapsed().as_secs_f64());

    println!(
        "== full push, simulator limited to {LIMIT_REQUESTS} requests per {} s",
        LIMIT_WINDOW.as_secs()
    );
    sim.faults().set_rate_limit(Some(RateLimit {
        requests: LIMIT_REQUESTS,
        window: LIMIT_WINDOW,
    }));
    sim.reset_stats();
    // Two relays, as `serve` runs (sync.relays_per_org): one's database work overlaps the other's
    // request; the client keeps one request on the wire at a time.
    let started = Instant::now();
    let drains: Vec<_> = (0..RELAYS)
        .map(|_| {
            let relay = Relay::new(
                engine.clone(),
                integration.clone(),
                config.clone(),
                Uuid::new_v4(),
            );
            tokio::spawn(async move {
                let mut pushed = 0;
                loop {
                    let pass = relay.pass().await.unwrap();
                    assert_eq!(pass.dead + pass.not_found, 0, "{pass:?}");
                    if pass.claimed == 0 {
                        return pushed;
                    }
                    pushed += pass.pushed;
                }
            })
        })
        .collect();
    let mut pushed = 0;
    for drain in drains {
        pushed += drain.await.unwrap();
    }
    assert_eq!(pushed, mentors);
    let elapsed = started.elapsed().as_secs_f64();
    let stats = sim.stats();
    let accepted = stats.requests_total - stats.throttled_responses;
    let allowed_per_second = f64::from(LIMIT_REQUESTS) / LIMIT_WINDOW.as_secs_f64();
    // The first window's burst is allowed at once; count the run as the windows it spans.
    let achieved = accepted as f64 / elapsed;
    println!(
        "pushed {pushed} mentors in {elapsed:.1} s: {accepted} accepted Web API requests \
         ({} batches), {} throttled (429), {} sent during a Retry-After",
        stats.batch_requests, stats.throttled_responses, stats.requests_during_retry_after
    );
    println!(
        "throughput {achieved:.2} requests/s of {allowed_per_second:.2} allowed = {:.1} % \
         (target >= 90 %, 0 requests during Retry-After: {})",
        100.0 * achieved / allowed_per_second,
        if stats.requests_during_retry_after == 0 {
            "met"
        } else {
            "MISSED"
        }
    );

    println!("== event-driven latency over {TRANSITIONS} transitions (healthy simulator)");
    sim.faults().clear();
    let cancel = CancellationToken::new();
    let running = tokio::spawn(
        Relay::new(engine.clone(), integration.clone(), config, Uuid::new_v4()).run(cancel.clone()),
    );
    let mut writes = sim.writes();
    let mut committed: HashMap<Uuid, SystemTime> = HashMap::new();
    let mut latencies = Vec::with_capacity(TRANSITIONS);
    let reason = Reason::parse("benchmark").unwrap();
    for (mentor, contact) in ids.iter().take(TRANSITIONS) {
        engine
            .request(
                &coordinator,
                *mentor,
                Action::Pause {
                    reason: reason.clone(),
                    resume_on: None,
                },
            )
            .await
            .unwrap();
        committed.insert(*contact, SystemTime::now());
        // One at a time, spaced like real traffic: wait for this write before the next change.
        loop {
            let event = tokio::time::timeout(Duration::from_secs(10), writes.recv())
                .await
                .expect("a write within 10 s")
                .unwrap();
            if let Some(at) = committed.remove(&event.contact_id) {
                latencies.push(event.at.duration_since(at).unwrap_or_default());
                break;
            }
        }
    }
    cancel.cancel();
    running.await.unwrap();
    latencies.sort();
    let p = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "commit -> simulator received: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (target p99 <= 500 ms: {})",
        p(0.50).as_secs_f64() * 1000.0,
        p(0.99).as_secs_f64() * 1000.0,
        latencies.last().unwrap().as_secs_f64() * 1000.0,
        if p(0.99) <= Duration::from_millis(500) {
            "met"
        } else {
            "MISSED"
        }
    );
    println!(
        "machine: {} cores ({})",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(
                |c| c.lines().find(|l| l.starts_with("model name")).map(|l| l
                    .split(':')
                    .nth(1)
                    .unwrap_or("")
                    .trim()
                    .to_owned())
            )
            .unwrap_or_default()
    );
    drop(store);
    drop(db);
}
