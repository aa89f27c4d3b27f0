//! Benchmark of email delivery: BENCH_EMAILS (default 10,000) certification reminders
//! queued by a real nightly run, then sent by one `EmailSender` with the default configuration
//! (pool of 16 connections, at most 500 per second) to an SMTP server on 127.0.0.1 (smtp-sink, in this
//! process; it forgets messages as they are counted, so the memory figures are the sender's).
//! Reports messages per second and the process's resident memory while sending.
//!
//! Run: `cargo run --release -p mentor-status-engine --example bench_email -- [sqlite|postgres]`
//! (PostgreSQL from TEST_DATABASE_URL, as for the tests; its database is dropped at the end).

use std::sync::Arc;
use std::time::{Duration, Instant};
use store::prelude::*;

use chrono::{NaiveDate, TimeZone, Utc};
use domain::{
    CertificationPeriod, Email, FixedClock, FullName, Locale, MentorId, MentorStatus, OrgSlug,
    OrgTimeZone,
};
use engine::Engine;
use engine::delivery::{EmailSender, Mailer, MailerConfig, SenderConfig};
use engine::expiry::ExpiryConfig;
use smtp_sink::SmtpSink;
use store::{Actor, NewCertification, NewMentor, NewOrg, OrgSettings};
use testkit::{Postgres, Sqlite, TestBackend};

extern crate mentor_status_engine as engine;

#[tokio::main]
async fn main() {
    let emails: usize = std::env::var("BENCH_EMAILS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    match std::env::args().nth(1).as_deref() {
        Some("postgres") => bench::<Postgres>(emails).await,
        None | Some("sqlite") => bench::<Sqlite>(emails).await,
        Some(other) => panic!("unknown backend {other}: sqlite or postgres"),
    }
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

async fn bench<B: TestBackend>(emails: usize) {
    let db = B::create().await;
    let store = B::open(&db, 8).await;
    let org = store
        .create_org(NewOrg {
            slug: OrgSlug::parse("hlf").unwrap(),
            name: "HLF".into(),
            timezone: OrgTimeZone::default(),
        })
        .await
        .unwrap();
    store
        .update_org_settings(
            org.id,
            OrgSettings {
                email_enabled: true,
                locale: Locale::Nb,
                ..OrgSettings::default()
            },
        )
        .await
        .unwrap();
    // Every certification has 14 days left on the run's day: one reminder each.
    let today = day("2026-07-10");
    let registered = Utc.from_utc_datetime(&today.and_hms_opt(10, 0, 0).unwrap());
    for chunk in (0..emails).collect::<Vec<_>>().chunks(2000) {
        let mentors = chunk
            .iter()
            .map(|n| NewMentor {
                id: MentorId::new(),
                full_name: FullName::parse(&format!("Likeperson {n:05}")).unwrap(),
                email: Email::parse(&format!("likeperson{n:05}@hlf.no")).unwrap(),
                phone: None,
                listed_publicly: true,
                dynamics_contact_id: None,
                dynamics_key: None,
                status: MentorStatus::Active,
                certification: Some(NewCertification::new(
                    CertificationPeriod::new(day("2024-07-24"), day("2026-07-24")).unwrap(),
                )),
            })
            .collect();
        store
            .create_mentors(org.id, Actor::System, mentors, registered)
            .await
            .unwrap();
    }
    let clock = FixedClock::new(registered);
    let engine =
        Engine::new(store.clone(), Arc::new(clock)).with_expiry_config(ExpiryConfig::default());
    engine.run_expiry(&org, today).await.unwrap();
    let queued = store.delivery_status().await.unwrap().email.pending;
    assert_eq!(queued as usize, emails, "one reminder per mentor");

    let sink = SmtpSink::start().unwrap();
    let defaults = MailerConfig {
        url: sink.url(),
        password: None,
        from: "HLF Likeperson <likeperson@hlf.no>".into(),
        pool_size: 16,
        max_per_second: 500,
        timeout: Duration::from_secs(30),
    };
    let sender = EmailSender::new(
        engine.clone(),
        Mailer::new(defaults).unwrap(),
        SenderConfig::default(),
    );
    let rss_before = resident_mb();
    let mut rss_peak = rss_before;
    let started = Instant::now();
    loop {
        let report = sender.pass().await.unwrap();
        assert_eq!(report.dead + report.retried, 0, "{report:?}");
        sink.clear();
        rss_peak = rss_peak.max(resident_mb());
        if report.claimed == 0 {
            break;
        }
    }
    let elapsed = started.elapsed();
    let delivered = sink.stats().messages_accepted as usize;
    assert_eq!(delivered, emails, "every email arrived once");
    println!(
        "{}: {delivered} emails in {:.2} s = {:.0} messages/s (pool 16, limit 500/s); \
         resident memory {rss_before:.0} MB before, {rss_peak:.0} MB peak while sending",
        B::NAME,
        elapsed.as_secs_f64(),
        delivered as f64 / elapsed.as_secs_f64(),
    );
}

/// This process's resident set size in MB (Linux).
fn resident_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
