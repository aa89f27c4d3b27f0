//! The nightly expiry run's reads and ledgers: the worklist, mentor facts, the reminder ledger and the
//! resume-notice ledger (also claimed concurrently), and batches of expiries from concurrent runs.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use domain::{MentorId, MentorStatus, Role};
use futures::future::join_all;

use super::{
    NOW, all_notifications, assert_not_found, certification, change, days, expiry, ids, kinds,
    login, mentor, mentor_with_status, new_certified, notice, notify, org, paused_mentor, register,
    reminder, sorted, t, today, user,
};
use crate::{
    ChangeOutcome, ClaimCounts, MentorFacts, MentorFilter, NewMentor, Recipient, ReminderClaim,
    ReminderOutcome, ResumeNoticeClaim, RunId, Store,
};

pub async fn the_worklist_finds_each_category_with_inclusive_windows<S: Store>(store: S) {
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
    let _expiring_inactive = mentor_with_status(
        &store,
        o,
        "Expiring Inactive",
        Some(days(5)),
        MentorStatus::Inactive,
    )
    .await;
    let foreign = mentor(&store, other.id, "Other Org", Some(days(-1))).await;

    // A renewal registered through a change moves the current certification.
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
    let paused_candidate = worklist
        .reminders
        .iter()
        .find(|c| c.mentor.id == paused_expiring)
        .unwrap();
    assert_eq!(
        (
            paused_candidate.mentor.status,
            paused_candidate.mentor.version
        ),
        (MentorStatus::Paused, 2)
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

    // Another organisation's worklist is its own.
    let elsewhere = store
        .expiry_worklist(other.id, today(), 30, 3)
        .await
        .unwrap();
    assert_eq!(ids(&elsewhere.lapsed_active), vec![foreign]);
    assert!(elsewhere.resume_due.is_empty() && elsewhere.reminders.is_empty());

    // The facts of a few mentors: unknown ids and other organisations' mentors are simply absent.
    let facts = store
        .mentor_facts(o, vec![soon, MentorId::new(), foreign, lapsed])
        .await
        .unwrap();
    assert_eq!(ids(&facts), sorted(vec![soon, lapsed]));
    let soon_facts = facts.iter().find(|f| f.id == soon).unwrap();
    assert_eq!(
        soon_facts,
        &MentorFacts {
            id: soon,
            full_name: "Soon".into(),
            status: MentorStatus::Paused,
            version: 2,
            expires_on: Some(days(400)),
            resume_on: Some(days(3)),
        }
    );
    assert_eq!(
        store.mentor_facts(o, vec![renewed]).await.unwrap()[0].expires_on,
        Some(days(700))
    );
    assert!(store.mentor_facts(o, Vec::new()).await.unwrap().is_empty());
}

pub async fn a_reminder_claim_wins_once_and_only_sent_winners_notify<S: Store>(store: S) {
    let hlf = org(&store, "hlf").await;
    let other = org(&store, "other").await;
    let o = hlf.id;
    let kari = mentor(&store, o, "Kari", Some(days(6))).await;
    let per = mentor(&store, o, "Per", Some(days(14))).await;
    let kari_login = login(&store, o, "kari@example.no", kari).await;
    let per_login = login(&store, o, "per@example.no", per).await;
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
    assert!(store.reminders(other.id, foreign).await.unwrap().is_empty());
    let per_notes = all_notifications(&store, &per_login).await;
    assert_eq!(per_notes.len(), 1, "only sent winners notify");
    assert_eq!(per_notes[0].kind, "certification_reminder");
    assert_eq!(per_notes[0].mentor_id, Some(per));
    assert_eq!(per_notes[0].recipient_mentor_id, Some(per));
    assert_eq!(per_notes[0].created_at, t(NOW));
    assert_eq!(
        per_notes[0].payload["threshold_days"],
        serde_json::json!(14)
    );
    let kari_notes = all_notifications(&store, &kari_login).await;
    assert_eq!(kari_notes.len(), 1);
    assert_eq!(
        kari_notes[0].payload["threshold_days"],
        serde_json::json!(7)
    );

    // The same claims again (another run, another day): nothing won, nothing written.
    let again = store
        .claim_reminders(o, RunId::new(), days(1), claims, t("2026-05-02T04:00:00Z"))
        .await
        .unwrap();
    assert_eq!(again, ClaimCounts::default());
    assert_eq!(store.reminders(o, kari).await.unwrap().len(), 3);
    assert_eq!(kinds(&store, &kari_login).await.len(), 1);
    assert_eq!(kinds(&store, &per_login).await.len(), 1);

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
    assert_eq!(kinds(&store, &kari_login).await.len(), 2);

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
    assert_eq!(ledger[0].business_date, days(1));
    assert_eq!(store.reminders(o, per).await.unwrap().len(), 1);
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
        .await;
    assert!(err.is_err(), "{err:?}");
    assert_eq!(store.reminders(o, per).await.unwrap().len(), 1);
    assert_eq!(kinds(&store, &per_login).await.len(), 1);
    assert_eq!(
        store
            .claim_reminders(o, RunId::new(), today(), Vec::new(), t(NOW))
            .await
            .unwrap(),
        ClaimCounts::default()
    );
}

pub async fn reminder_notifications_may_go_to_a_user_or_every_coordinator<S: Store>(store: S) {
    let o = org(&store, "hlf").await.id;
    let a = user(&store, o, "a@example.no", Role::Coordinator).await;
    let b = user(&store, o, "b@example.no", Role::Coordinator).await;
    let admin = user(&store, o, "admin@example.no", Role::Admin).await;
    let kari = mentor(&store, o, "Kari", Some(days(6))).await;
    let kari_login = login(&store, o, "kari@example.no", kari).await;
    let mut to_admin = reminder(kari, 7, days(6), true);
    to_admin.notification.as_mut().unwrap().recipient = Recipient::User(admin.id);
    let mut to_coordinators = reminder(kari, 14, days(6), true);
    to_coordinators.notification.as_mut().unwrap().recipient = Recipient::OrgCoordinators;
    let mut silent = reminder(kari, 30, days(6), true);
    silent.notification = None;
    let mut skipped = reminder(kari, 60, days(6), false);
    skipped.notification.as_mut().unwrap().recipient = Recipient::User(admin.id);
    let won = store
        .claim_reminders(
            o,
            RunId::new(),
            today(),
            vec![to_admin, to_coordinators, silent, skipped],
            t(NOW),
        )
        .await
        .unwrap();
    assert_eq!(
        won,
        ClaimCounts {
            sent: 3,
            skipped: 1
        }
    );
    let threshold_of = |notes: Vec<crate::Notification>| -> Vec<serde_json::Value> {
        notes
            .into_iter()
            .map(|n| n.payload["threshold_days"].clone())
            .collect()
    };
    assert_eq!(
        threshold_of(all_notifications(&store, &admin).await),
        [serde_json::json!(7)],
        "a skipped claim does not notify"
    );
    for coordinator in [&a, &b] {
        let notes = all_notifications(&store, coordinator).await;
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].mentor_id, Some(kari));
        assert_eq!(notes[0].payload["threshold_days"], serde_json::json!(14));
    }
    assert!(kinds(&store, &kari_login).await.is_empty());
    assert_eq!(store.reminders(o, kari).await.unwrap().len(), 4);
}

pub async fn concurrent_reminder_claimers_win_each_key_exactly_once<S: Store>(store: S) {
    let o = org(&store, "hlf").await.id;
    let coordinator = user(&store, o, "a@example.no", Role::Coordinator).await;
    let batch: Vec<NewMentor> = (0..40)
        .map(|i| new_certified(&format!("Mentor {i:02}"), Some(days(6))))
        .collect();
    let mentors = register(&store, o, batch).await;
    // Per mentor: 7 is sent, 14 and 30 are skipped (catch-up); notifications go to the coordinator.
    let all: Vec<ReminderClaim> = mentors
        .iter()
        .flat_map(|m| {
            [
                reminder(*m, 7, days(6), true),
                reminder(*m, 14, days(6), false),
                reminder(*m, 30, days(6), false),
            ]
        })
        .map(|mut claim| {
            claim.notification.as_mut().unwrap().recipient = Recipient::User(coordinator.id);
            claim
        })
        .collect();
    let claimers = (0..10).map(|i| {
        let store = store.clone();
        // Every claimer sees the keys in another order, and claims in several batches.
        let mut claims = all.clone();
        claims.rotate_left(i * 11);
        if i % 2 == 1 {
            claims.reverse();
        }
        async move {
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
        }
    });
    let mut total = ClaimCounts::default();
    for won in join_all(claimers).await {
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
    for m in &mentors {
        let ledger = store.reminders(o, *m).await.unwrap();
        assert_eq!(
            ledger.iter().map(|r| r.threshold_days).collect::<Vec<_>>(),
            [7, 14, 30]
        );
    }
    let notes = all_notifications(&store, &coordinator).await;
    assert_eq!(notes.len(), 40, "one notification per sent key");
    assert!(
        notes
            .iter()
            .all(|n| n.payload["threshold_days"] == serde_json::json!(7))
    );
    let notified: HashSet<Option<MentorId>> = notes.iter().map(|n| n.mentor_id).collect();
    assert_eq!(notified.len(), 40);
    assert!(store.find_duplicate_effects(o).await.unwrap().is_empty());
}

pub async fn resume_notices_are_claimed_once_even_by_concurrent_runs<S: Store>(store: S) {
    let hlf = org(&store, "hlf").await;
    let other = org(&store, "other").await;
    let o = hlf.id;
    let coordinator = user(&store, o, "a@example.no", Role::Coordinator).await;
    let kari = paused_mentor(&store, o, "Kari", Some(days(400)), Some(days(3))).await;
    let kari_login = login(&store, o, "kari@example.no", kari).await;
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
    let notes = all_notifications(&store, &kari_login).await;
    assert_eq!(
        notes
            .iter()
            .map(|n| (n.kind.as_str(), n.payload["resume_on"].clone()))
            .collect::<Vec<_>>(),
        [
            ("resume_notice", serde_json::json!(days(9))),
            ("resume_notice", serde_json::json!(days(3))),
        ]
    );
    assert_eq!(notes[0].mentor_id, Some(kari));
    // Another organisation's mentor is not noticed here; nor are notices given twice in a batch.
    assert_eq!(
        store
            .claim_resume_notices(other.id, run, today(), vec![notice(kari, days(5))], t(NOW))
            .await
            .unwrap(),
        0
    );
    assert!(
        store
            .claim_resume_notices(
                o,
                run,
                today(),
                vec![notice(kari, days(5)), notice(kari, days(5))],
                t(NOW)
            )
            .await
            .is_err()
    );
    assert_eq!(kinds(&store, &kari_login).await.len(), 2);
    assert_eq!(
        store
            .claim_resume_notices(o, run, today(), Vec::new(), t(NOW))
            .await
            .unwrap(),
        0
    );
    // A mentor with a notice for its return date is no longer in the worklist's `resume_soon`.
    assert!(
        store
            .expiry_worklist(o, today(), 30, 3)
            .await
            .unwrap()
            .resume_soon
            .is_empty()
    );

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
    let claimers = (0..10).map(|i| {
        let store = store.clone();
        let mut claims: Vec<ResumeNoticeClaim> = mentors
            .iter()
            .map(|m| {
                let mut n = notice(*m, days(2));
                n.notification.recipient = Recipient::User(coordinator.id);
                n
            })
            .collect();
        claims.rotate_left(i);
        async move {
            store
                .claim_resume_notices(o, RunId::new(), today(), claims, t(NOW))
                .await
                .expect("claim")
        }
    });
    let won: u64 = join_all(claimers).await.into_iter().sum();
    assert_eq!(won, 15);
    let notes = all_notifications(&store, &coordinator).await;
    assert_eq!(notes.len(), 15);
    assert_eq!(
        notes
            .iter()
            .map(|n| n.mentor_id)
            .collect::<HashSet<_>>()
            .len(),
        15
    );
}

/// Ten runs expiring the same 200 mentors at once, each in batches of the worklist's order (by id)
/// but cut at other places (a run that read later sees a shorter list): every mentor is expired once,
/// and nobody deadlocks or fails.
pub async fn concurrent_runs_batching_in_worklist_order_expire_each_mentor_once<S: Store>(
    store: S,
) {
    let o = org(&store, "hlf").await.id;
    let coordinator = user(&store, o, "a@example.no", Role::Coordinator).await;
    let batch: Vec<NewMentor> = (0..200)
        .map(|i| new_certified(&format!("Mentor {i:03}"), Some(days(-1))))
        .collect();
    register(&store, o, batch).await;
    let facts = store
        .expiry_worklist(o, today(), 30, 3)
        .await
        .unwrap()
        .lapsed_active;
    assert_eq!(facts.len(), 200);
    let runs = (0..10).map(|i| {
        let store = store.clone();
        let mut facts = facts.clone();
        facts.drain(..i * 3);
        async move {
            let run = RunId::new();
            let mut applied = 0;
            for chunk in facts.chunks(50) {
                let changes = chunk
                    .iter()
                    .map(|f| {
                        let mut c = expiry(o, f, run);
                        c.notifications =
                            vec![notify(Recipient::User(coordinator.id), "mentor_expired")];
                        c
                    })
                    .collect();
                let outcomes = store.apply_changes(changes).await.expect("apply");
                assert!(
                    outcomes.iter().all(|x| matches!(
                        x,
                        ChangeOutcome::Applied
                            | ChangeOutcome::AlreadyRecorded
                            | ChangeOutcome::LostRace
                    )),
                    "{outcomes:?}"
                );
                applied += outcomes
                    .iter()
                    .filter(|x| **x == ChangeOutcome::Applied)
                    .count();
            }
            applied
        }
    });
    let total: usize = join_all(runs).await.into_iter().sum();
    assert_eq!(total, 200);
    assert_eq!(
        store.find_duplicate_effects(o).await.unwrap(),
        Vec::new(),
        "one expiry per certification period"
    );
    assert_eq!(all_notifications(&store, &coordinator).await.len(), 200);
    let expired = store
        .list_mentors(
            o,
            MentorFilter {
                status: Some(MentorStatus::CertificationExpired),
                ..Default::default()
            },
            today(),
            500,
            None,
        )
        .await
        .unwrap();
    assert_eq!(expired.items.len(), 200);
    assert!(expired.items.iter().all(|m| m.version == 2));
    assert!(
        store
            .expiry_worklist(o, today(), 30, 3)
            .await
            .unwrap()
            .lapsed_active
            .is_empty()
    );
}
