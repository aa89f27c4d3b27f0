//! The transition table of mentor statuses as one pure function:
//! `(status, action, facts) -> Result<Transition, Refusal>`.

use chrono::NaiveDate;
use serde::Serialize;

use crate::{MentorStatus, Reason};

/// What someone (or the system) asks to happen to a mentor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A mentor pauses themself, or a coordinator pauses them.
    Pause {
        reason: Reason,
        resume_on: Option<NaiveDate>,
    },
    Resume,
    Deactivate {
        reason: Reason,
    },
    Reactivate,
    /// A renewed certification was registered; only lifts `certification_expired`.
    RenewCertification,
    /// The nightly run observed a lapsed certification (system only).
    Expire,
    /// The nightly run observed that `resume_on` has come (system only).
    AutoResume,
}

/// The name of an action, for messages, authorization and history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    Pause,
    Resume,
    Deactivate,
    Reactivate,
    RenewCertification,
    Expire,
    AutoResume,
}

impl ActionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Pause => "pause",
            ActionKind::Resume => "resume",
            ActionKind::Deactivate => "deactivate",
            ActionKind::Reactivate => "reactivate",
            ActionKind::RenewCertification => "renew_certification",
            ActionKind::Expire => "expire",
            ActionKind::AutoResume => "auto_resume",
        }
    }
}

impl std::fmt::Display for ActionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Action {
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::Pause { .. } => ActionKind::Pause,
            Action::Resume => ActionKind::Resume,
            Action::Deactivate { .. } => ActionKind::Deactivate,
            Action::Reactivate => ActionKind::Reactivate,
            Action::RenewCertification => ActionKind::RenewCertification,
            Action::Expire => ActionKind::Expire,
            Action::AutoResume => ActionKind::AutoResume,
        }
    }
}

/// What was true when the decision was made. A compare-and-set write binds the decision to these facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    /// The organisation's business date.
    pub today: NaiveDate,
    /// Whether the mentor's current certification (after this change, for a renewal) is valid today.
    pub certification_valid: bool,
    /// The mentor's current `resume_on`, if paused with a return date.
    pub resume_on: Option<NaiveDate>,
}

/// An allowed change of status, with what the mentor row should hold afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub action: ActionKind,
    pub from: MentorStatus,
    pub to: MentorStatus,
    /// `status_reason` afterwards (cleared when `None`).
    pub reason: Option<Reason>,
    /// `resume_on` afterwards (only a pause sets it).
    pub resume_on: Option<NaiveDate>,
}

/// Why an action was refused. Maps to 409 (with the current status) or 422 (a bad date).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("cannot {action} a mentor whose status is {status}")]
    NotAllowed {
        action: ActionKind,
        status: MentorStatus,
    },
    #[error("resume_on ({resume_on}) must be after today ({today})")]
    ResumeOnNotAfterToday {
        resume_on: NaiveDate,
        today: NaiveDate,
    },
    #[error("the certification is still valid on {today}")]
    CertificationStillValid { today: NaiveDate },
    #[error("the return date has not come yet")]
    ResumeDateNotReached,
}

/// Decide whether `action` may move a mentor in `status`, given `facts`.
pub fn decide(status: MentorStatus, action: &Action, facts: &Facts) -> Result<Transition, Refusal> {
    use MentorStatus::*;
    let kind = action.kind();
    let refuse = || Refusal::NotAllowed {
        action: kind,
        status,
    };
    let to = |to: MentorStatus, reason: Option<Reason>, resume_on: Option<NaiveDate>| Transition {
        action: kind,
        from: status,
        to,
        reason,
        resume_on,
    };
    let by_certification = MentorStatus::by_certification(facts.certification_valid);

    match (status, action) {
        (Active, Action::Pause { reason, resume_on }) => {
            if let Some(date) = resume_on
                && *date <= facts.today
            {
                return Err(Refusal::ResumeOnNotAfterToday {
                    resume_on: *date,
                    today: facts.today,
                });
            }
            Ok(to(Paused, Some(reason.clone()), *resume_on))
        }
        (Paused, Action::Resume) => Ok(to(by_certification, None, None)),
        (Paused, Action::AutoResume) => match facts.resume_on {
            Some(date) if date <= facts.today => Ok(to(by_certification, None, None)),
            _ => Err(Refusal::ResumeDateNotReached),
        },
        (Active, Action::Expire) => {
            if facts.certification_valid {
                Err(Refusal::CertificationStillValid { today: facts.today })
            } else {
                Ok(to(CertificationExpired, None, None))
            }
        }
        (CertificationExpired, Action::RenewCertification) if facts.certification_valid => {
            Ok(to(Active, None, None))
        }
        (Active | Paused | CertificationExpired, Action::Deactivate { reason }) => {
            Ok(to(Inactive, Some(reason.clone()), None))
        }
        (Inactive, Action::Reactivate) => Ok(to(by_certification, None, None)),
        _ => Err(refuse()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MentorStatus::*;
    use proptest::prelude::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn reason() -> Reason {
        Reason::parse("ferie").unwrap()
    }

    /// The transition table, written independently of `decide`: (from, action, certification valid) -> to.
    fn expected(
        from: MentorStatus,
        kind: ActionKind,
        valid: bool,
        resume_due: bool,
    ) -> Option<MentorStatus> {
        use ActionKind as A;
        match (from, kind) {
            (Active, A::Pause) => Some(Paused),
            (Paused, A::Resume) => Some(if valid { Active } else { CertificationExpired }),
            (Paused, A::AutoResume) if resume_due => {
                Some(if valid { Active } else { CertificationExpired })
            }
            (Active, A::Expire) if !valid => Some(CertificationExpired),
            (CertificationExpired, A::RenewCertification) if valid => Some(Active),
            (Active | Paused | CertificationExpired, A::Deactivate) => Some(Inactive),
            (Inactive, A::Reactivate) => Some(if valid { Active } else { CertificationExpired }),
            _ => None,
        }
    }

    fn action_of(kind: ActionKind) -> Action {
        match kind {
            ActionKind::Pause => Action::Pause {
                reason: reason(),
                resume_on: None,
            },
            ActionKind::Resume => Action::Resume,
            ActionKind::Deactivate => Action::Deactivate { reason: reason() },
            ActionKind::Reactivate => Action::Reactivate,
            ActionKind::RenewCertification => Action::RenewCertification,
            ActionKind::Expire => Action::Expire,
            ActionKind::AutoResume => Action::AutoResume,
        }
    }

    const KINDS: [ActionKind; 7] = [
        ActionKind::Pause,
        ActionKind::Resume,
        ActionKind::Deactivate,
        ActionKind::Reactivate,
        ActionKind::RenewCertification,
        ActionKind::Expire,
        ActionKind::AutoResume,
    ];

    fn status_strategy() -> impl Strategy<Value = MentorStatus> {
        prop::sample::select(MentorStatus::ALL.to_vec())
    }

    fn kind_strategy() -> impl Strategy<Value = ActionKind> {
        prop::sample::select(KINDS.to_vec())
    }

    proptest! {
        #[test]
        fn decide_follows_the_design_table(
            status in status_strategy(),
            kind in kind_strategy(),
            valid in any::<bool>(),
            day in 0u64..2000,
            resume_offset in -3i64..3,
            has_resume in any::<bool>(),
        ) {
            let today = date("2024-01-01") + chrono::Days::new(day);
            let resume_on = has_resume.then(|| today + chrono::Duration::days(resume_offset));
            let facts = Facts { today, certification_valid: valid, resume_on };
            let resume_due = resume_on.is_some_and(|d| d <= today);
            let result = decide(status, &action_of(kind), &facts);
            match expected(status, kind, valid, resume_due) {
                Some(to) => {
                    let t = result.expect("allowed by the table");
                    prop_assert_eq!(t.from, status);
                    prop_assert_eq!(t.to, to);
                    prop_assert_eq!(t.action, kind);
                    prop_assert_eq!(t.resume_on, None, "only a pause with a date sets resume_on");
                }
                None => prop_assert!(result.is_err(), "{status} --{kind}--> should be refused"),
            }
        }

        #[test]
        fn refused_actions_name_the_current_status(status in status_strategy(), kind in kind_strategy()) {
            let facts = Facts { today: date("2026-01-01"), certification_valid: true, resume_on: None };
            if let Err(Refusal::NotAllowed { status: current, action }) = decide(status, &action_of(kind), &facts) {
                prop_assert_eq!(current, status);
                prop_assert_eq!(action, kind);
            }
        }
    }

    #[test]
    fn pause_needs_a_return_date_after_today() {
        let facts = Facts {
            today: date("2026-05-10"),
            certification_valid: true,
            resume_on: None,
        };
        for bad in ["2026-05-10", "2026-05-09"] {
            let action = Action::Pause {
                reason: reason(),
                resume_on: Some(date(bad)),
            };
            assert!(matches!(
                decide(Active, &action, &facts),
                Err(Refusal::ResumeOnNotAfterToday { .. })
            ));
        }
        let action = Action::Pause {
            reason: reason(),
            resume_on: Some(date("2026-05-11")),
        };
        let t = decide(Active, &action, &facts).unwrap();
        assert_eq!(t.resume_on, Some(date("2026-05-11")));
        assert_eq!(t.reason, Some(reason()));
    }

    #[test]
    fn a_renewal_never_lifts_a_manual_pause() {
        let facts = Facts {
            today: date("2026-05-10"),
            certification_valid: true,
            resume_on: None,
        };
        assert!(decide(Paused, &Action::RenewCertification, &facts).is_err());
        assert_eq!(
            decide(CertificationExpired, &Action::RenewCertification, &facts)
                .unwrap()
                .to,
            Active
        );
    }

    #[test]
    fn resume_of_a_lapsed_mentor_lands_in_certification_expired() {
        let facts = Facts {
            today: date("2026-05-10"),
            certification_valid: false,
            resume_on: None,
        };
        assert_eq!(
            decide(Paused, &Action::Resume, &facts).unwrap().to,
            CertificationExpired
        );
    }
}
