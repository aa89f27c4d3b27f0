//! The unit of work: compare-and-set changes (one or a batch) with their certification, history,
//! outbox row and notifications, and the history they leave.

use domain::{ActionKind, MentorId, MentorStatus, Role};
use futures::future::join_all;
use uuid::Uuid;

use super::{
    assert_not_found, certification, change, constraint, date, days, expire, kinds, login, mentor,
    notify, org, pause, pending, relay, renew, t, transition, user,
};
use crate::{Actor, ChangeOutcome, Constraint, MentorChange, MentorFacts, Recipient, RunId, Store};

pub async fn a_change_writes_history_outbox_and_notifications_to_every_coordinator<S: Store>(
    store: S,
) {
    let hlf = org(&store, "hlf").await;
    let other = org(&store, "other").await;
    let id = mentor(&store, hlf.id, "Kari", Some(date("2026-12-31"))).await;
    let kari = login(&store, hlf.id, "kari@example.no", id).await;
    let coord_a = user(&store, hlf.id, "a@example.no", Role::Coordinator).await;
    let coord_b = user(&store, hlf.id, "b@example.no", Role::Coordinator).await;
    let admin = user(&store, hlf.id, "admin@example.no", Role::Admin).await;
    let elsewhere = user(&store, other.id, "c@other.no", Role::Coordinator).await;

    let mut pause_change = change(hlf.id, id, MentorStatus::Active, 1);
    pause_change.transition = Some(pause(Some(date("2026-06-01"))));
    pause_change.actor = Actor::User(kari.id);
    pause_change.notifications = vec![
        notify(Recipient::OrgCoordinators, "mentor_paused"),
        notify(Recipient::Mentor(id), "you_paused"),
    ];
    let at = pause_change.at;
    assert_eq!(
        store.apply_changes(vec![pause_change]).await.unwrap(),
        vec![ChangeOutcome::Applied]
    );

    let record = store.mentor(hlf.id, id).await.unwrap();
    assert_eq!(record.status, MentorStatus::Paused);
    assert_eq!(record.status_reason.as_deref(), Some("ferie"));
    assert_eq!(record.resume_on, Some(date("2026-06-01")));
    assert_eq!(
        (record.version, record.status_changed_at, record.updated_at),
        (2, at, at)
    );

    let history = store.history(hlf.id, id, 10, None).await.unwrap();
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
    assert_eq!(row.actor, Actor::User(kari.id));
    assert_eq!(row.actor_email.as_deref(), Some("kari@example.no"));
    assert_eq!(row.idempotency_key, None);
    assert_eq!(row.occurred_at, at);

    // One outbox row per version; a claim coalesces them into the mentor's current state.
    assert_eq!(pending(&store, hlf.id).await, 2);
    let claimed = store
        .claim_sync(relay(hlf.id, Uuid::new_v4(), 10))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1, "both rows coalesce into one mentor");
    assert_eq!(
        (claimed[0].mentor, claimed[0].version, claimed[0].status),
        (id, 2, MentorStatus::Paused)
    );

    for coordinator in [&coord_a, &coord_b] {
        let page = store
            .notifications(coordinator, false, 10, None)
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1);
        let n = &page.items[0];
        assert_eq!(
            (n.kind.as_str(), n.mentor_id, n.created_at, n.read_at),
            ("mentor_paused", Some(id), at, None)
        );
        assert_eq!(n.org_id, hlf.id);
        assert_eq!(n.recipient_user_id, Some(coordinator.id));
        assert_eq!(n.recipient_mentor_id, None);
        assert_eq!(n.payload, serde_json::json!({ "kind": "mentor_paused" }));
    }
    let own = store.notifications(&kari, false, 10, None).await.unwrap();
    assert_eq!(own.items.len(), 1);
    assert_eq!(
        (
            own.items[0].kind.as_str(),
            own.items[0].recipient_mentor_id,
            own.items[0].recipient_user_id
        ),
        ("you_paused", Some(id), None)
    );
    assert!(
        kinds(&store, &admin).await.is_empty(),
        "admins are not coordinators"
    );
    assert!(
        kinds(&store, &elsewhere).await.is_empty(),
        "another organisation's coordinators see nothing"
    );

    // A change by the system has no acting user.
    let mut resume = change(hlf.id, id, MentorStatus::Paused, 2);
    resume.transition = Some(transition(
        ActionKind::Resume,
        MentorStatus::Paused,
        MentorStatus::Active,
    ));
    store.apply_change(resume).await.unwrap();
    let record = store.mentor(hlf.id, id).await.unwrap();
    assert_eq!(
        (
            record.status,
            record.status_reason,
            record.resume_on,
            record.version
        ),
        (MentorStatus::Active, None, None, 3),
        "the transition clears the reason and the return date"
    );
    let newest = store
        .history(hlf.id, id, 1, None)
        .await
        .unwrap()
        .items
        .remove(0);
    assert_eq!((newest.actor, newest.actor_email), (Actor::System, None));
    assert_eq!(newest.reason, None);
}

pub async fn a_stale_expectation_loses_the_race_and_writes_nothing<S: Store>(store: S) {
    let hlf = org(&store, "hlf").await;
    let other = org(&store, "other").await;
    let id = mentor(&store, hlf.id, "Kari", Some(date("2026-12-31"))).await;
    let kari = login(&store, hlf.id, "kari@example.no", id).await;
    let coordinator = user(&store, hlf.id, "a@example.no", Role::Coordinator).await;
    store
        .apply_change(change(hlf.id, id, MentorStatus::Active, 1))
        .await
        .unwrap();

    let full = |status: MentorStatus, version: i64, org, mentor| {
        let mut c = change(org, mentor, status, version);
        c.certification = Some(certification(date("2026-01-01"), date("2028-01-01")));
        c.transition = Some(pause(None));
        c.notifications = vec![
            notify(Recipient::OrgCoordinators, "mentor_paused"),
            notify(Recipient::Mentor(id), "you_paused"),
        ];
        c
    };
    let stale_version = store
        .apply_change(full(MentorStatus::Active, 1, hlf.id, id))
        .await
        .unwrap_err();
    assert!(stale_version.is_lost_race(), "{stale_version:?}");
    let wrong_status = store
        .apply_change(full(MentorStatus::Paused, 2, hlf.id, id))
        .await
        .unwrap_err();
    assert!(wrong_status.is_lost_race(), "{wrong_status:?}");
    assert_not_found(
        store
            .apply_change(full(MentorStatus::Active, 2, other.id, id))
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
    // The same, as outcomes of a batch.
    assert_eq!(
        store
            .apply_changes(vec![full(MentorStatus::Active, 1, hlf.id, id)])
            .await
            .unwrap(),
        vec![ChangeOutcome::LostRace]
    );
    assert_eq!(
        store
            .apply_changes(vec![full(MentorStatus::Active, 2, other.id, id)])
            .await
            .unwrap(),
        vec![ChangeOutcome::NotFound]
    );

    let record = store.mentor(hlf.id, id).await.unwrap();
    assert_eq!((record.status, record.version), (MentorStatus::Active, 2));
    assert_eq!(
        record.certification.unwrap().expires_on,
        date("2026-12-31"),
        "no certification written"
    );
    assert_eq!(
        store
            .history(hlf.id, id, 10, None)
            .await
            .unwrap()
            .items
            .len(),
        1,
        "no history written"
    );
    assert_eq!(pending(&store, hlf.id).await, 2, "no outbox row written");
    assert!(kinds(&store, &coordinator).await.is_empty());
    assert!(
        kinds(&store, &kari).await.is_empty(),
        "no notification written"
    );
}

pub async fn concurrent_changes_to_one_mentor_apply_once<S: Store>(store: S) {
    let hlf = org(&store, "hlf").await;
    let id = mentor(&store, hlf.id, "Kari", Some(date("2026-12-31"))).await;
    let results = join_all((0..20).map(|i| {
        let store = store.clone();
        let mut c = change(hlf.id, id, MentorStatus::Active, 1);
        c.transition = Some(pause(None));
        c.history_note = Some(format!("task {i}"));
        async move { store.apply_change(c).await }
    }))
    .await;
    let mut won = 0;
    let mut lost = 0;
    for result in results {
        match result {
            Ok(()) => won += 1,
            Err(e) if e.is_lost_race() => lost += 1,
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    assert_eq!((won, lost), (1, 19));
    let history = store.history(hlf.id, id, 10, None).await.unwrap();
    assert_eq!(history.items.len(), 2, "registration plus one pause");
    assert!(
        history.items[0]
            .reason
            .as_deref()
            .is_some_and(|r| r.starts_with("task ")),
        "the note wins over the transition's reason"
    );
    assert_eq!(pending(&store, hlf.id).await, 2);
    let record = store.mentor(hlf.id, id).await.unwrap();
    assert_eq!((record.status, record.version), (MentorStatus::Paused, 2));
}

pub async fn a_repeated_idempotency_key_is_already_recorded_and_writes_nothing<S: Store>(store: S) {
    let hlf = org(&store, "hlf").await;
    let id = mentor(&store, hlf.id, "Kari", Some(date("2026-04-30"))).await;
    let kari = login(&store, hlf.id, "kari@example.no", id).await;
    let key = format!("expired:{id}:2026-04-30");

    let mut expiry = change(hlf.id, id, MentorStatus::Active, 1);
    expiry.transition = Some(expire());
    expiry.idempotency_key = Some(key.clone());
    expiry.history_note = Some("certification expired 2026-04-30".into());
    store.apply_change(expiry.clone()).await.unwrap();
    let newest = store
        .history(hlf.id, id, 1, None)
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

    // The same change again, even with the current expectation: the key says it happened already.
    let again = MentorChange {
        expected_status: MentorStatus::CertificationExpired,
        expected_version: 2,
        ..expiry
    };
    assert_eq!(
        store.apply_changes(vec![again]).await.unwrap(),
        vec![ChangeOutcome::AlreadyRecorded]
    );

    // Same key on a later change (a renewal that would move the mentor back): refused whole.
    let mut renewal = change(hlf.id, id, MentorStatus::CertificationExpired, 2);
    renewal.certification = Some(certification(date("2026-05-01"), date("2028-04-30")));
    renewal.transition = Some(renew());
    renewal.idempotency_key = Some(key);
    renewal.notifications = vec![notify(Recipient::Mentor(id), "renewed")];
    let err = store.apply_change(renewal).await.unwrap_err();
    assert_eq!(constraint(err), Constraint::HistoryIdempotencyKey);

    let record = store.mentor(hlf.id, id).await.unwrap();
    assert_eq!(
        (record.status, record.version),
        (MentorStatus::CertificationExpired, 2)
    );
    assert_eq!(
        record.certification.unwrap().expires_on,
        date("2026-04-30"),
        "the renewal's certification is not written either"
    );
    assert_eq!(
        store
            .history(hlf.id, id, 10, None)
            .await
            .unwrap()
            .items
            .len(),
        2
    );
    assert_eq!(pending(&store, hlf.id).await, 2);
    assert!(kinds(&store, &kari).await.is_empty());
}

pub async fn a_certification_renewal_moves_an_expired_mentor_back_to_active<S: Store>(store: S) {
    let hlf = org(&store, "hlf").await;
    let coordinator = user(&store, hlf.id, "a@example.no", Role::Coordinator).await;
    let id = mentor(&store, hlf.id, "Kari", Some(days(-1))).await;
    let kari = login(&store, hlf.id, "kari@example.no", id).await;
    let mut expiry = change(hlf.id, id, MentorStatus::Active, 1);
    expiry.transition = Some(expire());
    expiry.idempotency_key = Some(format!("expired:{id}:{}", days(-1)));
    expiry.bound_expires_on = Some(days(-1));
    store.apply_change(expiry).await.unwrap();

    let mut renewal = change(hlf.id, id, MentorStatus::CertificationExpired, 2);
    renewal.certification = Some(certification(days(0), days(730)));
    renewal.transition = Some(renew());
    renewal.actor = Actor::User(coordinator.id);
    renewal.notifications = vec![notify(Recipient::Mentor(id), "certification_renewed")];
    store.apply_change(renewal).await.unwrap();

    let record = store.mentor(hlf.id, id).await.unwrap();
    assert_eq!((record.status, record.version), (MentorStatus::Active, 3));
    let current = record.certification.unwrap();
    assert_eq!(
        (current.issued_on, current.expires_on),
        (days(0), days(730))
    );
    let history = store.history(hlf.id, id, 10, None).await.unwrap();
    let steps: Vec<_> = history
        .items
        .iter()
        .map(|h| (h.from_status, h.to_status, h.actor))
        .collect();
    assert_eq!(
        steps,
        [
            (
                Some(MentorStatus::CertificationExpired),
                MentorStatus::Active,
                Actor::User(coordinator.id)
            ),
            (
                Some(MentorStatus::Active),
                MentorStatus::CertificationExpired,
                Actor::System
            ),
            (None, MentorStatus::Active, Actor::System),
        ]
    );
    assert_eq!(kinds(&store, &kari).await, ["certification_renewed"]);
    // The nightly run no longer sees a lapsed mentor.
    let worklist = store.expiry_worklist(hlf.id, days(0), 30, 3).await.unwrap();
    assert!(worklist.lapsed_active.is_empty());
    assert_eq!(
        store.mentor_facts(hlf.id, vec![id]).await.unwrap()[0].expires_on,
        Some(days(730))
    );
}

pub async fn a_batch_applies_each_change_on_its_own<S: Store>(store: S) {
    let o = org(&store, "hlf").await.id;
    let coord_a = user(&store, o, "a@example.no", Role::Coordinator).await;
    let coord_b = user(&store, o, "b@example.no", Role::Coordinator).await;
    let admin = user(&store, o, "admin@example.no", Role::Admin).await;
    let run = RunId::new();
    let winner = mentor(&store, o, "Winner", Some(days(-1))).await;
    let moved = mentor(&store, o, "Moved", Some(days(-1))).await;
    let recorded = mentor(&store, o, "Recorded", Some(days(-1))).await;
    let winner_login = login(&store, o, "winner@example.no", winner).await;
    let moved_login = login(&store, o, "moved@example.no", moved).await;
    let recorded_login = login(&store, o, "recorded@example.no", recorded).await;
    let facts = store
        .mentor_facts(o, vec![winner, moved, recorded])
        .await
        .unwrap();
    let fact = |id: MentorId| facts.iter().find(|f| f.id == id).unwrap().clone();
    let expiry = |facts: &MentorFacts, run: RunId| {
        let mut c = change(o, facts.id, facts.status, facts.version);
        c.transition = Some(expire());
        c.idempotency_key = Some(format!("expired:{}:{}", facts.id, days(-1)));
        c.run = Some(run);
        c.bound_expires_on = facts.expires_on;
        c.notifications = vec![notify(Recipient::Mentor(facts.id), "certification_expired")];
        c
    };

    // `moved` changed after the run read it; `recorded` was expired before with the same key.
    store
        .apply_change(change(o, moved, MentorStatus::Active, 1))
        .await
        .unwrap();
    store
        .apply_change(expiry(&fact(recorded), RunId::new()))
        .await
        .unwrap();
    let pending_before = pending(&store, o).await;

    let mut win = expiry(&fact(winner), run);
    win.notifications
        .push(notify(Recipient::OrgCoordinators, "mentor_expired"));
    // Its expectation is stale too; the recorded key is what decides.
    let recorded_again = expiry(&fact(recorded), run);
    let unknown = expiry(
        &MentorFacts {
            id: MentorId::new(),
            ..fact(winner)
        },
        run,
    );
    let outcomes = store
        .apply_changes(vec![
            win,
            expiry(&fact(moved), run),
            recorded_again,
            unknown,
        ])
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        [
            ChangeOutcome::Applied,
            ChangeOutcome::LostRace,
            ChangeOutcome::AlreadyRecorded,
            ChangeOutcome::NotFound,
        ]
    );

    assert_eq!(
        pending(&store, o).await,
        pending_before + 1,
        "one outbox row"
    );
    let newest = store
        .history(o, winner, 1, None)
        .await
        .unwrap()
        .items
        .remove(0);
    assert_eq!(
        (newest.from_status, newest.to_status, newest.actor),
        (
            Some(MentorStatus::Active),
            MentorStatus::CertificationExpired,
            Actor::System
        )
    );
    assert_eq!(
        newest.idempotency_key,
        Some(format!("expired:{winner}:{}", days(-1)))
    );
    let history_len = |id| {
        let store = store.clone();
        async move { store.history(o, id, 10, None).await.unwrap().items.len() }
    };
    assert_eq!(
        (
            history_len(winner).await,
            history_len(moved).await,
            history_len(recorded).await
        ),
        (2, 1, 2)
    );
    // The winner's own notification, and one per coordinator (not the admin).
    assert_eq!(
        kinds(&store, &winner_login).await,
        ["certification_expired"]
    );
    assert!(kinds(&store, &moved_login).await.is_empty());
    assert_eq!(
        kinds(&store, &recorded_login).await,
        ["certification_expired"],
        "only the first expiry's"
    );
    for coordinator in [&coord_a, &coord_b] {
        assert_eq!(kinds(&store, coordinator).await, ["mentor_expired"]);
    }
    assert!(kinds(&store, &admin).await.is_empty());

    let mut states = Vec::new();
    for id in [winner, moved, recorded] {
        let m = store.mentor(o, id).await.unwrap();
        states.push((m.status, m.version));
    }
    assert_eq!(
        states,
        [
            (MentorStatus::CertificationExpired, 2),
            (MentorStatus::Active, 2),
            (MentorStatus::CertificationExpired, 2),
        ]
    );

    // A batch names each mentor once.
    let twice = vec![
        change(o, winner, MentorStatus::CertificationExpired, 2),
        change(o, winner, MentorStatus::CertificationExpired, 2),
    ];
    assert!(store.apply_changes(twice).await.is_err());
    assert_eq!(store.mentor(o, winner).await.unwrap().version, 2);
    assert!(store.apply_changes(Vec::new()).await.unwrap().is_empty());
}

pub async fn history_is_newest_first_and_pages_by_id<S: Store>(store: S) {
    let hlf = org(&store, "hlf").await;
    let id = mentor(&store, hlf.id, "Kari", Some(date("2026-12-31"))).await;
    let transitions = [
        pause(None),
        transition(
            ActionKind::Resume,
            MentorStatus::Paused,
            MentorStatus::Active,
        ),
        pause(Some(date("2026-07-01"))),
    ];
    for (i, transition) in transitions.into_iter().enumerate() {
        let version = i64::try_from(i).unwrap() + 1;
        let mut c = change(hlf.id, id, transition.from, version);
        c.transition = Some(transition);
        c.at = t("2026-05-02T09:00:00Z") + chrono::Duration::hours(version);
        store.apply_change(c).await.unwrap();
    }
    let first = store.history(hlf.id, id, 3, None).await.unwrap();
    let to: Vec<_> = first.items.iter().map(|h| h.to_status).collect();
    assert_eq!(
        to,
        [
            MentorStatus::Paused,
            MentorStatus::Active,
            MentorStatus::Paused
        ]
    );
    assert!(
        first.items.windows(2).all(|w| w[0].id > w[1].id),
        "newest first by id"
    );
    assert_eq!(first.items[0].occurred_at, t("2026-05-02T12:00:00Z"));
    assert_eq!(first.next, Some(first.items[2].id));
    let second = store.history(hlf.id, id, 3, first.next).await.unwrap();
    assert_eq!(second.items.len(), 1);
    assert_eq!(
        second.items[0].from_status, None,
        "the registration comes last"
    );
    assert_eq!(second.next, None);
    let exact = store.history(hlf.id, id, 4, None).await.unwrap();
    assert_eq!((exact.items.len(), exact.next), (4, None));
}
