//! Group commit for changes made through the API.
//!
//! Each mentor change is one small statement and one commit; under load, the fixed cost of a statement
//! (executor start-up, constraint checks, the WAL flush of its commit) dominated, and concurrent
//! requests waited on each other's commits. The batcher hands every change queued at the moment a writer
//! is free to the store's batch unit of work (`apply_changes`): one statement and one commit for all of
//! them, each still compare-and-set on its own mentor with its own outcome. Nothing waits for a batch to
//! fill: an idle server writes a lone change at once, a busy one writes bigger batches.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use domain::{MentorId, OrgId};
use store::{ChangeOutcome, ChangeStore, MentorChange, StoreError, StoreResult};
use tokio::sync::{Semaphore, mpsc, oneshot};

type Reply = oneshot::Sender<StoreResult<ChangeOutcome>>;

struct Job {
    change: MentorChange,
    reply: Reply,
}

/// A handle to the batching writer; cloning shares it. The writer stops when the last handle is dropped.
#[derive(Debug, Clone)]
pub struct WriteBatcher {
    jobs: mpsc::UnboundedSender<Job>,
}

impl WriteBatcher {
    /// Start the writer on the current Tokio runtime: batches of at most `max_batch` changes, at most
    /// `writers` batches in flight at once.
    pub fn spawn<S: ChangeStore>(store: S, max_batch: usize, writers: usize) -> Self {
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(dispatch(store, queue, max_batch.max(1), writers.max(1)));
        Self { jobs }
    }

    /// Write `change` in the next batch and return its outcome.
    pub async fn apply(&self, change: MentorChange) -> StoreResult<ChangeOutcome> {
        let (reply, outcome) = oneshot::channel();
        self.jobs
            .send(Job { change, reply })
            .map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the change writer has stopped".into())
}

async fn dispatch<S: ChangeStore>(
    store: S,
    mut queue: mpsc::UnboundedReceiver<Job>,
    max_batch: usize,
    writers: usize,
) {
    let permits = Arc::new(Semaphore::new(writers));
    // Jobs that could not join the last batch (another organisation, or a mentor already in it).
    let mut waiting: VecDeque<Job> = VecDeque::new();
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        if waiting.is_empty() {
            match queue.recv().await {
                Some(job) => waiting.push_back(job),
                None => return,
            }
        }
        while waiting.len() < max_batch {
            match queue.try_recv() {
                Ok(job) => waiting.push_back(job),
                Err(_) => break,
            }
        }
        let batch = take_batch(&mut waiting, max_batch);
        let store = store.clone();
        tokio::spawn(async move {
            write(&store, batch).await;
            drop(permit);
        });
    }
}

/// The first waiting job's organisation, at most one change per mentor (the store's batch rule), in
/// arrival order; the rest keep waiting in order.
fn take_batch(waiting: &mut VecDeque<Job>, max_batch: usize) -> Vec<Job> {
    let Some(org) = waiting.front().map(|job| job.change.org) else {
        return Vec::new();
    };
    let mut mentors: HashSet<MentorId> = HashSet::new();
    let mut batch = Vec::new();
    let mut rest = VecDeque::with_capacity(waiting.len());
    while let Some(job) = waiting.pop_front() {
        if batch.len() < max_batch && fits(&job, org, &mut mentors) {
            batch.push(job);
        } else {
            rest.push_back(job);
        }
    }
    *waiting = rest;
    batch
}

fn fits(job: &Job, org: OrgId, mentors: &mut HashSet<MentorId>) -> bool {
    job.change.org == org && mentors.insert(job.change.mentor)
}

async fn write<S: ChangeStore>(store: &S, batch: Vec<Job>) {
    let (changes, replies): (Vec<MentorChange>, Vec<Reply>) =
        batch.into_iter().map(|job| (job.change, job.reply)).unzip();
    if changes.len() == 1 {
        for (change, reply) in changes.into_iter().zip(replies) {
            write_one(store, change, reply).await;
        }
        return;
    }
    match store.apply_changes(changes.clone()).await {
        Ok(outcomes) => {
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                // A requester that gave up (client gone) simply does not read its outcome.
                let _ = reply.send(Ok(outcome));
            }
        }
        Err(e) => {
            // One change can fail the whole statement (a constraint); write them one by one so only
            // that change reports the error.
            tracing::debug!(error = %e, changes = changes.len(), "batch failed; writing its changes one by one");
            for (change, reply) in changes.into_iter().zip(replies) {
                write_one(store, change, reply).await;
            }
        }
    }
}

async fn write_one<S: ChangeStore>(store: &S, change: MentorChange, reply: Reply) {
    let outcome = store
        .apply_changes(vec![change])
        .await
        .map(|mut o| o.remove(0));
    let _ = reply.send(outcome);
}
