//! Who may do what: the permission rules the workflows check before they read or change anything,
//! in one place. Every refusal is an [`EngineError::Forbidden`] that says what was needed.
//!
//! This module names no workflow module (mentors, admin, sync, …); they all come here.

use domain::{ActionKind, MentorId, Role};
use store::{MentorRecord, User};

use crate::EngineError;

/// Coordinators and admins manage their organisation's mentors.
pub(crate) fn require_manager(user: &User) -> Result<(), EngineError> {
    if user.role.manages_mentors() {
        Ok(())
    } else {
        Err(EngineError::Forbidden(format!(
            "this needs the coordinator or admin role; you are {}",
            user.role
        )))
    }
}

/// Organisation settings, and whatever acts on the whole organisation at once, are the admins'.
pub(crate) fn require_admin(user: &User) -> Result<(), EngineError> {
    if user.role == Role::Admin {
        Ok(())
    } else {
        Err(EngineError::Forbidden(format!(
            "organisation settings need the admin role; you are {}",
            user.role
        )))
    }
}

/// Managers see their organisation's mentors; a mentor sees themself.
pub(crate) fn require_may_see(user: &User, mentor: MentorId) -> Result<(), EngineError> {
    if user.role.manages_mentors() || user.mentor_id == Some(mentor) {
        Ok(())
    } else {
        Err(EngineError::Forbidden(
            "only coordinators and admins may see other mentors".into(),
        ))
    }
}

/// Whether `user` is the mentor `mentor` themself.
pub(crate) fn owns(user: &User, mentor: MentorId) -> bool {
    user.role == Role::Mentor && user.mentor_id == Some(mentor)
}

/// Whether `user` may request `kind` for `mentor` (see [`ActionKind::may_be_requested_by`]).
pub(crate) fn authorize(
    user: &User,
    mentor: &MentorRecord,
    kind: ActionKind,
) -> Result<(), EngineError> {
    if kind.may_be_requested_by(user.role, owns(user, mentor.id)) {
        Ok(())
    } else {
        Err(EngineError::Forbidden(format!(
            "a {} may not {kind} this mentor",
            user.role
        )))
    }
}
