//! Which in-app notifications a user-made transition causes, and what they say.

use domain::{ActionKind, Transition};
use serde_json::json;
use store::{MentorRecord, NewNotification, Recipient};

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
