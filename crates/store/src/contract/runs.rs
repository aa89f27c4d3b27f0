//! Job runs: scheduled claims and their leases, manual runs, the run log, and the coordinator digest
//! written when the day's runs finish.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::{MentorId, OrgId, Role};
use futures::future::join_all;

use super::{
    NOW, TODAY, all_notifications, assert_not_found, days, expiry, kinds, mentor, new_certified,
    notice, notify, org, paused_mentor, register, reminder, t, today, user,
};
use crate::{
    ChangeOutcome, FinishedRun, NewMentor, NewRun, Notification, Recipient, RunCounts, RunFinish,
    RunId, RunOutcome, RunTrigger, Store, User,
};

const DIGEST: &str = "coordinator_digest";

/// A scheduled run of the expiry job, leased for ten minutes from `at`.
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

pub(super) async fn manual_run<S: Store>(
    store: &S,
    org: OrgId,
    business_date: NaiveDate,
    at: DateTime<Utc>,
) -> RunId {
    let mut run = new_run(org, business_date, "cli", at);
    run.trigger = RunTrigger::Manual;
    store.start_run(run.clone()).await.expect("start run");
    run.id
}

pub(super) fn finish(
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

pub async fn a_scheduled_run_is_claimed_once_among_concurrent_claimers<S: Store>(store: S) {
    let o = org(&store, "hlf").await.id;
    let runs: Vec<NewRun> = (0..5)
        .map(|i| new_run(o, today(), &format!("instance-{i}"), t(NOW)))
        .collect();
    let claims = join_all(runs.iter().cloned().map(|run| {
        let store = store.clone();
        async move { store.claim_scheduled_run(run).await.expect("claim") }
    }))
    .await;
    assert_eq!(claims.iter().filter(|won| **won).count(), 1, "{claims:?}");
    let winner = &runs[claims.iter().position(|won| *won).unwrap()];
    let log = store.runs(o, 10, None).await.unwrap().items;
    assert_eq!(log.len(), 1, "only the winner is recorded");
    let record = &log[0];
    assert_eq!(record.id, winner.id);
    assert_eq!(record.instance, winner.instance);
    assert_eq!(
        (record.job.as_str(), record.org_id, record.business_date),
        ("expiry", o, today())
    );
    assert_eq!(record.trigger, RunTrigger::Scheduled);
    assert_eq!(record.outcome, RunOutcome::Running);
    assert_eq!((record.started_at, record.finished_at), (t(NOW), None));
    assert_eq!(
        (record.counts, record.error.as_deref()),
        (RunCounts::default(), None)
    );

    // Another date, another job, or another organisation is another claim.
    assert!(
        store
            .claim_scheduled_run(new_run(o, days(1), "x", t(NOW)))
            .await
            .unwrap()
    );
    let mut other_job = new_run(o, today(), "x", t(NOW));
    other_job.job = "sync".into();
    assert!(store.claim_scheduled_run(other_job).await.unwrap());
    let other = org(&store, "other").await.id;
    assert!(
        store
            .claim_scheduled_run(new_run(other, today(), "x", t(NOW)))
            .await
            .unwrap()
    );
    assert_eq!(store.runs(o, 10, None).await.unwrap().items.len(), 3);
}

pub async fn an_expired_lease_is_taken_over_and_the_old_run_is_marked_failed<S: Store>(store: S) {
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
    assert_eq!(
        store.runs(o, 10, None).await.unwrap().items.len(),
        1,
        "losers are not recorded"
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

    // The old instance coming back cannot renew its way back into the claim, or back to running:
    // the claim stays the new owner's, with the new owner's lease (until at + 10 minutes).
    store
        .renew_run_lease(first.id, at + Duration::hours(1))
        .await
        .unwrap();
    assert!(
        !store
            .claim_scheduled_run(new_run(o, today(), "host-c:3", at + Duration::minutes(5)))
            .await
            .unwrap()
    );
    let third = new_run(o, today(), "host-c:3", at + Duration::minutes(11));
    assert!(
        store.claim_scheduled_run(third.clone()).await.unwrap(),
        "the old run's renewal did not extend the claim"
    );
    let log = store.runs(o, 10, None).await.unwrap().items;
    assert_eq!(
        log.iter().map(|r| (r.id, r.outcome)).collect::<Vec<_>>(),
        [
            (third.id, RunOutcome::Running),
            (second.id, RunOutcome::Failed),
            (first.id, RunOutcome::Failed),
        ]
    );
    assert_eq!(
        log[1].error.as_deref(),
        Some("lease expired; taken over by host-c:3")
    );
    assert_eq!(
        log[2].error.as_deref(),
        Some("lease expired; taken over by host-b:2"),
        "a failed run is not failed again"
    );
    assert_not_found(
        store.renew_run_lease(RunId::new(), at).await.unwrap_err(),
        "run",
    );
}

pub async fn a_completed_claim_is_never_taken_again_and_a_failed_one_is_retried<S: Store>(
    store: S,
) {
    let o = org(&store, "hlf").await.id;
    let start = t(NOW);
    let run = new_run(o, today(), "a", start);
    assert!(store.claim_scheduled_run(run.clone()).await.unwrap());
    let counts = RunCounts {
        expired: 3,
        reminders_sent: 2,
        queued: 1,
        ..RunCounts::default()
    };
    let finished = store
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
    assert_eq!(finished, FinishedRun::default(), "no digest asked for");
    let later = start + Duration::days(3);
    assert!(
        !store
            .claim_scheduled_run(new_run(o, today(), "b", later))
            .await
            .unwrap()
    );
    let record = &store.runs(o, 1, None).await.unwrap().items[0];
    assert_eq!(record.id, run.id);
    assert_eq!(record.outcome, RunOutcome::Succeeded);
    assert_eq!(record.counts, counts);
    assert_eq!(record.error, None);
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

pub async fn the_run_log_pages_newest_first<S: Store>(store: S) {
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
    let run = &third.items[0];
    assert_eq!(run.trigger, RunTrigger::Manual);
    assert_eq!((run.job.as_str(), run.instance.as_str()), ("expiry", "cli"));
    assert_eq!((run.org_id, run.business_date), (o, today()));
    assert_eq!((run.started_at, run.finished_at), (t(NOW), None));
    assert_eq!(run.outcome, RunOutcome::Running);
    let exact = store.runs(o, 5, None).await.unwrap();
    assert_eq!((exact.items.len(), exact.next), (5, None));
    assert_eq!(store.runs(other, 10, None).await.unwrap().items.len(), 1);

    // Manual runs are always allowed, even while a scheduled claim holds the day.
    assert!(
        store
            .claim_scheduled_run(new_run(o, days(1), "a", t(NOW)))
            .await
            .unwrap()
    );
    manual_run(&store, o, days(1), t(NOW)).await;
    assert_eq!(store.runs(o, 10, None).await.unwrap().items.len(), 7);
}

// --- the coordinator digest ---

/// An organisation with two coordinators (sorted by id) and an admin.
pub(super) async fn digest_fixture<S: Store>(store: &S) -> (OrgId, Vec<User>, User) {
    let o = org(store, "hlf").await.id;
    let mut coordinators = vec![
        user(store, o, "a@example.no", Role::Coordinator).await,
        user(store, o, "b@example.no", Role::Coordinator).await,
    ];
    coordinators.sort_by_key(|u| u.id);
    let admin = user(store, o, "admin@example.no", Role::Admin).await;
    (o, coordinators, admin)
}

/// One expiry, one sent and one skipped reminder, one resume notice, all by `run`.
pub(super) async fn effects<S: Store>(store: &S, o: OrgId, run: RunId, name: &str) -> MentorId {
    let lapsed = mentor(store, o, &format!("{name} Lapsed"), Some(days(-1))).await;
    let facts = store.mentor_facts(o, vec![lapsed]).await.unwrap().remove(0);
    let mut expired = expiry(o, &facts, run);
    expired.notifications = vec![notify(Recipient::Mentor(lapsed), "certification_expired")];
    assert_eq!(
        store.apply_changes(vec![expired]).await.unwrap(),
        [ChangeOutcome::Applied]
    );
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

/// `user`'s digests, oldest first.
async fn digests<S: Store>(store: &S, user: &User) -> Vec<Notification> {
    let mut all: Vec<Notification> = all_notifications(store, user)
        .await
        .into_iter()
        .filter(|n| n.kind == DIGEST)
        .collect();
    all.reverse();
    all
}

fn names(list: &serde_json::Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|item| item["full_name"].as_str().unwrap().to_owned())
        .collect()
}

pub async fn a_finished_run_writes_one_digest_per_coordinator_listing_what_it_did<S: Store>(
    store: S,
) {
    let (o, coordinators, admin) = digest_fixture(&store).await;
    let at = t(NOW);
    let run = manual_run(&store, o, today(), at).await;
    let lapsed = effects(&store, o, run, "Kari").await;
    let finished_at = at + Duration::minutes(1);
    let finished = store
        .finish_run(finish(
            run,
            RunOutcome::Succeeded,
            finished_at,
            Some(today()),
        ))
        .await
        .unwrap();
    assert_eq!(
        finished,
        FinishedRun {
            digests: 2,
            deferred: false
        }
    );

    let first = digests(&store, &coordinators[0]).await;
    let second = digests(&store, &coordinators[1]).await;
    assert_eq!((first.len(), second.len()), (1, 1));
    assert!(
        digests(&store, &admin).await.is_empty(),
        "admins get no digest"
    );
    let digest = &first[0];
    assert_eq!(
        (digest.mentor_id, digest.recipient_mentor_id),
        (None, None),
        "a digest is about no one mentor"
    );
    assert_eq!(digest.recipient_user_id, Some(coordinators[0].id));
    assert_eq!(digest.created_at, finished_at);
    let payload = &digest.payload;
    assert_eq!(
        payload, &second[0].payload,
        "every coordinator gets the same digest"
    );
    assert_eq!(payload["business_date"], serde_json::json!(TODAY));
    assert!(
        payload["digest_id"]
            .as_str()
            .is_some_and(|id| uuid::Uuid::parse_str(id).is_ok()),
        "{payload}"
    );
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
    assert_eq!(finished, FinishedRun::default());
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
    for coordinator in &coordinators {
        assert_eq!(digests(&store, coordinator).await.len(), 1);
    }
    // A later day with new effects gets its digest, listing only the new ones.
    let next = manual_run(&store, o, days(2), at + Duration::days(2)).await;
    effects(&store, o, next, "Ola").await;
    let finished = store
        .finish_run(finish(
            next,
            RunOutcome::Succeeded,
            at + Duration::days(2),
            Some(days(2)),
        ))
        .await
        .unwrap();
    assert_eq!(finished.digests, 2);
    let later = digests(&store, &coordinators[0]).await;
    assert_eq!(later.len(), 2);
    assert_eq!(names(&later[1].payload["transitions"]), ["Ola Lapsed"]);
    assert_eq!(
        later[1].payload["business_date"],
        serde_json::json!(days(2))
    );
    assert!(store.find_duplicate_effects(o).await.unwrap().is_empty());
}

pub async fn effects_after_the_days_digest_go_into_the_next_dates_digest<S: Store>(store: S) {
    let (o, coordinators, _) = digest_fixture(&store).await;
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
    assert_eq!(written, FinishedRun::default());
    assert_eq!(digests(&store, &coordinators[0]).await.len(), 1);

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
    for coordinator in &coordinators {
        let digests = digests(&store, coordinator).await;
        assert_eq!(digests.len(), 2);
        let (day1, day2) = (&digests[0].payload, &digests[1].payload);
        assert_eq!(day1["business_date"], serde_json::json!(TODAY));
        assert_eq!(names(&day1["transitions"]), ["Anne Lapsed"]);
        assert_eq!(day2["business_date"], serde_json::json!(days(1)));
        assert_eq!(names(&day2["transitions"]), ["Bjorn Lapsed"]);
        assert_eq!(names(&day2["reminders"]), ["Bjorn Expiring"]);
        assert_eq!(names(&day2["resume_notices"]), ["Bjorn Paused"]);
    }
}

pub async fn the_last_run_to_finish_writes_the_digest<S: Store>(store: S) {
    let (o, coordinators, _) = digest_fixture(&store).await;
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
    assert_eq!(
        written,
        FinishedRun {
            digests: 0,
            deferred: true
        }
    );
    assert!(digests(&store, &coordinators[0]).await.is_empty());
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
    assert_eq!(
        written,
        FinishedRun {
            digests: 2,
            deferred: false
        }
    );
    let written = digests(&store, &coordinators[0]).await;
    assert_eq!(
        names(&written[0].payload["transitions"]),
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
    assert_eq!(
        written,
        FinishedRun {
            digests: 2,
            deferred: false
        }
    );
    let written = digests(&store, &coordinators[0]).await;
    assert_eq!(written.len(), 2);
    assert_eq!(
        names(&written[1].payload["transitions"]),
        ["Crashed Lapsed"]
    );
}

pub async fn a_deferred_digest_is_written_by_write_digest_once_no_other_run_is_alive<S: Store>(
    store: S,
) {
    let (o, coordinators, _) = digest_fixture(&store).await;
    let at = t(NOW);
    let early = manual_run(&store, o, today(), at).await;
    let late = manual_run(&store, o, today(), at).await;
    effects(&store, o, early, "Early").await;
    let deferred = FinishedRun {
        digests: 0,
        deferred: true,
    };
    assert_eq!(
        store
            .finish_run(finish(
                early,
                RunOutcome::Succeeded,
                at + Duration::minutes(1),
                Some(today()),
            ))
            .await
            .unwrap(),
        deferred
    );
    // Asking again while `late` is alive defers again.
    assert_eq!(
        store
            .write_digest(o, "expiry", early, today(), at + Duration::minutes(2))
            .await
            .unwrap(),
        deferred
    );
    // `late` fails: a failed run writes no digest, but no longer holds it back either.
    assert_eq!(
        store
            .finish_run(RunFinish {
                error: Some("boom".into()),
                ..finish(
                    late,
                    RunOutcome::Failed,
                    at + Duration::minutes(3),
                    Some(today()),
                )
            })
            .await
            .unwrap(),
        FinishedRun::default()
    );
    assert!(digests(&store, &coordinators[0]).await.is_empty());
    let written = store
        .write_digest(o, "expiry", early, today(), at + Duration::minutes(4))
        .await
        .unwrap();
    assert_eq!(
        written,
        FinishedRun {
            digests: 2,
            deferred: false
        }
    );
    for coordinator in &coordinators {
        let digests = digests(&store, coordinator).await;
        assert_eq!(digests.len(), 1);
        assert_eq!(names(&digests[0].payload["transitions"]), ["Early Lapsed"]);
        assert_eq!(
            digests[0].payload["business_date"],
            serde_json::json!(TODAY)
        );
    }
    // One digest per organisation and date: asking again writes nothing.
    assert_eq!(
        store
            .write_digest(o, "expiry", early, today(), at + Duration::minutes(5))
            .await
            .unwrap(),
        FinishedRun::default()
    );
    assert_eq!(digests(&store, &coordinators[0]).await.len(), 1);
    assert!(
        kinds(&store, &coordinators[1])
            .await
            .iter()
            .all(|k| k == DIGEST)
    );
}

pub async fn a_digest_lists_at_most_500_items_per_kind_with_true_counts<S: Store>(store: S) {
    let (o, coordinators, _) = digest_fixture(&store).await;
    let run = manual_run(&store, o, today(), t(NOW)).await;
    let batch: Vec<NewMentor> = (0..520)
        .map(|i| new_certified(&format!("Mentor {i:03}"), Some(days(-1))))
        .collect();
    register(&store, o, batch).await;
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
    let digest = digests(&store, &coordinators[0]).await.remove(0);
    let payload = &digest.payload;
    assert_eq!(payload["transitions"].as_array().unwrap().len(), 500);
    assert_eq!(payload["counts"]["transitions"], serde_json::json!(520));
    assert_eq!(names(&payload["transitions"])[0], "Mentor 000");
}
