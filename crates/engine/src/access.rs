//! The engine's side of [`domain::access`]: a login as the rules see it, and a refusal as an engine
//! error (another organisation's things are not found; the rest is forbidden, saying what was
//! needed). Every permission the engine checks goes through [`require`].

use domain::MentorId;
use domain::access::{Denied, Permission, Principal, Target, decide};
use store::User;

use crate::EngineError;

/// `user` as the access rules see it.
pub fn principal(user: &User) -> Principal {
    Principal {
        user: user.id,
        org: user.org_id,
        role: user.role,
        mentor: user.mentor_id,
    }
}

/// `permission` on `target` for `user`, or the error that refuses it.
pub(crate) fn require(
    user: &User,
    permission: Permission,
    target: Target,
) -> Result<(), EngineError> {
    decide(&principal(user), permission, target).map_err(|denied| match denied {
        Denied::OtherOrganisation => EngineError::NotFound {
            entity: match target {
                Target::Mentor { .. } => "mentor",
                Target::Organisation(_) => "organisation",
            },
        },
        Denied::Forbidden(reason) => EngineError::Forbidden(reason),
    })
}

/// The whole of `user`'s own organisation.
pub(crate) fn own_organisation(user: &User) -> Target {
    Target::Organisation(user.org_id)
}

/// The mentor `id` of `user`'s organisation.
pub(crate) fn mentor_of_own_organisation(user: &User, id: MentorId) -> Target {
    Target::Mentor {
        org: user.org_id,
        id,
    }
}

/// Whether `user` is the mentor `mentor` themself.
pub(crate) fn owns(user: &User, mentor: MentorId) -> bool {
    principal(user).speaks_for(mentor)
}
