//! The public listing sync: relay leases, each outcome a relay records, force sync and the nightly
//! selections, reconciliation targets, status numbers, dead letters, credential checks, wake-ups and
//! pruning. Outbox times are the database's clock, so checks pass durations: zero (due at once) or an
//! hour (not due during the check).

use std::collections::HashSet;
use std::time::Duration;

use domain::{MentorId, MentorStatus, OrgId};
use futures::future::join_all;
use uuid::Uuid;

use super::{
    HOUR, NOW, change, date, linked_mentor, mentor, new_certified, org, pause, pending, register,
    relay, t,
};
use crate::{
    ClaimedMentor, CredentialCheck, DeadReason, DynamicsLink, MentorPatch, MentorsClaim, Store,
    SyncClaim, SyncFailure, SyncOutcome, SyncPriority, SyncRecord, SyncResult, SyncSelection,
    SyncStatusRecord,
};

/// Lease up to `limit` mentors of `org` to `owner` for an hour.
async fn claim<S: Store>(store: &S, org: OrgId, owner: Uuid, limit: usize) -> Vec<ClaimedMentor> {
    store
        .claim_sync(relay(org, owner, limit))
        .await
        .expect("claim")
}

fn mentors_of(claimed: &[ClaimedMentor]) -> Vec<MentorId> {
    let mut ids: Vec<MentorId> = claimed.iter().map(|m| m.mentor).collect();
    ids.sort();
    ids
}

fn result(mentor: MentorId, outcome: SyncOutcome) -> SyncResult {
    SyncResult { mentor, outcome }
}

fn pushed(claimed: &ClaimedMentor) -> SyncResult {
    result(
        claimed.mentor,
        SyncOutcome::Pushed {
            version: claimed.version,
        },
    )
}

fn retry(error: &str, after: Duration) -> SyncOutcome {
    SyncOutcome::Retry {
        error: error.to_owned(),
        after,
    }
}

async fn sync_of<S: Store>(store: &S, org: OrgId, mentor: MentorId) -> SyncRecord {
    store.mentor(org, mentor).await.expect("mentor").sync
}

async fn queue_status<S: Store>(store: &S, org: OrgId) -> SyncStatusRecord {
    store.sync_status(org, HOUR).await.expect("sync status")
}

pub async fn sync_leases_give_each_mentor_to_one_relay<S: Store>(store: S) {
    let hlf = org(&store, "hlf").await.id;
    let other = org(&store, "other").await.id;
    for n in 0..6 {
        linked_mentor(&store, hlf, &format!("Mentor {n}")).await;
    }
    let foreign = linked_mentor(&store, other, "Foreign").await;
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let first = claim(&store, hlf, a, 4).await;
    let second = claim(&store, hlf, b, 4).await;
    assert_eq!((first.len(), second.len()), (4, 2));
    assert!(
        first
            .iter()
            .all(|m| second.iter().all(|n| n.mentor != m.mentor)),
        "no mentor leased twice"
    );
    assert!(claim(&store, hlf, a, 4).await.is_empty());
    assert!(claim(&store, hlf, Uuid::new_v4(), 4).await.is_empty());
    assert_eq!(
        mentors_of(&claim(&store, other, Uuid::new_v4(), 10).await),
        vec![foreign],
        "each organisation's queue is its own"
    );
    let recorded = store
        .record_sync_results(hlf, a, first.iter().map(pushed).collect())
        .await
        .unwrap();
    assert_eq!(recorded.confirmed_lag_ms.len(), 4);
    assert!(recorded.confirmed_lag_ms.iter().all(|lag| *lag >= 0));
    assert_eq!(recorded.dead, 0);
    let done = store.mentor(hlf, first[0].mentor).await.unwrap();
    assert_eq!(done.sync.pushed_version, Some(done.version));
    assert!(done.sync.pushed_at.is_some());
    assert_eq!((done.sync.failure, done.sync.last_error), (None, None));
    let status = queue_status(&store, hlf).await;
    assert_eq!((status.pending, status.confirmed), (2, 4));

    // Relays claiming at the same time never share a mentor, and leave the rest for the next claim.
    let busy = org(&store, "busy").await.id;
    let mut all = HashSet::new();
    for n in 0..12 {
        all.insert(linked_mentor(&store, busy, &format!("Busy {n:02}")).await);
    }
    let claims = join_all((0..5).map(|_| {
        let store = store.clone();
        async move { claim(&store, busy, Uuid::new_v4(), 3).await }
    }))
    .await;
    let mut leased = HashSet::new();
    for claimed in &claims {
        assert!(claimed.len() <= 3);
        for m in claimed {
            assert!(leased.insert(m.mentor), "{} leased twice", m.mentor);
        }
    }
    for m in claim(&store, busy, Uuid::new_v4(), 100).await {
        assert!(leased.insert(m.mentor), "{} leased twice", m.mentor);
    }
    assert_eq!(leased, all);
}

pub async fn an_expired_sync_lease_is_taken_over_by_another_relay<S: Store>(store: S) {
    let o = org(&store, "hlf").await.id;
    let id = linked_mentor(&store, o, "Kari").await;
    let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    // A lease of zero has run out as soon as it is taken: the relay died at once.
    let leased = store
        .claim_sync(SyncClaim {
            lease: Duration::ZERO,
            ..relay(o, a, 10)
        })
        .await
        .unwrap();
    assert_eq!(mentors_of(&leased), vec![id]);
    assert!(!leased[0].recovered, "a first claim recovers nothing");
    let taken = claim(&store, o, b, 10).await;
    assert_eq!(
        mentors_of(&taken),
        vec![id],
        "the rows came back with the lease's end"
    );
    assert_eq!(taken[0].attempts, 0, "a lost lease is no attempt");
    assert!(
        taken[0].recovered,
        "the dead relay may have pushed: the new owner is told"
    );
    assert!(
        claim(&store, o, c, 10).await.is_empty(),
        "the new lease holds"
    );
    let recorded = store
        .record_sync_results(o, b, taken.iter().map(pushed).collect())
        .await
        .unwrap();
    assert_eq!(recorded.confirmed_lag_ms.len(), 1);
    assert_eq!(sync_of(&store, o, id).await.pushed_version, Some(1));
    assert_eq!(pending(&store, o).await, 0);
    // Recorded leases are no longer suspect: the mentor's next change is an ordinary claim.
    let patch = MentorPatch {
        listed_publicly: Some(false),
        ..MentorPatch::default()
    };
    store
        .update_mentor(o, id, patch, chrono::Utc::now())
        .await
        .unwrap();
    let next = claim(&store, o, c, 10).await;
    assert_eq!(mentors_of(&next), vec![id]);
    assert!(!next[0].recovered);
}

/// A relay that stalled past its lease and was taken over records nothing — not a death, not a push
/// — and leaves the new owner's lease alone; the new owner's results count.
pub async fn results_of_a_relay_that_lost_its_lease_are_ignored<S: Store>(store: S) {
    let o = org(&store, "hlf").await.id;
    let id = linked_mentor(&store, o, "Kari").await;
    let (stalled, new_owner) = (Uuid::new_v4(), Uuid::new_v4());
    let leased = store
        .claim_sync(SyncClaim {
            lease: Duration::ZERO,
            ..relay(o, stalled, 10)
        })
        .await
        .unwrap();
    let taken = claim(&store, o, new_owner, 10).await;
    assert_eq!(mentors_of(&taken), mentors_of(&leased));
    let late = store
        .record_sync_results(
            o,
            stalled,
            vec![result(
                id,
                SyncOutcome::Dead {
                    version: leased[0].version,
                    reason: DeadReason::Failed,
                    error: "HTTP 400".into(),
                },
            )],
        )
        .await
        .unwrap();
    assert_eq!(late.dead, 0, "the stalled relay's verdict is ignored");
    let state = sync_of(&store, o, id).await;
    assert_eq!(state.failure, None, "{state:?}");
    assert_eq!(
        pending(&store, o).await,
        1,
        "the row still waits for the new owner"
    );
    assert!(
        claim(&store, o, Uuid::new_v4(), 10).await.is_empty(),
        "the new owner's lease holds"
    );
    let recorded = store
        .record_sync_results(o, new_owner, taken.iter().map(pushed).collect())
        .await
        .unwrap();
    assert_eq!(recorded.confirmed_lag_ms.len(), 1);
    assert_eq!(sync_of(&store, o, id).await.pushed_version, Some(1));
    assert_eq!(pending(&store, o).await, 0);
}

pub async fn a_claim_takes_high_priority_rows_first<S: Store>(store: S) {
    let o = org(&store, "hlf").await.id;
    let batch = (0..3)
        .map(|i| {
            let mut m = new_certified(&format!("Mentor {i}"), Some(date("2027-12-31")));
            m.dynamics_contact_id = Some(Uuid::new_v4());
            m
        })
        .collect();
    let ids = register(&store, o, batch).await;
    assert_eq!(
        store
            .queue_sync(o, SyncSelection::Mentor(ids[2]), SyncPriority::High)
            .await
            .unwrap(),
        1
    );
    let a = Uuid::new_v4();
    let first = claim(&store, o, a, 1).await;
    assert_eq!(mentors_of(&first), vec![ids[2]], "the forced mentor first");
    let recorded = store
        .record_sync_results(o, a, first.iter().map(pushed).collect())
        .await
        .unwrap();
    assert_eq!(
        recorded.confirmed_lag_ms.len(),
        2,
        "both of its rows are done: the registration's and the forced one"
    );
    let rest = claim(&store, o, Uuid::new_v4(), 1).await;
    assert_eq!(rest.len(), 1);
    assert_ne!(rest[0].mentor, ids[2]);
}

pub async fn a_claim_returns_each_mentors_current_state_and_link<S: Store>(store: S) {
    let o = org(&store, "hlf").await.id;
    let contact = Uuid::new_v4();
    let mut by_contact = new_certified("By Contact", Some(date("2027-12-31")));
    by_contact.dynamics_contact_id = Some(contact);
    let mut by_key = new_certified("By Key", Some(date("2027-12-31")));
    by_key.dynamics_key = Some("M-7".into());
    by_key.listed_publicly = false;
    let unlinked = new_certified("Unlinked", Some(date("2027-12-31")));
    let ids = register(&store, o, vec![by_contact, by_key, unlinked]).await;
    let mut paused = change(o, ids[0], MentorStatus::Active, 1);
    paused.transition = Some(pause(None));
    store.apply_change(paused).await.unwrap();

    let claimed = claim(&store, o, Uuid::new_v4(), 10).await;
    assert_eq!(mentors_of(&claimed), {
        let mut ids = ids.clone();
        ids.sort();
        ids
    });
    let of = |id: MentorId| claimed.iter().find(|m| m.mentor == id).unwrap().clone();
    assert_eq!(
        of(ids[0]),
        ClaimedMentor {
            mentor: ids[0],
            version: 2,
            status: MentorStatus::Paused,
            listed_publicly: true,
            link: Some(DynamicsLink::ContactId(contact)),
            attempts: 0,
            failing_for: None,
            recovered: false,
        }
    );
    assert_eq!(
        of(ids[1]),
        ClaimedMentor {
            mentor: ids[1],
            version: 1,
            status: MentorStatus::Active,
            listed_publicly: false,
            link: Some(DynamicsLink::Key("M-7".into())),
            attempts: 0,
            failing_for: None,
            recovered: false,
        }
    );
    assert_eq!(of(ids[2]).link, None);
}

pub async fn pushed_results_confirm_rows_up_to_the_pushed_version<S: Store>(store: S) {
    let o = org(&store, "hlf").await.id;
    let id = linked_mentor(&store, o, "Kari").await;
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let first = claim(&store, o, a, 10).await;
    assert_eq!(first[0].version, 1);
    // The mentor changes during the push: a newer row is queued, but the lease keeps other relays off.
    let unlisted = MentorPatch {
        listed_publicly: Some(false),
        ..Default::default()
    };
    store
        .update_mentor(o, id, unlisted, t("2026-05-02T09:00:00Z"))
        .await
        .unwrap();
    assert!(claim(&store, o, b, 10).await.is_empty());
    let recorded = store
        .record_sync_results(o, a, vec![result(id, SyncOutcome::Pushed { version: 1 })])
        .await
        .unwrap();
    assert_eq!((recorded.confirmed_lag_ms.len(), recorded.dead), (1, 0));
    let sync = sync_of(&store, o, id).await;
    assert_eq!(sync.pushed_version, Some(1));
    assert!(sync.pushed_at.is_some());
    assert_eq!((sync.last_error, sync.failure), (None, None));
    let status = queue_status(&store, o).await;
    assert_eq!(
        (status.pending, status.confirmed),
        (1, 1),
        "version 2 waits"
    );
    assert!(status.oldest_pending_at.is_some());

    let second = claim(&store, o, b, 10).await;
    assert_eq!(mentors_of(&second), vec![id]);
    assert_eq!((second[0].version, second[0].listed_publicly), (2, false));
    let recorded = store
        .record_sync_results(o, b, second.iter().map(pushed).collect())
        .await
        .unwrap();
    assert_eq!(recorded.confirmed_lag_ms.len(), 1);
    assert_eq!(sync_of(&store, o, id).await.pushed_version, Some(2));
    let status = queue_status(&store, o).await;
    assert_eq!((status.pending, status.confirmed), (0, 2));
    assert_eq!(status.oldest_pending_at, None);
    let (p50, p95, p99) = (
        status.lag_p50_ms.unwrap(),
        status.lag_p95_ms.unwrap(),
        status.lag_p99_ms.unwrap(),
    );
    assert!(0.0 <= p50 && p50 <= p95 && p95 <= p99, "{status:?}");
    assert!(claim(&store, o, b, 10).await.is_empty());

    // A late result for an older version does not move the pushed version back.
    store
        .record_sync_results(o, a, vec![result(id, SyncOutcome::Pushed { version: 1 })])
        .await
        .unwrap();
    assert_eq!(sync_of(&store, o, id).await.pushed_version, Some(2));
}

pub async fn unlinked_results_confirm_rows_without_a_push<S: Store>(store: S) {
    let o = org(&store, "hlf").await.id;
    let id = mentor(&store, o, "Kari", Some(date("2027-12-31"))).await;
    let owner = Uuid::new_v4();
    let claimed = claim(&store, o, owner, 10).await;
    assert_eq!(mentors_of(&claimed), vec![id]);
    assert_eq!(claimed[0].link, None);
    let recorded = store
        .record_sync_results(
            o,
            owner,
            vec![result(id, SyncOutcome::Unlinked { version: 1 })],
        )
        .await
        .unwrap();
    assert_eq!((recorded.confirmed_lag_ms.len(), recorded.dead), (1, 0));
    assert_eq!(
        sync_of(&store, o, id).await,
        SyncRecord::default(),
        "nothing was pushed"
    );
    let status = queue_status(&store, o).await;
    assert_eq!((status.pending, status.confirmed), (0, 1));
    assert!(claim(&store, o, owner, 10).await.is_empty());
}

pub async fn retried_results_count_attempts_and_come_back_when_due<S: Store>(store: S) {
    let o = org(&store, "hlf").await.id;
    let soon = linked_mentor(&store, o, "Soon").await;
    let later = linked_mentor(&store, o, "Later").await;
    let a = Uuid::new_v4();
    assert_eq!(claim(&store, o, a, 10).await.len(), 2);
    let recorded = store
        .record_sync_results(
            o,
            a,
            vec![
                result(soon, retry("503 service unavailable", Duration::ZERO)),
                result(later, retry("timeout", HOUR)),
            ],
        )
        .await
        .unwrap();
    assert_eq!((recorded.confirmed_lag_ms.len(), recorded.dead), (0, 0));
    let sync = sync_of(&store, o, soon).await;
    assert_eq!(sync.failure, Some(SyncFailure::Retrying));
    assert_eq!(sync.last_error.as_deref(), Some("503 service unavailable"));
    assert_eq!(sync.pushed_version, None);
    let status = queue_status(&store, o).await;
    assert_eq!((status.retrying, status.pending, status.dead), (2, 2, 0));

    // Due at once: back with one attempt counted; the other is not due for an hour.
    let b = Uuid::new_v4();
    let again = claim(&store, o, b, 10).await;
    assert_eq!(mentors_of(&again), vec![soon]);
    assert_eq!(again[0].attempts, 1);
    assert!(again[0].failing_for.is_some());
    store
        .record_sync_results(o, b, vec![result(soon, retry("503 again", Duration::ZERO))])
        .await
        .unwrap();
    let third = claim(&store, o, b, 10).await;
    assert_eq!(mentors_of(&third), vec![soon]);
    assert_eq!(third[0].attempts, 2);
    assert_eq!(
        sync_of(&store, o, soon).await.last_error.as_deref(),
        Some("503 again")
    );

    // A success ends the failure.
    store
        .record_sync_results(o, b, third.iter().map(pushed).collect())
        .await
        .unwrap();
    let sync = sync_of(&store, o, soon).await;
    assert_eq!((sync.failure, sync.last_error), (None, None));
    assert_eq!(sync.pushed_version, Some(1));
    assert_eq!(queue_status(&store, o).await.retrying, 1);
    store
        .update_mentor(
            o,
            soon,
            MentorPatch {
                listed_publicly: Some(false),
                ..Default::default()
            },
            t("2026-05-02T09:00:00Z"),
        )
        .await
        .unwrap();
    let fresh = claim(&store, o, b, 10).await;
    assert_eq!(mentors_of(&fresh), vec![soon]);
    assert_eq!((fresh[0].attempts, fresh[0].failing_for), (0, None));
}

pub async fn released_results_come_back_without_counting_an_attempt<S: Store>(store: S) {
    let o = org(&store, "hlf").await.id;
    let id = linked_mentor(&store, o, "Kari").await;
    let held = linked_mentor(&store, o, "Held").await;
    let a = Uuid::new_v4();
    assert_eq!(claim(&store, o, a, 10).await.len(), 2);
    store
        .record_sync_results(
            o,
            a,
            vec![
                result(
                    id,
                    SyncOutcome::Released {
                        after: Duration::ZERO,
                    },
                ),
                result(held, SyncOutcome::Released { after: HOUR }),
            ],
        )
        .await
        .unwrap();
    let status = queue_status(&store, o).await;
    assert_eq!((status.pending, status.retrying, status.dead), (2, 0, 0));
    assert_eq!(sync_of(&store, o, id).await, SyncRecord::default());
    let back = claim(&store, o, a, 10).await;
    assert_eq!(mentors_of(&back), vec![id], "the held one is not due yet");
    assert_eq!((back[0].attempts, back[0].failing_for), (0, None));

    // A release after a failure keeps the failure and its attempts.
    store
        .record_sync_results(o, a, vec![result(id, retry("503", Duration::ZERO))])
        .await
        .unwrap();
    assert_eq!(claim(&store, o, a, 10).await[0].attempts, 1);
    store
        .record_sync_results(
            o,
            a,
            vec![result(
                id,
                SyncOutcome::Released {
                    after: Duration::ZERO,
                },
            )],
        )
        .await
        .unwrap();
    let back = claim(&store, o, a, 10).await;
    assert_eq!(mentors_of(&back), vec![id]);
    assert_eq!(back[0].attempts, 1);
    let sync = sync_of(&store, o, id).await;
    assert_eq!(sync.failure, Some(SyncFailure::Retrying));
    assert_eq!(sync.last_error.as_deref(), Some("503"));
}

pub async fn dead_results_bury_rows_until_retried<S: Store>(store: S) {
    let o = org(&store, "hlf").await.id;
    let other = org(&store, "other").await.id;
    let first = linked_mentor(&store, o, "First").await;
    let second = linked_mentor(&store, o, "Second").await;
    let a = Uuid::new_v4();
    assert_eq!(claim(&store, o, a, 10).await.len(), 2);
    let recorded = store
        .record_sync_results(
            o,
            a,
            vec![
                result(
                    first,
                    SyncOutcome::Dead {
                        version: 1,
                        reason: DeadReason::Failed,
                        error: "400 bad request".into(),
                    },
                ),
                result(
                    second,
                    SyncOutcome::Dead {
                        version: 1,
                        reason: DeadReason::NotFound,
                        error: "404 not found".into(),
                    },
                ),
            ],
        )
        .await
        .unwrap();
    assert_eq!((recorded.confirmed_lag_ms.len(), recorded.dead), (0, 2));
    let sync = sync_of(&store, o, first).await;
    assert_eq!(sync.failure, Some(SyncFailure::Dead));
    assert_eq!(sync.last_error.as_deref(), Some("400 bad request"));
    assert_eq!(sync.pushed_version, None);
    assert_eq!(
        sync_of(&store, o, second).await.failure,
        Some(SyncFailure::NotFound)
    );
    let status = queue_status(&store, o).await;
    assert_eq!((status.dead, status.pending, status.retrying), (2, 0, 0));
    assert!(claim(&store, o, a, 10).await.is_empty(), "dead rows wait");

    let letters = store.dead_letters(o, 10).await.unwrap();
    assert_eq!(
        letters
            .iter()
            .map(|l| (
                l.mentor,
                l.full_name.as_str(),
                l.rows,
                l.last_error.as_deref()
            ))
            .collect::<Vec<_>>(),
        [
            (second, "Second", 1, Some("404 not found")),
            (first, "First", 1, Some("400 bad request")),
        ],
        "newest first"
    );
    assert_eq!(store.dead_letters(o, 1).await.unwrap().len(), 1);
    assert!(store.dead_letters(other, 10).await.unwrap().is_empty());
    assert_eq!(
        store
            .queue_sync(o, SyncSelection::Behind, SyncPriority::Normal)
            .await
            .unwrap(),
        0,
        "dead mentors wait for someone to retry them"
    );

    assert_eq!(store.retry_dead_sync(other, None).await.unwrap(), 0);
    assert_eq!(store.retry_dead_sync(o, Some(first)).await.unwrap(), 1);
    assert_eq!(sync_of(&store, o, first).await.failure, None);
    let status = queue_status(&store, o).await;
    assert_eq!((status.dead, status.pending), (1, 1));
    assert_eq!(
        store
            .dead_letters(o, 10)
            .await
            .unwrap()
            .iter()
            .map(|l| l.mentor)
            .collect::<Vec<_>>(),
        [second]
    );
    assert_eq!(store.retry_dead_sync(o, None).await.unwrap(), 1);
    assert_eq!(store.retry_dead_sync(o, None).await.unwrap(), 0);
    let status = queue_status(&store, o).await;
    assert_eq!((status.dead, status.pending), (0, 2));
    let back = claim(&store, o, a, 10).await;
    assert_eq!(mentors_of(&back), {
        let mut ids = vec![first, second];
        ids.sort();
        ids
    });
    assert!(back.iter().all(|m| m.attempts == 0));
}

pub async fn force_sync_queues_once_per_priority<S: Store>(store: S) {
    let o = org(&store, "hlf").await.id;
    let id = linked_mentor(&store, o, "Kari").await;
    let force = || store.queue_sync(o, SyncSelection::Mentor(id), SyncPriority::High);
    assert_eq!(force().await.unwrap(), 1);
    assert_eq!(
        force().await.unwrap(),
        0,
        "one high-priority row waits already"
    );
    assert_eq!(
        store
            .queue_sync(o, SyncSelection::AllLinked, SyncPriority::Normal)
            .await
            .unwrap(),
        0,
        "rows at this priority or above are waiting"
    );
    assert_eq!(
        store
            .queue_sync(
                o,
                SyncSelection::Divergent(Vec::new()),
                SyncPriority::Normal
            )
            .await
            .unwrap(),
        0
    );
    assert_eq!(pending(&store, o).await, 2);
    let targets = store.sync_targets(o).await.unwrap();
    assert_eq!(targets.len(), 1);
    assert!(targets[0].pending);
}

pub async fn queue_sync_selects_mentors_by_selection<S: Store>(store: S) {
    let o = org(&store, "hlf").await.id;
    let other = org(&store, "other").await.id;
    let contact = linked_mentor(&store, o, "Contact").await;
    let mut keyed = new_certified("Keyed", Some(date("2027-12-31")));
    keyed.dynamics_key = Some("K-1".into());
    let keyed = register(&store, o, vec![keyed]).await[0];
    let plain = mentor(&store, o, "Plain", Some(date("2027-12-31"))).await;
    let foreign = linked_mentor(&store, other, "Foreign").await;
    let queue = |selection: SyncSelection, priority: SyncPriority| {
        let store = store.clone();
        async move { store.queue_sync(o, selection, priority).await.unwrap() }
    };
    // Push everything, so nothing waits.
    let drain = || {
        let store = store.clone();
        async move {
            let owner = Uuid::new_v4();
            let claimed = claim(&store, o, owner, 100).await;
            let results = claimed
                .iter()
                .map(|m| {
                    if m.link.is_some() {
                        pushed(m)
                    } else {
                        result(m.mentor, SyncOutcome::Unlinked { version: m.version })
                    }
                })
                .collect();
            store.record_sync_results(o, owner, results).await.unwrap();
            assert_eq!(pending(&store, o).await, 0);
            claimed.len()
        }
    };
    assert_eq!(drain().await, 3);

    // One mentor, linked or not, of this organisation only.
    assert_eq!(
        queue(SyncSelection::Mentor(plain), SyncPriority::Normal).await,
        1
    );
    assert_eq!(
        queue(SyncSelection::Mentor(foreign), SyncPriority::High).await,
        0
    );
    assert_eq!(
        queue(SyncSelection::Mentor(MentorId::new()), SyncPriority::High).await,
        0
    );
    // Every linked mentor; a pending row at this priority or above skips the mentor.
    assert_eq!(
        queue(SyncSelection::AllLinked, SyncPriority::Normal).await,
        2
    );
    assert_eq!(
        queue(SyncSelection::AllLinked, SyncPriority::Normal).await,
        0
    );
    assert_eq!(queue(SyncSelection::AllLinked, SyncPriority::High).await, 2);
    assert_eq!(queue(SyncSelection::AllLinked, SyncPriority::High).await, 0);
    assert_eq!(pending(&store, o).await, 5);
    assert_eq!(drain().await, 3);

    // Behind: linked mentors whose pushed version is behind their version.
    assert_eq!(queue(SyncSelection::Behind, SyncPriority::Normal).await, 0);
    store
        .update_mentor(
            o,
            contact,
            MentorPatch {
                listed_publicly: Some(false),
                ..Default::default()
            },
            t("2026-05-02T09:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(
        queue(SyncSelection::Behind, SyncPriority::Normal).await,
        0,
        "its new version waits already"
    );
    // The relay confirmed version 2 without pushing it (it saw no link then): still behind.
    let owner = Uuid::new_v4();
    let claimed = claim(&store, o, owner, 100).await;
    assert_eq!(mentors_of(&claimed), vec![contact]);
    assert_eq!(
        queue(SyncSelection::Behind, SyncPriority::Normal).await,
        0,
        "the push under way (its row hidden by the lease) covers it"
    );
    store
        .record_sync_results(
            o,
            owner,
            vec![result(contact, SyncOutcome::Unlinked { version: 2 })],
        )
        .await
        .unwrap();
    assert_eq!(pending(&store, o).await, 0);
    assert_eq!(queue(SyncSelection::Behind, SyncPriority::Normal).await, 1);
    let behind = claim(&store, o, owner, 100).await;
    assert_eq!(mentors_of(&behind), vec![contact]);
    assert_eq!(behind[0].version, 2);
    store
        .record_sync_results(o, owner, behind.iter().map(pushed).collect())
        .await
        .unwrap();

    // Divergent: these linked mentors at the versions the comparison saw, unless something of
    // theirs is pending.
    assert_eq!(
        queue(SyncSelection::Mentor(contact), SyncPriority::Normal).await,
        1
    );
    let at = |m: MentorId, version: i64| (m, version);
    assert_eq!(
        queue(
            SyncSelection::Divergent(vec![
                at(keyed, 1),
                at(plain, 1),
                at(contact, 2),
                at(foreign, 1),
                at(MentorId::new(), 1)
            ]),
            SyncPriority::Normal
        )
        .await,
        1,
        "only Keyed: Plain is not linked, Contact is pending, Foreign is elsewhere"
    );
    assert_eq!(
        queue(
            SyncSelection::Divergent(vec![at(keyed, 1)]),
            SyncPriority::Normal
        )
        .await,
        0
    );
    assert_eq!(
        queue(SyncSelection::Divergent(Vec::new()), SyncPriority::High).await,
        0
    );
    let queued = claim(&store, o, owner, 100).await;
    assert_eq!(mentors_of(&queued), {
        let mut ids = vec![contact, keyed];
        ids.sort();
        ids
    });
    store
        .record_sync_results(o, owner, queued.iter().map(pushed).collect())
        .await
        .unwrap();
    // A mentor changed (and pushed) since the comparison read it is not queued: the remote read
    // may predate that push.
    let keyed_version = queued.iter().find(|m| m.mentor == keyed).unwrap().version;
    assert_eq!(
        queue(
            SyncSelection::Divergent(vec![at(keyed, keyed_version - 1)]),
            SyncPriority::Normal
        )
        .await,
        0,
        "changed since"
    );
    assert_eq!(
        queue(
            SyncSelection::Divergent(vec![at(keyed, keyed_version)]),
            SyncPriority::Normal
        )
        .await,
        1
    );
}

pub async fn sync_targets_are_the_linked_mentors_with_their_desired_state<S: Store>(store: S) {
    let o = org(&store, "hlf").await.id;
    let other = org(&store, "other").await.id;
    let contact_id = Uuid::new_v4();
    let mut contact = new_certified("Contact", Some(date("2027-12-31")));
    contact.dynamics_contact_id = Some(contact_id);
    let mut keyed = new_certified("Keyed", Some(date("2027-12-31")));
    keyed.dynamics_key = Some("K-1".into());
    keyed.listed_publicly = false;
    let plain = new_certified("Plain", Some(date("2027-12-31")));
    let ids = register(&store, o, vec![contact, keyed, plain]).await;
    linked_mentor(&store, other, "Foreign").await;
    let mut paused = change(o, ids[1], MentorStatus::Active, 1);
    paused.transition = Some(pause(None));
    store.apply_change(paused).await.unwrap();

    let targets = store.sync_targets(o).await.unwrap();
    assert_eq!(targets.len(), 2, "linked mentors of this organisation only");
    let of = |id: MentorId| targets.iter().find(|t| t.mentor == id).unwrap();
    let contact = of(ids[0]);
    assert_eq!(contact.link, DynamicsLink::ContactId(contact_id));
    assert_eq!(
        (
            contact.status,
            contact.listed_publicly,
            contact.version,
            contact.pending
        ),
        (MentorStatus::Active, true, 1, true)
    );
    let keyed = of(ids[1]);
    assert_eq!(keyed.link, DynamicsLink::Key("K-1".into()));
    assert_eq!(
        (
            keyed.status,
            keyed.listed_publicly,
            keyed.version,
            keyed.pending
        ),
        (MentorStatus::Paused, false, 2, true)
    );

    let owner = Uuid::new_v4();
    let claimed = claim(&store, o, owner, 10).await;
    let results = claimed
        .iter()
        .map(|m| match m.link {
            Some(_) => pushed(m),
            None => result(m.mentor, SyncOutcome::Unlinked { version: m.version }),
        })
        .collect();
    store.record_sync_results(o, owner, results).await.unwrap();
    let targets = store.sync_targets(o).await.unwrap();
    assert_eq!(targets.len(), 2);
    assert!(targets.iter().all(|t| !t.pending), "{targets:?}");
}

pub async fn sync_status_counts_the_queue_and_keeps_the_last_credential_check<S: Store>(store: S) {
    let o = org(&store, "hlf").await.id;
    let other = org(&store, "other").await.id;
    assert_eq!(queue_status(&store, o).await, SyncStatusRecord::default());
    let ids = [
        linked_mentor(&store, o, "Done").await,
        linked_mentor(&store, o, "Failing").await,
        linked_mentor(&store, o, "Dead").await,
    ];
    let waiting = queue_status(&store, o).await;
    assert_eq!((waiting.pending, waiting.confirmed), (3, 0));
    assert!(waiting.oldest_pending_at.is_some());
    assert_eq!(waiting.lag_p50_ms, None);

    let refused = CredentialCheck {
        checked_at: t(NOW),
        ok: false,
        detail: Some("401 unauthorized".into()),
    };
    store
        .record_credential_check(o, refused.clone())
        .await
        .unwrap();
    assert_eq!(
        queue_status(&store, o).await.last_credential_check,
        Some(refused)
    );
    let fine = CredentialCheck {
        checked_at: t("2026-05-01T05:00:00Z"),
        ok: true,
        detail: None,
    };
    store
        .record_credential_check(o, fine.clone())
        .await
        .unwrap();
    assert_eq!(
        queue_status(&store, o).await.last_credential_check,
        Some(fine.clone()),
        "the last check replaces the one before"
    );
    assert_eq!(
        queue_status(&store, other).await.last_credential_check,
        None
    );

    let owner = Uuid::new_v4();
    assert_eq!(claim(&store, o, owner, 10).await.len(), 3);
    store
        .record_sync_results(
            o,
            owner,
            vec![
                result(ids[0], SyncOutcome::Pushed { version: 1 }),
                result(ids[1], retry("503", HOUR)),
                result(
                    ids[2],
                    SyncOutcome::Dead {
                        version: 1,
                        reason: DeadReason::Failed,
                        error: "400".into(),
                    },
                ),
            ],
        )
        .await
        .unwrap();
    let status = queue_status(&store, o).await;
    assert_eq!(
        (
            status.pending,
            status.dead,
            status.retrying,
            status.confirmed
        ),
        (1, 1, 1, 1)
    );
    assert!(status.oldest_pending_at.is_some());
    assert!(status.lag_p50_ms.is_some() && status.lag_p99_ms.is_some());
    assert_eq!(status.last_credential_check, Some(fine));
    assert_eq!(
        queue_status(&store, other).await,
        SyncStatusRecord::default()
    );
}

pub async fn wake_ups_move_after_a_change_is_queued<S: Store>(store: S) {
    // A generous bound, reached only when the wake-up never comes.
    const PATIENCE: Duration = Duration::from_secs(30);
    let mut wakeups = store.sync_wakeups().await.unwrap();
    wakeups.borrow_and_update();
    let o = org(&store, "hlf").await.id;
    let id = linked_mentor(&store, o, "Kari").await;
    tokio::time::timeout(PATIENCE, wakeups.changed())
        .await
        .expect("a wake-up after a mentor was registered")
        .expect("the wake-ups' sender is alive");
    let seen = *wakeups.borrow_and_update();
    store
        .queue_sync(o, SyncSelection::Mentor(id), SyncPriority::High)
        .await
        .unwrap();
    tokio::time::timeout(PATIENCE, wakeups.changed())
        .await
        .expect("a wake-up after a force sync")
        .expect("the wake-ups' sender is alive");
    assert_ne!(*wakeups.borrow(), seen);
    // Every relay may ask; each gets wake-ups.
    let mut another = store.sync_wakeups().await.unwrap();
    another.borrow_and_update();
    store
        .update_mentor(
            o,
            id,
            MentorPatch {
                listed_publicly: Some(false),
                ..Default::default()
            },
            t("2026-05-02T09:00:00Z"),
        )
        .await
        .unwrap();
    tokio::time::timeout(PATIENCE, another.changed())
        .await
        .expect("a wake-up after a change of details")
        .expect("the wake-ups' sender is alive");
}

pub async fn confirmed_outbox_rows_are_pruned_after_their_age<S: Store>(store: S) {
    let o = org(&store, "hlf").await.id;
    let done = [
        linked_mentor(&store, o, "Done A").await,
        linked_mentor(&store, o, "Done B").await,
    ];
    let dead = linked_mentor(&store, o, "Dead").await;
    let waiting = linked_mentor(&store, o, "Waiting").await;
    let owner = Uuid::new_v4();
    assert_eq!(claim(&store, o, owner, 10).await.len(), 4);
    store
        .record_sync_results(
            o,
            owner,
            vec![
                result(done[0], SyncOutcome::Pushed { version: 1 }),
                result(done[1], SyncOutcome::Pushed { version: 1 }),
                result(
                    dead,
                    SyncOutcome::Dead {
                        version: 1,
                        reason: DeadReason::Failed,
                        error: "400".into(),
                    },
                ),
                result(waiting, SyncOutcome::Released { after: HOUR }),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        store.prune_sync_outbox(HOUR).await.unwrap(),
        0,
        "too recent"
    );
    // Past the instant the rows were confirmed, by the coarsest clock a backend may keep.
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(store.prune_sync_outbox(Duration::ZERO).await.unwrap(), 2);
    assert_eq!(store.prune_sync_outbox(Duration::ZERO).await.unwrap(), 0);
    let status = queue_status(&store, o).await;
    assert_eq!(
        (status.confirmed, status.pending, status.dead),
        (0, 1, 1),
        "only confirmed rows are forgotten"
    );
    assert_eq!(store.dead_letters(o, 10).await.unwrap().len(), 1);
    assert_eq!(
        sync_of(&store, o, done[0]).await.pushed_version,
        Some(1),
        "what was pushed is remembered"
    );
}

/// The break-glass claim: the requested mentors now, whatever their rows say — in backoff, dead,
/// or abandoned by a relay that died — but never one a running relay holds (reported with the time
/// left), nor one already pushed at its current version (settled), nor another organisation's.
pub async fn a_break_glass_claim_takes_backoff_and_dead_mentors_and_reports_live_leases<
    S: Store,
>(
    store: S,
) {
    let o = org(&store, "hlf").await.id;
    let other = org(&store, "other").await.id;
    let a = Uuid::new_v4();
    let one = |mentor: MentorId, outcome: SyncOutcome| vec![result(mentor, outcome)];
    let synced = linked_mentor(&store, o, "Synced").await;
    let leased = claim(&store, o, a, 10).await;
    store
        .record_sync_results(o, a, leased.iter().map(pushed).collect())
        .await
        .unwrap();
    let backoff = linked_mentor(&store, o, "Backoff").await;
    assert_eq!(mentors_of(&claim(&store, o, a, 10).await), vec![backoff]);
    store
        .record_sync_results(o, a, one(backoff, retry("503", HOUR)))
        .await
        .unwrap();
    let dead = linked_mentor(&store, o, "Dead").await;
    assert_eq!(mentors_of(&claim(&store, o, a, 10).await), vec![dead]);
    let buried = SyncOutcome::Dead {
        version: 1,
        reason: DeadReason::Failed,
        error: "400".into(),
    };
    store
        .record_sync_results(o, a, one(dead, buried))
        .await
        .unwrap();
    let held = linked_mentor(&store, o, "Held").await;
    let live = Uuid::new_v4();
    assert_eq!(mentors_of(&claim(&store, o, live, 10).await), vec![held]);
    // A relay that died at once: its lease has run out unrecorded.
    let abandoned = linked_mentor(&store, o, "Abandoned").await;
    let died = store
        .claim_sync(SyncClaim {
            lease: Duration::ZERO,
            ..relay(o, Uuid::new_v4(), 10)
        })
        .await
        .unwrap();
    assert_eq!(mentors_of(&died), vec![abandoned]);
    let unlinked = register(&store, o, vec![new_certified("Unlinked", None)]).await[0];
    let foreign = linked_mentor(&store, other, "Foreign").await;

    let mut unsynced = vec![backoff, dead, held, abandoned];
    unsynced.sort();
    assert_eq!(
        store.unsynced_mentors(o).await.unwrap(),
        unsynced,
        "linked and not in sync, whatever holds them; not the synced or unlinked one"
    );

    let everyone = vec![synced, backoff, dead, held, abandoned, unlinked, foreign];
    let break_glass = |owner: Uuid, limit: usize| MentorsClaim {
        org: o,
        owner,
        mentors: everyone.clone(),
        limit,
        lease: HOUR,
    };
    let (z, y) = (Uuid::new_v4(), Uuid::new_v4());
    let first = store.claim_sync_mentors(break_glass(z, 2)).await.unwrap();
    let mut takeable = [backoff, dead, abandoned, unlinked];
    takeable.sort();
    assert_eq!(
        mentors_of(&first.claimed),
        takeable[..2].to_vec(),
        "up to the limit, by id"
    );
    assert_eq!(first.settled, vec![synced]);
    assert_eq!(first.held.len(), 1, "{first:?}");
    assert_eq!(first.held[0].0, held);
    assert!(
        first.held[0].1 > Duration::from_secs(3000) && first.held[0].1 <= HOUR,
        "the time left on the running lease: {:?}",
        first.held[0].1
    );
    let rest = store.claim_sync_mentors(break_glass(y, 10)).await.unwrap();
    assert_eq!(mentors_of(&rest.claimed), takeable[2..].to_vec());
    let mut held_now: Vec<MentorId> = rest.held.iter().map(|(m, _)| *m).collect();
    held_now.sort();
    let mut expected_held = vec![held];
    expected_held.extend_from_slice(&takeable[..2]);
    expected_held.sort();
    assert_eq!(held_now, expected_held, "the first claim's leases hold too");
    let claimed: Vec<ClaimedMentor> = first.claimed.into_iter().chain(rest.claimed).collect();
    let of = |id: MentorId| claimed.iter().find(|m| m.mentor == id).unwrap();
    assert!(of(abandoned).recovered, "a lease that ran out unrecorded");
    assert!(!of(backoff).recovered && !of(dead).recovered);
    assert_eq!(of(backoff).attempts, 1);
    assert_eq!(of(dead).link, sync_of_link(&store, o, dead).await);
    // What the break-glass claims hold, no relay takes; the live relay's mentor stays its own.
    assert!(claim(&store, o, Uuid::new_v4(), 10).await.is_empty());

    // Pushed: in sync, backoff and dead state ended.
    for (owner, mentor) in [
        (z, takeable[0]),
        (z, takeable[1]),
        (y, takeable[2]),
        (y, takeable[3]),
    ] {
        store
            .record_sync_results(o, owner, vec![pushed(of(mentor))])
            .await
            .unwrap();
    }
    let sync = sync_of(&store, o, backoff).await;
    assert_eq!((sync.failure, sync.pushed_version), (None, Some(1)));
    assert_eq!(sync_of(&store, o, dead).await.failure, None);
    assert_eq!(store.unsynced_mentors(o).await.unwrap(), vec![held]);
    // The live relay records a release: the mentor is free to take, not recovered.
    store
        .record_sync_results(
            o,
            live,
            one(
                held,
                SyncOutcome::Released {
                    after: Duration::ZERO,
                },
            ),
        )
        .await
        .unwrap();
    let after = store.claim_sync_mentors(break_glass(z, 10)).await.unwrap();
    assert_eq!(mentors_of(&after.claimed), vec![held]);
    assert!(!after.claimed[0].recovered);
    assert!(after.held.is_empty());
}

async fn sync_of_link<S: Store>(store: &S, org: OrgId, mentor: MentorId) -> Option<DynamicsLink> {
    let m = store.mentor(org, mentor).await.expect("mentor");
    DynamicsLink::from_columns(m.dynamics_contact_id, m.dynamics_key)
}
