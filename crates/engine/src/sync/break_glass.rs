//! The break-glass push (`mentor-status sync push`): push every selected mentor NOW, whatever state
//! the relays left it in, and account for each one.
//!
//! A mentor waiting out a retry backoff, marked dead, or with no row at all is leased at once
//! ([`claim_sync_mentors`](store::ListingOutbox::claim_sync_mentors)). A mentor leased by a running
//! relay is **waited for**, never taken over: that relay's write may still be on its way, carrying
//! the state it read at its claim, and no read can see a write that has not landed yet, so taking
//! the lease would risk the same change written twice or an older state landing after ours. A
//! running lease ends within one push (the relay records its result) or, if the relay died, at the
//! lease's end, when the store hands the mentor over marked `recovered`. Either way the wait is at
//! most the lease (`sync.lease_seconds`), and every mentor waited for is pushed read-before-write
//! (the remote record is read first and not written when it already shows the state), the recovery
//! that makes relay crashes safe. A mentor the relay pushed while we waited is `settled`: counted as
//! pushed, not written again.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use domain::MentorId;
use store::{MentorsClaim, Store};
use tokio::time::Instant;

use super::relay::{MentorOutcome, PassReport, Relay};
use crate::EngineError;

/// How often a mentor held by a running relay is looked at again.
const HELD_POLL: Duration = Duration::from_millis(200);

/// Why a selected mentor was not pushed (never a secret, a name or an address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushFailure {
    pub mentor: MentorId,
    pub reason: String,
}

/// What a break-glass push did with every mentor it selected: `pushed + unlinked + failures`
/// is `selected`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BreakGlassReport {
    pub selected: usize,
    /// Pushed now, or found pushed at their current version by a relay while this push ran.
    pub pushed: usize,
    pub unlinked: usize,
    pub failures: Vec<PushFailure>,
    /// Mentors found leased by a running relay and waited for.
    pub waited_for_relay: usize,
    /// The passes' own counts (retried, dead, not found, credentials refused …).
    pub passes: PassReport,
}

impl BreakGlassReport {
    /// Mentors pushed, not linked or failed so far.
    pub fn done(&self) -> usize {
        self.pushed + self.unlinked + self.failures.len()
    }

    fn fail(&mut self, mentor: MentorId, reason: impl Into<String>) {
        self.failures.push(PushFailure {
            mentor,
            reason: reason.into(),
        });
    }
}

/// What a break-glass push tells its caller as it goes.
#[derive(Debug)]
pub enum BreakGlassProgress<'a> {
    /// A pass finished; the totals so far.
    Pushed(&'a BreakGlassReport),
    /// `mentors` are leased by a running relay; the longest lease ends within `lease_left`.
    Waiting {
        mentors: usize,
        lease_left: Duration,
    },
}

impl<S: Store> Relay<S> {
    /// Push `mentors` now, as this relay's owner, until each one is pushed, not linked, or failed
    /// with its reason; see the module's documentation for leases held by running relays.
    pub async fn push_now(
        &self,
        mentors: Vec<MentorId>,
        mut progress: impl FnMut(BreakGlassProgress<'_>),
    ) -> Result<BreakGlassReport, EngineError> {
        let store = self.engine.store();
        let org = self.integration.org;
        let mut remaining: BTreeSet<MentorId> = mentors.into_iter().collect();
        let mut report = BreakGlassReport {
            selected: remaining.len(),
            ..BreakGlassReport::default()
        };
        // A running lease ends within one push; twice the lease allows for a relay that records,
        // then claims the mentor again at once (a new change arrived).
        let patience = self.config.lease.saturating_mul(2);
        let mut held_since: HashMap<MentorId, Instant> = HashMap::new();
        let mut waited: HashSet<MentorId> = HashSet::new();
        while !remaining.is_empty() {
            let claim = store
                .claim_sync_mentors(MentorsClaim {
                    org,
                    owner: self.owner,
                    mentors: remaining.iter().copied().collect(),
                    limit: self.integration.client.batch_size(),
                    lease: self.config.lease,
                })
                .await?;
            for mentor in &claim.settled {
                remaining.remove(mentor);
                report.pushed += 1;
            }
            let now = Instant::now();
            let mut still_held = Vec::new();
            for (mentor, left) in &claim.held {
                if waited.insert(*mentor) {
                    report.waited_for_relay += 1;
                }
                let since = *held_since.entry(*mentor).or_insert(now);
                if now.duration_since(since) >= patience {
                    remaining.remove(mentor);
                    report.fail(
                        *mentor,
                        format!(
                            "leased by a running relay for more than {} s; that relay pushes it",
                            patience.as_secs()
                        ),
                    );
                } else {
                    still_held.push(*left);
                }
            }
            if claim.claimed.is_empty() {
                if still_held.is_empty() {
                    if claim.settled.is_empty() && claim.held.is_empty() {
                        // Neither leasable, held nor settled: no longer a mentor of the organisation.
                        for mentor in std::mem::take(&mut remaining) {
                            report.fail(mentor, "not a mentor of this organisation");
                        }
                    }
                    continue;
                }
                let lease_left = still_held.iter().copied().max().unwrap_or_default();
                progress(BreakGlassProgress::Waiting {
                    mentors: still_held.len(),
                    lease_left,
                });
                tokio::time::sleep(HELD_POLL.min(lease_left.max(Duration::from_millis(10)))).await;
                continue;
            }
            let mut claimed = claim.claimed;
            for mentor in &mut claimed {
                // A relay had it: its write may have landed even if it recorded a failure.
                if waited.contains(&mentor.mentor) {
                    mentor.recovered = true;
                }
            }
            let pass = self.push_claimed(claimed).await?;
            for (mentor, outcome) in &pass.outcomes {
                let finished = match outcome {
                    MentorOutcome::Pushed => {
                        report.pushed += 1;
                        true
                    }
                    MentorOutcome::Unlinked => {
                        report.unlinked += 1;
                        true
                    }
                    MentorOutcome::Retried(error) => {
                        report.fail(*mentor, format!("{error} (the relay retries it)"));
                        true
                    }
                    MentorOutcome::Dead(error) => {
                        report.fail(*mentor, format!("{error} (given up)"));
                        true
                    }
                    MentorOutcome::NotFound(error) => {
                        report.fail(*mentor, format!("no remote record: {error}"));
                        true
                    }
                    // Throttled: leased again at once, the client waits out Retry-After first.
                    // Refused credentials end the push below.
                    MentorOutcome::Released => false,
                };
                if finished {
                    remaining.remove(mentor);
                }
            }
            let refused = pass.credentials_refused;
            report.passes.absorb(pass);
            if refused {
                for mentor in std::mem::take(&mut remaining) {
                    report.fail(mentor, "not pushed: Dynamics refused the credentials");
                }
            }
            progress(BreakGlassProgress::Pushed(&report));
        }
        report.failures.sort_by_key(|f| f.mentor);
        Ok(report)
    }
}
