//! What only the PostgreSQL store can be asked about the nightly expiry run, against a real server (a
//! fresh database per test). The run's store methods themselves (worklist, ledgers, claims, leases,
//! the run log, digests, the compensation check, alerts, batches of changes, also under concurrency)
//! are checked through the `Store` trait by the contract suite (`tests/contract.rs`, from crate
//! `store`, feature `contract`). The tests here stay because they need SQL on the pool:
//!
//! - `settings_keys_this_version_does_not_know_survive_an_update`: keys the `OrgSettings` type does
//!   not know can only be written by hand (or by a newer version), so only SQL can put them there.
//! - `the_current_expiry_follows_certifications_edited_by_hand`: `mentors.current_expires_on` is kept
//!   by triggers on `certifications`; a hand edit of that table (deleting or moving a period) is not
//!   something the trait can do.
//! - `hand_edited_duplicates_are_found_and_findings_are_logged`: duplicates written outside the store
//!   (as a hand edit would) are found too, and `record_findings` writes the reconciliation log, which
//!   no trait method reads back.

use chrono::NaiveDate;
use domain::{CertificationPeriod, Email, FullName, MentorId, MentorStatus, OrgId, Role};
use mentor_status_store_postgres::PgStore;
use store::prelude::*;
use store::{
    Actor, Finding, MentorChange, NewCertification, NewMentor, NewUser, OrgSettings, RunId,
};
use uuid::Uuid;

mod common;

use common::{Db, date, db, org, t};

const NOW: &str = "2026-05-01T04:00:00Z";
const TODAY: &str = "2026-05-01";

fn days(n: i64) -> NaiveDate {
    date(TODAY) + chrono::Duration::days(n)
}

fn certification(issued_on: NaiveDate, expires_on: NaiveDate) -> NewCertification {
    NewCertification::new(CertificationPeriod::new(issued_on, expires_on).unwrap())
}

/// An `active` mentor (version 1) whose certification ends on `expires_on`.
async fn mentor(store: &PgStore, org: OrgId, name: &str, expires_on: NaiveDate) -> MentorId {
    let mentor = NewMentor {
        id: MentorId::new(),
        full_name: FullName::parse(name).unwrap(),
        email: Email::parse(&format!("{}@example.no", name.to_lowercase())).unwrap(),
        phone: None,
        listed_publicly: true,
        dynamics_contact_id: None,
        dynamics_key: None,
        status: MentorStatus::Active,
        certification: Some(certification(date("2024-01-01"), expires_on)),
    };
    store
        .create_mentors(org, Actor::System, vec![mentor], t(NOW))
        .await
        .expect("create mentor")[0]
}

/// A change that does nothing but add a certification (and bump the version).
fn renewal(org: OrgId, mentor: MentorId, version: i64, cert: NewCertification) -> MentorChange {
    MentorChange {
        org,
        mentor,
        expected_status: MentorStatus::Active,
        expected_version: version,
        certification: Some(cert),
        transition: None,
        actor: Actor::System,
        idempotency_key: None,
        history_note: None,
        notifications: Vec::new(),
        run: None,
        bound_expires_on: None,
        at: t(NOW),
    }
}

#[tokio::test]
async fn settings_keys_this_version_does_not_know_survive_an_update() {
    let Db { store, _db } = db().await;
    let a = org(&store, "alpha").await;
    sqlx::query("UPDATE organisations SET settings = '{\"future_flag\": true}' WHERE id = $1")
        .bind(a.id.0)
        .execute(store.pool())
        .await
        .unwrap();
    assert_eq!(
        store.org_settings(a.id).await.unwrap(),
        OrgSettings::default(),
        "unknown keys are ignored when read"
    );
    let settings = OrgSettings {
        thresholds_days: Some(vec![7, 21]),
        ..OrgSettings::default()
    };
    store
        .update_org_settings(a.id, settings.clone())
        .await
        .unwrap();
    assert_eq!(store.org_settings(a.id).await.unwrap(), settings);
    let raw: serde_json::Value =
        sqlx::query_scalar("SELECT settings FROM organisations WHERE id = $1")
            .bind(a.id.0)
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(raw["future_flag"], serde_json::json!(true));
    assert_eq!(raw["thresholds_days"], serde_json::json!([7, 21]));
}

#[tokio::test]
async fn the_current_expiry_follows_certifications_edited_by_hand() {
    let Db { store, _db } = db().await;
    let o = org(&store, "hlf").await.id;
    let kari = mentor(&store, o, "Kari", days(-10)).await;
    store
        .apply_change(renewal(o, kari, 1, certification(days(-10), days(20))))
        .await
        .unwrap();
    let lapsed = |store: PgStore| async move {
        store
            .expiry_worklist(o, date(TODAY), 30, 3)
            .await
            .unwrap()
            .lapsed_active
            .into_iter()
            .map(|f| f.id)
            .collect::<Vec<_>>()
    };
    assert!(lapsed(store.clone()).await.is_empty());

    // An older period registered later changes nothing.
    store
        .apply_change(renewal(
            o,
            kari,
            2,
            certification(date("2020-01-01"), date("2021-01-01")),
        ))
        .await
        .unwrap();
    assert!(lapsed(store.clone()).await.is_empty());

    // Deleting the current period by hand falls back to the previous one; editing it moves it.
    sqlx::query("DELETE FROM certifications WHERE mentor_id = $1 AND expires_on = $2")
        .bind(kari.0)
        .bind(days(20))
        .execute(store.pool())
        .await
        .unwrap();
    assert_eq!(lapsed(store.clone()).await, vec![kari]);
    sqlx::query(
        "UPDATE certifications SET expires_on = $2 WHERE mentor_id = $1 AND expires_on = $3",
    )
    .bind(kari.0)
    .bind(days(5))
    .bind(days(-10))
    .execute(store.pool())
    .await
    .unwrap();
    let worklist = store.expiry_worklist(o, date(TODAY), 30, 3).await.unwrap();
    assert!(worklist.lapsed_active.is_empty());
    assert_eq!(worklist.reminders[0].expires_on, days(5));
    assert_eq!(
        store
            .mentor(o, kari)
            .await
            .unwrap()
            .certification
            .unwrap()
            .expires_on,
        days(5)
    );
    sqlx::query("DELETE FROM certifications WHERE mentor_id = $1")
        .bind(kari.0)
        .execute(store.pool())
        .await
        .unwrap();
    let facts = store.mentor_facts(o, vec![kari]).await.unwrap();
    assert_eq!(facts[0].expires_on, None);
    assert_eq!(lapsed(store.clone()).await, vec![kari]);
}

#[tokio::test]
async fn hand_edited_duplicates_are_found_and_findings_are_logged() {
    let Db { store, _db } = db().await;
    let o = org(&store, "hlf").await.id;
    let kari = mentor(&store, o, "Kari", days(-1)).await;
    let coordinator = store
        .create_user(NewUser {
            org_id: o,
            email: Email::parse("a@example.no").unwrap(),
            role: Role::Coordinator,
            mentor_id: None,
            auth_subject: None,
            password_hash: None,
            locale: None,
        })
        .await
        .unwrap();
    assert!(store.find_duplicate_effects(o).await.unwrap().is_empty());

    // Two automatic expiries of one certification period, and two digests of one day, by hand.
    for _ in 0..2 {
        sqlx::query(
            "INSERT INTO status_history (org_id, mentor_id, from_status, to_status, reason, \
                                         actor_kind, certification_expires_on, occurred_at) \
             VALUES ($1, $2, 'active', 'certification_expired', 'hand edit', 'system', $3, now())",
        )
        .bind(o.0)
        .bind(kari.0)
        .bind(days(-1))
        .execute(store.pool())
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO notifications (id, org_id, recipient_user_id, kind, payload, created_at) \
             VALUES (gen_random_uuid(), $1, $2, 'coordinator_digest', $3, now())",
        )
        .bind(o.0)
        .bind(coordinator.id.0)
        .bind(serde_json::json!({ "business_date": TODAY }))
        .execute(store.pool())
        .await
        .unwrap();
    }
    let findings = store.find_duplicate_effects(o).await.unwrap();
    let expiry_key = format!("expires_on={}", days(-1));
    assert_eq!(
        findings,
        [
            Finding {
                kind: "duplicate_digest".into(),
                mentor_id: None,
                key: format!("coordinator={} business_date={TODAY}", coordinator.id),
                count: 2,
            },
            Finding {
                kind: "duplicate_expiry".into(),
                mentor_id: Some(kari),
                key: expiry_key.clone(),
                count: 2,
            },
        ]
    );

    let run = RunId::new();
    store
        .record_findings(o, Some(run), findings.clone(), t(NOW))
        .await
        .unwrap();
    store
        .record_findings(o, None, findings[1..].to_vec(), t(NOW))
        .await
        .unwrap();
    store
        .record_findings(o, Some(run), Vec::new(), t(NOW))
        .await
        .unwrap();
    /// org, run, kind, mentor, key, count, found_at
    type LogRow = (
        Uuid,
        Option<Uuid>,
        String,
        Option<Uuid>,
        String,
        i64,
        chrono::DateTime<chrono::Utc>,
    );
    let logged: Vec<LogRow> = sqlx::query_as(
        "SELECT org_id, run_id, kind, mentor_id, key, count, found_at FROM reconciliation_log \
         ORDER BY id",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(logged.len(), 3, "in order, nothing for an empty list");
    let expiry_row = |run: Option<Uuid>| {
        (
            o.0,
            run,
            "duplicate_expiry".to_owned(),
            Some(kari.0),
            expiry_key.clone(),
            2,
            t(NOW),
        )
    };
    assert_eq!(logged[0].2, "duplicate_digest");
    assert_eq!(logged[1], expiry_row(Some(run.0)));
    assert_eq!(logged[2], expiry_row(None));
}
