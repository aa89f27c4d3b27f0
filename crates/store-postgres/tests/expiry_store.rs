//! The nightly expiry run's store methods against a real server: the worklist, the reminder and notice
//! ledgers (also under real concurrency, on separate connections), scheduled claims and leases, the
//! run log and the coordinator digest, the compensation check and alerts, and batches of changes.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::{
    ActionKind, CertificationPeriod, Email, FullName, MentorId, MentorStatus, OrgId, Reason, Role,
    Transition, UserId,
};
use mentor_status_store_postgres::PgStore;
use store::{
    Actor, ChangeOutcome, ClaimCounts, MentorChange, MentorFacts, NewAlert, NewCertification,
    NewMentor, NewNotification, NewRun, NewUser, OrgSettings, Recipient, ReminderClaim,
    ReminderOutcome, ResumeNoticeClaim, RunCounts, RunFinish, RunId, RunOutcome, RunTrigger,
    Severity, Store, StoreError, User,
};
use testkit::TestDatabase;
use uuid::Uuid;

mod common;

use common::{Db, assert_not_found, count, date, db, db_with_connections, org, t};

// --- fixtures ---

const NOW: &str = "2026-05-01T04:00:00Z";
const TODAY: &str = "2026-05-01";

fn today() -> NaiveDate {
    date(TODAY)
}

fn days(n: i64) -> NaiveDate {
    today() + Duration::days(n)
}

async fn user(store: &PgStore, org: OrgId, email: &str, role: Role) -> User {
    store
        .create_user(NewUser {
            org_id: org,
            email: Email::parse(email).unwrap(),
            role,
            mentor_id: None,
            auth_subject: None,
            password_hash: None,
        })
        .await
        .expect("create user")
}

fn certification(issued_on: NaiveDate, expires_on: NaiveDate) -> NewCertification {
    NewCertification::new(CertificationPeriod::new(issued_on, expires_on).unwrap())
}

fn new_mentor(name: &str, expires_on: Option<NaiveDate>) -> NewMentor {
    let email = format!("{}@example.no", name.to_lowercase().replace(' ', "."));
    NewMentor {
        id: MentorId::new(),
        full_name: FullName::parse(name).unwrap(),
        email: Email::parse(&email).unwrap(),
        phone: None,
        listed_publicly: true,
        dynamics_contact_id: None,
        dynamics_key: None,
        status: MentorStatus::Active,
        certification: expires_on.map(|e| certification(date("2024-01-01"), e)),
    }
}

/// An `active` mentor (version 1) whose certification ends on `expires_on`.
async fn mentor(
    store: &PgStore,
    org: OrgId,
    name: &str,
    expires_on: Option<NaiveDate>,
) -> MentorId {
    store
        .create_mentors(
            org,
            Actor::System,
            vec![new_mentor(name, expires_on)],
            t(NOW),
        )
        .await
        .expect("create mentor")[0]
}

async fn mentor_with_status(
    store: &PgStore,
    org: OrgId,
    name: &str,
    expires_on: Option<NaiveDate>,
    status: MentorStatus,
) -> MentorId {
    let mut m = new_mentor(name, expires_on);
    m.status = status;
    store
        .create_mentors(org, Actor::System, vec![m], t(NOW))
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
        at: t(NOW),
    }
}

fn transition(action: ActionKind, from: MentorStatus, to: MentorStatus) -> Transition {
    Transition {
        action,
        from,
        to,
        reason: None,
        resume_on: None,
    }
}

/// A paused mentor (version 2) returning on `resume_on`.
async fn paused_mentor(
    store: &PgStore,
    org: OrgId,
    name: &str,
    expires_on: Option<NaiveDate>,
    resume_on: Option<NaiveDate>,
) -> MentorId {
    let id = mentor(store, org, name, expires_on).await;
    let mut c = change(org, id, MentorStatus::Active, 1);
    c.transition = Some(Transition {
        reason: Some(Reason::parse("ferie").unwrap()),
        resume_on,
        ..transition(
            ActionKind::Pause,
            MentorStatus::Active,
            MentorStatus::Paused,
        )
    });
    store.apply_change(c).await.expect("pause");
    id
}

/// The nightly run's expiry of `facts`, as the engine writes it.
fn expiry(org: OrgId, facts: &MentorFacts, run: RunId) -> MentorChange {
    let expires = facts
        .expires_on
        .map_or_else(|| "none".to_owned(), |d| d.to_string());
    let mut c = change(org, facts.id, facts.status, facts.version);
    c.transition = Some(transition(
        ActionKind::Expire,
        MentorStatus::Active,
        MentorStatus::CertificationExpired,
    ));
    c.idempotency_key = Some(format!("expired:{}:{expires}", facts.id));
    c.run = Some(run);
    c.bound_expires_on = facts.expires_on;
    c.notifications = vec![note(Recipient::Mentor(facts.id), "certification_expired")];
    c
}

fn note(recipient: Recipient, kind: &str) -> NewNotification {
    NewNotification {
        recipient,
        kind: kind.to_owned(),
        payload: serde_json::json!({ "kind": kind }),
    }
}

fn reminder(mentor: MentorId, threshold: u16, expires_on: NaiveDate, sent: bool) -> ReminderClaim {
    ReminderClaim {
        mentor,
        threshold_days: threshold,
        expires_on,
        outcome: if sent {
            ReminderOutcome::Sent
        } else {
            ReminderOutcome::Skipped
        },
        notification: Some(NewNotification {
            recipient: Recipient::Mentor(mentor),
            kind: "certification_reminder".to_owned(),
            payload: serde_json::json!({
                "threshold_days": threshold,
                "certification_expires_on": expires_on,
            }),
        }),
    }
}

fn notice(mentor: MentorId, resume_on: NaiveDate) -> ResumeNoticeClaim {
    ResumeNoticeClaim {
        mentor,
        resume_on,
        notification: NewNotification {
            recipient: Recipient::Mentor(mentor),
            kind: "resume_notice".to_owned(),
            payload: serde_json::json!({ "resume_on": resume_on }),
        },
    }
}

fn new_run(org: OrgId, business_date: NaiveDate, instance: &str, at: DateTime<Utc>) -> NewRun {
    NewRun {
        id: RunId::new(),
        job: "expiry".to_owned(),
        org,
        business_date,
        trigger: RunTrigger::Scheduled,
        instance: instance.to_owned(),
        lease_until: at + Duration::minutes(10),
        at,
    }
}

async fn manual_run(
    store: &PgStore,
    org: OrgId,
    business_date: NaiveDate,
    at: DateTime<Utc>,
) -> RunId {
    let mut run = new_run(org, business_date, "cli", at);
    run.trigger = RunTrigger::Manual;
    store.start_run(run.clone()).await.expect("start run");
    run.id
}

fn finish(
    run: RunId,
    outcome: RunOutcome,
    at: DateTime<Utc>,
    digest_for: Option<NaiveDate>,
) -> RunFinish {
    RunFinish {
        run,
        outcome,
        counts: RunCounts::default(),
        error: None,
        at,
        digest_for,
    }
}

/// Notifications of `kind`.
async fn notifications_of_kind(store: &PgStore, kind: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM notifications WHERE kind = $1")
        .bind(kind)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

/// Digest payloads by coordinator.
async fn digests(store: &PgStore) -> Vec<(Uuid, serde_json::Value)> {
    sqlx::query_as(
        "SELECT recipient_user_id, payload FROM notifications WHERE kind = 'coordinator_digest' \
         ORDER BY payload ->> 'business_date', recipient_user_id",
    )
    .fetch_all(store.pool())
    .await
    .unwrap()
}

fn ids(facts: &[MentorFacts]) -> Vec<MentorId> {
    facts.iter().map(|f| f.id).collect()
}

fn sorted(mut ids: Vec<MentorId>) -> Vec<MentorId> {
    ids.sort();
    ids
}

// --- organisations and settings ---

#[tokio::test]
async fn orgs_are_listed_by_slug_and_settings_round_trip() {
    let Db { store, _db } = db().await;
    let b = org(&store, "bravo").await;
    let a = org(&store, "alpha").await;
    let slugs: Vec<String> = store
        .orgs()
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.slug.to_string())
        .collect();
    assert_eq!(slugs, ["alpha", "bravo"]);

    assert_eq!(
        store.org_settings(a.id).await.unwrap(),
        OrgSettings::default()
    );
    // Keys this version does not know survive an update.
    sqlx::query("UPDATE organisations SET settings = '{\"future_flag\": true}' WHERE id = $1")
        .bind(a.id.0)
        .execute(store.pool())
        .await
        .unwrap();
    let settings = OrgSettings {
        thresholds_days: Some(vec![7, 21]),
    };
    store
        .update_org_settings(a.id, settings.clone())
        .await
        .unwrap();
    assert_eq!(store.org_settings(a.id).await.unwrap(), settings);
    assert_eq!(
        store.org_settings(b.id).await.unwrap(),
        OrgSettings::default()
    );
    let raw: serde_json::Value =
        sqlx::query_scalar("SELECT settings FROM organisations WHERE id = $1")
            .bind(a.id.0)
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(raw["future_flag"], serde_json::json!(true));

    store
        .update_org_settings(a.id, OrgSettings::default())
        .await
        .unwrap();
    assert_eq!(
        store.org_settings(a.id).await.unwrap(),
        OrgSettings::default()
    );

    assert_not_found(
        store.org_settings(OrgId::new()).await.unwrap_err(),
        "organisation",
    );
    assert_not_found(
        store
            .update_org_settings(OrgId::new(), settings)
            .await
            .unwrap_err(),
        "organisation",
    );
}

// --- the worklist ---

#[tokio::test]
async fn the_worklist_finds_each_category_with_inclusive_windows() {
    let Db { store, _db } = db().await;
    let hlf = org(&store, "hlf").await;
    let other = org(&store, "other").await;
    let o = hlf.id;

    let lapsed = mentor(&store, o, "Lapsed Yesterday", Some(days(-1))).await;
    let uncertified = mentor(&store, o, "No Certification", None).await;
    let expires_today = mentor(&store, o, "Expires Today", Some(days(0))).await;
    let window_end = mentor(&store, o, "Window End", Some(days(30))).await;
    let _outside = mentor(&store, o, "Outside Window", Some(days(31))).await;
    let due_today = paused_mentor(&store, o, "Due Today", Some(days(400)), Some(days(0))).await;
    let overdue = paused_mentor(&store, o, "Overdue", Some(days(-3)), Some(days(-2))).await;
    let soon = paused_mentor(&store, o, "Soon", Some(days(400)), Some(days(3))).await;
    let _later = paused_mentor(&store, o, "Later", Some(days(400)), Some(days(4))).await;
    let noticed = paused_mentor(&store, o, "Noticed", Some(days(400)), Some(days(2))).await;
    let paused_expiring = paused_mentor(&store, o, "Paused Expiring", Some(days(10)), None).await;
    let _expired = mentor_with_status(
        &store,
        o,
        "Already Expired",
        Some(days(-100)),
        MentorStatus::CertificationExpired,
    )
    .await;
    let _inactive = mentor_with_status(
        &store,
        o,
        "Inactive",
        Some(days(-100)),
        MentorStatus::Inactive,
    )
    .await;
    let _foreign = mentor(&store, other.id, "Other Org", Some(days(-1))).await;

    // A renewal registered through a change moves the current certification (the trigger behind
    // `current_expires_on` fires inside the change's statement).
    let renewed = mentor(&store, o, "Renewed", Some(days(-5))).await;
    let mut renewal = change(o, renewed, MentorStatus::Active, 1);
    renewal.certification = Some(certification(days(-5), days(700)));
    store.apply_change(renewal).await.unwrap();

    // Reminders already recorded for the window end's expiry date (and one for an older period).
    let run = RunId::new();
    store
        .claim_reminders(
            o,
            run,
            today(),
            vec![
                reminder(window_end, 30, days(30), true),
                reminder(window_end, 14, days(30), false),
                reminder(window_end, 7, days(-335), true),
            ],
            t(NOW),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .claim_resume_notices(o, run, today(), vec![notice(noticed, days(2))], t(NOW))
            .await
            .unwrap(),
        1
    );

    let worklist = store.expiry_worklist(o, today(), 30, 3).await.unwrap();
    assert_eq!(
        ids(&worklist.lapsed_active),
        sorted(vec![lapsed, uncertified])
    );
    let facts = worklist
        .lapsed_active
        .iter()
        .find(|f| f.id == lapsed)
        .unwrap();
    assert_eq!(
        facts,
        &MentorFacts {
            id: lapsed,
            full_name: "Lapsed Yesterday".into(),
            status: MentorStatus::Active,
            version: 1,
            expires_on: Some(days(-1)),
            resume_on: None,
        }
    );
    assert_eq!(ids(&worklist.resume_due), sorted(vec![due_today, overdue]));
    let overdue_facts = worklist
        .resume_due
        .iter()
        .find(|f| f.id == overdue)
        .unwrap();
    assert_eq!(
        (
            overdue_facts.status,
            overdue_facts.version,
            overdue_facts.expires_on,
            overdue_facts.resume_on
        ),
        (MentorStatus::Paused, 2, Some(days(-3)), Some(days(-2)))
    );
    assert_eq!(ids(&worklist.resume_soon), vec![soon]);

    let reminders: HashMap<MentorId, (NaiveDate, Vec<u16>)> = worklist
        .reminders
        .iter()
        .map(|c| (c.mentor.id, (c.expires_on, c.recorded_thresholds.clone())))
        .collect();
    assert_eq!(reminders.len(), 3, "{reminders:?}");
    assert_eq!(reminders[&expires_today], (days(0), vec![]));
    assert_eq!(reminders[&window_end], (days(30), vec![14, 30]));
    assert_eq!(reminders[&paused_expiring], (days(10), vec![]));
    let candidate_ids: Vec<MentorId> = worklist.reminders.iter().map(|c| c.mentor.id).collect();
    assert_eq!(
        candidate_ids,
        sorted(candidate_ids.clone()),
        "ordered by id"
    );

    // A window of 0 days is today only; no notice window means no notices.
    let narrow = store.expiry_worklist(o, today(), 0, 0).await.unwrap();
    assert_eq!(
        narrow
            .reminders
            .iter()
            .map(|c| c.mentor.id)
            .collect::<Vec<_>>(),
        vec![expires_today]
    );
    assert!(narrow.resume_soon.is_empty());

    // The facts of a few mentors: unknown ids and other organisations' mentors are simply absent.
    let facts = store
        .mentor_facts(o, vec![soon, MentorId::new(), _foreign, lapsed])
        .await
        .unwrap();
    assert_eq!(ids(&facts), sorted(vec![soon, lapsed]));
    assert!(store.mentor_facts(o, Vec::new()).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_current_expiry_follows_certifications_edited_by_hand() {
    let Db { store, _db } = db().await;
    let o = org(&store, "hlf").await.id;
    let kari = mentor(&store, o, "Kari", Some(days(-10))).await;
    let mut renewal = change(o, kari, MentorStatus::Active, 1);
    renewal.certification = Some(certification(days(-10), days(20)));
    store.apply_change(renewal).await.unwrap();
    let lapsed = |store: PgStore| async move {
        ids(&store
            .expiry_worklist(o, today(), 30, 3)
            .await
            .unwrap()
            .lapsed_active)
    };
    assert!(lapsed(store.clone()).await.is_empty());

    // An older period registered later changes nothing.
    let mut backfill = change(o, kari, MentorStatus::Active, 2);
    backfill.certification = Some(certification(date("2020-01-01"), date("2021-01-01")));
    store.apply_change(backfill).await.unwrap();
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
    let worklist = store.expiry_worklist(o, today(), 30, 3).await.unwrap();
    assert!(worklist.lapsed_active.is_empty());
    assert_eq!(worklist.reminders[0].expires_on, days(5));
    sqlx::query("DELETE FROM certifications WHERE mentor_id = $1")
        .bind(kari.0)
        .execute(store.pool())
        .await
        .unwrap();
    let facts = store.mentor_facts(o, vec![kari]).await.unwrap();
    assert_eq!(facts[0].expires_on, None);
    assert_eq!(lapsed(store.clone()).await, vec![kari]);
}

// --- the reminder ledger ---

#[tokio::test]
async fn a_reminder_claim_wins_once_and_only_sent_winners_notify() {
    let Db { store, _db } = db().await;
    let hlf = org(&store, "hlf").await;
    let other = org(&store, "other").await;
    let o = hlf.id;
    let kari = mentor(&store, o, "Kari", Some(days(6))).await;
    let per = mentor(&store, o, "Per", Some(days(14))).await;
    let foreign = mentor(&store, other.id, "Foreign", Some(days(6))).await;
    let run = RunId::new();

    let claims = vec![
        reminder(kari, 7, days(6), true),
        reminder(kari, 14, days(6), false),
        reminder(kari, 30, days(6), false),
        reminder(per, 14, days(14), true),
        // Another organisation's mentor is never written into this organisation's ledger.
        reminder(foreign, 7, days(6), true),
    ];
    let won = store
        .claim_reminders(o, run, today(), claims.clone(), t(NOW))
        .await
        .unwrap();
    assert_eq!(
        won,
        ClaimCounts {
            sent: 2,
            skipped: 2
        }
    );
    assert_eq!(count(&store, "cert_expiry_reminders").await, 4);
    assert_eq!(
        notifications_of_kind(&store, "certification_reminder").await,
        2
    );
    let notified: Vec<(Option<Uuid>, Option<Uuid>, serde_json::Value)> = sqlx::query_as(
        "SELECT recipient_mentor_id, mentor_id, payload FROM notifications ORDER BY payload ->> 'threshold_days'",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(notified[0].0, Some(per.0));
    assert_eq!(notified[0].1, Some(per.0));
    assert_eq!(notified[1].0, Some(kari.0));
    assert_eq!(notified[1].2["threshold_days"], serde_json::json!(7));

    // The same claims again (another run, another day): nothing won, nothing written.
    let again = store
        .claim_reminders(o, RunId::new(), days(1), claims, t("2026-05-02T04:00:00Z"))
        .await
        .unwrap();
    assert_eq!(again, ClaimCounts::default());
    assert_eq!(count(&store, "cert_expiry_reminders").await, 4);
    assert_eq!(count(&store, "notifications").await, 2);

    // A renewal starts a new cycle: the same threshold for a new expiry date is a new key.
    let next = store
        .claim_reminders(
            o,
            RunId::new(),
            days(1),
            vec![reminder(kari, 7, days(400), true)],
            t("2026-05-02T04:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(
        next,
        ClaimCounts {
            sent: 1,
            skipped: 0
        }
    );

    let ledger = store.reminders(o, kari).await.unwrap();
    let rows: Vec<_> = ledger
        .iter()
        .map(|r| (r.threshold_days, r.certification_expires_on, r.outcome))
        .collect();
    assert_eq!(
        rows,
        [
            (7, days(400), ReminderOutcome::Sent),
            (7, days(6), ReminderOutcome::Sent),
            (14, days(6), ReminderOutcome::Skipped),
            (30, days(6), ReminderOutcome::Skipped),
        ],
        "newest first, then by threshold"
    );
    assert_eq!(ledger[1].business_date, today());
    assert_eq!(ledger[1].run_id, Some(run));
    assert_eq!(ledger[1].created_at, t(NOW));
    assert_eq!(ledger[1].mentor_id, kari);
    assert!(store.reminders(o, per).await.unwrap().len() == 1);
    assert_not_found(store.reminders(other.id, kari).await.unwrap_err(), "mentor");
    assert_not_found(
        store.reminders(o, MentorId::new()).await.unwrap_err(),
        "mentor",
    );

    // One key twice in a batch is a caller bug: refused whole.
    let err = store
        .claim_reminders(
            o,
            RunId::new(),
            today(),
            vec![
                reminder(per, 7, days(14), true),
                reminder(per, 7, days(14), false),
            ],
            t(NOW),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Other(_)), "{err:?}");
    assert_eq!(
        store
            .claim_reminders(o, RunId::new(), today(), Vec::new(), t(NOW))
            .await
            .unwrap(),
        ClaimCounts::default()
    );
}

#[tokio::test]
async fn reminder_notifications_may_go_to_a_user_or_every_coordinator() {
    let Db { store, _db } = db().await;
    let o = org(&store, "hlf").await.id;
    let a = user(&store, o, "a@example.no", Role::Coordinator).await;
    let b = user(&store, o, "b@example.no", Role::Coordinator).await;
    let admin = user(&store, o, "admin@example.no", Role::Admin).await;
    let kari = mentor(&store, o, "Kari", Some(days(6))).await;
    let mut to_admin = reminder(kari, 7, days(6), true);
    to_admin.notification.as_mut().unwrap().recipient = Recipient::User(admin.id);
    let mut to_coordinators = reminder(kari, 14, days(6), true);
    to_coordinators.notification.as_mut().unwrap().recipient = Recipient::OrgCoordinators;
    let mut silent = reminder(kari, 30, days(6), true);
    silent.notification = None;
    let won = store
        .claim_reminders(
            o,
            RunId::new(),
            today(),
            vec![to_admin, to_coordinators, silent],
            t(NOW),
        )
        .await
        .unwrap();
    assert_eq!(
        won,
        ClaimCounts {
            sent: 3,
            skipped: 0
        }
    );
    let mut recipients: Vec<Uuid> =
        sqlx::query_scalar("SELECT recipient_user_id FROM notifications")
            .fetch_all(store.pool())
            .await
            .unwrap();
    recipients.sort();
    let mut expected = vec![a.id.0, b.id.0, admin.id.0];
    expected.sort();
    assert_eq!(recipients, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_concurrent_reminder_claimers_win_each_key_exactly_once() {
    let Db { store, _db } = db_with_connections(10).await;
    let o = org(&store, "hlf").await.id;
    let batch: Vec<NewMentor> = (0..40)
        .map(|i| new_mentor(&format!("Mentor {i:02}"), Some(days(6))))
        .collect();
    let mentors = store
        .create_mentors(o, Actor::System, batch, t(NOW))
        .await
        .unwrap();
    // Per mentor: 7 is sent, 14 and 30 are skipped (catch-up).
    let all: Vec<ReminderClaim> = mentors
        .iter()
        .flat_map(|m| {
            [
                reminder(*m, 7, days(6), true),
                reminder(*m, 14, days(6), false),
                reminder(*m, 30, days(6), false),
            ]
        })
        .collect();
    let barrier = Arc::new(tokio::sync::Barrier::new(10));
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let store = store.clone();
            let barrier = barrier.clone();
            // Every claimer sees the keys in another order, and claims in several batches.
            let mut claims = all.clone();
            claims.rotate_left(i * 11);
            if i % 2 == 1 {
                claims.reverse();
            }
            tokio::spawn(async move {
                barrier.wait().await;
                let mut won = ClaimCounts::default();
                for chunk in claims.chunks(25) {
                    let c = store
                        .claim_reminders(o, RunId::new(), today(), chunk.to_vec(), t(NOW))
                        .await
                        .expect("claim");
                    won.sent += c.sent;
                    won.skipped += c.skipped;
                }
                won
            })
        })
        .collect();
    let mut total = ClaimCounts::default();
    for task in tasks {
        let won = task.await.unwrap();
        total.sent += won.sent;
        total.skipped += won.skipped;
    }
    assert_eq!(
        total,
        ClaimCounts {
            sent: 40,
            skipped: 80
        }
    );
    assert_eq!(count(&store, "cert_expiry_reminders").await, 120);
    let per_key: Vec<(Uuid, String, i64)> = sqlx::query_as(
        "SELECT mentor_id, payload ->> 'threshold_days', count(*) FROM notifications \
         GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(per_key.len(), 40, "one notification per sent key");
    assert!(
        per_key
            .iter()
            .all(|(_, threshold, n)| threshold == "7" && *n == 1)
    );
    // Every won row names the run that won it, and only one run won each key.
    let runs: i64 = sqlx::query_scalar("SELECT count(DISTINCT run_id) FROM cert_expiry_reminders")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert!(runs >= 1);
}

// --- resume notices ---

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn resume_notices_are_claimed_once_even_by_concurrent_runs() {
    let Db { store, _db } = db_with_connections(10).await;
    let o = org(&store, "hlf").await.id;
    let kari = paused_mentor(&store, o, "Kari", Some(days(400)), Some(days(3))).await;
    let run = RunId::new();
    assert_eq!(
        store
            .claim_resume_notices(o, run, today(), vec![notice(kari, days(3))], t(NOW))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .claim_resume_notices(
                o,
                RunId::new(),
                days(1),
                vec![notice(kari, days(3))],
                t(NOW)
            )
            .await
            .unwrap(),
        0
    );
    // Another return date is another notice.
    assert_eq!(
        store
            .claim_resume_notices(
                o,
                RunId::new(),
                days(1),
                vec![notice(kari, days(9))],
                t(NOW)
            )
            .await
            .unwrap(),
        1
    );
    assert_eq!(notifications_of_kind(&store, "resume_notice").await, 2);
    let stored: (Uuid, NaiveDate, Option<Uuid>) = sqlx::query_as(
        "SELECT org_id, business_date, run_id FROM resume_notices WHERE resume_on = $1",
    )
    .bind(days(3))
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(stored, (o.0, today(), Some(run.0)));

    let mut mentors = Vec::new();
    for i in 0..15 {
        mentors.push(
            paused_mentor(
                &store,
                o,
                &format!("Paused {i:02}"),
                Some(days(400)),
                Some(days(2)),
            )
            .await,
        );
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(10));
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let store = store.clone();
            let barrier = barrier.clone();
            let mut claims: Vec<ResumeNoticeClaim> =
                mentors.iter().map(|m| notice(*m, days(2))).collect();
            claims.rotate_left(i);
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .claim_resume_notices(o, RunId::new(), today(), claims, t(NOW))
                    .await
                    .expect("claim")
            })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        won += task.await.unwrap();
    }
    assert_eq!(won, 15);
    assert_eq!(notifications_of_kind(&store, "resume_notice").await, 2 + 15);
    assert_eq!(count(&store, "resume_notices").await, 2 + 15);
}

// --- scheduled claims and leases ---

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_scheduled_run_is_claimed_once_among_concurrent_claimers() {
    let Db { store, _db } = db_with_connections(6).await;
    let o = org(&store, "hlf").await.id;
    let barrier = Arc::new(tokio::sync::Barrier::new(3));
    let tasks: Vec<_> = (0..3)
        .map(|i| {
            let store = store.clone();
            let barrier = barrier.clone();
            let run = new_run(o, today(), &format!("instance-{i}"), t(NOW));
            tokio::spawn(async move {
                barrier.wait().await;
                store.claim_scheduled_run(run).await.expect("claim")
            })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        if task.await.unwrap() {
            won += 1;
        }
    }
    assert_eq!(won, 1);
    assert_eq!(
        count(&store, "job_runs").await,
        1,
        "only the winner is recorded"
    );
    assert_eq!(count(&store, "scheduled_claims").await, 1);
    // Another date, or another job, is another claim.
    assert!(
        store
            .claim_scheduled_run(new_run(o, days(1), "x", t(NOW)))
            .await
            .unwrap()
    );
    let mut other_job = new_run(o, today(), "x", t(NOW));
    other_job.job = "sync".into();
    assert!(store.claim_scheduled_run(other_job).await.unwrap());
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_and_the_old_run_is_marked_failed() {
    let Db { store, _db } = db().await;
    let o = org(&store, "hlf").await.id;
    let start = t(NOW);
    let first = new_run(o, today(), "host-a:1", start);
    assert!(store.claim_scheduled_run(first.clone()).await.unwrap());

    // While the lease holds (it is renewed meanwhile), nobody else gets it.
    let at = start + Duration::minutes(8);
    assert!(
        !store
            .claim_scheduled_run(new_run(o, today(), "host-b:2", at))
            .await
            .unwrap()
    );
    store
        .renew_run_lease(first.id, start + Duration::minutes(20))
        .await
        .unwrap();
    let at = start + Duration::minutes(15);
    assert!(
        !store
            .claim_scheduled_run(new_run(o, today(), "host-b:2", at))
            .await
            .unwrap()
    );

    // The instance died: once its lease ran out, the next claimer takes the claim over.
    let at = start + Duration::minutes(21);
    let second = new_run(o, today(), "host-b:2", at);
    assert!(store.claim_scheduled_run(second.clone()).await.unwrap());
    let log = store.runs(o, 10, None).await.unwrap().items;
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].id, second.id, "newest first");
    assert_eq!(log[0].outcome, RunOutcome::Running);
    assert_eq!(log[0].trigger, RunTrigger::Scheduled);
    assert_eq!(log[0].instance, "host-b:2");
    assert_eq!(log[0].counts, RunCounts::default());
    assert_eq!(log[1].id, first.id);
    assert_eq!(log[1].outcome, RunOutcome::Failed);
    assert_eq!(log[1].finished_at, Some(at));
    assert_eq!(
        log[1].error.as_deref(),
        Some("lease expired; taken over by host-b:2")
    );

    // The old instance coming back cannot renew its way back into the claim.
    store
        .renew_run_lease(first.id, at + Duration::hours(1))
        .await
        .unwrap();
    let claim_run: Uuid = sqlx::query_scalar("SELECT run_id FROM scheduled_claims")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(claim_run, second.id.0);
    assert!(
        !store
            .claim_scheduled_run(new_run(o, today(), "host-c:3", at + Duration::minutes(5)))
            .await
            .unwrap()
    );
    assert_not_found(
        store.renew_run_lease(RunId::new(), at).await.unwrap_err(),
        "run",
    );
}

#[tokio::test]
async fn a_completed_claim_is_never_taken_again_and_a_failed_one_is_retried() {
    let Db { store, _db } = db().await;
    let o = org(&store, "hlf").await.id;
    let start = t(NOW);
    let run = new_run(o, today(), "a", start);
    assert!(store.claim_scheduled_run(run.clone()).await.unwrap());
    let counts = RunCounts {
        expired: 3,
        reminders_sent: 2,
        ..RunCounts::default()
    };
    store
        .finish_run(RunFinish {
            counts,
            ..finish(
                run.id,
                RunOutcome::Succeeded,
                start + Duration::minutes(1),
                None,
            )
        })
        .await
        .unwrap();
    let later = start + Duration::days(3);
    assert!(
        !store
            .claim_scheduled_run(new_run(o, today(), "b", later))
            .await
            .unwrap()
    );
    let record = &store.runs(o, 1, None).await.unwrap().items[0];
    assert_eq!(record.outcome, RunOutcome::Succeeded);
    assert_eq!(record.counts, counts);
    assert_eq!(record.finished_at, Some(start + Duration::minutes(1)));

    // A failed run leaves its claim open: retried once the lease has run out, not before.
    let failing = new_run(o, days(1), "a", start);
    assert!(store.claim_scheduled_run(failing.clone()).await.unwrap());
    store
        .finish_run(RunFinish {
            error: Some("database unavailable".into()),
            ..finish(
                failing.id,
                RunOutcome::Failed,
                start + Duration::minutes(1),
                Some(days(1)),
            )
        })
        .await
        .unwrap();
    let failed = &store.runs(o, 1, None).await.unwrap().items[0];
    assert_eq!(
        (failed.outcome, failed.error.as_deref()),
        (RunOutcome::Failed, Some("database unavailable"))
    );
    assert!(
        !store
            .claim_scheduled_run(new_run(o, days(1), "b", start + Duration::minutes(5)))
            .await
            .unwrap()
    );
    let retry = new_run(o, days(1), "b", start + Duration::minutes(11));
    assert!(store.claim_scheduled_run(retry.clone()).await.unwrap());
    let log = store.runs(o, 10, None).await.unwrap().items;
    assert_eq!(log[0].id, retry.id);
    assert_eq!(
        log[1].error.as_deref(),
        Some("database unavailable"),
        "a finished run is not rewritten by a take-over"
    );

    assert_not_found(
        store
            .finish_run(finish(RunId::new(), RunOutcome::Succeeded, start, None))
            .await
            .unwrap_err(),
        "run",
    );
    assert!(
        store
            .finish_run(finish(retry.id, RunOutcome::Running, start, None))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn the_run_log_pages_newest_first() {
    let Db { store, _db } = db().await;
    let o = org(&store, "hlf").await.id;
    let other = org(&store, "other").await.id;
    let mut started = Vec::new();
    for i in 0..5 {
        started.push(manual_run(&store, o, today(), t(NOW) + Duration::seconds(i)).await);
    }
    manual_run(&store, other, today(), t(NOW)).await;
    let first = store.runs(o, 2, None).await.unwrap();
    assert_eq!(
        first.items.iter().map(|r| r.id).collect::<Vec<_>>(),
        [started[4], started[3]]
    );
    assert_eq!(first.next, Some(started[3]));
    let second = store.runs(o, 2, first.next).await.unwrap();
    assert_eq!(
        second.items.iter().map(|r| r.id).collect::<Vec<_>>(),
        [started[2], started[1]]
    );
    let third = store.runs(o, 2, second.next).await.unwrap();
    assert_eq!(
        third.items.iter().map(|r| r.id).collect::<Vec<_>>(),
        [started[0]]
    );
    assert_eq!(third.next, None);
    assert_eq!(third.items[0].trigger, RunTrigger::Manual);
    assert_eq!(third.items[0].business_date, today());
    assert_eq!(third.items[0].started_at, t(NOW));
}

// --- the coordinator digest ---

/// An organisation with two coordinators and an admin, and what a run did in it.
struct DigestFixture {
    store: PgStore,
    _db: TestDatabase,
    org: OrgId,
    coordinators: Vec<UserId>,
}

async fn digest_fixture() -> DigestFixture {
    let Db { store, _db } = db().await;
    let o = org(&store, "hlf").await.id;
    let mut coordinators = vec![
        user(&store, o, "a@example.no", Role::Coordinator).await.id,
        user(&store, o, "b@example.no", Role::Coordinator).await.id,
    ];
    coordinators.sort();
    user(&store, o, "admin@example.no", Role::Admin).await;
    DigestFixture {
        store,
        _db,
        org: o,
        coordinators,
    }
}

/// One expiry, one sent and one skipped reminder, one resume notice, all by `run`.
async fn effects(store: &PgStore, o: OrgId, run: RunId, name: &str) -> MentorId {
    let lapsed = mentor(store, o, &format!("{name} Lapsed"), Some(days(-1))).await;
    let facts = store.mentor_facts(o, vec![lapsed]).await.unwrap().remove(0);
    let outcome = store
        .apply_changes(vec![expiry(o, &facts, run)])
        .await
        .unwrap();
    assert_eq!(outcome, [ChangeOutcome::Applied]);
    let expiring = mentor(store, o, &format!("{name} Expiring"), Some(days(6))).await;
    store
        .claim_reminders(
            o,
            run,
            today(),
            vec![
                reminder(expiring, 7, days(6), true),
                reminder(expiring, 14, days(6), false),
            ],
            t(NOW),
        )
        .await
        .unwrap();
    let paused = paused_mentor(
        store,
        o,
        &format!("{name} Paused"),
        Some(days(400)),
        Some(days(2)),
    )
    .await;
    store
        .claim_resume_notices(o, run, today(), vec![notice(paused, days(2))], t(NOW))
        .await
        .unwrap();
    lapsed
}

fn names(list: &serde_json::Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|item| item["full_name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_finished_run_writes_one_digest_per_coordinator_listing_what_it_did() {
    let DigestFixture {
        store,
        _db,
        org: o,
        coordinators,
    } = digest_fixture().await;
    let at = t(NOW);
    let run = manual_run(&store, o, today(), at).await;
    let lapsed = effects(&store, o, run, "Kari").await;
    let finished = store
        .finish_run(finish(
            run,
            RunOutcome::Succeeded,
            at + Duration::minutes(1),
            Some(today()),
        ))
        .await
        .unwrap();
    assert_eq!(finished.digests, 2);
    assert_eq!(count(&store, "digests").await, 1);

    let digests = digests(&store).await;
    assert_eq!(
        digests.iter().map(|(u, _)| *u).collect::<Vec<_>>(),
        coordinators.iter().map(|u| u.0).collect::<Vec<_>>()
    );
    let payload = &digests[0].1;
    assert_eq!(
        payload, &digests[1].1,
        "every coordinator gets the same digest"
    );
    assert_eq!(payload["business_date"], serde_json::json!(TODAY));
    let digest_id: Uuid = sqlx::query_scalar("SELECT id FROM digests")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(payload["digest_id"], serde_json::json!(digest_id));
    assert_eq!(
        payload["transitions"],
        serde_json::json!([{
            "mentor_id": lapsed,
            "full_name": "Kari Lapsed",
            "from_status": "active",
            "to_status": "certification_expired",
        }])
    );
    assert_eq!(
        payload["reminders"],
        serde_json::json!([{
            "mentor_id": payload["reminders"][0]["mentor_id"],
            "full_name": "Kari Expiring",
            "threshold_days": 7,
            "certification_expires_on": days(6),
        }]),
        "only sent reminders are listed"
    );
    assert_eq!(names(&payload["resume_notices"]), ["Kari Paused"]);
    assert_eq!(
        payload["resume_notices"][0]["resume_on"],
        serde_json::json!(days(2))
    );
    assert_eq!(
        payload["counts"],
        serde_json::json!({ "transitions": 1, "reminders": 1, "resume_notices": 1 })
    );
    let mentor_ids: Vec<Option<Uuid>> =
        sqlx::query_scalar("SELECT mentor_id FROM notifications WHERE kind = 'coordinator_digest'")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(mentor_ids, [None, None]);

    // A re-run of the same day that does nothing new sends nothing new.
    let rerun = manual_run(&store, o, today(), at + Duration::minutes(2)).await;
    let finished = store
        .finish_run(finish(
            rerun,
            RunOutcome::Succeeded,
            at + Duration::minutes(3),
            Some(today()),
        ))
        .await
        .unwrap();
    assert_eq!(finished.digests, 0);
    // Neither does a day on which nothing happened: no digest, and the day is not used up.
    let quiet = manual_run(&store, o, days(1), at + Duration::days(1)).await;
    let finished = store
        .finish_run(finish(
            quiet,
            RunOutcome::Succeeded,
            at + Duration::days(1),
            Some(days(1)),
        ))
        .await
        .unwrap();
    assert_eq!(finished.digests, 0);
    assert_eq!(count(&store, "digests").await, 1);
    assert_eq!(notifications_of_kind(&store, "coordinator_digest").await, 2);
    let undigested: i64 = sqlx::query_scalar("SELECT count(*) FROM job_runs WHERE NOT digested")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(undigested, 0);
}

#[tokio::test]
async fn effects_after_the_days_digest_go_into_the_next_dates_digest() {
    let DigestFixture {
        store, _db, org: o, ..
    } = digest_fixture().await;
    let at = t(NOW);
    let first = manual_run(&store, o, today(), at).await;
    effects(&store, o, first, "Anne").await;
    let written = store
        .finish_run(finish(first, RunOutcome::Succeeded, at, Some(today())))
        .await
        .unwrap();
    assert_eq!(written.digests, 2);

    // A second run the same day with new effects: the day has its digest, so nothing is sent now...
    let second = manual_run(&store, o, today(), at + Duration::hours(1)).await;
    effects(&store, o, second, "Bjorn").await;
    let written = store
        .finish_run(finish(
            second,
            RunOutcome::Succeeded,
            at + Duration::hours(1),
            Some(today()),
        ))
        .await
        .unwrap();
    assert_eq!(written.digests, 0);
    assert_eq!(notifications_of_kind(&store, "coordinator_digest").await, 2);

    // ...and the next date's digest lists them, without repeating the first run's.
    let next = manual_run(&store, o, days(1), at + Duration::days(1)).await;
    let written = store
        .finish_run(finish(
            next,
            RunOutcome::Succeeded,
            at + Duration::days(1),
            Some(days(1)),
        ))
        .await
        .unwrap();
    assert_eq!(written.digests, 2);
    let digests = digests(&store).await;
    assert_eq!(digests.len(), 4);
    let (day1, day2) = (&digests[0].1, &digests[2].1);
    assert_eq!(day1["business_date"], serde_json::json!(TODAY));
    assert_eq!(names(&day1["transitions"]), ["Anne Lapsed"]);
    assert_eq!(day2["business_date"], serde_json::json!(days(1)));
    assert_eq!(names(&day2["transitions"]), ["Bjorn Lapsed"]);
    assert_eq!(names(&day2["reminders"]), ["Bjorn Expiring"]);
    assert_eq!(names(&day2["resume_notices"]), ["Bjorn Paused"]);
}

#[tokio::test]
async fn the_last_run_to_finish_writes_the_digest() {
    let DigestFixture {
        store, _db, org: o, ..
    } = digest_fixture().await;
    let at = t(NOW);
    let early = manual_run(&store, o, today(), at).await;
    let late = manual_run(&store, o, today(), at).await;
    effects(&store, o, early, "Early").await;
    // `late` still holds a live lease: `early` leaves the digest to it.
    let written = store
        .finish_run(finish(
            early,
            RunOutcome::Succeeded,
            at + Duration::minutes(1),
            Some(today()),
        ))
        .await
        .unwrap();
    assert_eq!(written.digests, 0);
    assert_eq!(count(&store, "digests").await, 0);
    effects(&store, o, late, "Late").await;
    let written = store
        .finish_run(finish(
            late,
            RunOutcome::Succeeded,
            at + Duration::minutes(2),
            Some(today()),
        ))
        .await
        .unwrap();
    assert_eq!(written.digests, 2);
    let digests = digests(&store).await;
    assert_eq!(
        names(&digests[0].1["transitions"]),
        ["Early Lapsed", "Late Lapsed"]
    );

    // A run that died without finishing (its lease ran out) does not hold the digest back, and what
    // it did before it died is listed, not lost.
    let dead = manual_run(&store, o, days(1), at + Duration::days(1)).await;
    effects(&store, o, dead, "Crashed").await;
    let survivor = manual_run(&store, o, days(1), at + Duration::days(1)).await;
    let written = store
        .finish_run(finish(
            survivor,
            RunOutcome::Succeeded,
            at + Duration::days(1) + Duration::minutes(30),
            Some(days(1)),
        ))
        .await
        .unwrap();
    assert_eq!(written.digests, 2);
    let digests = self::digests(&store).await;
    assert_eq!(names(&digests[2].1["transitions"]), ["Crashed Lapsed"]);
}

#[tokio::test]
async fn a_digest_lists_at_most_500_items_per_kind_with_true_counts() {
    let DigestFixture {
        store, _db, org: o, ..
    } = digest_fixture().await;
    let run = manual_run(&store, o, today(), t(NOW)).await;
    let batch: Vec<NewMentor> = (0..520)
        .map(|i| new_mentor(&format!("Mentor {i:03}"), Some(days(-1))))
        .collect();
    store
        .create_mentors(o, Actor::System, batch, t(NOW))
        .await
        .unwrap();
    let worklist = store.expiry_worklist(o, today(), 30, 3).await.unwrap();
    assert_eq!(worklist.lapsed_active.len(), 520);
    let changes = worklist
        .lapsed_active
        .iter()
        .map(|f| expiry(o, f, run))
        .collect();
    let outcomes = store.apply_changes(changes).await.unwrap();
    assert!(outcomes.iter().all(|o| *o == ChangeOutcome::Applied));
    store
        .finish_run(finish(run, RunOutcome::Succeeded, t(NOW), Some(today())))
        .await
        .unwrap();
    let payload = &digests(&store).await[0].1;
    assert_eq!(payload["transitions"].as_array().unwrap().len(), 500);
    assert_eq!(payload["counts"]["transitions"], serde_json::json!(520));
    assert_eq!(names(&payload["transitions"])[0], "Mentor 000");
}

// --- the compensation check ---

#[tokio::test]
async fn the_compensation_check_finds_injected_duplicates_and_nothing_on_clean_data() {
    let DigestFixture {
        store,
        _db,
        org: o,
        coordinators,
    } = digest_fixture().await;
    let other = org(&store, "other").await.id;
    let run = manual_run(&store, o, today(), t(NOW)).await;
    let lapsed = effects(&store, o, run, "Kari").await;
    store
        .finish_run(finish(run, RunOutcome::Succeeded, t(NOW), Some(today())))
        .await
        .unwrap();
    assert!(store.find_duplicate_effects(o).await.unwrap().is_empty());

    // Inject one duplicate of each kind, as a bug or a hand edit would.
    sqlx::query(
        "INSERT INTO notifications (id, org_id, recipient_user_id, recipient_mentor_id, kind, \
                                    mentor_id, payload, created_at) \
         SELECT gen_random_uuid(), org_id, recipient_user_id, recipient_mentor_id, kind, mentor_id, \
                payload, created_at \
         FROM notifications WHERE kind IN ('certification_reminder', 'coordinator_digest') \
           AND (recipient_user_id IS NULL OR recipient_user_id = $1)",
    )
    .bind(coordinators[0].0)
    .execute(store.pool())
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO status_history (org_id, mentor_id, from_status, to_status, reason, actor_kind, \
                                     certification_expires_on, occurred_at) \
         VALUES ($1, $2, 'active', 'certification_expired', 'hand edit', 'system', $3, now())",
    )
    .bind(o.0)
    .bind(lapsed.0)
    .bind(days(-1))
    .execute(store.pool())
    .await
    .unwrap();

    let findings = store.find_duplicate_effects(o).await.unwrap();
    let found: Vec<(&str, Option<MentorId>, &str, i64)> = findings
        .iter()
        .map(|f| (f.kind.as_str(), f.mentor_id, f.key.as_str(), f.count))
        .collect();
    let reminded: Uuid = sqlx::query_scalar(
        "SELECT mentor_id FROM notifications WHERE kind = 'certification_reminder' LIMIT 1",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    let digest_key = format!("coordinator={} business_date={TODAY}", coordinators[0]);
    let reminder_key = format!("threshold=7 expires_on={}", days(6));
    let expiry_key = format!("expires_on={}", days(-1));
    assert_eq!(
        found,
        [
            ("duplicate_digest", None, digest_key.as_str(), 2),
            ("duplicate_expiry", Some(lapsed), expiry_key.as_str(), 2),
            (
                "duplicate_reminder",
                Some(MentorId(reminded)),
                reminder_key.as_str(),
                2
            ),
        ]
    );
    assert!(
        store
            .find_duplicate_effects(other)
            .await
            .unwrap()
            .is_empty()
    );

    store
        .record_findings(o, Some(run), findings.clone(), t(NOW))
        .await
        .unwrap();
    store
        .record_findings(o, Some(run), Vec::new(), t(NOW))
        .await
        .unwrap();
    /// org, run, kind, mentor, key, count
    type LogRow = (Uuid, Option<Uuid>, String, Option<Uuid>, String, i64);
    let logged: Vec<LogRow> = sqlx::query_as(
        "SELECT org_id, run_id, kind, mentor_id, key, count FROM reconciliation_log ORDER BY id",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(logged.len(), 3);
    assert_eq!(
        logged[1],
        (
            o.0,
            Some(run.0),
            "duplicate_expiry".to_owned(),
            Some(lapsed.0),
            expiry_key.clone(),
            2
        )
    );
}

// --- alerts ---

fn alert(org: Option<OrgId>, key: &str, at: DateTime<Utc>, summary: &str) -> NewAlert {
    NewAlert {
        org,
        kind: "duplicate_effects".to_owned(),
        severity: Severity::Critical,
        dedupe_key: key.to_owned(),
        summary: summary.to_owned(),
        at,
    }
}

#[tokio::test]
async fn one_open_alert_per_incident_counted_resolved_and_acknowledged_once() {
    let Db { store, _db } = db().await;
    let o = org(&store, "hlf").await.id;
    let other = org(&store, "other").await.id;
    let admin = user(&store, o, "admin@example.no", Role::Admin).await.id;
    let second_admin = user(&store, o, "admin2@example.no", Role::Admin).await.id;
    let key = format!("duplicate_effects:{o}");
    let at = t(NOW);

    let first = store
        .open_alert(alert(Some(o), &key, at, "1 duplicate"))
        .await
        .unwrap();
    assert!(first.newly_opened);
    assert_eq!(first.alert.count, 1);
    assert_eq!((first.alert.first_seen, first.alert.last_seen), (at, at));
    assert_eq!(first.alert.severity, Severity::Critical);
    assert_eq!(first.alert.org_id, Some(o));
    let later = at + Duration::days(1);
    let again = store
        .open_alert(alert(Some(o), &key, later, "2 duplicates"))
        .await
        .unwrap();
    assert!(!again.newly_opened);
    assert_eq!(again.alert.id, first.alert.id);
    assert_eq!(again.alert.count, 2);
    assert_eq!((again.alert.first_seen, again.alert.last_seen), (at, later));
    assert_eq!(again.alert.summary, "2 duplicates");
    assert_eq!(count(&store, "alerts").await, 1);

    // Acknowledged once: the first acknowledger stays.
    let acked = store
        .acknowledge_alert(o, first.alert.id, admin, later)
        .await
        .unwrap();
    assert_eq!(
        (acked.acknowledged_by, acked.acknowledged_at),
        (Some(admin), Some(later))
    );
    let acked = store
        .acknowledge_alert(o, first.alert.id, second_admin, later + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(
        (acked.acknowledged_by, acked.acknowledged_at),
        (Some(admin), Some(later))
    );
    assert_not_found(
        store
            .acknowledge_alert(other, first.alert.id, admin, later)
            .await
            .unwrap_err(),
        "alert",
    );
    assert_not_found(
        store
            .acknowledge_alert(o, Uuid::now_v7(), admin, later)
            .await
            .unwrap_err(),
        "alert",
    );

    // Resolved once; the next occurrence is a new incident.
    let resolved_at = later + Duration::days(1);
    let resolved = store
        .resolve_alert(&key, resolved_at)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (resolved.id, resolved.resolved_at),
        (first.alert.id, Some(resolved_at))
    );
    assert_eq!(store.resolve_alert(&key, resolved_at).await.unwrap(), None);
    let reopened = store
        .open_alert(alert(Some(o), &key, resolved_at, "again"))
        .await
        .unwrap();
    assert!(reopened.newly_opened);
    assert_ne!(reopened.alert.id, first.alert.id);
    assert_eq!(reopened.alert.count, 1);
    assert_eq!(reopened.alert.acknowledged_by, None);

    store
        .open_alert(alert(Some(other), "other-incident", at, "elsewhere"))
        .await
        .unwrap();
    store
        .open_alert(alert(None, "deployment-wide", at, "global"))
        .await
        .unwrap();

    let all = store.alerts(o, false, 10, None).await.unwrap();
    assert_eq!(
        all.items.iter().map(|a| a.id).collect::<Vec<_>>(),
        [reopened.alert.id, first.alert.id],
        "newest first, this organisation's only"
    );
    let open = store.alerts(o, true, 10, None).await.unwrap();
    assert_eq!(
        open.items.iter().map(|a| a.id).collect::<Vec<_>>(),
        [reopened.alert.id]
    );
    let page = store.alerts(o, false, 1, None).await.unwrap();
    assert_eq!(page.next, Some(reopened.alert.id));
    let rest = store.alerts(o, false, 1, page.next).await.unwrap();
    assert_eq!(
        rest.items.iter().map(|a| a.id).collect::<Vec<_>>(),
        [first.alert.id]
    );
    assert_eq!(rest.next, None);
}

// --- batches of changes (apply_changes) ---

#[tokio::test]
async fn a_batch_applies_each_change_on_its_own() {
    let Db { store, _db } = db().await;
    let o = org(&store, "hlf").await.id;
    let coordinators: HashSet<Uuid> = [
        user(&store, o, "a@example.no", Role::Coordinator)
            .await
            .id
            .0,
        user(&store, o, "b@example.no", Role::Coordinator)
            .await
            .id
            .0,
    ]
    .into();
    user(&store, o, "admin@example.no", Role::Admin).await;
    let run = RunId::new();
    let winner = mentor(&store, o, "Winner", Some(days(-1))).await;
    let moved = mentor(&store, o, "Moved", Some(days(-1))).await;
    let recorded = mentor(&store, o, "Recorded", Some(days(-1))).await;
    let facts = store
        .mentor_facts(o, vec![winner, moved, recorded])
        .await
        .unwrap();
    let by_id: HashMap<MentorId, MentorFacts> = facts.into_iter().map(|f| (f.id, f)).collect();

    // `moved` changed after the run read it; `recorded` was expired before with the same key.
    store
        .apply_change(change(o, moved, MentorStatus::Active, 1))
        .await
        .unwrap();
    let earlier = expiry(o, &by_id[&recorded], RunId::new());
    store.apply_change(earlier).await.unwrap();
    let history_before = count(&store, "status_history").await;
    let outbox_before = count(&store, "sync_outbox").await;
    let notifications_before = count(&store, "notifications").await;

    let mut win = expiry(o, &by_id[&winner], run);
    win.notifications
        .push(note(Recipient::OrgCoordinators, "mentor_expired"));
    let mut recorded_again = expiry(o, &by_id[&recorded], run);
    // Its expectation is stale too; the recorded key is what decides.
    recorded_again.expected_version = 1;
    let unknown = expiry(
        o,
        &MentorFacts {
            id: MentorId::new(),
            ..by_id[&winner].clone()
        },
        run,
    );
    let outcomes = store
        .apply_changes(vec![
            win,
            expiry(o, &by_id[&moved], run),
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

    assert_eq!(count(&store, "status_history").await, history_before + 1);
    assert_eq!(count(&store, "sync_outbox").await, outbox_before + 1);
    // The mentor's own notification, and one per coordinator (not the admin).
    assert_eq!(
        count(&store, "notifications").await,
        notifications_before + 3
    );
    let fanned: Vec<Uuid> = sqlx::query_scalar(
        "SELECT recipient_user_id FROM notifications WHERE kind = 'mentor_expired'",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(fanned.into_iter().collect::<HashSet<_>>(), coordinators);
    let written: (
        Uuid,
        Option<Uuid>,
        Option<NaiveDate>,
        String,
        Option<String>,
    ) = sqlx::query_as(
        "SELECT mentor_id, run_id, certification_expires_on, actor_kind, idempotency_key \
         FROM status_history ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(
        written,
        (
            winner.0,
            Some(run.0),
            Some(days(-1)),
            "system".to_owned(),
            Some(format!("expired:{winner}:{}", days(-1)))
        )
    );
    let outboxed: (Uuid, i64) = sqlx::query_as(
        "SELECT mentor_id, mentor_version FROM sync_outbox ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(outboxed, (winner.0, 2));
    let states: Vec<(MentorStatus, i64)> = {
        let mut v = Vec::new();
        for id in [winner, moved, recorded] {
            let m = store.mentor(o, id).await.unwrap();
            v.push((m.status, m.version));
        }
        v
    };
    assert_eq!(
        states,
        [
            (MentorStatus::CertificationExpired, 2),
            (MentorStatus::Active, 2),
            (MentorStatus::CertificationExpired, 2),
        ]
    );

    // A batch names each mentor once and one organisation.
    let twice = vec![
        change(o, winner, MentorStatus::CertificationExpired, 2),
        change(o, winner, MentorStatus::CertificationExpired, 2),
    ];
    assert!(store.apply_changes(twice).await.is_err());
    assert!(store.apply_changes(Vec::new()).await.unwrap().is_empty());
}

/// Ten runs expiring the same 200 mentors at once, each in batches of the worklist's order (by id)
/// but cut at other places (a run that read later sees a shorter list): every mentor is expired once,
/// and nobody deadlocks. (Batches of one mentor set in different orders can deadlock on the mentor
/// rows; the worklist's order is what keeps concurrent runs apart.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_runs_batching_in_worklist_order_expire_each_mentor_once() {
    let Db { store, _db } = db_with_connections(10).await;
    let o = org(&store, "hlf").await.id;
    let batch: Vec<NewMentor> = (0..200)
        .map(|i| new_mentor(&format!("Mentor {i:03}"), Some(days(-1))))
        .collect();
    store
        .create_mentors(o, Actor::System, batch, t(NOW))
        .await
        .unwrap();
    let facts = store
        .expiry_worklist(o, today(), 30, 3)
        .await
        .unwrap()
        .lapsed_active;
    assert_eq!(facts.len(), 200);
    let barrier = Arc::new(tokio::sync::Barrier::new(10));
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let store = store.clone();
            let barrier = barrier.clone();
            let mut facts = facts.clone();
            facts.drain(..i * 3);
            tokio::spawn(async move {
                let run = RunId::new();
                barrier.wait().await;
                let mut applied = 0;
                for chunk in facts.chunks(50) {
                    let changes = chunk.iter().map(|f| expiry(o, f, run)).collect();
                    let outcomes = store.apply_changes(changes).await.expect("apply");
                    applied += outcomes
                        .iter()
                        .filter(|x| **x == ChangeOutcome::Applied)
                        .count();
                }
                applied
            })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    assert_eq!(total, 200);
    assert_eq!(
        store.find_duplicate_effects(o).await.unwrap(),
        Vec::new(),
        "one expiry per certification period"
    );
    assert_eq!(
        notifications_of_kind(&store, "certification_expired").await,
        200
    );
}
