//! The PostgreSQL store against a real server: a fresh database per test, rows checked by reading them
//! back through the trait or with plain SQL on the pool.

use chrono::NaiveDate;
use domain::{
    ActionKind, CertificationPeriod, Email, FullName, MentorId, MentorStatus, NotificationId,
    OrgId, OrgSlug, OrgTimeZone, Phone, Reason, Role, Transition,
};
use mentor_status_store_postgres::PgStore;
use store::{
    Actor, Conflict, Constraint, IdempotencyBegin, MentorChange, MentorCursor, MentorFilter,
    MentorPatch, NewCertification, NewMentor, NewNotification, NewOrg, NewUser, Recipient, Store,
    StoreError, StoredResponse, User,
};
use testkit::TestDatabase;

mod common;

use common::{Db, assert_not_found, count, date, db, db_with_connections, org, t};

// --- fixtures ---

const NOW: &str = "2026-05-01T08:00:00Z";

async fn user(
    store: &PgStore,
    org: OrgId,
    email: &str,
    role: Role,
    mentor: Option<MentorId>,
) -> User {
    store
        .create_user(NewUser {
            org_id: org,
            email: Email::parse(email).unwrap(),
            role,
            mentor_id: mentor,
            auth_subject: None,
            password_hash: None,
        })
        .await
        .expect("create user")
}

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
        certification: None,
    }
}

fn certification(issued_on: &str, expires_on: &str) -> NewCertification {
    NewCertification::new(CertificationPeriod::new(date(issued_on), date(expires_on)).unwrap())
}

fn certified(mut mentor: NewMentor, issued_on: &str, expires_on: &str) -> NewMentor {
    mentor.certification = Some(certification(issued_on, expires_on));
    mentor
}

async fn one_mentor(store: &PgStore, org: OrgId, name: &str, email: &str) -> MentorId {
    let mentor = certified(new_mentor(name, email), "2025-01-01", "2026-12-31");
    store
        .create_mentors(org, Actor::System, vec![mentor], t(NOW))
        .await
        .expect("create mentor")[0]
}

/// A change that does nothing but bump the version; tests add what they need.
fn change(org: OrgId, mentor: MentorId, status: MentorStatus, version: i64) -> MentorChange {
    MentorChange {
        org,
        mentor,
        expected_status: status,
        expected_version: version,
        certification: None,
        transition: None,
        actor: Actor::System,
        idempotency_key: None,
        history_note: None,
        notifications: Vec::new(),
        run: None,
        bound_expires_on: None,
        at: t("2026-05-02T09:00:00Z"),
    }
}

fn pause(resume_on: Option<NaiveDate>) -> Transition {
    Transition {
        action: ActionKind::Pause,
        from: MentorStatus::Active,
        to: MentorStatus::Paused,
        reason: Some(Reason::parse("ferie").unwrap()),
        resume_on,
    }
}

fn expire() -> Transition {
    Transition {
        action: ActionKind::Expire,
        from: MentorStatus::Active,
        to: MentorStatus::CertificationExpired,
        reason: None,
        resume_on: None,
    }
}

fn notify(recipient: Recipient, kind: &str) -> NewNotification {
    NewNotification {
        recipient,
        kind: kind.to_owned(),
        payload: serde_json::json!({ "kind": kind }),
    }
}

/// Rows in `table` about one mentor.
async fn count_for(store: &PgStore, table: &str, mentor: MentorId) -> i64 {
    sqlx::query_scalar(&format!(
        "SELECT count(*) FROM {table} WHERE mentor_id = $1"
    ))
    .bind(mentor.0)
    .fetch_one(store.pool())
    .await
    .unwrap()
}

fn constraint(err: StoreError) -> Constraint {
    match err {
        StoreError::Conflict(Conflict::Constraint(c)) => c,
        other => panic!("expected a constraint conflict, got {other:?}"),
    }
}

// --- schema and connections ---

#[tokio::test]
async fn migrate_is_idempotent_and_schema_status_follows_it() {
    let db = TestDatabase::create().await;
    let store = PgStore::connect(db.url(), 2).await.unwrap();
    let before = store.schema_status().await.unwrap();
    assert!(before.known >= 1);
    assert_eq!(before.applied, 0, "an empty database has applied nothing");
    assert!(!before.is_current());

    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    let after = store.schema_status().await.unwrap();
    assert_eq!(after.known, before.known);
    assert!(after.is_current(), "{after:?}");
    store.ping().await.unwrap();
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

// --- organisations and users ---

#[tokio::test]
async fn organisations_are_found_by_id_and_slug_and_slugs_are_unique() {
    let Db { store, _db } = db().await;
    let oslo = org(&store, "hlf").await;
    assert_eq!(store.org(oslo.id).await.unwrap(), oslo);
    assert_eq!(
        store.org_by_slug(&oslo.slug).await.unwrap(),
        Some(oslo.clone())
    );
    assert_eq!(oslo.timezone.name(), "Europe/Oslo");
    assert_eq!(
        store
            .org_by_slug(&OrgSlug::parse("nope").unwrap())
            .await
            .unwrap(),
        None
    );
    assert_not_found(store.org(OrgId::new()).await.unwrap_err(), "organisation");

    let err = store
        .create_org(NewOrg {
            slug: OrgSlug::parse("hlf").unwrap(),
            name: "Another".into(),
            timezone: OrgTimeZone::parse("America/New_York").unwrap(),
        })
        .await
        .unwrap_err();
    assert_eq!(constraint(err), Constraint::OrgSlug);
    assert_eq!(count(&store, "organisations").await, 1);
}

#[tokio::test]
async fn users_default_their_subject_to_their_id_and_are_found_by_subject_and_email() {
    let Db { store, _db } = db().await;
    let hlf = org(&store, "hlf").await;
    let coordinator = user(&store, hlf.id, "Kari@Example.no", Role::Coordinator, None).await;
    assert_eq!(coordinator.auth_subject, coordinator.id.to_string());
    assert_eq!(coordinator.email.as_str(), "kari@example.no");
    assert_eq!(
        store
            .user_by_subject(&coordinator.auth_subject)
            .await
            .unwrap(),
        Some(coordinator.clone())
    );
    assert_eq!(
        store
            .user_by_email(&Email::parse("kari@example.no").unwrap())
            .await
            .unwrap(),
        Some(coordinator.clone())
    );
    assert_eq!(store.user_by_subject("unknown").await.unwrap(), None);

    let with_subject = store
        .create_user(NewUser {
            org_id: hlf.id,
            email: Email::parse("admin@example.no").unwrap(),
            role: Role::Admin,
            mentor_id: None,
            auth_subject: Some("oidc|42".into()),
            password_hash: Some("$argon2id$v=19$...".into()),
        })
        .await
        .unwrap();
    assert_eq!(
        store.user_by_subject("oidc|42").await.unwrap(),
        Some(with_subject)
    );

    let duplicate =
        |email: &str, subject: Option<&str>, mentor: Option<MentorId>, role: Role| NewUser {
            org_id: hlf.id,
            email: Email::parse(email).unwrap(),
            role,
            mentor_id: mentor,
            auth_subject: subject.map(str::to_owned),
            password_hash: None,
        };
    let err = store
        .create_user(duplicate("kari@example.no", None, None, Role::Admin))
        .await
        .unwrap_err();
    assert_eq!(constraint(err), Constraint::UserEmail);
    let err = store
        .create_user(duplicate(
            "ola@example.no",
            Some("oidc|42"),
            None,
            Role::Admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(constraint(err), Constraint::UserSubject);

    let mentor = one_mentor(&store, hlf.id, "Mona Mentor", "mona@example.no").await;
    let login = user(
        &store,
        hlf.id,
        "mona@example.no",
        Role::Mentor,
        Some(mentor),
    )
    .await;
    assert_eq!(login.mentor_id, Some(mentor));
    let err = store
        .create_user(duplicate(
            "mona2@example.no",
            None,
            Some(mentor),
            Role::Mentor,
        ))
        .await
        .unwrap_err();
    assert_eq!(constraint(err), Constraint::UserMentorLink);

    // A login for another organisation's mentor, or for no mentor at all, names a mentor that is not there.
    let other = org(&store, "other").await;
    let foreign = one_mentor(&store, other.id, "Per Other", "per@example.no").await;
    let err = store
        .create_user(duplicate(
            "per@example.no",
            None,
            Some(foreign),
            Role::Mentor,
        ))
        .await
        .unwrap_err();
    assert_not_found(err, "mentor");
    let err = store
        .create_user(duplicate(
            "ghost@example.no",
            None,
            Some(MentorId::new()),
            Role::Mentor,
        ))
        .await
        .unwrap_err();
    assert_not_found(err, "mentor");
    assert_eq!(count(&store, "users").await, 3);
}

// --- registering mentors ---

#[tokio::test]
async fn create_mentors_writes_mentor_certification_history_and_outbox_in_input_order() {
    let Db { store, _db } = db().await;
    let hlf = org(&store, "hlf").await;
    let coordinator = user(&store, hlf.id, "coord@example.no", Role::Coordinator, None).await;
    let mut lapsed = certified(
        new_mentor("Bjørn Berg", "bjorn@example.no"),
        "2024-01-01",
        "2025-01-01",
    );
    lapsed.status = MentorStatus::CertificationExpired;
    lapsed.phone = Some(Phone::parse("+47 22 33 44 55").unwrap());
    lapsed.dynamics_key = Some("M-1001".into());
    let batch = vec![
        certified(
            new_mentor("Åse Aas", "ase@example.no"),
            "2025-06-01",
            "2027-05-31",
        ),
        lapsed,
        new_mentor("Cato Carlsen", "cato@example.no"),
    ];
    let wanted: Vec<MentorId> = batch.iter().map(|m| m.id).collect();
    let ids = store
        .create_mentors(hlf.id, Actor::User(coordinator.id), batch, t(NOW))
        .await
        .unwrap();
    assert_eq!(ids, wanted);

    let bjorn = store.mentor(hlf.id, ids[1]).await.unwrap();
    assert_eq!(bjorn.org_slug, "hlf");
    assert_eq!(bjorn.status, MentorStatus::CertificationExpired);
    assert_eq!(bjorn.status_changed_at, t(NOW));
    assert_eq!((bjorn.created_at, bjorn.updated_at), (t(NOW), t(NOW)));
    assert_eq!(bjorn.version, 1);
    assert_eq!(bjorn.phone.as_deref(), Some("+47 22 33 44 55"));
    assert_eq!(bjorn.dynamics_key.as_deref(), Some("M-1001"));
    assert_eq!(
        bjorn.certification.as_ref().unwrap().expires_on,
        date("2025-01-01")
    );
    assert_eq!(bjorn.certification.as_ref().unwrap().kind, "likeperson");
    assert_eq!(bjorn.sync, store::SyncRecord::default());
    assert_eq!(
        store.mentor(hlf.id, ids[2]).await.unwrap().certification,
        None
    );

    assert_eq!(count(&store, "certifications").await, 2);
    let history = store.history(hlf.id, ids[1], 10, None).await.unwrap();
    assert_eq!(history.items.len(), 1);
    let registered = &history.items[0];
    assert_eq!(registered.from_status, None);
    assert_eq!(registered.to_status, MentorStatus::CertificationExpired);
    assert_eq!(registered.reason.as_deref(), Some("registered"));
    assert_eq!(registered.actor, Actor::User(coordinator.id));
    assert_eq!(registered.actor_email.as_deref(), Some("coord@example.no"));
    let outbox: Vec<(uuid::Uuid, i64, String)> =
        sqlx::query_as("SELECT mentor_id, mentor_version, state FROM sync_outbox ORDER BY id")
            .fetch_all(store.pool())
            .await
            .unwrap();
    let expected: Vec<_> = ids
        .iter()
        .map(|id| (id.0, 1, "pending".to_owned()))
        .collect();
    assert_eq!(outbox, expected);

    let emails = ["ase@example.no", "nobody@example.no", "cato@example.no"]
        .map(|e| Email::parse(e).unwrap())
        .to_vec();
    let existing = store
        .existing_mentor_emails(hlf.id, emails.clone())
        .await
        .unwrap();
    assert_eq!(existing, vec![emails[0].clone(), emails[2].clone()]);
    let other = org(&store, "other").await;
    assert!(
        store
            .existing_mentor_emails(other.id, emails)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn create_mentors_is_all_or_nothing() {
    let Db { store, _db } = db().await;
    let hlf = org(&store, "hlf").await;
    let batch = vec![
        certified(
            new_mentor("Anna", "anna@example.no"),
            "2025-01-01",
            "2026-12-31",
        ),
        certified(
            new_mentor("Berit", "berit@example.no"),
            "2025-01-01",
            "2026-12-31",
        ),
        certified(
            new_mentor("Anna Again", "anna@example.no"),
            "2025-01-01",
            "2026-12-31",
        ),
    ];
    let err = store
        .create_mentors(hlf.id, Actor::System, batch, t(NOW))
        .await
        .unwrap_err();
    assert_eq!(constraint(err), Constraint::MentorEmail);
    for table in ["mentors", "certifications", "status_history", "sync_outbox"] {
        assert_eq!(count(&store, table).await, 0, "{table} should be empty");
    }

    let mut first = new_mentor("Cecilie", "cecilie@example.no");
    first.dynamics_key = Some("K-1".into());
    let contact = uuid::Uuid::new_v4();
    let mut linked = new_mentor("Dag", "dag@example.no");
    linked.dynamics_contact_id = Some(contact);
    store
        .create_mentors(hlf.id, Actor::System, vec![first, linked], t(NOW))
        .await
        .unwrap();
    let mut same_key = new_mentor("Eva", "eva@example.no");
    same_key.dynamics_key = Some("K-1".into());
    let err = store
        .create_mentors(hlf.id, Actor::System, vec![same_key], t(NOW))
        .await
        .unwrap_err();
    assert_eq!(constraint(err), Constraint::MentorDynamicsKey);
    let mut same_contact = new_mentor("Frode", "frode@example.no");
    same_contact.dynamics_contact_id = Some(contact);
    let err = store
        .create_mentors(hlf.id, Actor::System, vec![same_contact], t(NOW))
        .await
        .unwrap_err();
    assert_eq!(constraint(err), Constraint::MentorDynamicsContactId);

    let err = store
        .create_mentors(
            OrgId::new(),
            Actor::System,
            vec![new_mentor("Gro", "gro@example.no")],
            t(NOW),
        )
        .await
        .unwrap_err();
    assert_not_found(err, "organisation");
    assert_eq!(count(&store, "mentors").await, 2);
    assert!(
        store
            .create_mentors(hlf.id, Actor::System, Vec::new(), t(NOW))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn an_import_of_thousands_of_mentors_is_one_quick_transaction() {
    let Db { store, _db } = db().await;
    let hlf = org(&store, "hlf").await;
    let batch: Vec<NewMentor> = (0..5000)
        .map(|i| {
            certified(
                new_mentor(&format!("Mentor {i:05}"), &format!("m{i}@example.no")),
                "2025-01-01",
                "2026-12-31",
            )
        })
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

// --- reading mentors ---

#[tokio::test]
async fn a_mentor_of_another_organisation_is_not_found() {
    let Db { store, _db } = db().await;
    let hlf = org(&store, "hlf").await;
    let other = org(&store, "other").await;
    let mentor = one_mentor(&store, hlf.id, "Kari", "kari@example.no").await;
    assert_eq!(store.mentor(hlf.id, mentor).await.unwrap().id, mentor);
    assert_not_found(store.mentor(other.id, mentor).await.unwrap_err(), "mentor");
    assert_not_found(
        store.mentor(hlf.id, MentorId::new()).await.unwrap_err(),
        "mentor",
    );
    assert_not_found(
        store.history(other.id, mentor, 10, None).await.unwrap_err(),
        "mentor",
    );
}

#[tokio::test]
async fn the_current_certification_is_the_one_that_expires_last() {
    let Db { store, _db } = db().await;
    let hlf = org(&store, "hlf").await;
    let mentor = one_mentor(&store, hlf.id, "Kari", "kari@example.no").await; // expires 2026-12-31

    // An older period registered later does not replace the current one, but it still bumps the version.
    let mut backfill = change(hlf.id, mentor, MentorStatus::Active, 1);
    backfill.certification = Some(certification("2023-01-01", "2024-12-31"));
    store.apply_change(backfill).await.unwrap();
    let record = store.mentor(hlf.id, mentor).await.unwrap();
    assert_eq!(record.certification.unwrap().expires_on, date("2026-12-31"));
    assert_eq!(record.version, 2);
    assert_eq!(
        count_for(&store, "sync_outbox", mentor).await,
        2,
        "every new version is queued, so the pushed version can catch up"
    );

    let mut renewal = change(hlf.id, mentor, MentorStatus::Active, 2);
    renewal.certification = Some(certification("2026-04-01", "2028-03-31"));
    store.apply_change(renewal).await.unwrap();
    let current = store
        .mentor(hlf.id, mentor)
        .await
        .unwrap()
        .certification
        .unwrap();
    assert_eq!(
        (current.issued_on, current.expires_on),
        (date("2026-04-01"), date("2028-03-31"))
    );
    assert_eq!(count_for(&store, "certifications", mentor).await, 3);
}

#[tokio::test]
async fn list_mentors_filters_by_status_expiry_window_and_text() {
    let Db { store, _db } = db().await;
    let hlf = org(&store, "hlf").await;
    let other = org(&store, "other").await;
    let mut paused = certified(
        new_mentor("Paula Pause", "paula@example.no"),
        "2025-01-01",
        "2026-05-15",
    );
    paused.status = MentorStatus::Paused;
    let batch = vec![
        certified(
            new_mentor("Ane Today", "ane@example.no"),
            "2025-01-01",
            "2026-05-01",
        ),
        certified(
            new_mentor("Bo Last Day", "bo@example.no"),
            "2025-01-01",
            "2026-05-31",
        ),
        certified(
            new_mentor("Cy Day After", "cy@example.no"),
            "2025-01-01",
            "2026-06-01",
        ),
        certified(
            new_mentor("Di Yesterday", "di@example.no"),
            "2025-01-01",
            "2026-04-30",
        ),
        new_mentor("Ed Uncertified", "ed@example.no"),
        certified(
            new_mentor("100% Hansen", "hansen@example.no"),
            "2025-01-01",
            "2027-01-01",
        ),
        certified(
            new_mentor("1000 Olsen", "kari_o@example.no"),
            "2025-01-01",
            "2027-01-01",
        ),
        paused,
    ];
    store
        .create_mentors(hlf.id, Actor::System, batch, t(NOW))
        .await
        .unwrap();
    store
        .create_mentors(
            other.id,
            Actor::System,
            vec![new_mentor("Ane Other Org", "ane@other.no")],
            t(NOW),
        )
        .await
        .unwrap();
    let today = date("2026-05-01");
    let names = |filter: MentorFilter| {
        let store = store.clone();
        async move {
            let page = store
                .list_mentors(hlf.id, filter, today, 100, None)
                .await
                .unwrap();
            assert_eq!(page.next, None);
            page.items
                .into_iter()
                .map(|m| m.full_name)
                .collect::<Vec<_>>()
        }
    };

    assert_eq!(
        names(MentorFilter::default()).await.len(),
        8,
        "only this organisation's mentors"
    );
    let by_status = MentorFilter {
        status: Some(MentorStatus::Paused),
        ..Default::default()
    };
    assert_eq!(names(by_status).await, ["Paula Pause"]);
    let expiring = MentorFilter {
        expiring_within_days: Some(30),
        ..Default::default()
    };
    assert_eq!(
        names(expiring).await,
        ["Ane Today", "Bo Last Day", "Paula Pause"]
    );
    let expiring_active = MentorFilter {
        status: Some(MentorStatus::Active),
        expiring_within_days: Some(30),
        ..Default::default()
    };
    assert_eq!(names(expiring_active).await, ["Ane Today", "Bo Last Day"]);
    let today_only = MentorFilter {
        expiring_within_days: Some(0),
        ..Default::default()
    };
    assert_eq!(names(today_only).await, ["Ane Today"]);

    let query = |q: &str| MentorFilter {
        query: Some(q.to_owned()),
        ..Default::default()
    };
    assert_eq!(
        names(query("100%")).await,
        ["100% Hansen"],
        "% matches itself"
    );
    assert_eq!(names(query("%")).await, ["100% Hansen"]);
    assert_eq!(
        names(query("i_o")).await,
        ["1000 Olsen"],
        "_ matches itself (in the email)"
    );
    assert_eq!(
        names(query("PAUSE")).await,
        ["Paula Pause"],
        "case-insensitive on the name"
    );
    assert_eq!(
        names(query("BO@EXAMPLE")).await,
        ["Bo Last Day"],
        "and on the email"
    );
    assert!(names(query("\\")).await.is_empty());
}

#[tokio::test]
async fn list_mentors_pages_by_name_then_id_without_gaps_or_repeats() {
    let Db { store, _db } = db().await;
    let hlf = org(&store, "hlf").await;
    // Pairs of equal names, so the id decides within a name and the cursor must carry both.
    let batch: Vec<NewMentor> = (0..25)
        .map(|i| new_mentor(&format!("Mentor {:02}", i / 2), &format!("m{i}@example.no")))
        .collect();
    let mut expected: Vec<(String, MentorId)> = batch
        .iter()
        .map(|m| (m.full_name.as_str().to_owned(), m.id))
        .collect();
    expected.sort();
    store
        .create_mentors(hlf.id, Actor::System, batch, t(NOW))
        .await
        .unwrap();

    let mut seen = Vec::new();
    let mut cursor: Option<MentorCursor> = None;
    let mut sizes = Vec::new();
    loop {
        let page = store
            .list_mentors(
                hlf.id,
                MentorFilter::default(),
                date("2026-05-01"),
                10,
                cursor,
            )
            .await
            .unwrap();
        sizes.push(page.items.len());
        seen.extend(page.items.iter().map(|m| (m.full_name.clone(), m.id)));
        if let Some(next) = &page.next {
            let last = page.items.last().unwrap();
            assert_eq!(
                next,
                &MentorCursor {
                    full_name: last.full_name.clone(),
                    id: last.id
                }
            );
        }
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(sizes, [10, 10, 5]);
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn update_mentor_changes_only_the_given_fields_and_queues_a_sync() {
    let Db { store, _db } = db().await;
    let hlf = org(&store, "hlf").await;
    let other = org(&store, "other").await;
    let mut with_phone = new_mentor("Kari", "kari@example.no");
    with_phone.phone = Some(Phone::parse("12345678").unwrap());
    with_phone.dynamics_key = Some("K-1".into());
    let ids = store
        .create_mentors(
            hlf.id,
            Actor::System,
            vec![with_phone, new_mentor("Ola", "ola@example.no")],
            t(NOW),
        )
        .await
        .unwrap();
    let at = t("2026-05-03T10:00:00Z");
    let patch = MentorPatch {
        full_name: Some(FullName::parse("Kari Nordmann").unwrap()),
        phone: Some(None),
        listed_publicly: Some(false),
        ..Default::default()
    };
    store
        .update_mentor(hlf.id, ids[0], patch, at)
        .await
        .unwrap();
    let kari = store.mentor(hlf.id, ids[0]).await.unwrap();
    assert_eq!(kari.full_name, "Kari Nordmann");
    assert_eq!(kari.phone, None);
    assert!(!kari.listed_publicly);
    assert_eq!(kari.email, "kari@example.no", "untouched");
    assert_eq!(kari.dynamics_key.as_deref(), Some("K-1"), "untouched");
    assert_eq!(
        (kari.version, kari.updated_at, kari.created_at),
        (2, at, t(NOW))
    );
    let versions: Vec<i64> = sqlx::query_scalar(
        "SELECT mentor_version FROM sync_outbox WHERE mentor_id = $1 ORDER BY id",
    )
    .bind(ids[0].0)
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(versions, [1, 2]);

    let taken = MentorPatch {
        email: Some(Email::parse("ola@example.no").unwrap()),
        ..Default::default()
    };
    assert_eq!(
        constraint(
            store
                .update_mentor(hlf.id, ids[0], taken, at)
                .await
                .unwrap_err()
        ),
        Constraint::MentorEmail
    );
    let both_links = MentorPatch {
        dynamics_contact_id: Some(Some(uuid::Uuid::new_v4())),
        ..Default::default()
    };
    assert_eq!(
        constraint(
            store
                .update_mentor(hlf.id, ids[0], both_links, at)
                .await
                .unwrap_err()
        ),
        Constraint::Other("mentors_one_dynamics_link".into())
    );
    let err = store
        .update_mentor(other.id, ids[0], MentorPatch::default(), at)
        .await
        .unwrap_err();
    assert_not_found(err, "mentor");
    assert_eq!(
        store.mentor(hlf.id, ids[0]).await.unwrap().version,
        2,
        "failed updates change nothing"
    );
    assert_eq!(count_for(&store, "sync_outbox", ids[0]).await, 2);
}

// --- the unit of work ---

#[tokio::test]
async fn apply_change_writes_history_outbox_and_notifications_to_every_coordinator() {
    let Db { store, _db } = db().await;
    let hlf = org(&store, "hlf").await;
    let other = org(&store, "other").await;
    let mentor = one_mentor(&store, hlf.id, "Kari", "kari@example.no").await;
    let login = user(
        &store,
        hlf.id,
        "kari@example.no",
        Role::Mentor,
        Some(mentor),
    )
    .await;
    let coord_a = user(&store, hlf.id, "a@example.no", Role::Coordinator, None).await;
    let coord_b = user(&store, hlf.id, "b@example.no", Role::Coordinator, None).await;
    let admin = user(&store, hlf.id, "admin@example.no", Role::Admin, None).await;
    let elsewhere = user(&store, other.id, "c@other.no", Role::Coordinator, None).await;

    let mut pause_change = change(hlf.id, mentor, MentorStatus::Active, 1);
    pause_change.transition = Some(pause(Some(date("2026-06-01"))));
    pause_change.actor = Actor::User(login.id);
    pause_change.notifications = vec![
        notify(Recipient::OrgCoordinators, "mentor_paused"),
        notify(Recipient::Mentor(mentor), "you_paused"),
    ];
    let at = pause_change.at;
    store.apply_change(pause_change).await.unwrap();

    let record = store.mentor(hlf.id, mentor).await.unwrap();
    assert_eq!(record.status, MentorStatus::Paused);
    assert_eq!(record.status_reason.as_deref(), Some("ferie"));
    assert_eq!(record.resume_on, Some(date("2026-06-01")));
    assert_eq!(
        (record.version, record.status_changed_at, record.updated_at),
        (2, at, at)
    );

    let history = store.history(hlf.id, mentor, 10, None).await.unwrap();
    assert_eq!(
        history.items.len(),
        2,
        "registration plus exactly one row for the change"
    );
    let row = &history.items[0];
    assert_eq!(
        (row.from_status, row.to_status),
        (Some(MentorStatus::Active), MentorStatus::Paused)
    );
    assert_eq!(row.reason.as_deref(), Some("ferie"));
    assert_eq!(row.actor, Actor::User(login.id));
    assert_eq!(row.actor_email.as_deref(), Some("kari@example.no"));
    assert_eq!(row.occurred_at, at);
    let versions: Vec<i64> = sqlx::query_scalar(
        "SELECT mentor_version FROM sync_outbox WHERE mentor_id = $1 ORDER BY id",
    )
    .bind(mentor.0)
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(versions, [1, 2]);

    assert_eq!(count(&store, "notifications").await, 3);
    for coordinator in [&coord_a, &coord_b] {
        let page = store
            .notifications(coordinator, false, 10, None)
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1);
        let n = &page.items[0];
        assert_eq!(
            (n.kind.as_str(), n.mentor_id, n.created_at),
            ("mentor_paused", Some(mentor), at)
        );
        assert_eq!(n.recipient_user_id, Some(coordinator.id));
        assert_eq!(n.payload, serde_json::json!({ "kind": "mentor_paused" }));
    }
    let own = store.notifications(&login, false, 10, None).await.unwrap();
    assert_eq!(own.items.len(), 1);
    assert_eq!(
        (own.items[0].kind.as_str(), own.items[0].recipient_mentor_id),
        ("you_paused", Some(mentor))
    );
    assert!(
        store
            .notifications(&admin, false, 10, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        store
            .notifications(&elsewhere, false, 10, None)
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

#[tokio::test]
async fn a_stale_expectation_loses_the_race_and_writes_nothing() {
    let Db { store, _db } = db().await;
    let hlf = org(&store, "hlf").await;
    let other = org(&store, "other").await;
    let mentor = one_mentor(&store, hlf.id, "Kari", "kari@example.no").await;
    let _coordinator = user(&store, hlf.id, "a@example.no", Role::Coordinator, None).await;
    store
        .apply_change(change(hlf.id, mentor, MentorStatus::Active, 1))
        .await
        .unwrap();

    let tables = [
        "certifications",
        "status_history",
        "sync_outbox",
        "notifications",
    ];
    let mut before = Vec::new();
    for table in tables {
        before.push(count(&store, table).await);
    }
    let full = |status: MentorStatus, version: i64, org: OrgId, mentor: MentorId| {
        let mut c = change(org, mentor, status, version);
        c.certification = Some(certification("2026-01-01", "2028-01-01"));
        c.transition = Some(pause(None));
        c.notifications = vec![notify(Recipient::OrgCoordinators, "mentor_paused")];
        c
    };
    let stale_version = store
        .apply_change(full(MentorStatus::Active, 1, hlf.id, mentor))
        .await
        .unwrap_err();
    assert!(stale_version.is_lost_race(), "{stale_version:?}");
    let wrong_status = store
        .apply_change(full(MentorStatus::Paused, 2, hlf.id, mentor))
        .await
        .unwrap_err();
    assert!(wrong_status.is_lost_race(), "{wrong_status:?}");
    assert_not_found(
        store
            .apply_change(full(MentorStatus::Active, 2, other.id, mentor))
            .await
            .unwrap_err(),
        "mentor",
    );
    assert_not_found(
        store
            .apply_change(full(MentorStatus::Active, 1, hlf.id, MentorId::new()))
            .await
            .unwrap_err(),
        "mentor",
    );

    for (table, was) in tables.iter().zip(before) {
        assert_eq!(count(&store, table).await, was, "{table} changed");
    }
    let record = store.mentor(hlf.id, mentor).await.unwrap();
    assert_eq!((record.status, record.version), (MentorStatus::Active, 2));
}

#[tokio::test]
async fn a_repeated_idempotency_key_rolls_back_the_whole_change() {
    let Db { store, _db } = db().await;
    let hlf = org(&store, "hlf").await;
    let mentor = one_mentor(&store, hlf.id, "Kari", "kari@example.no").await;
    let key = format!("expired:{mentor}:2026-04-30");

    let mut expiry = change(hlf.id, mentor, MentorStatus::Active, 1);
    expiry.transition = Some(expire());
    expiry.idempotency_key = Some(key.clone());
    expiry.history_note = Some("certification expired 2026-04-30".into());
    store.apply_change(expiry).await.unwrap();
    let newest = store
        .history(hlf.id, mentor, 1, None)
        .await
        .unwrap()
        .items
        .remove(0);
    assert_eq!(newest.idempotency_key.as_deref(), Some(key.as_str()));
    assert_eq!(
        newest.reason.as_deref(),
        Some("certification expired 2026-04-30"),
        "the note wins"
    );
    assert_eq!(newest.actor, Actor::System);
    assert_eq!(newest.actor_email, None);

    // Same key on a later change (a renewal that would move the mentor back): refused whole.
    let mut again = change(hlf.id, mentor, MentorStatus::CertificationExpired, 2);
    again.certification = Some(certification("2026-05-01", "2028-04-30"));
    again.transition = Some(Transition {
        action: ActionKind::RenewCertification,
        from: MentorStatus::CertificationExpired,
        to: MentorStatus::Active,
        reason: None,
        resume_on: None,
    });
    again.idempotency_key = Some(key);
    again.notifications = vec![notify(Recipient::Mentor(mentor), "renewed")];
    let err = store.apply_change(again).await.unwrap_err();
    assert_eq!(constraint(err), Constraint::HistoryIdempotencyKey);

    let record = store.mentor(hlf.id, mentor).await.unwrap();
    assert_eq!(
        (record.status, record.version),
        (MentorStatus::CertificationExpired, 2)
    );
    assert_eq!(record.certification.unwrap().expires_on, date("2026-12-31"));
    assert_eq!(
        count_for(&store, "certifications", mentor).await,
        1,
        "the renewal's certification is gone too"
    );
    assert_eq!(count_for(&store, "status_history", mentor).await, 2);
    assert_eq!(count_for(&store, "sync_outbox", mentor).await, 2);
    assert_eq!(count(&store, "notifications").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_changes_on_one_version_let_exactly_one_win() {
    let Db { store, _db } = db_with_connections(10).await;
    let hlf = org(&store, "hlf").await;
    let mentor = one_mentor(&store, hlf.id, "Kari", "kari@example.no").await;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(20));
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                let mut c = change(hlf.id, mentor, MentorStatus::Active, 1);
                c.transition = Some(pause(None));
                c.history_note = Some(format!("task {i}"));
                barrier.wait().await;
                store.apply_change(c).await
            })
        })
        .collect();
    let mut won = 0;
    let mut lost = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => won += 1,
            Err(e) if e.is_lost_race() => lost += 1,
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    assert_eq!((won, lost), (1, 19));
    assert_eq!(
        count_for(&store, "status_history", mentor).await,
        2,
        "registration plus one pause"
    );
    assert_eq!(count_for(&store, "sync_outbox", mentor).await, 2);
    let record = store.mentor(hlf.id, mentor).await.unwrap();
    assert_eq!((record.status, record.version), (MentorStatus::Paused, 2));
}

#[tokio::test]
async fn history_is_newest_first_and_pages_by_id() {
    let Db { store, _db } = db().await;
    let hlf = org(&store, "hlf").await;
    let mentor = one_mentor(&store, hlf.id, "Kari", "kari@example.no").await;
    let transitions = [
        pause(None),
        Transition {
            action: ActionKind::Resume,
            from: MentorStatus::Paused,
            to: MentorStatus::Active,
            reason: None,
            resume_on: None,
        },
        pause(Some(date("2026-07-01"))),
    ];
    for (i, transition) in transitions.into_iter().enumerate() {
        let version = i64::try_from(i).unwrap() + 1;
        let mut c = change(hlf.id, mentor, transition.from, version);
        c.transition = Some(transition);
        store.apply_change(c).await.unwrap();
    }
    let first = store.history(hlf.id, mentor, 3, None).await.unwrap();
    let to: Vec<_> = first.items.iter().map(|h| h.to_status).collect();
    assert_eq!(
        to,
        [
            MentorStatus::Paused,
            MentorStatus::Active,
            MentorStatus::Paused
        ]
    );
    assert_eq!(first.next, Some(first.items[2].id));
    let second = store.history(hlf.id, mentor, 3, first.next).await.unwrap();
    assert_eq!(second.items.len(), 1);
    assert_eq!(
        second.items[0].from_status, None,
        "the registration comes last"
    );
    assert_eq!(second.next, None);
}

// --- notifications ---

#[tokio::test]
async fn notifications_are_visible_to_their_recipient_only_and_read_once() {
    let Db { store, _db } = db().await;
    let hlf = org(&store, "hlf").await;
    let mentor = one_mentor(&store, hlf.id, "Kari", "kari@example.no").await;
    let login = user(
        &store,
        hlf.id,
        "kari@example.no",
        Role::Mentor,
        Some(mentor),
    )
    .await;
    let coord = user(&store, hlf.id, "a@example.no", Role::Coordinator, None).await;
    let admin = user(&store, hlf.id, "admin@example.no", Role::Admin, None).await;

    let mut c = change(hlf.id, mentor, MentorStatus::Active, 1);
    c.notifications = vec![
        notify(Recipient::User(coord.id), "first"),
        notify(Recipient::User(coord.id), "second"),
        notify(Recipient::User(coord.id), "third"),
        notify(Recipient::Mentor(mentor), "for_mentor"),
        notify(Recipient::User(admin.id), "for_admin"),
    ];
    store.apply_change(c).await.unwrap();

    let page1 = store.notifications(&coord, false, 2, None).await.unwrap();
    let kinds: Vec<_> = page1.items.iter().map(|n| n.kind.as_str()).collect();
    assert_eq!(kinds, ["third", "second"], "newest first");
    assert_eq!(page1.next, Some(page1.items[1].id));
    let page2 = store
        .notifications(&coord, false, 2, page1.next)
        .await
        .unwrap();
    assert_eq!(
        page2
            .items
            .iter()
            .map(|n| n.kind.as_str())
            .collect::<Vec<_>>(),
        ["first"]
    );
    assert_eq!(page2.next, None);

    let first = page2.items[0].id;
    let read_at = t("2026-05-05T12:00:00Z");
    let read = store
        .mark_notification_read(&coord, first, read_at)
        .await
        .unwrap();
    assert_eq!(read.read_at, Some(read_at));
    let again = store
        .mark_notification_read(&coord, first, t("2026-05-06T12:00:00Z"))
        .await
        .unwrap();
    assert_eq!(again.read_at, Some(read_at), "the first read time stays");
    let unread = store.notifications(&coord, true, 10, None).await.unwrap();
    assert_eq!(
        unread
            .items
            .iter()
            .map(|n| n.kind.as_str())
            .collect::<Vec<_>>(),
        ["third", "second"]
    );

    // Someone else's notification does not exist for you.
    assert_not_found(
        store
            .mark_notification_read(&admin, first, read_at)
            .await
            .unwrap_err(),
        "notification",
    );
    assert_not_found(
        store
            .mark_notification_read(&login, first, read_at)
            .await
            .unwrap_err(),
        "notification",
    );
    assert_not_found(
        store
            .mark_notification_read(&coord, NotificationId::new(), read_at)
            .await
            .unwrap_err(),
        "notification",
    );
    let mentor_view = store.notifications(&login, false, 10, None).await.unwrap();
    assert_eq!(
        mentor_view
            .items
            .iter()
            .map(|n| n.kind.as_str())
            .collect::<Vec<_>>(),
        ["for_mentor"]
    );
    let mentor_note = mentor_view.items[0].id;
    assert!(
        store
            .mark_notification_read(&login, mentor_note, read_at)
            .await
            .unwrap()
            .read_at
            .is_some()
    );
    assert_not_found(
        store
            .mark_notification_read(&coord, mentor_note, read_at)
            .await
            .unwrap_err(),
        "notification",
    );
    assert_eq!(
        store
            .notifications(&admin, false, 10, None)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}

// --- idempotency keys ---

#[tokio::test]
async fn idempotency_keys_start_replay_refuse_and_recover() {
    let Db { store, _db } = db().await;
    let hlf = org(&store, "hlf").await;
    let alice = user(&store, hlf.id, "alice@example.no", Role::Coordinator, None).await;
    let bob = user(&store, hlf.id, "bob@example.no", Role::Coordinator, None).await;
    let not_yet_stale = chrono::Duration::days(1);
    let begin = |user: &User, key: &'static str, fp: &'static str, stale_after| {
        let store = store.clone();
        let id = user.id;
        async move {
            store
                .idempotency_begin(id, key, fp, stale_after)
                .await
                .unwrap()
        }
    };

    assert_eq!(
        begin(&alice, "k1", "fp-a", not_yet_stale).await,
        IdempotencyBegin::Started
    );
    assert_eq!(
        begin(&alice, "k1", "fp-a", not_yet_stale).await,
        IdempotencyBegin::InProgress
    );
    assert_eq!(
        begin(&alice, "k1", "fp-other", not_yet_stale).await,
        IdempotencyBegin::Mismatch
    );
    assert_eq!(
        begin(&bob, "k1", "fp-b", not_yet_stale).await,
        IdempotencyBegin::Started,
        "keys are per user"
    );

    let response = StoredResponse {
        status: 201,
        content_type: "application/json".into(),
        body: br#"{"id":"x"}"#.to_vec(),
    };
    store
        .idempotency_complete(alice.id, "k1", response.clone())
        .await
        .unwrap();
    assert_eq!(
        begin(&alice, "k1", "fp-a", not_yet_stale).await,
        IdempotencyBegin::Replay(response.clone())
    );
    assert_eq!(
        begin(&alice, "k1", "fp-other", not_yet_stale).await,
        IdempotencyBegin::Mismatch
    );
    // A finished request is neither completed again nor forgotten.
    assert_not_found(
        store
            .idempotency_complete(alice.id, "k1", response.clone())
            .await
            .unwrap_err(),
        "idempotency key",
    );
    store.idempotency_abandon(alice.id, "k1").await.unwrap();
    assert_eq!(
        begin(&alice, "k1", "fp-a", not_yet_stale).await,
        IdempotencyBegin::Replay(response)
    );

    // A claim whose request died is taken over once it is older than `stale_after`, by one caller.
    let already_stale = chrono::Duration::seconds(-1);
    assert_eq!(
        begin(&alice, "k2", "fp-a", not_yet_stale).await,
        IdempotencyBegin::Started
    );
    assert_eq!(
        begin(&alice, "k2", "fp-a", already_stale).await,
        IdempotencyBegin::Started,
        "taken over"
    );
    assert_eq!(
        begin(&alice, "k2", "fp-a", not_yet_stale).await,
        IdempotencyBegin::InProgress,
        "fresh again"
    );

    // An abandoned claim frees the key.
    store.idempotency_abandon(alice.id, "k2").await.unwrap();
    assert_eq!(
        begin(&alice, "k2", "fp-new", not_yet_stale).await,
        IdempotencyBegin::Started
    );
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM idempotency_keys WHERE key = 'k2'")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(rows, 1);
}
