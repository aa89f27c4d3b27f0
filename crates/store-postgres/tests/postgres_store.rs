//! What only the PostgreSQL store can be asked, against a real server (a fresh database per test).
//! Everything the `Store` trait promises is checked by the contract suite (`tests/contract.rs`, from
//! crate `store`, feature `contract`); the tests here stay because they need this backend itself:
//!
//! - `an_unmigrated_database_has_applied_nothing`: the contract's stores come migrated; a database
//!   nobody migrated yet is only reachable through `PgStore::connect` on a bare database.
//! - `a_failed_connect_is_unavailable_and_never_shows_the_password`: connecting (a URL with a
//!   password, a database that is not there) is this backend's constructor, not a trait method.
//! - `an_import_of_thousands_of_mentors_is_one_quick_transaction`: a wall-clock budget for the batched
//!   statements (row-at-a-time inserts take tens of seconds here); the contract checks the import's
//!   result without timing it.
//! - `a_change_written_by_another_process_wakes_the_relays`: wake-ups come from `LISTEN`/`NOTIFY`,
//!   which reach relays in other processes (another pool here); the contract checks wake-ups within
//!   one store.

use domain::{CertificationPeriod, Email, FullName, MentorId, MentorStatus};
use mentor_status_store_postgres::PgStore;
use store::prelude::*;
use store::{Actor, NewCertification, NewMentor, StoreError, SyncPriority, SyncSelection};
use testkit::TestDatabase;

mod common;

use common::{Db, count, date, db, org, t};

const NOW: &str = "2026-05-01T08:00:00Z";

fn new_mentor(name: &str, email: &str) -> NewMentor {
    NewMentor {
        id: MentorId::new(),
        full_name: FullName::parse(name).unwrap(),
        email: Email::parse(email).unwrap(),
        phone: None,
        listed_publicly: true,
        dynamics_contact_id: None,
        dynamics_key: None,
        status: MentorStatus::Active,
        certification: Some(NewCertification::new(
            CertificationPeriod::new(date("2025-01-01"), date("2026-12-31")).unwrap(),
        )),
    }
}

#[tokio::test]
async fn an_unmigrated_database_has_applied_nothing() {
    let db = TestDatabase::create().await;
    let store = PgStore::connect(db.url(), 2).await.unwrap();
    store.ping().await.unwrap();
    let before = store.schema_status().await.unwrap();
    assert!(before.known >= 1);
    assert_eq!(before.applied, 0, "an empty database has applied nothing");
    assert!(!before.is_current());

    store.migrate().await.unwrap();
    let after = store.schema_status().await.unwrap();
    assert_eq!(after.known, before.known);
    assert!(after.is_current(), "{after:?}");
}

#[tokio::test]
async fn a_failed_connect_is_unavailable_and_never_shows_the_password() {
    // A missing database fails at once (a refused connection is retried until the acquire timeout).
    let err = PgStore::connect(
        "postgres://postgres:s3cret-pw@127.0.0.1:5432/no_such_database",
        1,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(!err.to_string().contains("s3cret-pw"), "{err}");
    assert!(!format!("{err:?}").contains("s3cret-pw"), "{err:?}");
}

#[tokio::test]
async fn an_import_of_thousands_of_mentors_is_one_quick_transaction() {
    let Db { store, _db } = db().await;
    let hlf = org(&store, "hlf").await;
    let batch: Vec<NewMentor> = (0..5000)
        .map(|i| new_mentor(&format!("Mentor {i:05}"), &format!("m{i}@example.no")))
        .collect();
    let started = std::time::Instant::now();
    let ids = store
        .create_mentors(hlf.id, Actor::System, batch, t(NOW))
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(ids.len(), 5000);
    for table in ["mentors", "certifications", "status_history", "sync_outbox"] {
        assert_eq!(count(&store, table).await, 5000, "{table}");
    }
    // Row-at-a-time inserts take tens of seconds here; the batched statements take well under that.
    assert!(
        took < std::time::Duration::from_secs(10),
        "import took {took:?}"
    );
}

#[tokio::test]
async fn a_change_written_by_another_process_wakes_the_relays() {
    const PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);
    let Db { store, _db } = db().await;
    let other_process = PgStore::connect(_db.url(), 2).await.unwrap();
    let mut wakeups = store.sync_wakeups().await.unwrap();
    // The listener's first wake-up says it listens (rows may have been queued before it did).
    tokio::time::timeout(PATIENCE, wakeups.changed())
        .await
        .expect("the listener starts")
        .unwrap();
    wakeups.borrow_and_update();

    let hlf = org(&other_process, "hlf").await;
    let id = other_process
        .create_mentors(
            hlf.id,
            Actor::System,
            vec![new_mentor("Kari", "kari@example.no")],
            t(NOW),
        )
        .await
        .unwrap()[0];
    tokio::time::timeout(PATIENCE, wakeups.changed())
        .await
        .expect("a NOTIFY from another pool wakes this store's relays")
        .unwrap();
    wakeups.borrow_and_update();
    other_process
        .queue_sync(hlf.id, SyncSelection::Mentor(id), SyncPriority::High)
        .await
        .unwrap();
    tokio::time::timeout(PATIENCE, wakeups.changed())
        .await
        .expect("and so does a force sync")
        .unwrap();
}
