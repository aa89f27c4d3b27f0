//! User-requested status changes and certification renewals: read, decide, compare-and-set, and
//! on a lost race read and decide again.

use chrono::{DateTime, Utc};
use domain::{Action, ActionKind, Facts, MentorId, Refusal, Transition, decide, is_valid_on};
use store::{
    Actor, ChangeStore, MentorChange, MentorRecord, MentorStore, NewCertification, OrgStore, User,
};

use crate::access::{mentor_of_own_organisation, owns, require};
use crate::mentors::MentorSnapshot;
use crate::{CertificationInput, Engine, EngineError, notices};
use domain::access::Permission;

/// How often a request re-reads and decides again after losing a race before giving up with 409.
const MAX_ATTEMPTS: usize = 5;

impl<S: MentorStore + OrgStore + ChangeStore> Engine<S> {
    /// Pause, resume, deactivate or reactivate a mentor on behalf of `user`.
    pub async fn request(
        &self,
        user: &User,
        id: MentorId,
        action: Action,
    ) -> Result<MentorSnapshot, EngineError> {
        let kind = action.kind();
        for _ in 0..MAX_ATTEMPTS {
            let mentor = self.store().mentor(user.org_id, id).await?;
            require(
                user,
                Permission::Request(kind),
                mentor_of_own_organisation(user, mentor.id),
            )?;
            let today = self.clock().today(self.store(), user.org_id).await?;
            let facts = facts_of(&mentor, today, None);
            let transition =
                decide(mentor.status, &action, &facts).map_err(|refusal| EngineError::Refused {
                    refusal,
                    current: mentor.status,
                })?;
            let notifications = notices::for_user_transition(&mentor, &transition, owns(user, id));
            let at = self.clock().now();
            let change = MentorChange {
                org: user.org_id,
                mentor: id,
                expected_status: mentor.status,
                expected_version: mentor.version,
                certification: None,
                transition: Some(transition.clone()),
                actor: Actor::User(user.id),
                idempotency_key: None,
                history_note: None,
                notifications,
                run: None,
                bound_expires_on: None,
                at,
            };
            match self.apply_user_change(change).await {
                // The compare-and-set held, so the row is exactly what was read plus this change:
                // no need to read it again.
                Ok(()) => {
                    crate::metrics::transitions(&transition, false, 1);
                    return Ok(self.snapshot(after(mentor, &transition, at), today));
                }
                Err(e) if e.is_lost_race() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(lost_too_often())
    }

    /// Register a certification. A renewal lifts `certification_expired`, never a manual pause.
    pub async fn register_certification(
        &self,
        user: &User,
        id: MentorId,
        input: CertificationInput,
    ) -> Result<MentorSnapshot, EngineError> {
        let mentor = self.store().mentor(user.org_id, id).await?;
        require(
            user,
            Permission::Request(ActionKind::RenewCertification),
            mentor_of_own_organisation(user, mentor.id),
        )?;
        let period = input
            .validate("")
            .map_err(|e| EngineError::Invalid(vec![e]))?;
        for attempt in 0..MAX_ATTEMPTS {
            let mentor = if attempt == 0 {
                mentor.clone()
            } else {
                self.store().mentor(user.org_id, id).await?
            };
            let today = self.clock().today(self.store(), user.org_id).await?;
            let facts = facts_of(&mentor, today, Some(period.expires_on()));
            // Only a lapsed mentor moves; for every other status the certification is simply recorded.
            let transition = decide(mentor.status, &Action::RenewCertification, &facts).ok();
            let notifications = transition
                .as_ref()
                .map(|t| notices::for_user_transition(&mentor, t, false))
                .unwrap_or_default();
            let moved = transition.as_ref().map(|t| (t.action, t.to));
            let change = MentorChange {
                org: user.org_id,
                mentor: id,
                expected_status: mentor.status,
                expected_version: mentor.version,
                certification: Some(NewCertification::new(period)),
                transition,
                actor: Actor::User(user.id),
                idempotency_key: None,
                history_note: Some(format!(
                    "certification renewed until {}",
                    period.expires_on()
                )),
                notifications,
                run: None,
                bound_expires_on: None,
                at: self.clock().now(),
            };
            match self.apply_user_change(change).await {
                Ok(()) => {
                    if let Some((action, to)) = moved {
                        crate::metrics::transitions_to(action.as_str(), to, false, 1);
                    }
                    return self.mentor(user, id).await;
                }
                Err(e) if e.is_lost_race() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(lost_too_often())
    }
}

/// The facts a decision is bound to. `renewed_until` is a certification about to be registered.
fn facts_of(
    mentor: &MentorRecord,
    today: chrono::NaiveDate,
    renewed_until: Option<chrono::NaiveDate>,
) -> Facts {
    let current = mentor.certification.as_ref().map(|c| c.expires_on);
    let latest = current.max(renewed_until);
    Facts {
        today,
        certification_valid: latest.is_some_and(|expires_on| is_valid_on(expires_on, today)),
        resume_on: mentor.resume_on,
    }
}

/// The mentor row after `transition` was applied to it at `at` (what the store's unit of work writes).
fn after(mut mentor: MentorRecord, transition: &Transition, at: DateTime<Utc>) -> MentorRecord {
    mentor.status = transition.to;
    mentor.status_reason = transition.reason.as_ref().map(ToString::to_string);
    mentor.status_changed_at = at;
    mentor.resume_on = transition.resume_on;
    mentor.version += 1;
    mentor.updated_at = at;
    mentor
}

fn lost_too_often() -> EngineError {
    EngineError::Conflict(
        "the mentor kept changing while this request was decided; read it again and retry".into(),
    )
}

/// Maps a refusal to whether it is about a bad input date (422) rather than the state (409).
pub fn refusal_is_invalid_input(refusal: &Refusal) -> Option<&'static str> {
    match refusal {
        Refusal::ResumeOnNotAfterToday { .. } => Some("resume_on"),
        _ => None,
    }
}
