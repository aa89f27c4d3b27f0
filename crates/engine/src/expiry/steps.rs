//! The steps of the nightly run. Each decides with the domain rules on facts read in sets, writes in
//! batches through the same compare-and-set unit of work as the API, and decides again for mentors
//! that moved meanwhile, so a renewal committed a moment earlier wins.

use chrono::NaiveDate;
use domain::{Action, Facts, Thresholds, decide, is_valid_on, reminder_decisions};
use store::{
    Actor, ChangeOutcome, ClaimCounts, MentorChange, MentorFacts, Org, ReminderCandidate,
    ReminderClaim, ReminderOutcome, ResumeNoticeClaim, RunId, Store,
};

use crate::{Engine, EngineError, notices};

/// Rounds of "decide again" after lost races before the run gives up on a mentor until next time.
const MAX_ROUNDS: usize = 5;

/// Which automatic transition a step makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemAction {
    /// Lapsed `active` → `certification_expired`.
    Expire,
    /// `paused` whose return date has come → `active` or `certification_expired`.
    AutoResume,
}

/// What an automatic step changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransitionCounts {
    pub to_active: u64,
    pub to_expired: u64,
    pub lost_races: u64,
}

impl<S: Store> Engine<S> {
    /// Apply `action` to every mentor in `facts` that the transition table allows on `today`.
    /// Exposed as a building block so tests can interleave other writes between read and write.
    pub async fn apply_system_transitions(
        &self,
        org: &Org,
        run: RunId,
        today: NaiveDate,
        action: SystemAction,
        facts: Vec<MentorFacts>,
    ) -> Result<TransitionCounts, EngineError> {
        let mut counts = TransitionCounts::default();
        let mut pending = facts;
        for _ in 0..MAX_ROUNDS {
            let mut lost = Vec::new();
            for chunk in pending.chunks(self.expiry_config().batch_size) {
                let changes: Vec<(MentorChange, domain::MentorStatus)> = chunk
                    .iter()
                    .filter_map(|mentor| self.system_change(org, run, today, action, mentor))
                    .collect();
                if changes.is_empty() {
                    continue;
                }
                let targets: Vec<(domain::MentorId, domain::MentorStatus)> =
                    changes.iter().map(|(c, to)| (c.mentor, *to)).collect();
                let outcomes = self
                    .store()
                    .apply_changes(changes.into_iter().map(|(c, _)| c).collect())
                    .await?;
                let before = counts;
                for ((mentor, to), outcome) in targets.into_iter().zip(outcomes) {
                    match outcome {
                        ChangeOutcome::Applied if to == domain::MentorStatus::Active => {
                            counts.to_active += 1
                        }
                        ChangeOutcome::Applied => counts.to_expired += 1,
                        ChangeOutcome::LostRace => lost.push(mentor),
                        ChangeOutcome::AlreadyRecorded | ChangeOutcome::NotFound => {}
                    }
                }
                let kind = match action {
                    SystemAction::Expire => domain::ActionKind::Expire,
                    SystemAction::AutoResume => domain::ActionKind::AutoResume,
                };
                crate::metrics::transitions_to(
                    kind.as_str(),
                    domain::MentorStatus::Active,
                    true,
                    counts.to_active - before.to_active,
                );
                crate::metrics::transitions_to(
                    kind.as_str(),
                    domain::MentorStatus::CertificationExpired,
                    true,
                    counts.to_expired - before.to_expired,
                );
            }
            if lost.is_empty() {
                return Ok(counts);
            }
            counts.lost_races += lost.len() as u64;
            pending = self.store().mentor_facts(org.id, lost).await?;
        }
        if !pending.is_empty() {
            tracing::warn!(
                org = %org.slug,
                mentors = pending.len(),
                "mentors kept changing during the run; they are decided again on the next run"
            );
        }
        Ok(counts)
    }

    /// The change for one mentor, or `None` when the table refuses it (e.g. renewed meanwhile).
    fn system_change(
        &self,
        org: &Org,
        run: RunId,
        today: NaiveDate,
        action: SystemAction,
        mentor: &MentorFacts,
    ) -> Option<(MentorChange, domain::MentorStatus)> {
        let facts = Facts {
            today,
            certification_valid: mentor.expires_on.is_some_and(|e| is_valid_on(e, today)),
            resume_on: mentor.resume_on,
        };
        let domain_action = match action {
            SystemAction::Expire => Action::Expire,
            SystemAction::AutoResume => Action::AutoResume,
        };
        let transition = decide(mentor.status, &domain_action, &facts).ok()?;
        let expires = mentor
            .expires_on
            .map_or_else(|| "none".to_owned(), |d| d.to_string());
        let (key, note) = match action {
            SystemAction::Expire => (
                format!("expired:{}:{expires}", mentor.id),
                match mentor.expires_on {
                    Some(d) => format!("certification expired after {d}"),
                    None => "no certification".to_owned(),
                },
            ),
            SystemAction::AutoResume => {
                let resume_on = mentor.resume_on?;
                (
                    format!("resumed:{}:{resume_on}", mentor.id),
                    format!("automatic resume on {resume_on}"),
                )
            }
        };
        let to = transition.to;
        let notification = notices::for_system_transition(mentor, &transition, today);
        Some((
            MentorChange {
                org: org.id,
                mentor: mentor.id,
                expected_status: mentor.status,
                expected_version: mentor.version,
                certification: None,
                transition: Some(transition),
                actor: Actor::System,
                idempotency_key: Some(key),
                history_note: Some(note),
                notifications: vec![notification],
                run: Some(run),
                bound_expires_on: mentor.expires_on,
                at: self.clock().now(),
            },
            to,
        ))
    }

    /// Decide and claim the reminders of `candidates` (catch-up sends only the most urgent).
    pub async fn claim_reminders(
        &self,
        org: &Org,
        run: RunId,
        today: NaiveDate,
        thresholds: &Thresholds,
        candidates: Vec<ReminderCandidate>,
    ) -> Result<ClaimCounts, EngineError> {
        let mut total = ClaimCounts::default();
        let mut claims = Vec::new();
        for candidate in &candidates {
            for (threshold, decision) in reminder_decisions(
                candidate.expires_on,
                today,
                thresholds,
                &candidate.recorded_thresholds,
            ) {
                let send = decision == domain::ReminderDecision::Send;
                claims.push(ReminderClaim {
                    mentor: candidate.mentor.id,
                    threshold_days: threshold,
                    expires_on: candidate.expires_on,
                    outcome: if send {
                        ReminderOutcome::Sent
                    } else {
                        ReminderOutcome::Skipped
                    },
                    notification: send.then(|| {
                        notices::certification_reminder(
                            &candidate.mentor,
                            threshold,
                            candidate.expires_on,
                            today,
                        )
                    }),
                });
            }
        }
        for chunk in claims.chunks(self.expiry_config().batch_size) {
            let won = self
                .store()
                .claim_reminders(org.id, run, today, chunk.to_vec(), self.clock().now())
                .await?;
            total.sent += won.sent;
            total.skipped += won.skipped;
            crate::metrics::reminders(won.sent, won.skipped);
        }
        Ok(total)
    }

    /// Tell paused mentors, once per return date, that their automatic resume is near.
    pub async fn claim_resume_notices(
        &self,
        org: &Org,
        run: RunId,
        today: NaiveDate,
        mentors: Vec<MentorFacts>,
    ) -> Result<u64, EngineError> {
        let claims: Vec<ResumeNoticeClaim> = mentors
            .iter()
            .filter_map(|m| {
                let resume_on = m.resume_on?;
                Some(ResumeNoticeClaim {
                    mentor: m.id,
                    resume_on,
                    notification: notices::resume_notice(m, resume_on, today),
                })
            })
            .collect();
        let mut won = 0;
        for chunk in claims.chunks(self.expiry_config().batch_size) {
            won += self
                .store()
                .claim_resume_notices(org.id, run, today, chunk.to_vec(), self.clock().now())
                .await?;
        }
        Ok(won)
    }
}
