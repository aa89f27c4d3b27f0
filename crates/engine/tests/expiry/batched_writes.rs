use std::sync::Arc;
use store::prelude::*;

use domain::{ActionKind, MentorStatus, Reason, Transition};
use engine::WriteBatcher;
use futures::future::join_all;
use store::{Actor, ChangeOutcome, ChangeStore, MentorChange, StoreResult};
use testkit::TestBackend;

use crate::helpers::*;

/// A store that records the size of every batch written through it, then writes it. Its first write
/// is slow (a disk under load), so the changes that arrive meanwhile queue behind it.
#[derive(Clone)]
struct RecordingStore<S> {
    inner: S,
    batches: Arc<std::sync::Mutex<Vec<usize>>>,
}

impl<S> RecordingStore<S> {
    const FIRST_WRITE: std::time::Duration = std::time::Duration::from_millis(300);

    fn new(inner: S) -> Self {
        Self {
            inner,
            batches: Arc::default(),
        }
    }

    fn batches(&self) -> Vec<usize> {
        self.batches.lock().unwrap().clone()
    }
}

impl<S: ChangeStore> ChangeStore for RecordingStore<S> {
    async fn apply_changes(&self, changes: Vec<MentorChange>) -> StoreResult<Vec<ChangeOutcome>> {
        let first = {
            let mut batches = self.batches.lock().unwrap();
            batches.push(changes.len());
            batches.len() == 1
        };
        if first {
            tokio::time::sleep(Self::FIRST_WRITE).await;
        }
        self.inner.apply_changes(changes).await
    }
}

fn pause_change<B: TestBackend>(
    world: &World<B>,
    mentor: domain::MentorId,
    resume_on: Option<&str>,
    to: MentorStatus,
) -> MentorChange {
    MentorChange {
        org: world.org.id,
        mentor,
        expected_status: MentorStatus::Active,
        expected_version: 1,
        certification: None,
        transition: Some(Transition {
            action: ActionKind::Pause,
            from: MentorStatus::Active,
            to,
            reason: Some(Reason::parse("ferie").unwrap()),
            resume_on: resume_on.map(date),
        }),
        actor: Actor::System,
        idempotency_key: None,
        history_note: None,
        notifications: Vec::new(),
        run: None,
        bound_expires_on: None,
        at: world.clock_now(),
    }
}

async fn concurrent_changes_are_written_together_each_with_its_own_outcome<B: TestBackend>() {
    let world = world::<B>(RUN_DAY).await;
    let mut ids = Vec::new();
    for n in 0..40 {
        ids.push(world.mentor(&format!("Mentor {n}"), "2027-01-01").await);
    }
    let recording = RecordingStore::new(world.store.clone());
    let batcher = WriteBatcher::spawn(recording.clone(), 16, 2);
    // One change breaks a CHECK (a return date on an active mentor), failing its whole statement:
    // the batcher writes that batch again one by one, so only that change fails.
    let mut changes: Vec<MentorChange> = ids
        .iter()
        .map(|id| pause_change(&world, *id, None, MentorStatus::Paused))
        .collect();
    changes[7] = pause_change(&world, ids[7], Some("2026-07-01"), MentorStatus::Active);
    // A stale expectation loses its race without touching the others.
    changes[8].expected_version = 5;
    let outcomes = join_all(changes.into_iter().map(|c| batcher.apply(c))).await;
    for (n, outcome) in outcomes.iter().enumerate() {
        match n {
            7 => assert!(outcome.is_err(), "the broken change fails: {outcome:?}"),
            8 => assert_eq!(outcome.as_ref().unwrap(), &ChangeOutcome::LostRace),
            _ => assert_eq!(
                outcome.as_ref().unwrap(),
                &ChangeOutcome::Applied,
                "change {n}"
            ),
        }
    }
    for (n, id) in ids.iter().enumerate() {
        let expected = if n == 7 || n == 8 {
            MentorStatus::Active
        } else {
            MentorStatus::Paused
        };
        assert_eq!(world.status(*id).await, expected, "mentor {n}");
    }
    assert_eq!(
        world
            .scalar("SELECT count(*) FROM status_history WHERE to_status = 'paused'")
            .await,
        38
    );
    // Written together: changes queued while a batch is being written go out in batches of at most
    // 16, and the batch with the broken change is written again one change at a time.
    let batches = recording.batches();
    assert!(batches.iter().all(|&n| n <= 16), "{batches:?}");
    assert!(batches.iter().any(|&n| n > 1), "no batching: {batches:?}");
    assert!(
        batches.iter().sum::<usize>() > 40,
        "the failed batch's changes written again: {batches:?}"
    );
}

async fn the_engine_writes_api_changes_through_the_batcher<B: TestBackend>() {
    let world = world::<B>(RUN_DAY).await;
    let recording = RecordingStore::new(world.store.clone());
    let engine = engine_on(world.store.clone(), &world.clock)
        .with_write_batcher(WriteBatcher::spawn(recording.clone(), 8, 1));
    let mut ids = Vec::new();
    for n in 0..20 {
        ids.push(world.mentor(&format!("Mentor {n}"), "2027-01-01").await);
    }
    let coordinator = Arc::new(world.coordinators[0].clone());
    let replies = join_all(ids.iter().map(|id| {
        let action = domain::Action::Pause {
            reason: Reason::parse("ferie").unwrap(),
            resume_on: None,
        };
        let engine = engine.clone();
        let coordinator = coordinator.clone();
        let id = *id;
        async move { engine.request(&coordinator, id, action).await }
    }))
    .await;
    for reply in &replies {
        assert_eq!(reply.as_ref().unwrap().mentor.status, MentorStatus::Paused);
        assert_eq!(reply.as_ref().unwrap().mentor.version, 2);
    }
    assert_eq!(
        world.scalar("SELECT count(*) FROM sync_outbox").await,
        40,
        "registration + pause each"
    );
    // Through the batcher: every pause written by it, and concurrent ones together.
    let batches = recording.batches();
    assert_eq!(batches.iter().sum::<usize>(), 20, "{batches:?}");
    assert!(
        batches.iter().all(|&n| n <= 8) && batches.iter().any(|&n| n > 1),
        "concurrent requests share batches of at most 8: {batches:?}"
    );
    let stored = world.store.mentor(world.org.id, ids[3]).await.unwrap();
    assert_eq!(
        stored,
        replies[3].as_ref().unwrap().mentor,
        "the answer without a re-read equals the row"
    );
}

testkit::on_both_backends!(
    concurrent_changes_are_written_together_each_with_its_own_outcome,
    the_engine_writes_api_changes_through_the_batcher,
);
