//! Registering mentors, reading them one at a time or as a filtered, paged list, and changing their
//! details.

use domain::{Email, FullName, MentorId, MentorStatus, OrgId, Phone, Role};
use uuid::Uuid;

use super::{
    CHANGED_AT, NOW, assert_not_found, certification, certified, change, constraint, date, mentor,
    new_mentor, org, pending, register, relay, t, user,
};
use crate::{
    Actor, Constraint, MentorCursor, MentorFilter, MentorPatch, NewMentor, Store, SyncRecord,
};

pub async fn registering_mentors_writes_them_whole_in_input_order<S: Store>(store: S) {
    let hlf = org(&store, "hlf").await;
    let coordinator = user(&store, hlf.id, "coord@example.no", Role::Coordinator).await;
    let mut lapsed = certified(
        new_mentor("Bjørn Berg", "bjorn@example.no"),
        "2024-01-01",
        "2025-01-01",
    );
    lapsed.status = MentorStatus::CertificationExpired;
    lapsed.phone = Some(Phone::parse("+47 22 33 44 55").unwrap());
    lapsed.dynamics_key = Some("M-1001".into());
    lapsed.listed_publicly = false;
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
    assert_eq!((bjorn.id, bjorn.org_id), (ids[1], hlf.id));
    assert_eq!(bjorn.org_slug, "hlf");
    assert_eq!(bjorn.full_name, "Bjørn Berg");
    assert_eq!(bjorn.email, "bjorn@example.no");
    assert_eq!(bjorn.status, MentorStatus::CertificationExpired);
    assert_eq!(bjorn.status_reason, None);
    assert_eq!(bjorn.resume_on, None);
    assert_eq!(bjorn.status_changed_at, t(NOW));
    assert_eq!((bjorn.created_at, bjorn.updated_at), (t(NOW), t(NOW)));
    assert_eq!(bjorn.version, 1);
    assert_eq!(bjorn.phone.as_deref(), Some("+47 22 33 44 55"));
    assert!(!bjorn.listed_publicly);
    assert_eq!(bjorn.dynamics_key.as_deref(), Some("M-1001"));
    assert_eq!(bjorn.dynamics_contact_id, None);
    let current = bjorn.certification.as_ref().unwrap();
    assert_eq!(
        (current.issued_on, current.expires_on),
        (date("2024-01-01"), date("2025-01-01"))
    );
    assert_eq!(current.kind, "likeperson");
    assert_eq!(bjorn.sync, SyncRecord::default());
    assert_eq!(
        store.mentor(hlf.id, ids[2]).await.unwrap().certification,
        None
    );

    let history = store.history(hlf.id, ids[1], 10, None).await.unwrap();
    assert_eq!(history.items.len(), 1);
    assert_eq!(history.next, None);
    let registered = &history.items[0];
    assert_eq!(registered.mentor_id, ids[1]);
    assert_eq!(registered.from_status, None);
    assert_eq!(registered.to_status, MentorStatus::CertificationExpired);
    assert_eq!(registered.reason.as_deref(), Some("registered"));
    assert_eq!(registered.actor, Actor::User(coordinator.id));
    assert_eq!(registered.actor_email.as_deref(), Some("coord@example.no"));
    assert_eq!(registered.idempotency_key, None);
    assert_eq!(registered.occurred_at, t(NOW));

    // One outbox row each, at version 1.
    assert_eq!(pending(&store, hlf.id).await, 3);
    let claimed = store
        .claim_sync(relay(hlf.id, Uuid::new_v4(), 10))
        .await
        .unwrap();
    let mut claimed: Vec<(MentorId, i64)> = claimed.iter().map(|m| (m.mentor, m.version)).collect();
    claimed.sort();
    let mut expected: Vec<(MentorId, i64)> = ids.iter().map(|id| (*id, 1)).collect();
    expected.sort();
    assert_eq!(claimed, expected);

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
    assert!(
        store
            .existing_mentor_emails(hlf.id, Vec::new())
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn registering_mentors_is_all_or_nothing<S: Store>(store: S) {
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
    let first = batch[0].id;
    let err = store
        .create_mentors(hlf.id, Actor::System, batch, t(NOW))
        .await
        .unwrap_err();
    assert_eq!(constraint(err), Constraint::MentorEmail);
    let nothing = |store: S| async move {
        store
            .list_mentors(
                hlf.id,
                MentorFilter::default(),
                date("2026-05-01"),
                100,
                None,
            )
            .await
            .unwrap()
            .items
            .len()
    };
    assert_eq!(nothing(store.clone()).await, 0, "no mentor was written");
    assert_not_found(store.mentor(hlf.id, first).await.unwrap_err(), "mentor");
    assert!(
        store
            .existing_mentor_emails(
                hlf.id,
                vec![
                    Email::parse("anna@example.no").unwrap(),
                    Email::parse("berit@example.no").unwrap()
                ]
            )
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(pending(&store, hlf.id).await, 0, "no outbox row either");

    // A mentor already registered is refused too, and the batch with it.
    register(&store, hlf.id, vec![new_mentor("Kari", "kari@example.no")]).await;
    let err = store
        .create_mentors(
            hlf.id,
            Actor::System,
            vec![
                new_mentor("Ola", "ola@example.no"),
                new_mentor("Kari Igjen", "kari@example.no"),
            ],
            t(NOW),
        )
        .await
        .unwrap_err();
    assert_eq!(constraint(err), Constraint::MentorEmail);
    assert_eq!(
        store
            .existing_mentor_emails(
                hlf.id,
                vec![
                    Email::parse("ola@example.no").unwrap(),
                    Email::parse("kari@example.no").unwrap(),
                ],
            )
            .await
            .unwrap(),
        vec![Email::parse("kari@example.no").unwrap()],
        "Ola was not half-written"
    );

    let mut first = new_mentor("Cecilie", "cecilie@example.no");
    first.dynamics_key = Some("K-1".into());
    let contact = Uuid::new_v4();
    let mut linked = new_mentor("Dag", "dag@example.no");
    linked.dynamics_contact_id = Some(contact);
    register(&store, hlf.id, vec![first, linked]).await;
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

    // The same email, key or contact in another organisation is another mentor.
    let other = org(&store, "other").await;
    let mut elsewhere = new_mentor("Kari Elsewhere", "kari@example.no");
    elsewhere.dynamics_key = Some("K-1".into());
    register(&store, other.id, vec![elsewhere]).await;

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
    assert_eq!(nothing(store.clone()).await, 3);
    assert_eq!(pending(&store, hlf.id).await, 3);
    assert!(
        store
            .create_mentors(hlf.id, Actor::System, Vec::new(), t(NOW))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn an_import_of_thousands_of_mentors_is_written_whole<S: Store>(store: S) {
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
    let wanted: Vec<MentorId> = batch.iter().map(|m| m.id).collect();
    let emails: Vec<Email> = batch.iter().map(|m| m.email.clone()).collect();
    let ids = store
        .create_mentors(hlf.id, Actor::System, batch, t(NOW))
        .await
        .unwrap();
    assert_eq!(ids, wanted);
    let listed = store
        .list_mentors(
            hlf.id,
            MentorFilter::default(),
            date("2026-05-01"),
            5000,
            None,
        )
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 5000);
    assert_eq!(listed.next, None);
    assert!(
        listed
            .items
            .iter()
            .all(|m| m.version == 1 && m.certification.is_some())
    );
    assert_eq!(
        store
            .existing_mentor_emails(hlf.id, emails)
            .await
            .unwrap()
            .len(),
        5000
    );
    assert_eq!(pending(&store, hlf.id).await, 5000);
    let last = store.history(hlf.id, ids[4999], 10, None).await.unwrap();
    assert_eq!(last.items.len(), 1);
}

pub async fn a_mentor_of_another_organisation_is_not_found<S: Store>(store: S) {
    let hlf = org(&store, "hlf").await;
    let other = org(&store, "other").await;
    let id = mentor(&store, hlf.id, "Kari", Some(date("2027-12-31"))).await;
    let record = store.mentor(hlf.id, id).await.unwrap();
    assert_eq!(record.id, id);
    assert_eq!(record.status, MentorStatus::Active);
    assert_eq!(record.version, 1);
    assert_eq!(
        record.certification.map(|c| c.expires_on),
        Some(date("2027-12-31"))
    );
    assert_not_found(store.mentor(other.id, id).await.unwrap_err(), "mentor");
    assert_not_found(
        store.mentor(hlf.id, MentorId::new()).await.unwrap_err(),
        "mentor",
    );
    assert_not_found(
        store.history(other.id, id, 10, None).await.unwrap_err(),
        "mentor",
    );
    assert_not_found(
        store
            .history(hlf.id, MentorId::new(), 10, None)
            .await
            .unwrap_err(),
        "mentor",
    );
    assert!(
        store
            .list_mentors(
                other.id,
                MentorFilter::default(),
                date("2026-05-01"),
                10,
                None
            )
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

pub async fn the_current_certification_is_the_one_that_expires_last<S: Store>(store: S) {
    let hlf = org(&store, "hlf").await;
    let id = mentor(&store, hlf.id, "Kari", Some(date("2026-12-31"))).await;

    // An older period registered later does not replace the current one, but it still bumps the version.
    let mut backfill = change(hlf.id, id, MentorStatus::Active, 1);
    backfill.certification = Some(certification(date("2023-01-01"), date("2024-12-31")));
    store.apply_change(backfill).await.unwrap();
    let record = store.mentor(hlf.id, id).await.unwrap();
    assert_eq!(record.certification.unwrap().expires_on, date("2026-12-31"));
    assert_eq!(record.version, 2);
    assert_eq!(
        (record.updated_at, record.status_changed_at),
        (t(CHANGED_AT), t(NOW)),
        "no transition: the status did not change"
    );
    assert_eq!(
        store
            .history(hlf.id, id, 10, None)
            .await
            .unwrap()
            .items
            .len(),
        1,
        "no transition, no history row"
    );
    // Every new version is queued, so the pushed version can catch up.
    assert_eq!(pending(&store, hlf.id).await, 2);
    let claimed = store
        .claim_sync(relay(hlf.id, Uuid::new_v4(), 10))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].version, 2);

    let mut renewal = change(hlf.id, id, MentorStatus::Active, 2);
    renewal.certification = Some(certification(date("2026-04-01"), date("2028-03-31")));
    store.apply_change(renewal).await.unwrap();
    let current = store
        .mentor(hlf.id, id)
        .await
        .unwrap()
        .certification
        .unwrap();
    assert_eq!(
        (current.issued_on, current.expires_on),
        (date("2026-04-01"), date("2028-03-31"))
    );
    assert_eq!(current.kind, "likeperson");
}

pub async fn list_mentors_filters_by_status_expiry_window_and_text<S: Store>(store: S) {
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
    register(&store, hlf.id, batch).await;
    register(
        &store,
        other.id,
        vec![new_mentor("Ane Other Org", "ane@other.no")],
    )
    .await;
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
    let combined = MentorFilter {
        status: Some(MentorStatus::Active),
        expiring_within_days: Some(30),
        query: Some("bo".to_owned()),
    };
    assert_eq!(names(combined).await, ["Bo Last Day"]);
}

pub async fn list_mentors_pages_by_name_then_id_without_gaps_or_repeats<S: Store>(store: S) {
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
    // Registered in reverse, so neither insertion order nor id order is the list's order by chance.
    register(&store, hlf.id, batch.into_iter().rev().collect()).await;

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

    // A page that ends exactly at the last mentor says so.
    let exact = store
        .list_mentors(
            hlf.id,
            MentorFilter::default(),
            date("2026-05-01"),
            25,
            None,
        )
        .await
        .unwrap();
    assert_eq!((exact.items.len(), exact.next), (25, None));
}

pub async fn update_mentor_changes_only_the_given_fields_and_queues_a_sync<S: Store>(store: S) {
    let hlf = org(&store, "hlf").await;
    let other = org(&store, "other").await;
    let mut with_phone = new_mentor("Kari", "kari@example.no");
    with_phone.phone = Some(Phone::parse("12345678").unwrap());
    with_phone.dynamics_key = Some("K-1".into());
    let ids = register(
        &store,
        hlf.id,
        vec![with_phone, new_mentor("Ola", "ola@example.no")],
    )
    .await;
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
    assert_eq!(kari.status, MentorStatus::Active, "untouched");
    assert_eq!(
        (kari.version, kari.updated_at, kari.created_at),
        (2, at, t(NOW))
    );
    assert_eq!(
        store
            .history(hlf.id, ids[0], 10, None)
            .await
            .unwrap()
            .items
            .len(),
        1,
        "details are not status history"
    );
    // One more outbox row, for version 2.
    assert_eq!(pending(&store, hlf.id).await, 3);
    let claimed = store
        .claim_sync(relay(hlf.id, Uuid::new_v4(), 10))
        .await
        .unwrap();
    let kari_claimed = claimed.iter().find(|m| m.mentor == ids[0]).unwrap();
    assert_eq!(kari_claimed.version, 2);
    assert!(!kari_claimed.listed_publicly);

    let relinked = MentorPatch {
        email: Some(Email::parse("kari.n@example.no").unwrap()),
        phone: Some(Some(Phone::parse("87654321").unwrap())),
        dynamics_key: Some(None),
        dynamics_contact_id: Some(Some(Uuid::new_v4())),
        ..Default::default()
    };
    store
        .update_mentor(hlf.id, ids[0], relinked, at)
        .await
        .unwrap();
    let kari = store.mentor(hlf.id, ids[0]).await.unwrap();
    assert_eq!(kari.email, "kari.n@example.no");
    assert_eq!(kari.phone.as_deref(), Some("87654321"));
    assert_eq!(kari.dynamics_key, None);
    assert!(kari.dynamics_contact_id.is_some());
    assert_eq!(kari.version, 3);
    assert_eq!(pending(&store, hlf.id).await, 4);

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
    // A mentor is linked one way at most.
    let both_links = MentorPatch {
        dynamics_key: Some(Some("K-2".into())),
        ..Default::default()
    };
    assert!(
        matches!(
            constraint(
                store
                    .update_mentor(hlf.id, ids[0], both_links, at)
                    .await
                    .unwrap_err()
            ),
            Constraint::Other(_)
        ),
        "a check constraint, by the backend's name"
    );
    let err = store
        .update_mentor(other.id, ids[0], MentorPatch::default(), at)
        .await
        .unwrap_err();
    assert_not_found(err, "mentor");
    let err = store
        .update_mentor(hlf.id, MentorId::new(), MentorPatch::default(), at)
        .await
        .unwrap_err();
    assert_not_found(err, "mentor");
    let kari = store.mentor(hlf.id, ids[0]).await.unwrap();
    assert_eq!(
        (kari.version, kari.email.as_str()),
        (3, "kari.n@example.no"),
        "failed updates change nothing"
    );
    assert_eq!(pending(&store, hlf.id).await, 4, "and queue nothing");
}
