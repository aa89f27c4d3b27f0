//! Which in-app notifications a change causes, and what they say. Payload field names are read by
//! the compensation check and by delivery templates: add, never rename.

use chrono::NaiveDate;
use domain::{ActionKind, Transition};
use serde_json::json;
use store::{MentorFacts, MentorRecord, NewNotification, Recipient};

/// A mentor acting on themself tells the coordinators; anyone else acting tells the mentor.
pub(crate) fn for_user_transition(
    mentor: &MentorRecord,
    transition: &Transition,
    by_the_mentor_themself: bool,
) -> Vec<NewNotification> {
    let payload = json!({
        "mentor_name": mentor.full_name,
        "action": transition.action,
        "from_status": transition.from,
        "to_status": transition.to,
        "reason": transition.reason,
        "resume_on": transition.resume_on,
    });
    if by_the_mentor_themself {
        let kind = match transition.action {
            ActionKind::Pause => "mentor_paused",
            _ => "mentor_resumed",
        };
        vec![NewNotification {
            recipient: Recipient::OrgCoordinators,
            kind: kind.to_owned(),
            payload,
        }]
    } else {
        vec![NewNotification {
            recipient: Recipient::Mentor(mentor.id),
            kind: "status_changed".to_owned(),
            payload,
        }]
    }
}

/// Reminder to the mentor that the certification runs out.
pub(crate) fn certification_reminder(
    mentor: &MentorFacts,
    threshold_days: u16,
    expires_on: NaiveDate,
    today: NaiveDate,
) -> NewNotification {
    NewNotification {
        recipient: Recipient::Mentor(mentor.id),
        kind: "certification_reminder".to_owned(),
        payload: json!({
            "mentor_name": mentor.full_name,
            "threshold_days": threshold_days,
            "certification_expires_on": expires_on,
            "days_left": domain::days_left(expires_on, today),
            "business_date": today,
        }),
    }
}

/// What the nightly run tells the mentor it moved.
pub(crate) fn for_system_transition(
    mentor: &MentorFacts,
    transition: &Transition,
    today: NaiveDate,
) -> NewNotification {
    let kind = match transition.action {
        ActionKind::Expire => "certification_expired",
        _ => "auto_resumed",
    };
    NewNotification {
        recipient: Recipient::Mentor(mentor.id),
        kind: kind.to_owned(),
        payload: json!({
            "mentor_name": mentor.full_name,
            "from_status": transition.from,
            "to_status": transition.to,
            "certification_expires_on": mentor.expires_on,
            "resume_on": mentor.resume_on,
            "business_date": today,
        }),
    }
}

/// A few days before an automatic resume: "you will be listed again on …".
pub(crate) fn resume_notice(
    mentor: &MentorFacts,
    resume_on: NaiveDate,
    today: NaiveDate,
) -> NewNotification {
    NewNotification {
        recipient: Recipient::Mentor(mentor.id),
        kind: "resume_notice".to_owned(),
        payload: json!({
            "mentor_name": mentor.full_name,
            "resume_on": resume_on,
            "days_until": domain::days_left(resume_on, today),
            "business_date": today,
        }),
    }
}
