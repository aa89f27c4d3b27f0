//! Who may do what, in one place: [`decide`] answers whether a [`Principal`] may use a
//! [`Permission`] on a [`Target`]. The engine checks it before every operation, and the dashboard
//! asks it which forms and menus to show, so the two cannot disagree.

use crate::{ActionKind, MentorId, OrgId, Role, UserId};

/// Who is asking: a signed-in login as the rules see it (no password hash, no email).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    pub user: UserId,
    pub org: OrgId,
    pub role: Role,
    /// The mentor a mentor's own login speaks for.
    pub mentor: Option<MentorId>,
}

impl Principal {
    /// Whether this is the mentor `mentor`'s own login.
    pub fn speaks_for(&self, mentor: MentorId) -> bool {
        self.role == Role::Mentor && self.mentor == Some(mentor)
    }
}

/// What is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Read a mentor: record, history, reminders.
    SeeMentor,
    /// A transition or a renewal of a mentor, asked for by a person.
    Request(ActionKind),
    /// The organisation's mentors as a whole and their operations: list, register, import and
    /// edit mentors, force a sync, see the sync status, runs, findings and alerts, acknowledge
    /// alerts, retry dead pushes.
    ManageMentors,
    /// The organisation's settings, and pushing every mentor at once.
    Administer,
}

/// What it is asked for: a mentor, or an organisation as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Mentor { org: OrgId, id: MentorId },
    Organisation(OrgId),
}

impl Target {
    fn org(self) -> OrgId {
        match self {
            Target::Mentor { org, .. } | Target::Organisation(org) => org,
        }
    }
}

/// Why not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// Another organisation's: answered as not found, so its existence is never told.
    #[error("not found")]
    OtherOrganisation,
    #[error("{0}")]
    Forbidden(String),
}

/// Coordinators and admins manage the mentors of their organisation.
fn manages(role: Role) -> bool {
    matches!(role, Role::Coordinator | Role::Admin)
}

/// Whether `principal` may use `permission` on `target`.
pub fn decide(principal: &Principal, permission: Permission, target: Target) -> Result<(), Denied> {
    if target.org() != principal.org {
        return Err(Denied::OtherOrganisation);
    }
    let role = principal.role;
    let own = matches!(target, Target::Mentor { id, .. } if principal.speaks_for(id));
    let allowed = match (permission, target) {
        (Permission::SeeMentor, Target::Mentor { .. }) => manages(role) || own,
        (Permission::Request(kind), Target::Mentor { .. }) => match kind {
            ActionKind::Pause | ActionKind::Resume => manages(role) || own,
            ActionKind::Deactivate | ActionKind::Reactivate | ActionKind::RenewCertification => {
                manages(role)
            }
            // System actions are never asked for by a person.
            ActionKind::Expire | ActionKind::AutoResume => false,
        },
        (Permission::ManageMentors, Target::Organisation(_)) => manages(role),
        (Permission::Administer, Target::Organisation(_)) => role == Role::Admin,
        // A mentor's permission on an organisation, or the other way round, is never given.
        _ => false,
    };
    if allowed {
        return Ok(());
    }
    Err(Denied::Forbidden(match permission {
        Permission::SeeMentor => "only coordinators and admins may see other mentors".to_owned(),
        Permission::Request(kind) => format!("a {role} may not {kind} this mentor"),
        Permission::ManageMentors => {
            format!("this needs the coordinator or admin role; you are {role}")
        }
        Permission::Administer => {
            format!("organisation settings need the admin role; you are {role}")
        }
    }))
}

/// Whether `principal` may use `permission` on `target`, as a yes or no (to choose what to show).
pub fn may(principal: &Principal, permission: Permission, target: Target) -> bool {
    decide(principal, permission, target).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every role × permission × target, once. `own` is the mentor login's own mentor, `other` another
    /// mentor of the same organisation, `foreign` a mentor of another organisation.
    #[test]
    fn every_role_permission_and_target() {
        let org = OrgId::new();
        let foreign_org = OrgId::new();
        let (own, other, foreign) = (MentorId::new(), MentorId::new(), MentorId::new());
        let principal = |role| Principal {
            user: UserId::new(),
            org,
            role,
            mentor: (role == Role::Mentor).then_some(own),
        };
        let mentor = |id| Target::Mentor { org, id };
        let foreign_mentor = Target::Mentor {
            org: foreign_org,
            id: foreign,
        };
        use ActionKind as A;
        use Permission as P;
        // (permission, target, [mentor, coordinator, admin]); N = not found (another organisation).
        const Y: Option<bool> = Some(true);
        const F: Option<bool> = Some(false);
        const N: Option<bool> = None;
        let table: Vec<(Permission, Target, [Option<bool>; 3])> = vec![
            (P::SeeMentor, mentor(own), [Y, Y, Y]),
            (P::SeeMentor, mentor(other), [F, Y, Y]),
            (P::SeeMentor, foreign_mentor, [N, N, N]),
            (P::Request(A::Pause), mentor(own), [Y, Y, Y]),
            (P::Request(A::Pause), mentor(other), [F, Y, Y]),
            (P::Request(A::Pause), foreign_mentor, [N, N, N]),
            (P::Request(A::Resume), mentor(own), [Y, Y, Y]),
            (P::Request(A::Resume), mentor(other), [F, Y, Y]),
            (P::Request(A::Resume), foreign_mentor, [N, N, N]),
            (P::Request(A::Deactivate), mentor(own), [F, Y, Y]),
            (P::Request(A::Deactivate), mentor(other), [F, Y, Y]),
            (P::Request(A::Deactivate), foreign_mentor, [N, N, N]),
            (P::Request(A::Reactivate), mentor(own), [F, Y, Y]),
            (P::Request(A::Reactivate), mentor(other), [F, Y, Y]),
            (P::Request(A::Reactivate), foreign_mentor, [N, N, N]),
            (P::Request(A::RenewCertification), mentor(own), [F, Y, Y]),
            (P::Request(A::RenewCertification), mentor(other), [F, Y, Y]),
            (P::Request(A::RenewCertification), foreign_mentor, [N, N, N]),
            (P::Request(A::Expire), mentor(own), [F, F, F]),
            (P::Request(A::Expire), mentor(other), [F, F, F]),
            (P::Request(A::Expire), foreign_mentor, [N, N, N]),
            (P::Request(A::AutoResume), mentor(own), [F, F, F]),
            (P::Request(A::AutoResume), mentor(other), [F, F, F]),
            (P::Request(A::AutoResume), foreign_mentor, [N, N, N]),
            (P::ManageMentors, Target::Organisation(org), [F, Y, Y]),
            (
                P::ManageMentors,
                Target::Organisation(foreign_org),
                [N, N, N],
            ),
            (P::Administer, Target::Organisation(org), [F, F, Y]),
            (P::Administer, Target::Organisation(foreign_org), [N, N, N]),
            // Mismatched permission and target: never.
            (P::ManageMentors, mentor(other), [F, F, F]),
            (P::SeeMentor, Target::Organisation(org), [F, F, F]),
        ];
        for (permission, target, expected) in table {
            for (role, expected) in [Role::Mentor, Role::Coordinator, Role::Admin]
                .into_iter()
                .zip(expected)
            {
                let got = match decide(&principal(role), permission, target) {
                    Ok(()) => Some(true),
                    Err(Denied::Forbidden(_)) => Some(false),
                    Err(Denied::OtherOrganisation) => None,
                };
                assert_eq!(got, expected, "{role} {permission:?} {target:?}");
            }
        }
    }

    #[test]
    fn refusals_say_what_was_needed() {
        let org = OrgId::new();
        let mentor = Principal {
            user: UserId::new(),
            org,
            role: Role::Mentor,
            mentor: None,
        };
        let whole = Target::Organisation(org);
        let someone = Target::Mentor {
            org,
            id: MentorId::new(),
        };
        let reason = |permission, target| match decide(&mentor, permission, target) {
            Err(Denied::Forbidden(reason)) => reason,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            reason(Permission::ManageMentors, whole),
            "this needs the coordinator or admin role; you are mentor"
        );
        assert_eq!(
            reason(Permission::Administer, whole),
            "organisation settings need the admin role; you are mentor"
        );
        assert_eq!(
            reason(Permission::SeeMentor, someone),
            "only coordinators and admins may see other mentors"
        );
        assert_eq!(
            reason(Permission::Request(ActionKind::Deactivate), someone),
            "a mentor may not deactivate this mentor"
        );
    }
}
