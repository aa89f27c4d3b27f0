//! The store contract: what every backend must guarantee, as tests generic over [`Store`]. A backend
//! runs them with [`store_contract_tests!`](crate::store_contract_tests), giving a function that
//! returns a fresh, migrated, empty store (and a guard that keeps its database alive).
//!
//! Every check goes through the trait, so the same assertions hold for every backend. Enabled by the
//! `contract` feature (a dev-dependency of the backends).

use chrono::{DateTime, NaiveDate, Utc};
use domain::{
    ActionKind, CertificationPeriod, Email, FullName, MentorId, MentorStatus, OrgId, OrgSlug,
    OrgTimeZone, Reason, Role, Transition,
};
use futures::future::join_all;
use uuid::Uuid;

use crate::{
    Actor, ChangeOutcome, Conflict, Constraint, IdempotencyBegin, MentorChange, NewAlert,
    NewCertification, NewMentor, NewNotification, NewOrg, NewRun, NewUser, Org, Recipient,
    ReminderClaim, ReminderOutcome, RunId, RunTrigger, Severity, Store, StoreError, StoredResponse,
    SyncClaim, SyncOutcome, SyncPriority, SyncResult, SyncSelection, User,
};

/// Generate one `#[tokio::test]` per contract check, each on a store from `$fresh`: an async
/// function returning `(store, guard)`; the guard is dropped when the test ends.
#[macro_export]
macro_rules! store_contract_tests {
    ($fresh:path) => {
        $crate::store_contract_tests!(@each $fresh;
            organisations_and_users_round_trip_and_slugs_are_unique,
            registering_mentors_is_all_or_nothing,
            a_mentor_of_another_organisation_is_not_found,
            a_change_is_a_compare_and_set_with_history_outbox_and_notifications,
            concurrent_changes_to_one_mentor_apply_once,
            a_system_change_is_recorded_once_by_its_idempotency_key,
            reminder_claims_are_unique,
            a_scheduled_run_is_claimed_once,
            an_alert_is_open_once_per_dedupe_key,
            idempotency_keys_replay_and_refuse_mismatches,
            sync_leases_give_each_mentor_to_one_relay,
            force_sync_queues_once_per_priority
        );
    };
    (@each $fresh:path; $($check:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $check() {
                let (store, _guard) = $fresh().await;
                $crate::contract::$check(store).await;
            }
        )+
    };
}

const NOW: &str = "2026-05-01T08:00:00Z";

fn t(s: &str) -> DateTime<Utc> {
    s.parse().expect("an RFC 3339 instant")
}

fn date(s: &str) -> NaiveDate {
    s.parse().expect("a YYYY-MM-DD date")
}

async fn org<S: Store>(store: &S, slug: &str) -> Org {
    store
        .create_org(NewOrg {
            slug: OrgSlug::parse(slug).unwrap(),
            name: slug.to_uppercase(),
            timezone: OrgTimeZone::default(),
        })
        .await
        .expect("create the organisation")
}

async fn user<S: Store>(store: &S, org: OrgId, email: &str, role: Role) -> User {
    store
        .create_user(NewUser {
            org_id: org,
            email: Email::parse(email).unwrap(),
            role,
            mentor_id: None,
            auth_subject: Some(format!("subject-{email}")),
            password_hash: None,
        })
        .await
        .expect("create the user")
}

fn new_mentor(name: &str, email: &str, contact: Option<Uuid>) -> NewMentor {
    NewMentor {
        id: MentorId::new(),
        full_name: FullName::parse(name).unwrap(),
        email: Email::parse(email).unwrap(),
        phone: None,
        listed_publicly: true,
        dynamics_contact_id: contact,
        dynamics_key: None,
        status: MentorStatus::Active,
        certification: Some(NewCertification::new(
            CertificationPeriod::new(date("2026-01-01"), date("2027-12-31")).unwrap(),
        )),
    }
}

async fn mentor<S: Store>(store: &S, org: OrgId, email: &str) -> MentorId {
    store
        .create_mentors(
            org,
            Actor::System,
            vec![new_mentor("Kari Nordmann", email, Some(Uuid::new_v4()))],
            t(NOW),
        )
        .await
        .expect("register the mentor")[0]
}

fn pause(org: OrgId, mentor: MentorId, version: i64) -> MentorChange {
    MentorChange {
        org,
        mentor,
        expected_status: MentorStatus::Active,
        expected_version: version,
        certification: None,
        transition: Some(Transition {
            action: ActionKind::Pause,
            from: MentorStatus::Active,
            to: MentorStatus::Paused,
            reason: Some(Reason::parse("ferie").unwrap()),
            resume_on: None,
        }),
        actor: Actor::System,
        idempotency_key: None,
        history_note: None,
        notifications: vec![NewNotification {
            recipient: Recipient::OrgCoordinators,
            kind: "status_changed".to_owned(),
            payload: serde_json::json!({"to": "paused"}),
        }],
        run: None,
        bound_expires_on: None,
        at: t("2026-05-02T09:00:00Z"),
    }
}

pub async fn organisations_and_users_round_trip_and_slugs_are_unique<S: Store>(store: S) {
    let hlf = org(&store, "hlf").await;
    assert_eq!(store.org(hlf.id).await.unwrap().slug.as_str(), "hlf");
    let found = store
        .org_by_slug(&OrgSlug::parse("hlf").unwrap())
        .await
        .unwrap();
    assert_eq!(found.map(|o| o.id), Some(hlf.id));
    let again = store
        .create_org(NewOrg {
            slug: OrgSlug::parse("hlf").unwrap(),
            name: "Again".into(),
            timezone: OrgTimeZone::default(),
        })
        .await;
    assert!(
        matches!(again, Err(StoreError::Conflict(Conflict::Constraint(_)))),
        "{again:?}"
    );
    let coordinator = user(&store, hlf.id, "k@hlf.no", Role::Coordinator).await;
    let by_subject = store
        .user_by_subject("subject-k@hlf.no")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_subject.id, coordinator.id);
    assert_eq!(by_subject.role, Role::Coordinator);
    assert!(store.user_by_subject("nobody").await.unwrap().is_none());
}

pub async fn registering_mentors_is_all_or_nothing<S: Store>(store: S) {
    let hlf = org(&store, "hlf").await;
    mentor(&store, hlf.id, "kari@hlf.no").await;
    let result = store
        .create_mentors(
            hlf.id,
            Actor::System,
            vec![
                new_mentor("Ola", "ola@hlf.no", None),
                new_mentor("Kari Igjen", "kari@hlf.no", None),
            ],
            t(NOW),
        )
        .await;
    assert!(
        matches!(
            result,
            Err(StoreError::Conflict(Conflict::Constraint(
                Constraint::MentorEmail
            )))
        ),
        "{result:?}"
    );
    let existing = store
        .existing_mentor_emails(
            hlf.id,
            vec![
                Email::parse("ola@hlf.no").unwrap(),
                Email::parse("kari@hlf.no").unwrap(),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        existing,
        vec![Email::parse("kari@hlf.no").unwrap()],
        "Ola was not half-written"
    );
}

pub async fn a_mentor_of_another_organisation_is_not_found<S: Store>(store: S) {
    let hlf = org(&store, "hlf").await;
    let other = org(&store, "other").await;
    let id = mentor(&store, hlf.id, "kari@hlf.no").await;
    let record = store.mentor(hlf.id, id).await.unwrap();
    assert_eq!(record.status, MentorStatus::Active);
    assert_eq!(record.version, 1);
    assert_eq!(
        record.certification.map(|c| c.expires_on),
        Some(date("2027-12-31"))
    );
    assert!(matches!(
        store.mentor(other.id, id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.mentor(hlf.id, MentorId::new()).await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn a_change_is_a_compare_and_set_with_history_outbox_and_notifications<S: Store>(
    store: S,
) {
    let hlf = org(&store, "hlf").await;
    let coordinator = user(&store, hlf.id, "k@hlf.no", Role::Coordinator).await;
    let id = mentor(&store, hlf.id, "kari@hlf.no").await;
    let outcomes = store
        .apply_changes(vec![pause(hlf.id, id, 1)])
        .await
        .unwrap();
    assert_eq!(outcomes, vec![ChangeOutcome::Applied]);
    let after = store.mentor(hlf.id, id).await.unwrap();
    assert_eq!((after.status, after.version), (MentorStatus::Paused, 2));
    // The same expectation again has lost: nothing more is written.
    let stale = store
        .apply_changes(vec![pause(hlf.id, id, 1)])
        .await
        .unwrap();
    assert_eq!(stale, vec![ChangeOutcome::LostRace]);
    let history = store.history(hlf.id, id, 10, None).await.unwrap();
    assert_eq!(history.items.len(), 2, "registration and one pause");
    assert_eq!(history.items[0].to_status, MentorStatus::Paused);
    let notes = store
        .notifications(&coordinator, false, 10, None)
        .await
        .unwrap();
    assert_eq!(notes.items.len(), 1);
    assert_eq!(notes.items[0].kind, "status_changed");
    // One outbox row per version: the registration's and the pause's.
    let claimed = store
        .claim_sync(SyncClaim {
            org: hlf.id,
            owner: Uuid::new_v4(),
            limit: 10,
            lease: std::time::Duration::from_secs(60),
        })
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1, "both rows coalesce into one mentor");
    assert_eq!(claimed[0].version, 2, "the current version is pushed");
}

pub async fn concurrent_changes_to_one_mentor_apply_once<S: Store>(store: S) {
    let hlf = org(&store, "hlf").await;
    let id = mentor(&store, hlf.id, "kari@hlf.no").await;
    let outcomes = join_all((0..10).map(|_| {
        let store = store.clone();
        async move { store.apply_changes(vec![pause(hlf.id, id, 1)]).await }
    }))
    .await;
    let applied = outcomes
        .into_iter()
        .map(|o| o.expect("no error, only outcomes"))
        .filter(|o| o == &vec![ChangeOutcome::Applied])
        .count();
    assert_eq!(applied, 1);
    assert_eq!(
        store
            .history(hlf.id, id, 10, None)
            .await
            .unwrap()
            .items
            .len(),
        2
    );
}

pub async fn a_system_change_is_recorded_once_by_its_idempotency_key<S: Store>(store: S) {
    let hlf = org(&store, "hlf").await;
    let id = mentor(&store, hlf.id, "kari@hlf.no").await;
    let keyed = |version| MentorChange {
        idempotency_key: Some(format!("paused:{id}")),
        ..pause(hlf.id, id, version)
    };
    assert_eq!(
        store.apply_changes(vec![keyed(1)]).await.unwrap(),
        vec![ChangeOutcome::Applied]
    );
    // Even with the current version, the key says it happened already.
    let again = store.apply_changes(vec![keyed(2)]).await.unwrap();
    assert_eq!(again, vec![ChangeOutcome::AlreadyRecorded]);
    assert_eq!(store.mentor(hlf.id, id).await.unwrap().version, 2);
}

pub async fn reminder_claims_are_unique<S: Store>(store: S) {
    let hlf = org(&store, "hlf").await;
    let id = mentor(&store, hlf.id, "kari@hlf.no").await;
    let claim = |outcome| ReminderClaim {
        mentor: id,
        threshold_days: 30,
        expires_on: date("2027-12-31"),
        outcome,
        notification: None,
    };
    let first = store
        .claim_reminders(
            hlf.id,
            RunId::new(),
            date("2027-12-01"),
            vec![claim(ReminderOutcome::Sent)],
            t(NOW),
        )
        .await
        .unwrap();
    assert_eq!((first.sent, first.skipped), (1, 0));
    let second = store
        .claim_reminders(
            hlf.id,
            RunId::new(),
            date("2027-12-02"),
            vec![claim(ReminderOutcome::Skipped)],
            t(NOW),
        )
        .await
        .unwrap();
    assert_eq!((second.sent, second.skipped), (0, 0), "claimed before");
    let ledger = store.reminders(hlf.id, id).await.unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].outcome, ReminderOutcome::Sent);
}

pub async fn a_scheduled_run_is_claimed_once<S: Store>(store: S) {
    let hlf = org(&store, "hlf").await;
    let run = |instance: &str| NewRun {
        id: RunId::new(),
        job: "expiry".to_owned(),
        org: hlf.id,
        business_date: date("2026-05-01"),
        trigger: RunTrigger::Scheduled,
        instance: instance.to_owned(),
        lease_until: t("2026-05-01T08:10:00Z"),
        at: t(NOW),
    };
    let claims = join_all(["a", "b", "c"].map(|i| {
        let store = store.clone();
        let run = run(i);
        async move { store.claim_scheduled_run(run).await.unwrap() }
    }))
    .await;
    assert_eq!(claims.iter().filter(|won| **won).count(), 1, "{claims:?}");
}

pub async fn an_alert_is_open_once_per_dedupe_key<S: Store>(store: S) {
    let hlf = org(&store, "hlf").await;
    let alert = |at: &str| NewAlert {
        org: Some(hlf.id),
        kind: "sync_credentials".to_owned(),
        severity: Severity::Critical,
        dedupe_key: format!("sync_credentials:{}", hlf.id),
        summary: "refused".to_owned(),
        at: t(at),
    };
    let first = store.open_alert(alert(NOW)).await.unwrap();
    let second = store
        .open_alert(alert("2026-05-01T09:00:00Z"))
        .await
        .unwrap();
    assert!(first.newly_opened && !second.newly_opened);
    assert_eq!(second.alert.id, first.alert.id);
    assert_eq!(second.alert.count, 2);
    let resolved = store
        .resolve_alert(&first.alert.dedupe_key, t("2026-05-01T10:00:00Z"))
        .await
        .unwrap();
    assert_eq!(resolved.map(|a| a.id), Some(first.alert.id));
    assert!(
        store
            .resolve_alert(&first.alert.dedupe_key, t("2026-05-01T10:00:00Z"))
            .await
            .unwrap()
            .is_none()
    );
    let reopened = store
        .open_alert(alert("2026-05-02T08:00:00Z"))
        .await
        .unwrap();
    assert!(reopened.newly_opened);
    assert_ne!(reopened.alert.id, first.alert.id);
    let open = store.alerts(hlf.id, true, 10, None).await.unwrap();
    assert_eq!(open.items.len(), 1);
}

pub async fn idempotency_keys_replay_and_refuse_mismatches<S: Store>(store: S) {
    let hlf = org(&store, "hlf").await;
    let caller = user(&store, hlf.id, "k@hlf.no", Role::Coordinator).await;
    let stale = chrono::Duration::minutes(5);
    assert_eq!(
        store
            .idempotency_begin(caller.id, "key-1", "fingerprint-a", stale)
            .await
            .unwrap(),
        IdempotencyBegin::Started
    );
    assert_eq!(
        store
            .idempotency_begin(caller.id, "key-1", "fingerprint-a", stale)
            .await
            .unwrap(),
        IdempotencyBegin::InProgress
    );
    let response = StoredResponse {
        status: 200,
        content_type: "application/json".to_owned(),
        body: b"{}".to_vec(),
    };
    store
        .idempotency_complete(caller.id, "key-1", response.clone())
        .await
        .unwrap();
    assert_eq!(
        store
            .idempotency_begin(caller.id, "key-1", "fingerprint-a", stale)
            .await
            .unwrap(),
        IdempotencyBegin::Replay(response)
    );
    assert_eq!(
        store
            .idempotency_begin(caller.id, "key-1", "fingerprint-b", stale)
            .await
            .unwrap(),
        IdempotencyBegin::Mismatch
    );
}

pub async fn sync_leases_give_each_mentor_to_one_relay<S: Store>(store: S) {
    let hlf = org(&store, "hlf").await;
    for n in 0..6 {
        mentor(&store, hlf.id, &format!("m{n}@hlf.no")).await;
    }
    let claim = |owner| SyncClaim {
        org: hlf.id,
        owner,
        limit: 4,
        lease: std::time::Duration::from_secs(60),
    };
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let first = store.claim_sync(claim(a)).await.unwrap();
    let second = store.claim_sync(claim(b)).await.unwrap();
    assert_eq!((first.len(), second.len()), (4, 2));
    assert!(
        first
            .iter()
            .all(|m| second.iter().all(|n| n.mentor != m.mentor)),
        "no mentor leased twice"
    );
    assert!(store.claim_sync(claim(a)).await.unwrap().is_empty());
    let recorded = store
        .record_sync_results(
            hlf.id,
            a,
            first
                .iter()
                .map(|m| SyncResult {
                    mentor: m.mentor,
                    outcome: SyncOutcome::Pushed { version: m.version },
                })
                .collect(),
        )
        .await
        .unwrap();
    assert_eq!(recorded.confirmed_lag_ms.len(), 4);
    let pushed = store.mentor(hlf.id, first[0].mentor).await.unwrap();
    assert_eq!(pushed.sync.pushed_version, Some(pushed.version));
    assert!(pushed.sync.failure.is_none());
    let status = store
        .sync_status(hlf.id, std::time::Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!((status.pending, status.confirmed), (2, 4));
}

pub async fn force_sync_queues_once_per_priority<S: Store>(store: S) {
    let hlf = org(&store, "hlf").await;
    let id = mentor(&store, hlf.id, "kari@hlf.no").await;
    let force = || store.queue_sync(hlf.id, SyncSelection::Mentor(id), SyncPriority::High);
    assert_eq!(force().await.unwrap(), 1);
    assert_eq!(
        force().await.unwrap(),
        0,
        "one high-priority row waits already"
    );
    assert_eq!(
        store
            .queue_sync(hlf.id, SyncSelection::AllLinked, SyncPriority::Normal)
            .await
            .unwrap(),
        0,
        "rows at this priority or above are waiting"
    );
    assert_eq!(
        store
            .queue_sync(
                hlf.id,
                SyncSelection::Divergent(Vec::new()),
                SyncPriority::Normal
            )
            .await
            .unwrap(),
        0
    );
    let targets = store.sync_targets(hlf.id).await.unwrap();
    assert_eq!(targets.len(), 1);
    assert!(targets[0].pending);
}
